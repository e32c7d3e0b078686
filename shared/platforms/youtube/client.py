"""A real YouTube Data API v3 client over `requests`: resumable upload, videos.list, videos.update,
token refresh. The base URL comes from config so tests point it at the sandbox.

Errors follow docs/platforms.md#youtube-errors: quotaExceeded -> CapReached until midnight PT, uploadLimitExceeded ->
CapReached for about a day, rate limits / 5xx -> TransientError, 401 -> AuthError (refreshed once by
with_fresh_token), anything else -> PermanentError carrying Google's reason.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests

from shared.errors import AmbiguousError, AuthError, CapReached, PermanentError, TransientError
from shared.platforms.credentials import StaticToken, with_fresh_token
from shared.platforms.token_endpoint import post_token_form
from shared.platforms.youtube.quota import seconds_until_pacific_midnight
from shared.runtime.logging import log_event

if TYPE_CHECKING:
    from shared.platforms.base import TokenSource

log = logging.getLogger(__name__)

UPLOAD_GRANULE = 256 * 1024  # every chunk but the last is a multiple of this (docs/platforms.md#youtube-endpoints)
UPLOAD_PATH = "/upload/youtube/v3/videos"
VIDEOS_PATH = "/youtube/v3/videos"
_RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
_QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded"}
_RANGE_RE = re.compile(r"^bytes=0-(\d+)$")


class SessionExpired(PermanentError):
    """404 on the upload session: it expired. Starting over is safe only if no video id was returned."""


class UploadInterrupted(TransientError):
    """A chunk (or a session query) got no usable answer: query the session and resume."""


@dataclass(frozen=True)
class UploadProgress:
    """Where a session stands: `next_offset` bytes are stored, or `video` once it is complete."""

    next_offset: int
    video: dict | None = None

    @property
    def complete(self) -> bool:
        return self.video is not None


def google_error(response: requests.Response) -> tuple[str, str]:
    """(reason, message) from Google's {"error": {"code", "message", "errors": [{"reason"}]}} body."""
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return f"http_{response.status_code}", response.reason or ""
    errors = error.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    reason = first.get("reason") or error.get("status") or f"http_{response.status_code}"
    return str(reason), str(first.get("message") or error.get("message") or "")


def classify(response: requests.Response, endpoint: str) -> Exception:
    reason, message = google_error(response)
    text = f"youtube {endpoint}: {reason}: {message}".rstrip(": ")
    status = response.status_code
    if status == 401:
        return AuthError(text, platform_code=reason)
    if reason in _QUOTA_REASONS:
        return CapReached(text, retry_after=seconds_until_pacific_midnight(), platform_code=reason)
    if reason == "uploadLimitExceeded":
        return CapReached(text, retry_after=24 * 3600.0, platform_code=reason)
    if status == 429 or reason in _RATE_REASONS:
        # The Data API documents no Retry-After; honour one if it is sent, else exponential backoff.
        return TransientError(text, retry_after=_retry_after(response), platform_code=reason)
    if status >= 500 or reason == "backendError":
        return TransientError(text, retry_after=_retry_after(response), platform_code=reason)
    return PermanentError(text, platform_code=reason)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None


