"""A real X API v2 client. Base URL is configurable so tests point it at the sandbox.

Errors are RFC 7807 problems {title, detail, type, status} (docs/platforms.md#x-errors) and are classified:
401 -> AuthError (refresh once); 429 -> TransientError until x-rate-limit-reset, or CapReached
until the 24 h reset when the daily user or app cap is used up (rate_limits.py); 5xx ->
TransientError; other 4xx -> PermanentError with the problem's detail.

POST /2/tweets has no idempotency key, so any answer that does not prove nothing was created is
AmbiguousError there: a timeout or dropped connection after the request was sent, a 5xx (X
answers 503 on internal errors, and a post can exist behind one), and the 403 "duplicate
content" refusal (DuplicateContent: the identical post may be ours, from a create whose answer
was lost). Only a 429 proves X did not act, so only a 429 may be retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import requests

from shared.errors import AmbiguousError, AuthError, PermanentError, TransientError
from shared.platforms.credentials import StaticToken, with_fresh_token
from shared.platforms.token_endpoint import post_token_form
from shared.platforms.x.rate_limits import rate_limited
from shared.runtime.logging import log_event

if TYPE_CHECKING:
    from shared.platforms.base import TokenSource

log = logging.getLogger(__name__)

TIMELINE_PAGE_SIZE = 100  # max_results is 5..100 on GET /2/users/:id/tweets
# The field-selection parameter of GET /2/tweets, /2/tweets/:id and /2/users/:id/tweets. X's OpenAPI
# document (https://api.x.com/2/openapi.json, 2.167, Aug 2026) renamed `tweet.fields` to `post.fields`
# and no longer lists author_id as a post field; answers name `edit_history_post_ids` and
# `public_metrics.repost_count` (earlier documents: edit_history_tweet_ids, retweet_count).
FIELDS_PARAM = "post.fields"
# What reconcile reads of each post: created_at for the window, attachments for the media ids,
# entities to undo X's rewriting of the text (t.co links, the media link).
TIMELINE_FIELDS = "created_at,attachments,entities"


class RateLimited(TransientError):
    """429 in the 15-minute window: `retry_after` runs until x-rate-limit-reset."""


class DuplicateContent(AmbiguousError):
    """X refused POST /2/tweets as duplicate content. The live duplicate may be this very post
    (a create whose answer was lost) or an older one; X's answer does not say which."""


@dataclass(frozen=True)
class Processing:
    state: str  # pending | in_progress | succeeded | failed
    check_after_secs: float
    error: str | None = None
    error_code: str | None = None


def _processing(data: dict) -> Processing | None:
    info = data.get("processing_info")
    if not info:
        return None
    error = info.get("error") or {}
    return Processing(state=str(info.get("state", "")), check_after_secs=float(info.get("check_after_secs") or 0),
                      error=error.get("message"), error_code=error.get("name") or (str(error["code"]) if "code" in error else None))


