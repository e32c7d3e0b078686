"""token-refresh: each Scheduler tick refreshes account tokens that expire soon."""

from __future__ import annotations

from shared.publishing.token_refresh import RefreshSummary, refresh_expiring_tokens
from shared.services import get_services


def refresh_tokens() -> RefreshSummary:
    services = get_services()
    return refresh_expiring_tokens(repo=services.repository, config=services.config, secrets=services.secrets)
