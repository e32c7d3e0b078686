"""Contract-faithful X API v2 sandbox (docs/platforms.md#x).

Real HTTP on localhost so the real client is exercised end to end: bearer auth, the dedicated
v2 chunked media upload (initialize / {id}/append / {id}/finalize / STATUS), POST /2/tweets with
weighted character counting and X's duplicate-content refusal, the user's post timeline
(GET /2/users/:id/tweets) and GET /2/users/me, x-rate-limit-* headers on every answer, 429s from
a real 100-posts-per-15-minutes window per user, the 24-hour user and app caps with their
x-user-limit-24hour-* / x-app-limit-24hour-* headers, RFC 7807 problem bodies, and OAuth 2.0
refresh with single-use rotating refresh tokens. Media processing advances per STATUS request,
never on the wall clock. Token values are never logged or exposed in state snapshots.

Posts come back the way X gives them back: URLs rewritten to t.co links (the original in
entities.urls[].expanded_url), a post with media ending in a t.co link to it (a url entity with
its media_key), and &, <, > as HTML entities. Post ids grow with time, like snowflakes.

Character counting uses twitter-text (config v3), X's own open-source counting library, in its
Python port (PyPI twitter-text-parser).
"""
from __future__ import annotations

import base64
import binascii
import calendar
import collections
import copy
import hashlib
import io
import json
import re
import secrets
import sys
import time
import unicodedata
from collections.abc import Callable
from typing import Any

from twitter_text import extract_urls_with_indices, parse_tweet
from werkzeug.wrappers import Request, Response

from infra.local.sandboxes.base import (
    Call,
    Route,
    Sandbox,
    bearer_token,
    form_fields,
    json_object,
    lost_answer,
    refuse_unknown,
    serve,
    snapshot,
)
from infra.local.sandboxes.engagement import engagement
from infra.local.sandboxes.server import AUTHORIZE_REQUIRED, AuthorizationServer, OAuthRefusal

MiB = 1024 * 1024
MAX_TOTAL_BYTES = 17_179_869_184
MAX_SEGMENT_BYTES = 5 * MiB  # per APPEND (v1.1 documented 5 MB; the v2 maximum is unverified)
MAX_SEGMENT_INDEX = 999
MAX_WEIGHTED_LENGTH = 280
# media_category -> (accepted MIME types, max total bytes, needs async processing)
CATEGORIES = {
    "tweet_image": ({"image/jpeg", "image/png", "image/webp"}, 5 * MiB, False),
    "tweet_gif": ({"image/gif"}, 15 * MiB, True),
    "tweet_video": ({"video/mp4", "video/quicktime"}, 512 * MiB, True),
    "amplify_video": ({"video/mp4", "video/quicktime"}, 512 * MiB, True),
}
OTHER_CATEGORIES = {"dm_image", "dm_gif", "dm_video", "subtitles"}
CREATE_FIELDS = {"text", "media", "reply", "quote_tweet_id", "poll", "reply_settings", "made_with_ai",
               "paid_partnership", "community_id", "share_with_followers", "nullcast", "edit_options",
               "for_super_followers_only", "geo", "direct_message_deep_link"}
# endpoint -> (requests per 15-minute window per user) [docs.x.com/x-api/fundamentals/rate-limits]
RATE_LIMITS = {"create_post": 100, "get_post": 900, "media_initialize": 1875, "media_append": 1875,
               "media_finalize": 1875, "media_status": 1000, "user_posts": 900, "users_me": 75,
               "posts_lookup": 5000}  # GET /2/tweets: 5,000 per 15 min per user (docs/platforms.md#x-limits)
# GET /2/tweets?ids= takes 1..100 ids (docs/platforms.md#x-analytics) [github.com/xdevplatform/docs openapi.json]
LOOKUP_MAX_IDS = 100
# X's OpenAPI document 2.167 (https://api.x.com/2/openapi.json, Aug 2026) renamed the post field
# selection `tweet.fields` to `post.fields` on GET /2/tweets, /2/tweets/:id and /2/users/:id/tweets;
# the old name is no longer a parameter of those operations, so it is refused like any unknown one.
FIELDS_PARAM = "post.fields"
FIELD_PARAMS = {FIELDS_PARAM, "expansions", "media.fields", "poll.fields", "user.fields", "place.fields"}
LOOKUP_PARAMS = {"ids"} | FIELD_PARAMS
RATE_WINDOW = 900.0
DAY = 86400.0
APP_DAILY_POSTS = 10_000  # POST /2/tweets per 24 h per app [docs.x.com/x-api/fundamentals/rate-limits]
ENDPOINTS = set(RATE_LIMITS) | {"token", "authorize"}
# OAuth 2.0 Authorization Code Flow with PKCE: authorize at x.com/i/oauth2/authorize (PKCE required,
# S256 or plain), exchange at POST /2/oauth2/token (confidential clients: HTTP Basic), refresh token
# only with offline.access [docs.x.com/fundamentals/authentication/oauth-2-0/user-access-token,
# .../authorization-code]. The code is short-lived; 30 s per the user-access-token guide (unverified here).
AUTHORIZATION_CODE_TTL = 30.0
FAULT_KINDS = {"rate_limit", "server_error", "error", "slow", "fail_processing", "lost_response"}
PROBLEM = "https://api.x.com/2/problems/"  # problem types moved from api.twitter.com in OpenAPI 2.167
# GET /2/users/:id/tweets [docs.x.com/x-api/posts/user-posts-timeline-by-user-id]
TIMELINE_MAX_POSTS = 3200  # only the most recent 3,200 posts are reachable
TIMELINE_PARAMS = {"since_id", "until_id", "max_results", "pagination_token", "exclude", "start_time", "end_time"} | FIELD_PARAMS
# The post.fields and expansions enums of OpenAPI 2.167 (author_id is an expansion only now).
POST_FIELDS = {"article", "article_title", "attachments", "card_uri", "community_id", "context_annotations",
               "conversation_id", "created_at", "display_text_range", "edit_controls", "entities", "geo", "id", "lang",
               "matched_media_notes", "media_metadata", "non_public_metrics", "note_post", "note_request_suggestions",
               "organic_metrics", "paid_partnership", "possibly_sensitive", "promoted_metrics", "public_metrics",
               "reply_settings", "scopes", "source", "suggested_source_links", "suggested_source_links_with_counts",
               "text", "withheld"}
