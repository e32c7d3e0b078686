"""Manually recorded analytics: numbers typed in for a published post (a network or an event with no
API), kept as snapshots marked `source: "manual"` beside the pulled ones, so they count in campaign
numbers and charts. Record (editor), list, read, change (editor), delete (editor), and the audit
trail of who recorded, changed and deleted each. Routes only translate; shared/analytics/manual.py
decides. `engagement_rate` is a fraction (0.065 = 6.5 %), computed from the numbers; one sent
must agree with them (422 naming it otherwise, like every rule the document states in words).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field

from shared.analytics import manual
from shared.api.auth import current_principal
from shared.api.errors import ApiError
from shared.api.idempotency import idempotent
from shared.api.routes.posts import ID_PATTERN, IdempotencyHeader, UtcDatetime
from shared.api.schemas import PageQuery, page_fields
from shared.errors import ValidationError
from shared.model.manual_metrics import NOTE_MAX, AuditEntry, ManualNumbers, ManualSnapshot
from shared.model.schema_rules import omittable
from shared.services import get_services

blueprint = APIBlueprint("manual_analytics", __name__, abp_tags=[Tag(name="analytics")],
                         abp_security=[{"bearer": []}])

COUNT_MAX = 10**15  # far above any real count; keeps a typo from overflowing INT64 sums
Count = Annotated[int, Field(ge=0, le=COUNT_MAX)]


class SnapshotPath(BaseModel):
    snapshot_id: str = Field(pattern=ID_PATTERN, max_length=300, description="the manual snapshot's id")


class ManualQuery(PageQuery):
    post_id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=300, description="only this post's")


class ManualIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    post_id: str = Field(pattern=ID_PATTERN, max_length=300, description="a published post")
    measured_at: UtcDatetime | None = Field(default=None, description="when the numbers were true (default: now); "
                                                                      "not in the future, not before publication")
    views: Count | None = None
    likes: Count | None = None
    comments: Count | None = None
    shares: Count | None = None
    saves: Count | None = None
    reach: Count | None = None
    impressions: Count | None = None
    engagement_rate: float | None = Field(default=None, ge=0, description="a fraction; optional: it is computed "
                                                                          "from the numbers, and one sent must agree")
    note: str | None = Field(default=None, max_length=NOTE_MAX, description="where the numbers come from")


class ManualPatch(BaseModel):
    """Only the fields sent change; null clears a number or the note."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    measured_at: UtcDatetime = omittable(description="not null")
    views: Count | None = None
    likes: Count | None = None
    comments: Count | None = None
    shares: Count | None = None
    saves: Count | None = None
    reach: Count | None = None
    impressions: Count | None = None
    engagement_rate: float | None = Field(default=None, ge=0, description="checked against the changed numbers")
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class ManualOut(BaseModel):
    id: str
    post_id: str
    content_id: str
    campaign: str | None
    platform: str
    account_id: str
    source: str = Field(description='"manual"')
    measured_at: datetime
    views: int | None
    likes: int | None
    comments: int | None
    shares: int | None
    saves: int | None
    reach: int | None
    impressions: int | None
    engagement_rate: float | None = Field(description="computed from the numbers (a fraction)")
    note: str | None
    revision: int
    recorded_by: str
    recorded_at: datetime
    updated_by: str
    updated_at: datetime
    mirrored: bool = Field(description="campaign numbers and charts include this revision; false: BigQuery could "
                                       "not be written now, and the next analytics run copies it")

    @classmethod
    def of(cls, snapshot: ManualSnapshot, mirrored: bool | None = None) -> ManualOut:
        data = snapshot.model_dump(include=set(cls.model_fields) - {"mirrored"})
        return cls(**data, mirrored=(not snapshot.mirror_pending) if mirrored is None else mirrored)


class ManualPage(BaseModel):
    items: list[ManualOut]
    total: int
    skip: int
    limit: int


class AuditOut(BaseModel):
    snapshot_id: str
    entries: list[AuditEntry] = Field(description="oldest first: recorded, then each change, then the delete")


def target() -> manual.Target:
    services = get_services()
    return manual.Target(services.bigquery, services.config.project)