class XClient:
    def __init__(self, tokens: str | TokenSource, *, base_url: str, timeout: float = 30.0,
                 session: requests.Session | None = None, clock: Callable[[], float] = time.time):
        self._tokens = StaticToken(tokens) if isinstance(tokens, str) else tokens
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._http = session or requests.Session()
        self._clock = clock

    # -- plumbing --------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, endpoint: str, creates: bool = False, **kwargs) -> dict:
        # A 401 refreshes the token once (rejected before anything was created, so re-sending is safe).
        return with_fresh_token(self._tokens, lambda token: self._call_once(method, path, endpoint, creates, token, kwargs))

    def _call_once(self, method: str, path: str, endpoint: str, creates: bool, token: str, kwargs: dict) -> dict:
        try:
            response = self._http.request(method, f"{self._base}{path}", headers={"Authorization": f"Bearer {token}"},
                                          timeout=self._timeout, **kwargs)
        except requests.ConnectionError as exc:
            never_sent = "NewConnectionError" in repr(exc) or "refused" in str(exc).lower()
            if creates and not never_sent:
                raise AmbiguousError(f"x {endpoint}: connection lost after the request was sent; "
                                     "check the account's recent posts before posting again") from None
            raise TransientError(f"x {endpoint}: connection failed ({type(exc).__name__})") from None
        except requests.Timeout as exc:
            if creates and not isinstance(exc, requests.ConnectTimeout):
                # The post may exist: never re-post blindly (docs/platforms.md#x-unknown-outcomes).
                raise AmbiguousError(f"x {endpoint}: no answer within {self._timeout}s after the request was sent; "
                                     "check the account's recent posts before posting again") from None
            raise TransientError(f"x {endpoint}: timed out") from None
        return self._check(response, endpoint, creates)

    def _check(self, response: requests.Response, endpoint: str, creates: bool = False) -> dict:
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        headers = response.headers
        log_event(log, logging.INFO, "x call", endpoint=endpoint, http_status=response.status_code,
                  rate_limit_remaining=headers.get("x-rate-limit-remaining"),
                  rate_limit_reset=headers.get("x-rate-limit-reset"),
                  user_24h_remaining=headers.get("x-user-limit-24hour-remaining"),
                  app_24h_remaining=headers.get("x-app-limit-24hour-remaining"),
                  problem=None if response.ok else payload.get("type") or payload.get("title"))
        if response.ok:
            return payload
        code, message = _problem(payload, response.status_code, endpoint)
        status = response.status_code
        if status == 401:
            raise AuthError(message, platform_code=code)
        if status == 429:  # refused before anything was done: safe to send again after the wait
            error = rate_limited(headers, payload, message, code, self._clock())
            if type(error) is TransientError:  # the 15-minute window: named, so a caller can tell it from a 5xx
                error = RateLimited(str(error), retry_after=error.retry_after, platform_code=error.platform_code)
            raise error
        if creates and _is_duplicate(status, payload):
            raise DuplicateContent(f"{message}; the identical post may be live already (ours, from a create "
                                   "whose answer was lost): look it up before posting again")
        if creates and status >= 500:
            raise AmbiguousError(f"{message}; the post may exist: look it up before posting again")
        if status >= 500:
            raise TransientError(message, platform_code=code)
        raise PermanentError(message, platform_code=code)

    # -- media upload (dedicated v2 endpoints, docs/platforms.md#x-endpoints) --------------------------------
    def initialize_upload(self, total_bytes: int, media_type: str, media_category: str) -> str:
        body = {"total_bytes": total_bytes, "media_type": media_type, "media_category": media_category}
        data = self._call("POST", "/2/media/upload/initialize", endpoint="media_initialize", json=body).get("data") or {}
        if not data.get("id"):
            raise PermanentError("x media_initialize answered without a media id", platform_code="no_media_id")
        return str(data["id"])

    def append(self, media_id: str, segment_index: int, chunk: bytes) -> None:
        self._call("POST", f"/2/media/upload/{media_id}/append", endpoint="media_append",
                   data={"segment_index": str(segment_index)},
                   files={"media": ("segment", chunk, "application/octet-stream")})

    def finalize(self, media_id: str) -> Processing | None:
        data = self._call("POST", f"/2/media/upload/{media_id}/finalize", endpoint="media_finalize").get("data") or {}
        return _processing(data)

    def upload_status(self, media_id: str) -> Processing:
        data = self._call("GET", "/2/media/upload", endpoint="media_status",
                          params={"command": "STATUS", "media_id": media_id}).get("data") or {}
        return _processing(data) or Processing(state="succeeded", check_after_secs=0)

    # -- posts -----------------------------------------------------------------------------
    def create_post(self, text: str, media_ids: list[str]) -> dict:
        body: dict = {"text": text}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        data = self._call("POST", "/2/tweets", endpoint="create_post", creates=True, json=body).get("data") or {}
        if not data.get("id"):
            raise AmbiguousError("x create_post answered without a post id; check the account's recent posts")
        return data

    def me(self) -> dict:
        """GET /2/users/me: the user the token acts for ({id, name, username})."""
        data = self._call("GET", "/2/users/me", endpoint="users_me").get("data") or {}
        if not data.get("id"):
            raise TransientError("x users_me answered without a user id")
        return data

    def user_posts(self, user_id: str, *, start_time: datetime, pagination_token: str | None = None) -> dict:
        """GET /2/users/:id/tweets, newest first, posts created at or after `start_time` (second
        granularity, no milliseconds); the whole payload ({data?, meta{result_count, next_token?}})."""
        params = {"start_time": start_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "max_results": TIMELINE_PAGE_SIZE, FIELDS_PARAM: TIMELINE_FIELDS, "exclude": "retweets,replies"}
        if pagination_token:
            params["pagination_token"] = pagination_token
        return self._call("GET", f"/2/users/{user_id}/tweets", endpoint="user_posts", params=params)

    def posts_public_metrics(self, tweet_ids: list[str]) -> dict:
        """GET /2/tweets?ids=<1..100>&post.fields=public_metrics (docs/platforms.md#x-analytics): the whole payload,
        {data?: [{id, text, public_metrics}], errors?: [{resource_id, title, detail, ...}]}. Ids X
        cannot return (deleted, protected, never existed) come back as `errors` beside `data`, not as
        a failed request. The id count is the caller's to keep within 100: X refuses more with a 400."""
        return self._call("GET", "/2/tweets", endpoint="posts_lookup",
                          params={"ids": ",".join(tweet_ids), FIELDS_PARAM: "public_metrics"})

    def get_post(self, tweet_id: str) -> dict | None:
        """The post, or None when X reports it not found (a partial error on a 200)."""
        payload = self._call("GET", f"/2/tweets/{tweet_id}", endpoint="get_post",
                             params={FIELDS_PARAM: "created_at"})
        return payload.get("data") or None


