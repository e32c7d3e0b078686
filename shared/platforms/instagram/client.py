"""A real Instagram Graph API content-publishing client. The base URL (host + version, e.g.
https://graph.facebook.com/v25.0) is configurable so tests point it at the sandbox.

The token travels in the Authorization header, never in a URL we build. Errors come as
{error:{message,type,code,error_subcode,is_transient,fbtrace_id}} and are classified per
docs/platforms.md#instagram-errors. media_publish is the one call that creates a post: once it
has been sent, an answer that does not say what happened (timeout, dropped connection, 5xx, a
server-side error) is an AmbiguousError, never a TransientError that would invite a re-send.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeGuard

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from shared.errors import AmbiguousError, AuthError, CapReached, PermanentError, TransientError
from shared.platforms.credentials import StaticToken, with_fresh_token
from shared.platforms.token_endpoint import call_token_endpoint
from shared.runtime.logging import log_event, register_secret

if TYPE_CHECKING:
    from shared.platforms.base import TokenSource

log = logging.getLogger(__name__)

RATE_LIMIT_CODES = {4, 17, 32, 613}  # app / user / page / custom throttles (docs/platforms.md#instagram-errors)
BUC_CODES = range(80000, 80010)      # Business Use Case throttles
TRANSIENT = {(-1, 2207001), (-1, 2207032), (-2, 2207003), (24, 2207008), (1, None), (2, None)}
NEW_CONTAINER = {(-1, 2207053), (-2, 2207020)}  # the container is spoiled: start again with a new one
CAP = (9, 2207042)
AMBIGUOUS = (4, 2207051)             # "spam": the post may already be out
NOT_READY = (9007, 2207027)
CAP_RETRY_SECONDS = 3600.0           # the cap is a 24 h moving window; look again in an hour
MEDIA_PAGE_SIZE = 25                 # the media edge's default page size


class NotReady(TransientError):
    """9007 / 2207027: the container is not FINISHED yet; poll it."""


@dataclass(frozen=True)
class BatchAnswer:
    """One operation's answer inside a Graph batch: its HTTP code, headers and parsed JSON body."""

    code: int
    headers: dict[str, str]
    body: dict

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300 and "error" not in self.body


@dataclass(frozen=True)
class ContainerStatus:
    status_code: str
    status: str


@dataclass(frozen=True)
class MediaListing:
    items: list[dict]
    complete: bool  # False: the page budget ran out before reaching older media


@dataclass(frozen=True)
class PublishingLimit:
    quota_usage: int
    quota_total: int | None


def code_pair(error: dict) -> tuple[int | None, int | None]:
    def as_int(value):
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    return as_int(error.get("code")), as_int(error.get("error_subcode"))


def regain_seconds(headers) -> float | None:
    """The wait Meta asks for: the largest estimated_time_to_regain_access (minutes) in
    X-Business-Use-Case-Usage, in seconds; None when the header is absent or says 0."""
    raw = headers.get("X-Business-Use-Case-Usage")
    if not raw:
        return None
    try:
        data = json.loads(raw)
        minutes = max((float(entry.get("estimated_time_to_regain_access") or 0)
                       for entries in data.values() for entry in entries), default=0.0)
    except (ValueError, TypeError, AttributeError):
        return None
    return minutes * 60.0 if minutes > 0 else None


def error_object(payload: dict) -> dict:
    """The Graph answer's `error` object, or {} when there is none (or it is not an object)."""
    error = payload.get("error")
    return error if isinstance(error, dict) else {}


