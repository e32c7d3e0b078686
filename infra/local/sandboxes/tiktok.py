"""Contract-faithful TikTok Content Posting API v2 sandbox (docs/platforms.md#tiktok).

Real HTTP on localhost so the real client is exercised end to end: auth and scopes, the chunked
upload byte rules, status progression, rate limits and injected faults. State is kept in
memory behind one lock. Token values are never logged or exposed in state snapshots.

Where TikTok's docs are silent the sandbox takes the strict side: once every chunk has arrived the
upload_url takes no more bytes (the media transfer guide promises nothing for a re-sent chunk), and a
lost answer (`lost_response`) is a dropped connection or a 500 after the request took effect.
"""
from __future__ import annotations

import collections
import copy
import hashlib
import json
import re
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from infra.local.sandboxes import tiktok_photo
from infra.local.sandboxes.base import Call, Route, Sandbox, bearer_token, form_fields, json_object, lost_answer, serve
from infra.local.sandboxes.engagement import engagement
from infra.local.sandboxes.server import AuthorizationServer, OAuthRefusal, refusal_page

MiB = 1024 * 1024
MIN_CHUNK, MAX_CHUNK, MAX_LAST_CHUNK = 5 * MiB, 64 * MiB, 128 * MiB
MAX_VIDEO, MAX_CHUNKS, TITLE_MAX_UTF16 = 4 * 1024 * MiB, 1000, 2200
UPLOAD_URL_TTL, CAP_WINDOW, RATE_WINDOW = 3600.0, 86400.0, 60.0
RATE_LIMITS = {"creator_info": 20, "video_init": 6, "content_init": 6, "status": 30, "video_query": 600, "user_info": 600}
PRIVACY_LEVELS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"]
VIDEO_MIMETYPES = {"video/mp4", "video/quicktime", "video/webm"}
VIDEO_FIELDS = {"id", "create_time", "cover_image_url", "share_url", "video_description", "duration",
                "height", "width", "title", "embed_html", "embed_link", "like_count", "comment_count",
                "share_count", "view_count", "is_aigc"}
ROUTES = {  # path -> (endpoint name, method)
    "/v2/post/publish/creator_info/query/": ("creator_info", "POST"),
    "/v2/post/publish/video/init/": ("video_init", "POST"),
    "/v2/post/publish/content/init/": ("content_init", "POST"),  # photo posts (tiktok_photo.py)
    "/upload/": ("upload", "PUT"),
    "/v2/post/publish/status/fetch/": ("status", "POST"),
    "/v2/video/query/": ("video_query", "POST"),
    "/v2/oauth/token/": ("token", "POST"),
    "/v2/auth/authorize/": ("authorize", "GET"),  # www.tiktok.com in production; one host here
    "/v2/user/info/": ("user_info", "GET"),
}
ENDPOINTS = {name for name, _ in ROUTES.values()}
# Login Kit for Web: redirect URIs registered exactly; the code is exchanged with client_key,
# client_secret, code, grant_type=authorization_code and the same redirect_uri; code_verifier only
# for mobile and desktop apps [developers.tiktok.com/doc/login-kit-web; .../oauth-user-access-token-management].
# How long a code lives is not documented (unverified): 10 minutes here.
AUTHORIZATION_CODE_TTL = 600.0
USER_INFO_FIELDS = {"open_id", "union_id", "avatar_url", "avatar_url_100", "avatar_large_url", "display_name"}
FAULT_KINDS = {"rate_limit", "server_error", "error", "slow", "fail_publish", "lost_response"}
DEFAULT_SCOPES = ("user.info.basic", "video.publish", "video.upload", "video.list")
# Any one of these scopes lets a token call the endpoint (TikTok API reference, "Scope" per endpoint).
SCOPES_NEEDED = {"creator_info": {"video.publish"}, "video_init": {"video.publish"},
                 "content_init": {"video.publish", "video.upload"},  # which one: by post_mode
                 "status": {"video.publish", "video.upload"}, "video_query": {"video.list"},
                 "user_info": {"user.info.basic"}}
_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _log_id() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(9).upper()


def _progress_range(post: dict) -> str:
    return f"bytes 0-{post['uploaded_bytes']}/{post['source_info']['video_size']}"


def _numeric_id() -> str:
    return str(7_000_000_000_000_000_000 + secrets.randbelow(10**18))


