"""The seed's Buffer configuration and profiles (/api/v1/buffer/...), on shared/accounts/buffer_configs.py.

The access token (a Buffer API key) is checked with Buffer, kept in the secret store only
(`buffer-config-<id>`), never returned (answers say `has_access_token: true`) and never logged.
Deleting a configuration that accounts use is refused (409 naming them): see the service's doc for why.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from shared.accounts import buffer_configs
from shared.accounts.service import AccountError
from shared.api.errors import ApiError
from shared.api.v1.conventions import (
    AccessToken,
    Deleted,
    Ref,
    SeedPage,
    editor,
    now,
    number,
    numbers,
    page_answer,
    repo,
    resolve,
    seed_time,
    v1_blueprint,
)
from shared.services import get_services

blueprint = v1_blueprint("buffer", "Buffer")
BufferPlan = Literal["free", "essentials", "team"]  # developers.buffer.com/guides/api-limits


class BufferConfigIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    access_token: AccessToken = Field(description="the Buffer API key (never returned)")
    id: str | None = Field(default=None, pattern=buffer_configs.CONFIG_ID_PATTERN, max_length=100,
                           description="our id for it (default: made up); the secret is buffer-config-<id>")
    plan: BufferPlan = Field(default="free", description="ours: the key's Buffer plan, whose request limits become "
                                                         "its accounts' posting caps (Buffer's API does not say it)")


class BufferConfigPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    access_token: AccessToken | None = Field(default=None, description="the new Buffer API key")
    plan: BufferPlan | None = Field(default=None, description="ours: the key's Buffer plan (its accounts' caps)")


class BufferConfigPath(BaseModel):
    id: Ref


class BufferOrganization(BaseModel):
    id: str
    name: str


class BufferConfigOut(BaseModel):
    id: int
    postgate_id: str
    has_access_token: bool = Field(description="the key is kept in the secret store; it is never returned")
    plan: str = Field(description="the key's Buffer plan: its request limits are its accounts' posting caps")
    organizations: list[BufferOrganization] = Field(description="the Buffer organizations the key reached when checked")
    social_account_ids: list[int] = Field(description="accounts posting with this configuration")
    created_at: str | None
    updated_at: str | None


class BufferProfileOut(BaseModel):
    id: str = Field(description="the Buffer channel id (an account's buffer_profile_id)")
    name: str
    service: str = Field(description="the network, as Buffer names it (twitter, instagram, ...)")
    organization_id: str
    avatar: str | None
    is_disconnected: bool
    buffer_config_id: int
    social_account_id: int | None = Field(description="the Postgate account linked to this channel, if any")
    postgate_account_id: str | None


class BufferConfigList(RootModel[list[BufferConfigOut]]):
    """Configurations (the total in X-Total-Count)."""


class BufferProfileList(RootModel[list[BufferProfileOut]]):
    """Buffer channels (the total in X-Total-Count)."""


def answer_error(exc: AccountError) -> ApiError:
    """A service refusal as the API answers it (Buffer failures 503, with Retry-After when Buffer said)."""
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after else None
    return ApiError(exc.status, str(exc), field=exc.field, headers=headers)


def config_out(config_id: str, record: dict) -> dict:
    users = buffer_configs.accounts_using(repo(), config_id)
    return BufferConfigOut(id=number("buffer_config", config_id), postgate_id=config_id, has_access_token=True,
                     plan=buffer_configs.plan_of(record),
                     organizations=[BufferOrganization(**o) for o in record.get("organizations") or []],
                     social_account_ids=sorted(numbers("social_account", users).values()),
                     created_at=seed_time(record.get("created_at")),
                     updated_at=seed_time(record.get("updated_at"))).model_dump(mode="json")


def _config_id(ref: str) -> str:
    return resolve("buffer_config", ref)


@blueprint.post("/buffer/config", responses={201: BufferConfigOut})
def create_config(body: BufferConfigIn):
    """Add a Buffer API key (checked with Buffer first: a refused key is 400 naming access_token)."""
    user = editor()
    services = get_services()
    try:
        config_id, record = buffer_configs.create_config(services.repository, services.secrets, services.config,
                                                         key=body.access_token.get_secret_value(), now=now(), by=user,
                                                         config_id=body.id, plan=body.plan)
    except AccountError as exc:
        raise answer_error(exc) from None
    return config_out(config_id, record), 201


@blueprint.get("/buffer/config", responses={200: BufferConfigList})
def list_configs(query: SeedPage):
    rows = buffer_configs.list_configs(repo())
    return page_answer([config_out(i, r) for i, r in rows[query.skip:query.skip + query.limit]], len(rows))


@blueprint.get("/buffer/config/<id>", responses={200: BufferConfigOut})
def get_config(path: BufferConfigPath):
    config_id = _config_id(path.id)
    try:
        return config_out(config_id, buffer_configs.require_config(repo(), config_id))
    except AccountError as exc:
        raise answer_error(exc) from None


@blueprint.put("/buffer/config/<id>", responses={200: BufferConfigOut})
def update_config(path: BufferConfigPath, body: BufferConfigPatch):
    """A new key (checked with Buffer first) and/or plan; the accounts using the configuration post with them."""
    user = editor()
    services = get_services()
    config_id = _config_id(path.id)
    if body.access_token is None and body.plan is None:
        raise ApiError(400, "send access_token, plan or both", field="access_token")
    try:
        record = buffer_configs.require_config(services.repository, config_id)
        if body.access_token is not None:
            record = buffer_configs.replace_key(services.repository, services.secrets, services.config, config_id,
                                                key=body.access_token.get_secret_value(), now=now(), by=user)
        if body.plan is not None:
            record = buffer_configs.set_plan(services.repository, config_id, body.plan, now=now(), by=user)
    except AccountError as exc:
        raise answer_error(exc) from None
    return config_out(config_id, record)


@blueprint.delete("/buffer/config/<id>", responses={200: Deleted})
def delete_config(path: BufferConfigPath):
    """Refused (409, naming them) while accounts use it. The key's secret is left for the operator."""
    user = editor()
    config_id = _config_id(path.id)
    try:
        buffer_configs.delete_config(repo(), config_id, by=user)
    except AccountError as exc:
        raise answer_error(exc) from None
    return Deleted(id=number("buffer_config", config_id), postgate_id=config_id).model_dump(mode="json")


@blueprint.get("/buffer/profiles", responses={200: BufferProfileList})
def get_profiles(query: SeedPage):
    """Every channel of every Buffer organization the configured keys reach, each with the Postgate
    account linked to it (if any). A JSON array, the total in X-Total-Count."""
    services = get_services()
    try:
        found = buffer_configs.profiles(services.repository, services.secrets, services.config)
    except AccountError as exc:
        raise answer_error(exc) from None
    config_numbers = numbers("buffer_config", [p.config_id for p in found])
    account_numbers = numbers("social_account", [p.account_id for p in found if p.account_id])
    page = found[query.skip:query.skip + query.limit]
    return page_answer([BufferProfileOut(id=p.channel.id, name=p.channel.name, service=p.channel.service,
                                   organization_id=p.channel.organization_id, avatar=p.channel.avatar,
                                   is_disconnected=p.channel.is_disconnected,
                                   buffer_config_id=config_numbers[p.config_id],
                                   social_account_id=account_numbers.get(p.account_id) if p.account_id else None,
                                   postgate_account_id=p.account_id).model_dump(mode="json") for p in page],
                       len(found))
