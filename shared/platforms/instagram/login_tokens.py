"""Keeping an Instagram account's token alive, the way Meta documents it for each login.

Instagram API with Instagram Login (graph.instagram.com): a long-lived Instagram User token is
refreshed with GET https://graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token
&access_token=<long-lived>; the token must be at least 24 hours old and unexpired, and the answer
is a new 60-day token [developers.facebook.com/docs/instagram-platform/reference/refresh_access_token].

Instagram API with Facebook Login (graph.facebook.com, Facebook Login for Business user tokens):
Meta documents `fb_exchange_token` only for turning a *short-lived* user token into a long-lived
one, and no call that extends a long-lived one: it lasts about 60 days, an expired one cannot be
exchanged, and then "the person will have to go through the login flow again"
[developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived;
.../facebook-login/auth-vs-data]. So there is nothing to exchange: we check that the token still
works and keep it, stop asking for early refreshes (the answer drops the refresh token), and warn
that the account must be reconnected before it expires. A token Meta has rejected means reconnect.

Which login a token comes from decides the host of every call made with it (login_of): Meta
serves Instagram Login tokens on graph.instagram.com only and Facebook Login tokens on
graph.facebook.com only [developers.facebook.com/docs/instagram-platform/overview]. Tokens travel
as query parameters only where Meta's documented shape requires it, and are never logged.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from shared.errors import AuthError
from shared.model.account import Account
from shared.platforms.instagram.client import RATE_LIMIT_CODES, classify, code_pair, error_object
from shared.platforms.token_endpoint import call_token_endpoint
from shared.runtime.config_model import Config
from shared.runtime.logging import log_event

log = logging.getLogger(__name__)


LOGINS = ("instagram", "facebook")
ACCOUNT_FIELD = "instagram_login"  # the account document's record of it (written by connect)


def login_of(account: Account | None, tokens, default: str) -> str:
    """Which login the account's token comes from: "instagram" (Business Login for Instagram,
    graph.instagram.com) or "facebook" (Facebook Login for Business, graph.facebook.com).

    The token's own record first: `login` in the account's secret, written together with the token
    by connect (so a reconnect through another login cannot be contradicted by an older note); then
    the account document's `instagram_login` (connect writes it too; it survives an operator
    replacing the secret by hand with the bare tokens); then `default`
    (POSTGATE_INSTAGRAM_DEFAULT_LOGIN, "facebook"): an account with neither was set up by hand
    before logins were recorded, and until now every call of such an account went to
    graph.facebook.com, so any that works today keeps working. A wrong guess fails closed: Meta
    answers 190, the refresh fails and the account is marked for reconnecting (nothing is posted),
    and connecting records the login. `tokens`: the secret's dict, or a TokenSource that can read it
    (`stored`, platforms/credentials.py)."""
    if isinstance(tokens, dict):
        recorded = tokens.get("login")
    else:
        stored = getattr(tokens, "stored", None)
        recorded = stored("login") if callable(stored) else None
    for value in (recorded, (account or {}).get(ACCOUNT_FIELD), default):
        if str(value or "").lower() in LOGINS:
            return str(value).lower()
    return "facebook"


def base_url_for(login: str, config: Config) -> str:
    """The versioned Graph API base for tokens of `login`."""
    return config.instagram_ig_login_base_url if login == "instagram" else config.instagram_fb_login_base_url


def refresh(tokens: dict, *, login: str, base_url: str, timeout: float = 30.0,
            http: requests.Session | None = None) -> dict:
    """New tokens for the account, as base.py's refresh_tokens contract describes. `base_url`: the
    versioned Graph base of `login`'s host (base_url_for)."""
    http = http or requests.Session()
    if login == "instagram":
        return _refresh_instagram_login(base_url, tokens, timeout, http)
    return _keep_facebook_login(base_url, tokens, timeout, http)


def _refresh_instagram_login(base_url: str, tokens: dict, timeout: float, http: requests.Session) -> dict:
    long_lived = tokens.get("refresh_token") or tokens.get("access_token")
    if not long_lived:
        raise AuthError("instagram token refresh: no long-lived token to refresh; reconnect the account")
    parts = urlsplit(base_url)  # the refresh endpoint is unversioned
    payload = _get(http, f"{parts.scheme}://{parts.netloc}/refresh_access_token",
                   {"grant_type": "ig_refresh_token", "access_token": long_lived}, timeout, "instagram")
    if not payload.get("access_token"):
        raise AuthError("instagram token refresh (Instagram Login) answered without a token; reconnect the account")
    new = str(payload["access_token"])
    # Instagram Login has no separate refresh token: the new long-lived token is both.
    return {"access_token": new, "refresh_token": new, "expires_in": payload.get("expires_in")}


def _keep_facebook_login(base_url: str, tokens: dict, timeout: float, http: requests.Session) -> dict:
    current = tokens.get("access_token")
    if not current:
        raise AuthError("instagram token check (Facebook Login): no access token; reconnect the account")
    # Works -> keep it; rejected -> the only documented way forward is the person logging in again.
    http_headers = {"Authorization": f"Bearer {current}"}
    _get(http, base_url.rstrip("/") + "/me", {"fields": "id"}, timeout, "facebook", headers=http_headers)
    reconnect_by = _expiry(tokens.get("expires_at"))
    log_event(log, logging.WARNING, "instagram token (Facebook Login) cannot be extended; reconnect the account "
              "before it expires", reconnect_by=reconnect_by)
    # An empty refresh token tells the credential store there is nothing to refresh with: no more
    # early refreshes, and a later rejection fails the post asking for a reconnect.
    return {"access_token": current, "refresh_token": "", "reconnect_by": reconnect_by}


def _get(http: requests.Session, url: str, params: dict, timeout: float, kind: str, headers: dict | None = None) -> dict:
    response, payload = call_token_endpoint(http, "GET", url, platform="instagram", step=f"token refresh ({kind} login)",
                                            timeout=timeout, params=params, headers=headers or {})
    log_event(log, logging.INFO, "instagram token refresh", login=kind, http_status=response.status_code)
    if response.ok and "error" not in payload:
        return payload
    error = classify(response.status_code, payload, response.headers, f"token refresh ({kind} login)")
    code, _ = code_pair(error_object(payload))
    # Only a server-side hiccup or a throttle is worth retrying; any other refusal (code 1 / 101
    # bad client, 100 token too young, 190 expired or revoked) means a person must reconnect.
    if response.status_code >= 500 or code in RATE_LIMIT_CODES:
        raise error
    raise AuthError(f"{error}; reconnect the account", platform_code=getattr(error, "platform_code", None))


def _expiry(expires_at) -> str | None:
    try:
        return datetime.fromtimestamp(float(expires_at), UTC).isoformat() if expires_at else None
    except (TypeError, ValueError, OverflowError):
        return None
