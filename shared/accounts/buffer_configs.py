"""Buffer configurations: a Buffer API key Postgate may post with, and the channels it reaches.

A configuration is a Firestore record `buffer_configs/{id}` (who added it and when, the organizations the
key reached, the key's SHA-256 so the same key is not kept twice) and a secret `buffer-config-<id>`
holding `{"access_token": "<key>"}` -- the token secret shape shared/platforms/credentials.py reads, so a
Buffer-routed account names this secret as its own `secret_name`. The key is checked with Buffer before
it is kept, never returned, never logged.

Deleting a configuration that accounts still use is refused (409, naming them) rather than marking those
accounts needs_reconnect: their approved and scheduled posts would then fail when due, and a key
replaced by mistake is a PUT away. Delete or move the accounts first. The secret is left for the
operator to destroy (as an account's is: the secret store adds versions, it does not disable them).

Failures reaching Buffer are AccountError 503 (the seed's "Buffer API issues"), with Retry-After when
Buffer said when; a refused key is a 400 naming access_token when it is being added, and a 503 naming
the configuration when a stored one stops working.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.accounts.service import ACCOUNT_ID_PATTERN, AccountError
from shared.errors import AuthError, PermanentError, TransientError
from shared.model.account import Account, buffer_config_secret_name
from shared.platforms.buffer.client import BufferChannel
from shared.platforms.buffer.limits import FALLBACK_PLAN, PLAN_REQUEST_LIMITS
from shared.platforms.buffer.publish import client_for
from shared.platforms.credentials import mark_needs_reconnect, parse_token_secret
from shared.runtime.config_model import Config
from shared.runtime.logging import log_event, register_secret
from shared.stores import buffer_configs as store
from shared.stores.posts import Repository
from shared.stores.protocols import SecretStore
from shared.stores.secrets import SecretNotFound

log = logging.getLogger(__name__)

BUFFER = "buffer"
CONFIG_ID_PATTERN = ACCOUNT_ID_PATTERN  # also a secret name part


class BufferUnavailable(AccountError):
    """Buffer did not do what was asked (down, throttling, or a stored key it now refuses): 503."""

    def __init__(self, message: str, *, field: str | None = None, retry_after: float | None = None):
        super().__init__(503, message, field=field)
        self.retry_after = retry_after


secret_name_of = buffer_config_secret_name  # the agreed secret of a configuration (shared/model/account.py)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _failed(exc: Exception, what: str) -> BufferUnavailable:
    retry_after = getattr(exc, "retry_after", None)
    return BufferUnavailable(f"Buffer did not answer {what}: {exc}", retry_after=retry_after)


def _organizations(key: str, config: Config) -> list[dict[str, str]]:
    """The organizations the key reaches, checked with Buffer: a refused key is the caller's to fix (400)."""
    try:
        return [{"id": org_id, "name": name} for org_id, name in client_for(key, config).organizations()]
    except AuthError:
        raise AccountError(400, "Buffer refused this access token; nothing was stored", field="access_token") from None
    except (TransientError, PermanentError) as exc:
        raise _failed(exc, "whether the key works") from None


# -- configurations ---------------------------------------------------------------------------------

def _checked_plan(plan: str) -> str:
    if plan not in PLAN_REQUEST_LIMITS:
        raise AccountError(400, f"plan must be one of {', '.join(PLAN_REQUEST_LIMITS)}", field="plan")
    return plan


def plan_of(record: dict[str, Any]) -> str:
    """The Buffer plan the configuration's key is on (its request limits are its accounts' caps)."""
    return str(record.get("plan") or FALLBACK_PLAN)


