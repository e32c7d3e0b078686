"""YouTube contract: each recorded exchange checked against Google's own discovery document.

The document is the `youtube.v3.json` the google-api-python-client wheel ships
(googleapiclient/discovery_cache/documents/, a test-only dependency in requirements-dev.txt), read at
test time, never copied. From it: the method a request is (HTTP method + path, the resumable upload
path and its session URI), its query parameters (known, typed, enum, required), every `part` value a
part of the method's resource, the part-vs-body rule (a body's top-level properties must be parts the
`part` parameter names), body fields known to the resource schema with the right types and enums,
writes only to writable fields, and answers checked against the method's response schema (no unknown
field, types, enums, only the parts asked for).

Where the discovery document is silent, the page each rule comes from is named next to it:
- the resumable upload protocol (session start headers, session URI PUTs, 256 KiB chunks, 308 + Range):
  https://developers.google.com/youtube/v3/guides/using_resumable_upload_protocol
- Google's OAuth 2.0 endpoints (authorization request, code exchange, refresh):
  https://developers.google.com/identity/protocols/oauth2/web-server
- the error body {"error": {"code", "message", "errors": [{"domain", "reason", "message"}], "status"}}:
  https://developers.google.com/youtube/v3/docs/errors
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

from infra.local.sandboxes.discovery import DiscoveryDocument
from infra.local.sandboxes.recording import Exchange
from tests.contracts import Verdict

SERVICE_PATH = "youtube/v3/"
RESOURCE_META = {"kind", "etag", "id"}  # in every resource, never a part of the body's own
UPLOAD_GRANULE = 256 * 1024  # every chunk but the last is a multiple of it (resumable upload guide)
TOKEN_PATH, AUTHORIZE_PATH = "/token", "/o/oauth2/v2/auth"  # oauth2.googleapis.com, accounts.google.com

# The discovery document marks only some writable fields `@mutable youtube.videos.insert
# youtube.videos.update` (snippet.title, snippet.description, status.embeddable, status.license,
# status.publicStatsViewable) and has no output-only marker. The rest of what may be set comes from
# the request-body lists of https://developers.google.com/youtube/v3/docs/videos/update and
# https://developers.google.com/youtube/v3/docs/videos/insert. (snippet.defaultAudioLanguage is not
# on those lists: unverified as writable, so refused here.)
DOCUMENTED_WRITABLE = {
    "youtube.videos.insert": {"snippet.categoryId", "snippet.defaultLanguage", "snippet.tags", "status.privacyStatus",
                              "status.publishAt", "status.selfDeclaredMadeForKids", "status.containsSyntheticMedia",
                              "recordingDetails.recordingDate", "localizations"},
}
DOCUMENTED_WRITABLE["youtube.videos.update"] = DOCUMENTED_WRITABLE["youtube.videos.insert"]

# Methods Postgate's client calls; the consent it asks for must carry a scope each of them accepts.
CALLED_METHODS = ("youtube.videos.insert", "youtube.videos.list", "youtube.videos.update", "youtube.channels.list",
                  "youtube.playlistItems.list")

# https://developers.google.com/identity/protocols/oauth2/web-server#creatingclient (authorization
# parameters), #exchange-authorization-code and #offline (token endpoint requests and answers).
AUTHORIZE_PARAMS = {"client_id", "redirect_uri", "response_type", "scope", "access_type", "state",
                    "include_granted_scopes", "enable_granular_consent", "login_hint", "prompt", "code_challenge",
                    "code_challenge_method"}
AUTHORIZE_REQUIRED = {"client_id", "redirect_uri", "response_type", "scope"}
AUTHORIZE_ENUMS = {"response_type": {"code"}, "access_type": {"online", "offline"},
                   "include_granted_scopes": {"true", "false"}, "enable_granular_consent": {"true", "false"},
                   "code_challenge_method": {"S256", "plain"}}
PROMPTS = {"none", "consent", "select_account"}
IDENTITY_SCOPES = {"openid", "email", "profile"}
TOKEN_GRANTS = {"authorization_code": ({"code", "client_id", "client_secret", "redirect_uri", "grant_type"},
                                       {"code_verifier"}),
                "refresh_token": ({"client_id", "client_secret", "refresh_token", "grant_type"}, set())}
TOKEN_ANSWER = {"access_token": str, "expires_in": int, "token_type": str, "scope": str, "refresh_token": str,
                "id_token": str, "refresh_token_expires_in": int}
TOKEN_ERRORS = {"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
                "invalid_scope", "access_denied", "admin_policy_enforced", "disallowed_useragent",
                "org_internal", "redirect_uri_mismatch", "policy_enforced"}

_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_CONTENT_QUERY = re.compile(r"^bytes \*/(\d+)$")
_RANGE = re.compile(r"^bytes=0-(\d+)$")


def discovery_path() -> Path:
    spec = importlib.util.find_spec("googleapiclient")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("google-api-python-client (requirements-dev.txt) is needed for the YouTube contract checks")
    return Path(list(spec.submodule_search_locations)[0]) / "discovery_cache" / "documents" / "youtube.v3.json"


@functools.lru_cache(maxsize=1)
def discovery() -> dict:
    return json.loads(discovery_path().read_text())


@functools.lru_cache(maxsize=1)
def document() -> DiscoveryDocument:
    return DiscoveryDocument(discovery())


def methods() -> dict[str, dict]:
    """Every method of the document by id (e.g. youtube.videos.update)."""
    return document().methods


def check(exchange: Exchange) -> Verdict:
    path = exchange.path
    if path.startswith("/_sandbox/"):  # the sandbox's own control paths, not YouTube's API
        return Verdict(None, [])
    if path == TOKEN_PATH:
        return _check_token(exchange)
    if path == AUTHORIZE_PATH:
        return _check_authorize(exchange)
    if path == "/upload/" + SERVICE_PATH + "videos" and exchange.method == "PUT":
        return _check_session_put(exchange)
    # googleapiclient and the resumable upload guide use /upload/<servicePath>; mediaUpload.protocols
    # also names /resumable/upload/<servicePath> for the resumable protocol.
    upload = path.startswith(("/upload/", "/resumable/upload/"))
    bare = path.removeprefix("/resumable").removeprefix("/upload") if upload else path
    method_id = _method_for(exchange.method, bare, upload=upload)
    if method_id is None:
        return Verdict("youtube.unknown", [f"{exchange.method} {path} is no method of the discovery document"])
    return _check_method(exchange, method_id, upload=upload)


# -- matching a request to a method ----------------------------------------------------------------
def _method_for(http_method: str, path: str, *, upload: bool) -> str | None:
    return document().method_for(http_method, path, upload=upload)


def _resource_schema(method: dict) -> dict | None:
    return document().resource_schema(method)


def _schema(name: str) -> dict | None:
    return document().schema(name)


def _parts(method: dict) -> set[str]:
    schema = _resource_schema(method) or {}
    return set(schema.get("properties", {})) - {"kind", "etag"}


# -- a method of the document --------------------------------------------------------------------
def _check_method(exchange: Exchange, method_id: str, *, upload: bool) -> Verdict:
    method = methods()[method_id]
    problems: list[str] = []
    params = _query_problems(exchange, method, upload=upload, problems=problems)
    parts = {p.strip() for value in params.get("part", []) for p in value.split(",") if p.strip()}
    known_parts = _parts(method)
    for part in sorted(parts - known_parts):
        problems.append(f"part {part!r} is not a part of {method_id} (documented: {sorted(known_parts)})")
    if not exchange.headers.get("authorization", "").startswith("Bearer ") and "key" not in params:
        problems.append("no OAuth bearer token (Authorization: Bearer) and no API key")
    if "request" in method:
        _body_problems(exchange, method_id, method, parts, problems)
    elif exchange.body_size:
        problems.append(f"{method_id} takes no request body, got {exchange.body_size} bytes")
    if upload:
        _session_start_problems(exchange, method, problems)
    checked = _answer_problems(exchange, method, parts, problems, upload=upload)
    return Verdict(method_id, problems, response_checked=checked)


def _query_problems(exchange: Exchange, method: dict, *, upload: bool, problems: list[str]) -> dict[str, list[str]]:
    params, found = document().query_problems(method, exchange.query)
    problems.extend(found)
    upload_type = (params.get("uploadType") or [None])[0]
    if upload:
        if upload_type != "resumable":  # the protocols of mediaUpload: resumable (and simple = media/multipart)
            allowed = {"resumable"} | ({"media", "multipart"} if "simple" in method["mediaUpload"]["protocols"] else set())
            if upload_type not in allowed:
                problems.append(f"uploadType={upload_type!r} on the upload path (documented: {sorted(allowed)})")
    elif upload_type is not None:
        problems.append(f"uploadType on {method['id']}, which takes no media")
    return params


def _body_problems(exchange: Exchange, method_id: str, method: dict, parts: set[str], problems: list[str]) -> None:
    if exchange.content_type != "application/json":
        problems.append(f"body Content-Type {exchange.content_type!r}, expected application/json")
    body = exchange.json()
    if not isinstance(body, dict):
        problems.append("the body is not a JSON object (a resource)")
        return
    schema = _schema(method["request"]["$ref"])
    for key in sorted(set(body) - RESOURCE_META):
        if key not in parts:  # part vs body: the body sets only what `part` names
            problems.append(f"the body sets {key!r} but part={','.join(sorted(parts))!r} does not name it")
    if method["httpMethod"] == "PUT" and "id" not in body:
        problems.append(f"{method_id} needs the resource id in the body")
    _validate(body, schema, "", problems, where="request body")
    writable = DOCUMENTED_WRITABLE.get(method_id)
    if writable is not None:
        for field in _leaf_fields(body, schema):
            if field in RESOURCE_META or _writable(field, method_id, writable):
                continue
            problems.append(f"the body sets {field}, which {method_id} cannot write (not @mutable for it in the "
                            f"discovery document, not on its documented request-body list)")


def _leaf_fields(body: dict, schema: dict, prefix: str = "") -> list[str]:
    """Dotted names of the fields a body sets, down to the properties of each part."""
    out = []
    for key, value in body.items():
        name = prefix + key
        prop = _resolve(schema.get("properties", {}).get(key, {}))
        if isinstance(value, dict) and prop.get("properties") and not prefix:
            out.extend(_leaf_fields(value, prop, name + "."))
        else:
            out.append(name)
    return out


def _writable(field: str, method_id: str, documented: set[str]) -> bool:
    if field in documented or field.split(".")[0] in documented:
        return True
    schema = _schema("Video")
    prop: dict = {"properties": schema["properties"]}
    for piece in field.split("."):
        prop = _resolve(prop.get("properties", {}).get(piece, {}))
    mutable = re.search(r"@mutable((?:\s+youtube\.[\w.]+)+)", prop.get("description", ""))
    return bool(mutable and method_id in mutable.group(1).split())


def _resolve(prop: dict) -> dict:
    return document().resolve(prop)


def _validate(value: Any, schema: dict, where_path: str, problems: list[str], *, where: str) -> None:
    document().validate(value, schema, where_path, problems, where=where)


# -- answers -------------------------------------------------------------------------------------
def _answer_problems(exchange: Exchange, method: dict, parts: set[str], problems: list[str], *, upload: bool) -> bool:
    if exchange.dropped:
        return False
    if exchange.status == 304:
        _not_modified_problems(exchange, method, problems)
        return False
    if exchange.status >= 400:
        _error_problems(exchange, problems)
        return False
    if upload:  # the session start answers 200 with the session URI in Location and no resource
        if exchange.status != 200 or not exchange.response_headers.get("location"):
            problems.append(f"a resumable session start answers 200 with a Location header, got {exchange.status}")
        return False
    schema = _schema(method.get("response", {}).get("$ref", ""))
    if schema is None:
        return False
    answer = exchange.response_json()
    if not isinstance(answer, dict):
        problems.append("the answer is not a JSON object")
        return False
    _validate(answer, schema, "", problems, where="answer")
    resources = answer.get("items") if "items" in schema.get("properties", {}) else [answer]
    for item in resources if isinstance(resources, list) else []:
        if isinstance(item, dict) and parts:
            for extra in sorted(set(item) - parts - RESOURCE_META):
                problems.append(f"answer: part {extra!r} was not asked for (part={','.join(sorted(parts))})")
    return True


def _not_modified_problems(exchange: Exchange, method: dict, problems: list[str]) -> None:
    """A conditional GET answered 304 Not Modified: only to a request that named an etag in If-None-Match,
    with no body (developers.google.com/youtube/v3/getting-started#etags; RFC 9110 section 15.4.5)."""
    if method["httpMethod"] != "GET":
        problems.append(f"304 Not Modified answers a conditional GET, not a {method['httpMethod']}")
    if not exchange.headers.get("if-none-match", "").strip():
        problems.append("304 Not Modified to a request without If-None-Match")
    if exchange.response_body:
        problems.append(f"304 Not Modified carries a body ({len(exchange.response_body)} bytes)")


def _error_problems(exchange: Exchange, problems: list[str]) -> None:
    problems.extend(document().error_problems(exchange.status, exchange.response_json()))


# -- the resumable upload protocol ---------------------------------------------------------------
def _session_start_problems(exchange: Exchange, method: dict, problems: list[str]) -> None:
    media = method["mediaUpload"]
    length = exchange.headers.get("x-upload-content-length", "")
    if not length.isdigit():
        problems.append("X-Upload-Content-Length (the file size) is missing")
    elif int(length) > int(media["maxSize"]):
        problems.append(f"X-Upload-Content-Length {length} exceeds maxSize {media['maxSize']}")
    media_type = exchange.headers.get("x-upload-content-type", "")
    if media_type and not _accepted(media_type, media["accept"]):
        problems.append(f"X-Upload-Content-Type {media_type!r} is not in {media['accept']}")


def _accepted(media_type: str, accept: list[str]) -> bool:
    media_type = media_type.split(";")[0].strip().lower()
    return any(media_type == a or (a.endswith("/*") and media_type.startswith(a[:-1])) for a in accept)


def _check_session_put(exchange: Exchange) -> Verdict:
    """A PUT to the session URI: a chunk (Content-Range bytes a-b/N) or a status query (bytes */N)."""
    operation = "youtube.videos.insert (upload session)"
    problems: list[str] = []
    params = exchange.params()
    if params.get("uploadType") != "resumable" or not params.get("upload_id"):
        problems.append("a session URI carries uploadType=resumable and upload_id")
    for name in sorted(set(params) - {"uploadType", "upload_id"}):
        problems.append(f"query parameter {name!r} on the session URI")
    if not exchange.headers.get("authorization", "").startswith("Bearer "):
        problems.append("no OAuth bearer token on the session URI")
    content_range = exchange.headers.get("content-range", "").strip()
    accept = methods()["youtube.videos.insert"]["mediaUpload"]["accept"]
    query, chunk = _CONTENT_QUERY.match(content_range), _CONTENT_RANGE.match(content_range)
    if query:
        if exchange.body_size:
            problems.append("a status query (Content-Range: bytes */N) has an empty body")
    elif chunk:
        first, last, total = (int(g) for g in chunk.groups())
        if not first <= last < total:
            problems.append(f"Content-Range {content_range!r} is not within the file")
        if exchange.body_size != last - first + 1:
            problems.append(f"Content-Range covers {last - first + 1} bytes, the body has {exchange.body_size}")
        if last != total - 1 and exchange.body_size % UPLOAD_GRANULE:
            problems.append(f"a chunk that is not the last is {exchange.body_size} bytes, not a multiple of 256 KiB")
    elif content_range or not exchange.body_size:
        problems.append(f"Content-Range {content_range!r}: expected 'bytes FIRST-LAST/TOTAL' or 'bytes */TOTAL'")
    if exchange.body_size and not _accepted(exchange.content_type, accept):
        problems.append(f"chunk Content-Type {exchange.content_type!r} is not in {accept}")
    checked = False
    if not exchange.dropped:
        if exchange.status == 308:
            received = exchange.response_headers.get("range")
            if received is not None and not _RANGE.match(received):
                problems.append(f"308 Range {received!r}: expected 'bytes=0-N'")
        elif exchange.status in (200, 201):
            answer = exchange.response_json()
            if not isinstance(answer, dict) or not answer.get("id"):
                problems.append("the completed upload answers the video resource with its id")
            else:
                _validate(answer, _schema("Video"), "", problems, where="answer")
                checked = True
        elif exchange.status >= 400:
            _error_problems(exchange, problems)
    return Verdict(operation, problems, response_checked=checked)


# -- Google's OAuth 2.0 endpoints ----------------------------------------------------------------
def _known_scopes() -> set[str]:
    return set(discovery()["auth"]["oauth2"]["scopes"]) | IDENTITY_SCOPES


def _check_authorize(exchange: Exchange) -> Verdict:
    problems: list[str] = []
    params = exchange.params()
    for name in sorted(set(params) - AUTHORIZE_PARAMS):
        problems.append(f"authorization parameter {name!r} is not documented")
    for name in sorted(AUTHORIZE_REQUIRED - set(params)):
        problems.append(f"authorization parameter {name!r} is required")
    for name, allowed in AUTHORIZE_ENUMS.items():
        if name in params and params[name] not in allowed:
            problems.append(f"{name}={params[name]!r} is not one of {sorted(allowed)}")
    if "prompt" in params and not set(params["prompt"].split()) <= PROMPTS:
        problems.append(f"prompt={params['prompt']!r}: space-delimited values from {sorted(PROMPTS)}")
    scopes = set(params.get("scope", "").split())
    for scope in sorted(scopes - _known_scopes()):
        problems.append(f"scope {scope!r} is not a scope of the YouTube Data API")
    for method_id in CALLED_METHODS:
        if scopes and not scopes & set(methods()[method_id].get("scopes", [])):
            problems.append(f"the consent asks for {sorted(scopes)}, none of which {method_id} accepts "
                            f"({sorted(methods()[method_id]['scopes'])})")
    return Verdict("google.oauth2.authorize", problems)


def _check_token(exchange: Exchange) -> Verdict:
    problems: list[str] = []
    if exchange.method != "POST":
        problems.append("the token endpoint takes POST")
    if exchange.content_type != "application/x-www-form-urlencoded":
        problems.append(f"token request Content-Type {exchange.content_type!r}, expected "
                        f"application/x-www-form-urlencoded")
    form = exchange.form()
    grant = TOKEN_GRANTS.get(form.get("grant_type", ""))
    if grant is None:
        problems.append(f"grant_type {form.get('grant_type')!r} is not one of {sorted(TOKEN_GRANTS)}")
    else:
        required, optional = grant
        for name in sorted(required - set(form)):
            problems.append(f"token request field {name!r} is required for grant_type={form['grant_type']}")
        for name in sorted(set(form) - required - optional):
            problems.append(f"token request field {name!r} is not documented for grant_type={form['grant_type']}")
    checked = False
    answer = exchange.response_json()
    if exchange.status == 200:
        if not isinstance(answer, dict):
            problems.append("the token answer is not a JSON object")
        else:
            checked = True
            for name in sorted(set(answer) - set(TOKEN_ANSWER)):
                problems.append(f"token answer field {name!r} is not documented")
            for name, kind in TOKEN_ANSWER.items():
                if name in answer and (not isinstance(answer[name], kind) or isinstance(answer[name], bool)):
                    problems.append(f"token answer {name} should be {kind.__name__}")
            for name in ("access_token", "expires_in", "token_type", "scope"):
                if name not in answer:
                    problems.append(f"token answer lacks {name!r}")
            if answer.get("token_type") not in (None, "Bearer"):
                problems.append(f"token_type {answer.get('token_type')!r}, documented: Bearer")
            for scope in sorted(set(str(answer.get("scope", "")).split()) - _known_scopes()):
                problems.append(f"token answer scope {scope!r} is not a scope of the YouTube Data API")
    elif exchange.status >= 400 and (not isinstance(answer, dict) or answer.get("error") not in TOKEN_ERRORS):
        problems.append(f"token error answer {answer!r}: expected {{error, error_description}} with a documented "
                        f"error code")
    return Verdict("google.oauth2.token", problems, response_checked=checked)
