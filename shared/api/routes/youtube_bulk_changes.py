"""Bulk YouTube metadata changes: request one (many catalogue videos, one operation), read it and its
videos with the progress, decide as an approver. The change goes through one signed-link approval and a
resumable worker (shared/youtube_sync/bulk*.py); these routes only translate HTTP to that service."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field

from shared.api.auth import current_principal
from shared.api.errors import ApiError
from shared.api.routes.youtube_metadata import answering
from shared.api.schemas import PageQuery, page_fields
from shared.services import get_services
from shared.youtube_sync import bulk as service
from shared.youtube_sync.bulk_applying import decide_via_api
from shared.youtube_sync.bulk_model import (
    MAX_VIDEOS,
    BulkChange,
    BulkChangeRequest,
    BulkItem,
    BulkStatus,
    ItemStatus,
    Progress,
)
from shared.youtube_sync.model import MetadataValues
from shared.youtube_sync.service import publisher

blueprint = APIBlueprint("youtube_bulk_changes", __name__, abp_tags=[Tag(name="youtube")], abp_security=[{"bearer": []}])


class BulkPath(BaseModel):
    bulk_id: str = Field(pattern=r"^ytmb-[0-9a-f]{20}$")


class BulkListQuery(PageQuery):
    status: BulkStatus | None = None


class ItemQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ItemStatus | None = None
    skip: int = Field(default=0, ge=0, le=MAX_VIDEOS)
    limit: int = Field(default=100, ge=1, le=MAX_VIDEOS)


class BulkDecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "reject"]
    bulk_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="the hash of the bulk change you reviewed")
    reason: str | None = Field(default=None, max_length=1000)


class BulkChangeOut(BaseModel):
    id: str
    requested_by: str
    requested_at: datetime
    selection: dict
    operation: dict
    account_ids: list[str]
    count: int
    unchanged: list[str]
    bulk_hash: str
    status: BulkStatus
    decision: Literal["approved", "rejected"] | None
    decided_by: str | None
    decided_at: datetime | None
    decided_via: Literal["link", "api"] | None
    reason: str | None
    progress: Progress = Field(description="videos applied, refused as conflict, failed, rejected, and remaining")
    waiting_for: str | None = Field(description="why the last run stopped before the end (the quota, ...)")
    next_run_at: datetime | None = Field(description="when the next run may go on (approved)")
    finished_at: datetime | None
    audited: bool

    @classmethod
    def of(cls, bulk: BulkChange) -> dict:
        data = bulk.model_dump(exclude={"token_id", "created_at", "updated_at", "apply_claim", "runs", "notice_sent"})
        data["next_run_at"] = data.pop("apply_due_at") if bulk.status == "approved" else None
        data.pop("apply_due_at", None)
        return cls.model_validate(data).model_dump(mode="json")


class BulkItemOut(BaseModel):
    video_id: str
    index: int
    account_id: str
    before: MetadataValues
    proposed: MetadataValues
    status: ItemStatus
    after: MetadataValues | None
    failure_reason: str | None
    applied_at: datetime | None

    @classmethod
    def of(cls, item: BulkItem) -> dict:
        return cls.model_validate(item.model_dump(include=set(cls.model_fields))).model_dump(mode="json")


class BulkChangePage(BaseModel):
    items: list[BulkChangeOut]
    total: int
    skip: int
    limit: int


class BulkItemList(BaseModel):
    items: list[BulkItemOut]


@blueprint.post("/youtube/metadata-bulk-changes", responses={202: BulkChangeOut})
def request_bulk_change(body: BulkChangeRequest):
    """One operation on many catalogue videos, each read now for its before -> after; one approval for all."""
    principal = current_principal()
    principal.require("editor")
    services = get_services()
    config = services.config
    bulk = answering(lambda: service.create_bulk(services.repository, config, services.secrets, request=body,
                                                 requested_by=principal.user, publish=publisher(config)))
    return BulkChangeOut.of(bulk), 202


@blueprint.get("/youtube/metadata-bulk-changes/<bulk_id>", responses={200: BulkChangeOut})
def get_bulk_change(path: BulkPath):
    bulk = service.get_bulk(get_services().repository, path.bulk_id)
    if bulk is None:
        raise ApiError(404, f"no bulk metadata change {path.bulk_id!r}")
    return BulkChangeOut.of(bulk)


@blueprint.get("/youtube/metadata-bulk-changes/<bulk_id>/items", responses={200: BulkItemList})
def list_bulk_items(path: BulkPath, query: ItemQuery):
    """The change's videos in order: before, proposed, and each one's outcome once it has one."""
    repo = get_services().repository
    if service.get_bulk(repo, path.bulk_id) is None:
        raise ApiError(404, f"no bulk metadata change {path.bulk_id!r}")
    found = service.items(repo, path.bulk_id, status=query.status, skip=query.skip, limit=query.limit)
    return {"items": [BulkItemOut.of(i) for i in found]}


@blueprint.get("/youtube/metadata-bulk-changes", responses={200: BulkChangePage})
def list_bulk_changes(query: BulkListQuery):
    found, total = service.list_bulks(get_services().repository, status=query.status, skip=query.skip,
                                      limit=query.limit)
    return page_fields([BulkChangeOut.of(b) for b in found], total, query)


@blueprint.post("/youtube/metadata-bulk-changes/<bulk_id>/decision", responses={200: BulkChangeOut})
def decide_bulk_change(path: BulkPath, body: BulkDecisionBody):
    """An approver's decision, bound to the bulk hash; approval starts applying (the status poll goes on)."""
    principal = current_principal()
    principal.require("approver")
    services = get_services()
    config = services.config
    bulk = answering(lambda: decide_via_api(
        services.repository, config, services.secrets, services.bigquery(), path.bulk_id, action=body.action,
        hash_claimed=body.bulk_hash, user=principal.user, reason=body.reason, publish=publisher(config)))
    return BulkChangeOut.of(bulk)
