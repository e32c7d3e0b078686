"""Test connection: one call to the platform's cheapest identity endpoint with the account's own
tokens, through the same client and refresh-once rule publishing uses.

ok: the platform named the account. needs_reconnect: the token was refused and the refresh token
too (or a second 401 after refreshing): a person must connect the account again, and the account
is marked so. error: the platform did not answer usefully (5xx, timeout, throttle): try later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from shared.errors import AuthError, ConfigError, PermanentError, TransientError
from shared.model.account import Account
from shared.platforms.credentials import ROTATING_REFRESH_TOKEN_PLATFORMS, AccountTokens, mark_needs_reconnect
from shared.platforms.registry import adapter_for
from shared.runtime.config_model import Config
from shared.runtime.logging import log_event
from shared.stores.posts import Repository
from shared.stores.protocols import SecretStore
from shared.stores.secrets import SecretNotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionResult:
    result: str  # ok | needs_reconnect | error
    detail: str
    identity: dict = field(default_factory=dict)


def test_connection(account_id: str, account: Account, *, secrets: SecretStore, repo: Repository,
                    config: Config) -> ConnectionResult:
    platform = account["platform"]
    adapter = adapter_for(platform)
    try:
        tokens = AccountTokens(account_id, account, secrets=secrets, repo=repo,
                               refresh_fn=lambda t: adapter.refresh_tokens(t, config=config),
                               refresh_token_rotates=platform in ROTATING_REFRESH_TOKEN_PLATFORMS)
        identity = adapter.identity(tokens, config, account)
    except SecretNotFound:
        return _outcome(account_id, "needs_reconnect", "no tokens are stored for this account; connect it first")
    except AuthError as exc:
        # The refresh (if there was one) is already recorded; a rejection after it is marked here.
        mark_needs_reconnect(repo, account_id, f"test connection: {exc}")
        return _outcome(account_id, "needs_reconnect", f"{platform} refused the account's tokens: {exc}")
    except (TransientError, PermanentError, ConfigError) as exc:
        return _outcome(account_id, "error", f"{platform} did not confirm the account: {exc}")
    _mark_connected(repo, account_id, account)
    return _outcome(account_id, "ok", f"{platform} knows the token as {identity.get('handle') or identity.get('name') or identity['platform_account_id']}",
                    identity)


def _mark_connected(repo: Repository, account_id: str, account: Account) -> None:
    """The tokens work: an account marked for reconnecting no longer needs it."""
    if account.get("status") == "needs_reconnect":
        repo.update_account(account_id, {"status": "connected"}, remove=("status_reason",))


def _outcome(account_id: str, result: str, detail: str, identity: dict | None = None) -> ConnectionResult:
    log_event(log, logging.INFO if result == "ok" else logging.WARNING, "account connection tested",
              account_id=account_id, result=result)
    return ConnectionResult(result, detail, {k: v for k, v in (identity or {}).items() if v is not None})
