"""Platform name -> its adapter module, imported on first use (a function loads only its own)."""

from __future__ import annotations

import importlib
from types import ModuleType

from shared.errors import ConfigError
from shared.model.account import Account, Limit
from shared.model.platform import PLATFORMS

_REQUIRED = ("validate", "publish", "check_status", "reconcile", "refresh_tokens", "preview", "DEFAULT_LIMITS",
             "METRICS_BATCH_SIZE", "fetch_metrics")


def adapter_for(platform: str) -> ModuleType:
    if platform not in PLATFORMS:
        raise ConfigError(f"unknown platform {platform!r} (known: {', '.join(PLATFORMS)})")
    module = importlib.import_module(f"shared.platforms.{platform}.adapter")
    missing = [name for name in _REQUIRED if not hasattr(module, name)]
    if missing:
        raise ConfigError(f"platform adapter {platform} lacks {', '.join(missing)}")
    return module


def default_limits(account: Account) -> list[Limit]:
    """The caps an account gets unless its record sets its own: its adapter's DEFAULT_LIMITS, or what an
    adapter whose caps depend on the account says (`limits_for_account`: Buffer's follow its plan)."""
    adapter = adapter_for(account.get("platform", ""))
    per_account = getattr(adapter, "limits_for_account", None)
    return list(per_account(account)) if per_account is not None else list(adapter.DEFAULT_LIMITS)
