"""`postgate token`: an HS256 API token minted from the secret store the API itself reads."""

from __future__ import annotations

import os
import time
from datetime import datetime

from shared.api.auth import issue_api_token
from shared.cli import output
from shared.cli.context import OK, Context, UsageError
from shared.errors import ConfigError
from shared.runtime.config_model import Config, env_name
from shared.stores.secrets import operator_secret_store


def _setting(field: str) -> str:
    """A setting as the functions read it: its variable when set, else the Config model's default
    (one home for both, so the CLI's token fits the API it is for)."""
    return os.environ.get(env_name(field)) or str(Config.model_fields[field].default)


def cmd_token(ctx: Context) -> int:
    args = ctx.args
    try:
        key = _api_jwt_key()
    except ConfigError as exc:
        raise UsageError(f"cannot read the API signing key: {exc}") from None
    audience = _setting("api_audience")
    token = issue_api_token(key, args.user, args.role, audience=audience, ttl_seconds=args.ttl)
    if ctx.json:
        expires = datetime.fromtimestamp(int(time.time()) + args.ttl).astimezone(ctx.tz)
        output.print_json({"token": token, "user": args.user, "roles": args.role, "expires_at": expires.isoformat()})
    else:
        output.emit(token)
    return OK


def _api_jwt_key() -> str:
    """The HS256 key from the secret store the API itself reads (same variables, same secret name)."""
    name = _setting("api_jwt_secret")
    store = operator_secret_store(os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("POSTGATE_PROJECT"))
    try:
        return store.access(name)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - no credentials, no API access: say so, briefly
        raise ConfigError(f"secret store ({type(store).__name__}): {exc}") from None