class TikTokSandbox(Sandbox):
    _thread_name = "tiktok-sandbox"
    metrics_endpoint = "video_query"
    ENDPOINTS, FAULT_KINDS, error_type, ok_code = ENDPOINTS, FAULT_KINDS, ApiError, "ok"
    # Whether the video query answers for photo posts: TikTok documents it for videos only.
    video_query_lists_photos = False
    photo_pull_timeout = 10.0

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, creators: dict[str, dict] | None = None,
                 enforce_rate_limits: bool = True, status_fetches_before_complete: int = 1,
                 daily_post_cap: int = 15, verified_url_prefixes: list[str] | tuple[str, ...] = (),
                 clients: dict[str, str] | None = None, refresh_tokens: dict[str, str] | None = None,
                 status_fetches_before_public_id: int = 0, post_ids_as_int: bool = True, audited: bool = True,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(host, port, clock=clock, clients=clients)
        self.enforce_rate_limits = enforce_rate_limits
        self.status_fetches_before_complete = status_fetches_before_complete
        self.status_fetches_before_public_id = status_fetches_before_public_id
        self.daily_post_cap = daily_post_cap
        self.verified_url_prefixes = tuple(verified_url_prefixes)
        # publicaly_available_post_id is list<int64> in the status reference: JSON numbers of up to 19
        # digits, past a double's exact range (False sends strings, as some client code expects).
        self.post_ids_as_int = post_ids_as_int
        # An app TikTok has not audited may only post SELF_ONLY to private accounts; init refuses the
        # rest with unaudited_client_can_only_post_to_private_accounts (Direct Post reference, error codes).
        self.audited = audited
        self._tokens: dict[str, str] = {}          # access token -> creator username
        self._creators: dict[str, dict] = {}       # username -> creator_info
        self._open_ids: dict[str, str] = {}
        self._refresh: dict[str, str] = {}         # refresh token -> username
        self._scopes: dict[str, set[str]] = {}     # username -> scopes the user granted the app
        self._private: dict[str, bool] = {}         # username -> the TikTok account is private
        # Login Kit: scopes come comma-separated; PKCE is for mobile and desktop apps, checked when sent.
        self.oauth = AuthorizationServer(code_ttl=AUTHORIZATION_CODE_TTL, pkce="optional", scope_separator=",",
                                         client_param="client_key")
        self.reset()
        for token, overrides in (creators or {}).items():
            self.add_creator(token, **(overrides or {}))
        for rt, at in (refresh_tokens or {}).items():
            self.add_refresh_token(rt, at)

    def _clear_state(self) -> None:
        self._posts: dict[str, dict] = {}
        self._uploads: dict[str, str] = {}         # upload_id -> publish_id
        self._fail_queue: collections.deque = collections.deque()
        self._windows: dict[tuple[str, str], collections.deque] = collections.defaultdict(collections.deque)
        self._inits: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._metrics: dict[str, dict] = {}
        self._published: dict[str, float] = {}    # video id -> sandbox clock when it went live

    # ---- Python control API ----
    def add_creator(self, access_token: str, *, scopes: list[str] | tuple[str, ...] | None = None,
                    private_account: bool | None = None, **creator_info_overrides: Any) -> None:
        """A creator the token acts for; `scopes` are what the user granted (default: all we use);
        `private_account`: the TikTok account is private (not part of creator_info's answer)."""
        with self._lock:
            username = creator_info_overrides.get("creator_username")
            if username is None:
                n = len(self._creators) + 1
                while f"sandbox_creator_{n}" in self._creators:
                    n += 1
                username = f"sandbox_creator_{n}"
            info = self._creators.get(username) or {
                "creator_username": username, "creator_nickname": f"Sandbox {username}",
                "creator_avatar_url": f"https://p16-sign.tiktokcdn.com/sandbox/{username}.jpeg",
                "privacy_level_options": list(PRIVACY_LEVELS), "comment_disabled": False,
                "duet_disabled": False, "stitch_disabled": False, "max_video_post_duration_sec": 600}
            info.update(copy.deepcopy(creator_info_overrides))
            self._creators[username] = info
            self._open_ids.setdefault(username, "sbx-" + secrets.token_hex(12))
            if scopes is not None or username not in self._scopes:
                self._scopes[username] = set(DEFAULT_SCOPES if scopes is None else scopes)
            self._tokens[access_token] = username
            if private_account is not None or username not in self._private:
                self._private[username] = bool(private_account)

    def add_refresh_token(self, refresh_token: str, access_token: str) -> None:
        with self._lock:
            if access_token not in self._tokens:
                self.add_creator(access_token)
            self._refresh[refresh_token] = self._tokens[access_token]

    def revoke_authorization(self, username: str) -> None:
        """The creator removed the app: every access and refresh token of theirs stops working."""
        with self._lock:
            for table in (self._tokens, self._refresh):
                for token in [t for t, user in table.items() if user == username]:
                    del table[token]

    def open_id(self, username: str) -> str:
        with self._lock:
            return self._open_ids[username]

    def set_video_metrics(self, video_id: str, **fields: Any) -> None:
        """Pin some of a video's counts (they no longer grow with the clock)."""
        with self._lock:
            self._metrics.setdefault(str(video_id), {}).update(fields)

    # ---- metrics (POST /v2/video/query/) ----
    def add_video(self, access_token: str, *, age_seconds: float = 0.0, title: str = "",
                  privacy_level: str = "PUBLIC_TO_EVERYONE") -> dict[str, str]:
        """A video the token's creator published `age_seconds` ago (as if init, upload and moderation
        had run): {"publish_id", "video_id"}. Its counts grow with the sandbox clock from then on."""
        with self._lock:
            username = self._tokens[access_token]
            pid = "v_pub_file~v2-1." + _numeric_id()
            post = {"publish_id": pid, "creator_username": username, "post_info": {"title": title,
                    "privacy_level": privacy_level}, "source_info": {"source": "FILE_UPLOAD", "video_size": 1,
                    "chunk_size": 1, "total_chunk_count": 1}, "uploaded_bytes": 1, "chunks_received": 1,
                    "upload_complete": True, "status": "PROCESSING_UPLOAD", "fail_reason": None, "video_id": None,
                    "share_url": None, "create_time": None, "_sha": hashlib.sha256(b"x"), "_accepted": set(),
                    "_fetches_after_upload": 0, "_complete_fetches": 0, "_pending_fail": None}
            self._posts[pid] = post
            self._finish(post)
            self._published[post["video_id"]] -= age_seconds
            post["create_time"] -= int(age_seconds)
            return {"publish_id": pid, "video_id": post["video_id"]}

    def delete_video(self, video_id: str) -> None:
        """The creator deleted the video: the video query leaves it out from now on."""
        with self._lock:
            for post in self._posts.values():
                if post["video_id"] == str(video_id):
                    post["deleted"] = True

    def _metrics_now(self, vid: str) -> dict[str, int]:
        live = engagement(vid, self._clock() - self._published.get(vid, self._clock()))
        counts = {"view_count": live.views, "like_count": live.likes, "comment_count": live.comments,
                  "share_count": live.shares}
        counts.update({k: v for k, v in self._metrics.get(vid, {}).items() if k in counts})
        return counts

    def _fault(self, endpoint: str, kind: str, params: dict) -> dict:
        """rate_limit (429), server_error (500), error (http_status=, code=, message=), fail_publish
        (endpoint status, fail_reason=: the next finished post fails), lost_response (video_init or
        upload: carried out, then respond="drop" closes the connection or "server_error" answers 500)."""
        if kind == "fail_publish" and (endpoint != "status" or "fail_reason" not in params):
            raise ValueError("fail_publish needs endpoint='status' and fail_reason=...")
        if kind == "error" and not {"http_status", "code"} <= params.keys():
            raise ValueError("error faults need http_status=... and code=...")
        if kind == "lost_response":
            refusal = "lost_response applies to video_init or upload, with respond='drop' or 'server_error'"
            if endpoint not in ("video_init", "upload"):
                raise ValueError(refusal)
            lost_answer(params, "respond", {"drop": "drop", "server_error": "error"}, "drop", refusal)
        return {"kind": kind, **params}

    def _place_fault(self, endpoint: str, fault: dict, count: int) -> dict | None:
        if fault["kind"] == "fail_publish":
            self._fail_queue.extend([str(fault["fail_reason"])] * count)
            return None
        return fault

    def _pending_platform_faults(self) -> int:
        return len(self._fail_queue)

    @property
    def posts(self) -> dict[str, dict]:
        with self._lock:
            return {pid: self._public_post(p) for pid, p in self._posts.items()}

    @staticmethod
    def _public_post(p: dict) -> dict:
        out = {k: copy.deepcopy(v) for k, v in p.items() if not k.startswith("_")}
        out["sha256"] = p["_sha"].hexdigest() if p["upload_complete"] else None
        return out

    # ---- request plumbing ----
    def _route(self, call: Call) -> Route:
        route = ROUTES.get(call.request.path)
        if route is None:
            raise ApiError(404, "not_found", f"no such endpoint: {call.request.path}")
        return Route(*route)

    def _wrong_method(self, call: Call, expected: str) -> ApiError:
        return ApiError(405, "method_not_allowed", f"{call.request.path} expects {expected}")

    def _crash(self) -> ApiError:
        return ApiError(500, "internal_error", "sandbox crashed")

    def _fault_error(self, call: Call, fault: dict) -> ApiError:
        if fault["kind"] == "rate_limit":
            return ApiError(429, "rate_limit_exceeded", "Rate limit exceeded (injected)")
        if fault["kind"] in ("server_error", "lost_response"):
            return ApiError(500, "internal_error", "Internal error (injected)")
        return ApiError(int(fault["http_status"]), str(fault["code"]), str(fault.get("message", "injected error")))

    def _error(self, call: Call, e: ApiError) -> Response:
        if call.endpoint == "upload":  # upload replies carry no JSON body; the status code is the signal
            response = Response(b"", status=e.status, headers={"X-Sandbox-Error": f"{e.code}: {e.message}"})
            post = getattr(call.request, "upload_post", None)
            if post is not None and e.status != 403:  # where the upload stands (not for an expired URL)
                response.headers["Content-Range"] = _progress_range(post)
        elif call.endpoint == "token":  # OAuth endpoints use the OAuth error struct, not {error:{code}}
            response = Response(json.dumps({"error": e.code, "error_description": e.message, "log_id": _log_id()}),
                                status=e.status, mimetype="application/json")
        else:
            response = TikTokSandbox._json({}, status=e.status, code=e.code, message=e.message)
        response.sandbox_code = e.code
        return response

    @staticmethod
    def _json(data: Any, status: int = 200, code: str = "ok", message: str = "") -> Response:
        body = {"data": data, "error": {"code": code, "message": message, "log_id": _log_id()}}
        response = Response(json.dumps(body), status=status, mimetype="application/json")
        response.sandbox_code = code
        return response

    def _auth(self, request: Request, endpoint: str) -> str:
        token = bearer_token(request)
        with self._lock:
            username = self._tokens.get(token) if token else None
            if username is None:
                raise ApiError(401, "access_token_invalid",
                               "The access token is invalid or not found in the request.")
            needed = SCOPES_NEEDED.get(endpoint)
            if needed and not needed & self._scopes[username]:
                raise ApiError(401, "scope_not_authorized", f"The user did not authorize the scope required for "
                               f"this request ({' or '.join(sorted(needed))}).")
            if self.enforce_rate_limits and endpoint in RATE_LIMITS:
                window, now = self._windows[(token, endpoint)], self._clock()
                while window and now - window[0] >= RATE_WINDOW:
                    window.popleft()
                if len(window) >= RATE_LIMITS[endpoint]:
                    raise ApiError(429, "rate_limit_exceeded", "The API rate limit was exceeded.")
                window.append(now)
            return username

    @staticmethod
    def _json_body(request: Request, body: bytes) -> dict:
        if request.mimetype != "application/json":
            raise ApiError(400, "invalid_param", "Content-Type must be application/json")
        return json_object(body, lambda message: ApiError(400, "invalid_param", message))

    # ---- endpoint handlers ----
    def _h_creator_info(self, request: Request, body: bytes, truncated: bool) -> Response:
        username = self._auth(request, "creator_info")
        with self._lock:
            return self._json(copy.deepcopy(self._creators[username]))

    def _h_video_init(self, request: Request, body: bytes, truncated: bool) -> Response:
        username = self._auth(request, "video_init")
        payload = self._json_body(request, body)
        with self._lock:
            creator = self._creators[username]
            post_info = self._check_post_info(payload.get("post_info"), creator)
            source_info = self._check_source_info(payload.get("source_info"))
            self._check_audit(username, post_info["privacy_level"])
            now = self._count_init(username)
            pull = source_info["source"] == "PULL_FROM_URL"
            pid = ("v_pub_url~v2-1." if pull else "v_pub_file~v2-1.") + _numeric_id()
            post = {"publish_id": pid, "creator_username": username, "post_info": post_info,
                    "source_info": source_info, "uploaded_bytes": 0, "chunks_received": 0,
                    "upload_complete": pull, "status": "PROCESSING_DOWNLOAD" if pull else "PROCESSING_UPLOAD",
                    "fail_reason": None, "video_id": None, "share_url": None, "create_time": None,
                    "_sha": hashlib.sha256(), "_accepted": set(), "_fetches_after_upload": 0,
                    "_complete_fetches": 0, "_pending_fail": self._pop_fail() if pull else None}
            self._posts[pid] = post
            if pull:
                return self._json({"publish_id": pid})
            upload_id, post["_upload_token"] = _numeric_id(), secrets.token_urlsafe(24)
            post["_upload_expires"] = now + UPLOAD_URL_TTL
            self._uploads[upload_id] = pid
            # Build the URL from the Host the client used, so it also works behind a port mapping.
            upload_url = f"{request.host_url.rstrip('/')}/upload/?upload_id={upload_id}&upload_token={post['_upload_token']}"
            return self._json({"publish_id": pid, "upload_url": upload_url})

    def _check_audit(self, username: str, privacy_level: str | None) -> None:
        """An unaudited app may post only SELF_ONLY to a private account, videos and photos alike."""
        if not self.audited and not (self._private.get(username) and privacy_level == "SELF_ONLY"):
            raise ApiError(403, "unaudited_client_can_only_post_to_private_accounts",
                           "Unaudited clients can only post to a private account.")

    def _count_init(self, username: str) -> float:
        """The creator's posts in the last 24 h, this one included, stay within the daily cap; returns now."""
        inits, now = self._inits[username], self._clock()
        while inits and now - inits[0] >= CAP_WINDOW:
            inits.popleft()
        if len(inits) >= self.daily_post_cap:
            raise ApiError(403, "spam_risk_too_many_posts", "The creator has reached the daily post cap.")
        inits.append(now)
        return now

    def _pop_fail(self) -> str | None:
        return self._fail_queue.popleft() if self._fail_queue else None

    @staticmethod
    def _check_post_info(post_info: Any, creator: dict) -> dict:
        if not isinstance(post_info, dict):
            raise ApiError(400, "invalid_param", "post_info is required and must be an object")
        title = post_info.get("title", "")
        if not isinstance(title, str):
            raise ApiError(400, "invalid_param", "post_info.title must be a string")
        if len(title.encode("utf-16-le")) // 2 > TITLE_MAX_UTF16:
            raise ApiError(400, "invalid_param", f"post_info.title exceeds {TITLE_MAX_UTF16} UTF-16 code units")
        privacy = post_info.get("privacy_level")
        if not isinstance(privacy, str) or not privacy:
            raise ApiError(400, "invalid_param", "post_info.privacy_level is required")
        if privacy not in creator["privacy_level_options"]:
            raise ApiError(403, "privacy_level_option_mismatch",
                           "post_info.privacy_level is not in the creator's privacy_level_options")
        for field in ("disable_duet", "disable_stitch", "disable_comment", "brand_content_toggle",
                      "brand_organic_toggle", "is_aigc"):
            if field in post_info and not isinstance(post_info[field], bool):
                raise ApiError(400, "invalid_param", f"post_info.{field} must be a boolean")
        ts = post_info.get("video_cover_timestamp_ms", 0)
        if isinstance(ts, bool) or not isinstance(ts, int) or ts < 0:
            raise ApiError(400, "invalid_param", "post_info.video_cover_timestamp_ms must be a non-negative int")
        for kind in ("comment", "duet", "stitch"):
            if creator.get(f"{kind}_disabled") and post_info.get(f"disable_{kind}") is not True:
                raise ApiError(400, "invalid_param",
                               f"post_info.disable_{kind} must be true: the creator has {kind}_disabled")
        if post_info.get("brand_content_toggle") and privacy == "SELF_ONLY":
            raise ApiError(400, "invalid_param", "post_info.brand_content_toggle cannot be used with SELF_ONLY")
        return copy.deepcopy(post_info)

    def _check_source_info(self, source_info: Any) -> dict:
        if not isinstance(source_info, dict):
            raise ApiError(400, "invalid_param", "source_info is required and must be an object")
        source = source_info.get("source")
        if source == "PULL_FROM_URL":
            url = source_info.get("video_url")
            if not isinstance(url, str) or not url.startswith("https://"):
                raise ApiError(400, "invalid_param", "source_info.video_url must be an https URL")
            if not any(url.startswith(p) for p in self.verified_url_prefixes):
                raise ApiError(403, "url_ownership_unverified", "source_info.video_url prefix is not verified")
            return {"source": source, "video_url": url}
        if source != "FILE_UPLOAD":
            raise ApiError(400, "invalid_param", "source_info.source must be FILE_UPLOAD or PULL_FROM_URL")
        for field in ("video_size", "chunk_size", "total_chunk_count"):
            value = source_info.get(field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ApiError(400, "invalid_param", f"source_info.{field} is required and must be a positive int")
        size, chunk, count = source_info["video_size"], source_info["chunk_size"], source_info["total_chunk_count"]
        if size > MAX_VIDEO:
            raise ApiError(400, "invalid_param", "source_info.video_size exceeds 4 GB")
        if size < MIN_CHUNK:  # small files go up whole, as one chunk
            if chunk != size:
                raise ApiError(400, "invalid_param", "source_info.chunk_size must equal video_size below 5 MB")
            if count != 1:
                raise ApiError(400, "invalid_param", "source_info.total_chunk_count must be 1 below 5 MB")
        else:
            if not MIN_CHUNK <= chunk <= MAX_CHUNK:
                raise ApiError(400, "invalid_param", "source_info.chunk_size must be between 5 MB and 64 MB")
            if size > MAX_CHUNK and count < 2:
                raise ApiError(400, "invalid_param", "videos over 64 MB must be uploaded in multiple chunks")
            if count != size // chunk:
                raise ApiError(400, "invalid_param",
                               f"source_info.total_chunk_count must be floor(video_size/chunk_size) = {size // chunk}")
            if not 1 <= count <= MAX_CHUNKS:
                raise ApiError(400, "invalid_param", "source_info.total_chunk_count must be 1..1000")
            if chunk + size % chunk > MAX_LAST_CHUNK:
                raise ApiError(400, "invalid_param", "source_info.chunk_size leaves a last chunk over 128 MB")
        return {"source": source, "video_size": size, "chunk_size": chunk, "total_chunk_count": count}

    def _h_upload(self, request: Request, body: bytes, truncated: bool) -> Response:
        upload_id = request.args.get("upload_id", "")
        upload_token = request.args.get("upload_token", "")
        with self._lock:
            post = self._posts.get(self._uploads.get(upload_id, ""))
            if post is None or not secrets.compare_digest(upload_token.encode(), post["_upload_token"].encode()):
                raise ApiError(404, "upload_task_not_found", "no valid upload task for this upload_url")
            request.upload_post = post  # every answer from here on says how many bytes TikTok holds
            if self._clock() > post["_upload_expires"]:
                raise ApiError(403, "upload_url_expired", "the upload_url expired 1 h after init")
            if request.mimetype not in VIDEO_MIMETYPES:
                raise ApiError(400, "invalid_file_upload", "Content-Type must be video/mp4, video/quicktime or video/webm")
            m = _RANGE_RE.match(request.headers.get("Content-Range", "").strip())
            if not m:
                raise ApiError(400, "invalid_file_upload", "Content-Range 'bytes FIRST-LAST/TOTAL' is required")
            first, last, total = (int(g) for g in m.groups())
            if post["upload_complete"]:
                # Every chunk is in and the post is on its way: this URL takes no more bytes.
                raise ApiError(416, "upload_already_complete", "every chunk was already received for this upload")
            size, chunk = post["source_info"]["video_size"], post["source_info"]["chunk_size"]
            count = post["source_info"]["total_chunk_count"]
            if total != size:
                raise ApiError(400, "invalid_file_upload", f"Content-Range total {total} != declared video_size {size}")
            if request.content_length is None:
                raise ApiError(400, "invalid_file_upload", "Content-Length is required")
            if first > last or last >= size:
                raise ApiError(416, "range_not_satisfiable", "Content-Range is outside the video")
            resend = (first, last) in post["_accepted"]  # e.g. after a 5xx whose chunk was in fact stored
            if not resend and first != post["uploaded_bytes"]:
                # 416: "Content-Range does not reflect the actual upload progress" (media transfer guide).
                raise ApiError(416, "range_not_satisfiable",
                               f"chunk must start at byte {post['uploaded_bytes']}, got {first}")
            # The chunk holding `first`; a resumed PUT may start inside it (at the bytes TikTok holds)
            # and must then run to that chunk's end.
            index = min(first // chunk, count - 1)
            expected_last = size - 1 if index == count - 1 else (index + 1) * chunk - 1
            if last != expected_last:
                raise ApiError(400, "invalid_file_upload",
                               f"chunk {index} must cover bytes {first}-{expected_last}, got {first}-{last}")
            if request.content_length != last - first + 1:
                raise ApiError(400, "invalid_file_upload", "Content-Length does not match Content-Range")
            if truncated or len(body) != request.content_length:
                raise ApiError(400, "invalid_file_upload", "body length does not match Content-Length")
            if resend:  # a chunk before the last, sent again after a lost answer: counted once
                return self._upload_answer(post, 206)
            post["_sha"].update(body)
            post["_accepted"].add((first, last))
            post["uploaded_bytes"] = last + 1
            if last == expected_last:
                post["chunks_received"] += 1
            if post["uploaded_bytes"] < size:
                return self._upload_answer(post, 206)
            post["upload_complete"] = True
            post["_pending_fail"] = self._pop_fail()
            return self._upload_answer(post, 201)

    @staticmethod
    def _upload_answer(post: dict, status: int) -> Response:
        """206 / 201 with the header the media transfer guide documents on upload answers:
        `Content-Range: bytes 0-{UPLOADED_BYTES}/{TOTAL_BYTE_LENGTH}` (the number of bytes held)."""
        return Response(b"", status=status, headers={"Content-Range": _progress_range(post)})

    def _h_status(self, request: Request, body: bytes, truncated: bool) -> Response:
        username = self._auth(request, "status")
        pid = self._json_body(request, body).get("publish_id")
        if not isinstance(pid, str) or not pid:
            raise ApiError(400, "invalid_param", "publish_id is required")
        with self._lock:
            post = self._posts.get(pid)
            if post is None:
                raise ApiError(400, "invalid_publish_id", "publish_id does not exist")
            if post["creator_username"] != username:
                raise ApiError(403, "token_not_authorized_for_specified_publish_id",
                               "the access token does not own this publish_id")
            if post["status"].startswith("PROCESSING") and post["upload_complete"]:
                post["_fetches_after_upload"] += 1
                if post["_fetches_after_upload"] > self.status_fetches_before_complete:
                    self._finish(post)
            data: dict[str, Any] = {"status": post["status"], "publicaly_available_post_id": []}
            if post["source_info"]["source"] == "PULL_FROM_URL":
                data["downloaded_bytes"] = 0
            else:
                data["uploaded_bytes"] = post["uploaded_bytes"]
            if post["status"] == "FAILED":
                data["fail_reason"] = post["fail_reason"]
            elif post["status"] == "PUBLISH_COMPLETE":
                post["_complete_fetches"] += 1
                # Public ids appear only after moderation, and never for private posts.
                if (post["post_info"]["privacy_level"] != "SELF_ONLY"
                        and post["_complete_fetches"] > self.status_fetches_before_public_id):
                    vid = post["video_id"]
                    data["publicaly_available_post_id"] = [int(vid) if self.post_ids_as_int else vid]
            return self._json(data)

    def _finish(self, post: dict) -> None:
        if post["_pending_fail"]:
            post["status"], post["fail_reason"] = "FAILED", post["_pending_fail"]
            return
        if post.get("post_mode") == "MEDIA_UPLOAD":  # the creator finishes it in TikTok's app
            post["status"] = "SEND_TO_USER_INBOX"
            return
        post["status"], post["video_id"], post["create_time"] = "PUBLISH_COMPLETE", _numeric_id(), int(time.time())
        self._published[post["video_id"]] = self._clock()
        post["share_url"] = f"https://www.tiktok.com/@{post['creator_username']}/video/{post['video_id']}"

    def _h_video_query(self, request: Request, body: bytes, truncated: bool) -> Response:
        username = self._auth(request, "video_query")
        fields = [f.strip() for f in request.args.get("fields", "").split(",") if f.strip()]
        if not fields:
            raise ApiError(400, "invalid_param", "the fields query parameter is required")
        filters = self._json_body(request, body).get("filters")
        ids = filters.get("video_ids") if isinstance(filters, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, (str, int)) for i in ids):
            raise ApiError(400, "invalid_param", "filters.video_ids must be a non-empty list of ids")
        if len(ids) > 20:
            raise ApiError(400, "invalid_param", "filters.video_ids accepts at most 20 ids")
        wanted = {str(i) for i in ids}
        with self._lock:
            videos = []
            for post in self._posts.values():
                vid = post["video_id"]
                # Ids that are not this creator's live videos are left out of the answer, not refused.
                if (vid in wanted and post["creator_username"] == username and post["status"] == "PUBLISH_COMPLETE"
                        and not post.get("deleted")
                        and (post.get("media_type") != "PHOTO" or self.video_query_lists_photos)):
                    full = self._video_object(post)
                    videos.append({f: full[f] for f in fields if f in full})
            return self._json({"videos": videos})

    def _video_object(self, post: dict) -> dict:
        vid, info = post["video_id"], post["post_info"]
        full = {"id": vid, "create_time": post["create_time"], "share_url": post["share_url"],
                "title": info.get("title", ""), "video_description": info.get("title", ""),
                "duration": 15, "height": 1920, "width": 1080, "is_aigc": bool(info.get("is_aigc", False)),
                "cover_image_url": f"https://p16-sign.tiktokcdn.com/sandbox/{vid}.jpeg",
                "embed_link": f"https://www.tiktok.com/player/v1/{vid}",
                "embed_html": f'<blockquote class="tiktok-embed" data-video-id="{vid}"></blockquote>',
                **self._metrics_now(vid)}
        full.update(self._metrics.get(vid, {}))
        return full

    def _h_token(self, request: Request, body: bytes, truncated: bool) -> Response:
        form = form_fields(request, body, lambda message: ApiError(400, "invalid_request", message))
        key, secret = form.get("client_key", ""), form.get("client_secret", "")
        if not key or not secret:
            raise ApiError(400, "invalid_request", "client_key and client_secret are required")
        if self._clients is not None and not secrets.compare_digest(
                self._clients.get(key, "").encode(), secret.encode()):
            raise ApiError(401, "invalid_client", "Client authentication failed.")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            try:
                grant = self.oauth.redeem(code=form.get("code", ""), client_id=key, client_secret=secret,
                                          redirect_uri=form.get("redirect_uri"), code_verifier=form.get("code_verifier"))
            except OAuthRefusal as refusal:
                raise ApiError(refusal.status, refusal.error, refusal.description) from None
            with self._lock:
                self._scopes[grant["user"]] = set(grant["scopes"])
            return self._issue_tokens(grant["user"])
        if grant_type != "refresh_token":
            raise ApiError(400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
        with self._lock:
            username = self._refresh.pop(form.get("refresh_token", ""), None)
            if username is None:
                raise ApiError(400, "invalid_grant", "The refresh token is invalid, expired or revoked.")
        return self._issue_tokens(username)

    def _issue_tokens(self, username: str) -> Response:
        with self._lock:
            access, refresh = "act." + secrets.token_urlsafe(32), "rft." + secrets.token_urlsafe(32)
            self._tokens[access], self._refresh[refresh] = username, username  # rotation: old one is gone
            body_out = {"access_token": access, "expires_in": 7200, "open_id": self._open_ids[username],
                        "refresh_token": refresh, "refresh_expires_in": 15552000, "token_type": "Bearer",
                        "scope": ",".join(sorted(self._scopes[username]))}
        response = Response(json.dumps(body_out), mimetype="application/json")
        response.sandbox_code = "ok"
        return response

    # ---- Login Kit for Web: the authorize page (auto-consent for the signed-in test creator) ----
    def _h_authorize(self, request: Request, body: bytes, truncated: bool) -> Response:
        args = request.args.to_dict()
        if args.get("client_key") is None:
            return refusal_page(OAuthRefusal("invalid_request", "client_key is required"))
        return self.oauth.authorize_page(args)

    def _h_user_info(self, request: Request, body: bytes, truncated: bool) -> Response:
        """GET /v2/user/info/?fields=...: the token's user (scope user.info.basic)."""
        username = self._auth(request, "user_info")
        fields = [f.strip() for f in request.args.get("fields", "").split(",") if f.strip()]
        if not fields:
            raise ApiError(400, "invalid_param", "the fields query parameter is required")
        unknown = [f for f in fields if f not in USER_INFO_FIELDS]
        if unknown:
            raise ApiError(400, "invalid_param", f"unknown or unauthorized field {unknown[0]!r}")
        with self._lock:
            creator = self._creators[username]
            full = {"open_id": self._open_ids[username], "union_id": "u-" + self._open_ids[username],
                    "avatar_url": creator["creator_avatar_url"], "avatar_url_100": creator["creator_avatar_url"],
                    "avatar_large_url": creator["creator_avatar_url"], "display_name": creator["creator_nickname"]}
        return self._json({"user": {f: full[f] for f in fields}})

    def _h_content_init(self, request: Request, body: bytes, truncated: bool) -> Response:
        """POST /v2/post/publish/content/init/ (photo posts; rules in tiktok_photo.py). The images are
        pulled before the answer (here, not in the background, so tests are deterministic); what the
        pull found shows only in the status fetch: PROCESSING_DOWNLOAD, then PUBLISH_COMPLETE or FAILED."""
        username = self._auth(request, "content_init")
        payload = self._json_body(request, body)
        try:
            with self._lock:
                checked = tiktok_photo.check_init(payload, self._creators[username], self._scopes[username],
                                                  self.verified_url_prefixes)
        except tiktok_photo.Refusal as refusal:
            raise ApiError(*refusal.args) from None
        with self._lock:
            if checked["post_mode"] == "DIRECT_POST":  # an inbox upload is finished by the creator in TikTok
                self._check_audit(username, checked["post_info"].get("privacy_level"))
            self._count_init(username)
        fail, found, blobs = tiktok_photo.pull(checked["source_info"]["photo_images"], timeout=self.photo_pull_timeout)
        with self._lock:
            pid = "p_pub_url~v2-1." + _numeric_id()
            sha = hashlib.sha256()
            for blob in blobs:
                sha.update(blob)
            self._posts[pid] = {**checked, "publish_id": pid, "creator_username": username, "photos": found,
                                "uploaded_bytes": 0, "chunks_received": 0, "upload_complete": True,
                                "status": "PROCESSING_DOWNLOAD", "fail_reason": None, "video_id": None,
                                "share_url": None, "create_time": None, "_sha": sha, "_accepted": set(),
                                "_fetches_after_upload": 0, "_complete_fetches": 0,
                                "_pending_fail": fail or self._pop_fail()}
            return self._json({"publish_id": pid})

    # ---- HTTP control surface (/_sandbox/...) besides state, reset and inject ----
    def controls(self) -> dict:
        return {"accounts": self._control_creator, "creators": self._control_creator,
                "app": lambda payload: setattr(self, "audited", bool(payload["audited"])),
                "metrics": lambda payload: self.set_video_metrics(payload.pop("video_id"), **payload)}

    def _control_creator(self, payload: dict) -> None:
        token, refresh = payload.pop("access_token"), payload.pop("refresh_token", None)
        self.add_creator(token, **payload)
        if refresh:
            self.add_refresh_token(refresh, token)


def main(argv: list[str] | None = None) -> int:
    def options(parser) -> None:
        parser.add_argument("--status-fetches-before-complete", type=int, default=1)
        parser.add_argument("--daily-post-cap", type=int, default=15)
        parser.add_argument("--no-rate-limits", action="store_true")
        parser.add_argument("--verified-url-prefix", action="append", default=[])
        parser.add_argument("--unaudited", action="store_true",
                            help="an app TikTok has not audited (SELF_ONLY, private accounts)")

    def build(args) -> TikTokSandbox:
        return TikTokSandbox(args.host, args.port, creators={t: {} for t in args.token},
                             enforce_rate_limits=not args.no_rate_limits,
                             status_fetches_before_complete=args.status_fetches_before_complete,
                             daily_post_cap=args.daily_post_cap, verified_url_prefixes=args.verified_url_prefix,
                             audited=not args.unaudited)

    return serve(argv, description="TikTok Content Posting API v2 sandbox", port=9100, build=build, options=options)


if __name__ == "__main__":
    sys.exit(main())
