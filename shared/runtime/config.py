"""Configuration from the environment, validated once, with errors that name the variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.runtime.config_model import Config


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Config from the environment variables (os.environ unless given); a missing or bad one raises
    ConfigError naming it (shared/runtime/config_model.py)."""
    # Imported here, not at the top: pydantic, pydantic-settings and the model cost ~100 ms, kept out
    # of a function's import (cold start) until the config is first read.
    from shared.runtime.config_model import read_config

    return read_config(os.environ if environ is None else environ)


@lru_cache(maxsize=1)
def get_config() -> Config:
    """The process-wide config, read once per instance (cold start)."""
    return load_config()


def __getattr__(name: str):
    # `from shared.runtime.config import Config` still works, building the model only then.
    if name == "Config":
        from shared.runtime.config_model import Config

        return Config
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
