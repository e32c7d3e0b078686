"""Contract-faithful Instagram Graph API content-publishing sandbox (docs/platforms.md#instagram).

Real HTTP on localhost so the real client is exercised end to end: media containers (image,
reel, carousel children and parent), the container status progression, media_publish (once per
container) and the 24 h publishing cap, the account's media list, the Graph error body, Business
Use Case throttling headers, the token flows (Facebook Login `fb_exchange_token` for short-lived
tokens, Instagram Login `ig_refresh_token`) and injected faults, among them a publish whose
answer is lost. Like Meta's servers it FETCHES the media URL it is given: it must be a well-formed,
unexpired V4 signed Cloud Storage URL, and the bytes are checked (JPEG, <= 8 MiB, aspect ratio
4:5..1.91:1 from the SOF header; reels must be video).

Meta serves the two logins on different hosts, and so does this sandbox: one listening server per
host it plays (HOSTS), sharing state. Instagram Login tokens (Business Login for Instagram) are
valid on graph.instagram.com only, Facebook Login tokens on graph.facebook.com only; a token shown
to the other host is answered as Meta answers a token it cannot parse (190), so a call sent to the
wrong host fails [developers.facebook.com/docs/instagram-platform/overview]. The consent page
(www.instagram.com) and the code exchange (api.instagram.com) have their own servers too.

Container processing advances per status request (`status_checks_before_finished`), never on
wall-clock time, so tests stay fast. Token values are never logged or kept in snapshots.
"""
from __future__ import annotations

import base64
import collections
import copy
import json
import re
import secrets
import struct
import sys
import threading
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from werkzeug.wrappers import Request, Response

from infra.local.sandboxes.base import Call, Route, Sandbox, refuse_unknown, serve, snapshot
from infra.local.sandboxes.engagement import engagement
from infra.local.sandboxes.recording import recording_app
from infra.local.sandboxes.server import AuthorizationServer, OAuthRefusal, serve_in_thread

MiB = 1024 * 1024
MAX_IMAGE_BYTES = 8 * MiB
MIN_RATIO, MAX_RATIO = 4 / 5, 1.91
CAPTION_MAX, MENTIONS_MAX, CAROUSEL_MIN, CAROUSEL_MAX = 2200, 20, 2, 10
QUOTA_WINDOW = 86400.0
LONG_LIVED_SECONDS = 60 * 86400
VIDEO_TYPES = {"video/mp4", "video/quicktime"}
MEDIA_PARAMS = {"image_url", "video_url", "media_type", "caption", "alt_text", "is_carousel_item", "children",
                "share_to_feed", "cover_url", "thumb_offset", "audio_name", "user_tags", "location_id",
                "collaborators", "product_tags", "trial_params", "upload_type", "is_ai_generated", "access_token"}
CONTAINER_FIELDS = {"id", "status_code", "status", "copyright_check_status"}
MEDIA_FIELDS = {"id", "media_type", "media_product_type", "permalink", "shortcode", "timestamp", "caption",
                "username", "children", "like_count", "comments_count", "alt_text", "is_shared_to_feed", "owner", "is_ai_generated"}
IG_USER_FIELDS = {"id", "username", "name"}  # of IGUser's fields, the ones the sandbox serves
SECRET_PARAMS = {"access_token", "client_secret", "fb_exchange_token"}
ENDPOINTS = {"publishing_limit", "media", "media_list", "stories", "container_status", "media_publish", "media_read", "me",
             "ig_user",
             "fb_token", "ig_refresh", "authorize", "ig_code", "ig_exchange", "insights", "batch"}
# Graph batch requests: at most 50 operations per batch [developers.facebook.com/docs/graph-api/batch-requests].
# The error for a longer batch is not documented (unverified): (#100) with Meta's usual wording here.
BATCH_MAX = 50
# GET /<media>/insights?metric= (docs/platforms.md#instagram-analytics): the current metrics, and the ones
# removed in 2025-04, whose request fails as a whole.
# Stories [developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media]:
# media_type=STORIES with image_url or video_url, not both; images as for feed posts (JPEG, 8 MiB) but
# full-screen, so the feed's aspect-ratio range does not apply (9:16 recommended); video MP4/MOV of
# 3-60 s and at most 100 MB. No caption is shown on a story; this sandbox refuses one (whether Meta
# refuses or ignores it is unverified). A story leaves the /stories edge and its insights after 24 h.
STORY_VIDEO_MAX_BYTES = 100 * 1000 * 1000
STORY_VIDEO_SECONDS = (3.0, 60.0)
STORY_LIFETIME = 86400.0
# Story insights [developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights]:
# no likes, comments or saved; navigation and replies are stories' own.
STORY_METRICS = {"views", "reach", "shares", "total_interactions", "follows", "profile_visits", "profile_activity",
                 "navigation", "replies"}
INSIGHT_METRICS = {"views", "reach", "likes", "comments", "shares", "saved", "total_interactions", "follows",
                   "profile_visits", "profile_activity", "ig_reels_avg_watch_time", "ig_reels_video_view_total_time"}
REMOVED_METRICS = {"impressions", "plays", "video_views", "clips_replays_count", "ig_reels_aggregated_all_plays_count"}
# Business Login for Instagram: authorize at www.instagram.com/oauth/authorize (scope comma-separated,
# state optional, no PKCE documented; "#_" is appended to the redirect), exchange the code at POST
# api.instagram.com/oauth/access_token (client_id, client_secret, grant_type=authorization_code,
# redirect_uri, code) for a 1-hour token, then GET graph.instagram.com/access_token
# ?grant_type=ig_exchange_token for a 60-day one; codes are valid 1 hour and single use
# [developers.facebook.com/documentation/instagram-platform/instagram-api-with-instagram-login/business-login;
# .../reference/oauth-authorize; .../reference/access_token].
AUTHORIZATION_CODE_TTL = 3600.0
FB_GRAPH, IG_GRAPH, IG_API, IG_WWW = "graph.facebook.com", "graph.instagram.com", "api.instagram.com", "www.instagram.com"
HOSTS = (FB_GRAPH, IG_GRAPH, IG_API, IG_WWW)
GRAPH_LOGIN = {FB_GRAPH: "facebook", IG_GRAPH: "instagram"}  # whose tokens each Graph host takes
FAULT_KINDS = {"rate_limit", "server_error", "error", "slow", "container_error", "container_expired", "lost_response"}
LOST_RESPONSE_VIA = {"drop", "server_error", "timeout"}
SHORT_LIVED_SECONDS = 3600
MEDIA_PAGE_DEFAULT, MEDIA_PAGE_MAX = 25, 100
RATE_LIMIT_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80002: "(#80002) There have been too many calls to this Instagram account. Wait a bit and try again.",
}
_HASHTAG_RE = re.compile(r"(?<![\w&])#(\w+)")
_MENTION_RE = re.compile(r"(?<![\w.])@([\w.]+)")
_HEX_RE = re.compile(r"^[0-9a-f]+$")


class GraphError(Exception):
    def __init__(self, code: int, message: str, *, subcode: int | None = None, status: int = 400,
                 is_transient: bool = False, user_msg: str | None = None, headers: dict | None = None,
                 error_type: str = "OAuthException"):
        super().__init__(message)
        self.code, self.message, self.subcode, self.status = code, message, subcode, status
        self.is_transient, self.user_msg, self.headers, self.error_type = is_transient, user_msg, headers or {}, error_type

    @property
    def label(self) -> str:
        return f"{self.code}/{self.subcode}" if self.subcode else str(self.code)


def _trace_id() -> str:
    return secrets.token_urlsafe(16)[:23]