def classify(status: int, payload: dict, headers, endpoint: str, *, creates: bool = False) -> Exception:
    """The error a failed Graph answer means (see docs/platforms.md#error-classes-all-platforms).

    `creates`: the call publishes (media_publish). A throttle, the cap, "not ready" and an auth
    refusal are answered before anything is done, so they keep their class; a server-side failure
    (5xx, code -1/1/2, `is_transient`) may come after the post went out, so it is ambiguous."""
    error = error_object(payload)
    code, subcode = code_pair(error)
    label = f"{code}/{subcode}" if subcode else (str(code) if code is not None else f"http_{status}")
    reason = error.get("error_user_msg") or error.get("message") or f"HTTP {status}"
    message = f"instagram {endpoint}: {reason} ({label})"
    if code == 190 or status == 401:
        return AuthError(message, platform_code=label)
    if (code, subcode) == AMBIGUOUS:
        return AmbiguousError(message + "; the media may already be published, check the account before retrying")
    if (code, subcode) == CAP:
        return CapReached(message, retry_after=CAP_RETRY_SECONDS, platform_code=label)
    if code in RATE_LIMIT_CODES or (code is not None and code in BUC_CODES):
        return TransientError(message, retry_after=regain_seconds(headers), platform_code=label)
    if (code, subcode) == NOT_READY:
        return NotReady(message, platform_code=label)
    server_side = (code, subcode) in TRANSIENT or error.get("is_transient") is True or status >= 500
    if server_side and creates:
        return AmbiguousError(message + "; the server failed after the publish request reached it, so the media "
                                        "may have been published")
    if server_side:
        retry_after = 30.0 if (code, subcode) == (24, 2207008) else None
        return TransientError(message, retry_after=retry_after, platform_code=label)
    if (code, subcode) in NEW_CONTAINER:
        return TransientError(message + "; a new container is needed", platform_code=label)
    return PermanentError(message, platform_code=label)