def create_config(repo: Repository, secrets: SecretStore, config: Config, *, key: str, now: datetime, by: str,
                  config_id: str | None = None, plan: str = FALLBACK_PLAN) -> tuple[str, dict[str, Any]]:
    """A new configuration for a key Buffer accepts (the organizations it reaches recorded). `plan`: the
    Buffer plan of the key's organization, which Buffer's API does not report (the caps follow it)."""
    _checked_plan(plan)
    register_secret(key)
    taken = store.config_with_key_digest(repo, key_digest(key))
    if taken:
        raise AccountError(409, f"this key is Buffer configuration {taken!r} already", field="access_token")
    config_id = config_id or "bc-" + uuid.uuid4().hex[:12]
    if store.get_config_record(repo, config_id) is not None:
        raise AccountError(409, f"Buffer configuration {config_id!r} already exists", field="id")
    organizations = _organizations(key, config)
    _store_key(secrets, config_id, key)
    record = {"secret_name": secret_name_of(config_id), "key_sha256": key_digest(key), "organizations": organizations,
              "plan": plan, "created_at": now, "updated_at": now, "created_by": by}
    if not store.create_config(repo, config_id, record):
        raise AccountError(409, f"Buffer configuration {config_id!r} already exists", field="id")
    log_event(log, logging.INFO, "buffer configuration created", config_id=config_id, by=by,
              organizations=len(organizations))
    return config_id, record


def _store_key(secrets: SecretStore, config_id: str, key: str) -> None:
    name = secret_name_of(config_id)
    try:
        secrets.add_version(name, json.dumps({"access_token": key}))
    except SecretNotFound:
        raise AccountError(409, f"the secret {name!r} for this key does not exist: create it (Terraform or "
                                f"`gcloud secrets create {name}`) and send the request again with \"id\": "
                                f"\"{config_id}\" (nothing was stored)", field="id") from None


def require_config(repo: Repository, config_id: str) -> dict[str, Any]:
    record = store.get_config_record(repo, config_id) if "/" not in config_id else None
    if record is None:
        raise AccountError(404, f"no Buffer configuration {config_id!r}")
    return record


def list_configs(repo: Repository) -> list[tuple[str, dict[str, Any]]]:
    return store.config_records(repo)


def stored_key(secrets: SecretStore, config_id: str) -> str:
    try:
        return str(parse_token_secret(secrets.access(secret_name_of(config_id)))["access_token"])
    except SecretNotFound:
        raise BufferUnavailable(f"Buffer configuration {config_id!r} has no stored key", field="access_token") from None


def replace_key(repo: Repository, secrets: SecretStore, config: Config, config_id: str, *, key: str, now: datetime,
                by: str) -> dict[str, Any]:
    """A new key for the configuration (Buffer must accept it); its accounts use it from the next call."""
    register_secret(key)
    require_config(repo, config_id)
    taken = store.config_with_key_digest(repo, key_digest(key))
    if taken and taken != config_id:
        raise AccountError(409, f"this key is Buffer configuration {taken!r} already", field="access_token")
    organizations = _organizations(key, config)
    _store_key(secrets, config_id, key)
    store.update_config(repo, config_id, {"key_sha256": key_digest(key), "organizations": organizations,
                                          "updated_at": now, "updated_by": by})
    log_event(log, logging.INFO, "buffer configuration key replaced", config_id=config_id, by=by)
    return require_config(repo, config_id)


def set_plan(repo: Repository, config_id: str, plan: str, *, now: datetime, by: str) -> dict[str, Any]:
    """The key's plan changed (an upgrade, a downgrade): the configuration and every account posting with it
    take the new plan's caps from their next post."""
    _checked_plan(plan)
    require_config(repo, config_id)
    store.update_config(repo, config_id, {"plan": plan, "updated_at": now, "updated_by": by})
    for account_id in accounts_using(repo, config_id):
        repo.update_account(account_id, {"buffer_plan": plan, "updated_at": now})
    log_event(log, logging.INFO, "buffer configuration plan set", config_id=config_id, plan=plan, by=by)
    return require_config(repo, config_id)


def accounts_using(repo: Repository, config_id: str) -> list[str]:
    return sorted(account_id for account_id, account in repo.accounts(BUFFER)
                  if account.get("buffer_config_id") == config_id)


def delete_config(repo: Repository, config_id: str, *, by: str) -> None:
    """Refused (409) while accounts use it (module doc)."""
    require_config(repo, config_id)
    users = accounts_using(repo, config_id)
    if users:
        raise AccountError(409, f"Buffer configuration {config_id!r} is used by account(s) {', '.join(users[:10])}: "
                                "delete those accounts or give them another configuration first")
    store.delete_config(repo, config_id)
    log_event(log, logging.INFO, "buffer configuration deleted", config_id=config_id, by=by,
              secret_left_for_operator=secret_name_of(config_id))