def refused(exc: Exception) -> ApiError:
    """The service's refusals as this API (and /api/v1) answers them."""
    if isinstance(exc, manual.PostNotFound):
        return ApiError(404, str(exc), field="post_id")
    if isinstance(exc, manual.PostNotPublished):
        return ApiError(409, str(exc), field="post_id")
    if isinstance(exc, manual.SnapshotNotFound):
        return ApiError(404, str(exc))
    if isinstance(exc, ValidationError):  # a rule across fields or against the clock: 422 (400 in /api/v1)
        return ApiError(422, str(exc), field=exc.field)
    raise exc


@blueprint.post("/analytics/manual", responses={201: ManualOut})
def record_manual(body: ManualIn, header: IdempotencyHeader):
    """Record numbers for a published post (editor)."""
    principal = current_principal()
    principal.require("editor")
    services = get_services()
    now = services.now()
    try:
        numbers = ManualNumbers(measured_at=body.measured_at or now,
                                **body.model_dump(exclude={"post_id", "measured_at", "engagement_rate"}))
        with idempotent(services.repository, user=principal.user, operation="analytics.manual", key=header.idempotency_key,
                        body=body) as key:
            written = manual.record(services.repository, target(), post_id=body.post_id, numbers=numbers,
                                    given_rate=body.engagement_rate, by=principal.user, now=now,
                                    snapshot_id=f"mm-{key[:20]}" if key else None)
    except (manual.PostNotFound, manual.PostNotPublished, ValidationError) as exc:
        raise refused(exc) from None
    return ManualOut.of(written.snapshot, written.mirrored).model_dump(mode="json"), 201


@blueprint.get("/analytics/manual", responses={200: ManualPage})
def list_manual(query: ManualQuery):
    """Manual snapshots not deleted, oldest recorded first; `post_id` for one post's."""
    items, total = manual.list_snapshots(get_services().repository, post_id=query.post_id, skip=query.skip,
                                         limit=query.limit)
    return ManualPage(**page_fields([ManualOut.of(s) for s in items], total, query)).model_dump(mode="json")


@blueprint.get("/analytics/manual/<snapshot_id>", responses={200: ManualOut})
def get_manual(path: SnapshotPath):
    try:
        return ManualOut.of(manual.get(get_services().repository, path.snapshot_id)).model_dump(mode="json")
    except manual.SnapshotNotFound as exc:
        raise refused(exc) from None


@blueprint.patch("/analytics/manual/<snapshot_id>", responses={200: ManualOut})
def update_manual(path: SnapshotPath, body: ManualPatch):
    """Change numbers, measured_at or note (editor); the audit trail keeps the numbers before."""
    principal = current_principal()
    principal.require("editor")
    changes = {name: getattr(body, name) for name in body.model_fields_set - {"engagement_rate"}}
    if "measured_at" in changes and changes["measured_at"] is None:
        raise ApiError(400, "measured_at can't be null", field="measured_at")
    services = get_services()
    try:
        written = manual.update(services.repository, target(), path.snapshot_id, changes,
                                given_rate=body.engagement_rate, by=principal.user, now=services.now())
    except (manual.SnapshotNotFound, ValidationError) as exc:
        raise refused(exc) from None
    return ManualOut.of(written.snapshot, written.mirrored).model_dump(mode="json")


@blueprint.delete("/analytics/manual/<snapshot_id>", responses={204: None})
def delete_manual(path: SnapshotPath):
    """Take the numbers out of campaign numbers and charts (editor); the audit trail stays."""
    principal = current_principal()
    principal.require("editor")
    services = get_services()
    try:
        manual.delete(services.repository, target(), path.snapshot_id, by=principal.user, now=services.now())
    except manual.SnapshotNotFound as exc:
        raise refused(exc) from None
    return "", 204


@blueprint.get("/analytics/manual/<snapshot_id>/audit", responses={200: AuditOut})
def manual_audit(path: SnapshotPath):
    """Who recorded, changed and deleted it, when, and the numbers before and after (deleted ones too)."""
    try:
        entries = manual.audit_trail(get_services().repository, path.snapshot_id)
    except manual.SnapshotNotFound as exc:
        raise refused(exc) from None
    return AuditOut(snapshot_id=path.snapshot_id, entries=entries).model_dump(mode="json")
