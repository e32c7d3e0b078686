"""A real TikTok Content Posting client. Base URL is configurable so tests point it at the sandbox.

Every JSON answer carries error.code; success is "ok" even on HTTP 200, so it is checked on
every response. Errors are classified into TransientError / PermanentError / AmbiguousError.

What can post twice: only the last chunk. A FILE_UPLOAD publish becomes a post once TikTok holds
every byte, and the bytes go to the upload_url that init's answer carries. So a lost answer to init
is safe to retry (nothing can reach the orphaned publish), and so is a lost answer to any chunk
before the last; a lost answer to the last chunk is not (AmbiguousError: the status fetch settles it).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import requests

from shared.errors import AmbiguousError, AuthError, CapReached, PermanentError, TransientError, ValidationError
from shared.platforms.credentials import StaticToken, with_fresh_token
from shared.platforms.tiktok.chunking import ChunkPlan
from shared.platforms.token_endpoint import post_token_form
from shared.runtime.logging import log_event

if TYPE_CHECKING:
    from shared.platforms.base import TokenSource

log = logging.getLogger(__name__)

_AUTH_CODES = {"access_token_invalid"}
_SCOPE_CODES = {"scope_not_authorized", "scope_permission_missed"}
_TRANSIENT_CODES = {"internal_error", "rate_limit_exceeded"}
# Caps: the post must wait, not fail (docs/platforms.md#error-classes-all-platforms).
_CAP_CODES = {"spam_risk_too_many_posts", "spam_risk_too_many_pending_share", "reached_active_user_cap"}
TRANSIENT_FAIL_REASONS = {"internal", "video_pull_failed", "photo_pull_failed"}
# status fail_reason values that are not the post's fault (docs/platforms.md#tiktok-status-and-errors):
# the creator's daily cap (wait, then post again) and a creator who took the app's access away (reconnect the account).
CAP_FAIL_REASONS = {"spam_risk_too_many_posts", "spam_risk_too_many_pending_share", "reached_active_user_cap"}
AUTH_FAIL_REASONS = {"auth_removed"}
CAP_WAIT_SECONDS = 24 * 3600.0  # the creator's cap is per 24 h; TikTok says no exact reset time


class RateLimited(TransientError):
    """429 rate_limit_exceeded: a one-minute window per token and endpoint."""


class _ScopeMissing(PermanentError):
    """The user never granted the scope: refreshing the token cannot help, so it is raised past the
    refresh-once wrapper (as a plain PermanentError) and turned into an AuthError outside it."""


@dataclass(frozen=True)
class CreatorInfo:
    username: str
    nickname: str
    privacy_level_options: list[str]
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool
    max_video_post_duration_sec: int


@dataclass(frozen=True)
class InitResult:
    publish_id: str
    upload_url: str | None


@dataclass(frozen=True)
class ChunkAnswer:
    """A PUT's answer: 206 (more expected) or 201 (every byte held), and the bytes TikTok says it holds
    (its `Content-Range: bytes 0-{UPLOADED_BYTES}/{TOTAL}` answer header; None when absent)."""
    status: int
    uploaded_bytes: int | None = None


_PROGRESS_RE = re.compile(r"^\s*bytes\s+0-(\d+)/(\d+)\s*$")


def uploaded_from_header(value: str | None) -> int | None:
    """The media transfer guide: "The response header includes ... the number of bytes uploaded:
    Content-Range: bytes 0-{UPLOADED_BYTES}/{TOTAL_BYTE_LENGTH}"."""
    match = _PROGRESS_RE.match(value or "")
    return int(match.group(1)) if match else None