class YouTubeClient:
    def __init__(self, tokens: str | TokenSource, *, base_url: str, timeout: float = 30.0,
                 session: requests.Session | None = None):
        self._tokens = StaticToken(tokens) if isinstance(tokens, str) else tokens
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._http = session or requests.Session()

    # -- JSON API ----------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, endpoint: str, params: dict, body: dict | None = None) -> dict:
        def once(token: str) -> dict:
            headers = {"Authorization": f"Bearer {token}"}
            if body is not None:
                headers["Content-Type"] = "application/json; charset=UTF-8"
            try:
                response = self._http.request(method, f"{self._base}{path}", params=params, json=body,
                                              headers=headers, timeout=self._timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise TransientError(f"youtube {endpoint}: no answer ({type(exc).__name__})") from None
            self._log(endpoint, response)
            if not response.ok:
                raise classify(response, endpoint)
            return response.json() if response.content else {}

        return with_fresh_token(self._tokens, once)

    def get_if_changed(self, path: str, *, endpoint: str, params: dict, etag: str | None = None) -> dict | None:
        """A GET list call sent with `If-None-Match: <etag>` when an etag is given: the answer, or None
        when YouTube answers 304 Not Modified (what that etag named has not changed)
        [developers.google.com/youtube/v3/getting-started#etags]."""
        def once(token: str) -> dict | None:
            headers = {"Authorization": f"Bearer {token}"}
            if etag:
                headers["If-None-Match"] = etag
            try:
                response = self._http.get(f"{self._base}{path}", params=params, headers=headers, timeout=self._timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise TransientError(f"youtube {endpoint}: no answer ({type(exc).__name__})") from None
            self._log(endpoint, response)
            if response.status_code == 304 and etag:
                return None
            if not response.ok:
                raise classify(response, endpoint)
            return response.json() if response.content else {}

        return with_fresh_token(self._tokens, once)

    def list_videos(self, video_ids: list[str], parts: str = "status,processingDetails") -> list[dict]:
        if not 1 <= len(video_ids) <= 50:
            raise ValueError("videos.list takes 1..50 ids")
        data = self._call("GET", VIDEOS_PATH, endpoint="videos.list", params={"part": parts, "id": ",".join(video_ids)})
        return list(data.get("items") or [])

    def video_statistics(self, video_ids: list[str]) -> list[dict]:
        """videos.list part=statistics for up to 50 ids (1 quota unit): [{id, statistics: {viewCount,
        likeCount, favoriteCount, commentCount}}], counts as strings. Ids YouTube does not list
        (deleted, private to another channel) are simply absent. More than 50 ids is YouTube's to
        refuse (400); the caller keeps within it (maxResults does not apply with `id`)."""
        data = self._call("GET", VIDEOS_PATH, endpoint="videos.list",
                          params={"part": "statistics", "id": ",".join(video_ids)})
        return list(data.get("items") or [])

    def my_channel(self) -> dict:
        """channels.list part=id,snippet mine=true (1 quota unit): the channel the token acts for."""
        data = self._call("GET", "/youtube/v3/channels", endpoint="channels.list",
                          params={"part": "id,snippet", "mine": "true"})
        items = list(data.get("items") or [])
        if not items:
            raise PermanentError("youtube channels.list: the authorized Google account has no YouTube channel",
                                 platform_code="noChannel")
        return items[0]

    def update_status(self, video_id: str, status: dict) -> dict:
        """videos.update part=status: the whole status part is replaced, so send all of it."""
        return self._call("PUT", VIDEOS_PATH, endpoint="videos.update", params={"part": "status"},
                          body={"id": video_id, "status": status})

    def get_video(self, video_id: str) -> dict | None:
        """videos.list part=snippet,status for one video; None when YouTube does not list it
        (deleted, or not this channel's and not public)."""
        items = self.list_videos([video_id], parts="snippet,status")
        return items[0] if items else None

    def update_video(self, video_id: str, *, snippet: dict, status: dict) -> dict:
        """videos.update part=snippet,status. Both parts are REPLACED: an omitted snippet field
        (description, tags) is deleted and an omitted privacyStatus resets, and snippet.title and
        snippet.categoryId are required. So send a whole part, read first (writable_parts)."""
        if not snippet.get("title") or not snippet.get("categoryId"):
            raise ValueError("videos.update of the snippet needs snippet.title and snippet.categoryId")
        if not status.get("privacyStatus"):
            raise ValueError("videos.update of the status needs status.privacyStatus")
        return self._call("PUT", VIDEOS_PATH, endpoint="videos.update", params={"part": "snippet,status"},
                          body={"id": video_id, "snippet": snippet, "status": status})

    # -- resumable upload ----------------------------------------------------------------------
    def start_session(self, resource: dict, size: int, content_type: str, *, notify_subscribers: bool = True) -> str:
        """Step 1: POST the video resource; the session URI comes back in Location. Nothing is
        created until the last byte arrives, so a lost answer here is safe to retry."""
        params = {"uploadType": "resumable", "part": ",".join(k for k in ("snippet", "status") if k in resource)}
        if not notify_subscribers:
            params["notifySubscribers"] = "false"

        def once(token: str) -> str:
            try:
                response = self._http.post(f"{self._base}{UPLOAD_PATH}", params=params, json=resource, timeout=self._timeout,
                                           headers={"Authorization": f"Bearer {token}",
                                                    "Content-Type": "application/json; charset=UTF-8",
                                                    "X-Upload-Content-Length": str(size),
                                                    "X-Upload-Content-Type": content_type})
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise TransientError(f"youtube videos.insert: no answer starting the session ({type(exc).__name__})") from None
            self._log("videos.insert", response)
            if not response.ok:
                raise classify(response, "videos.insert")
            location = response.headers.get("Location")
            if not location:
                raise TransientError("youtube videos.insert: session started without a Location header")
            return location

        return with_fresh_token(self._tokens, once)

    def put_chunk(self, session_uri: str, first: int, data: bytes, total: int, content_type: str) -> UploadProgress:
        """Step 2: PUT bytes first..first+len-1. 308 + Range -> progress; 200/201 -> the video."""
        last = first + len(data) - 1
        return self._put(session_uri, data, f"bytes {first}-{last}/{total}", content_type, what=f"chunk {first}-{last}")

    def query_session(self, session_uri: str, total: int) -> UploadProgress:
        """Step 3: an empty PUT with Content-Range bytes */total asks how much is stored."""
        return self._put(session_uri, b"", f"bytes */{total}", None, what="status query")

    def _put(self, session_uri: str, data: bytes, content_range: str, content_type: str | None, *, what: str) -> UploadProgress:
        def once(token: str) -> UploadProgress:
            headers = {"Authorization": f"Bearer {token}", "Content-Length": str(len(data)), "Content-Range": content_range}
            if content_type:
                headers["Content-Type"] = content_type
            try:
                response = self._http.put(session_uri, data=data, headers=headers, timeout=self._timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise UploadInterrupted(f"youtube upload: {what} got no answer ({type(exc).__name__})") from None
            log_event(log, logging.INFO, "youtube upload", endpoint="upload", http_status=response.status_code,
                      content_range=content_range, range=response.headers.get("Range"))
            if response.status_code == 308:
                m = _RANGE_RE.match(response.headers.get("Range", "").strip())
                return UploadProgress(next_offset=int(m.group(1)) + 1 if m else 0)  # no Range: nothing stored
            if response.status_code in (200, 201):
                video = response.json()
                if not video.get("id"):
                    raise AmbiguousError("youtube upload completed without a video id")
                return UploadProgress(next_offset=-1, video=video)
            if response.status_code == 404:
                raise SessionExpired("youtube upload: the session expired (404)", platform_code="sessionNotFound")
            error = classify(response, "upload")
            if isinstance(error, TransientError) and not isinstance(error, CapReached):
                raise UploadInterrupted(str(error), retry_after=error.retry_after, platform_code=error.platform_code)
            raise error

        return with_fresh_token(self._tokens, once)

    @staticmethod
    def _log(endpoint: str, response: requests.Response) -> None:
        reason = google_error(response)[0] if not response.ok else "ok"
        log_event(log, logging.INFO, "youtube call", endpoint=endpoint, http_status=response.status_code, reason=reason)


# What videos.update may set; the rest of a videos.list answer is output only.
WRITABLE_SNIPPET = ("title", "description", "tags", "categoryId", "defaultLanguage", "defaultAudioLanguage")
WRITABLE_STATUS = ("privacyStatus", "publishAt", "selfDeclaredMadeForKids", "containsSyntheticMedia", "embeddable",
                   "license", "publicStatsViewable")


def writable_parts(video: dict) -> tuple[dict, dict]:
    """(snippet, status) of a videos.list item as videos.update takes them back: the writable fields
    only, so a read-modify-write keeps everything the change does not touch."""
    snippet = {k: v for k, v in (video.get("snippet") or {}).items() if k in WRITABLE_SNIPPET}
    status = {k: v for k, v in (video.get("status") or {}).items() if k in WRITABLE_STATUS}
    return snippet, status


def upload_resumable(client: YouTubeClient, session_uri: str, *, total: int, chunk_bytes: int, content_type: str,
                     read: Callable[[int, int], bytes], start: int = 0, max_interruptions: int = 5,
                     backoff_seconds: float = 1.0, sleep: Callable[[float], None] = time.sleep) -> dict:
    """Send bytes start..total-1 in chunks of `chunk_bytes` (a multiple of 256 KiB; the last may be
    shorter). After an interrupted chunk (no answer, 5xx) the session is queried and the upload goes
    on from the byte it reports, so nothing it stored is sent again. Returns the video resource.

    Once the final chunk has gone out, an outcome the session cannot confirm (no answer to any query,
    the session gone, the token refused) is AmbiguousError: the video may exist, and a new session
    could upload it twice. `read(first, last)` returns bytes first..last inclusive.
    """
    if chunk_bytes <= 0 or chunk_bytes % UPLOAD_GRANULE:
        raise ValueError(f"chunk size must be a positive multiple of {UPLOAD_GRANULE} bytes")
    offset, interruptions, stalls, final_sent = start, 0, 0, False

    def query() -> UploadProgress:
        try:
            return client.query_session(session_uri, total)
        except (SessionExpired, AuthError) as exc:
            if final_sent:
                raise AmbiguousError(f"youtube upload: the final chunk was sent and the session cannot say whether "
                                     f"the video exists ({exc})") from None
            raise

    while True:
        last = min(offset + chunk_bytes, total) - 1
        try:
            if offset >= total:  # everything is stored but the session has not said so: ask
                progress = query()
            else:
                final_sent = last == total - 1
                progress = client.put_chunk(session_uri, offset, read(offset, last), total, content_type)
        except UploadInterrupted as exc:
            progress = None
            while progress is None:
                interruptions += 1
                if interruptions > max_interruptions:
                    if final_sent:  # the last byte went out and nobody confirmed: the video may exist
                        raise AmbiguousError(f"youtube upload: the final chunk was sent and the session could not be "
                                             f"queried ({exc}); check the channel before uploading again") from None
                    raise TransientError(f"youtube upload interrupted {interruptions - 1} times: {exc}",
                                         platform_code=exc.platform_code) from None
                sleep(exc.retry_after if exc.retry_after is not None else backoff_seconds * 2 ** (interruptions - 1))
                try:
                    progress = query()
                except UploadInterrupted as again:
                    exc = again
            log_event(log, logging.WARNING, "youtube upload resumed", resume_from=progress.next_offset,
                      complete=progress.complete, interruptions=interruptions)
        assert progress is not None  # the loop above ends only with the session's answer
        if progress.video is not None:  # complete
            return progress.video
        if progress.next_offset > total:
            raise PermanentError(f"youtube upload: session reports {progress.next_offset} bytes stored of {total}",
                                 platform_code="rangeMismatch")
        if progress.next_offset <= offset:
            stalls += 1  # the session kept none of what was sent: resend from its offset, but not forever
            if stalls > max_interruptions:
                raise TransientError(f"youtube upload: no progress past byte {offset}", platform_code="noProgress")
        offset = progress.next_offset


def refresh_user_tokens(token_url: str, tokens: dict, *, timeout: float = 30.0, http: requests.Session | None = None) -> dict:
    """POST the Google token endpoint with grant_type=refresh_token. Google does not rotate refresh
    tokens: the old one is kept unless the answer carries a new one."""
    http = http or requests.Session()
    form = {"grant_type": "refresh_token", "client_id": tokens.get("client_id", ""),
            "client_secret": tokens.get("client_secret", ""), "refresh_token": tokens["refresh_token"]}
    response, payload = post_token_form(http, token_url, form, platform="youtube", step="token refresh", timeout=timeout)
    if response.ok and payload.get("access_token"):
        return {"access_token": payload["access_token"], "expires_in": payload.get("expires_in"),
                "refresh_token": payload.get("refresh_token")}  # None -> the stored one is kept
    code = payload.get("error") if isinstance(payload.get("error"), str) else f"http_{response.status_code}"
    if response.status_code >= 500:
        raise TransientError(f"youtube token refresh: HTTP {response.status_code}")
    raise AuthError(f"youtube token refresh refused ({code}: {payload.get('error_description', '')}); reconnect the account",
                    platform_code=code)


def exchange_authorization_code(token_url: str, *, client_id: str, client_secret: str, code: str, redirect_uri: str,
                                code_verifier: str | None = None, timeout: float = 30.0,
                                http: requests.Session | None = None) -> dict:
    """POST the Google token endpoint with grant_type=authorization_code (web server flow; the
    refresh token comes only for access_type=offline)."""
    http = http or requests.Session()
    form = {"grant_type": "authorization_code", "code": code, "client_id": client_id,
            "client_secret": client_secret, "redirect_uri": redirect_uri}
    if code_verifier:
        form["code_verifier"] = code_verifier
    response, payload = post_token_form(http, token_url, form, platform="youtube", step="code exchange", timeout=timeout)
    if response.ok and payload.get("access_token"):
        return {k: payload.get(k) for k in ("access_token", "refresh_token", "expires_in", "scope")}
    code_name = payload.get("error") if isinstance(payload.get("error"), str) else f"http_{response.status_code}"
    if response.status_code >= 500:
        raise TransientError(f"youtube code exchange: HTTP {response.status_code}")
    raise PermanentError(f"google refused the authorization code ({code_name}: {payload.get('error_description', '')})",
                         platform_code=code_name)
