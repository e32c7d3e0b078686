"""Platform name -> its adapter module, imported on first use (a function loads only its own)."""

from __future__ import annotations

import importlib
from types import ModuleType

from shared.errors import ConfigError
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