def exact_id(value) -> str | None:
    """An int64 id as its exact decimal string. The status reference types publicaly_available_post_id
    as int64: 19-digit JSON numbers that a double cannot hold, so answers are parsed with integers
    kept whole (and any fraction as Decimal), and an id written as a string is taken as it is."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else None
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    return None


@dataclass(frozen=True)
class PublishStatus:
    status: str
    fail_reason: str | None
    public_post_ids: list[str]
    uploaded_bytes: int | None


class TikTokClient:
    def __init__(self, tokens: str | TokenSource, *, base_url: str, timeout: float = 30.0,
                 rate_limit_wait: float = 60.0, session: requests.Session | None = None):
        self._tokens = StaticToken(tokens) if isinstance(tokens, str) else tokens
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._rate_limit_wait = rate_limit_wait
        self._http = session or requests.Session()

    # -- JSON endpoints --------------------------------------------------------------------
    def _post(self, path: str, body: dict | None, *, endpoint: str, params=None) -> dict:
        # A 401 refreshes the token once (rejected before anything was created, so re-sending is safe).
        try:
            return with_fresh_token(self._tokens, lambda token: self._post_once(path, body, endpoint, params, token))
        except _ScopeMissing as exc:
            raise AuthError(f"{exc}; reconnect the account granting it", platform_code=exc.platform_code) from None

    def _post_once(self, path: str, body: dict | None, endpoint: str, params, token: str) -> dict:
        try:
            response = self._http.post(
                f"{self._base}{path}",
                params=params,
                json=body if body is not None else {},
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=UTF-8"},
                timeout=self._timeout,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            # Init included: its lost answer carried the only upload_url, so no byte can reach that
            # publish and it never becomes a post (see the module docstring).
            raise TransientError(f"tiktok {endpoint}: no answer ({type(exc).__name__})") from None
        return self._check(response, endpoint)

    def _check(self, response: requests.Response, endpoint: str) -> dict:
        try:  # never through a float: int64 ids must stay exact (see exact_id)
            payload = json.loads(response.content or b"null", parse_float=Decimal)
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        error = payload.get("error") or {}
        code = error.get("code") or ("ok" if response.ok else f"http_{response.status_code}")
        log_event(log, logging.INFO, "tiktok call", endpoint=endpoint, http_status=response.status_code,
                  error_code=code, log_id=error.get("log_id"))
        if response.ok and code == "ok":
            return payload.get("data") or {}
        message = f"tiktok {endpoint}: {code}: {error.get('message', '')}".rstrip(": ")
        if code in _SCOPE_CODES:
            raise _ScopeMissing(message, platform_code=code)
        if response.status_code == 401 or code in _AUTH_CODES:
            raise AuthError(message, platform_code=code)
        if response.status_code == 429 or code == "rate_limit_exceeded":
            retry_after = response.headers.get("Retry-After")
            raise RateLimited(message, retry_after=float(retry_after) if retry_after else self._rate_limit_wait, platform_code=code)
        if code in _CAP_CODES:
            raise CapReached(message, retry_after=CAP_WAIT_SECONDS, platform_code=code)
        if response.status_code >= 500 or code in _TRANSIENT_CODES:
            raise TransientError(message, platform_code=code)
        raise PermanentError(message, platform_code=code)

    def _get(self, path: str, *, endpoint: str, params=None) -> dict:
        def once(token: str) -> dict:
            try:
                response = self._http.get(f"{self._base}{path}", params=params, timeout=self._timeout,
                                          headers={"Authorization": f"Bearer {token}"})
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise TransientError(f"tiktok {endpoint}: no answer ({type(exc).__name__})") from None
            return self._check(response, endpoint)

        try:
            return with_fresh_token(self._tokens, once)
        except _ScopeMissing as exc:
            raise AuthError(f"{exc}; reconnect the account granting it", platform_code=exc.platform_code) from None

    def user_info(self) -> dict:
        """GET /v2/user/info/ (scope user.info.basic): the creator the token acts for, {open_id, display_name}."""
        data = self._get("/v2/user/info/", endpoint="user_info", params={"fields": "open_id,display_name"})
        user = data.get("user") or {}
        if not user.get("open_id"):
            raise TransientError("tiktok user_info answered without an open_id")
        return user

    def creator_info(self) -> CreatorInfo:
        data = self._post("/v2/post/publish/creator_info/query/", {}, endpoint="creator_info")
        return CreatorInfo(
            username=data.get("creator_username", ""),
            nickname=data.get("creator_nickname", ""),
            privacy_level_options=list(data.get("privacy_level_options") or []),
            comment_disabled=bool(data.get("comment_disabled")),
            duet_disabled=bool(data.get("duet_disabled")),
            stitch_disabled=bool(data.get("stitch_disabled")),
            max_video_post_duration_sec=int(data.get("max_video_post_duration_sec") or 600),
        )

    def init_video(self, post_info: dict, plan: ChunkPlan) -> InitResult:
        body = {
            "post_info": post_info,
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": plan.video_size,
                "chunk_size": plan.chunk_size,
                "total_chunk_count": plan.total_chunk_count,
            },
        }
        data = self._post("/v2/post/publish/video/init/", body, endpoint="video_init")
        if not data.get("publish_id"):
            raise AmbiguousError("tiktok video_init answered ok without a publish_id")
        return InitResult(publish_id=data["publish_id"], upload_url=data.get("upload_url"))

    def fetch_status(self, publish_id: str) -> PublishStatus:
        data = self._post("/v2/post/publish/status/fetch/", {"publish_id": publish_id}, endpoint="status")
        return PublishStatus(
            status=data.get("status", ""),
            fail_reason=data.get("fail_reason") or None,
            # sic: the API's spelling; list<int64> in the reference (strings are read too)
            public_post_ids=[i for i in (exact_id(v) for v in data.get("publicaly_available_post_id") or []) if i],
            uploaded_bytes=int(data["uploaded_bytes"]) if data.get("uploaded_bytes") is not None else None,
        )

    def query_videos(self, video_ids: list[str], fields: Iterable[str]) -> list[dict]:
        if len(video_ids) > 20:
            raise ValidationError("TikTok video query takes at most 20 ids", field="video_ids", limit="20")
        data = self._post("/v2/video/query/", {"filters": {"video_ids": video_ids}}, endpoint="video_query",
                          params={"fields": ",".join(fields)})
        return list(data.get("videos") or [])

    # -- upload ----------------------------------------------------------------------------
    def upload_chunk(self, upload_url: str, first: int, last: int, total: int, data: bytes, content_type: str, *,
                     last_chunk: bool = False) -> ChunkAnswer:
        """PUT one chunk exactly as given (the upload URL is used whole, query string included).
        No clear answer to the last chunk is AmbiguousError: TikTok may hold every byte and be posting."""
        try:
            response = self._http.put(
                upload_url,
                data=data,
                headers={
                    "Content-Type": content_type,
                    "Content-Length": str(len(data)),
                    "Content-Range": f"bytes {first}-{last}/{total}",
                },
                timeout=self._timeout,
            )
        except (requests.ConnectionError, requests.Timeout):
            if last_chunk:
                raise AmbiguousError(f"tiktok upload: the last chunk ({first}-{last}) got no answer; TikTok may have "
                                     f"every byte") from None
            raise TransientError(f"tiktok upload: chunk {first}-{last} not acknowledged") from None
        uploaded = uploaded_from_header(response.headers.get("Content-Range"))
        log_event(log, logging.INFO, "tiktok chunk", endpoint="upload", http_status=response.status_code,
                  first=first, last=last, total=total, uploaded_bytes=uploaded)
        if response.status_code in (201, 206):
            return ChunkAnswer(response.status_code, uploaded)
        if response.status_code == 416 and last_chunk:
            # "Content-Range does not reflect the actual upload progress": TikTok holds other bytes
            # than we thought (e.g. an earlier PUT landed after all); the status fetch settles it.
            raise AmbiguousError(f"tiktok upload: HTTP 416 on the last chunk ({first}-{last}); TikTok holds "
                                 f"{uploaded if uploaded is not None else 'an unknown number of'} bytes")
        if response.status_code >= 500:
            if last_chunk:  # a 5xx may come after the bytes were stored (the answer, not the upload, failed)
                raise AmbiguousError(f"tiktok upload: HTTP {response.status_code} on the last chunk ({first}-{last}); "
                                     f"TikTok may have every byte")
            raise TransientError(f"tiktok upload: HTTP {response.status_code} on chunk {first}-{last}")
        raise PermanentError(f"tiktok upload: HTTP {response.status_code} on chunk {first}-{last}",
                             platform_code=f"upload_http_{response.status_code}")


def upload_all(client: TikTokClient, upload_url: str, plan: ChunkPlan, chunks: Iterator[bytes], content_type: str,
               retry, *, ranges: list[tuple[int, int]] | None = None) -> None:
    """Send each chunk in order (`ranges`: what is left to send, default the whole plan; `chunks`
    yields their bytes). `retry` re-sends a chunk before the last after a 5xx or a lost answer; the
    last goes once (retry leaves AmbiguousError alone): TikTok refuses chunks once the upload is
    complete, and a new init could be a second post. A resumed upload (the status fetch said how
    many bytes TikTok holds) goes to the same upload_url, so it can only complete that publish."""
    ranges = plan.ranges() if ranges is None else ranges
    for index, ((first, last), data) in enumerate(zip(ranges, chunks)):
        last_chunk = index == len(ranges) - 1
        answer = retry(lambda: client.upload_chunk(upload_url, first, last, plan.video_size, data, content_type,
                                                   last_chunk=last_chunk))
        if answer.status == 201 and not last_chunk:
            raise AmbiguousError(f"tiktok upload: HTTP 201 (all received) after chunk {first}-{last}, before the last one")
        if answer.status != 201 and last_chunk:
            raise PermanentError(f"tiktok upload ended with HTTP {answer.status}, expected 201 after the last chunk")
        if answer.uploaded_bytes is not None and answer.uploaded_bytes < last and not last_chunk:
            # TikTok says it holds less than we sent: the next chunk would be refused (416). (`< last`
            # reads the header either way: a byte count, as the guide says, or an inclusive last byte.)
            raise TransientError(f"tiktok upload: after chunk {first}-{last} TikTok holds {answer.uploaded_bytes} "
                                 f"bytes; starting the upload again")


def refresh_user_tokens(token_url: str, tokens: dict, *, timeout: float = 30.0, http: requests.Session | None = None) -> dict:
    """POST /v2/oauth/token/ (grant_type=refresh_token). TikTok rotates the refresh token
    (docs/platforms.md#tiktok-tokens)."""
    http = http or requests.Session()
    form = {"client_key": tokens.get("client_id") or tokens.get("client_key", ""),
            "client_secret": tokens.get("client_secret", ""), "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"]}
    response, payload = post_token_form(http, token_url, form, platform="tiktok", step="token refresh", timeout=timeout)
    if response.ok and payload.get("access_token"):
        return {k: payload.get(k) for k in ("access_token", "refresh_token", "expires_in", "refresh_expires_in", "open_id")}
    code = (payload.get("error") or {}).get("code") if isinstance(payload.get("error"), dict) else payload.get("error")
    if response.status_code >= 500:
        raise TransientError(f"tiktok token refresh: HTTP {response.status_code}")
    raise AuthError(f"tiktok token refresh refused ({code or response.status_code}); reconnect the account",
                    platform_code=str(code or response.status_code))


