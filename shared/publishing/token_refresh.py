"""Scheduler tick: renew tokens nearing expiry for every account, idle ones included.

Publishing refreshes a token only when it touches the account, so an account with nothing to post
would let its tokens lapse (Instagram's 60-day token, for good; a rotating refresh token that is
never used can expire too). Each account is refreshed under the same lease as a publisher's
refresh, so the two never spend a rotating refresh token twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from shared.errors import AuthError
from shared.platforms.credentials import DEFAULT_REFRESH_AHEAD_SECONDS
from shared.platforms.registry import adapter_for
from shared.publishing.publisher import account_tokens
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.stores.posts import Repository
from shared.stores.protocols import SecretStore

log = logging.getLogger(__name__)
# Longer than two ticks (6 h): a token is renewed at least once before it can lapse between ticks.
REFRESH_HORIZON_SECONDS = 13 * 3600


@dataclass
class RefreshSummary:
    checked: int = 0
    refreshed: int = 0
    needs_reconnect: int = 0
    errors: int = 0
    account_ids: list[str] = field(default_factory=list)


def refresh_expiring_tokens(*, repo: Repository, config: Config, secrets: SecretStore) -> RefreshSummary:
    summary = RefreshSummary()
    for account_id, account in repo.accounts():
        with log_context(account_id=account_id, platform=account.get("platform")):
            summary.checked += 1
            try:
                adapter = adapter_for(account.get("platform", ""))
                tokens = account_tokens(account_id, account, adapter, repo=repo, config=config, secrets=secrets)
                horizon = max(REFRESH_HORIZON_SECONDS, getattr(adapter, "REFRESH_AHEAD_SECONDS", DEFAULT_REFRESH_AHEAD_SECONDS))
                if tokens.refresh_if_expiring(horizon):
                    summary.refreshed += 1
                    summary.account_ids.append(account_id)
            except AuthError:
                summary.needs_reconnect += 1  # marked on the account and logged by AccountTokens
            except Exception as exc:  # noqa: BLE001 - one account's trouble never holds up the others
                summary.errors += 1
                log_event(log, logging.WARNING, "token refresh failed; the next tick tries again", error=str(exc),
                          error_type=type(exc).__name__)
    log_event(log, logging.INFO, "token refresh done", checked=summary.checked, refreshed=summary.refreshed,
              needs_reconnect=summary.needs_reconnect, errors=summary.errors)
    return summary
