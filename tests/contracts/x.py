"""X: each exchange checked against X's OpenAPI document (the operations Postgate uses are restated in
specs/x_openapi.py with the document's source and version).

Request: method and path name an operation of the document; every query parameter is one it declares,
with a value its schema allows (form style, explode false: a comma-separated list is one value),
required ones present; a JSON or multipart body matches the requestBody schema, and an operation
without one gets none; an Authorization header of a scheme the operation accepts. Answer: a declared
2xx is validated against its schema; an error against the document's Problem types (or Error).

Not in the document, so checked against the rules below, each with the page it comes from: the OAuth
2.0 token endpoint, generic problems (type about:blank) and the usage-capped problem type.
"""

from __future__ import annotations

import io
import json
import re
from functools import cache

import jsonschema_rs
from werkzeug.formparser import parse_form_data

from infra.local.sandboxes.recording import Exchange
from tests.contracts import Verdict
from tests.contracts.specs import x_openapi as SPEC

HOST = "api.x.com"
PROBLEM_TYPES = "https://api.x.com/2/problems/"
OLD_PROBLEM_TYPES = "https://api.twitter.com/2/problems/"
TOKEN_PAGE = "https://docs.x.com/fundamentals/authentication/oauth-2-0/user-access-token"

# What the document does not say, and where the rule comes from.
RULES = {
    "token.form": ("POST /2/oauth2/token takes Content-Type application/x-www-form-urlencoded", TOKEN_PAGE),
    "token.authorization_code": ("grant_type=authorization_code sends code, grant_type, client_id, redirect_uri "
                                 "and code_verifier", TOKEN_PAGE),
    "token.refresh_token": ("grant_type=refresh_token sends refresh_token, grant_type and client_id", TOKEN_PAGE),
    "token.basic": ("a confidential client authenticates to the token endpoint with HTTP Basic "
                    "client_id:client_secret", TOKEN_PAGE),
    "token.answer": ("the token answer carries token_type, expires_in, access_token and scope (refresh_token "
                     "with offline.access); a refusal is an RFC 6749 error object",
                     "https://www.rfc-editor.org/rfc/rfc6749#section-5"),
    "problem.generic": ("a problem of type about:blank carries title (the HTTP status phrase): X answers 401, 429 "
                        "and 5xx this way, and the document's Problem list names only its specific types",
                        "https://www.rfc-editor.org/rfc/rfc7807#section-4.2"),
    "problem.usage_capped": ("usage-capped (429 on a usage cap) is the UsageCapExceededProblem of the document's "
                             "earlier versions (2.159: period Daily|Monthly, scope Account|Product); 2.167 dropped it "
                             "from its Problem list but X still enforces the caps",
                             "https://github.com/xdevplatform/docs/blob/9b8d99462c77462939cd9047ba218ea78b320cc5/openapi.json"),
}

_NOT_API = ("/_sandbox/", "/i/oauth2/authorize")  # sandbox controls; the consent page (a browser page on x.com)
_USAGE_CAPPED = {"type": "object", "required": ["type", "title"], "properties": {
    "type": {"enum": [PROBLEM_TYPES + "usage-capped"]}, "title": {"type": "string"}, "detail": {"type": "string"},
    "status": {"type": "integer"}, "period": {"enum": ["Daily", "Monthly"]}, "scope": {"enum": ["Account", "Product"]}}}


