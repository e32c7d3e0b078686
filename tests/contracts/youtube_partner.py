"""YouTube Content ID contract: each recorded exchange checked against the youtubePartner v1 discovery
document, as restated for the methods Postgate calls (infra/local/sandboxes/youtube_partner_discovery.json,
whose `_restated` entry names the revision and source; google-api-python-client does not ship it).

From the document: the method a request is (HTTP method + path), its query parameters (known,
typed, enum, required), its body (known fields of the request schema, types, enums) and the answer
against the response schema (every field known, types, enums). Google's error body is checked on
every refusal. Postgate's own rules on top, each from a page of
https://developers.google.com/youtube/partner/reference/rest:
- every call but contentOwners.list names the content owner (onBehalfOfContentOwner): the document
  leaves it optional, and without it the API picks the user's only content owner, which could change;
- an OAuth bearer token, never an API key (Content ID data is private to the owner);
- claims.insert names the video, the asset, the content type and the policy;
- claims.patch sends only the policy or the status ("Patches an existing claim by either changing its
  policy or its status").
"""

from __future__ import annotations

from infra.local.sandboxes.recording import Exchange
from infra.local.sandboxes.youtube_partner import DISCOVERY, PATCHABLE
from tests.contracts import Verdict

OWNER_OPTIONAL = {"youtubePartner.contentOwners.list"}
INSERT_REQUIRED = ("videoId", "assetId", "contentType", "policy")


def check(exchange: Exchange) -> Verdict:
    if exchange.path.startswith("/_sandbox/"):
        return Verdict(None, [])
    found = DISCOVERY.match(exchange.method, exchange.path)
    if found is None:
        return Verdict("youtubePartner.unknown", [f"{exchange.method} {exchange.path} is no method of the discovery "
                                                  "document"])
    method_id, path_params = found
    method = DISCOVERY.methods[method_id]
    params, problems = DISCOVERY.query_problems(method, exchange.query)
    for name, value in path_params.items():
        if not value:
            problems.append(f"path parameter {name!r} is empty")
    if method_id not in OWNER_OPTIONAL and not params.get("onBehalfOfContentOwner"):
        problems.append("onBehalfOfContentOwner is missing: Postgate always names the content owner it acts for")
    if not exchange.headers.get("authorization", "").startswith("Bearer "):
        problems.append("no OAuth bearer token (Authorization: Bearer)")
    if "key" in params or "access_token" in params:
        problems.append("credentials in the query string")
    if "request" in method:
        _body_problems(exchange, method_id, method, problems)
    elif exchange.body_size:
        problems.append(f"{method_id} takes no request body, got {exchange.body_size} bytes")
    return Verdict(method_id, problems, response_checked=_answer_problems(exchange, method, problems))


def _body_problems(exchange: Exchange, method_id: str, method: dict, problems: list[str]) -> None:
    if exchange.content_type != "application/json":
        problems.append(f"body Content-Type {exchange.content_type!r}, expected application/json")
    body = exchange.json()
    if not isinstance(body, dict):
        problems.append("the body is not a JSON object")
        return
    DISCOVERY.validate(body, {"$ref": method["request"]["$ref"]}, "", problems, where="request body")
    if method_id == "youtubePartner.claims.insert":
        problems.extend(f"claims.insert without {name}" for name in INSERT_REQUIRED if not body.get(name))
    if method_id == "youtubePartner.claims.patch":
        problems.extend(f"claims.patch sets {name}: only the policy or the status can be patched"
                        for name in sorted(set(body) - PATCHABLE))
    policy = body.get("policy")
    if isinstance(policy, dict) and bool(policy.get("id")) == bool(policy.get("rules")):
        problems.append("a claim's policy is a saved policy id or a list of rules, exactly one of them")


def _answer_problems(exchange: Exchange, method: dict, problems: list[str]) -> bool:
    if exchange.dropped:
        return False
    if exchange.status >= 400:
        problems.extend(DISCOVERY.error_problems(exchange.status, exchange.response_json()))
        return False
    answer = exchange.response_json()
    if not isinstance(answer, dict):
        problems.append("the answer is not a JSON object")
        return False
    DISCOVERY.validate(answer, {"$ref": method["response"]["$ref"]}, "", problems, where="answer")
    return True
