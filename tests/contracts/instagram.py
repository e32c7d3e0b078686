"""Meta's Instagram API, as its own SDK describes it: every request the Instagram sandbox receives,
checked against the `facebook_business` SDK's adobjects (the code Meta generates from its API
definitions: each node's fields, each edge's parameters, their types and enums), version noted in
specs/instagram.json, which holds what the SDK does not say (with the page each rule comes from).

- The path maps to an SDK node or edge: graph.facebook.com (Facebook Login) to IGUser / IGMedia /
  User, graph.instagram.com (Instagram Login) to IGUserForIGOnlyAPI / IGMediaForIGOnlyAPI; the
  Instagram Login API mirrors the Graph paths on its own host
  [developers.facebook.com/docs/instagram-platform/overview]. A container's status is the
  ShadowIGMediaBuilder node on both hosts (the SDK has no IG-only twin; Meta's content publishing
  guide documents GET /<container id>?fields=status_code on both).
- Every parameter is one the SDK's `param_types` lists, of its type; enums the SDK types as plain
  strings (media_type) come from specs/instagram.json; every requested field is in the node's Field list;
  every insights metric in the SDK's metric enum.
- The token goes to its login's host: a token the sandbox issued for Instagram Login is refused on
  graph.facebook.com and the other way round.
- A Graph batch (POST to the versioned root, `batch` JSON) is checked operation by operation, each
  `relative_url` like a request of its own.
- The OAuth endpoints outside the Graph API (the code exchange on api.instagram.com, the
  consent page) are checked against the rules in specs/instagram.json.
Answers with a 2xx JSON body are checked against the same Field lists (response_checked).
"""

from __future__ import annotations

import importlib
import json
import re
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl

from infra.local.sandboxes.recording import Exchange
from tests.contracts import Verdict

SPEC = json.loads((Path(__file__).parent / "specs" / "instagram.json").read_text())
VERSION = re.compile(r"^v\d+\.\d+$")
GRAPH_ID = re.compile(r"^\d+$")
FB, IG = "graph.facebook.com", "graph.instagram.com"
# The SDK classes of each host's nodes: (IG user, IG media, the /me node).
NODES = {FB: ("iguser.IGUser", "igmedia.IGMedia", "user.User"),
         IG: ("iguserforigonlyapi.IGUserForIGOnlyAPI", "igmediaforigonlyapi.IGMediaForIGOnlyAPI",
              "iguserforigonlyapi.IGUserForIGOnlyAPI")}
CONTAINER = "shadowigmediabuilder.ShadowIGMediaBuilder"
LIMIT_ROW = "contentpublishinglimitresponse.ContentPublishingLimitResponse"
PAGING = set(SPEC["paging_params"]["names"])


@cache
def _cls(path: str):
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(f"facebook_business.adobjects.{module}"), name)


def _fields(path: str) -> set[str]:
    return {v for k, v in vars(_cls(path).Field).items() if not k.startswith("_") and isinstance(v, str)}


@cache
def _edge(path: str, method_name: str) -> tuple[str, str, dict[str, str], dict[str, set[str]]]:
    """(HTTP method, endpoint, param_types, enums) of an SDK method, read from the FacebookRequest
    it builds (pending=True: nothing is sent)."""
    request = getattr(_cls(path)("0"), method_name)(pending=True)
    checker = request._param_checker
    enums = {name: {v for v in values if isinstance(v, str) and "." not in v and not v.startswith("__")}
             for name, values in checker._enum_data.items()}
    return request._method, request._endpoint, dict(checker._type_check_info), enums