def _graph_id() -> str:
    return str(17_800_000_000_000_000 + secrets.randbelow(10**15))


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the first SOF0..SOF15 marker (not DHT/JPG/DAC), or None."""
    if not data.startswith(b"\xff\xd8"):
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if marker == 0xD9:
            return None
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    return None


_SANDBOXES: weakref.WeakSet[InstagramSandbox] = weakref.WeakSet()


def token_login(token: str) -> str | None:
    """Which login issued `token` in any sandbox of this process ("facebook" | "instagram"), or None:
    the contract checks ask it whether a token went to its login's host."""
    for sandbox in list(_SANDBOXES):
        with sandbox._lock:
            info = sandbox._tokens.get(token)
        if info is not None:
            return info.get("login", "facebook")
    return None


def mp4_seconds(data: bytes) -> float | None:
    """Duration from the moov/mvhd box of an MP4 / QuickTime file held in memory, or None."""
    def boxes(start: int, end: int):
        i = start
        while i + 8 <= end:
            size, kind = struct.unpack(">I4s", data[i:i + 8])
            head = 8
            if size == 1 and i + 16 <= end:
                size, head = struct.unpack(">Q", data[i + 8:i + 16])[0], 16
            elif size == 0:
                size = end - i
            if size < head:
                return
            yield kind, i + head, min(i + size, end)
            i += size
    for kind, start, end in boxes(0, len(data)):
        if kind == b"moov":
            for inner, body, stop in boxes(start, end):
                if inner == b"mvhd" and stop - body >= 20:
                    if data[body] == 1 and stop - body >= 32:
                        timescale, duration = struct.unpack(">IQ", data[body + 20:body + 32])
                    else:
                        timescale, duration = struct.unpack(">II", data[body + 12:body + 20])
                    return duration / timescale if timescale else None
    return None


