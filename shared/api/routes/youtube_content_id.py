"""YouTube Content ID: the content owner's assets, claim and claim-policy changes, and their decision.

Every change goes through the signed-link approval (shared/content_id); these routes only translate
HTTP to that service and its refusals to statuses. A channel whose account acts for no YouTube
content owner is refused with 409 naming why.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal, TypeVar

from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field

from shared.api.auth import current_principal
from shared.api.errors import ApiError
from shared.api.schemas import PageQuery, page_fields
from shared.content_id import service
from shared.content_id.model import (
    ChangeStatus,
    ClaimChangeRequest,
    ContentIdChange,
    Kind,
    Outcome,
    PolicyChangeRequest,
)
from shared.content_id.service import ChangeConflict, ChangeNotFound
from shared.errors import AuthError, CapReached, PermanentError, TransientError
from shared.services import get_services

blueprint = APIBlueprint("youtube_content_id", __name__, abp_tags=[Tag(name="youtube")],
                         abp_security=[{"bearer": []}])

_ACCOUNT = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
T = TypeVar("T")


class AssetQuery(PageQuery):
    account_id: str = Field(min_length=1, max_length=128, pattern=_ACCOUNT,
                            description="a connected YouTube account whose login acts for the content owner")
    q: str | None = Field(default=None, min_length=1, max_length=200, description="YouTube's asset search text")
    content_owner_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")


class AssetOut(BaseModel):
    id: str
    type: str | None = None
    title: str | None = None
    custom_id: str | None = None
    time_created: str | None = None


class AssetPage(BaseModel):
    content_owner_id: str
    items: list[AssetOut]
    total: int
    skip: int
    limit: int


class ChangePath(BaseModel):
    change_id: str = Field(min_length=1, max_length=128, pattern=_ACCOUNT)


class ChangeListQuery(PageQuery):
    status: ChangeStatus | None = None


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "reject"]
    change_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="the hash of the change you reviewed")
    reason: str | None = Field(default=None, max_length=1000)


class ChangeOut(BaseModel):
    id: str
    kind: Kind
    account_id: str
    channel_id: str
    content_owner_id: str
    video_id: str
    video_title: str
    asset_id: str
    asset_title: str
    claim_id: str | None
    requested_by: str
    requested_at: datetime
    proposed: dict
    before: dict
    review: list[dict] = Field(description="what the approver sees: field, before, after")
    change_hash: str
    status: ChangeStatus
    decision: Literal["approved", "rejected"] | None
    decided_by: str | None
    decided_at: datetime | None
    decided_via: Literal["link", "api"] | None
    reason: str | None
    outcome: Outcome | None
    after: dict | None
    platform_response: dict | None
    failure_reason: str | None
    applied_at: datetime | None
    audit_written: bool

    @classmethod
    def of(cls, change: ContentIdChange) -> dict:
        data = change.model_dump(exclude={"token_id", "created_at", "updated_at", "apply_due_at", "apply_claim",
                                          "write_attempts", "apply_tries", "last_error", "audit_claim_until"})
        review = [{"field": f, "before": b, "after": a} for f, b, a in service.describe(change)]
        return cls.model_validate({**data, "review": review}).model_dump(mode="json")


class ChangePage(BaseModel):
    items: list[ChangeOut]
    total: int
    skip: int
    limit: int


def _answering(call: Callable[[], T]) -> T:
    """The service's refusals as statuses: 404 unknown, 409 state (no content owner included), 503
    YouTube busy, 422 YouTube refused."""
    try:
        return call()
    except ChangeNotFound as exc:
        raise ApiError(404, str(exc)) from None
    except ChangeConflict as exc:
        raise ApiError(409, str(exc), field=exc.field) from None
    except AuthError as exc:
        raise ApiError(409, f"{exc}; reconnect the YouTube account", field="account_id") from None
    except (CapReached, TransientError) as exc:
        wait = int(min(max(exc.retry_after or 5, 1), 3600))
        raise ApiError(503, f"YouTube did not answer in time: {exc}", headers={"Retry-After": str(wait)}) from None
    except PermanentError as exc:
        raise ApiError(422, f"YouTube refused: {exc}") from None


@blueprint.get("/youtube/content-id/assets", responses={200: AssetPage})
def list_assets(query: AssetQuery):
    """The assets of the account's content owner, newest first (YouTube's assetSearch, ownership MINE)."""
    services = get_services()
    owner, items, total = _answering(lambda: service.list_assets(
        services.repository, services.config, services.secrets, account_id=query.account_id, skip=query.skip,
        limit=query.limit, query=query.q, content_owner_id=query.content_owner_id))
    assets = [AssetOut(id=a["id"], type=a.get("type"), title=a.get("title"), custom_id=a.get("customId"),
                       time_created=a.get("timeCreated")).model_dump() for a in items]
    return {"content_owner_id": owner, **page_fields(assets, total, query)}


@blueprint.post("/youtube/content-id/claim-changes", responses={202: ChangeOut})
def request_claim_change(body: ClaimChangeRequest):
    """Ask to claim one of the account's videos with an asset of its content owner; approvers get a link."""
    principal = current_principal()
    principal.require("editor")
    services = get_services()
    change = _answering(lambda: service.create_claim_change(
        services.repository, services.config, services.secrets, body, requested_by=principal.user,
        publish=service.publisher(services.config)))
    return ChangeOut.of(change), 202


@blueprint.post("/youtube/content-id/policy-changes", responses={202: ChangeOut})
def request_policy_change(body: PolicyChangeRequest):
    """Ask to set an existing claim's policy (monetize, track, block or a saved policy)."""
    principal = current_principal()
    principal.require("editor")
    services = get_services()
    change = _answering(lambda: service.create_policy_change(
        services.repository, services.config, services.secrets, body, requested_by=principal.user,
        publish=service.publisher(services.config)))
    return ChangeOut.of(change), 202


@blueprint.get("/youtube/content-id/changes/<change_id>", responses={200: ChangeOut})
def get_content_id_change(path: ChangePath):
    change = service.get_change(get_services().repository, path.change_id)
    if change is None:
        raise ApiError(404, f"no content id change {path.change_id!r}")
    return ChangeOut.of(change)


@blueprint.get("/youtube/content-id/changes", responses={200: ChangePage})
def list_content_id_changes(query: ChangeListQuery):
    changes, total = service.list_changes(get_services().repository, status=query.status, skip=query.skip,
                                          limit=query.limit)
    return page_fields([ChangeOut.of(c) for c in changes], total, query)


@blueprint.post("/youtube/content-id/changes/<change_id>/decision", responses={200: ChangeOut})
def decide_content_id_change(path: ChangePath, body: DecisionBody):
    """An approver's decision, bound to the change hash as the signed link is; approval applies it."""
    principal = current_principal()
    principal.require("approver")
    services = get_services()
    change = _answering(lambda: service.decide_via_api(
        services.repository, services.config, services.secrets, services.bigquery(), path.change_id,
        action=body.action, hash_claimed=body.change_hash, user=principal.user, reason=body.reason,
        publish=service.publisher(services.config)))
    return ChangeOut.of(change)