def _value_problems(name: str, value: str, kind: str, enums: dict[str, set[str]]) -> list[str]:
    """`value` (as sent on the wire) against the SDK type `kind`."""
    inner = kind[5:-1] if kind.startswith("list<") else None
    if inner is not None:
        items = [v for v in value.split(",")] if not value.startswith("[") else json.loads(value)
        return [p for item in items for p in _value_problems(name, str(item), inner, enums)]
    if kind in enums:
        return [] if value in enums[kind] else [f"{name}={value!r} is not one of the SDK's {kind}"]
    if kind == "bool":
        return [] if value in ("true", "false") else [f"{name}={value!r} is not a bool (true/false)"]
    if kind in ("unsigned int", "int"):
        return [] if re.fullmatch(r"-?\d+", value) and (kind == "int" or not value.startswith("-")) else \
            [f"{name}={value!r} is not an {kind}"]
    if kind == "datetime":
        return [] if re.fullmatch(r"\d+|\d{4}-\d\d-\d\d.*", value) else [f"{name}={value!r} is not a datetime"]
    return []  # string, map, Object: any text


def _params_problems(params: dict[str, str], sdk: tuple, *, extra: set[str] = frozenset()) -> list[str]:
    _, _, types, enums = sdk
    problems = []
    for name, value in params.items():
        if name in ("access_token", "fields") or name in extra:
            continue
        if name not in types:
            problems.append(f"parameter {name!r} is not in the SDK's param_types {sorted(types)}")
        else:
            problems.extend(_value_problems(name, value, types[name], enums))
    return problems


def _requested_fields(params: dict[str, str], node: str) -> list[str]:
    allowed = _fields(node)
    asked = [f.strip() for f in params.get("fields", "").split(",") if f.strip()]
    return [f"field {f!r} is not in {node.rsplit('.', 1)[1]}.Field" for f in asked if f not in allowed]


def _answer_problems(body, node: str, *, listed: bool = False) -> list[str]:
    rows = (body.get("data") or []) if listed and isinstance(body, dict) else [body]
    allowed = _fields(node) | {"id"}
    return [f"answer field {key!r} is not in {node.rsplit('.', 1)[1]}.Field"
            for row in rows if isinstance(row, dict) for key in row if key not in allowed]


def _token(exchange: Exchange, params: dict[str, str]) -> str:
    scheme, _, value = exchange.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() in ("bearer", "oauth") else params.get("access_token", "")


def _host_problems(exchange: Exchange, token: str) -> list[str]:
    from infra.local.sandboxes.instagram import token_login

    wanted = SPEC["hosts"].get(exchange.host)
    login = token_login(token) if token else None
    if wanted and login and login != wanted:
        return [f"a {login.title()} Login token was sent to {exchange.host}, which serves {wanted.title()} Login "
                f"tokens only ({SPEC['hosts']['_source'].split(' ')[0]})"]
    return []


def _create_media_problems(form: dict[str, str]) -> list[str]:
    rules = SPEC["create_media"]
    kind = form.get("media_type")
    problems = []
    if kind is not None and kind not in rules["media_type"]:
        problems.append(f"media_type={kind!r} is not one Meta documents ({', '.join(rules['media_type'])})")
    if kind == "VIDEO" and form.get("is_carousel_item") != "true":
        problems.append("media_type=VIDEO is only for carousel items (single videos are REELS)")
    if kind == "STORIES" and sum(1 for key in rules["stories_take_one_of"] if form.get(key)) != 1:
        problems.append("a story container takes image_url or video_url, exactly one")
    label = rules["ai_label_not_on_carousel_items"]
    if form.get("is_carousel_item") == "true" and label["param"] in form:
        problems.append(f"{label['param']} goes on the carousel container, not on its items ({label['_source'].split(' ')[0]})")
    return problems


