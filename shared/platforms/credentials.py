"""Account credentials: one JSON secret per account, refreshed once per rejection, rotation kept.

The secret holds {"access_token", "refresh_token", "expires_at" (epoch s), "client_id",
"client_secret", ...}. A bare string is taken as an access token with no way to refresh.

Two instances that both see a 401 must not both spend the refresh token: platforms that rotate
it (TikTok, X) invalidate the old one on first use, so the second refresh would fail and, worse,
a slower writer could overwrite the newer token. So a refresh happens under a Firestore lease,
and re-reads the secret first: if another instance already rotated it, its token is used.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable

from shared.errors import AuthError, ConfigError, TransientError
from shared.model.account import Account
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_event
from shared.stores.posts import Repository
from shared.stores.protocols import SecretStore

log = logging.getLogger(__name__)
DEFAULT_REFRESH_AHEAD_SECONDS = 60  # refresh a token this close to expiry before using it
# Platforms whose refresh token is spent by its first use (a new one comes in the reply): a lost
# reply may leave the account with no working refresh token
# (docs/platforms.md#tiktok-tokens, docs/platforms.md#x-tokens).
ROTATING_REFRESH_TOKEN_PLATFORMS = frozenset({"tiktok", "x"})
NEEDS_RECONNECT = "needs_reconnect"


def parse_token_secret(raw: str) -> dict:
    try:
        value = json.loads(raw)
    except ValueError:
        return {"access_token": raw}
    if isinstance(value, str):
        return {"access_token": value}
    if not isinstance(value, dict) or not value.get("access_token"):
        raise ConfigError("account secret has no access_token")
    return value


class AccountTokens:
    """TokenSource for one account (see shared/platforms/base.py)."""

    def __init__(self, account_id: str, account: Account, *, secrets: SecretStore, repo: Repository,
                 refresh_fn: Callable[[dict], dict],
                 wait_seconds: float = 20.0, lease_seconds: float = 30.0,
                 refresh_ahead_seconds: float = DEFAULT_REFRESH_AHEAD_SECONDS, refresh_token_rotates: bool = False):
        secret_name = account.get("secret_name")
        if not secret_name:
            raise ConfigError(f"account {account_id} has no secret_name")
        self.account_id = account_id
        self.secret_name = secret_name
        self._secrets = secrets
        self._repo = repo
        self._refresh_fn = refresh_fn
        self._wait = wait_seconds
        self._lease = lease_seconds
        self._refresh_ahead = refresh_ahead_seconds
        self._refresh_token_rotates = refresh_token_rotates
        self._tokens: dict | None = None

    def _load(self) -> dict:
        self._tokens = parse_token_secret(self._secrets.access(self.secret_name))
        return self._tokens

    def current(self) -> str:
        tokens = self._tokens or self._load()
        expires_at = tokens.get("expires_at")
        if expires_at and float(expires_at) - time.time() < self._refresh_ahead and tokens.get("refresh_token"):
            return self.refresh(tokens["access_token"])
        return tokens["access_token"]

    def stored(self, key: str):
        """A field kept in the account's secret beside the tokens (e.g. Instagram's `login`)."""
        return (self._tokens or self._load()).get(key)

    def refresh(self, rejected: str) -> str:
        holder = uuid.uuid4().hex
        lease_name = f"token-refresh--{self.account_id}"
        deadline = time.monotonic() + self._wait
        while True:
            latest = self._load()
            if latest["access_token"] != rejected:
                return latest["access_token"]  # another instance rotated it meanwhile
            if self._repo.try_lease(lease_name, holder, self._lease):
                try:
                    latest = self._load()  # re-check under the lease
                    if latest["access_token"] != rejected:
                        return latest["access_token"]
                    return self._refresh_now(latest)
                finally:
                    self._repo.release_lease(lease_name, holder)
            if time.monotonic() > deadline:
                raise TransientError(f"account {self.account_id}: token refresh by another instance did not finish")
            time.sleep(0.1)

    def _refresh_now(self, tokens: dict) -> str:
        if not tokens.get("refresh_token"):
            raise AuthError(f"account {self.account_id}: token rejected and no refresh token; reconnect the account")
        try:
            fresh = self._refresh_fn(tokens)  # AuthError on invalid_grant: reconnect needed
        except AuthError as exc:
            self._mark_needs_reconnect(f"the platform refused the refresh token: {exc}")
            raise
        except Exception as exc:
            if self._refresh_token_rotates:
                # The platform may have spent the refresh token and sent a new one we never got.
                self._mark_needs_reconnect(f"a token refresh got no answer ({type(exc).__name__}); its refresh token "
                                           "may be spent. If the next refresh fails, reconnect the account")
            raise
        if not fresh.get("access_token"):
            raise AuthError(f"account {self.account_id}: refresh answered without an access token")
        updated = {**tokens, **{k: v for k, v in fresh.items() if v is not None and k != "expires_in"}}
        if fresh.get("expires_in"):
            updated["expires_at"] = int(time.time() + float(fresh["expires_in"]))
        # Written before use: if this instance dies now, the rotated refresh token is not lost.
        self._secrets.add_version(self.secret_name, json.dumps(updated))
        self._tokens = updated
        self._clear_needs_reconnect()
        log_event(log, logging.INFO, "account token refreshed", account_id=self.account_id,
                  rotated=fresh.get("refresh_token") not in (None, tokens.get("refresh_token")))
        return updated["access_token"]

    def expires_within(self, seconds: float) -> bool:
        """A refreshable token that expires within `seconds` (unknown expiry: no)."""
        tokens = self._tokens or self._load()
        expires_at = tokens.get("expires_at")
        return bool(tokens.get("refresh_token") and expires_at and float(expires_at) - time.time() < seconds)

    def refresh_if_expiring(self, seconds: float) -> bool:
        if not self.expires_within(seconds):
            return False
        self.refresh((self._tokens or self._load())["access_token"])
        return True

    def _mark_needs_reconnect(self, reason: str) -> None:
        mark_needs_reconnect(self._repo, self.account_id, reason)

    def _clear_needs_reconnect(self) -> None:
        current = self._repo.get_account(self.account_id)
        if current is not None and current.get("status") == NEEDS_RECONNECT:
            self._repo.update_account(self.account_id, {"status": "connected"}, remove=("status_reason",))


class StaticToken:
    """A TokenSource for a bare access token: nothing to refresh with."""

    def __init__(self, token: str, stored: dict | None = None):
        self._token = token
        self._stored = dict(stored or {})  # what would be kept beside it in a secret (e.g. `login`)

    def current(self) -> str:
        return self._token

    def stored(self, key: str):
        return self._stored.get(key)

    def refresh(self, rejected: str) -> str:
        raise AuthError("the access token was rejected and there is no refresh token; reconnect the account")


def with_fresh_token(tokens, call: Callable[[str], object]):
    """Call `call(token)`; on AuthError refresh once and call again (a second rejection stands)."""
    token = tokens.current()
    try:
        return call(token)
    except AuthError:
        return call(tokens.refresh(token))


def mark_needs_reconnect(repo: Repository, account_id: str, reason: str) -> None:
    """Visible on the account in Firestore, and one ERROR line (alerting keys on it): which account,
    and what a person must do. A later good refresh clears it."""
    repo.merge_into_account(account_id, {"status": NEEDS_RECONNECT, "status_reason": reason, "status_at": utcnow()})
    log_event(log, logging.ERROR, "account needs reconnecting", account_id=account_id, reason=reason)
