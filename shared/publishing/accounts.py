"""Account credentials: each account's tokens live in the secret store as one JSON secret."""

from __future__ import annotations

import json

from shared.errors import ConfigError


def access_token_for(account: dict, secrets) -> str:
    name = account.get("secret_name")
    if not name:
        raise ConfigError(f"account {account.get('handle', '?')} has no secret_name")
    raw = secrets.access(name)
    try:
        value = json.loads(raw)
    except ValueError:
        return raw  # a bare token
    token = value.get("access_token") if isinstance(value, dict) else None
    if not token:
        raise ConfigError(f"secret {name} has no access_token")
    return token
