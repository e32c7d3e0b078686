"""The seed's social accounts (/api/v1/social-accounts), on the services our own /accounts routes call.

With `buffer_profile_id` the account posts through Buffer: an ordinary Postgate account with platform
"buffer", the channel's id as its platform_account_id, the channel's service (the seed's `platform`
must name the same network) and the Buffer configuration whose key it uses. That configuration is
`buffer_config_id` when given; else the one holding the sent `access_token` (added now if no
configuration holds it: for a Buffer account the seed's access_token is the Buffer key); else the only
configuration there is. The channel is looked up with Buffer before the account is made.

Without it, an account of that platform posting directly ("twitter" is X); its `access_token`, when
sent, becomes the account's token secret as connect stores tokens. Tokens and keys are never returned
or logged.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, RootModel, SecretStr

from shared.accounts import buffer_configs, service
from shared.accounts.connection import test_connection
from shared.accounts.service import AccountError, effective_status
from shared.api.errors import ApiError
from shared.api.v1.buffer import answer_error
from shared.api.v1.conventions import (
    BUFFER,
    AccessToken,
    BodyRef,
    Ref,
    SeedPage,
    editor,
    now,
    number,
    numbers,
    page_answer,
    repo,
    resolve,
    same_network,
    seed_platform,
    seed_time,
    v1_blueprint,
)
from shared.model.account import Account
from shared.model.platform import display_name, platform_named
from shared.platforms.buffer.client import BufferChannel
from shared.services import get_services
from shared.stores.buffer_configs import config_with_key_digest

blueprint = v1_blueprint("accounts", "social accounts")
PLATFORM_TEXT = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_ -]+$",
                      description="the network as the seed names it: twitter, instagram, linkedin, tiktok, youtube "
                                  "(through Buffer also Buffer's other services)")
CHANNEL_PATTERN = r"^[A-Za-z0-9:._-]+$"


class SocialAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: str = PLATFORM_TEXT
    account_name: str = Field(min_length=1, max_length=100)
    buffer_profile_id: str | None = Field(default=None, min_length=1, max_length=200, pattern=CHANNEL_PATTERN,
                                          description="a Buffer channel id: the account posts through Buffer")
    access_token: AccessToken | None = Field(default=None, description="kept in the secret store, never returned")
    buffer_config_id: BodyRef | None = Field(default=None, description="ours: the Buffer configuration to use")


class SocialAccountPatch(BaseModel):
    """Only the fields sent change. platform and buffer_profile_id may only be sent unchanged."""

    model_config = ConfigDict(extra="forbid")

    platform: str | None = Field(default=None, min_length=1, max_length=40)
    account_name: str | None = Field(default=None, min_length=1, max_length=100)
    buffer_profile_id: str | None = Field(default=None, min_length=1, max_length=200, pattern=CHANNEL_PATTERN)
    access_token: AccessToken | None = None
    buffer_config_id: BodyRef | None = None


class SocialAccountPath(BaseModel):
    id: Ref


class SocialAccountDeleteQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(default=False, description="cancel the account's unclaimed posts instead of refusing")


class SocialAccountOut(BaseModel):
    id: int
    postgate_id: str
    platform: str = Field(description="the network, as the seed names it")
    account_name: str
    buffer_profile_id: str | None
    buffer_config_id: int | None
    postgate_platform: str = Field(description="how Postgate posts: the platform, or buffer")
    status: str = Field(description="connected | needs_reconnect | not_connected")
    status_reason: str | None = None
    is_active: bool = Field(description="connected")
    created_at: str | None
    updated_at: str | None


class SocialAccountList(RootModel[list[SocialAccountOut]]):
    """Accounts (the total in X-Total-Count)."""


class SocialAccountConnection(BaseModel):
    id: int
    postgate_id: str
    result: str = Field(description="ok | needs_reconnect | error")
    detail: str
    identity: dict[str, str] | None = None


class SocialAccountSync(BaseModel):
    account: SocialAccountOut
    channel_found: bool
    channel_name: str | None
    service: str | None
    is_disconnected: bool | None


class SocialAccountDeleted(BaseModel):
    id: int
    postgate_id: str
    deleted: bool = True
    cancelled_post_ids: list[str] = Field(default_factory=list)


def account_out(account_id: str, account: Account) -> dict:
    buffered = account.get("platform") == BUFFER
    config_id = account.get("buffer_config_id")
    status = effective_status(account)
    return SocialAccountOut(
        id=number("social_account", account_id), postgate_id=account_id, platform=seed_platform(account),
        account_name=str(account.get("handle") or account_id),
        buffer_profile_id=str(account.get("platform_account_id")) if buffered else None,
        buffer_config_id=number("buffer_config", str(config_id)) if config_id else None,
        postgate_platform=str(account.get("platform")), status=status, status_reason=account.get("status_reason"),
        is_active=status == "connected", created_at=seed_time(account.get("created_at")),
        updated_at=seed_time(account.get("updated_at"))).model_dump(mode="json")


def _account(ref: str) -> tuple[str, Account]:
    account_id = resolve("social_account", ref)
    try:
        return account_id, service.require_account(repo(), account_id)
    except AccountError:
        raise ApiError(404, f"no social account {ref}") from None


def _new_id(*parts: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(parts)).strip("-_").lower()[:80]
    return slug if re.match(r"^[A-Za-z0-9]", slug) else "account-" + slug


# -- Buffer-routed accounts -------------------------------------------------------------------------

def _configuration(ref: int | str | None, key: SecretStr | None, user: str) -> str:
    """The Buffer configuration an account uses (module doc)."""
    services = get_services()
    if ref is not None:
        config_id = resolve("buffer_config", ref, field="buffer_config_id")
        buffer_configs.require_config(services.repository, config_id)
        return config_id
    if key is not None:
        held = config_with_key_digest(services.repository, buffer_configs.key_digest(key.get_secret_value()))
        if held:
            return held
        config_id, _ = buffer_configs.create_config(services.repository, services.secrets, services.config,
                                                    key=key.get_secret_value(), now=now(), by=user)
        return config_id
    configs = buffer_configs.list_configs(services.repository)
    if len(configs) != 1:
        raise AccountError(400, "name the Buffer configuration (buffer_config_id) or send its access_token: "
                                f"there are {len(configs)} configurations (POST /api/v1/buffer/config adds one)",
                           field="buffer_config_id")
    return configs[0][0]


def _channel(config_id: str, channel_id: str, platform: str | None) -> BufferChannel:
    services = get_services()
    channel = buffer_configs.find_channel(services.secrets, services.config, config_id, channel_id)
    if channel is None:
        raise AccountError(400, f"Buffer has no channel {channel_id!r} reachable with this configuration's key",
                           field="buffer_profile_id")
    if platform is not None and not same_network(platform, {"platform": BUFFER, "buffer_service": channel.service}):
        raise AccountError(400, f"Buffer channel {channel_id} is a {channel.service} channel, not {platform}",
                           field="platform")
    return channel


def _create_buffer_account(body: SocialAccountIn, user: str) -> tuple[str, Account]:
    services = get_services()
    config_id = _configuration(body.buffer_config_id, body.access_token, user)
    channel = _channel(config_id, str(body.buffer_profile_id), body.platform)
    for account_id, account in services.repository.accounts(BUFFER):
        if account.get("platform_account_id") == channel.id:
            raise AccountError(409, f"Buffer channel {channel.id} is account {number('social_account', account_id)} "
                                    "already", field="buffer_profile_id")
    route = buffer_configs.route_fields(channel, config_id,
                                        buffer_configs.plan_of(buffer_configs.require_config(services.repository, config_id)))
    route["status"] = "needs_reconnect" if channel.is_disconnected else "connected"
    route["connected_at"] = now()
    if channel.is_disconnected:
        route["status_reason"] = "Buffer says the channel is disconnected: reconnect it in Buffer"
    return _create_with_free_id(_new_id(BUFFER, channel.service, body.account_name), BUFFER, body.account_name,
                                channel.id, user, route)


def _create_with_free_id(base: str, platform: str, handle: str, platform_account_id: str | None, user: str,
                         route: Account | None = None) -> tuple[str, Account]:
    for attempt in range(1, 50):
        account_id = base if attempt == 1 else f"{base[:90]}-{attempt}"
        try:
            return account_id, service.create_account(repo(), account_id=account_id, platform=platform, handle=handle,
                                                      platform_account_id=platform_account_id, limits=None, now=now(),
                                                      by=user, route=route)
        except AccountError as exc:
            if exc.status != 409:
                raise
    raise AccountError(409, f"too many accounts named like {base!r}", field="account_name")


# -- routes -------------------------------------------------------------------------------------------

@blueprint.post("/social-accounts", responses={201: SocialAccountOut})
def create_social_account(body: SocialAccountIn):
    """Connect an account: through Buffer with buffer_profile_id, else directly (module doc)."""
    user = editor()
    services = get_services()
    try:
        if body.buffer_profile_id:
            account_id, account = _create_buffer_account(body, user)
        else:
            if body.buffer_config_id is not None:
                raise AccountError(400, "buffer_config_id needs a buffer_profile_id", field="buffer_config_id")
            platform = platform_named(body.platform)
            if platform is None or platform == BUFFER:
                raise AccountError(400, f"Postgate posts to {body.platform!r} only through Buffer: send the channel's "
                                        "buffer_profile_id", field="platform")
            account_id, account = _create_with_free_id(_new_id(platform, body.account_name), platform,
                                                       body.account_name, None, user)
            if body.access_token is not None:
                account = service.store_access_token(services.repository, services.secrets, account_id,
                                                     body.access_token.get_secret_value(), now=now(), by=user)
    except AccountError as exc:
        raise answer_error(exc) from None
    return account_out(account_id, account), 201


@blueprint.get("/social-accounts", responses={200: SocialAccountList})
def list_social_accounts(query: SeedPage):
    """In id order; a JSON array, the total in X-Total-Count."""
    rows, total = service.list_accounts(repo(), platform=None, skip=query.skip, limit=query.limit)
    numbers("social_account", [i for i, _ in rows])  # one read for the page's numbers
    return page_answer([account_out(i, a) for i, a in rows], total)


@blueprint.get("/social-accounts/<id>", responses={200: SocialAccountOut})
def get_social_account(path: SocialAccountPath):
    return account_out(*_account(path.id))


@blueprint.put("/social-accounts/<id>", responses={200: SocialAccountOut})
def update_social_account(path: SocialAccountPath, body: SocialAccountPatch):
    """account_name; access_token (a direct account's new token; for a Buffer account the key of the
    configuration it then uses); buffer_config_id (another configuration reaching the same channel)."""
    user = editor()
    services = get_services()
    account_id, account = _account(path.id)
    buffered = account.get("platform") == BUFFER
    if body.platform is not None and not same_network(body.platform, account):
        raise ApiError(400, f"an account's platform can't change (it is {seed_platform(account)}): add another account",
                       field="platform")
    if body.buffer_profile_id is not None and body.buffer_profile_id != account.get("platform_account_id"):
        raise ApiError(400, "an account's Buffer channel can't change: add another account", field="buffer_profile_id")
    try:
        if body.account_name is not None:
            account = service.update_account(services.repository, account_id, handle=body.account_name, limits=None,
                                             now=now(), by=user)
        if buffered and (body.access_token is not None or body.buffer_config_id is not None):
            config_id = _configuration(body.buffer_config_id, body.access_token, user)
            channel = _channel(config_id, str(account.get("platform_account_id")), None)
            plan = buffer_configs.plan_of(buffer_configs.require_config(services.repository, config_id))
            services.repository.update_account(account_id, {**buffer_configs.route_fields(channel, config_id, plan),
                                                            "updated_at": now()})
            account = service.require_account(services.repository, account_id)
        elif body.buffer_config_id is not None:
            raise AccountError(400, f"account {account_id} posts to {display_name(str(account.get('platform')))} "
                                    "directly, not through Buffer", field="buffer_config_id")
        elif body.access_token is not None:
            account = service.store_access_token(services.repository, services.secrets, account_id,
                                                 body.access_token.get_secret_value(), now=now(), by=user)
    except AccountError as exc:
        raise answer_error(exc) from None
    return account_out(account_id, account)


@blueprint.delete("/social-accounts/<id>", responses={200: SocialAccountDeleted})
def delete_social_account(path: SocialAccountPath, query: SocialAccountDeleteQuery):
    """409 while its posts are approved, scheduled or being published (force=true cancels the unclaimed ones)."""
    user = editor()
    account_id, _ = _account(path.id)
    seed_id = number("social_account", account_id)
    try:
        deleted = service.delete_account(repo(), account_id, force=query.force, by=user)
    except AccountError as exc:
        raise answer_error(exc) from None
    return SocialAccountDeleted(id=seed_id, postgate_id=account_id, cancelled_post_ids=deleted.cancelled_posts).model_dump(mode="json")


@blueprint.post("/social-accounts/<id>/test-connection", responses={200: SocialAccountConnection})
def test_social_account(path: SocialAccountPath):
    """Our connection test: the platform's cheapest identity call with the stored token, or for a Buffer
    account Buffer's channel through the configuration's key. ok | needs_reconnect (marked) | error."""
    editor()
    services = get_services()
    account_id, account = _account(path.id)
    outcome = test_connection(account_id, account, secrets=services.secrets, repo=services.repository,
                              config=services.config)
    return SocialAccountConnection(id=number("social_account", account_id), postgate_id=account_id, result=outcome.result,
                         detail=outcome.detail,
                         identity={k: str(v) for k, v in outcome.identity.items()} or None).model_dump(mode="json")


@blueprint.post("/social-accounts/<id>/sync-buffer", responses={200: SocialAccountSync})
def sync_social_account(path: SocialAccountPath):
    """Refresh the account from its Buffer channel (name, service, disconnected). A key Buffer refuses
    marks the account needs_reconnect and answers 503 saying so; a non-Buffer account is 409."""
    editor()
    services = get_services()
    account_id, account = _account(path.id)
    try:
        account, channel = buffer_configs.sync_account(services.repository, services.secrets, services.config,
                                                       account_id, account, now=now())
    except AccountError as exc:
        raise answer_error(exc) from None
    return SocialAccountSync(account=SocialAccountOut(**account_out(account_id, account)), channel_found=channel is not None,
                   channel_name=channel.name if channel else None, service=channel.service if channel else None,
                   is_disconnected=channel.is_disconnected if channel else None).model_dump(mode="json")