def _template(path: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")


_ROUTES = [(spec["method"], _template(spec["path"]), name) for name, spec in SPEC.OPERATIONS.items()]
_OTHER = [(method, _template(path), name) for (method, path), name in SPEC.OTHER_OPERATIONS.items()]


@cache
def _validator(schema_json: str) -> jsonschema_rs.Validator:
    schema = json.loads(schema_json)
    return jsonschema_rs.Draft7Validator({"allOf": [schema], "components": {"schemas": SPEC.SCHEMAS}},
                                         validate_formats=True)


def _errors(schema: dict, instance, where: str) -> list[str]:
    validator = _validator(json.dumps(schema, sort_keys=True))
    return [f"{where}{''.join(f'/{p}' for p in e.instance_path)}: {e.message}" for e in validator.iter_errors(instance)]


def _named(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def check(exchange: Exchange) -> Verdict:
    path = exchange.path
    if path.startswith(_NOT_API):
        return Verdict(None)
    problems = [] if exchange.host == HOST else [f"host {exchange.host}: X's API is served on {HOST}"]
    if path == "/2/oauth2/token":
        return _check_token(exchange, problems)
    match = next(((name, m) for method, pattern, name in _ROUTES
                  if method == exchange.method and (m := pattern.match(path))), None)
    if match is None:
        other = next((name for method, pattern, name in _OTHER if method == exchange.method and pattern.match(path)), None)
        why = f"operation {other} is not one Postgate uses" if other else "the document defines no such operation"
        return Verdict("x.unknown", problems + [f"{exchange.method} {path}: {why}"])
    name, found = match
    spec = SPEC.OPERATIONS[name]
    problems += _check_auth(exchange, spec)
    for param, value in found.groupdict().items():
        problems += _errors(spec["path_params"][param], value, f"path parameter {param}")
    problems += _check_query(exchange, spec)
    problems += _check_body(exchange, spec)
    checked, answer_problems = _check_answer(exchange, spec)
    return Verdict(f"x.{name}", problems + answer_problems, response_checked=checked)


def _check_auth(exchange: Exchange, spec: dict) -> list[str]:
    scheme = exchange.headers.get("authorization", "").split(" ", 1)[0].lower()
    accepted = {"bearer"} if {"OAuth2UserToken", "BearerToken"} & set(spec["security"]) else set()
    if "UserToken" in spec["security"]:
        accepted.add("oauth")
    if scheme not in accepted:
        return [f"no Authorization header of a scheme the operation accepts ({', '.join(spec['security'])})"]
    return []


def _check_query(exchange: Exchange, spec: dict) -> list[str]:
    problems, declared, seen = [], spec["query"], set()
    for name, value in exchange.query:
        if name in seen:
            problems.append(f"query parameter {name} given twice (form style, explode false: one comma-separated value)")
        seen.add(name)
        if name not in declared:
            problems.append(f"query parameter {name} is not one the operation declares ({', '.join(sorted(declared))})")
            continue
        schema = declared[name][0]
        problems += _errors(schema, _query_value(schema, value), f"query parameter {name}={value}")
    problems += [f"required query parameter {name} is missing"
                 for name, (_, required) in declared.items() if required and name not in seen]
    return problems


def _query_value(schema: dict, value: str):
    kind = schema.get("type")
    if kind == "array":
        return value.split(",")
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            return value
    return value


def _check_body(exchange: Exchange, spec: dict) -> list[str]:
    body = spec["body"]
    if body is None:
        return [f"a {exchange.body_size}-byte body, where the operation takes none"] if exchange.body_size else []
    if not exchange.body_size:
        return ["the operation requires a request body"] if spec.get("body_required") else []
    content_type = exchange.content_type
    if content_type not in body:
        return [f"body of Content-Type {content_type or '(none)'}; the operation takes {', '.join(body)}"]
    if content_type == "application/json":
        instance = exchange.json()
        if instance is None:
            return ["the body is not JSON"]
    else:
        instance = _multipart(exchange)
    return _errors(_named(body[content_type]), instance, "body")


def _multipart(exchange: Exchange) -> dict:
    """The form parts as the schema's object: a file part is its name's value, a number field a number."""
    environ = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": exchange.headers.get("content-type", ""),
               "CONTENT_LENGTH": str(len(exchange.body)), "wsgi.input": io.BytesIO(exchange.body)}
    _, form, files = parse_form_data(environ)
    out: dict = {name: "(file)" for name in files}
    for name, value in form.items():
        out[name] = int(value) if value.lstrip("-").isdigit() else value
    return out


def _check_answer(exchange: Exchange, spec: dict) -> tuple[bool, list[str]]:
    if exchange.dropped:
        return False, []
    status, body = str(exchange.status), exchange.response_json()
    content_type = exchange.response_headers.get("content-type", "").split(";")[0].strip()
    if status in spec["responses"]:
        if content_type != "application/json":
            return True, [f"answer {status} of Content-Type {content_type}; the document says application/json"]
        return True, _errors(_named(spec["responses"][status]), body, "answer")
    if exchange.status < 400:
        return False, [f"answer {status}: the operation declares {', '.join(spec['responses'])}"]
    if content_type == "application/json":
        return True, _errors(_named("Error"), body, "error answer")
    if content_type != "application/problem+json":
        return False, [f"error answer of Content-Type {content_type}; the document says application/problem+json "
                       "or application/json"]
    return True, _check_problem(body)


def _check_problem(body) -> list[str]:
    if not isinstance(body, dict):
        return ["error answer is not a JSON object"]
    kind = body.get("type", "about:blank")
    if kind == "about:blank":
        return [] if isinstance(body.get("title"), str) else [f"generic problem without a title ({RULES['problem.generic'][1]})"]
    if isinstance(kind, str) and kind.startswith(OLD_PROBLEM_TYPES):
        return [f"problem type {kind}: X's document ({SPEC.SOURCE['info.version']}) puts problem types on {PROBLEM_TYPES}"]
    if kind == PROBLEM_TYPES + "usage-capped":
        return _errors(_USAGE_CAPPED, body, "usage-capped problem")
    return _errors(_named("Problem"), body, f"problem {kind}")


def _check_token(exchange: Exchange, problems: list[str]) -> Verdict:
    if exchange.method != "POST" or exchange.content_type != "application/x-www-form-urlencoded":
        problems.append(f"{exchange.method} of {exchange.content_type or 'no body type'}: {RULES['token.form'][0]} "
                        f"[{RULES['token.form'][1]}]")
    form = exchange.form()
    grant = form.get("grant_type")
    needed = {"authorization_code": ("code", "client_id", "redirect_uri", "code_verifier"),
              "refresh_token": ("refresh_token", "client_id")}.get(grant)
    if needed is None:
        problems.append(f"grant_type {grant!r} is neither authorization_code nor refresh_token [{TOKEN_PAGE}]")
    else:
        rule = RULES[f"token.{grant}"]
        problems += [f"{name} is missing: {rule[0]} [{rule[1]}]" for name in needed if not form.get(name)]
    authorization = exchange.headers.get("authorization")
    if authorization is not None and not authorization.lower().startswith("basic "):
        problems.append(f"Authorization {authorization.split(' ', 1)[0]}: {RULES['token.basic'][0]} [{TOKEN_PAGE}]")
    checked = not exchange.dropped
    if checked:
        problems += _check_token_answer(exchange.status, exchange.response_json())
    return Verdict("x.oauth2.token", problems, response_checked=checked)


def _check_token_answer(status: int, body) -> list[str]:
    if not isinstance(body, dict):
        return [f"token answer {status} is not a JSON object"]
    if status == 200:
        wanted = {"token_type": str, "expires_in": int, "access_token": str, "scope": str}
        bad = [name for name, kind in wanted.items() if not isinstance(body.get(name), kind)]
        if "refresh_token" in body and not isinstance(body["refresh_token"], str):
            bad.append("refresh_token")
        return [f"token answer lacks or mistypes {', '.join(bad)} [{RULES['token.answer'][1]}]"] if bad else []
    return [] if isinstance(body.get("error"), str) else [f"token refusal {status} without an error code "
                                                         f"[{RULES['token.answer'][1]}]"]
