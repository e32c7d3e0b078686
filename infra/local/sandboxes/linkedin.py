"""Contract-faithful LinkedIn Posts API sandbox (versioned /rest, docs/platforms.md#linkedin).

Real HTTP on localhost so the real client is exercised end to end: the version and Rest.li
headers, image and multi-part video uploads with ETags, media status progressions (advanced
per status request, never by wall clock), the little text format of `commentary`, the post URN
in the `x-restli-id` header, the 422 DUPLICATE_POST refusal naming the existing post, the
find-posts-by-author finder, LinkedIn's error shape {status, serviceErrorCode, code, message},
injected faults (including a create whose answer is lost) and the OAuth refresh endpoint.
Token values are never logged or exposed.
"""
from __future__ import annotations

import collections
import copy
import json
import re
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

from werkzeug.wrappers import Request, Response

from infra.local.sandboxes.base import (
    Call,
    Route,
    Sandbox,
    bearer_token,
    form_fields,
    json_object,
    lost_answer,
    serve,
    snapshot,
)
from infra.local.sandboxes.engagement import engagement
from infra.local.sandboxes.server import AuthorizationServer

MiB = 1024 * 1024
COMMENTARY_MAX = 3000
DEFAULT_PART_BYTES = 4 * MiB  # parts of about 4 MB (docs/platforms.md#linkedin-endpoints)
VISIBILITIES = {"PUBLIC", "CONNECTIONS", "LOGGED_IN"}
LIFECYCLE_STATES = {"PUBLISHED", "DRAFT"}
POST_FIELDS = {"author", "commentary", "visibility", "distribution", "content", "lifecycleState",
               "isReshareDisabledByAuthor", "contentLandingPage", "contentCallToActionLabel", "adContext"}
RESERVED = set("\\|{}@[]()<>#*_~")
_URN_AUTHOR = re.compile(r"^urn:li:(person|organization):[A-Za-z0-9_-]+$")
_HASHTAG_OPEN = "{hashtag|\\#|"
_MENTION = re.compile(r"^@\[([^\]]*)\]\((urn:li:(?:person|organization):[A-Za-z0-9_-]+)\)")
FAULT_KINDS = {"rate_limit", "server_error", "error", "slow", "fail_processing", "lost_response"}
ENDPOINTS = {"posts_create", "posts_get", "posts_find", "posts_delete", "images_init", "image_upload", "images_get",
             "videos_init", "video_upload", "videos_finalize", "videos_get", "token", "authorize", "userinfo",
             "share_statistics"}