def _graph(exchange: Exchange, method: str, segments: list[str], params: dict[str, str], answer) -> Verdict:
    """A versioned Graph API call (segments after the version) on graph.facebook.com / graph.instagram.com."""
    user, media, me = NODES[exchange.host]
    ok = 200 <= exchange.status < 300 and isinstance(answer, dict) and "error" not in answer
    if segments == ["me"] and method == "GET":
        return Verdict(f"instagram.{me.rsplit('.', 1)[1]}.get(me)", _requested_fields(params, me) + _params_problems(
            params, _edge(me, "api_get")), response_checked=ok)
    if len(segments) == 2 and GRAPH_ID.match(segments[0]):
        edge = segments[1]
        table = {("POST", "media"): "create_media", ("GET", "media"): "get_media", ("GET", "stories"): "get_stories",
                 ("POST", "media_publish"): "create_media_publish",
                 ("GET", "content_publishing_limit"): "get_content_publishing_limit",
                 ("GET", "insights"): "get_insights"}
        name = table.get((method, edge))
        if name is None:
            return Verdict(f"instagram.unknown {method} /{{id}}/{edge}", [f"{method} /{{id}}/{edge} is not an edge "
                                                                         "Postgate's SDK nodes define"])
        owner = media if edge == "insights" else user
        sdk = _edge(owner, name)
        # The SDK's codegen drops underscores from some endpoint names ('mediapublish' for Meta's documented
        # /media_publish, developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/
        # media_publish), so the path is compared without them.
        problems = [] if sdk[1].replace("_", "") == edge.replace("_", "") else [f"SDK endpoint is {sdk[1]}"]
        if sdk[0] != method:
            problems.append(f"the SDK sends {name} as {sdk[0]}")
        problems += _params_problems(params, sdk, extra=PAGING if name.startswith("get_") else set())
        checked = False
        if name in ("get_media", "get_stories"):
            problems += _requested_fields(params, media)
            problems += _answer_problems(answer, media, listed=True) if ok else []
            checked = ok
        elif name == "get_content_publishing_limit":
            problems += _requested_fields(params, LIMIT_ROW)
            problems += _answer_problems(answer, LIMIT_ROW, listed=True) if ok else []
            checked = ok
        elif name == "create_media":
            problems += _create_media_problems(params)
            checked = ok
        elif name == "get_insights":
            checked = ok
            if ok:
                metric_enum = sdk[3]["metric_enum"]
                problems += [f"answer metric {row.get('name')!r} is not in the SDK's metric_enum"
                             for row in answer.get("data") or [] if row.get("name") not in metric_enum]
        return Verdict(f"instagram.{owner.rsplit('.', 1)[1]}.{name}", problems, response_checked=checked)
    if len(segments) == 1 and GRAPH_ID.match(segments[0]) and method == "GET":
        asked = {f.strip() for f in params.get("fields", "").split(",") if f.strip()}
        # A numeric id is a container, an IG user (Facebook Login's identity read, GET /{ig-user-id}
        # [developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user]) or a
        # media; the path cannot tell them apart, so the asked fields pick the node whose Field list holds them.
        node = (CONTAINER if asked and asked <= _fields(CONTAINER) else
                user if asked and asked <= _fields(user) else media)
        problems = _requested_fields(params, node) + _params_problems(params, _edge(node, "api_get"))
        if ok:
            problems += _answer_problems(answer, node)
        return Verdict(f"instagram.{node.rsplit('.', 1)[1]}.get", problems, response_checked=ok)
    if segments == ["oauth", "access_token"] and exchange.host == FB:
        return _required("fb_exchange_token", exchange, params)
    return Verdict(f"instagram.unknown {method} /{'/'.join(segments)}",
                   [f"{method} /{'/'.join(segments)} on {exchange.host} is not a node or edge the SDK defines"])


def _required(name: str, exchange: Exchange, params: dict[str, str], operation: str | None = "") -> Verdict:
    rule = SPEC[name]
    problems = [] if exchange.method == rule["method"] else [f"{name} is {rule['method']} ({rule['_source']})"]
    for key, value in rule["required"].items():
        if not params.get(key):
            problems.append(f"{key} is required ({rule['_source']})")
        elif value is not None and params[key] != value:
            problems.append(f"{key} must be {value!r}")
    return Verdict(f"instagram.{name}" if operation == "" else operation, problems)