def is_throttle(exc: Exception) -> TypeGuard[TransientError]:
    """A TransientError that classify() made of an app / user / page / custom / Business Use Case
    throttle (4, 17, 32, 613, 800xx); its retry_after is Meta's estimated_time_to_regain_access, if sent."""
    if not isinstance(exc, TransientError) or not exc.platform_code:
        return False
    head = exc.platform_code.split("/")[0]
    return head.isdigit() and (int(head) in RATE_LIMIT_CODES or int(head) in BUC_CODES)


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request provably never reached Meta (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


class InstagramClient:
    def __init__(self, tokens: str | TokenSource, *, base_url: str, timeout: float = 30.0,
                 session: requests.Session | None = None):
        self._tokens = StaticToken(tokens) if isinstance(tokens, str) else tokens
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._http = session or requests.Session()

    def _call(self, method: str, path: str, *, endpoint: str, params: dict | None = None, data: dict | None = None,
              creates: bool = False) -> dict:
        # An expired / invalid token (190) refreshes once; nothing was created, so re-sending is safe.
        return with_fresh_token(self._tokens, lambda token: self._call_once(method, path, endpoint, params, data,
                                                                            creates, token))

    def _call_once(self, method: str, path: str, endpoint: str, params, data, creates: bool, token: str) -> dict:
        try:
            response = self._http.request(method, f"{self._base}{path}", params=params, data=data,
                                          headers={"Authorization": f"Bearer {token}"}, timeout=self._timeout)
        except requests.RequestException as exc:
            if creates and not _never_sent(exc):
                # Sent, then no answer (read timeout, connection dropped mid-reply): it may have been done.
                raise AmbiguousError(f"instagram {endpoint}: no answer after the request was sent "
                                     f"({type(exc).__name__}); the media may have been published") from None
            if isinstance(exc, requests.Timeout):
                raise TransientError(f"instagram {endpoint}: timed out") from None
            raise TransientError(f"instagram {endpoint}: connection failed ({type(exc).__name__})") from None
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        payload = payload if isinstance(payload, dict) else {}
        error = error_object(payload)
        code, subcode = code_pair(error)
        log_event(log, logging.INFO, "instagram call", endpoint=endpoint, http_status=response.status_code,
                  error_code=f"{code}/{subcode}" if error else "ok", fbtrace_id=error.get("fbtrace_id"))
        if response.ok and not error:
            return payload
        raise classify(response.status_code, payload, response.headers, endpoint, creates=creates)

    # -- identity ---------------------------------------------------------------------------
    def me(self) -> dict:
        """GET /me?fields=user_id,username: the professional account the token acts for (Instagram
        Login; `user_id` is the IG user id that publishing uses)."""
        data = self._call("GET", "/me", endpoint="me", params={"fields": "user_id,username"})
        if not (data.get("user_id") or data.get("id")):
            raise TransientError("instagram me answered without an id")
        return data

    def ig_user(self, ig_user_id: str) -> dict:
        """GET /{ig-user-id}?fields=id,username: the professional account itself (Facebook Login, where
        /me is the Facebook user and has no user_id) [developers.facebook.com/docs/instagram-platform/
        instagram-graph-api/reference/ig-user]."""
        data = self._call("GET", f"/{ig_user_id}", endpoint="ig_user", params={"fields": "id,username"})
        if not data.get("id"):
            raise TransientError("instagram ig user answered without an id")
        return data

    # -- publishing -------------------------------------------------------------------------
    def publishing_limit(self, ig_user_id: str) -> PublishingLimit:
        data = self._call("GET", f"/{ig_user_id}/content_publishing_limit", endpoint="publishing_limit",
                          params={"fields": "quota_usage,config"})
        row = (data.get("data") or [{}])[0]
        total = (row.get("config") or {}).get("quota_total")
        return PublishingLimit(quota_usage=int(row.get("quota_usage") or 0),
                               quota_total=int(total) if total is not None else None)

    def create_container(self, ig_user_id: str, fields: dict[str, str]) -> str:
        data = self._call("POST", f"/{ig_user_id}/media", endpoint="media", data=fields)
        if not data.get("id"):
            raise TransientError("instagram media: answered without a container id")
        return str(data["id"])

    def container_status(self, container_id: str) -> ContainerStatus:
        data = self._call("GET", f"/{container_id}", endpoint="container_status",
                          params={"fields": "id,status_code,status"})
        if not data.get("status_code"):
            raise PermanentError(f"instagram container_status: no status_code in the answer for {container_id}")
        return ContainerStatus(status_code=str(data["status_code"]), status=str(data.get("status") or ""))

    def publish(self, ig_user_id: str, container_id: str) -> str:
        data = self._call("POST", f"/{ig_user_id}/media_publish", endpoint="media_publish",
                          data={"creation_id": container_id}, creates=True)
        if not data.get("id"):
            raise AmbiguousError("instagram media_publish answered without a media id")
        return str(data["id"])

    def media(self, media_id: str, fields: list[str]) -> dict:
        return self._call("GET", f"/{media_id}", endpoint="media_read", params={"fields": ",".join(fields)})

    def insights_batch(self, media_ids: list[str], metrics: list[str] | tuple[str, ...], *,
                       per_media: dict[str, tuple[str, ...]] | None = None) -> list[BatchAnswer | None]:
        """GET /<media>/insights?metric=... for each media id, all in ONE Graph batch request (POST to
        the versioned root with `batch`, at most 50 operations) [developers.facebook.com/docs/graph-api/
        batch-requests]. One answer per id, in order: a failed operation does not fail the batch, it
        answers its own error; None where Meta did not complete an operation. The batch itself can
        fail as a whole (a throttle, a bad token): that raises like any call. An operation refused for
        the token (190) is the token's fault, so it raises AuthError here and the token is refreshed
        once, as for any call. `per_media`: other metrics for some ids (a story lacks likes and saves)."""
        per_media = per_media or {}
        operations = json.dumps([{"method": "GET", "relative_url":
                                  f"{media_id}/insights?metric={','.join(per_media.get(media_id, metrics))}"}
                                 for media_id in media_ids])

        def once(token: str) -> list[BatchAnswer | None]:
            try:
                response = self._http.post(f"{self._base}/", data={"batch": operations},
                                           headers={"Authorization": f"Bearer {token}"}, timeout=self._timeout)
            except requests.RequestException as exc:
                raise TransientError(f"instagram insights_batch: no answer ({type(exc).__name__})") from None
            try:
                payload = response.json()
            except ValueError:
                payload = None
            failed = not response.ok or not isinstance(payload, list)
            error = payload.get("error") if isinstance(payload, dict) and isinstance(payload.get("error"), dict) else {}
            log_event(log, logging.INFO, "instagram call", endpoint="insights_batch", http_status=response.status_code,
                      operations=len(media_ids), error_code="{}/{}".format(*code_pair(error)) if error else "ok")
            if failed:
                raise classify(response.status_code, payload if isinstance(payload, dict) else {}, response.headers,
                               "insights_batch")
            answers = [_batch_answer(item) for item in payload]
            for answer in answers:
                if answer is not None and code_pair(answer.body.get("error") or {})[0] == 190:
                    raise classify(answer.code, answer.body, answer.headers, "insights_batch")
            return answers

        return with_fresh_token(self._tokens, once)

    def media_since(self, ig_user_id: str, since: datetime, fields: list[str], *, max_pages: int,
                    edge: str = "media") -> MediaListing:
        """The account's media published at or after `since` (GET /<IG_ID>/media, newest first,
        cursor-paged, at most `max_pages` pages). The edge has no time filter we rely on, so paging
        stops at the first older item; `complete` says nothing newer was left unread. `edge`
        "stories": the account's stories, which the media edge does not list (only live ones: 24 h)."""
        params = {"fields": ",".join(sorted({*fields, "timestamp"})), "limit": str(MEDIA_PAGE_SIZE)}
        items: list[dict] = []
        for _ in range(max_pages):
            page = self._call("GET", f"/{ig_user_id}/{edge}", endpoint=f"{edge}_list", params=params)
            for item in page.get("data") or []:
                published = parse_timestamp(item.get("timestamp")) if isinstance(item, dict) else None
                if published is None:
                    continue
                if published < since:
                    return MediaListing(items, complete=True)
                items.append(item)
            paging = page.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not after or not paging.get("next"):
                return MediaListing(items, complete=True)
            params = {**params, "after": after}
        return MediaListing(items, complete=False)


def _batch_answer(item) -> BatchAnswer | None:
    """{code, headers: [{name, value}], body: "<JSON as a string>"} -> BatchAnswer; null -> None."""
    if not isinstance(item, dict):
        return None
    try:
        body = json.loads(item.get("body") or "{}")
    except (TypeError, ValueError):
        body = {}
    headers = {str(h.get("name")): str(h.get("value")) for h in item.get("headers") or [] if isinstance(h, dict)}
    try:
        code = int(item["code"])
    except (KeyError, TypeError, ValueError):
        code = 0
    return BatchAnswer(code=code, headers=headers, body=body if isinstance(body, dict) else {})


def parse_timestamp(value) -> datetime | None:
    """Graph timestamps look like 2026-11-24T10:15:00+0000."""
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def exchange_authorization_code(token_url: str, exchange_url: str, *, client_id: str, client_secret: str, code: str,
                                redirect_uri: str, timeout: float = 30.0, http: requests.Session | None = None) -> dict:
    """Business Login for Instagram: the code becomes a 1-hour token (POST api.instagram.com/oauth/
    access_token), which becomes a 60-day one (GET graph.instagram.com/access_token,
    grant_type=ig_exchange_token). The answer is shaped for login_tokens.py: the long-lived token is
    also the "refresh token" (Instagram Login refreshes the token itself), login = "instagram"."""
    http = http or requests.Session()
    code = code.split("#", 1)[0]  # Meta appends "#_" to the redirect; it is not part of the code
    short = _oauth_call(http, "POST", token_url, timeout, "code exchange",
                        data={"client_id": client_id, "client_secret": client_secret,
                              "grant_type": "authorization_code", "redirect_uri": redirect_uri, "code": code})
    row = (short.get("data") or [short])[0] if isinstance(short.get("data"), list) else short
    if not row.get("access_token"):
        raise PermanentError("instagram code exchange answered without a token", platform_code="no_token")
    register_secret(str(row["access_token"]))
    long_lived = _oauth_call(http, "GET", exchange_url, timeout, "long-lived token exchange",
                             params={"grant_type": "ig_exchange_token", "client_secret": client_secret,
                                     "access_token": row["access_token"]})
    if not long_lived.get("access_token"):
        raise PermanentError("instagram long-lived token exchange answered without a token", platform_code="no_token")
    token = str(long_lived["access_token"])
    return {"access_token": token, "refresh_token": token, "expires_in": long_lived.get("expires_in"),
            "user_id": str(row.get("user_id") or ""), "scope": row.get("permissions"), "login": "instagram"}


def _oauth_call(http: requests.Session, method: str, url: str, timeout: float, what: str, **kwargs) -> dict:
    response, payload = call_token_endpoint(http, method, url, platform="instagram", step=what, timeout=timeout,
                                            no_answer=requests.RequestException, **kwargs)
    log_event(log, logging.INFO, "instagram oauth call", endpoint=what, http_status=response.status_code)
    if response.ok and "error" not in payload and "error_message" not in payload:
        return payload
    if response.status_code >= 500:
        raise TransientError(f"instagram {what}: HTTP {response.status_code}")
    error = error_object(payload)
    message = error.get("message") or payload.get("error_message") or f"HTTP {response.status_code}"
    raise PermanentError(f"instagram refused the {what} ({message})",
                         platform_code=str(error.get("code") or payload.get("error_type") or response.status_code))