class InstagramSandbox(Sandbox):
    _thread_name = "instagram-sandbox"
    ENDPOINTS, FAULT_KINDS, error_type, ok_code = ENDPOINTS, FAULT_KINDS, GraphError, "ok"
    dropped_status, dropped_code, metrics_endpoint = 0, "dropped", "batch"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, api_version: str = "v25.0",
                 status_checks_before_finished: int = 1, quota_total: int = 100, max_hashtags: int = 30,
                 clients: dict[str, str] | None = None, require_signed_urls: bool = True,
                 fetch_timeout: float = 10.0, clock: Callable[[], float] = time.time):
        super().__init__(host, port, clock=clock, clients=clients)
        self.api_version = api_version
        self.status_checks_before_finished = status_checks_before_finished
        # Media lists are eventually consistent: a new media stays out of this many list requests.
        self.listing_lag = 0
        self.quota_total = quota_total
        self.max_hashtags = max_hashtags  # the API docs still say 30 (the 5-per-post product limit is unverified)
        self.require_signed_urls = require_signed_urls
        self.fetch_timeout = fetch_timeout
        self._users: dict[str, dict] = {}     # ig user id -> {"id", "username"}
        self._tokens: dict[str, dict] = {}    # token -> {"user", "issued_at", "expires_at", "revoked"}
        self.oauth = AuthorizationServer(code_ttl=AUTHORIZATION_CODE_TTL, pkce="ignored", scope_separator=",",
                                         clock=clock)
        self._servers: dict[str, tuple[Any, threading.Thread]] = {}
        self._urls: dict[str, str] = {}
        self._base_url = ""
        self.reset()
        _SANDBOXES.add(self)

    def _clear_state(self) -> None:
        self._containers: dict[str, dict] = {}
        self._media: dict[str, dict] = {}
        self._published_at: dict[str, list[float]] = collections.defaultdict(list)
        self._container_faults: collections.deque = collections.deque()
        self._unlisted: dict[str, int] = {}   # media id -> list requests it still stays out of
        self._fetches: list[dict] = []
        self._published_clock: dict[str, float] = {}  # media id -> sandbox clock when it was published

    # ---- Python control API ----
    def add_account(self, access_token: str, refresh_token: str | None = None, *, ig_user_id: str | None = None,
                    username: str | None = None, token_age_seconds: float = 2 * 86400,
                    expires_in: float = LONG_LIVED_SECONDS, login: str = "facebook") -> dict[str, str]:
        """An Instagram professional account and its long-lived token(s). `refresh_token` is a
        second long-lived token of the same user. `expires_in` counts from when the token was
        issued, `token_age_seconds` ago. `login`: which login issued the tokens, "facebook"
        (valid on graph.facebook.com) or "instagram" (graph.instagram.com). Returns {"ig_user_id", "username"}."""
        if login not in ("facebook", "instagram"):
            raise ValueError("login must be facebook or instagram")
        with self._lock:
            uid = ig_user_id or next((t["user"] for tok, t in self._tokens.items() if tok == access_token), None) or _graph_id()
            # fb_user_id: the Facebook user a Facebook Login token belongs to (what /me is on graph.facebook.com).
            user = self._users.setdefault(uid, {"id": uid, "username": username or f"sandbox_ig_{len(self._users) + 1}",
                                                "fb_user_id": _graph_id()})
            if username:
                user["username"] = username
            now = self._clock()
            for token in filter(None, (access_token, refresh_token)):
                self._tokens[token] = {"user": uid, "issued_at": now - token_age_seconds,
                                       "expires_at": now - token_age_seconds + expires_in, "revoked": False,
                                       "long_lived": True, "login": login}
            return {"ig_user_id": uid, "username": user["username"]}

    def add_short_lived_token(self, token: str, ig_user_id: str) -> None:
        """A one-hour user token, as Facebook Login hands it to the app (what fb_exchange_token takes)."""
        with self._lock:
            now = self._clock()
            self._tokens[token] = {"user": ig_user_id, "issued_at": now, "expires_at": now + SHORT_LIVED_SECONDS,
                                   "revoked": False, "long_lived": False, "login": "facebook"}

    def token_login(self, token: str) -> str:
        """Which login issued the token: "facebook" or "instagram"."""
        with self._lock:
            return self._tokens[token]["login"]

    def token_expires_at(self, token: str) -> float:
        with self._lock:
            return self._tokens[token]["expires_at"]

    def expire_token(self, token: str) -> None:
        """The token now answers 190 / 463 (session expired)."""
        with self._lock:
            self._tokens[token]["expires_at"] = self._clock() - 1

    def revoke_authorization(self, ig_user_id: str) -> None:
        """The account removed the app: every token of theirs answers 190 / 460."""
        with self._lock:
            for info in self._tokens.values():
                if info["user"] == ig_user_id:
                    info["revoked"] = True

    def revoke_token(self, token: str) -> None:
        """The token now answers 190 / 460 (session invalidated, e.g. password changed)."""
        with self._lock:
            self._tokens[token]["revoked"] = True

    def is_token_valid(self, token: str) -> bool:
        with self._lock:
            info = self._tokens.get(token)
            return bool(info) and not info["revoked"] and info["expires_at"] > self._clock()

    def set_quota_usage(self, ig_user_id: str, used: int) -> None:
        """Pretend `used` posts were published in the last 24 h."""
        with self._lock:
            self._published_at[ig_user_id] = [self._clock()] * used

    def quota_usage(self, ig_user_id: str) -> int:
        with self._lock:
            now = self._clock()
            window = [t for t in self._published_at[ig_user_id] if now - t < QUOTA_WINDOW]
            self._published_at[ig_user_id] = window
            return len(window)

    def _fault(self, endpoint: str, kind: str, params: dict) -> dict:
        """rate_limit(code=4|17|32|613|80002, regain_minutes=...), server_error,
        error(code=..., subcode=..., message=..., http_status=400, is_transient=False).
        container_error(subcode=...) / container_expired (endpoint "media"): the next created
        container ends in ERROR / EXPIRED instead of FINISHED.
        lost_response(via="drop" | "server_error" | "timeout", seconds=...) on "media" or
        "media_publish": the call is done (the container made, the media published), then the
        answer is lost: the connection is closed without a reply, a 500 comes back, or the reply
        is held `seconds` (longer than the client waits)."""
        if kind in ("container_error", "container_expired") and endpoint != "media":
            raise ValueError(f"{kind} faults apply to endpoint 'media'")
        if kind == "error" and "code" not in params:
            raise ValueError("error faults need code=... (and usually subcode=..., message=...)")
        if kind == "lost_response":
            if endpoint not in ("media", "media_publish"):
                raise ValueError("lost_response faults apply to the calls that create: 'media', 'media_publish'")
            params.setdefault("via", "drop")
            if params["via"] not in LOST_RESPONSE_VIA:
                raise ValueError(f"lost_response via must be one of {sorted(LOST_RESPONSE_VIA)}")
            if params["via"] == "timeout" and "seconds" not in params:
                raise ValueError("lost_response via='timeout' needs seconds=... (longer than the client's timeout)")
            params["lose"] = {"server_error": "error"}.get(params["via"], params["via"])
        return {"kind": kind, **params}

    def _place_fault(self, endpoint: str, fault: dict, count: int) -> dict | None:
        if fault["kind"] in ("container_error", "container_expired"):
            self._container_faults.extend(dict(fault) for _ in range(count))
            return None
        return fault

    def _pending_platform_faults(self) -> int:
        return len(self._container_faults)

    # ---- metrics (media insights, fetched in Graph batch requests) ----
    def add_media(self, access_token: str, *, age_seconds: float = 0.0, media_type: str = "IMAGE") -> str:
        """A media the token's account published `age_seconds` ago (IMAGE, REELS or STORIES, an image
        story); returns its id. Its insights grow with the sandbox clock from then on."""
        with self._lock:
            user = self._tokens[access_token]["user"]
            media_id = _graph_id()
            published = self._clock() - age_seconds
            self._media[media_id] = {
                "id": media_id, "owner": user, "username": self._users[user]["username"], "container_id": None,
                "media_type": "VIDEO" if media_type == "REELS" else "IMAGE",
                "media_product_type": {"REELS": "REELS", "STORIES": "STORY"}.get(media_type, "FEED"), "caption": "",
                "alt_text": None, "is_ai_generated": False,
                "is_shared_to_feed": True, "children": [], "permalink": f"https://www.instagram.com/p/{media_id}/",
                "shortcode": media_id,
                "timestamp": datetime.fromtimestamp(published, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
                "like_count": 0, "comments_count": 0}
            self._published_clock[media_id] = published
            return media_id

    def delete_media(self, media_id: str) -> None:
        """The account deleted the media: its insights answer error 100 / 33 from now on."""
        with self._lock:
            self._media.pop(media_id, None)

    def _metrics_now(self, media_id: str) -> dict[str, int]:
        live = engagement(media_id, self._clock() - self._published_clock.get(media_id, self._clock()))
        values = {"views": live.views, "reach": live.reach, "likes": live.likes, "comments": live.comments,
                  "shares": live.shares, "saved": live.saves}
        values["total_interactions"] = live.likes + live.comments + live.shares + live.saves
        return values

    def expire_container(self, container_id: str) -> None:
        """24 hours pass without a publish: the container now reads EXPIRED (documented status_code)."""
        with self._lock:
            c = self._containers[container_id]
            if c["status_code"] == "PUBLISHED":
                raise ValueError("a published container does not expire")
            c["status_code"], c["status"] = "EXPIRED", "Expired: the container was not published within 24 hours"

    posts = snapshot("_media", private=True, doc="Published media by IG media id.")
    containers = snapshot("_containers")

    @property
    def fetches(self) -> list[dict]:
        """Every media URL fetch: {"url_path", "status", "bytes", "content_type"} (query strings dropped)."""
        with self._lock:
            return copy.deepcopy(self._fetches)

    # ---- server lifecycle ----
    def start(self) -> str:
        """One listening server per host (HOSTS), all serving this sandbox's state; each request
        knows the host it reached (environ["sandbox.host"]). Returns graph.facebook.com's URL."""
        for host in HOSTS:
            def app(environ, start_response, host=host):
                environ["sandbox.host"] = host
                return self._wsgi(environ, start_response)
            server, thread = serve_in_thread(self.host, self.port if host == FB_GRAPH else 0,
                                             recording_app(app, sandbox="instagram", host=lambda host=host: host),
                                             f"{self._thread_name}-{host}")
            self._servers[host] = (server, thread)
            self._urls[host] = f"http://{self.host}:{server.server_port}"
        self.port = self._servers[FB_GRAPH][0].server_port
        self._base_url = self._urls[FB_GRAPH]
        return self._base_url

    def stop(self) -> None:
        for server, thread in self._servers.values():
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
        self._servers.clear()

    def url(self, host: str) -> str:
        """Where the server playing `host` listens (no version prefix)."""
        return self._urls[host]

    @property
    def graph_url(self) -> str:
        """graph.facebook.com with the version prefix: where Facebook Login tokens are valid."""
        return f"{self._urls[FB_GRAPH]}/{self.api_version}"

    @property
    def ig_graph_url(self) -> str:
        """graph.instagram.com with the version prefix: where Instagram Login tokens are valid."""
        return f"{self._urls[IG_GRAPH]}/{self.api_version}"

    def graph_url_for(self, login: str) -> str:
        return self.ig_graph_url if login == "instagram" else self.graph_url

    @property
    def settings(self) -> dict[str, str]:
        """The POSTGATE_INSTAGRAM_* settings that point Postgate at this sandbox's hosts."""
        return {"POSTGATE_INSTAGRAM_FB_LOGIN_BASE_URL": self.graph_url,
                "POSTGATE_INSTAGRAM_IG_LOGIN_BASE_URL": self.ig_graph_url,
                "POSTGATE_INSTAGRAM_AUTHORIZE_URL": self._urls[IG_WWW] + "/oauth/authorize",
                "POSTGATE_INSTAGRAM_TOKEN_URL": self._urls[IG_API] + "/oauth/access_token",
                "POSTGATE_INSTAGRAM_EXCHANGE_URL": self._urls[IG_GRAPH] + "/access_token"}

    # ---- request plumbing ----
    def _route(self, call: Call) -> Route:
        request = call.request
        request.graph_params = self._params(request)
        endpoint, parts = self._endpoint(request)
        # media_list is GET .../media
        expected = "POST" if endpoint in ("media", "media_publish", "ig_code", "batch") else "GET"
        return Route(endpoint, expected, {"parts": parts, "params": request.graph_params})

    def _endpoint(self, request: Request) -> tuple[str, list[str]]:
        host = request.environ.get("sandbox.host", FB_GRAPH)
        path = request.path.rstrip("/")
        # Business Login for Instagram's unversioned endpoints, each on its own host.
        if host == IG_WWW:
            if path == "/oauth/authorize":
                return "authorize", []
            raise GraphError(2500, f"Unknown path {path} on {IG_WWW}")
        if host == IG_API:
            if path == "/oauth/access_token":
                return "ig_code", []
            raise GraphError(2500, f"Unknown path {path} on {IG_API}")
        if host == IG_GRAPH and path == "/refresh_access_token":
            return "ig_refresh", []
        if host == IG_GRAPH and path == "/access_token":
            return "ig_exchange", []
        parts = [p for p in path.split("/") if p]
        if not parts or not re.fullmatch(r"v\d+\.\d+", parts[0]):
            raise GraphError(2500, "Unknown path components: the Graph API path must start with a version, e.g. "
                                   f"/{self.api_version}/", error_type="OAuthException")
        if parts[0] != self.api_version:
            raise GraphError(2635, f"You are calling a version of the Graph API ({parts[0]}) this sandbox does not "
                                   f"serve; use {self.api_version}.")
        rest = parts[1:]
        if not rest and request.method == "POST":
            return "batch", []
        if len(rest) == 2 and rest[1] == "insights":
            return "insights", rest
        if rest == ["oauth", "access_token"] and host == FB_GRAPH:
            return "fb_token", []
        if len(rest) == 2 and rest[1] == "content_publishing_limit":
            return "publishing_limit", rest
        if len(rest) == 2 and rest[1] == "media":
            return ("media_list" if request.method == "GET" else "media"), rest
        if len(rest) == 2 and rest[1] == "media_publish":
            return "media_publish", rest
        if len(rest) == 2 and rest[1] == "stories":
            return "stories", rest
        if rest == ["me"]:
            return "me", []
        if len(rest) == 1:
            with self._lock:
                if rest[0] in self._media:
                    return "media_read", rest
                if rest[0] in self._users:
                    return "ig_user", rest
            return "container_status", rest
        raise GraphError(2500, f"Unknown path components: /{'/'.join(rest)}")

    def _wrong_method(self, call: Call, expected: str) -> GraphError:
        return GraphError(100, f"Unsupported {call.request.method.lower()} request on this endpoint; use {expected}")

    def _handle(self, call: Call) -> Response:
        body = getattr(self, "_h_" + call.endpoint)(call.request, call.args["parts"], call.args["params"])
        response = body if isinstance(body, Response) else Response(json.dumps(body), mimetype="application/json")
        response.sandbox_code = "ok"
        return response

    def _crash(self) -> GraphError:
        return GraphError(1, "An unknown error has occurred.", status=500, is_transient=True)

    def _log_fields(self, call: Call) -> dict:
        request, params = call.request, getattr(call.request, "graph_params", {})
        return {"host": request.environ.get("sandbox.host", FB_GRAPH),
                "params": {k: v for k, v in params.items() if k not in SECRET_PARAMS},
                "content_type": request.mimetype or None,
                "auth": "header" if request.headers.get("Authorization") else
                        ("param" if "access_token" in params else "none")}

    @staticmethod
    def _params(request: Request) -> dict[str, Any]:
        """Graph parameters: query string, then a form or JSON body (both are accepted by Graph)."""
        params: dict[str, Any] = dict(parse_qsl(request.query_string.decode("utf-8", "replace"), keep_blank_values=True))
        if request.method == "POST":
            raw = request.get_data()
            if request.mimetype == "application/json":
                try:
                    body = json.loads(raw.decode("utf-8") or "{}")
                except (UnicodeDecodeError, ValueError):
                    raise GraphError(100, "The request body is not valid JSON") from None
                if not isinstance(body, dict):
                    raise GraphError(100, "The JSON body must be an object")
                params.update(body)
            elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                params.update(request.form.to_dict())
            elif raw:
                raise GraphError(100, f"Unsupported Content-Type {request.mimetype!r}: send form fields or JSON")
        return params

    def _fault_error(self, call: Call | None, fault: dict) -> GraphError:
        if fault["kind"] == "rate_limit":
            code = int(fault.get("code", 4))
            headers = {}
            if fault.get("regain_minutes") is not None:
                headers["X-Business-Use-Case-Usage"] = json.dumps({"sandbox": [{
                    "type": "instagram", "call_count": 100, "total_cputime": 12, "total_time": 40,
                    "estimated_time_to_regain_access": int(fault["regain_minutes"])}]})
            return GraphError(code, RATE_LIMIT_MESSAGES.get(code, f"(#{code}) Rate limit reached"),
                              subcode=fault.get("subcode"), is_transient=True, headers=headers)
        if fault["kind"] in ("server_error", "lost_response"):
            return GraphError(2, "An unexpected error has occurred. Please retry your request later.", status=500,
                              is_transient=True)
        return GraphError(int(fault["code"]), str(fault.get("message", "injected error")), subcode=fault.get("subcode"),
                          status=int(fault.get("http_status", 400)), is_transient=bool(fault.get("is_transient", False)),
                          user_msg=fault.get("user_msg"))

    def _error(self, call: Call, e: GraphError) -> Response:
        return self._render(e)

    @staticmethod
    def _render(e: GraphError) -> Response:
        error: dict[str, Any] = {"message": e.message, "type": e.error_type, "code": e.code}
        if e.subcode:
            error["error_subcode"] = e.subcode
        error["is_transient"] = e.is_transient
        if e.user_msg:
            error["error_user_msg"] = e.user_msg
        error["fbtrace_id"] = _trace_id()
        response = Response(json.dumps({"error": error}), status=e.status, mimetype="application/json",
                            headers={"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_request"', **e.headers})
        response.sandbox_code = e.label
        return response

    def _auth(self, request: Request, params: dict) -> str:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        token = value.strip() if scheme.lower() in ("bearer", "oauth") else ""
        token = token or str(params.get("access_token") or "")
        if not token:
            raise GraphError(104, "An access token is required to request this resource.")
        with self._lock:
            info = self._tokens.get(token)
            if info is None or not self._host_takes(request, info):
                raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
            if info["revoked"]:
                raise GraphError(190, "Error validating access token: The session has been invalidated because the "
                                      "user changed their password or Facebook has changed the session for security reasons.",
                                 subcode=460)
            if info["expires_at"] <= self._clock():
                raise GraphError(190, "Error validating access token: Session has expired.", subcode=463)
            return info["user"]

    @staticmethod
    def _host_takes(request: Request, info: dict) -> bool:
        """graph.instagram.com knows Instagram Login tokens only, graph.facebook.com Facebook Login
        ones only: to the other host such a token is one it cannot parse."""
        wanted = GRAPH_LOGIN.get(request.environ.get("sandbox.host", FB_GRAPH))
        return wanted is None or info.get("login", "facebook") == wanted

    def _own_user(self, request: Request, params: dict, ig_id: str) -> str:
        user = self._auth(request, params)
        if ig_id != user:
            raise GraphError(100, f"Unsupported request. Object with ID '{ig_id}' does not exist, cannot be loaded due "
                                  "to missing permissions, or does not support this operation.", subcode=33)
        return user

    @staticmethod
    def _fields(params: dict, allowed: set[str], node: str) -> list[str]:
        fields = [f.strip() for f in str(params.get("fields", "")).split(",") if f.strip()]
        for f in fields:
            if f not in allowed:
                raise GraphError(100, f"Tried accessing nonexisting field ({f}) on node type ({node})")
        return fields

    @staticmethod
    def _bool(params: dict, name: str) -> bool | None:
        value = params.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1"):
            return True
        if str(value).lower() in ("false", "0"):
            return False
        raise GraphError(100, f"Param {name} must be a boolean")

    # ---- endpoints ----
    def _h_publishing_limit(self, request: Request, parts: list[str], params: dict) -> dict:
        user = self._own_user(request, params, parts[0])
        fields = self._fields(params, {"quota_usage", "config"}, "ContentPublishingLimit") or ["quota_usage"]
        row: dict[str, Any] = {}
        if "quota_usage" in fields:
            row["quota_usage"] = self.quota_usage(user)
        if "config" in fields:
            row["config"] = {"quota_total": self.quota_total, "quota_duration": int(QUOTA_WINDOW)}
        return {"data": [row]}

    def _h_media(self, request: Request, parts: list[str], params: dict) -> dict:
        user = self._own_user(request, params, parts[0])
        refuse_unknown(params, MEDIA_PARAMS,
                       lambda name: GraphError(100, f"(#100) Param {name} is not a valid parameter for creating IG media"))
        media_type = params.get("media_type")
        carousel_item = bool(self._bool(params, "is_carousel_item"))
        share_to_feed = self._bool(params, "share_to_feed")
        # The AI info label (Meta's Instagram changelog, 2026-06-22): any container, a carousel's on the
        # carousel container only.
        ai_label = self._bool(params, "is_ai_generated")
        image_url, video_url = params.get("image_url"), params.get("video_url")
        caption = params.get("caption")
        if params.get("upload_type"):
            raise GraphError(100, "The sandbox does not implement resumable uploads; pass video_url")
        if caption is not None:
            self._check_caption(str(caption))
        if carousel_item:
            if media_type not in (None, "VIDEO"):
                raise GraphError(100, f"media_type {media_type} is not valid for a carousel item", subcode=2207023)
            if caption is not None or share_to_feed is not None:
                raise GraphError(100, "caption and share_to_feed are not supported on carousel items")
            if ai_label is not None:
                raise GraphError(100, "is_ai_generated is set on the carousel container only, not on its items")
            if media_type == "VIDEO":
                kind, url, want = "CAROUSEL_ITEM_VIDEO", self._require(video_url, "video_url"), "video"
                if image_url:
                    raise GraphError(100, "A video carousel item takes video_url, not image_url")
            else:
                kind, url, want = "CAROUSEL_ITEM_IMAGE", self._require(image_url, "image_url"), "image"
                if video_url:
                    raise GraphError(100, "video_url on a carousel item requires media_type=VIDEO")
        elif media_type is None:
            if video_url:
                raise GraphError(100, "The media_type VIDEO is no longer supported; single videos are published as "
                                      "media_type=REELS", subcode=2207023)
            kind, url, want = "IMAGE", self._require(image_url, "image_url"), "image"
            if share_to_feed is not None:
                raise GraphError(100, "share_to_feed applies to reels only")
        elif media_type == "REELS":
            kind, url, want = "REELS", self._require(video_url, "video_url"), "video"
            if image_url or params.get("alt_text"):
                raise GraphError(100, "A reel takes video_url (no image_url, no alt_text)")
        elif media_type == "STORIES":
            if bool(image_url) == bool(video_url):
                raise GraphError(100, "A story takes image_url or video_url (one of them)", subcode=2207023)
            if caption is not None:
                raise GraphError(100, "(#100) Param caption is not supported for stories: a story shows no caption")
            if params.get("alt_text") or share_to_feed is not None or params.get("children"):
                raise GraphError(100, "A story takes image_url or video_url only")
            kind, url, want = "STORIES", image_url or video_url, "story_image" if image_url else "story_video"
        elif media_type == "CAROUSEL":
            kind, url, want = "CAROUSEL", None, None
            if image_url or video_url or params.get("alt_text") or share_to_feed is not None:
                raise GraphError(100, "A carousel container takes children (and caption) only")
        else:
            raise GraphError(100, f"The media type {media_type} is not supported" +
                             ("; VIDEO was replaced by REELS" if media_type == "VIDEO" else ""), subcode=2207023)
        fetched = self._fetch_media(url, want) if url else None
        children: list[str] = []
        if kind == "CAROUSEL":
            children = [c.strip() for c in str(params.get("children") or "").split(",") if c.strip()]
            if not CAROUSEL_MIN <= len(children) <= CAROUSEL_MAX:
                raise GraphError(100, f"The carousel must have between {CAROUSEL_MIN} and {CAROUSEL_MAX} children; "
                                      f"got {len(children)}", subcode=2207028)
        with self._lock:
            for child in children:
                c = self._containers.get(child)
                if c is None or c["owner"] != user or not c["kind"].startswith("CAROUSEL_ITEM"):
                    raise GraphError(100, f"Child {child} is not a carousel item container of this account",
                                     subcode=2207028)
            cid = _graph_id()
            fault = self._container_faults.popleft() if self._container_faults and kind != "CAROUSEL" else None
            self._containers[cid] = {
                "id": cid, "owner": user, "kind": kind, "status_code": "IN_PROGRESS", "status": "In Progress",
                "caption": caption, "alt_text": params.get("alt_text"), "share_to_feed": share_to_feed,
                "is_ai_generated": bool(ai_label), "children": children, "media": fetched, "media_id": None, "created_at": self._clock(),
                "_gets": 0, "_fault": fault,
            }
            return {"id": cid}

    @staticmethod
    def _require(value: Any, name: str) -> str:
        if not value:
            raise GraphError(100, f"The parameter {name} is required")
        return str(value)

    def _check_caption(self, caption: str) -> None:
        if len(caption) > CAPTION_MAX:
            raise GraphError(36004, f"The caption is too long (max {CAPTION_MAX} characters)", subcode=2207010)
        if len(_HASHTAG_RE.findall(caption)) > self.max_hashtags:
            raise GraphError(36004, f"The caption has more than {self.max_hashtags} hashtags", subcode=2207010)
        if len(_MENTION_RE.findall(caption)) > MENTIONS_MAX:
            raise GraphError(36004, f"The caption mentions more than {MENTIONS_MAX} accounts", subcode=2207040)

    def _check_signed_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise GraphError(9004, "Only photo or video can be accepted as media type; the URI is not fetchable",
                             subcode=2207052)
        if not self.require_signed_urls:
            return
        q = {k: v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
        missing = [k for k in ("X-Goog-Algorithm", "X-Goog-Credential", "X-Goog-Date", "X-Goog-Expires",
                               "X-Goog-SignedHeaders", "X-Goog-Signature") if not q.get(k)]
        problem = None
        if missing:
            problem = f"not a V4 signed URL (missing {', '.join(missing)})"
        elif q["X-Goog-Algorithm"] != "GOOG4-RSA-SHA256":
            problem = f"X-Goog-Algorithm {q['X-Goog-Algorithm']} is not GOOG4-RSA-SHA256"
        elif len(q["X-Goog-Credential"].split("/")) != 5 or not q["X-Goog-Credential"].endswith("/storage/goog4_request"):
            problem = "X-Goog-Credential is not <email>/<date>/<region>/storage/goog4_request"
        elif "host" not in q["X-Goog-SignedHeaders"].split(";"):
            problem = "X-Goog-SignedHeaders must include host"
        elif not _HEX_RE.match(q["X-Goog-Signature"]):
            problem = "X-Goog-Signature is not hex"
        else:
            try:
                signed_at = datetime.strptime(q["X-Goog-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
                expires = int(q["X-Goog-Expires"])
            except ValueError:
                signed_at, expires = 0.0, -1
            if not 1 <= expires <= 604800:
                problem = "X-Goog-Expires must be 1..604800 seconds"
            elif time.time() > signed_at + expires:
                problem = "the signed URL has expired"
            elif signed_at > time.time() + 900:
                problem = "X-Goog-Date is in the future"
        if problem:
            raise GraphError(9004, f"The media could not be fetched from this URI: {problem}", subcode=2207052)

    def _fetch_media(self, url: str, want: str) -> dict:
        self._check_signed_url(url)
        try:
            response = requests.get(url, timeout=self.fetch_timeout)
        except requests.Timeout:
            raise GraphError(-2, "It takes too long to download the media.", subcode=2207003, is_transient=True) from None
        except requests.RequestException:
            raise GraphError(9004, "The media could not be fetched from this URI", subcode=2207052) from None
        data, content_type = response.content, response.headers.get("Content-Type", "").split(";")[0].strip()
        with self._lock:
            self._fetches.append({"url_path": urlsplit(url).path, "status": response.status_code, "bytes": len(data),
                                  "content_type": content_type})
        if response.status_code != 200:
            raise GraphError(9004, f"The media could not be fetched from this URI (HTTP {response.status_code})",
                             subcode=2207052)
        if want in ("image", "story_image"):
            if len(data) > MAX_IMAGE_BYTES:
                raise GraphError(36000, "The image size is too large.", subcode=2207004,
                                 user_msg="The image is too large to download. It should be less than 8 MiB.")
            size = jpeg_size(data)
            if size is None:
                raise GraphError(100, "Only JPEG images are supported (the bytes are not a JPEG)", subcode=2207023)
            width, height = size
            if want == "image" and (not height or not MIN_RATIO - 1e-9 <= width / height <= MAX_RATIO + 1e-9):
                raise GraphError(36003, f"The aspect ratio {width}x{height} is not supported.", subcode=2207009,
                                 user_msg="The submitted image with aspect ratio is not supported: use 4:5 to 1.91:1.")
            return {"kind": "image", "bytes": len(data), "width": width, "height": height}
        if content_type not in VIDEO_TYPES:
            raise GraphError(352, f"The video format is not supported ({content_type or 'no Content-Type'}); "
                                  "use MP4 or MOV", subcode=2207026)
        if want == "story_video":
            if len(data) > STORY_VIDEO_MAX_BYTES:
                raise GraphError(352, "The story video is larger than 100 MB", subcode=2207026)
            seconds = mp4_seconds(data)
            low, high = STORY_VIDEO_SECONDS
            if seconds is None:
                raise GraphError(352, "The video format is not supported (no MP4 movie header)", subcode=2207026)
            if not low <= seconds <= high:  # the error Meta gives is unverified
                raise GraphError(352, f"The story video is {seconds:.1f} s long; stories take {low:.0f}-{high:.0f} s",
                                 subcode=2207026)
            return {"kind": "video", "bytes": len(data), "content_type": content_type, "seconds": seconds}
        return {"kind": "video", "bytes": len(data), "content_type": content_type}

    def _advance(self, c: dict) -> None:
        """One status request's worth of processing."""
        if c["status_code"] != "IN_PROGRESS":
            return
        for child in c["children"]:
            self._advance(self._containers[child])
        c["_gets"] += 1
        if c["_gets"] <= self.status_checks_before_finished:
            return
        failed = next((self._containers[ch] for ch in c["children"]
                       if self._containers[ch]["status_code"] in ("ERROR", "EXPIRED")), None)
        if failed is not None:
            c["status_code"], c["status"] = "ERROR", failed["status"]
            return
        if any(self._containers[ch]["status_code"] != "FINISHED" for ch in c["children"]):
            return
        fault = c["_fault"]
        if fault and fault["kind"] == "container_error":
            subcode = int(fault.get("subcode", 2207053))
            c["status_code"], c["status"] = "ERROR", f"Error: Media upload has failed with error code {subcode}"
        elif fault and fault["kind"] == "container_expired":
            c["status_code"], c["status"] = "EXPIRED", "Expired: the container was not published within 24 hours"
        else:
            c["status_code"], c["status"] = "FINISHED", "Finished: Media has been uploaded and it is ready to be published."

    def _container_for(self, user: str, cid: str) -> dict:
        c = self._containers.get(cid)
        if c is None or c["owner"] != user:
            raise GraphError(100, f"Unsupported get request. Object with ID '{cid}' does not exist, cannot be loaded "
                                  "due to missing permissions, or does not support this operation.", subcode=33)
        return c

    def _h_container_status(self, request: Request, parts: list[str], params: dict) -> dict:
        user = self._auth(request, params)
        fields = self._fields(params, CONTAINER_FIELDS, "ShadowIGMediaBuilder")
        with self._lock:
            c = self._container_for(user, parts[0])
            if "status_code" in fields or "status" in fields:
                self._advance(c)
            out: dict[str, Any] = {}
            for f in fields:
                if f == "copyright_check_status":
                    out[f] = {"status": "completed", "matches_found": False}
                elif f != "id":
                    out[f] = c[f]
            out["id"] = c["id"]
            return out

    def _h_media_publish(self, request: Request, parts: list[str], params: dict) -> dict:
        user = self._own_user(request, params, parts[0])
        refuse_unknown(params, {"creation_id", "access_token"},
                       lambda name: GraphError(100, f"(#100) Param {name} is not a valid parameter for media_publish"))
        cid = str(params.get("creation_id") or "")
        if not cid:
            raise GraphError(100, "The parameter creation_id is required")
        with self._lock:
            c = self._container_for(user, cid)
            if c["kind"].startswith("CAROUSEL_ITEM"):
                raise GraphError(100, "A carousel item cannot be published on its own; publish the CAROUSEL container")
            if c["status_code"] == "PUBLISHED":
                # A container publishes once. Meta documents no error code for the second try
                # (unverified); the client must not depend on this one, only on the refusal.
                raise GraphError(100, "The media container has already been published; create a new container "
                                      "to publish again")
            if c["status_code"] == "EXPIRED":
                raise GraphError(-2, "The media you are trying to access has expired. Please try to upload again.",
                                 subcode=2207020)
            if c["status_code"] == "ERROR":
                raise GraphError(9007, f"The container failed processing: {c['status']}", subcode=2207027)
            if c["status_code"] != "FINISHED":
                raise GraphError(9007, "Media ID is not available", subcode=2207027,
                                 user_msg="The media is not ready for publishing, please wait for a moment")
            if self.quota_usage(user) >= self.quota_total:
                raise GraphError(9, "Application request limit reached", subcode=2207042,
                                 user_msg="You reached maximum number of posts that is allowed to be published by "
                                          "Content Publishing API.")
            media_id = _graph_id()
            shortcode = secrets.token_urlsafe(8).replace("-", "A").replace("_", "B")
            story = c["kind"] == "STORIES"
            media_type = ("VIDEO" if story and c["media"]["kind"] == "video" else
                          {"IMAGE": "IMAGE", "REELS": "VIDEO", "CAROUSEL": "CAROUSEL_ALBUM", "STORIES": "IMAGE"}[c["kind"]])
            self._media[media_id] = {
                "id": media_id, "owner": user, "username": self._users[user]["username"], "container_id": cid,
                "media_type": media_type,
                "media_product_type": {"REELS": "REELS", "STORIES": "STORY"}.get(c["kind"], "FEED"),
                "caption": c["caption"], "alt_text": c["alt_text"], "is_ai_generated": c["is_ai_generated"],
                "is_shared_to_feed": c["share_to_feed"] is not False and not story,
                "children": [{"id": ch, "media_type": "VIDEO" if self._containers[ch]["kind"].endswith("VIDEO") else "IMAGE"}
                             for ch in c["children"]],
                "permalink": (f"https://www.instagram.com/stories/{self._users[user]['username']}/{media_id}/" if story
                              else f"https://www.instagram.com/{'reel' if c['kind'] == 'REELS' else 'p'}/{shortcode}/"),
                "shortcode": shortcode,
                "timestamp": datetime.fromtimestamp(self._clock(), UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
                "like_count": 0, "comments_count": 0,
            }
            c["status_code"], c["status"], c["media_id"] = "PUBLISHED", "Published: Media has been published.", media_id
            if self.listing_lag:
                self._unlisted[media_id] = self.listing_lag
            self._published_at[user].append(self._clock())
            self._published_clock[media_id] = self._clock()
            return {"id": media_id}

    def _h_media_read(self, request: Request, parts: list[str], params: dict) -> dict:
        user = self._auth(request, params)
        fields = self._fields(params, MEDIA_FIELDS, "IGMedia")
        with self._lock:
            m = self._media.get(parts[0])
            if m is None or m["owner"] != user:
                raise GraphError(100, f"Unsupported get request. Object with ID '{parts[0]}' does not exist", subcode=33)
            return self._media_view(m, fields)

    def _h_media_list(self, request: Request, parts: list[str], params: dict, *, stories: bool = False) -> dict:
        """GET /<IG_ID>/media: the account's media, newest first, cursor-paged (`limit`, `after`);
        stories are not on this edge. `stories`: GET /<IG_ID>/stories, the stories still up (24 h)."""
        user = self._own_user(request, params, parts[0])
        fields = self._fields(params, MEDIA_FIELDS, "IGMedia") or ["id"]
        try:
            limit = int(params.get("limit") or MEDIA_PAGE_DEFAULT)
        except ValueError:
            raise GraphError(100, "Param limit must be an integer") from None
        if not 1 <= limit <= MEDIA_PAGE_MAX:
            raise GraphError(100, f"Param limit must be between 1 and {MEDIA_PAGE_MAX}")
        with self._lock:
            now = self._clock()
            newest_first = [m for m in reversed(self._media.values()) if m["owner"] == user
                            and not self._unlisted.get(m["id"])
                            and (m["media_product_type"] == "STORY") == stories
                            and (not stories or now - self._published_clock.get(m["id"], now) < STORY_LIFETIME)]
            for media_id in list(self._unlisted):
                self._unlisted[media_id] -= 1
                if self._unlisted[media_id] <= 0:
                    del self._unlisted[media_id]
            start = 0
            if params.get("after"):
                ids = [m["id"] for m in newest_first]
                cursor = self._uncursor(str(params["after"]))
                if cursor not in ids:
                    raise GraphError(100, "Invalid cursor: after")
                start = ids.index(cursor) + 1
            page = newest_first[start:start + limit]
            body: dict[str, Any] = {"data": [self._media_view(m, fields) for m in page]}
            if page:
                body["paging"] = {"cursors": {"before": self._cursor(page[0]["id"]), "after": self._cursor(page[-1]["id"])}}
                if start + limit < len(newest_first):
                    body["paging"]["next"] = (f"{request.host_url.rstrip('/')}/{self.api_version}/{user}/{'stories' if stories else 'media'}?fields={','.join(fields)}&limit={limit}"
                                              f"&after={self._cursor(page[-1]['id'])}")
            return body

    def _h_stories(self, request: Request, parts: list[str], params: dict) -> dict:
        return self._h_media_list(request, parts, params, stories=True)

    def _h_insights(self, request: Request, parts: list[str], params: dict) -> dict:
        """GET /<media>/insights?metric=a,b: lifetime values, {data: [{name, period, values: [{value}],
        title, description, id}]}."""
        return self._insights(self._auth(request, params), parts[0], params)

    def _insights(self, user: str, media_id: str, params: dict) -> dict:
        metrics = [m.strip() for m in str(params.get("metric", "")).split(",") if m.strip()]
        if not metrics:
            raise GraphError(100, "(#100) The parameter metric is required")
        removed = [m for m in metrics if m in REMOVED_METRICS]
        if removed:
            raise GraphError(100, f"(#100) The Media Insights API does not support the {removed[0]} metric for this "
                                  "media product type (deprecated in v22.0; use views)")
        unknown = [m for m in metrics if m not in INSIGHT_METRICS | STORY_METRICS]
        if unknown:
            raise GraphError(100, f"(#100) metric[0] must be one of the following values: {', '.join(sorted(INSIGHT_METRICS))}")
        with self._lock:
            m = self._media.get(media_id)
            expired_story = (m is not None and m["media_product_type"] == "STORY"
                             and self._clock() - self._published_clock.get(media_id, 0.0) >= STORY_LIFETIME)
            if m is None or m["owner"] != user or expired_story:  # Meta's answer for an expired story is unverified
                raise GraphError(100, f"Unsupported get request. Object with ID '{media_id}' does not exist, cannot be "
                                      "loaded due to missing permissions, or does not support this operation", subcode=33)
            story = m["media_product_type"] == "STORY"
            wrong = [name for name in metrics
                     if (name not in STORY_METRICS if story else name in ("navigation", "replies"))]
            if wrong:
                raise GraphError(100, f"(#100) The Media Insights API does not support the {wrong[0]} metric for this "
                                      f"media product type ({m['media_product_type']})")
            values = self._metrics_now(media_id)
        return {"data": [{"name": name, "period": "lifetime", "values": [{"value": values.get(name, 0)}],
                          "title": name.replace("_", " ").capitalize(), "description": f"Lifetime {name} of the media",
                          "id": f"{media_id}/insights/{name}/lifetime"} for name in metrics]}

    def _h_batch(self, request: Request, parts: list[str], params: dict):
        """POST /vNN.0/ with batch=[{method, relative_url}, ...]: each operation answered as {code,
        headers, body (JSON as a string)}, in order; an operation's failure is its own answer, not the
        batch's. This sandbox serves GET <media>/insights operations. A fault injected on "insights"
        answers the next operation(s) with it (e.g. a throttle inside the batch)."""
        user = self._auth(request, params)
        try:
            operations = json.loads(str(params.get("batch") or ""))
        except ValueError:
            raise GraphError(100, "(#100) The parameter batch must be a JSON array of requests") from None
        if not isinstance(operations, list) or not operations:
            raise GraphError(100, "(#100) The parameter batch must be a non-empty JSON array of requests")
        if len(operations) > BATCH_MAX:
            raise GraphError(100, f"(#100) Too many requests in batch message. Maximum batch size is {BATCH_MAX}")
        answers = [self._batch_operation(user, op) for op in operations]
        return Response(json.dumps(answers), mimetype="application/json")

    def _batch_operation(self, user: str, op: Any) -> dict:
        headers = [{"name": "Content-Type", "value": "application/json; charset=UTF-8"}]
        try:
            if not isinstance(op, dict) or str(op.get("method", "GET")).upper() != "GET":
                raise GraphError(100, "(#100) this sandbox serves GET operations in batches")
            path, _, query = str(op.get("relative_url") or "").lstrip("/").partition("?")
            segments = [seg for seg in path.split("/") if seg]
            if segments and re.fullmatch(r"v\d+\.\d+", segments[0]):
                segments = segments[1:]
            if len(segments) != 2 or segments[1] != "insights":
                raise GraphError(2500, f"Unknown path components: /{'/'.join(segments)} (the sandbox batches insights)")
            with self._lock:
                fault = self._faults.take("insights")
            if fault and fault["kind"] != "slow":
                raise self._fault_error(None, fault)
            body = self._insights(user, segments[0], dict(parse_qsl(query, keep_blank_values=True)))
            return {"code": 200, "headers": headers, "body": json.dumps(body)}
        except GraphError as e:
            error = json.loads(self._render(e).get_data())
            return {"code": e.status, "headers": headers + [{"name": k, "value": v} for k, v in e.headers.items()],
                    "body": json.dumps(error)}

    def _h_me(self, request: Request, parts: list[str], params: dict) -> dict:
        """GET /me: the token's user. On graph.instagram.com (Instagram Login) the IG professional
        account, `user_id` being the id publishing uses [developers.facebook.com/docs/instagram-platform/
        instagram-api-with-instagram-login/get-started]; on graph.facebook.com (Facebook Login) the
        Facebook user, a User node without user_id or username: asking for them is error #100
        (nonexisting field), as Meta answers."""
        user = self._auth(request, params)
        with self._lock:
            found = self._users.get(user, {"id": user, "username": "", "fb_user_id": user})
        if request.environ.get("sandbox.host", FB_GRAPH) == FB_GRAPH:
            fields = self._fields(params, {"id", "name"}, "User")
            full = {"id": found["fb_user_id"], "name": f"Sandbox person of {found['username']}"}
            return {"id": found["fb_user_id"], **{f: full[f] for f in fields}}
        fields = self._fields(params, {"id", "user_id", "username", "name", "account_type"}, "User")
        full = {"id": user, "user_id": user, "username": found["username"], "name": found["username"],
                "account_type": "BUSINESS"}
        return {"id": user, **{f: full[f] for f in fields}}

    def _h_ig_user(self, request: Request, parts: list[str], params: dict) -> dict:
        """GET /<IG_USER_ID>?fields=id,username: the IG professional account, read with a token that
        may act for it [developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user]."""
        user = self._own_user(request, params, parts[0])
        fields = self._fields(params, IG_USER_FIELDS, "IGUser") or ["id"]
        with self._lock:
            found = self._users[user]
        full = {"id": user, "username": found["username"], "name": found["username"]}
        return {"id": user, **{f: full[f] for f in fields if f in full}}

    def _h_authorize(self, request: Request, parts: list[str], params: dict):
        # Meta appends #_ to the redirect (not part of the code).
        return self.oauth.authorize_page(request.args.to_dict(), fragment="#_")

    def _h_ig_code(self, request: Request, parts: list[str], params: dict) -> dict:
        """POST /oauth/access_token: code -> a short-lived (1 h) Instagram User token."""
        if params.get("grant_type") != "authorization_code":
            raise GraphError(100, "grant_type must be authorization_code")
        try:
            grant = self.oauth.redeem(code=str(params.get("code") or ""), client_id=str(params.get("client_id") or ""),
                                      client_secret=str(params.get("client_secret") or ""),
                                      redirect_uri=params.get("redirect_uri"), code_verifier=None)
        except OAuthRefusal as refusal:
            code = 101 if refusal.error == "invalid_client" else 100
            raise GraphError(code, f"{refusal.error}: {refusal.description}", error_type="OAuthException") from None
        with self._lock:
            token = "IGAA" + secrets.token_urlsafe(40).replace("-", "x").replace("_", "y")
            now = self._clock()
            self._tokens[token] = {"user": grant["user"], "issued_at": now, "expires_at": now + SHORT_LIVED_SECONDS,
                                   "revoked": False, "long_lived": False, "client_id": params.get("client_id"),
                                   "login": "instagram"}
        return {"data": [{"access_token": token, "user_id": grant["user"], "permissions": ",".join(grant["scopes"])}]}

    def _h_ig_exchange(self, request: Request, parts: list[str], params: dict) -> dict:
        """GET /access_token?grant_type=ig_exchange_token&client_secret&access_token=<short-lived>."""
        if params.get("grant_type") != "ig_exchange_token":
            raise GraphError(100, "grant_type must be ig_exchange_token")
        short = str(params.get("access_token") or "")
        secret = str(params.get("client_secret") or "")
        if not short or not secret:
            raise GraphError(100, "access_token and client_secret are required")
        with self._lock:
            user = self._valid_token_user(request, short)
            info = self._tokens[short]
            client = info.get("client_id")
            if client is not None:
                try:
                    self.oauth.check_client(client, secret)
                except OAuthRefusal:
                    raise GraphError(1, "Error validating client secret.") from None
            if info.get("long_lived", True):
                raise GraphError(100, "the access token is already long-lived")
            return {"access_token": self._issue(user, "instagram"), "token_type": "bearer", "expires_in": LONG_LIVED_SECONDS}

    @staticmethod
    def _cursor(media_id: str) -> str:
        return base64.urlsafe_b64encode(f"media:{media_id}".encode()).decode().rstrip("=")

    @staticmethod
    def _uncursor(cursor: str) -> str:
        try:
            return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().removeprefix("media:")
        except (ValueError, UnicodeDecodeError):
            return ""

    @staticmethod
    def _media_view(m: dict, fields: list[str]) -> dict:
        out: dict[str, Any] = {}
        for f in fields:
            if f == "children":
                out[f] = {"data": [{"id": ch["id"]} for ch in m["children"]]}
            elif f == "owner":
                out[f] = {"id": m["owner"]}
            elif f != "id":
                out[f] = m[f]
        out["id"] = m["id"]
        return out

    def _check_client(self, params: dict) -> None:
        client_id, secret = str(params.get("client_id") or ""), str(params.get("client_secret") or "")
        if not client_id:
            raise GraphError(101, "Missing client_id parameter.")
        if not secret:
            raise GraphError(1, "Missing client_secret parameter.")
        if self._clients is not None:
            if client_id not in self._clients:
                raise GraphError(101, "Error validating application. Invalid application ID.")
            if not secrets.compare_digest(self._clients[client_id].encode(), secret.encode()):
                raise GraphError(1, "Error validating client secret.")

    def _issue(self, user: str, login: str) -> str:
        # Meta's tokens look like this (EAA... from Facebook Login, IGAA... from Instagram Login); nothing relies on it.
        token = ("IGAA" if login == "instagram" else "EAAG") + secrets.token_urlsafe(48).replace("-", "x").replace("_", "y")
        now = self._clock()
        self._tokens[token] = {"user": user, "issued_at": now, "expires_at": now + LONG_LIVED_SECONDS, "revoked": False,
                               "long_lived": True, "login": login}
        return token

    def _valid_token_user(self, request: Request, token: str) -> str:
        info = self._tokens.get(token)
        if info is None or not self._host_takes(request, info):
            raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
        if info["revoked"]:
            raise GraphError(190, "Error validating access token: The session has been invalidated.", subcode=460)
        if info["expires_at"] <= self._clock():
            raise GraphError(190, "Error validating access token: Session has expired; an expired token cannot be "
                                  "exchanged, the user must log in again.", subcode=463)
        return info["user"]

    def _h_fb_token(self, request: Request, parts: list[str], params: dict) -> dict:
        """GET /vNN.0/oauth/access_token?grant_type=fb_exchange_token&client_id&client_secret&fb_exchange_token.

        Meta documents this for a short-lived token, which becomes a ~60-day one. What it does with
        a long-lived token is not documented; here it extends nothing: the same token comes back
        with the time it has left (unverified), so relying on it as a refresh gains no time."""
        if params.get("grant_type") != "fb_exchange_token":
            raise GraphError(100, "grant_type must be fb_exchange_token (the only grant this sandbox serves here)")
        self._check_client(params)
        exchange = str(params.get("fb_exchange_token") or "")
        if not exchange:
            raise GraphError(100, "Missing fb_exchange_token parameter.")
        with self._lock:
            user = self._valid_token_user(request, exchange)
            info = self._tokens[exchange]
            if info.get("long_lived", True):
                return {"access_token": exchange, "token_type": "bearer",
                        "expires_in": int(info["expires_at"] - self._clock())}
            return {"access_token": self._issue(user, "facebook"), "token_type": "bearer",
                    "expires_in": LONG_LIVED_SECONDS - 56}

    def _h_ig_refresh(self, request: Request, parts: list[str], params: dict) -> dict:
        """GET /refresh_access_token?grant_type=ig_refresh_token&access_token=<long-lived>."""
        if params.get("grant_type") != "ig_refresh_token":
            raise GraphError(100, "grant_type must be ig_refresh_token")
        token = str(params.get("access_token") or "")
        if not token:
            raise GraphError(100, "Missing access_token parameter.")
        with self._lock:
            user = self._valid_token_user(request, token)
            if self._clock() - self._tokens[token]["issued_at"] < 86400:
                raise GraphError(100, "The access token must be at least 24 hours old to be refreshed")
            return {"access_token": self._issue(user, "instagram"), "token_type": "bearer", "expires_in": LONG_LIVED_SECONDS,
                    "permissions": "instagram_business_basic,instagram_business_content_publish"}


def main(argv: list[str] | None = None) -> int:
    def options(parser) -> None:
        parser.add_argument("--status-checks-before-finished", type=int, default=1)
        parser.add_argument("--quota-total", type=int, default=100)

    def build(args) -> InstagramSandbox:
        sandbox = InstagramSandbox(args.host, args.port, quota_total=args.quota_total,
                                   status_checks_before_finished=args.status_checks_before_finished)
        accounts.extend(sandbox.add_account(t) for t in args.token)
        return sandbox

    accounts: list[dict] = []
    return serve(argv, description="Instagram Graph API content-publishing sandbox", port=9101, build=build,
                 options=options, token_help="valid long-lived access token",
                 ready=lambda sandbox: {"graph_url": sandbox.graph_url, "settings": sandbox.settings,
                                        "accounts": accounts})


if __name__ == "__main__":
    sys.exit(main())