def _batch(exchange: Exchange, form: dict[str, str]) -> Verdict:
    rule = SPEC["batch"]
    try:
        operations = json.loads(form.get("batch", ""))
    except ValueError:
        return Verdict("instagram.batch", ["`batch` is not a JSON array"])
    if not isinstance(operations, list) or not 1 <= len(operations) <= rule["max"]:
        return Verdict("instagram.batch", [f"`batch` must hold 1-{rule['max']} operations ({rule['_source']})"])
    problems = [f"unknown form field {k!r}" for k in form if k not in ("batch", "access_token", "include_headers")]
    for index, op in enumerate(operations):
        if not isinstance(op, dict) or op.get("method", "GET") not in rule["methods"] or not op.get("relative_url"):
            problems.append(f"batch[{index}] needs method and relative_url")
            continue
        path, _, query = str(op["relative_url"]).lstrip("/").partition("?")
        segments = [s for s in path.split("/") if s]
        if segments and VERSION.match(segments[0]):
            segments = segments[1:]
        inner = _graph(exchange, op.get("method", "GET"), segments, dict(parse_qsl(query, keep_blank_values=True)),
                       None)
        problems += [f"batch[{index}] ({inner.operation}): {p}" for p in inner.problems]
    return Verdict("instagram.batch", problems, response_checked=isinstance(exchange.response_json(), list))


def check(exchange: Exchange) -> Verdict:
    if exchange.path.startswith("/_sandbox/"):
        return Verdict(None)
    params = exchange.params()
    if exchange.method == "POST":
        params = {**params, **exchange.form()}
    path = exchange.path.rstrip("/") or "/"
    host = exchange.host
    if host == "www.instagram.com":
        # The consent page a person's browser opens: not an API call, but the link Postgate builds is checked.
        return _required("authorize", exchange, params, operation=None)
    if host == "api.instagram.com":
        if path == SPEC["ig_code"]["path"]:
            return _required("ig_code", exchange, params)
        return Verdict(f"instagram.unknown {path}", [f"{path} on api.instagram.com is not documented"])
    if host not in NODES:
        return Verdict(f"instagram.unknown host {host}", [f"{host} is not a host Meta serves the Instagram API on"])
    problems = _host_problems(exchange, _token(exchange, params))
    for name in ("ig_exchange", "ig_refresh"):
        rule = SPEC[name]
        if path == rule["path"]:
            cls = {"ig_exchange": "igaccesstokenforigonlyapi.IGAccessTokenForIGOnlyAPI",
                   "ig_refresh": "igrefreshaccesstokenforigonlyapi.IGRefreshAccessTokenForIGOnlyAPI"}[name]
            sdk = _edge(cls, "api_get")
            problems += [] if host == rule["host"] else [f"{path} is served on {rule['host']} only ({rule['_source']})"]
            problems += _params_problems(params, sdk)
            problems += [] if params.get("grant_type") == rule["grant_type"] else [f"grant_type must be {rule['grant_type']}"]
            problems += [] if params.get("access_token") else ["access_token is required"]
            ok = 200 <= exchange.status < 300
            if ok:
                problems += _answer_problems(exchange.response_json(), cls)
            return Verdict(f"instagram.{cls.rsplit('.', 1)[1]}", problems, response_checked=ok)
    segments = [s for s in path.split("/") if s]
    if not segments or not VERSION.match(segments[0]):
        return Verdict(f"instagram.unknown {path}", problems + [f"{path}: Graph API paths start with a version"])
    if segments[1:] == [] and exchange.method == "POST":
        verdict = _batch(exchange, params)
    else:
        verdict = _graph(exchange, exchange.method, segments[1:], params, exchange.response_json())
    return Verdict(verdict.operation, problems + verdict.problems, verdict.response_checked)
