"""Contract-faithful YouTube Content ID API (youtubePartner v1) sandbox (docs/platforms.md#youtube-content-id).

It follows the API's discovery document, restated for the methods Postgate calls in
youtube_partner_discovery.json: a request is matched to a method by HTTP method and path, and its
query parameters and JSON body are checked against the document (an unknown parameter or field, a
wrong type or a value outside an enum is refused with 400 as Google's front end does:
https://cloud.google.com/apis/design/errors). Then the API's own rules, from the method pages of
https://developers.google.com/youtube/partner/reference/rest: an OAuth bearer token carrying a scope
the method accepts; the content owner named by onBehalfOfContentOwner must be one the user may act
for (omitted: the user's only one); a video can be claimed only if its channel is linked to that
content owner (claims.insert); claims.patch changes a claim's policy or status and nothing else;
assetSearch.list and claimSearch.list page with pageToken.

Where Google documents no answer the sandbox picks one and says so: a user with no content owner
gets an empty contentOwners.list (fetchMine=true) and 403 on every other method; claiming a video
with an asset that already claims it answers 409 alreadyExists; pages hold 25 items.

Faults: server_error (503 backendError), rate_limit (429 rateLimitExceeded), quota (403 quotaExceeded),
error (http_status=, reason=, message=), lost_response (the request is carried out, then the answer
is dropped (how="drop", default), a 503 (how="error") or late (how="timeout", seconds=)), slow.
Token values never reach a log or an answer.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import secrets
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Response

from infra.local.sandboxes.base import Call, Route, Sandbox, bearer_token, json_object, lost_answer, serve, snapshot
from infra.local.sandboxes.discovery import DiscoveryDocument

DISCOVERY = DiscoveryDocument.load(Path(__file__).with_name("youtube_partner_discovery.json"))
METHOD_PREFIX = "youtubePartner."
ENDPOINTS = frozenset(m.removeprefix(METHOD_PREFIX) for m in DISCOVERY.methods)
FAULT_KINDS = frozenset({"server_error", "rate_limit", "quota", "error", "lost_response", "slow"})
PARTNER_SCOPE = "https://www.googleapis.com/auth/youtubepartner"
PAGE_SIZE = 25
# claims.patch: "Patches an existing claim by either changing its policy or its status" (claims.patch page).
PATCHABLE = {"policy", "status"}
RELEASED = "inactive"  # "update its status from active to inactive to effectively release the claim"
STATUS_WORDS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED"}


class ApiError(Exception):
    def __init__(self, status: int, reason: str, message: str, domain: str = "youtubePartner"):
        super().__init__(message)
        self.status, self.reason, self.message, self.domain = status, reason, message, domain


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _page(items: list[dict], token: str | None) -> tuple[list[dict], dict, str | None]:
    """One page of `items` from the opaque `token`: (items, pageInfo, next token)."""
    try:
        start = int(base64.urlsafe_b64decode((token or "MA==").encode()).decode()) if token else 0
    except ValueError:
        raise ApiError(400, "invalidPageToken", "The pageToken is invalid.") from None
    chunk = items[start:start + PAGE_SIZE]
    following = start + PAGE_SIZE
    nxt = base64.urlsafe_b64encode(str(following).encode()).decode() if following < len(items) else None
    return chunk, {"totalResults": len(items), "resultsPerPage": PAGE_SIZE, "startIndex": start}, nxt


class YouTubePartnerSandbox(Sandbox):
    _thread_name = "youtube_partner-sandbox"
    ENDPOINTS, FAULT_KINDS, error_type = ENDPOINTS, FAULT_KINDS, ApiError
    log_code_key, ok_code = "reason", "ok"
    contract_host = "youtubepartner.googleapis.com"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, clock: Callable[[], float] = time.time):
        super().__init__(host, port, clock=clock, clients=None)
        self._users: dict[str, dict] = {}  # access token -> {"email", "scopes", "owners"}
        self._owners: dict[str, dict] = {}  # content owner id -> {"id", "displayName", "channels"}
        self._videos: dict[str, dict] = {}  # video id -> {"channel_id", "title"}
        self._ids = itertools.count(1)
        self.reset()

    def _clear_state(self) -> None:
        self._assets: dict[str, dict] = {}
        self._policies: dict[str, dict] = {}
        self._claims: dict[str, dict] = {}

    # ---- Python control API ----
    def add_content_owner(self, owner_id: str | None = None, *, display_name: str = "Sandbox CMS",
                          channels: tuple[str, ...] = ()) -> str:
        with self._lock:
            owner_id = owner_id or "CO" + secrets.token_hex(8)
            self._owners.setdefault(owner_id, {"id": owner_id, "displayName": display_name, "channels": set()})
            self._owners[owner_id]["channels"].update(channels)
            return owner_id

    def link_channel(self, owner_id: str, channel_id: str, *, linked: bool = True) -> None:
        with self._lock:
            (self._owners[owner_id]["channels"].add if linked else self._owners[owner_id]["channels"].discard)(channel_id)

    def add_user(self, access_token: str, *, content_owners: tuple[str, ...] = (), email: str = "cms-user@example.com",
                 scopes: tuple[str, ...] = (PARTNER_SCOPE,)) -> None:
        """A Google account's token: the content owners it may act for and the scopes granted."""
        with self._lock:
            self._users[access_token] = {"email": email, "scopes": frozenset(scopes), "owners": list(content_owners)}

    def add_account(self, access_token: str, refresh_token: str | None = None, **kwargs: Any) -> dict:
        self.add_user(access_token, **kwargs)
        return {}

    def add_video(self, video_id: str, *, channel_id: str, title: str = "Sandbox video") -> str:
        """A video YouTube holds (uploaded to `channel_id`), as the Content ID API sees it."""
        with self._lock:
            self._videos[video_id] = {"channel_id": channel_id, "title": title}
            return video_id

    def add_asset(self, owner_id: str, *, title: str, asset_type: str = "web", custom_id: str | None = None) -> str:
        with self._lock:
            asset_id = f"A{next(self._ids):015d}"
            self._assets[asset_id] = {"id": asset_id, "type": asset_type, "title": title, "customId": custom_id,
                                      "owner": owner_id, "timeCreated": _now()}
            return asset_id

    def add_policy(self, owner_id: str, *, name: str, rules: list[dict]) -> str:
        with self._lock:
            policy_id = f"S{next(self._ids):015d}"
            self._policies[policy_id] = {"id": policy_id, "name": name, "rules": copy.deepcopy(rules),
                                         "owner": owner_id, "timeUpdated": _now()}
            return policy_id

    def add_claim(self, owner_id: str, *, video_id: str, asset_id: str, content_type: str = "audiovisual",
                  policy: dict | None = None) -> str:
        """A claim made elsewhere (Studio, another tool)."""
        with self._lock:
            return self._create_claim(owner_id, {"videoId": video_id, "assetId": asset_id, "contentType": content_type,
                                                 "policy": policy or {"rules": [{"action": "track"}]}})

    def edit_claim(self, claim_id: str, **fields: Any) -> None:
        """Somebody changes the claim in Studio (policy=..., status=...)."""
        with self._lock:
            self._claims[claim_id].update(copy.deepcopy(fields))

    claims = snapshot("_claims", doc="Claims by id, as the API holds them (owner included).")
    assets = snapshot("_assets")

    @property
    def posts(self) -> dict:
        return self.claims

    # ---- request plumbing ----
    def _route(self, call: Call) -> Route:
        found = DISCOVERY.match(call.request.method, call.request.path)
        if found is None:
            allowed = DISCOVERY.methods_at(call.request.path)
            if allowed:
                raise ApiError(405, "methodNotAllowed", f"{call.request.path} takes {', '.join(allowed)}", "global")
            raise ApiError(404, "notFound", f"no such method: {call.request.method} {call.request.path}", "global")
        method_id, path_params = found
        return Route(method_id.removeprefix(METHOD_PREFIX), None, {"path": path_params})

    def _wrong_method(self, call: Call, expected: str) -> ApiError:
        return ApiError(405, "methodNotAllowed", f"{call.request.path} expects {expected}", "global")

    def _admit(self, call: Call) -> None:
        token = bearer_token(call.request)
        with self._lock:
            user = self._users.get(token) if token else None
        if user is None:
            raise ApiError(401, "authError" if token else "required",
                           "Request had invalid authentication credentials. Expected OAuth 2 access token.", "global")
        accepted = set(DISCOVERY.methods[METHOD_PREFIX + call.endpoint].get("scopes", ()))
        if not user["scopes"] & accepted:
            raise ApiError(403, "insufficientPermissions", "Request had insufficient authentication scopes.", "global")
        call.args["user"] = user

    def _before_handler(self, call: Call) -> None:
        """The discovery document's rules, then the content owner the request acts for."""
        method = DISCOVERY.methods[METHOD_PREFIX + call.endpoint]
        params, problems = DISCOVERY.query_problems(method, list(call.request.args.items(multi=True)))
        if problems:
            raise ApiError(400, "badRequest", f"Invalid request: {problems[0]}", "global")
        call.args["params"] = {name: values[0] for name, values in params.items()}
        if "request" in method:
            if call.request.mimetype != "application/json":
                raise ApiError(400, "badContent", "Content-Type must be application/json", "global")
            body = json_object(call.body, lambda m: ApiError(400, "parseError", m, "global"))
            problems = []
            DISCOVERY.validate(body, {"$ref": method["request"]["$ref"]}, "", problems, where="body")
            if problems:
                raise ApiError(400, "badRequest", f"Invalid JSON payload received. {problems[0]}", "global")
            call.args["body"] = body
        elif call.body:
            raise ApiError(400, "badContent", f"{method['id']} takes no request body", "global")
        call.args["owner"] = self._owner_for(call.args["user"], call.args["params"].get("onBehalfOfContentOwner"),
                                             lenient=call.endpoint == "contentOwners.list")

    def _owner_for(self, user: dict, named: str | None, *, lenient: bool) -> str | None:
        owners = user["owners"]
        if named is not None:
            if named not in owners:
                raise ApiError(403, "forbidden", f"The user may not act on behalf of content owner {named}.")
            return named
        if len(owners) == 1:
            return owners[0]
        if lenient:
            return None
        if not owners:
            raise ApiError(403, "forbidden", "The authenticated user is not associated with a content owner.")
        raise ApiError(400, "required", "onBehalfOfContentOwner is required: the user acts for several content owners.")

    def _handle(self, call: Call) -> Response:
        handler = getattr(self, "_h_" + call.endpoint.replace(".", "_"))
        args = {k: v for k, v in call.args.items() if k != "user"}
        return handler(user=call.args["user"], **args)

    def _fault(self, endpoint: str, kind: str, params: dict) -> dict:
        if kind == "error" and not ({"http_status", "reason"} <= params.keys()):
            raise ValueError("error faults need http_status=... and reason=...")
        if kind == "lost_response":
            lost_answer(params, "how", {"drop": "drop", "error": "error", "timeout": "timeout"}, "drop",
                        "lost_response takes how='drop', how='error' or how='timeout' (with seconds=)")
            if params["lose"] == "timeout" and "seconds" not in params:
                raise ValueError("how='timeout' needs seconds=")
        return {"kind": kind, **params}

    def _fault_error(self, call: Call, fault: dict) -> ApiError:
        kind = fault["kind"]
        if kind == "rate_limit":
            return ApiError(429, "rateLimitExceeded", "Rate limit exceeded (injected).", "usageLimits")
        if kind == "quota":
            return ApiError(403, "quotaExceeded", "Quota exceeded (injected).", "usageLimits")
        if kind == "error":
            return ApiError(int(fault["http_status"]), str(fault["reason"]), str(fault.get("message", "injected error")))
        return ApiError(503, "backendError", "Backend Error (injected)", "global")

    def _crash(self) -> ApiError:
        return ApiError(500, "backendError", "sandbox crashed", "global")

    def _error(self, call: Call, e: ApiError) -> Response:  # type: ignore[override]
        word = STATUS_WORDS.get(e.status, "UNAVAILABLE" if e.status >= 500 else "FAILED_PRECONDITION")
        err = {"message": e.message, "domain": e.domain, "reason": e.reason}
        body = {"error": {"code": e.status, "message": e.message, "errors": [err], "status": word}}
        response = Response(json.dumps(body), status=e.status, mimetype="application/json")
        if e.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
        response.sandbox_code = e.reason
        return response

    @staticmethod
    def _json(data: Any) -> Response:
        response = Response(json.dumps(data), status=200, mimetype="application/json")
        response.sandbox_code = "ok"
        return response

    # ---- methods ----
    def _h_contentOwners_list(self, *, user: dict, params: dict, owner: str | None, path: dict) -> Response:
        if params.get("fetchMine") == "true":
            ids = list(user["owners"])
        elif "id" in params:
            ids = [i for i in params["id"].split(",") if i in user["owners"]]
        else:
            raise ApiError(400, "required", "Give fetchMine=true or id.")
        with self._lock:
            items = [{"kind": "youtubePartner#contentOwner", "id": i, "displayName": self._owners[i]["displayName"]}
                     for i in ids if i in self._owners]
        return self._json({"kind": "youtubePartner#contentOwnerList", "items": items})

    def _h_assetSearch_list(self, *, user: dict, params: dict, owner: str, path: dict) -> Response:
        query = (params.get("q") or "").lower()
        with self._lock:
            found = [a for a in self._assets.values() if (params.get("ownershipRestriction") == "NONE" or a["owner"] == owner)
                     and (not query or query in f"{a['id']} {a['title']} {a['customId'] or ''} {a['type']}".lower())]
        found.sort(key=lambda a: a["timeCreated"], reverse=True)  # TIME, the default sort, is descending
        items, info, nxt = _page(found, params.get("pageToken"))
        out: dict[str, Any] = {"kind": "youtubePartner#assetSnippetList", "pageInfo": info,
                               "items": [{"kind": "youtubePartner#assetSnippet", "id": a["id"], "type": a["type"],
                                          "title": a["title"], "timeCreated": a["timeCreated"],
                                          **({"customId": a["customId"]} if a["customId"] else {})} for a in items]}
        if nxt:
            out["nextPageToken"] = nxt
        return self._json(out)

    def _h_assets_get(self, *, user: dict, params: dict, owner: str, path: dict) -> Response:
        with self._lock:
            asset = self._assets.get(path["assetId"])
        if asset is None or asset["owner"] != owner:
            raise ApiError(404, "notFound", f"Asset {path['assetId']} not found.")
        metadata = {"title": asset["title"], **({"customId": asset["customId"]} if asset["customId"] else {})}
        return self._json({"kind": "youtubePartner#asset", "id": asset["id"], "type": asset["type"],
                           "timeCreated": asset["timeCreated"], "metadataMine": metadata})

    def _h_policies_list(self, *, user: dict, params: dict, owner: str, path: dict) -> Response:
        wanted = set(params["id"].split(",")) if "id" in params else None
        with self._lock:
            items = [self._policy_out(p) for p in self._policies.values()
                     if p["owner"] == owner and (wanted is None or p["id"] in wanted)]
        return self._json({"kind": "youtubePartner#policyList", "items": items})

    @staticmethod
    def _policy_out(policy: dict) -> dict:
        return {"kind": "youtubePartner#policy", **{k: copy.deepcopy(v) for k, v in policy.items() if k != "owner"}}

    def _h_claims_insert(self, *, user: dict, params: dict, owner: str, path: dict, body: dict) -> Response:
        for name in ("videoId", "assetId", "contentType"):
            if not body.get(name):
                raise ApiError(400, "required", f"claim.{name} is required.")
        with self._lock:
            claim_id = self._create_claim(owner, body)
            return self._json(self._claim_out(self._claims[claim_id]))

    def _create_claim(self, owner: str, body: dict) -> str:
        """Under the lock: the API's rules for a new claim, then the claim."""
        video = self._videos.get(body["videoId"])
        if video is None:
            raise ApiError(404, "videoNotFound", f"Video {body['videoId']} not found.")
        if video["channel_id"] not in self._owners[owner]["channels"]:
            raise ApiError(403, "forbidden", "The video being claimed must have been uploaded to a channel associated "
                           "with the same content owner as the API user sending the request.")
        asset = self._assets.get(body["assetId"])
        if asset is None or asset["owner"] != owner:
            raise ApiError(404, "notFound", f"Asset {body['assetId']} not found.")
        policy = self._checked_policy(owner, body.get("policy") or {"rules": [{"action": "track"}]})
        for claim in self._claims.values():
            if claim["videoId"] == body["videoId"] and claim["assetId"] == body["assetId"] and claim["status"] != RELEASED:
                raise ApiError(409, "alreadyExists", f"Video {body['videoId']} is already claimed with asset "
                               f"{body['assetId']} (claim {claim['id']}).")
        claim_id = secrets.token_urlsafe(12)
        self._claims[claim_id] = {"id": claim_id, "videoId": body["videoId"], "assetId": body["assetId"],
                                  "contentType": body["contentType"], "policy": policy, "status": "active",
                                  "isPartnerUploaded": True, "timeCreated": _now(), "owner": owner,
                                  "blockOutsideOwnership": bool(body.get("blockOutsideOwnership", False))}
        return claim_id

    def _checked_policy(self, owner: str, policy: dict) -> dict:
        if policy.get("id"):
            saved = self._policies.get(policy["id"])
            if saved is None or saved["owner"] != owner:
                raise ApiError(404, "notFound", f"Policy {policy['id']} not found.")
            return {"id": saved["id"], "rules": copy.deepcopy(saved["rules"])}
        rules = policy.get("rules") or []
        if not rules or not all(rule.get("action") for rule in rules):
            raise ApiError(400, "invalidValue", "A policy needs a saved policy id or at least one rule with an action.")
        return {"rules": copy.deepcopy(rules)}

    def _claim_out(self, claim: dict) -> dict:
        out = {"kind": "youtubePartner#claim", **{k: copy.deepcopy(v) for k, v in claim.items() if k != "owner"}}
        out["policy"] = {"kind": "youtubePartner#policy", **out["policy"]}
        return out

    def _owned_claim(self, claim_id: str, owner: str) -> dict:
        claim = self._claims.get(claim_id)
        if claim is None or claim["owner"] != owner:
            raise ApiError(404, "notFound", f"Claim {claim_id} not found.")
        return claim

    def _h_claims_get(self, *, user: dict, params: dict, owner: str, path: dict) -> Response:
        with self._lock:
            return self._json(self._claim_out(self._owned_claim(path["claimId"], owner)))

    def _h_claims_patch(self, *, user: dict, params: dict, owner: str, path: dict, body: dict) -> Response:
        other = sorted(set(body) - PATCHABLE - {"kind", "id"})
        if other:
            raise ApiError(400, "invalidValue", f"claims.patch changes the policy or the status, not {other[0]}.")
        with self._lock:
            claim = self._owned_claim(path["claimId"], owner)
            if "status" in body and body["status"] not in (claim["status"], RELEASED):
                raise ApiError(400, "invalidValue", "A claim's status can only be changed from active to inactive.")
            if "policy" in body:
                claim["policy"] = self._checked_policy(owner, body["policy"])
            if "status" in body:
                claim["status"] = body["status"]
            return self._json(self._claim_out(claim))

    def _h_claimSearch_list(self, *, user: dict, params: dict, owner: str, path: dict) -> Response:
        videos = set(params["videoId"].split(",")) if "videoId" in params else None
        query = (params.get("q") or "").lower()
        with self._lock:
            found = [c for c in self._claims.values() if c["owner"] == owner
                     and (videos is None or c["videoId"] in videos)
                     and params.get("assetId") in (None, c["assetId"])
                     and params.get("status") in (None, c["status"].upper())
                     and (not query or query in self._videos.get(c["videoId"], {}).get("title", "").lower())]
            snippets = [{"kind": "youtubePartner#claimSnippet", "id": c["id"], "assetId": c["assetId"],
                         "videoId": c["videoId"], "status": c["status"], "contentType": c["contentType"],
                         "timeCreated": c["timeCreated"], "isPartnerUploaded": c["isPartnerUploaded"],
                         "thirdPartyClaim": False, "videoTitle": self._videos.get(c["videoId"], {}).get("title", "")}
                        for c in found]
        items, info, nxt = _page(snippets, params.get("pageToken"))
        out: dict[str, Any] = {"kind": "youtubePartner#claimSnippetList", "items": items, "pageInfo": info}
        if nxt:
            out["nextPageToken"] = nxt
        return self._json(out)


def main(argv: list[str] | None = None) -> int:
    def build(args) -> YouTubePartnerSandbox:
        sandbox = YouTubePartnerSandbox(args.host, args.port)
        owner = sandbox.add_content_owner("COsandbox0000001", display_name="Sandbox CMS")
        for token in args.token:
            sandbox.add_user(token, content_owners=(owner,))
        return sandbox

    return serve(argv, description="YouTube Content ID API sandbox", port=9107, build=build,
                 ready=lambda sandbox: {"content_owner": "COsandbox0000001"})


if __name__ == "__main__":
    sys.exit(main())
