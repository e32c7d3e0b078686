"""A real Instagram Graph API content-publishing client. The base URL (host + version, e.g.
https://graph.facebook.com/v25.0) is configurable so tests point it at the sandbox.

The token travels in the Authorization header, never in a URL we build (the two OAuth refresh
calls take it as a query parameter because that is their documented shape; they are never logged).
Errors come as {error:{message,type,code,error_subcode,is_transient,fbtrace_id}} and are
classified per shared/platforms.md section 0 and 2.4.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests

from shared.errors import AmbiguousError, AuthError, CapReached, PermanentError, TransientError
from shared.publishing.credentials import StaticToken, with_fresh_token
from shared.runtime.logging import log_event

if TYPE_CHECKING:
    from shared.platforms.base import TokenSource

log = logging.getLogger(__name__)

RATE_LIMIT_CODES = {4, 17, 32, 613}  # app / user / page / custom throttles (platforms.md 2.4)
BUC_CODES = range(80000, 80010)      # Business Use Case throttles
TRANSIENT = {(-1, 2207001), (-1, 2207032), (-2, 2207003), (24, 2207008), (1, None), (2, None)}
NEW_CONTAINER = {(-1, 2207053), (-2, 2207020)}  # the container is spoiled: start again with a new one
CAP = (9, 2207042)
AMBIGUOUS = (4, 2207051)             # "spam": the post may already be out
NOT_READY = (9007, 2207027)
CAP_RETRY_SECONDS = 3600.0           # the cap is a 24 h moving window; look again in an hour


class NotReady(TransientError):
    """9007 / 2207027: the container is not FINISHED yet; poll it."""


@dataclass(frozen=True)
class ContainerStatus:
    status_code: str
    status: str


@dataclass(frozen=True)
class PublishingLimit:
    quota_usage: int
    quota_total: int | None


def _code_pair(error: dict) -> tuple[int | None, int | None]:
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


def classify(status: int, payload: dict, headers, endpoint: str) -> Exception:
    """The error a failed Graph answer means (see platforms.md section 0 for the classes)."""
    error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
    code, subcode = _code_pair(error)
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
    if (code, subcode) in TRANSIENT or error.get("is_transient") is True or status >= 500:
        retry_after = 30.0 if (code, subcode) == (24, 2207008) else None
        return TransientError(message, retry_after=retry_after, platform_code=label)
    if (code, subcode) in NEW_CONTAINER:
        return TransientError(message + "; a new container is needed", platform_code=label)
    return PermanentError(message, platform_code=label)


class InstagramClient:
    def __init__(self, tokens: "str | TokenSource", *, base_url: str, timeout: float = 30.0,
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
        except requests.Timeout as exc:
            if creates and not isinstance(exc, requests.ConnectTimeout):
                raise AmbiguousError(f"instagram {endpoint}: no answer within {self._timeout}s after the request "
                                     "was sent; the media may have been published") from None
            raise TransientError(f"instagram {endpoint}: timed out") from None
        except requests.ConnectionError as exc:
            raise TransientError(f"instagram {endpoint}: connection failed ({type(exc).__name__})") from None
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        payload = payload if isinstance(payload, dict) else {}
        error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
        code, subcode = _code_pair(error)
        log_event(log, logging.INFO, "instagram call", endpoint=endpoint, http_status=response.status_code,
                  error_code=f"{code}/{subcode}" if error else "ok", fbtrace_id=error.get("fbtrace_id"))
        if response.ok and not error:
            return payload
        raise classify(response.status_code, payload, response.headers, endpoint)

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


# -- tokens ---------------------------------------------------------------------------------
def login_kind(tokens: dict, base_url: str) -> str:
    """Which token flow the account uses: "instagram" (Instagram Login, graph.instagram.com) or
    "facebook" (Facebook Login, graph.facebook.com). The secret may say so in `login`."""
    explicit = str(tokens.get("login") or "").lower()
    if explicit in ("instagram", "facebook"):
        return explicit
    return "instagram" if urlsplit(base_url).hostname == "graph.instagram.com" else "facebook"


def refresh_long_lived_token(base_url: str, tokens: dict, *, timeout: float = 30.0,
                             http: requests.Session | None = None) -> dict:
    """Exchange the account's long-lived token (`refresh_token`) for a fresh 60-day one.

    Facebook Login: GET <base>/oauth/access_token?grant_type=fb_exchange_token&client_id&client_secret
    &fb_exchange_token. Instagram Login: GET <host>/refresh_access_token?grant_type=ig_refresh_token
    &access_token (unversioned; the token must be >= 24 h old and unexpired). Meta has no separate
    refresh token, so the new long-lived token becomes both the access and the refresh token.
    """
    http = http or requests.Session()
    long_lived = tokens.get("refresh_token")
    if not long_lived:
        raise AuthError("instagram token refresh: no long-lived token to exchange; reconnect the account")
    kind = login_kind(tokens, base_url)
    if kind == "instagram":
        parts = urlsplit(base_url)
        url = f"{parts.scheme}://{parts.netloc}/refresh_access_token"
        params = {"grant_type": "ig_refresh_token", "access_token": long_lived}
    else:
        if not tokens.get("client_id") or not tokens.get("client_secret"):
            raise AuthError("instagram token refresh (Facebook Login) needs client_id and client_secret in the "
                            "account secret; reconnect the account")
        url = base_url.rstrip("/") + "/oauth/access_token"
        params = {"grant_type": "fb_exchange_token", "client_id": tokens["client_id"],
                  "client_secret": tokens["client_secret"], "fb_exchange_token": long_lived}
    try:
        response = http.get(url, params=params, timeout=timeout)
    except (requests.ConnectionError, requests.Timeout):
        raise TransientError(f"instagram token refresh ({kind} login): no answer") from None
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    payload = payload if isinstance(payload, dict) else {}
    log_event(log, logging.INFO, "instagram token refresh", login=kind, http_status=response.status_code)
    if response.ok and payload.get("access_token"):
        new = str(payload["access_token"])
        return {"access_token": new, "refresh_token": new, "expires_in": payload.get("expires_in")}
    error = classify(response.status_code, payload, response.headers, f"token refresh ({kind} login)")
    code, _ = _code_pair(payload.get("error") if isinstance(payload.get("error"), dict) else {})
    # Only a server-side hiccup or a throttle is worth retrying; any other refusal (code 1 / 101
    # bad client, 190 expired or revoked) means a person must reconnect the account.
    if response.status_code >= 500 or code in RATE_LIMIT_CODES:
        raise error
    raise AuthError(f"{error}; reconnect the account", platform_code=getattr(error, "platform_code", None))