def _errors(payload: dict) -> list:
    """The v1-style `errors` list of an answer, or [] when there is none (or it is not a list)."""
    errors = payload.get("errors")
    return errors if isinstance(errors, list) else []


def _is_duplicate(status: int, payload: dict) -> bool:
    """X's duplicate refusal: 403 "You are not allowed to create a Tweet with duplicate content."
    (v1-style bodies say code 187 "Status is a duplicate.")."""
    if status != 403:
        return False
    errors = _errors(payload)
    texts = [str(payload.get("detail") or "")] + [str(e.get("message") or "") for e in errors if isinstance(e, dict)]
    return any("duplicate" in t.lower() for t in texts) or any(isinstance(e, dict) and e.get("code") == 187 for e in errors)


def _problem(payload: dict, status: int, endpoint: str) -> tuple[str, str]:
    """(platform code, message) from an RFC 7807 problem or a v1-style {errors:[{code,message}]} body."""
    errors = _errors(payload)
    if payload.get("title") or payload.get("detail"):
        kind = str(payload.get("type") or "about:blank")
        code = kind.rsplit("/", 1)[-1] if kind != "about:blank" else str(payload.get("title") or status)
        reasons = [str(payload.get("detail") or payload.get("title"))]
        reasons += [str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")]
    elif errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        code = str(first.get("code") or status)
        reasons = [str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")]
    else:
        code, reasons = f"http_{status}", [f"HTTP {status}"]
    return code, f"x {endpoint}: HTTP {status} {code}: " + "; ".join(reasons)


def refresh_user_tokens(token_url: str, tokens: dict, *, timeout: float = 30.0, http: requests.Session | None = None) -> dict:
    """POST /2/oauth2/token (grant_type=refresh_token). X refresh tokens are single-use: the answer
    carries a new one, which the caller must persist before using the access token (docs/platforms.md#x-tokens)."""
    http = http or requests.Session()
    client_id, client_secret = tokens.get("client_id", ""), tokens.get("client_secret")
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id}
    response, payload = post_token_form(http, token_url, form, platform="x", step="token refresh", timeout=timeout,
                                        auth=_basic_auth(client_id, client_secret))
    if response.ok and payload.get("access_token"):
        return {k: payload.get(k) for k in ("access_token", "refresh_token", "expires_in")}
    code = payload.get("error")
    log_event(log, logging.WARNING, "x token refresh refused", http_status=response.status_code, error=code)
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientError(f"x token refresh: HTTP {response.status_code}")
    raise AuthError(f"x token refresh refused ({code or response.status_code}: "
                    f"{payload.get('error_description', '')}); reconnect the account",
                    platform_code=str(code or response.status_code))


def exchange_authorization_code(token_url: str, *, client_id: str, client_secret: str | None, code: str,
                                redirect_uri: str, code_verifier: str, timeout: float = 30.0,
                                http: requests.Session | None = None) -> dict:
    """POST /2/oauth2/token with grant_type=authorization_code and the PKCE code_verifier; a
    confidential client authenticates with HTTP Basic client_id:client_secret (docs/platforms.md#x-tokens)."""
    http = http or requests.Session()
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": code_verifier, "client_id": client_id}
    response, payload = post_token_form(http, token_url, form, platform="x", step="code exchange", timeout=timeout,
                                        auth=_basic_auth(client_id, client_secret))
    if response.ok and payload.get("access_token"):
        return {k: payload.get(k) for k in ("access_token", "refresh_token", "expires_in", "scope")}
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientError(f"x code exchange: HTTP {response.status_code}")
    code_name = payload.get("error")
    raise PermanentError(f"x refused the authorization code ({code_name or response.status_code}: "
                         f"{payload.get('error_description', '')})", platform_code=str(code_name or response.status_code))


def _basic_auth(client_id: str, client_secret: str | None) -> tuple[str, str] | None:
    """A confidential client authenticates with HTTP Basic client_id:client_secret; a public one does not."""
    return (client_id, client_secret) if client_secret else None