# GET /rest/organizationalEntityShareStatistics with shares=List(...) / ugcPosts=List(...)
# [learn.microsoft.com/linkedin/marketing/community-management/organizations/share-statistics]. LinkedIn
# documents no maximum number of URNs (unverified); the sandbox refuses more than Postgate's own
# bound (shared/platforms/linkedin/adapter.py METRICS_BATCH_SIZE), so a larger batch shows up in tests.
SHARE_STATISTICS_MAX_URNS = 20
SHARE_STATISTICS_WINDOW = 365 * 86400.0  # statistics cover a rolling 12 months
_LIST_PARAM = re.compile(r"^List\((.*)\)$")
# 3-legged OAuth: authorize at www.linkedin.com/oauth/v2/authorization (scopes space-delimited, no
# PKCE for web apps), exchange at /oauth/v2/accessToken with grant_type=authorization_code, code,
# client_id, client_secret and the same redirect_uri; the code lives 30 minutes; a member who
# cancels comes back with error=user_cancelled_authorize (or user_cancelled_login)
# [learn.microsoft.com/linkedin/shared/authentication/authorization-code-flow]. Identity: GET
# /v2/userinfo with scopes openid profile [learn.microsoft.com/linkedin/consumer/integrations/
# self-serve/sign-in-with-linkedin-v2].
AUTHORIZATION_CODE_TTL = 30 * 60.0
# GET /rest/posts?q=author [learn.microsoft.com/linkedin/marketing/community-management/shares/posts-api
# #find-posts-by-authors]; the largest `count` is not documented (unverified): Rest.li's usual 100.
FINDER_MAX_COUNT = 100
FINDER_SORTS = {"LAST_MODIFIED", "CREATED"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, service_error_code: int | None = None,
                 body: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.service_error_code = service_error_code
        self.body = body


def _num_id(digits: int = 19) -> str:
    return str(secrets.randbelow(9 * 10 ** (digits - 1)) + 10 ** (digits - 1))


def _asset_id(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")


def parse_little(text: str) -> tuple[str, bool, list[str], list[str]]:
    """Render little text as LinkedIn would: (visible text, truncated?, hashtags, mentions).

    An unescaped reserved character that starts no template makes LinkedIn drop the rest of the
    commentary silently (docs/platforms.md#linkedin-endpoints); that is what `truncated` reports."""
    out: list[str] = []
    tags: list[str] = []
    mentions: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            if i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            return "".join(out), True, tags, mentions
        if text.startswith(_HASHTAG_OPEN, i):
            j, tag = i + len(_HASHTAG_OPEN), []
            while j < n and text[j] != "}":
                if text[j] == "\\" and j + 1 < n:
                    tag.append(text[j + 1])
                    j += 2
                    continue
                if text[j] in RESERVED:
                    break
                tag.append(text[j])
                j += 1
            if j < n and text[j] == "}" and tag:
                tags.append("".join(tag))
                out.append("#" + "".join(tag))
                i = j + 1
                continue
            return "".join(out), True, tags, mentions
        if ch == "@":
            m = _MENTION.match(text[i:])
            if m:
                mentions.append(m.group(2))
                out.append(m.group(1))
                i += m.end()
                continue
        if ch in RESERVED:
            return "".join(out), True, tags, mentions
        out.append(ch)
        i += 1
    return "".join(out), False, tags, mentions


class LinkedInSandbox(Sandbox):
    _thread_name = "linkedin-sandbox"
    ENDPOINTS, FAULT_KINDS, error_type = ENDPOINTS, FAULT_KINDS, ApiError
    dropped_code, metrics_endpoint = "CONNECTION_DROPPED", "share_statistics"

    """In-memory LinkedIn. Versions <= `sunset_through` answer 426; versions after `latest_version`
    do not exist yet (400). Media become AVAILABLE after `status_checks_before_available` status
    GETs following the upload (finalize for videos)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, latest_version: str = "202611",
                 sunset_through: str = "202511", status_checks_before_available: int = 1,
                 part_bytes: int = DEFAULT_PART_BYTES, daily_post_limit: int = 150,
                 unescaped_reserved: str = "truncate", clients: dict[str, str] | None = None,
                 access_token_ttl: int = 60 * 86400, refresh_token_ttl: int = 365 * 86400,
                 rotate_refresh_tokens: bool = False, member_post_reads: bool = False,
                 clock: Callable[[], float] = time.time):
        if unescaped_reserved not in ("truncate", "reject"):
            raise ValueError("unescaped_reserved must be 'truncate' (like LinkedIn) or 'reject'")
        super().__init__(host, port, clock=clock, clients=clients)
        self.latest_version, self.sunset_through = latest_version, sunset_through
        self.status_checks_before_available = status_checks_before_available
        self.part_bytes = part_bytes
        self.daily_post_limit = daily_post_limit
        self.unescaped_reserved = unescaped_reserved
        self.access_token_ttl, self.refresh_token_ttl = access_token_ttl, refresh_token_ttl
        self.rotate_refresh_tokens = rotate_refresh_tokens
        # r_member_social (reading a member's posts) is a private permission most apps lack.
        self.member_post_reads = member_post_reads
        self._members: dict[str, dict] = {}        # person urn -> {organizations: set}
        self._tokens: dict[str, str] = {}           # access token -> person urn
        self._refresh: dict[str, dict] = {}         # refresh token -> {person, expires_at, client_id}
        self.oauth = AuthorizationServer(code_ttl=AUTHORIZATION_CODE_TTL, pkce="ignored",
                                         denial_error="user_cancelled_authorize", clock=clock)
        self.reset()

    def _clear_state(self) -> None:
        self._posts: dict[str, dict] = {}
        self._images: dict[str, dict] = {}
        self._videos: dict[str, dict] = {}
        self._processing_failures: dict[str, int] = collections.defaultdict(int)
        self._daily: dict[tuple[str, str], int] = collections.defaultdict(int)

    # ---- Python control API ----
    def add_account(self, access_token: str, refresh_token: str | None = None, *, person_id: str | None = None,
                    organization_id: str | None = None, client_id: str | None = None) -> dict[str, str]:
        """A member with this token (and refresh token); with `organization_id` (or "auto") the
        member administers that organization. Returns {"person_urn", "organization_urn"?}."""
        with self._lock:
            person = f"urn:li:person:{person_id or secrets.token_urlsafe(8).replace('-', 'a').replace('_', 'b')}"
            member = self._members.setdefault(person, {"organizations": set()})
            ids = {"person_urn": person}
            if organization_id:
                org = f"urn:li:organization:{_num_id(8) if organization_id == 'auto' else organization_id}"
                member["organizations"].add(org)
                ids["organization_urn"] = org
            self._tokens[access_token] = person
            if refresh_token:
                self._refresh[refresh_token] = {"person": person, "client_id": client_id,
                                                "expires_at": self._clock() + self.refresh_token_ttl}
            return ids

    # ---- metrics (organizationalEntityShareStatistics) ----
    def add_post(self, access_token: str, *, author: str | None = None, age_seconds: float = 0.0,
                 kind: str = "share") -> str:
        """A published text post by `author` (default: the first organization the token's member
        administers, else the member) created `age_seconds` ago; `kind` share or ugcPost. Returns its
        URN. Its statistics grow with the sandbox clock from then on."""
        with self._lock:
            person = self._tokens[access_token]
            author = author or next(iter(sorted(self._members[person]["organizations"])), person)
            urn = f"urn:li:{kind}:{_num_id()}"
            text = f"sandbox post {len(self._posts) + 1}"
            self._posts[urn] = {
                "id": urn, "author": author, "commentary": text, "visibility": "PUBLIC",
                "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                                 "thirdPartyDistributionChannels": []},
                "content": None, "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False, "media_urn": None,
                "created_by": person, "createdAt": int((self._clock() - age_seconds) * 1000), "rendered_text": text,
                "commentary_truncated": False, "hashtags": [], "mentions": []}
            return urn

    def delete_post(self, post_urn: str) -> None:
        """The post is gone (as after DELETE /rest/posts/{urn}): no statistics for it any more."""
        with self._lock:
            self._posts.pop(post_urn, None)

    def _metrics_now(self, post_urn: str) -> dict[str, Any]:
        return self._share_statistics(self._posts[post_urn])

    def _share_statistics(self, post: dict) -> dict[str, Any]:
        live = engagement(post["id"], self._clock() - post["createdAt"] / 1000)
        stats = {"impressionCount": live.views, "uniqueImpressionsCount": live.reach, "clickCount": live.clicks,
                 "likeCount": live.likes, "commentCount": live.comments, "shareCount": live.shares}
        # LinkedIn's engagement: (clicks + likes + comments + shares) / impressions.
        acted = live.clicks + live.likes + live.comments + live.shares
        stats["engagement"] = round(acted / live.views, 6) if live.views else 0.0
        return stats

    def revoke_authorization(self, person_urn: str) -> None:
        """The member removed the app: its access and refresh tokens stop working."""
        with self._lock:
            for token in [t for t, person in self._tokens.items() if person == person_urn]:
                del self._tokens[token]
            for token in [t for t, grant in self._refresh.items() if grant["person"] == person_urn]:
                del self._refresh[token]

    def revoke_access_token(self, access_token: str) -> None:
        """The token stops working (expired or revoked): the next call gets 401."""
        with self._lock:
            self._tokens.pop(access_token, None)

    def _fault(self, endpoint: str, kind: str, params: dict) -> dict:
        """rate_limit (429), server_error (500, or http_status=), error (http_status=, code=, message=,
        service_error_code=), fail_processing (videos_get / images_get), lost_response (the request is
        carried out, e.g. the post stored, then the caller gets LinkedIn's 500, or with how="drop" no
        answer at all)."""
        if kind == "error" and not {"http_status", "code"} <= params.keys():
            raise ValueError("error faults need http_status=... and code=... (message=, service_error_code= optional)")
        if kind == "fail_processing" and endpoint not in ("videos_get", "images_get"):
            raise ValueError("fail_processing applies to videos_get or images_get")
        if kind == "lost_response":
            lost_answer(params, "how", {"error": "error", "drop": "drop"}, "error",
                        "lost_response takes how='error' (LinkedIn's 500) or how='drop' (no answer)")
        return {"kind": kind, **params}

    def _place_fault(self, endpoint: str, fault: dict, count: int) -> dict | None:
        if fault["kind"] == "fail_processing":
            self._processing_failures[endpoint] += count
            return None
        return fault

    def _pending_platform_faults(self) -> int:
        return sum(self._processing_failures.values())

    posts = snapshot("_posts", private=True)
    images = snapshot("_images")
    videos = snapshot("_videos")

    # ---- server lifecycle ----
    @property
    def oauth_url(self) -> str:
        return self._base_url + "/oauth/v2/accessToken"

    # ---- request plumbing ----
    def _route(self, call: Call) -> Route:
        """The endpoint and the URN from the path (or None). Path URNs must arrive URL-encoded."""
        request = call.request
        path, method, action = request.path, request.method, request.args.get("action")
        raw_path = (request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or path).split("?")[0]
        for prefix, kind in (("/rest/posts", "posts"), ("/rest/images", "images"), ("/rest/videos", "videos")):
            if path == prefix and method == "GET" and kind == "posts":
                return _endpoint("posts_find", None)
            if path == prefix and method == "POST":
                if kind == "posts":
                    return _endpoint("posts_create", None)
                if action in ("initializeUpload", "finalizeUpload"):
                    name = f"{kind}_init" if action == "initializeUpload" else f"{kind}_finalize"
                    if name == "images_finalize":
                        raise ApiError(400, "ILLEGAL_ARGUMENT", "images have no finalizeUpload action", 100)
                    return _endpoint(name, None)
                raise ApiError(400, "ILLEGAL_ARGUMENT", f"unknown or missing action {action!r}", 100)
            if path.startswith(prefix + "/"):
                raw = raw_path[len(prefix) + 1:]
                urn = unquote(raw)
                if ":" in raw:  # sent as urn:li:... instead of urn%3Ali%3A...
                    raise ApiError(400, "ILLEGAL_ARGUMENT", f"the URN in the path must be URL-encoded: {raw}", 100)
                if method == "GET":
                    return _endpoint(f"{kind}_get", urn)
                if method == "DELETE" and kind == "posts":
                    return _endpoint("posts_delete", urn)
                raise ApiError(405, "METHOD_NOT_ALLOWED", f"{method} is not supported on {prefix}/{{urn}}", 100)
        if path == "/rest/organizationalEntityShareStatistics" and method == "GET":
            return _endpoint("share_statistics", None)
        if path.startswith("/dms-uploads/image/") and method == "PUT":
            return _endpoint("image_upload", path.rsplit("/", 1)[-1])
        if path.startswith("/dms-uploads/video/") and method == "PUT":
            return _endpoint("video_upload", path[len("/dms-uploads/video/"):])
        if path == "/oauth/v2/accessToken" and method == "POST":
            return _endpoint("token", None)
        if path == "/oauth/v2/authorization" and method == "GET":  # www.linkedin.com; one host here
            return _endpoint("authorize", None)
        if path == "/v2/userinfo" and method == "GET":
            return _endpoint("userinfo", None)
        raise ApiError(404, "NOT_FOUND", f"no such resource: {method} {path}", 100)

    def _before_handler(self, call: Call) -> None:
        if call.endpoint not in ("token", "authorize", "userinfo") and not call.endpoint.endswith("_upload"):
            self._check_headers(call.request, write=call.request.method in ("POST", "PUT"))

    def _handle(self, call: Call) -> Response:
        return getattr(self, "_h_" + call.endpoint)(call.request, call.body, call.truncated, call.args["urn"])

    def _log_fields(self, call: Call) -> dict:
        headers = call.request.headers
        return {"linkedin_version": headers.get("Linkedin-Version"),
                "restli_protocol": headers.get("X-Restli-Protocol-Version"),
                "restli_method": headers.get("X-RestLi-Method"), "content_type": headers.get("Content-Type")}

    def _crash(self) -> ApiError:
        return ApiError(500, "INTERNAL_SERVER_ERROR", "sandbox crashed")

    def _fault_error(self, call: Call, fault: dict) -> ApiError:
        if fault["kind"] == "rate_limit":
            return ApiError(429, "TOO_MANY_REQUESTS",
                            "Resource level throttle DAY limit for calls to this resource is reached.", 101)
        if fault["kind"] == "server_error":
            return ApiError(int(fault.get("http_status", 500)), "INTERNAL_SERVER_ERROR", "Internal Server Error (injected)")
        if fault["kind"] == "lost_response":  # LinkedIn's answer on an internal error
            return ApiError(int(fault.get("http_status", 500)), "INTERNAL_SERVER_ERROR", "Internal Server Error")
        return ApiError(int(fault["http_status"]), str(fault["code"]), str(fault.get("message", "injected error")),
                        fault.get("service_error_code"))

    def _error(self, call: Call, e: ApiError) -> Response:
        if call.endpoint == "token":  # OAuth answers use the OAuth error struct
            body = {"error": e.code, "error_description": e.message}
        elif e.body is not None:
            body = e.body
        else:
            body = {"status": e.status, "code": e.code, "message": e.message}
            if e.service_error_code is not None:
                body["serviceErrorCode"] = e.service_error_code
        response = Response(json.dumps(body), status=e.status, mimetype="application/json")
        response.sandbox_code = e.code
        return response

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict | None = None) -> Response:
        response = Response(json.dumps(data), status=status, mimetype="application/json", headers=headers or {})
        response.sandbox_code = None
        return response

    def _check_headers(self, request: Request, *, write: bool) -> None:
        version = request.headers.get("Linkedin-Version", "")  # header names are case-insensitive
        if not version:
            raise ApiError(400, "VERSION_MISSING", "A version must be present. Please specify a version by adding the "
                           "LinkedIn-Version header.", 100)
        if not re.fullmatch(r"\d{6}(\.\d{2})?", version):
            raise ApiError(400, "INVALID_VERSION", f"Invalid version format {version!r}; expected YYYYMM", 100)
        if version[:6] <= self.sunset_through:
            raise ApiError(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active", 100)
        if version[:6] > self.latest_version:
            raise ApiError(400, "NONEXISTENT_VERSION", f"Requested version {version} is not active", 100)
        if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            raise ApiError(400, "ILLEGAL_ARGUMENT", "X-Restli-Protocol-Version: 2.0.0 is required", 100)
        if write and request.mimetype != "application/json":
            raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json", 100)

    def _auth(self, request: Request) -> str:
        token = bearer_token(request, exact_case=True)
        with self._lock:
            person = self._tokens.get(token) if token else None
        if person is None:
            raise ApiError(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
        return person

    @staticmethod
    def _json_body(body: bytes) -> dict:
        return json_object(body, lambda message: ApiError(400, "ILLEGAL_ARGUMENT", message, 100))

    def _may_act_as(self, person: str, owner: Any, what: str) -> str:
        if not isinstance(owner, str) or not _URN_AUTHOR.match(owner):
            raise ApiError(422, "UNPROCESSABLE_ENTITY", f"{what} must be urn:li:person:... or urn:li:organization:...", 100)
        if owner == person or owner in self._members.get(person, {}).get("organizations", set()):
            return owner
        raise ApiError(403, "ACCESS_DENIED", f"Not enough permissions to act as {owner} ({what})", 100)

    def _owned(self, person: str, records: dict[str, dict], urn: str, kind: str, owner: str = "owner") -> dict:
        """The post, image or video `urn` of `records` that `person` may act for: 404 if there is none,
        403 if its `owner` field names someone else. Under the lock."""
        record = records.get(urn)
        if record is None:
            raise ApiError(404, "NOT_FOUND", f"{kind} {urn} does not exist", 100)
        self._may_act_as(person, record[owner], f"{kind.lower()} {owner}")
        return record

    # ---- posts ----
    def _h_posts_create(self, request: Request, body: bytes, truncated: bool, urn: None) -> Response:
        person = self._auth(request)
        post = self._json_body(body)
        unknown = set(post) - POST_FIELDS
        if unknown:
            raise ApiError(422, "UNPROCESSABLE_ENTITY", f"Unrecognized field(s): {', '.join(sorted(unknown))}", 100)
        required = ("author", "commentary", "visibility", "distribution", "lifecycleState")
        missing = [f for f in required if f not in post]
        if missing:
            raise ApiError(422, "UNPROCESSABLE_ENTITY", f"Field(s) required: {', '.join(missing)}", 100)
        with self._lock:
            author = self._may_act_as(person, post["author"], "author")
            commentary = post["commentary"]
            if not isinstance(commentary, str):
                raise ApiError(422, "UNPROCESSABLE_ENTITY", "commentary must be a string", 100)
            if len(commentary) > COMMENTARY_MAX:
                raise ApiError(422, "UNPROCESSABLE_ENTITY", f"commentary is longer than {COMMENTARY_MAX} characters", 100)
            if post["visibility"] not in VISIBILITIES:
                raise ApiError(422, "UNPROCESSABLE_ENTITY", f"visibility must be one of {sorted(VISIBILITIES)}", 100)
            if post["lifecycleState"] not in LIFECYCLE_STATES:
                raise ApiError(422, "UNPROCESSABLE_ENTITY", "lifecycleState must be PUBLISHED or DRAFT", 100)
            if "isReshareDisabledByAuthor" in post and not isinstance(post["isReshareDisabledByAuthor"], bool):
                raise ApiError(422, "UNPROCESSABLE_ENTITY", "isReshareDisabledByAuthor must be a boolean", 100)
            self._check_distribution(post["distribution"])
            media_urn = self._check_content(post.get("content"), author)
            rendered, cut, tags, mentions = parse_little(commentary)
            if cut and self.unescaped_reserved == "reject":
                raise ApiError(422, "UNPROCESSABLE_ENTITY", "commentary has an unescaped reserved character", 100)
            day = time.strftime("%Y-%m-%d", time.gmtime(self._clock()))
            if self._daily[(person, day)] >= self.daily_post_limit:
                raise ApiError(429, "TOO_MANY_REQUESTS",
                               "Resource level throttle DAY limit for calls to this resource is reached.", 101)
            duplicate = next((u for u, p in self._posts.items()
                              if p["author"] == author and p["commentary"] == commentary and p["media_urn"] == media_urn
                              and p["lifecycleState"] == "PUBLISHED"), None)
            if duplicate:
                raise ApiError(422, "DUPLICATE_POST", f"Content is a duplicate of {duplicate}", body={
                    "errorDetailType": "com.linkedin.common.error.BadRequest",
                    "message": f"com.linkedin.content.common.exception.BadRequestResponseException: "
                               f"Content is a duplicate of {duplicate}",
                    "errorDetails": {"inputErrors": [{"description": "Duplicate post is detected", "input": {},
                                                      "code": "DUPLICATE_POST"}]},
                    "status": 422})
            self._daily[(person, day)] += 1
            post_urn = f"urn:li:share:{_num_id()}"
            self._posts[post_urn] = {
                "id": post_urn, "author": author, "commentary": commentary, "visibility": post["visibility"],
                "distribution": copy.deepcopy(post["distribution"]), "content": copy.deepcopy(post.get("content")),
                "lifecycleState": post["lifecycleState"],
                "isReshareDisabledByAuthor": bool(post.get("isReshareDisabledByAuthor", False)),
                "media_urn": media_urn, "created_by": person, "createdAt": int(self._clock() * 1000),
                # What members see: LinkedIn silently drops the text after an unescaped reserved character.
                "rendered_text": rendered, "commentary_truncated": cut, "hashtags": tags, "mentions": mentions,
            }
        response = Response(b"", status=201, headers={"x-restli-id": post_urn, "x-linkedin-id": post_urn})
        response.sandbox_code = None
        return response

    @staticmethod
    def _check_distribution(distribution: Any) -> None:
        if not isinstance(distribution, dict) or distribution.get("feedDistribution") not in ("MAIN_FEED", "NONE"):
            raise ApiError(422, "UNPROCESSABLE_ENTITY", "distribution.feedDistribution must be MAIN_FEED or NONE", 100)
        for key in ("targetEntities", "thirdPartyDistributionChannels"):
            if not isinstance(distribution.get(key, []), list):
                raise ApiError(422, "UNPROCESSABLE_ENTITY", f"distribution.{key} must be a list", 100)
        unknown = set(distribution) - {"feedDistribution", "targetEntities", "thirdPartyDistributionChannels"}
        if unknown:
            raise ApiError(422, "UNPROCESSABLE_ENTITY", f"Unrecognized field(s) in distribution: {sorted(unknown)}", 100)

    def _check_content(self, content: Any, author: str) -> str | None:
        if content is None:
            return None
        if not isinstance(content, dict) or set(content) != {"media"}:
            raise ApiError(422, "UNPROCESSABLE_ENTITY", "the sandbox supports content.media only", 100)
        media = content["media"]
        if not isinstance(media, dict) or not isinstance(media.get("id"), str):
            raise ApiError(422, "UNPROCESSABLE_ENTITY", "content.media.id is required", 100)
        unknown = set(media) - {"id", "title", "altText"}
        if unknown:
            raise ApiError(422, "UNPROCESSABLE_ENTITY", f"Unrecognized field(s) in content.media: {sorted(unknown)}", 100)
        urn = media["id"]
        store = self._images if urn.startswith("urn:li:image:") else self._videos if urn.startswith("urn:li:video:") else None
        asset = store.get(urn) if store is not None else None
        if asset is None:
            raise ApiError(400, "ILLEGAL_ARGUMENT", f"content.media.id {urn} does not exist", 100)
        if "altText" in media and not urn.startswith("urn:li:image:"):
            raise ApiError(422, "UNPROCESSABLE_ENTITY", "content.media.altText applies to images only", 100)
        if asset["owner"] != author:
            raise ApiError(403, "ACCESS_DENIED", f"{urn} is owned by {asset['owner']}, not the author {author}", 100)
        if asset["status"] != "AVAILABLE":
            raise ApiError(400, "ILLEGAL_ARGUMENT", f"{urn} is not AVAILABLE yet (status {asset['status']})", 100)
        return urn

    def _h_posts_get(self, request: Request, body: bytes, truncated: bool, urn: str) -> Response:
        self._auth(request)
        with self._lock:
            post = self._posts.get(urn)
            if post is None:
                raise ApiError(404, "NOT_FOUND", f"Post {urn} does not exist", 100)
            return self._json(self._public_post(post))

    @staticmethod
    def _public_post(post: dict) -> dict:
        public = {k: copy.deepcopy(post[k]) for k in ("id", "author", "commentary", "visibility", "distribution",
                                                      "lifecycleState", "isReshareDisabledByAuthor", "createdAt")}
        if post["content"]:
            public["content"] = copy.deepcopy(post["content"])
        public["lastModifiedAt"] = post["createdAt"]
        public["publishedAt"] = post["createdAt"]
        return public

    def _h_posts_find(self, request: Request, body: bytes, truncated: bool, urn: None) -> Response:
        """Find posts by author: GET /rest/posts?q=author&author={URN}&sortBy=&start=&count=, newest
        first, as {paging: {start, count, links, total}, elements}. An organization's posts need an
        admin of it; a member's need the member's own token and r_member_social."""
        person = self._auth(request)
        args = request.args
        if args.get("q") != "author":
            raise ApiError(400, "ILLEGAL_ARGUMENT", f"unknown finder q={args.get('q')!r}; expected q=author", 100)
        author, sort_by = args.get("author", ""), args.get("sortBy", "LAST_MODIFIED")
        if sort_by not in FINDER_SORTS:
            raise ApiError(400, "ILLEGAL_ARGUMENT", f"sortBy must be one of {sorted(FINDER_SORTS)}", 100)
        try:
            start, count = int(args.get("start", "0")), int(args.get("count", "10"))
        except ValueError:
            raise ApiError(400, "ILLEGAL_ARGUMENT", "start and count must be integers", 100) from None
        if start < 0 or not 1 <= count <= FINDER_MAX_COUNT:
            raise ApiError(400, "ILLEGAL_ARGUMENT", f"start must be >= 0 and count 1..{FINDER_MAX_COUNT}", 100)
        with self._lock:
            self._may_act_as(person, author, "author")
            if author.startswith("urn:li:person:") and not self.member_post_reads:
                raise ApiError(403, "ACCESS_DENIED", "Not enough permissions to access: "
                               "partnerApiPostsExternal.FINDER-author (r_member_social)", 100)
            # Newest first; posts created in the same millisecond keep their creation order.
            ordered = [p for p in reversed(list(self._posts.values())) if p["author"] == author
                       and p["lifecycleState"] == "PUBLISHED"]
            ordered.sort(key=lambda p: p["createdAt"], reverse=True)
            page = [self._public_post(p) for p in ordered[start:start + count]]
        links = []
        if start + count < len(ordered):
            links.append({"type": "application/json", "rel": "next",
                          "href": f"/rest/posts?author={quote(author, safe='')}&count={count}&q=author&sortBy={sort_by}"
                                  f"&start={start + count}"})
        return self._json({"paging": {"start": start, "count": count, "links": links, "total": len(ordered)},
                           "elements": page})

    def _h_share_statistics(self, request: Request, body: bytes, truncated: bool, urn: None) -> Response:
        """Lifetime organic statistics of an organization's posts (no timeIntervals), for the URNs in
        shares=List(...) and ugcPosts=List(...), each URN URL-encoded inside the List (Rest.li 2.0).
        A URN LinkedIn has no statistics for (not this organization's, deleted, a draft, older than 12
        months) is left out of `elements`."""
        person = self._auth(request)
        args = request.args
        if args.get("q") != "organizationalEntity":
            raise ApiError(400, "ILLEGAL_ARGUMENT", f"unknown finder q={args.get('q')!r}; expected q=organizationalEntity",
                           100)
        organization = args.get("organizationalEntity", "")
        if not organization.startswith("urn:li:organization:"):
            raise ApiError(400, "ILLEGAL_ARGUMENT", "organizationalEntity must be an organization URN", 100)
        if "timeIntervals" in args:
            raise ApiError(400, "ILLEGAL_ARGUMENT", "the sandbox serves lifetime statistics only (no timeIntervals)", 100)
        raw_query = request.query_string.decode("ascii", "replace")
        if re.search(r"(shares|ugcPosts)=List\([^)]*urn:", raw_query):
            raise ApiError(400, "ILLEGAL_ARGUMENT", "URNs inside List(...) must be URL-encoded (urn%3Ali%3A...)", 100)
        wanted: list[tuple[str, str]] = []
        for param, kind in (("shares", "share"), ("ugcPosts", "ugcPost")):
            if param not in args:
                continue
            listed = _LIST_PARAM.match(args[param])
            if not listed:
                raise ApiError(400, "ILLEGAL_ARGUMENT", f"{param} must be List(urn,...) (Rest.li 2.0)", 100)
            for item in filter(None, listed.group(1).split(",")):
                if not item.startswith(f"urn:li:{kind}:"):
                    raise ApiError(400, "ILLEGAL_ARGUMENT", f"{param} takes urn:li:{kind} URNs, got {item}", 100)
                wanted.append((kind, item))
        if len(wanted) > SHARE_STATISTICS_MAX_URNS:
            raise ApiError(400, "ILLEGAL_ARGUMENT", f"at most {SHARE_STATISTICS_MAX_URNS} share and ugcPost URNs per "
                           f"request, got {len(wanted)}", 100)
        with self._lock:
            if organization not in self._members.get(person, {}).get("organizations", set()):
                raise ApiError(403, "ACCESS_DENIED", f"Not enough permissions to access organizationalEntityShareStatistics "
                               f"of {organization} (rw_organization_admin, ADMINISTRATOR role)", 100)
            elements = []
            for kind, post_urn in dict.fromkeys(wanted):
                post = self._posts.get(post_urn)
                if (post is None or post["author"] != organization or post["lifecycleState"] != "PUBLISHED"
                        or self._clock() - post["createdAt"] / 1000 > SHARE_STATISTICS_WINDOW):
                    continue
                elements.append({"totalShareStatistics": self._share_statistics(post), kind: post_urn,
                                 "organizationalEntity": organization})
        return self._json({"paging": {"start": 0, "count": len(elements), "links": []}, "elements": elements})

    def _h_posts_delete(self, request: Request, body: bytes, truncated: bool, urn: str) -> Response:
        person = self._auth(request)
        with self._lock:
            self._owned(person, self._posts, urn, "Post", owner="author")
            del self._posts[urn]
        return Response(b"", status=204)

    # ---- images ----
    def _h_images_init(self, request: Request, body: bytes, truncated: bool, urn: None) -> Response:
        person = self._auth(request)
        req = self._json_body(body).get("initializeUploadRequest")
        if not isinstance(req, dict) or set(req) - {"owner", "mediaLibraryMetadata"}:
            raise ApiError(422, "UNPROCESSABLE_ENTITY", "body must be {initializeUploadRequest: {owner}}", 100)
        with self._lock:
            owner = self._may_act_as(person, req.get("owner"), "initializeUploadRequest.owner")
            image_urn = "urn:li:image:" + _asset_id("D4E10AQ")
            token = secrets.token_urlsafe(16)
            self._images[image_urn] = {"id": image_urn, "owner": owner, "status": "WAITING_UPLOAD", "bytes": 0,
                                       "_token": token, "_checks": 0}
        expires = int((self._clock() + 86400) * 1000)
        url = f"{self._base_url}/dms-uploads/image/{quote(image_urn, safe='')}?ut={token}"
        return self._json({"value": {"uploadUrlExpiresAt": expires, "uploadUrl": url, "image": image_urn}})

    def _h_image_upload(self, request: Request, body: bytes, truncated: bool, key: str) -> Response:
        person = self._auth(request)  # the image upload URL takes the member's Bearer token too
        image_urn = unquote(key)
        with self._lock:
            image = self._images.get(image_urn)
            if image is None or not secrets.compare_digest(request.args.get("ut", "").encode(), image["_token"].encode()):
                raise ApiError(400, "ILLEGAL_ARGUMENT", "unknown upload URL", 100)
            self._may_act_as(person, image["owner"], "image owner")
            if image["status"] != "WAITING_UPLOAD":
                raise ApiError(409, "CONFLICT", f"{image_urn} was already uploaded", 100)
            if truncated or not body or (request.content_length is not None and len(body) != request.content_length):
                raise ApiError(400, "ILLEGAL_ARGUMENT", "the image bytes are missing or incomplete", 100)
            if not (body.startswith(b"\xff\xd8") or body.startswith(b"\x89PNG") or body.startswith(b"GIF8")):
                raise ApiError(400, "ILLEGAL_ARGUMENT", "the upload is not a JPEG, PNG or GIF image", 100)
            image["bytes"], image["status"] = len(body), "PROCESSING"
        return Response(b"", status=201)

    def _h_images_get(self, request: Request, body: bytes, truncated: bool, urn: str) -> Response:
        image = self._checked_asset(request, self._images, urn, "Image", "images_get")
        return self._json({"id": urn, "owner": image["owner"], "status": image["status"],
                           "downloadUrl": f"https://media.licdn.com/dms/image/sandbox/{urn.rsplit(':', 1)[-1]}"})

    def _checked_asset(self, request: Request, assets: dict[str, dict], urn: str, kind: str, endpoint: str) -> dict:
        """GET of an image or video: the member's asset after one more status check (a copy)."""
        person = self._auth(request)
        with self._lock:
            asset = self._owned(person, assets, urn, kind)
            self._advance(asset, endpoint)
            return dict(asset)

    def _advance(self, asset: dict, endpoint: str) -> None:
        if asset["status"] != "PROCESSING":
            return
        asset["_checks"] += 1
        if asset["_checks"] > self.status_checks_before_available:
            if self._processing_failures[endpoint] > 0:
                self._processing_failures[endpoint] -= 1
                asset["status"] = "PROCESSING_FAILED"
                asset["processingFailureReason"] = "INVALID_MEDIA"
            else:
                asset["status"] = "AVAILABLE"

    # ---- videos ----
    def _h_videos_init(self, request: Request, body: bytes, truncated: bool, urn: None) -> Response:
        person = self._auth(request)
        req = self._json_body(body).get("initializeUploadRequest")
        if not isinstance(req, dict):
            raise ApiError(422, "UNPROCESSABLE_ENTITY", "body must be {initializeUploadRequest: {...}}", 100)
        unknown = set(req) - {"owner", "fileSizeBytes", "uploadCaptions", "uploadThumbnail", "purpose", "mediaLibraryMetadata"}
        if unknown:
            raise ApiError(422, "UNPROCESSABLE_ENTITY", f"Unrecognized field(s): {sorted(unknown)}", 100)
        size = req.get("fileSizeBytes")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ApiError(422, "UNPROCESSABLE_ENTITY", "initializeUploadRequest.fileSizeBytes must be a positive integer", 100)
        for flag in ("uploadCaptions", "uploadThumbnail"):
            if not isinstance(req.get(flag), bool):
                raise ApiError(422, "UNPROCESSABLE_ENTITY", f"initializeUploadRequest.{flag} must be a boolean", 100)
        with self._lock:
            owner = self._may_act_as(person, req.get("owner"), "initializeUploadRequest.owner")
            video_urn = "urn:li:video:" + _asset_id("D5F10AQ")
            token = secrets.token_urlsafe(12)
            parts = []
            for index, first in enumerate(range(0, size, self.part_bytes)):
                last, ut = min(first + self.part_bytes, size) - 1, secrets.token_urlsafe(10)
                parts.append({"firstByte": first, "lastByte": last, "_ut": ut,
                              "uploadUrl": f"{self._base_url}/dms-uploads/video/{quote(video_urn, safe='')}/{index}?ut={ut}"})
            self._videos[video_urn] = {"id": video_urn, "owner": owner, "status": "WAITING_UPLOAD", "fileSizeBytes": size,
                                       "parts_received": 0, "_token": token, "_parts": parts, "_etags": {}, "_checks": 0}
        expires = int((self._clock() + 86400) * 1000)
        value = {"uploadUrlsExpireAt": expires, "video": video_urn, "uploadToken": token,
                 "uploadInstructions": [{k: p[k] for k in ("uploadUrl", "firstByte", "lastByte")} for p in parts]}
        return self._json({"value": value})

    def _h_video_upload(self, request: Request, body: bytes, truncated: bool, key: str) -> Response:
        encoded, _, index_text = key.rpartition("/")
        video_urn = unquote(encoded)
        with self._lock:
            video = self._videos.get(video_urn)
            part = None
            if video is not None and index_text.isdigit() and int(index_text) < len(video["_parts"]):
                part = video["_parts"][int(index_text)]
            if part is None or not secrets.compare_digest(request.args.get("ut", "").encode(), part["_ut"].encode()):
                raise ApiError(400, "ILLEGAL_ARGUMENT", "unknown upload URL (use each uploadUrl exactly as given)", 100)
            if video["status"] != "WAITING_UPLOAD":
                raise ApiError(409, "CONFLICT", f"{video_urn} is already finalized", 100)
            if request.mimetype != "application/octet-stream":
                raise ApiError(400, "ILLEGAL_ARGUMENT", "Content-Type must be application/octet-stream", 100)
            expected = part["lastByte"] - part["firstByte"] + 1
            if truncated or len(body) != expected:
                raise ApiError(400, "ILLEGAL_ARGUMENT",
                               f"part {index_text} must be bytes {part['firstByte']}-{part['lastByte']} "
                               f"({expected} bytes), got {len(body)}", 100)
            etag = "/" + secrets.token_urlsafe(24)
            if int(index_text) not in video["_etags"]:
                video["parts_received"] += 1
            # Every complete upload of a part is a valid copy of those bytes: a re-sent part (say,
            # after a timeout) may land before or after the first, and either ETag finalizes it.
            video["_etags"].setdefault(int(index_text), []).append(etag)
        response = Response(b"", status=200, headers={"ETag": etag})
        response.sandbox_code = None
        return response

    def _h_videos_finalize(self, request: Request, body: bytes, truncated: bool, urn: None) -> Response:
        person = self._auth(request)
        req = self._json_body(body).get("finalizeUploadRequest")
        if not isinstance(req, dict) or set(req) != {"video", "uploadToken", "uploadedPartIds"}:
            raise ApiError(422, "UNPROCESSABLE_ENTITY",
                           "body must be {finalizeUploadRequest: {video, uploadToken, uploadedPartIds}}", 100)
        with self._lock:
            video = self._owned(person, self._videos, req["video"], "Video")
            if req["uploadToken"] != video["_token"]:
                raise ApiError(400, "ILLEGAL_ARGUMENT", "uploadToken does not match the video", 100)
            issued = [video["_etags"].get(i) for i in range(len(video["_parts"]))]
            if None in issued:
                raise ApiError(400, "ILLEGAL_ARGUMENT", "not every part has been uploaded", 100)
            listed = req["uploadedPartIds"]
            if not isinstance(listed, list) or len(listed) != len(issued) or any(
                    etag not in etags for etag, etags in zip(listed, issued)):
                raise ApiError(400, "ILLEGAL_ARGUMENT", "uploadedPartIds must list each part's ETag in order", 100)
            if video["status"] == "WAITING_UPLOAD":
                video["status"] = "PROCESSING"
        return Response(b"", status=200)

    def _h_videos_get(self, request: Request, body: bytes, truncated: bool, urn: str) -> Response:
        video = self._checked_asset(request, self._videos, urn, "Video", "videos_get")
        out = {"id": urn, "owner": video["owner"], "status": video["status"], "duration": 15000,
               "aspectRatioWidth": 16.0, "aspectRatioHeight": 9.0}
        if video["status"] == "PROCESSING_FAILED":
            out["processingFailureReason"] = video["processingFailureReason"]
        return self._json(out)

    # ---- OAuth ----
    def _h_token(self, request: Request, body: bytes, truncated: bool, urn: None) -> Response:
        form = form_fields(request, body, lambda message: ApiError(400, "invalid_request", message))
        if form.get("grant_type") == "authorization_code":
            return self._authorization_code(form)
        if form.get("grant_type") != "refresh_token":
            raise ApiError(400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        if not client_id or not client_secret:
            raise ApiError(401, "invalid_client", "client_id and client_secret are required")
        if self._clients is not None and not secrets.compare_digest(self._clients.get(client_id, "").encode(),
                                                                     client_secret.encode()):
            raise ApiError(401, "invalid_client", "Client authentication failed")
        with self._lock:
            grant = self._refresh.get(form.get("refresh_token", ""))
            now = self._clock()
            if grant is None or grant["expires_at"] <= now:
                raise ApiError(400, "invalid_request", "The provided refresh token is invalid, expired or revoked")
            if grant["client_id"] and grant["client_id"] != client_id:
                raise ApiError(400, "invalid_request", "The refresh token was issued to another client")
            access = "AQV" + secrets.token_urlsafe(40)
            self._tokens[access] = grant["person"]
            refresh = form["refresh_token"]
            if self.rotate_refresh_tokens:
                del self._refresh[refresh]
                refresh = "AQX" + secrets.token_urlsafe(40)
                self._refresh[refresh] = grant
            # The refresh token's lifetime counts from the first authorization; it never slides.
            out = {"access_token": access, "expires_in": self.access_token_ttl, "refresh_token": refresh,
                   "refresh_token_expires_in": int(grant["expires_at"] - now), "scope": "w_member_social,w_organization_social"}
        return self._json(out)

    def _authorization_code(self, form: dict) -> Response:
        grant = self.oauth.redeem_form(form, lambda r: ApiError(r.status, r.error, r.description), verifier=False)
        person = grant["user"]
        with self._lock:
            access = "AQV" + secrets.token_urlsafe(40)
            self._tokens[access] = person
            out = {"access_token": access, "expires_in": self.access_token_ttl, "scope": ",".join(grant["scopes"])}
            # Programmatic refresh tokens only for approved partners (docs/platforms.md#linkedin-tokens);
            # the sandbox issues one.
            refresh = "AQX" + secrets.token_urlsafe(40)
            self._refresh[refresh] = {"person": person, "client_id": form.get("client_id"),
                                      "expires_at": self._clock() + self.refresh_token_ttl}
            out.update(refresh_token=refresh, refresh_token_expires_in=self.refresh_token_ttl)
        return self._json(out)

    def _h_authorize(self, request: Request, body: bytes, truncated: bool, urn: None) -> Response:
        return self.oauth.authorize_page(request.args.to_dict())

    def _h_userinfo(self, request: Request, body: bytes, truncated: bool, urn: None) -> Response:
        """GET /v2/userinfo (OpenID Connect): the member the token acts for."""
        person = self._auth(request)
        member_id = person.rsplit(":", 1)[-1]
        name = f"Sandbox Member {member_id[:4]}"
        given, _, family = name.rpartition(" ")
        return self._json({"sub": member_id, "name": name, "given_name": given, "family_name": family,
                           "picture": f"https://media.licdn.com/sandbox/{member_id}.jpg",
                           "locale": {"country": "US", "language": "en"}})


def _endpoint(name: str, urn: str | None) -> Route:
    return Route(name, args={"urn": urn})


def main(argv: list[str] | None = None) -> int:
    def build(args) -> LinkedInSandbox:
        sandbox = LinkedInSandbox(args.host, args.port)
        accounts.extend(sandbox.add_account(token, organization_id="auto") for token in args.token)
        return sandbox

    accounts: list[dict] = []
    return serve(argv, description="LinkedIn Posts API sandbox", port=9105, build=build,
                 ready=lambda sandbox: {"accounts": accounts})


if __name__ == "__main__":
    sys.exit(main())