# -- channels -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Profile:
    """A Buffer channel a configured key reaches, and the Postgate account linked to it (if any)."""

    channel: BufferChannel
    config_id: str
    account_id: str | None


def profiles(repo: Repository, secrets: SecretStore, config: Config) -> list[Profile]:
    """Every channel of every organization each configuration's key reaches, in configuration order."""
    linked = {(a.get("buffer_config_id"), a.get("platform_account_id")): account_id
              for account_id, a in repo.accounts(BUFFER)}
    found: list[Profile] = []
    for config_id, _record in list_configs(repo):
        client = client_for(stored_key(secrets, config_id), config)
        try:
            for organization_id, _name in client.organizations():
                for channel in client.channels(organization_id):
                    found.append(Profile(channel, config_id, linked.get((config_id, channel.id))))
        except AuthError:
            raise BufferUnavailable(f"Buffer refused the key of configuration {config_id!r}: replace it",
                                    field="access_token") from None
        except (TransientError, PermanentError) as exc:
            raise _failed(exc, "with the channels") from None
    return found


def find_channel(secrets: SecretStore, config: Config, config_id: str, channel_id: str) -> BufferChannel | None:
    """The channel as Buffer describes it through this configuration's key (None: no such channel)."""
    try:
        return client_for(stored_key(secrets, config_id), config).channel(channel_id)
    except AuthError:
        raise BufferUnavailable(f"Buffer refused the key of configuration {config_id!r}: replace it",
                                field="access_token") from None
    except (TransientError, PermanentError) as exc:
        raise _failed(exc, f"about channel {channel_id}") from None


def route_fields(channel: BufferChannel, config_id: str, plan: str) -> Account:
    """The Account fields of a Buffer-routed account for this channel (the agreed record shape), its caps
    those of the configuration's plan."""
    fields: Account = {"platform_account_id": channel.id, "platform_name": channel.name,
                       "buffer_service": channel.service, "buffer_organization_id": channel.organization_id,
                       "buffer_config_id": config_id, "secret_name": secret_name_of(config_id), "buffer_plan": plan}
    return fields


def sync_account(repo: Repository, secrets: SecretStore, config: Config, account_id: str, account: Account, *,
                 now: datetime) -> tuple[Account, BufferChannel | None]:
    """Refresh a Buffer-routed account from its channel (name, service, organization, disconnected).
    A refused key marks the account needs_reconnect and raises BufferUnavailable saying so."""
    if account.get("platform") != BUFFER or not account.get("buffer_config_id"):
        raise AccountError(409, f"account {account_id!r} does not post through Buffer")
    config_id = str(account["buffer_config_id"])
    channel_id = str(account.get("platform_account_id") or "")
    try:
        channel = find_channel(secrets, config, config_id, channel_id)
    except BufferUnavailable as exc:
        if exc.field == "access_token":
            mark_needs_reconnect(repo, account_id, f"sync with Buffer: {exc}")
            raise BufferUnavailable(f"{exc}; account {account_id!r} needs reconnecting", field="access_token") from None
        raise
    changes: dict[str, object] = {"updated_at": now, "status_at": now}
    removed: list[str] = []
    if channel is None:
        changes.update(status="needs_reconnect", status_reason=f"Buffer has no channel {channel_id} for this key")
    else:
        changes.update({k: v for k, v in route_fields(channel, config_id, plan_of(require_config(repo, config_id))).items() if k != "secret_name"})
        if channel.is_disconnected:
            changes.update(status="needs_reconnect", status_reason="Buffer says the channel is disconnected: "
                                                                   "reconnect it in Buffer")
        else:
            changes["status"] = "connected"
            removed.append("status_reason")
    repo.update_account(account_id, changes, remove=removed)
    log_event(log, logging.INFO, "account synced with buffer", account_id=account_id, found=channel is not None)
    updated = repo.get_account(account_id)
    return (updated or account), channel