def exchange_authorization_code(token_url: str, *, client_key: str, client_secret: str, code: str, redirect_uri: str,
                                code_verifier: str | None = None, timeout: float = 30.0,
                                http: requests.Session | None = None) -> dict:
    """POST /v2/oauth/token/ with grant_type=authorization_code (Login Kit for Web: the same
    redirect_uri as the authorize request; code_verifier only where PKCE was used)."""
    http = http or requests.Session()
    form = {"client_key": client_key, "client_secret": client_secret, "code": code,
            "grant_type": "authorization_code", "redirect_uri": redirect_uri}
    if code_verifier:
        form["code_verifier"] = code_verifier
    response, payload = post_token_form(http, token_url, form, platform="tiktok", step="code exchange", timeout=timeout)
    if response.ok and payload.get("access_token"):
        return {k: payload.get(k) for k in ("access_token", "refresh_token", "expires_in", "refresh_expires_in",
                                             "open_id", "scope")}
    code_name = payload.get("error") if isinstance(payload.get("error"), str) else \
        (payload.get("error") or {}).get("code") if isinstance(payload.get("error"), dict) else None
    if response.status_code >= 500:
        raise TransientError(f"tiktok code exchange: HTTP {response.status_code}")
    raise PermanentError(f"tiktok refused the authorization code ({code_name or response.status_code}: "
                         f"{payload.get('error_description', '')})", platform_code=str(code_name or response.status_code))
