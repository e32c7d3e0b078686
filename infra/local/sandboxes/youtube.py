"""Contract-faithful YouTube Data API v3 sandbox (docs/platforms.md#youtube).

Real HTTP on localhost so the real client is exercised end to end: the resumable upload protocol
(session start with X-Upload-* headers and the video resource, Location session URI, PUT chunks
with Content-Range, every chunk but the last a multiple of 256 KiB, 308 + Range, status queries
with `bytes */N`, 404 for an unknown session), video resource field rules (title, description,
tags, privacy, publishAt), processing progressions advanced per videos.list request (never by wall
clock), videos.update of the snippet and status parts (each replaced whole: a mutable status field the body
leaves out reverts to its default), quota buckets
(quotaExceeded), Google's error shape
{"error": {"code", "message", "errors": [{"domain", "reason", "message"}]}}, injected faults
(including an upload that stores only part of a chunk and then drops or 5xx's, and `lost_response`:
the chunk is stored, completing the video if it was the last, and the answer is lost), and the OAuth
token endpoint (no refresh-token rotation, as Google). Token values are never logged or exposed.

`uploads_stay_private=True` models YouTube keeping every upload private whatever videos.update asks
(the answer is 200 and the status part reads private): the restriction on unverified API projects
from 2020-07-28 until 2026-11-02, or a channel whose uploads default to private.
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
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from infra.local.sandboxes.base import Call, Drop, Route, Sandbox, bearer_token, form_fields, serve, snapshot
from infra.local.sandboxes.engagement import engagement
from infra.local.sandboxes.server import AuthorizationServer
from infra.local.sandboxes.youtube_catalogue import CatalogueSandbox, etag_of

KiB, MiB = 1024, 1024 * 1024
GRANULE = 256 * KiB
MAX_VIDEO_BYTES = 256 * 1024 ** 3
TITLE_MAX, DESCRIPTION_MAX_BYTES, TAGS_MAX = 100, 5000, 500
PRIVACY = {"public", "unlisted", "private"}
CATEGORIES = {"1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29"}
SNIPPET_FIELDS = {"title", "description", "tags", "categoryId", "defaultLanguage", "defaultAudioLanguage"}
STATUS_FIELDS = {"privacyStatus", "publishAt", "selfDeclaredMadeForKids", "containsSyntheticMedia", "embeddable",
                 "license", "publicStatsViewable"}
# What a mutable status field becomes when an insert or an update of the status part leaves it out: the
# update replaces every mutable property of the part, and one the body omits reverts to its default
# (developers.google.com/youtube/v3/docs/videos/update, `part`; defaults: developers.google.com/youtube/v3/docs/videos).
STATUS_DEFAULTS = {"embeddable": True, "license": "youtube", "publicStatsViewable": True, "containsSyntheticMedia": False}
LICENSES = {"youtube", "creativeCommon"}
RESOURCE_PARTS = {"snippet", "status", "recordingDetails", "localizations"}
LIST_PARTS = {"id", "snippet", "status", "processingDetails", "contentDetails", "statistics"}
UPDATE_PARTS = {"snippet", "status"}
# Output-only snippet properties: a client that sends back what videos.list gave is not refused for them.
SNIPPET_READ_ONLY = {"publishedAt", "channelId", "channelTitle", "thumbnails", "liveBroadcastContent", "localized"}
COSTS = {"insert": ("insert", 1), "list": ("general", 1), "update": ("general", 50)}
FAILURE_REASONS = {"codec", "conversion", "emptyFile", "invalidFile", "tooSmall", "uploadAborted"}
REJECTION_REASONS = {"claim", "copyright", "duplicate", "inappropriate", "legal", "length", "termsOfUse", "trademark",
                     "uploaderAccountClosed", "uploaderAccountSuspended"}
ENDPOINTS = {"insert", "upload", "list", "update", "token", "authorize", "channels", "playlist_items"}
# Google OAuth 2.0 for web server apps: authorize at accounts.google.com/o/oauth2/v2/auth
# (access_type=offline for a refresh token; PKCE S256/plain optional), exchange at
# oauth2.googleapis.com/token with code, client_id, client_secret, redirect_uri,
# grant_type=authorization_code and code_verifier [developers.google.com/identity/protocols/oauth2/web-server].
# A code's lifetime is not documented (unverified): 10 minutes here.
AUTHORIZATION_CODE_TTL = 600.0
# The scopes each method accepts (the `scopes` of its discovery-document method; the "Authorization"
# section of developers.google.com/youtube/v3/docs/videos/update, .../videos/insert, .../videos/list,
# .../channels/list). youtube.upload alone cannot call videos.update: Google answers 403
# insufficientPermissions.
_YT = "https://www.googleapis.com/auth/"
SCOPES_ACCEPTED = {
    "insert": {_YT + "youtube", _YT + "youtube.force-ssl", _YT + "youtube.upload", _YT + "youtubepartner"},
    "upload": {_YT + "youtube", _YT + "youtube.force-ssl", _YT + "youtube.upload", _YT + "youtubepartner"},
    "update": {_YT + "youtube", _YT + "youtube.force-ssl", _YT + "youtubepartner"},
    "list": {_YT + "youtube", _YT + "youtube.force-ssl", _YT + "youtube.readonly", _YT + "youtubepartner"},
    "channels": {_YT + "youtube", _YT + "youtube.force-ssl", _YT + "youtube.readonly", _YT + "youtubepartner",
                 _YT + "youtubepartner-channel-audit"},
    "playlist_items": {_YT + "youtube", _YT + "youtube.force-ssl", _YT + "youtube.readonly", _YT + "youtubepartner"},
}
# What a token registered with add_account() carries unless told otherwise: upload, edit and read.
DEFAULT_SCOPES = (_YT + "youtube.upload", _YT + "youtube.force-ssl")
CHANNEL_PARTS = {"id", "snippet", "contentDetails", "statistics", "status", "brandingSettings"}
FAULT_KINDS = {"rate_limit", "server_error", "error", "slow", "quota", "interrupt", "fail_processing", "lost_response"}
UPLOAD_PATH = "/upload/youtube/v3/videos"
VIDEOS_PATH = "/youtube/v3/videos"
_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_QUERY_RE = re.compile(r"^bytes \*/(\d+|\*)$")
_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


class ApiError(Exception):
    def __init__(self, status: int, reason: str, message: str, domain: str = "youtube.api"):
        super().__init__(message)
        self.status, self.reason, self.message, self.domain = status, reason, message, domain


def _video_id() -> str:
    return secrets.token_urlsafe(8)[:11].replace("-", "x").replace("_", "y")


def tags_length(tags: list[str]) -> int:
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(len(tags) - 1, 0)


class YouTubeSandbox(CatalogueSandbox, Sandbox):
    _thread_name = "youtube-sandbox"
    ENDPOINTS, FAULT_KINDS, error_type = ENDPOINTS, FAULT_KINDS, ApiError
    log_code_key, ok_code = "reason", "ok"
    handler_faults = {"interrupt": "interrupt"}
    contract_host = "www.googleapis.com"  # also plays oauth2.googleapis.com (/token) and accounts.google.com

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, list_requests_before_processed: int = 1,
                 daily_quota: int = 10_000, insert_daily_calls: int = 100, channel_upload_cap: int | None = None,
                 clients: dict[str, str] | None = None, require_explicit_privacy: bool = True,
                 uploads_stay_private: bool = False, clock: Callable[[], float] = time.time):
        super().__init__(host, port, clock=clock, clients=clients)
        self.list_requests_before_processed = list_requests_before_processed
        self.daily_quota, self.insert_daily_calls = daily_quota, insert_daily_calls
        self.channel_upload_cap = channel_upload_cap
        # The API defaults an omitted privacyStatus to public (2026-11); we never want that, so say so loudly.
        self.require_explicit_privacy = require_explicit_privacy
        self.uploads_stay_private = uploads_stay_private
        self._tokens: dict[str, str] = {}   # access token -> channel id
        self._refresh: dict[str, str] = {}  # refresh token -> channel id
        self._scopes: dict[str, frozenset[str]] = {}  # access or refresh token -> the scopes granted with it
        self._channels: dict[str, dict] = {}
        self.oauth = AuthorizationServer(code_ttl=AUTHORIZATION_CODE_TTL, pkce="optional", clock=clock)
        self.reset()

    def _clear_state(self) -> None:
        self._sessions: dict[str, dict] = {}
        self._videos: dict[str, dict] = {}
        self._fail_queue: collections.deque = collections.deque()
        self._quota_used = {"general": 0, "insert": 0}
        self._uploads_by_channel: collections.Counter = collections.Counter()
        self._published: dict[str, float] = {}  # video id -> sandbox clock when the upload completed

    # ---- Python control API ----
    def add_account(self, access_token: str, refresh_token: str | None = None, *, channel_id: str | None = None,
                    title: str | None = None, scopes: tuple[str, ...] = DEFAULT_SCOPES) -> dict:
        """A channel the token authorizes (with `scopes`). Returns its platform ids."""
        with self._lock:
            channel_id = channel_id or "UC" + secrets.token_urlsafe(16)[:22].replace("-", "x").replace("_", "y")
            self._channels.setdefault(channel_id, {"id": channel_id, "title": title or f"Sandbox channel {len(self._channels) + 1}"})
            self._tokens[access_token] = channel_id
            self._scopes[access_token] = frozenset(scopes)
            if refresh_token:
                self._refresh[refresh_token] = channel_id
                self._scopes[refresh_token] = frozenset(scopes)
            return {"channel_id": channel_id}

    def expire_token(self, access_token: str) -> None:
        """The access token stops working (its hour is up): the next call answers 401."""
        with self._lock:
            self._tokens.pop(access_token, None)

    def revoke_authorization(self, channel_id: str) -> None:
        """The owner removed the app's access: its access and refresh tokens stop working."""
        with self._lock:
            for table in (self._tokens, self._refresh):
                for token in [t for t, channel in table.items() if channel == channel_id]:
                    del table[token]

    def _fault(self, endpoint: str, kind: str, params: dict) -> dict:
        """Faults (after `skip=N` more requests pass through): rate_limit (403 rateLimitExceeded;
        http_status=429 and reason=... allowed), server_error (503 backendError), quota (403
        quotaExceeded), error (http_status=..., reason=..., message=...), interrupt (upload only: store
        `store_bytes` of the chunk (default half, rounded down to 256 KiB granules unless exact=True;
        "all" = the whole chunk, completing the upload if it was the last), then respond="drop" (close
        the connection without an answer, the default) or "server_error"), lost_response (upload only:
        interrupt with store_bytes="all": the chunk is stored, the answer dropped or a 503),
        fail_processing (upload only: the next completed upload ends with failure_reason=... or
        rejection_reason=...)."""
        if kind in ("interrupt", "fail_processing", "lost_response") and endpoint != "upload":
            raise ValueError(f"{kind} faults apply to endpoint='upload'")
        if kind == "fail_processing":
            fr, rr = params.get("failure_reason"), params.get("rejection_reason")
            if (fr is None) == (rr is None) or (fr and fr not in FAILURE_REASONS) or (rr and rr not in REJECTION_REASONS):
                raise ValueError("fail_processing needs one of failure_reason=<documented> / rejection_reason=<documented>")
        if kind == "error" and not ({"http_status"} <= params.keys() and ({"reason", "code"} & params.keys())):
            raise ValueError("error faults need http_status=... and reason=...")
        if kind in ("interrupt", "lost_response") and params.get("respond", "drop") not in ("drop", "server_error"):
            raise ValueError(f"{kind} respond must be 'drop' or 'server_error'")
        if kind == "lost_response":  # the upload handler loses the answer, after storing the whole chunk
            return {**params, "kind": "interrupt", "store_bytes": "all"}
        return {"kind": kind, **params}

    def _place_fault(self, endpoint: str, fault: dict, count: int) -> dict | None:
        if fault["kind"] == "fail_processing":
            self._fail_queue.extend([{k: v for k, v in fault.items() if k != "kind"}] * count)
            return None
        return fault

    def _pending_platform_faults(self) -> int:
        return len(self._fail_queue)

    def set_quota_used(self, general: int | None = None, insert: int | None = None) -> None:
        with self._lock:
            if general is not None:
                self._quota_used["general"] = general
            if insert is not None:
                self._quota_used["insert"] = insert

    # ---- metrics (videos.list part=statistics) ----
    def add_video(self, access_token: str, *, age_seconds: float = 0.0, title: str = "Sandbox video",
                  privacy: str = "public") -> str:
        """A processed video of the token's channel, uploaded `age_seconds` ago; returns its id. Its
        statistics grow with the sandbox clock from then on."""
        with self._lock:
            channel = self._tokens[access_token]
            vid = _video_id()
            self._videos[vid] = {
                "id": vid, "channel_id": channel, "snippet": {"title": title, "categoryId": "22"},
                "status": {**STATUS_DEFAULTS, "privacyStatus": privacy, "uploadStatus": "processed"}, "size": 0,
                "sha256": hashlib.sha256(b"").hexdigest(), "chunks": [], "list_requests": 0, "updates": [],
                "_fail": None, "processingDetails": {"processingStatus": "succeeded"}}
            self._published[vid] = self._clock() - age_seconds
            return vid

    def delete_video(self, video_id: str) -> None:
        """The owner deleted the video: videos.list leaves it out from now on."""
        with self._lock:
            self._videos.pop(video_id, None)

    def metrics_calls(self, status: int | None = None) -> int:
        """videos.list requests that asked for part=statistics (any outcome, or only `status`)."""
        with self._lock:
            return sum(1 for e in self._log if e["endpoint"] == "list" and "statistics" in e.get("part", "")
                       and status in (None, e["status"]))

    def _metrics_now(self, video_id: str) -> dict[str, str]:
        live = engagement(video_id, self._clock() - self._published.get(video_id, self._clock()))
        # dislikeCount is private since 2021-12 and favoriteCount is always 0 (deprecated).
        return {"viewCount": str(live.views), "likeCount": str(live.likes), "favoriteCount": "0",
                "commentCount": str(live.comments)}

    @property
    def quota_used(self) -> dict[str, int]:
        with self._lock:
            return dict(self._quota_used)

    posts = snapshot("_videos", doc="Completed uploads by video id: resource, status, sha256 of the bytes, chunk log.")
    sessions = snapshot("_sessions")

    # ---- server lifecycle ----
    @property
    def token_url(self) -> str:
        return self._base_url + "/token"

    # ---- request plumbing ----
    @staticmethod
    def _endpoint(request: Request) -> str:
        if request.path == UPLOAD_PATH:
            return "upload" if request.method == "PUT" else "insert"
        if request.path == VIDEOS_PATH:
            return "update" if request.method == "PUT" else "list"
        if request.path == "/token":
            return "token"
        if request.path == "/o/oauth2/v2/auth":  # accounts.google.com in production; one host here
            return "authorize"
        if request.path == "/youtube/v3/channels":
            return "channels"
        if request.path == "/youtube/v3/playlistItems":
            return "playlist_items"
        return "unknown"

    def _route(self, call: Call) -> Route:
        request = call.request
        endpoint = self._endpoint(request)
        if endpoint == "unknown":
            raise ApiError(404, "notFound", f"no such endpoint: {request.method} {request.path}", "global")
        return Route(endpoint, {"insert": "POST", "upload": "PUT", "list": "GET", "update": "PUT", "token": "POST",
                                "authorize": "GET", "channels": "GET", "playlist_items": "GET"}[endpoint])

    def _wrong_method(self, call: Call, expected: str) -> ApiError:
        return ApiError(405, "methodNotAllowed", f"{call.request.path} expects {expected}", "global")

    def _log_fields(self, call: Call) -> dict:
        # statistics reads are told apart from status polls by their part; catalogue reads by ids and pages
        args = call.request.args
        conditional = {"if_none_match": bool(call.request.headers.get("If-None-Match"))}
        if call.endpoint == "list":
            return {"part": args.get("part", ""), "ids": len([i for i in args.get("id", "").split(",") if i]),
                    **conditional}
        if call.endpoint == "playlist_items":
            return {"max_results": args.get("maxResults"), "page_token": args.get("pageToken"), **conditional}
        return conditional if call.endpoint == "channels" else {}

    def _take_fault(self, call: Call) -> dict | None:
        # An interrupt waits for a chunk that carries bytes (a status query passes it by).
        with self._lock:
            return self._faults.take(call.endpoint, lambda fault: fault["kind"] != "interrupt" or bool(call.body))

    def _handle(self, call: Call) -> Response:
        return getattr(self, "_h_" + call.endpoint)(call.request, call.body, call.truncated, call.log, **call.args)

    def _crash(self) -> ApiError:
        return ApiError(500, "backendError", "sandbox crashed", "global")

    def _fault_error(self, call: Call, fault: dict) -> ApiError:
        kind = fault["kind"]
        if kind == "rate_limit":
            return ApiError(int(fault.get("http_status", 403)), fault.get("reason", "rateLimitExceeded"),
                            "The request cannot be completed because you have exceeded your quota rate (injected).",
                            "youtube.quota")
        if kind == "server_error":
            return ApiError(int(fault.get("http_status", 503)), "backendError", "Backend Error (injected)", "global")
        if kind == "quota":
            return ApiError(403, "quotaExceeded", "The request cannot be completed because you have exceeded your quota.",
                            "youtube.quota")
        return ApiError(int(fault["http_status"]), str(fault.get("reason") or fault.get("code")),
                        str(fault.get("message", "injected error")), str(fault.get("domain", "youtube.api")))

    def _error(self, call: Call, e: ApiError) -> Response:
        endpoint = call.endpoint
        if endpoint == "token":  # OAuth endpoints answer {"error": "...", "error_description": "..."}
            body = {"error": e.reason, "error_description": e.message}
        else:
            status_word = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                           429: "RESOURCE_EXHAUSTED"}.get(e.status, "UNAVAILABLE" if e.status >= 500 else "FAILED_PRECONDITION")
            err = {"message": e.message, "domain": e.domain, "reason": e.reason}
            if e.status == 401:
                err.update(location="Authorization", locationType="header")
            body = {"error": {"code": e.status, "message": e.message, "errors": [err], "status": status_word}}
        response = Response(json.dumps(body), status=e.status, mimetype="application/json")
        if e.status == 401 and endpoint != "token":
            response.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
        response.sandbox_code = e.reason
        return response

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict | None = None) -> Response:
        response = Response(json.dumps(data), status=status, mimetype="application/json", headers=headers or {})
        response.sandbox_code = "ok"
        return response

    def _auth(self, request: Request) -> str:
        token = bearer_token(request)
        with self._lock:
            channel = self._tokens.get(token) if token else None
            granted = self._scopes.get(token, frozenset())
        if channel is None:
            raise ApiError(401, "authError" if token else "required",
                           "Request had invalid authentication credentials. Expected OAuth 2 access token.", "global")
        accepted = SCOPES_ACCEPTED.get(self._endpoint(request))
        if accepted is not None and not granted & accepted:
            raise ApiError(403, "insufficientPermissions", "Request had insufficient authentication scopes.", "global")
        return channel

    def _charge(self, endpoint: str) -> None:
        bucket, cost = COSTS[endpoint]
        limit = self.daily_quota if bucket == "general" else self.insert_daily_calls
        with self._lock:
            if self._quota_used[bucket] + cost > limit:
                raise ApiError(403, "quotaExceeded", "The request cannot be completed because you have exceeded your "
                               "quota.", "youtube.quota")
            self._quota_used[bucket] += cost  # invalid requests cost too: charged before checking them

    @staticmethod
    def _json_body(request: Request, body: bytes) -> dict:
        if request.mimetype != "application/json":
            raise ApiError(400, "badContent", "Content-Type must be application/json; charset=UTF-8")
        charset = request.mimetype_params.get("charset")
        if charset is not None and charset.lower() != "utf-8":
            raise ApiError(400, "badContent", "the JSON body must be UTF-8")
        try:
            parsed = json.loads(body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "parseError", "This API does not support parsing form-encoded input.", "global") from None
        if not isinstance(parsed, dict):
            raise ApiError(400, "parseError", "the body must be a JSON object (a video resource)", "global")
        return parsed

    # ---- videos.insert (resumable session start) ----
    def _h_insert(self, request: Request, body: bytes, truncated: bool, entry: dict) -> Response:
        channel = self._auth(request)
        self._charge("insert")
        if request.args.get("uploadType") != "resumable":
            raise ApiError(400, "invalidUploadType", "the sandbox supports uploadType=resumable only", "global")
        parts = {p.strip() for p in request.args.get("part", "").split(",") if p.strip()}
        if not parts or not parts <= RESOURCE_PARTS | {"id", "contentDetails", "processingDetails"}:
            raise ApiError(400, "unexpectedPart", f"part must name video resource parts, got {request.args.get('part')!r}")
        length = request.headers.get("X-Upload-Content-Length", "")
        if not length.isdigit() or int(length) < 1:
            raise ApiError(400, "invalidUploadLength", "X-Upload-Content-Length must be the file size in bytes")
        if int(length) > MAX_VIDEO_BYTES:
            raise ApiError(400, "invalidUploadLength", "X-Upload-Content-Length exceeds 256 GB")
        media_type = request.headers.get("X-Upload-Content-Type", "")
        if not (media_type.startswith("video/") or media_type == "application/octet-stream"):
            raise ApiError(400, "invalidContentType", "X-Upload-Content-Type must be video/* or application/octet-stream")
        resource = self._json_body(request, body)
        self._check_resource(resource, parts)
        with self._lock:
            if self.channel_upload_cap is not None and self._uploads_by_channel[channel] >= self.channel_upload_cap:
                raise ApiError(400, "uploadLimitExceeded", "The user has exceeded the number of videos they may upload.",
                               "youtube.video")
            upload_id = secrets.token_urlsafe(24)
            self._sessions[upload_id] = {
                "upload_id": upload_id, "channel_id": channel, "total": int(length), "content_type": media_type,
                "resource": copy.deepcopy(resource), "stored": 0, "chunks": [], "video_id": None,
                "_data": bytearray(), "_expired": False,
            }
        entry["upload_id"] = upload_id[:6]
        location = f"{self._base_url}{UPLOAD_PATH}?uploadType=resumable&upload_id={upload_id}"
        return self._json({}, headers={"Location": location, "X-GUploader-UploadID": upload_id})

    def _check_resource(self, resource: dict, parts: set[str]) -> None:
        extra = set(resource) - RESOURCE_PARTS - {"kind", "id"}
        if extra:
            raise ApiError(400, "unexpectedPart", f"unknown video resource part(s): {sorted(extra)}")
        for part in set(resource) & RESOURCE_PARTS:
            if part not in parts:
                raise ApiError(400, "unexpectedPart", f"the body sets {part!r} but the part parameter omits it")
        self._check_snippet(resource.get("snippet"))
        status = resource.get("status", {})
        if not isinstance(status, dict):
            raise ApiError(400, "invalidVideoMetadata", "status must be an object", "youtube.video")
        self._check_status(status, new=True)

    def _check_snippet(self, snippet: Any) -> None:
        if not isinstance(snippet, dict):
            raise ApiError(400, "invalidTitle", "snippet.title is required", "youtube.video")
        unknown = set(snippet) - SNIPPET_FIELDS
        if unknown:
            raise ApiError(400, "invalidVideoMetadata", f"unknown snippet field(s): {sorted(unknown)}", "youtube.video")
        title = snippet.get("title")
        if not isinstance(title, str) or not title.strip() or len(title) > TITLE_MAX or "<" in title or ">" in title:
            raise ApiError(400, "invalidTitle", "The request metadata specifies an invalid or empty video title.",
                           "youtube.video")
        description = snippet.get("description", "")
        if (not isinstance(description, str) or len(description.encode("utf-8")) > DESCRIPTION_MAX_BYTES
                or "<" in description or ">" in description):
            raise ApiError(400, "invalidDescription", "The request metadata specifies an invalid video description.",
                           "youtube.video")
        tags = snippet.get("tags", [])
        if (not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags)
                or tags_length(tags) > TAGS_MAX):
            raise ApiError(400, "invalidTags", "The request metadata specifies invalid video keywords.", "youtube.video")
        category = snippet.get("categoryId")
        if category is not None and category not in CATEGORIES:
            raise ApiError(400, "invalidCategoryId", "The snippet.categoryId property specifies an invalid category ID.",
                           "youtube.video")

    def _check_status(self, status: dict, *, new: bool) -> None:
        unknown = set(status) - STATUS_FIELDS
        if unknown:
            raise ApiError(400, "invalidVideoMetadata", f"unknown status field(s): {sorted(unknown)}", "youtube.video")
        privacy = status.get("privacyStatus")
        if privacy is None and self.require_explicit_privacy:
            raise ApiError(400, "invalidVideoMetadata", "status.privacyStatus is missing: it would default to PUBLIC "
                           "(sandbox refuses; always send it)", "youtube.video")
        if privacy is not None and privacy not in PRIVACY:
            raise ApiError(400, "invalidVideoMetadata", f"status.privacyStatus {privacy!r} is not one of {sorted(PRIVACY)}",
                           "youtube.video")
        for flag in ("selfDeclaredMadeForKids", "containsSyntheticMedia", "embeddable", "publicStatsViewable"):
            if flag in status and not isinstance(status[flag], bool):
                raise ApiError(400, "invalidVideoMetadata", f"status.{flag} must be a boolean", "youtube.video")
        if "license" in status and status["license"] not in LICENSES:
            raise ApiError(400, "invalidVideoMetadata", f"status.license must be one of {sorted(LICENSES)}", "youtube.video")
        if "publishAt" in status:
            value = status["publishAt"]
            if not isinstance(value, str) or not _ISO_RE.match(value):
                raise ApiError(400, "invalidPublishAt", "status.publishAt must be an ISO 8601 date-time", "youtube.video")
            if privacy != "private":
                raise ApiError(400, "invalidPublishAt", "status.publishAt can only be set while privacyStatus is private",
                               "youtube.video")
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if when.timestamp() <= self._clock():
                raise ApiError(400, "invalidPublishAt", "status.publishAt must be in the future", "youtube.video")

    # ---- the session URI: chunks and status queries ----
    def _h_upload(self, request: Request, body: bytes, truncated: bool, entry: dict,
                  interrupt: dict | None = None) -> Response:
        upload_id = request.args.get("upload_id", "")
        with self._lock:
            session = self._sessions.get(upload_id)
            if session is None or session["_expired"] or request.args.get("uploadType") != "resumable":
                raise ApiError(404, "notFound", "the upload session does not exist or expired", "global")
        channel = self._auth(request)
        entry["upload_id"] = upload_id[:6]
        with self._lock:
            if channel != session["channel_id"]:
                raise ApiError(403, "forbidden", "the access token does not own this upload session", "youtube.video")
            content_range = request.headers.get("Content-Range", "").strip()
            entry["content_range"] = content_range
            total = session["total"]
            if request.content_length is None:
                raise ApiError(400, "badContent", "Content-Length is required", "global")
            if truncated or len(body) != request.content_length:
                raise ApiError(400, "badContent", "body length does not match Content-Length", "global")
            q = _QUERY_RE.match(content_range)
            if q:  # step 3: how much is stored?
                if body:
                    raise ApiError(400, "badContent", "a status query has an empty body and Content-Length: 0", "global")
                if q.group(1) != "*" and int(q.group(1)) != total:
                    raise ApiError(400, "badContent", f"Content-Range total must be {total}", "global")
                return self._progress(session)
            m = _RANGE_RE.match(content_range)
            if not m:
                if not content_range and len(body) == total and session["stored"] == 0:
                    first, last = 0, total - 1  # the whole file in one PUT, no Content-Range
                else:
                    raise ApiError(400, "badContent", "Content-Range 'bytes FIRST-LAST/TOTAL' (or 'bytes */TOTAL') is "
                                   "required", "global")
            else:
                first, last, declared = (int(g) for g in m.groups())
                if declared != total:
                    raise ApiError(400, "badContent", f"Content-Range total {declared} != X-Upload-Content-Length {total}",
                                   "global")
            if session["video_id"] is not None:
                return self._progress(session)  # already complete: answer with the video again
            ctype = request.mimetype
            if not (ctype.startswith("video/") or ctype == "application/octet-stream"):
                raise ApiError(400, "badContent", "chunk Content-Type must be video/* or application/octet-stream", "global")
            if first > last or last >= total:
                raise ApiError(400, "badContent", f"Content-Range {first}-{last} is outside 0-{total - 1}", "global")
            if len(body) != last - first + 1:
                raise ApiError(400, "badContent", "Content-Length does not match Content-Range", "global")
            if first != session["stored"]:
                # Strict: the client must resume from exactly the byte the session reported.
                raise ApiError(400, "badContent", f"chunk starts at {first} but the session has {session['stored']} bytes; "
                               "query the session and resume from there", "global")
            if last != total - 1 and len(body) % GRANULE:
                raise ApiError(400, "badContent", f"every chunk but the last must be a multiple of {GRANULE} bytes "
                               f"(got {len(body)})", "global")
            if interrupt is not None and interrupt.get("store_bytes") == "all":
                self._store(session, body, first)  # accepted in full, but the answer is lost
                entry["interrupted_after"] = len(body)
                if session["stored"] == total:
                    self._complete(session)
                if interrupt.get("respond", "drop") == "drop":
                    raise Drop()
                raise ApiError(503, "backendError", "Backend Error (injected after storing the chunk)", "global")
            if interrupt is not None:
                keep = interrupt.get("store_bytes")
                keep = len(body) // 2 if keep is None else int(keep)
                if not interrupt.get("exact"):
                    keep -= keep % GRANULE
                keep = max(0, min(keep, len(body) - 1))
                self._store(session, body[:keep], first)
                entry["interrupted_after"] = keep
                if interrupt.get("respond", "drop") == "drop":
                    raise Drop()
                raise ApiError(503, "backendError", "Backend Error (injected mid-chunk)", "global")
            self._store(session, body, first)
            if session["stored"] < total:
                return self._progress(session)
            return self._complete(session)

    def _store(self, session: dict, data: bytes, first: int) -> None:
        if data:
            session["_data"] += data
            session["stored"] += len(data)
            session["chunks"].append([first, first + len(data) - 1])

    def _progress(self, session: dict) -> Response:
        if session["video_id"] is not None:
            return self._json(self._resource(self._videos[session["video_id"]], {"id", "snippet", "status"}), status=200)
        headers = {"Range": f"bytes=0-{session['stored'] - 1}"} if session["stored"] else {}
        response = Response(b"", status=308, headers=headers)
        response.sandbox_code = "resume_incomplete"
        return response

    def _complete(self, session: dict) -> Response:
        vid = _video_id()
        data = bytes(session["_data"])
        resource = session["resource"]
        status = {**STATUS_DEFAULTS, **resource.get("status", {})}
        status.setdefault("privacyStatus", "public")
        fail = self._fail_queue.popleft() if self._fail_queue else None
        self._videos[vid] = {
            "id": vid, "channel_id": session["channel_id"], "snippet": copy.deepcopy(resource.get("snippet", {})),
            "status": {**status, "uploadStatus": "uploaded"}, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "chunks": copy.deepcopy(session["chunks"]),
            "list_requests": 0, "updates": [], "_fail": fail,
        }
        session["video_id"] = vid
        session["_data"] = bytearray()  # bytes live on as the hash only
        self._uploads_by_channel[session["channel_id"]] += 1
        self._published[vid] = self._clock()
        return self._json(self._resource(self._videos[vid], {"id", "snippet", "status"}), status=200)

    def _iso(self, timestamp: float) -> str:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _resource(self, video: dict, parts: set[str]) -> dict:
        out: dict[str, Any] = {"kind": "youtube#video", "id": video["id"]}
        if "snippet" in parts:
            published = self._published.get(video["id"])
            out["snippet"] = {**copy.deepcopy(video["snippet"]), "channelId": video["channel_id"],
                              "publishedAt": self._iso(published if published is not None else self._clock())}
        if "contentDetails" in parts:
            out["contentDetails"] = self.video_content_details(video)
        if "status" in parts:
            out["status"] = copy.deepcopy(video["status"])
        if "processingDetails" in parts:
            out["processingDetails"] = copy.deepcopy(video.get("processingDetails") or {"processingStatus": "processing"})
        if "statistics" in parts:
            out["statistics"] = self._metrics_now(video["id"])
        out["etag"] = etag_of(out)  # changes exactly when what is answered does
        return out

    # ---- videos.list: processing advances per request ----
    def _h_list(self, request: Request, body: bytes, truncated: bool, entry: dict) -> Response:
        channel = self._auth(request)
        self._charge("list")
        parts = {p.strip() for p in request.args.get("part", "").split(",") if p.strip()}
        if not parts or not parts <= LIST_PARTS:
            raise ApiError(400, "unknownPart", f"part must be a subset of {sorted(LIST_PARTS)}")
        ids = [i for i in request.args.get("id", "").split(",") if i]
        if not ids:
            raise ApiError(400, "missingRequiredParameter", "No filter selected. Expected one of: id, chart, myRating")
        if len(ids) > 50:
            raise ApiError(400, "invalidValue", "id accepts at most 50 video ids")
        items = []
        with self._lock:
            for vid in ids:
                video = self._videos.get(vid)
                if video is None:
                    continue  # unknown ids are silently absent, as in the API
                # Processing advances on requests that look at it, not on a statistics read.
                if video["status"]["uploadStatus"] == "uploaded" and parts - {"id", "statistics"}:
                    video["list_requests"] += 1
                    if video["list_requests"] > self.list_requests_before_processed:
                        self._finish_processing(video)
                item = self._resource(video, parts)
                if video["channel_id"] != channel:
                    item.pop("processingDetails", None)  # only the owner sees processingDetails
                items.append(item)
        return self._conditional(request, {"kind": "youtube#videoListResponse", "items": items,
                                           "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)}})

    def _finish_processing(self, video: dict) -> None:
        fail = video["_fail"]
        if fail and fail.get("failure_reason"):
            video["status"].update(uploadStatus="failed", failureReason=fail["failure_reason"])
            video["processingDetails"] = {"processingStatus": "failed", "processingFailureReason": "transcodeFailed"}
        elif fail:
            video["status"].update(uploadStatus="rejected", rejectionReason=fail["rejection_reason"])
            video["processingDetails"] = {"processingStatus": "terminated"}
        else:
            video["status"]["uploadStatus"] = "processed"
            video["processingDetails"] = {"processingStatus": "succeeded"}

    # ---- videos.update part=snippet,status: each part named is replaced whole ----
    def _h_update(self, request: Request, body: bytes, truncated: bool, entry: dict) -> Response:
        channel = self._auth(request)
        self._charge("update")
        parts = {p.strip() for p in request.args.get("part", "").split(",") if p.strip()}
        if not parts or not parts <= UPDATE_PARTS:
            raise ApiError(400, "unexpectedPart", "the sandbox supports videos.update with part=snippet and/or status")
        resource = self._json_body(request, body)
        vid = resource.get("id")
        if not isinstance(vid, str) or set(resource) - {"id", "kind", "etag"} - parts:
            raise ApiError(400, "invalidVideoMetadata", "the body must be {id, and the parts named in part}",
                           "youtube.video")
        if parts - set(resource):  # a named part that is absent would be cleared: refuse rather than guess
            raise ApiError(400, "invalidVideoMetadata", f"the body omits part(s) {sorted(parts - set(resource))}",
                           "youtube.video")
        snippet = status = None
        if "snippet" in parts:
            if not isinstance(resource["snippet"], dict):
                raise ApiError(400, "invalidVideoMetadata", "snippet must be an object", "youtube.video")
            snippet = {k: v for k, v in resource["snippet"].items() if k not in SNIPPET_READ_ONLY}
            if "categoryId" not in snippet:  # documented: required whenever the snippet is updated
                raise ApiError(400, "invalidCategoryId", "snippet.categoryId is required when updating the snippet",
                               "youtube.video")
            self._check_snippet(snippet)
        if "status" in parts:
            status = resource["status"]
            if not isinstance(status, dict):
                raise ApiError(400, "invalidVideoMetadata", "status must be an object", "youtube.video")
            if "privacyStatus" not in status:  # the part is replaced whole: an omitted privacy would reset
                raise ApiError(400, "invalidVideoMetadata", "status.privacyStatus is required on update", "youtube.video")
            self._check_status(status, new=False)
        with self._lock:
            video = self._videos.get(vid)
            if video is None:
                raise ApiError(404, "videoNotFound", "The video that you are trying to update cannot be found.",
                               "youtube.video")
            if video["channel_id"] != channel:
                raise ApiError(403, "forbidden", "The video that you are trying to update belongs to another channel.",
                               "youtube.video")
            if snippet is not None:
                video["snippet"] = copy.deepcopy(snippet)  # omitted fields (description, tags) are deleted
            if status is not None:
                keep = {k: v for k, v in video["status"].items() if k in ("uploadStatus", "failureReason", "rejectionReason")}
                video["status"] = {**STATUS_DEFAULTS, **copy.deepcopy(status), **keep}  # omitted: the default
                if self.uploads_stay_private:  # accepted, and quietly not applied
                    video["status"]["privacyStatus"] = "private"
            video["updates"].append({part: copy.deepcopy(resource[part]) for part in sorted(parts)})
            return self._json(self._resource(video, {"id"} | parts))

    def edit_video(self, video_id: str, *, snippet: dict | None = None, status: dict | None = None) -> None:
        """The channel owner edits the video in YouTube Studio: the given fields change, others stay."""
        with self._lock:
            video = self._videos[video_id]
            video["snippet"].update(copy.deepcopy(snippet or {}))
            video["status"].update(copy.deepcopy(status or {}))

    # ---- OAuth token endpoint ----
    def _h_token(self, request: Request, body: bytes, truncated: bool, entry: dict) -> Response:
        form = form_fields(request, body, lambda message: ApiError(400, "invalid_request", message))
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not client_id or not secret:
            raise ApiError(401, "invalid_client", "The OAuth client was not found.")
        if self._clients is not None and not secrets.compare_digest(self._clients.get(client_id, "").encode(), secret.encode()):
            raise ApiError(401, "invalid_client", "Unauthorized")
        if form.get("grant_type") == "authorization_code":
            return self._authorization_code(form)
        if form.get("grant_type") != "refresh_token":
            raise ApiError(400, "unsupported_grant_type", "Invalid grant_type: " + str(form.get("grant_type")))
        with self._lock:
            channel = self._refresh.get(form.get("refresh_token", ""))
            if channel is None:
                raise ApiError(400, "invalid_grant", "Token has been expired or revoked.")
            access = "ya29." + secrets.token_urlsafe(32)
            self._tokens[access] = channel  # no rotation: the refresh token stays valid and is not returned
            scopes = self._scopes[access] = self._scopes.get(form.get("refresh_token", ""), frozenset())
        return self._json({"access_token": access, "expires_in": 3599, "token_type": "Bearer",
                           "scope": " ".join(sorted(scopes))})

    def _authorization_code(self, form: dict) -> Response:
        # Google answers a bad, used or expired code (or verifier) with invalid_grant "Bad Request".
        grant = self.oauth.redeem_form(form, lambda r: ApiError(r.status, r.error, r.description))
        channel = grant["user"]
        with self._lock:
            access = "ya29." + secrets.token_urlsafe(32)
            self._tokens[access] = channel
            self._scopes[access] = frozenset(grant["scopes"])
            out = {"access_token": access, "expires_in": 3599, "token_type": "Bearer", "scope": " ".join(grant["scopes"])}
            if grant.get("offline"):  # a refresh token only for access_type=offline
                refresh = "1//" + secrets.token_urlsafe(40)
                self._refresh[refresh] = channel
                self._scopes[refresh] = frozenset(grant["scopes"])
                out["refresh_token"] = refresh
        return self._json(out)

    def _h_authorize(self, request: Request, body: bytes, truncated: bool, entry: dict) -> Response:
        args = request.args.to_dict()
        return self.oauth.authorize_page(args, extra={"offline": args.get("access_type") == "offline"})

    def _h_channels(self, request: Request, body: bytes, truncated: bool, entry: dict) -> Response:
        """channels.list part=... with mine=true or id=<channel ids> (1 quota unit)."""
        channel_id = self._auth(request)
        parts = {p.strip() for p in request.args.get("part", "").split(",") if p.strip()}
        if not parts:
            raise ApiError(400, "required", "Required parameter: part", "global")
        if parts - CHANNEL_PARTS:
            raise ApiError(400, "unknownPart", f"unknown part {sorted(parts - CHANNEL_PARTS)[0]!r}", "youtube.part")
        ids = [i for i in request.args.get("id", "").split(",") if i]
        if (request.args.get("mine") == "true") == bool(ids):
            raise ApiError(400, "missingRequiredParameter", "the sandbox serves channels.list with mine=true or id=...",
                           "youtube.parameter")
        self._charge("list")
        with self._lock:
            items = [self.channel_resource(c, parts) for c in (ids or [channel_id]) if c in self._channels]
        return self._conditional(request, {"kind": "youtube#channelListResponse",
                                           "pageInfo": {"totalResults": len(items), "resultsPerPage": 5}, "items": items})

    def expire_session(self, video_or_upload_id: str | None = None, *, completed_too: bool = False) -> None:
        """Make an upload session answer 404 (expired); without an id, every open session.
        `completed_too`: also sessions whose video exists (they no longer say so)."""
        with self._lock:
            for sid, s in self._sessions.items():
                if video_or_upload_id in (None, sid) and (s["video_id"] is None or completed_too):
                    s["_expired"] = True


    # ---- HTTP control surface (/_sandbox/...) besides state, reset and inject ----
    def state(self) -> dict:
        return {**super().state(), "quota_used": self.quota_used}

    def controls(self) -> dict:
        return {**super().controls(), "quota": lambda p: self.set_quota_used(**p)}

def main(argv: list[str] | None = None) -> int:
    def options(parser) -> None:
        parser.add_argument("--list-requests-before-processed", type=int, default=1)

    def build(args) -> YouTubeSandbox:
        sandbox = YouTubeSandbox(args.host, args.port,
                                 list_requests_before_processed=args.list_requests_before_processed)
        channels.extend(sandbox.add_account(token)["channel_id"] for token in args.token)
        return sandbox

    channels: list[str] = []
    return serve(argv, description="YouTube Data API v3 sandbox", port=9104, build=build, options=options,
                 ready=lambda sandbox: {"channels": channels})


if __name__ == "__main__":
    sys.exit(main())