EXPANSIONS = {"article.cover_media", "article.media_entities", "attachments.media_keys", "attachments.media_source_tweet",
              "attachments.poll_ids", "author_id", "edit_history_post_ids", "entities.mentions.username",
              "geo.place_id", "in_reply_to_user_id", "referenced_posts", "username"}
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")  # second granularity; no milliseconds
_MEDIA_PATH = re.compile(r"^/2/media/upload/(\d+)/(append|finalize)$")
_TWEET_PATH = re.compile(r"^/2/tweets/(\d+)$")
_USER_POSTS_PATH = re.compile(r"^/2/users/(\d+)/tweets$")
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class ApiError(Exception):
    """An RFC 7807 problem (or, for the token endpoint, an OAuth error)."""

    def __init__(self, status: int, title: str, detail: str, type_: str = "about:blank",
                 errors: list | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.type = status, title, detail, type_
        self.errors, self.headers = errors, headers or {}


def _invalid(detail: str, parameter: str | None = None) -> ApiError:
    errors = [{"parameters": {parameter: []} if parameter else {}, "message": detail}]
    return ApiError(400, "Invalid Request", "One or more parameters to your request was invalid.",
                    PROBLEM + "invalid-request", errors=errors)


def _unknown_parameter(name: str, allowed: set[str]) -> ApiError:
    return _invalid(f"The query parameter [{name}] is not one of {sorted(allowed)}", name)


def _check_list(args: Any, name: str, allowed: set[str]) -> set[str]:
    """A comma-separated list parameter whose values must come from `allowed`."""
    values = [v for v in args.get(name, "").split(",") if v]
    bad = [v for v in values if v not in allowed]
    if bad:
        raise _invalid(f"The `{name}` query parameter value [{bad[0]}] is not one of {sorted(allowed)}", name)
    return set(values)


def _field_selection(args: Any) -> tuple[set[str], set[str]]:
    """(post.fields, expansions) asked for, each checked against the document's enum."""
    return _check_list(args, FIELDS_PARAM, POST_FIELDS), _check_list(args, "expansions", EXPANSIONS)


def _snowflake() -> str:
    return str(1_800_000_000_000_000_000 + secrets.randbelow(10**17))


def _tco() -> str:
    return "https://t.co/" + "".join(secrets.choice(_ALNUM) for _ in range(10))


def _display(url: str) -> str:
    shown = url.split("://", 1)[-1]
    return shown if len(shown) <= 26 else shown[:25] + "\u2026"


def render_text(text: str, media_keys: list[str], status_url: str) -> tuple[str, list[dict]]:
    """(text, entities.urls) as X returns a post: each URL replaced by a t.co link, one t.co link to
    the media appended (one url entity per media item, each with its media_key), &, < and >
    escaped; start/end are offsets in the returned text."""
    parts, entities, last = [], [], 0
    for found in extract_urls_with_indices(text):
        start, end = found["indices"]
        short, original = _tco(), found["url"]
        parts += [text[last:start], short]
        last = end
        entities.append({"url": short, "expanded_url": original if "://" in original else f"http://{original}"})
    rendered = "".join(parts) + text[last:]
    if media_keys:
        short = _tco()
        rendered = f"{rendered} {short}"
        kind = "video" if media_keys[0].startswith("13_") else "photo"  # X links a GIF as a photo
        entities += [{"url": short, "expanded_url": f"{status_url}/{kind}/{i}", "media_key": key,
                      "display_url": "pic.x.com/" + short.rsplit("/", 1)[-1]} for i, key in enumerate(media_keys, 1)]
    rendered = rendered.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for entity in entities:
        entity.setdefault("display_url", _display(entity["expanded_url"]))
        entity["start"] = rendered.index(entity["url"])
        entity["end"] = entity["start"] + len(entity["url"])
    return rendered, entities


class XSandbox(Sandbox):
    _thread_name = "x-sandbox"
    ENDPOINTS, FAULT_KINDS, error_type = ENDPOINTS, FAULT_KINDS, ApiError
    log_code_key, dropped_code = "error", "connection dropped"
    handler_faults, metrics_endpoint = {"fail_processing": "fail_processing"}, "posts_lookup"
    contract_host = "api.x.com"  # the host the document serves (servers[0].url)

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, enforce_rate_limits: bool = True,
                 posts_per_window: int = 100, user_daily_cap: int | None = None,
                 app_daily_cap: int | None = None,
                 status_checks_before_succeeded: int = 1, check_after_secs: int = 1,
                 clients: dict[str, str] | None = None, max_segment_bytes: int = MAX_SEGMENT_BYTES,
                 clock: Callable[[], float] = time.time):
        super().__init__(host, port, clock=clock, clients=clients)
        self.enforce_rate_limits = enforce_rate_limits
        self.posts_per_window = posts_per_window
        self.user_daily_cap = user_daily_cap          # None: no 24 h user cap headers
        self.app_daily_cap = app_daily_cap            # None: no 24 h app cap headers (APP_DAILY_POSTS is X's)
        self.status_checks_before_succeeded = status_checks_before_succeeded
        self.check_after_secs = check_after_secs
        self.max_segment_bytes = max_segment_bytes
        self._tokens: dict[str, str] = {}             # access token -> user id
        self._refresh: dict[str, tuple[str, str | None]] = {}  # refresh token -> (user id, client id)
        self._users: dict[str, dict] = {}             # user id -> {id, username}
        self.oauth = AuthorizationServer(code_ttl=AUTHORIZATION_CODE_TTL, pkce="required", clock=clock)
        self.reset()

    def _clear_state(self) -> None:
        self._posts: dict[str, dict] = {}
        self._media: dict[str, dict] = {}
        self._windows: dict[tuple[str, str], collections.deque] = collections.defaultdict(collections.deque)
        self._daily: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._app_daily: collections.deque = collections.deque()
        self._last_post_id = int(_snowflake())

    # ---- Python control API ----
    def add_account(self, access_token: str, refresh_token: str | None = None, *, username: str | None = None,
                    user_id: str | None = None, client_id: str | None = None) -> dict:
        """Register a user and its tokens; returns {"user_id", "username"} (the platform's ids).
        `client_id`: the app the refresh token was issued to (None: any client may refresh it)."""
        with self._lock:
            existing = self._tokens.get(access_token)
            uid = user_id or existing or next((u["id"] for u in self._users.values()
                                               if username and u["username"] == username), None) or _snowflake()
            user = self._users.setdefault(uid, {"id": uid, "username": username or f"sandbox_user_{len(self._users) + 1}"})
            if username:
                user["username"] = username
            self._tokens[access_token] = uid
            if refresh_token:
                self._refresh[refresh_token] = (uid, client_id)
            return {"user_id": uid, "username": user["username"]}

    # ---- metrics (GET /2/tweets?ids=&post.fields=public_metrics) ----
    def add_post(self, access_token: str, text: str | None = None, *, age_seconds: float = 0.0) -> str:
        """A text post the token's user made `age_seconds` ago; returns its id. Its public_metrics
        grow with the sandbox clock from then on."""
        with self._lock:
            user = self._tokens[access_token]
            text = text if text is not None else f"sandbox post {len(self._posts) + 1}"
            return self._store_post(user, text, [], [], parse_tweet(text).weightedLength, {},
                                    self._clock() - age_seconds)

    def delete_post(self, tweet_id: str) -> None:
        """The author deleted the post: lookups answer a Not Found Error for it."""
        with self._lock:
            self._posts.pop(str(tweet_id), None)

    def expire_token(self, access_token: str) -> None:
        """The access token stops working (as after its 2 h lifetime): the next call gets a 401."""
        with self._lock:
            self._tokens.pop(access_token, None)

    def revoke_authorization(self, user_id: str) -> None:
        """The user revoked the app: every access and refresh token of theirs stops working."""
        with self._lock:
            for token in [t for t, uid in self._tokens.items() if uid == user_id]:
                del self._tokens[token]
            for token in [t for t, entry in self._refresh.items() if entry[0] == user_id]:
                del self._refresh[token]

    def _fault(self, endpoint: str, kind: str, params: dict) -> dict:
        """rate_limit (429 with headers; reset_in=seconds, default 0; daily=True for the 24 h user cap,
        daily="app" for the app's), server_error (503), error (http_status=, title=, detail=, type=),
        fail_processing (endpoint media_finalize; the media ends `failed`; message= is kept
        in the sandbox only: X's v2 answer gives no reason),
        lost_response: the request is carried out (a post is stored), then the caller gets what X
        answers on an internal error, 503 Service Unavailable (http_status= to change it), or with
        how="drop" no answer at all (the connection is closed)."""
        if kind == "error" and not {"http_status", "detail"} <= params.keys():
            raise ValueError("error faults need http_status=... and detail=...")
        if kind == "fail_processing" and endpoint != "media_finalize":
            raise ValueError("fail_processing applies to endpoint='media_finalize'")
        if kind == "lost_response":
            lost_answer(params, "how", {"error": "error", "drop": "drop"}, "error",
                        "lost_response takes how='error' (X's 5xx) or how='drop' (no answer)")
        return {"kind": kind, **params}

    posts = snapshot("_posts", private=True)
    media = snapshot("_media")

    # ---- request plumbing ----
    def _route(self, call: Call) -> Route:
        path, method = call.request.path, call.request.method
        if path == "/2/tweets":
            return Route("posts_lookup", "GET") if method == "GET" else Route("create_post", "POST")
        if m := _TWEET_PATH.match(path):
            return Route("get_post", "GET", {"tweet_id": m.group(1)})
        if m := _USER_POSTS_PATH.match(path):
            return Route("user_posts", "GET", {"author_id": m.group(1)})
        if path == "/2/users/me":
            return Route("users_me", "GET")
        if path == "/2/media/upload/initialize":
            return Route("media_initialize", "POST")
        if m := _MEDIA_PATH.match(path):
            return Route("media_" + m.group(2), "POST", {"media_id": m.group(1)})
        if path == "/2/media/upload":
            return Route("media_status", "GET")
        if path == "/2/oauth2/token":
            return Route("token", "POST")
        if path == "/i/oauth2/authorize":  # x.com in production; one host here
            return Route("authorize", "GET")
        raise ApiError(404, "Not Found", f"no such endpoint: {path}")

    def _wrong_method(self, call: Call, expected: str) -> ApiError:
        if call.endpoint == "media_status" and call.request.method == "POST":
            return _invalid("command-style uploads (command=INIT|APPEND|FINALIZE) are retired: use "
                            "/2/media/upload/initialize, /2/media/upload/{id}/append, /2/media/upload/{id}/finalize",
                            "command")
        return ApiError(405, "Method Not Allowed", f"{call.request.path} expects {expected}")

    def _admit(self, call: Call) -> None:
        call.args["user"] = None if call.endpoint in ("token", "authorize") else self._auth(call.request)

    def _before_handler(self, call: Call) -> None:
        if call.endpoint not in ("token", "authorize"):
            self._count_request(call.args["user"], call.endpoint)

    def _finish_answer(self, call: Call, response: Response) -> None:
        user = call.args.get("user")
        if user is not None and call.endpoint in RATE_LIMITS:
            for k, v in self._rate_headers(user, call.endpoint).items():
                response.headers.setdefault(k, v)

    def _crash(self) -> ApiError:
        return ApiError(500, "Internal Server Error", "sandbox crashed")

    def _fault_error(self, call: Call, fault: dict) -> ApiError:
        endpoint = call.endpoint
        if fault["kind"] == "rate_limit":
            reset = int(self._clock() + float(fault.get("reset_in", 0)))
            if fault.get("daily") == "app":  # the 15-minute headers look healthy on this one
                headers = {"x-app-limit-24hour-limit": str(self.app_daily_cap or APP_DAILY_POSTS),
                           "x-app-limit-24hour-remaining": "0", "x-app-limit-24hour-reset": str(reset)}
                return ApiError(429, "Too Many Requests", "Too Many Requests", headers=headers)
            if fault.get("daily"):
                headers = {"x-user-limit-24hour-limit": str(self.user_daily_cap or 0),
                           "x-user-limit-24hour-remaining": "0", "x-user-limit-24hour-reset": str(reset)}
                return ApiError(429, "UsageCapExceeded", "Usage cap exceeded: Daily user limit",
                                PROBLEM + "usage-capped", headers=headers)
            headers = {"x-rate-limit-limit": str(RATE_LIMITS.get(endpoint, 0)), "x-rate-limit-remaining": "0",
                       "x-rate-limit-reset": str(reset)}
            return ApiError(429, "Too Many Requests", "Too Many Requests", headers=headers)
        if fault["kind"] == "server_error":
            return ApiError(503, "Service Unavailable", "Service Unavailable")
        if fault["kind"] == "lost_response":  # X's answer on an internal error
            status = int(fault.get("http_status", 503))
            title = "Service Unavailable" if status == 503 else "Internal Server Error"
            return ApiError(status, title, title)
        return ApiError(int(fault["http_status"]), str(fault.get("title", "Forbidden")), str(fault["detail"]),
                        str(fault.get("type", "about:blank")))

    def _error(self, call: Call, e: ApiError) -> Response:
        endpoint = call.endpoint
        if endpoint == "token":  # OAuth endpoints answer with the OAuth error struct
            body: dict = {"error": e.title, "error_description": e.detail}
        else:
            body = {"title": e.title, "detail": e.detail, "type": e.type, "status": e.status}
            if e.errors:
                body["errors"] = e.errors
        response = Response(json.dumps(body), status=e.status, headers=e.headers,
                            mimetype="application/json" if endpoint == "token" else "application/problem+json")
        response.sandbox_code = e.title if endpoint == "token" else (e.type if e.type != "about:blank" else e.title)
        return response

    @staticmethod
    def _json(data: Any, status: int = 200) -> Response:
        return Response(json.dumps(data), status=status, mimetype="application/json")

    def _auth(self, request: Request) -> str:
        token = bearer_token(request)
        with self._lock:
            user = self._tokens.get(token) if token else None
        if user is None:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        return user

    # ---- rate limits: a 15-minute window per user and endpoint, plus an optional 24 h post cap ----
    def _window(self, user: str, endpoint: str) -> collections.deque:
        window, now = self._windows[(user, endpoint)], self._clock()
        while window and now - window[0] >= RATE_WINDOW:
            window.popleft()
        return window

    def _limit(self, endpoint: str) -> int:
        return self.posts_per_window if endpoint == "create_post" else RATE_LIMITS[endpoint]

    def _rate_headers(self, user: str, endpoint: str) -> dict[str, str]:
        with self._lock:
            window = self._window(user, endpoint)
            limit = self._limit(endpoint)
            reset = int((window[0] if window else self._clock()) + RATE_WINDOW)
            headers = {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(max(limit - len(window), 0)),
                       "x-rate-limit-reset": str(reset)}
            if endpoint == "create_post" and self.user_daily_cap is not None:
                day = self._day(user)
                headers.update({"x-user-limit-24hour-limit": str(self.user_daily_cap),
                                "x-user-limit-24hour-remaining": str(max(self.user_daily_cap - len(day), 0)),
                                "x-user-limit-24hour-reset": str(int((day[0] if day else self._clock()) + DAY))})
            if endpoint == "create_post" and self.app_daily_cap is not None:
                day = self._app_day()
                headers.update({"x-app-limit-24hour-limit": str(self.app_daily_cap),
                                "x-app-limit-24hour-remaining": str(max(self.app_daily_cap - len(day), 0)),
                                "x-app-limit-24hour-reset": str(int((day[0] if day else self._clock()) + DAY))})
            return headers

    def _day(self, user: str) -> collections.deque:
        day, now = self._daily[user], self._clock()
        while day and now - day[0] >= DAY:
            day.popleft()
        return day

    def _app_day(self) -> collections.deque:
        day, now = self._app_daily, self._clock()
        while day and now - day[0] >= DAY:
            day.popleft()
        return day

    def _count_request(self, user: str, endpoint: str) -> None:
        if not self.enforce_rate_limits:
            return
        with self._lock:
            window = self._window(user, endpoint)
            if len(window) >= self._limit(endpoint):
                raise ApiError(429, "Too Many Requests", "Too Many Requests",
                               headers=self._rate_headers(user, endpoint))
            if endpoint == "create_post" and self.user_daily_cap is not None:
                if len(self._day(user)) >= self.user_daily_cap:
                    raise ApiError(429, "UsageCapExceeded", "Usage cap exceeded: Daily user limit",
                                   PROBLEM + "usage-capped", headers=self._rate_headers(user, endpoint))
            if endpoint == "create_post" and self.app_daily_cap is not None:
                if len(self._app_day()) >= self.app_daily_cap:
                    # Only the x-app-limit-24hour-* headers say why: the 15-minute ones look healthy.
                    raise ApiError(429, "Too Many Requests", "Too Many Requests",
                                   headers=self._rate_headers(user, endpoint))
            window.append(self._clock())

    # ---- bodies ----
    @staticmethod
    def _json_body(request: Request, body: bytes) -> dict:
        if request.mimetype != "application/json":
            raise ApiError(415, "Unsupported Media Type", "Content-Type must be application/json")
        return json_object(body, _invalid)

    def _owned_media(self, media_id: str, user: str) -> dict:
        media = self._media.get(media_id)
        if media is None or media["_owner"] != user:
            raise ApiError(400, "Invalid Request", f"media id {media_id} is not valid for this user",
                           PROBLEM + "invalid-request", errors=[{"message": "Invalid media id", "parameters": {"media_id": [media_id]}}])
        return media

    # ---- media upload ----
    def _h_media_initialize(self, request: Request, body: bytes, truncated: bool, user: str) -> Response:
        form = self._json_body(request, body)
        total, media_type, category = form.get("total_bytes"), form.get("media_type"), form.get("media_category")
        if isinstance(total, bool) or not isinstance(total, int) or not 1 <= total <= MAX_TOTAL_BYTES:
            raise _invalid(f"total_bytes must be an integer in 1..{MAX_TOTAL_BYTES}", "total_bytes")
        if not isinstance(media_type, str) or "/" not in media_type:
            raise _invalid("media_type (a MIME type) is required", "media_type")
        if category not in CATEGORIES and category not in OTHER_CATEGORIES:
            raise _invalid(f"media_category must be one of {sorted(set(CATEGORIES) | OTHER_CATEGORIES)}", "media_category")
        unknown = set(form) - {"total_bytes", "media_type", "media_category", "additional_owners", "shared"}
        if unknown:
            raise _invalid(f"unknown fields: {sorted(unknown)}", sorted(unknown)[0])
        types, max_bytes, processing = CATEGORIES.get(category, (set(), MAX_TOTAL_BYTES, False))
        if types and media_type not in types:
            raise _invalid(f"media_type {media_type} is not accepted for {category} ({', '.join(sorted(types))})", "media_type")
        if total > max_bytes:
            raise _invalid(f"total_bytes {total} exceeds the {category} limit of {max_bytes} bytes", "total_bytes")
        media_id = _snowflake()
        key_prefix = {"tweet_image": "3", "tweet_gif": "16"}.get(category, "13")
        with self._lock:
            self._media[media_id] = {
                "id": media_id, "media_key": f"{key_prefix}_{media_id}", "media_type": media_type,
                "media_category": category, "total_bytes": total, "state": "uploading", "segments_received": 0,
                "status_checks": 0, "sha256": None, "_owner": user, "_segments": {}, "_processing": processing,
                "_fail": None}
        return self._json({"data": {"id": media_id, "media_key": f"{key_prefix}_{media_id}", "expires_after_secs": 86400}})

    def _h_media_append(self, request: Request, body: bytes, truncated: bool, user: str, media_id: str) -> Response:
        if truncated:
            raise _invalid("request body ended early")
        if request.mimetype == "multipart/form-data":
            # The body was already drained (see _read_body): parse the multipart form from the bytes.
            parsed = Request(dict(request.environ, **{"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}))
            index_raw = parsed.form.get("segment_index")
            upload = parsed.files.get("media")
            if upload is None:
                raise _invalid("the media part (binary file content) is required", "media")
            chunk = upload.read()
        elif request.mimetype == "application/json":
            form = self._json_body(request, body)
            index_raw = form.get("segment_index")
            try:
                chunk = base64.b64decode(form.get("media") or "", validate=True)
            except (binascii.Error, TypeError):
                raise _invalid("media must be base64 in a JSON body", "media") from None
        else:
            raise ApiError(415, "Unsupported Media Type", "append takes multipart/form-data (or JSON with base64 media)")
        try:
            index = int(str(index_raw))
        except ValueError:
            raise _invalid("segment_index is required and must be an integer", "segment_index") from None
        if not 0 <= index <= MAX_SEGMENT_INDEX:
            raise _invalid(f"segment_index must be between 0 and {MAX_SEGMENT_INDEX}", "segment_index")
        if not chunk:
            raise _invalid("the media part is empty", "media")
        if len(chunk) > self.max_segment_bytes:
            raise ApiError(413, "Payload Too Large", f"segment of {len(chunk)} bytes exceeds {self.max_segment_bytes} bytes")
        with self._lock:
            media = self._owned_media(media_id, user)
            if media["state"] != "uploading":
                raise _invalid(f"media {media_id} was already finalized", "media_id")
            media["_segments"][index] = chunk  # a re-sent segment replaces the earlier one
            media["segments_received"] = len(media["_segments"])
            if sum(len(c) for c in media["_segments"].values()) > media["total_bytes"]:
                raise _invalid("segments add up to more than total_bytes declared at initialize", "media")
        return self._json({"data": {"expires_at": int(self._clock() + 86400)}})

    def _h_media_finalize(self, request: Request, body: bytes, truncated: bool, user: str, media_id: str,
                          fail_processing: dict | None = None) -> Response:
        with self._lock:
            media = self._owned_media(media_id, user)
            if media["state"] == "uploading":
                indexes = sorted(media["_segments"])
                if indexes != list(range(len(indexes))) or not indexes:
                    raise _invalid(f"segments must be 0..n-1 without gaps; received {indexes}", "segment_index")
                data = b"".join(media["_segments"][i] for i in indexes)
                if len(data) != media["total_bytes"]:
                    raise _invalid(f"File size mismatch: received {len(data)} bytes, total_bytes was {media['total_bytes']}",
                                   "total_bytes")
                media["sha256"] = hashlib.sha256(data).hexdigest()
                media["size"] = len(data)
                media["_segments"] = {}
                media["state"] = "pending" if media["_processing"] else "succeeded"
                if fail_processing:
                    media["_fail"] = str(fail_processing.get("message", "Unsupported video format"))
            out = {"id": media_id, "media_key": media["media_key"], "size": media.get("size"),
                   "expires_after_secs": 86400}
            if media["_processing"]:
                out["processing_info"] = self._processing_info(media)
            return self._json({"data": out})

    def _processing_info(self, media: dict) -> dict:
        info: dict[str, Any] = {"state": media["state"]}
        if media["state"] in ("pending", "in_progress"):
            info["check_after_secs"] = self.check_after_secs
            info["progress_percent"] = 0 if media["state"] == "pending" else 50
        elif media["state"] == "failed":
            # OpenAPI 2.167 closes processing_info to state, check_after_secs and progress_percent: a
            # failed media says no reason (the v1.1 `error` object is not part of the v2 answer).
            info["progress_percent"] = 12
        else:
            info["progress_percent"] = 100
        return info

    def _h_media_status(self, request: Request, body: bytes, truncated: bool, user: str) -> Response:
        args = request.args
        if args.get("command") != "STATUS":
            raise _invalid("command must be STATUS", "command")
        media_id = args.get("media_id", "")
        with self._lock:
            media = self._owned_media(media_id, user)
            if media["state"] == "uploading":
                raise _invalid(f"media {media_id} has not been finalized", "media_id")
            if media["state"] in ("pending", "in_progress"):
                media["status_checks"] += 1
                if media["status_checks"] >= self.status_checks_before_succeeded:
                    media["state"] = "failed" if media["_fail"] else "succeeded"
                else:
                    media["state"] = "in_progress"
            return self._json({"data": {"id": media_id, "media_key": media["media_key"],
                                        "processing_info": self._processing_info(media)}})

    # ---- posts ----
    def _h_create_post(self, request: Request, body: bytes, truncated: bool, user: str) -> Response:
        form = self._json_body(request, body)
        unknown = set(form) - CREATE_FIELDS
        if unknown:
            raise _invalid(f"unknown fields: {sorted(unknown)}", sorted(unknown)[0])
        text = form.get("text", "")
        if not isinstance(text, str):
            raise _invalid("text must be a string", "text")
        media_ids: list[str] = []
        if "media" in form:
            media = form["media"]
            if not isinstance(media, dict) or set(media) - {"media_ids", "tagged_user_ids"}:
                raise _invalid("media must be an object with media_ids (and optional tagged_user_ids)", "media")
            media_ids = media.get("media_ids")
            if not isinstance(media_ids, list) or not 1 <= len(media_ids) <= 4 \
                    or not all(isinstance(m, str) and m.isdigit() for m in media_ids):
                raise _invalid("media.media_ids must be 1 to 4 numeric strings", "media.media_ids")
        if not text and not media_ids:
            raise _invalid("text or media is required", "text")
        text = unicodedata.normalize("NFC", text)
        weighted = parse_tweet(text).weightedLength
        if weighted > MAX_WEIGHTED_LENGTH:
            raise ApiError(400, "Invalid Request", "One or more parameters to your request was invalid.",
                           PROBLEM + "invalid-request",
                           errors=[{"parameters": {"text": [text[:40]]},
                                    "message": f"Your Tweet text is too long: weighted length {weighted} > {MAX_WEIGHTED_LENGTH}"}])
        with self._lock:
            kinds = []
            for mid in media_ids:
                media = self._owned_media(mid, user)
                if media["state"] != "succeeded":
                    raise _invalid(f"media {mid} is not ready (processing state {media['state']})", "media.media_ids")
                kinds.append(media["media_category"])
            if len(media_ids) > 1 and any(k != "tweet_image" for k in kinds):
                raise _invalid("a post takes up to 4 images, or 1 GIF, or 1 video", "media.media_ids")
            fingerprint = (text, tuple(media_ids))
            if any(p["author_id"] == user and (p["text"], tuple(p["media_ids"])) == fingerprint for p in self._posts.values()):
                raise ApiError(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
            if self.user_daily_cap is not None:
                self._day(user).append(self._clock())
            if self.app_daily_cap is not None:
                self._app_day().append(self._clock())
            tweet_id = self._store_post(user, text, media_ids, kinds, weighted,
                                        {k: v for k, v in form.items() if k not in ("text", "media")}, self._clock())
        return self._json({"data": {"id": tweet_id, "text": text, "edit_history_post_ids": [tweet_id]}}, status=201)

    def _store_post(self, user: str, text: str, media_ids: list[str], kinds: list[str], weighted: int,
                    other_fields: dict, now: float) -> str:
        # Snowflake ids grow with time: since_id / until_id and "newest first" rely on it.
        self._last_post_id += 1 + secrets.randbelow(1000)
        tweet_id = str(self._last_post_id)
        username = self._users[user]["username"]
        rendered, url_entities = render_text(text, [self._media[m]["media_key"] for m in media_ids],
                                             f"https://x.com/{username}/status/{tweet_id}")
        self._posts[tweet_id] = {
            "id": tweet_id, "text": text, "author_id": user, "username": username,
            "media_ids": list(media_ids), "media_categories": kinds,
            "media_sha256": [self._media[m]["sha256"] for m in media_ids],
            "weighted_length": weighted, "created_epoch": now,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now)),
            "rendered_text": rendered, "url_entities": url_entities, "other_fields": other_fields}
        return tweet_id

    # ---- GET /2/tweets: posts lookup with public_metrics (docs/platforms.md#x-analytics) ----
    def _h_posts_lookup(self, request: Request, body: bytes, truncated: bool, user: str) -> Response:
        """1..100 ids; what X cannot return comes back in `errors` beside `data` (a 200 either way)."""
        args = request.args
        refuse_unknown(args, LOOKUP_PARAMS, lambda name: _unknown_parameter(name, LOOKUP_PARAMS))
        ids = [i for i in args.get("ids", "").split(",") if i]
        if not 1 <= len(ids) <= LOOKUP_MAX_IDS:
            raise _invalid(f"The number of values in the `ids` query parameter list [{len(ids)}] is not between 1 "
                           f"and {LOOKUP_MAX_IDS}", "ids")
        bad = [i for i in ids if not (i.isdigit() and len(i) <= 19)]
        if bad:
            raise _invalid(f"The `ids` query parameter value [{bad[0]}] does not match ^[0-9]{{1,19}}$", "ids")
        fields, expansions = _field_selection(args)
        data, errors = [], []
        with self._lock:
            for tweet_id in dict.fromkeys(ids):
                post = self._posts.get(tweet_id)
                if post is None:
                    errors.append({"value": tweet_id, "detail": f"Could not find tweet with id: [{tweet_id}].",
                                   "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
                                   "resource_id": tweet_id, "type": PROBLEM + "resource-not-found"})
                    continue
                data.append(self._public_post(post, fields, expansions))
        out: dict[str, Any] = {}
        if data:  # X leaves `data` out when nothing was found
            out["data"] = data
        if errors:
            out["errors"] = errors
        return self._json(out)

    def _metrics_now(self, tweet_id: str) -> dict[str, int]:
        return self._public_metrics(self._posts[tweet_id])

    def _public_metrics(self, post: dict) -> dict[str, int]:
        live = engagement(post["id"], self._clock() - post["created_epoch"])
        return {"repost_count": live.shares, "reply_count": live.comments, "like_count": live.likes,
                "quote_count": live.quotes, "bookmark_count": live.saves, "impression_count": live.views}

    def _h_get_post(self, request: Request, body: bytes, truncated: bool, user: str, tweet_id: str) -> Response:
        refuse_unknown(request.args, FIELD_PARAMS, lambda name: _unknown_parameter(name, FIELD_PARAMS))
        fields, expansions = _field_selection(request.args)
        with self._lock:
            post = self._posts.get(tweet_id)
            if post is None:  # X answers 200 with a partial error for a missing post
                return self._json({"errors": [{"value": tweet_id, "detail": f"Could not find tweet with id: [{tweet_id}].",
                                               "title": "Not Found Error", "resource_type": "tweet", "parameter": "id",
                                               "resource_id": tweet_id, "type": PROBLEM + "resource-not-found"}]})
            return self._json({"data": self._public_post(post, fields, expansions)})

    def _public_post(self, post: dict, fields: set[str], expansions: set[str] = frozenset()) -> dict:
        """A post as X returns it: id, text (rewritten as X shows it), edit history, and the asked-for
        fields (author_id comes with the author_id expansion)."""
        data = {"id": post["id"], "text": post["rendered_text"], "edit_history_post_ids": [post["id"]]}
        if "author_id" in expansions:
            data["author_id"] = post["author_id"]
        if "created_at" in fields:
            data["created_at"] = post["created_at"]
        if "attachments" in fields and post["media_ids"]:
            data["attachments"] = {"media_keys": [self._media[m]["media_key"] for m in post["media_ids"]]}
        if "entities" in fields and post["url_entities"]:
            data["entities"] = {"urls": copy.deepcopy(post["url_entities"])}
        if "public_metrics" in fields:
            data["public_metrics"] = self._public_metrics(post)
        return data

    def _h_users_me(self, request: Request, body: bytes, truncated: bool, user: str) -> Response:
        with self._lock:
            found = self._users[user]
        return self._json({"data": {"id": found["id"], "name": found["username"], "username": found["username"]}})

    def _h_user_posts(self, request: Request, body: bytes, truncated: bool, user: str, author_id: str) -> Response:
        """GET /2/users/:id/tweets: newest first, at most 3,200 back, 5..100 a page, inclusive
        start_time / end_time in seconds, since_id / until_id exclusive, an opaque next_token."""
        args = request.args
        refuse_unknown(args, TIMELINE_PARAMS, lambda name: _unknown_parameter(name, TIMELINE_PARAMS))
        try:
            max_results = int(args.get("max_results", "10"))
        except ValueError:
            raise _invalid("The `max_results` query parameter value is not a number", "max_results") from None
        if not 5 <= max_results <= 100:
            raise _invalid(f"The `max_results` query parameter value [{max_results}] is not between 5 and 100",
                           "max_results")
        bounds = {}
        for name in ("start_time", "end_time"):
            if name in args:
                if not _TIMESTAMP.match(args[name]):
                    raise _invalid(f"Invalid '{name}':'{args[name]}'. '{name}' must be YYYY-MM-DDTHH:mm:ssZ", name)
                bounds[name] = float(calendar.timegm(time.strptime(args[name], "%Y-%m-%dT%H:%M:%SZ")))
        fields, expansions = _field_selection(args)
        _check_list(args, "exclude", {"retweets", "replies"})
        for name in ("since_id", "until_id"):
            if name in args and not args[name].isdigit():
                raise _invalid(f"The `{name}` query parameter value [{args[name]}] is not a valid id", name)
        offset = self._page_offset(args.get("pagination_token"))
        with self._lock:
            if author_id not in self._users:
                return self._json({"errors": [{"value": author_id, "detail": f"Could not find user with id: [{author_id}].",
                                               "title": "Not Found Error", "resource_type": "user", "parameter": "id",
                                               "resource_id": author_id, "type": PROBLEM + "resource-not-found"}]})
            posts = sorted((p for p in self._posts.values() if p["author_id"] == author_id),
                           key=lambda p: int(p["id"]), reverse=True)[:TIMELINE_MAX_POSTS]
            posts = [p for p in posts
                     if ("start_time" not in bounds or int(p["created_epoch"]) >= bounds["start_time"])
                     and ("end_time" not in bounds or int(p["created_epoch"]) <= bounds["end_time"])
                     and ("since_id" not in args or int(p["id"]) > int(args["since_id"]))
                     and ("until_id" not in args or int(p["id"]) < int(args["until_id"]))]
            page = posts[offset:offset + max_results]
            data = [self._public_post(p, fields, expansions) for p in page]
            media = [{"media_key": self._media[m]["media_key"], "type": self._media_type(m)}
                     for p in page for m in p["media_ids"]]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
        if offset + max_results < len(posts):
            meta["next_token"] = base64.urlsafe_b64encode(f"page:{offset + max_results}".encode()).decode()
        out: dict[str, Any] = {"meta": meta}
        if data:  # X leaves `data` out of an empty page
            out["data"] = data
        if media and "attachments.media_keys" in expansions:
            out["includes"] = {"media": media}
        return self._json(out)

    @staticmethod
    def _page_offset(token: str | None) -> int:
        if token is None:
            return 0
        try:
            kind, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
            if kind == "page" and offset.isdigit():
                return int(offset)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            pass
        raise _invalid("The `pagination_token` query parameter value is not valid", "pagination_token")

    def _media_type(self, media_id: str) -> str:
        return {"tweet_image": "photo", "tweet_gif": "animated_gif"}.get(self._media[media_id]["media_category"], "video")

    # ---- OAuth 2.0 refresh (single-use, rotating refresh tokens) ----
    def _h_token(self, request: Request, body: bytes, truncated: bool, user: None) -> Response:
        form = form_fields(request, body, lambda message: ApiError(400, "invalid_request", message))
        if form.get("grant_type") == "authorization_code":
            return self._authorization_code(request, form)
        if form.get("grant_type") != "refresh_token":
            raise ApiError(400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
        client_id = form.get("client_id", "")
        basic = request.authorization if request.authorization and request.authorization.type == "basic" else None
        if basic is not None:
            client_id = client_id or basic.username or ""
            if basic.username != client_id:
                raise ApiError(401, "unauthorized_client", "client_id does not match the Basic credentials")
        if not client_id:
            raise ApiError(400, "invalid_request", "Missing required parameter [client_id].")
        if self._clients is not None:
            expected = self._clients.get(client_id)
            if expected is None:
                raise ApiError(401, "unauthorized_client", "Unknown client")
            if expected and (basic is None or not secrets.compare_digest((basic.password or "").encode(), expected.encode())):
                raise ApiError(401, "unauthorized_client", "Missing valid authorization header")
        with self._lock:
            entry = self._refresh.pop(form.get("refresh_token", ""), None)  # single use: gone on first use
            if entry is None or entry[1] not in (None, client_id):
                raise ApiError(400, "invalid_request", "Value passed for the token was invalid.")
            uid = entry[0]
            access, refresh = secrets.token_urlsafe(40), secrets.token_urlsafe(40)
            self._tokens[access], self._refresh[refresh] = uid, (uid, entry[1] or client_id)
        return self._json({"token_type": "bearer", "expires_in": 7200, "access_token": access,
                           "scope": "tweet.read tweet.write users.read media.write offline.access",
                           "refresh_token": refresh})

    def _authorization_code(self, request: Request, form: dict) -> Response:
        """Confidential clients authenticate with HTTP Basic client_id:client_secret; public clients
        send client_id in the form and no secret (then the client must be registered without one)."""
        basic = request.authorization if request.authorization and request.authorization.type == "basic" else None
        client_id = (basic.username if basic else None) or form.get("client_id", "")
        secret = basic.password if basic else ""
        try:
            grant = self.oauth.redeem(code=form.get("code", ""), client_id=client_id or "", client_secret=secret or "",
                                      redirect_uri=form.get("redirect_uri"), code_verifier=form.get("code_verifier"))
        except OAuthRefusal as refusal:
            raise ApiError(refusal.status, refusal.error, refusal.description) from None
        uid = grant["user"]
        with self._lock:
            access = secrets.token_urlsafe(40)
            self._tokens[access] = uid
            out = {"token_type": "bearer", "expires_in": 7200, "access_token": access, "scope": " ".join(grant["scopes"])}
            if "offline.access" in grant["scopes"]:  # no refresh token without it
                refresh = secrets.token_urlsafe(40)
                self._refresh[refresh] = (uid, client_id)
                out["refresh_token"] = refresh
        return self._json(out)

    def _h_authorize(self, request: Request, body: bytes, truncated: bool, user: None) -> Response:
        return self.oauth.authorize_page(request.args.to_dict(), required=(*AUTHORIZE_REQUIRED, "state"))


def main(argv: list[str] | None = None) -> int:
    def options(parser) -> None:
        parser.add_argument("--status-checks-before-succeeded", type=int, default=1)
        parser.add_argument("--check-after-secs", type=int, default=1)
        parser.add_argument("--no-rate-limits", action="store_true")

    def build(args) -> XSandbox:
        sandbox = XSandbox(args.host, args.port, enforce_rate_limits=not args.no_rate_limits,
                           status_checks_before_succeeded=args.status_checks_before_succeeded,
                           check_after_secs=args.check_after_secs)
        for token in args.token:
            sandbox.add_account(token)
        return sandbox

    return serve(argv, description="X API v2 sandbox", port=9102, build=build, options=options)


if __name__ == "__main__":
    sys.exit(main())
