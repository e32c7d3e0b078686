"""The seed's post analytics (/api/v1/analytics), on the services our own /analytics/manual and
/analytics/sync routes call (shared/analytics/manual.py, shared/analytics/sync.py).

A record made here is a manually recorded snapshot: marked `source: "manual"`, audited with who
recorded, changed and deleted it, and counted in campaign numbers and charts beside the pulled
ones. `engagement_rate` is a PERCENT here, as the seed writes it ((50 + 10 + 5) / 1000 = 6.5), and a
fraction in our own API (0.065): divided by 100 on the way in, multiplied on the way out. It is
computed from the numbers; one sent must agree with them (400 naming it otherwise). The list shows
the recorded ones; pulled numbers are in GET /api/v1/campaigns/{id}/analytics.
POST /analytics/sync starts a pull now for every post (Buffer's included, through its adapter) or,
with `post_id`, for one.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from shared.analytics import manual
from shared.api.errors import ApiError
from shared.api.idempotency import idempotent
from shared.api.routes.analytics import start_sync
from shared.api.routes.manual_analytics import COUNT_MAX, refused, target
from shared.api.routes.posts import IdempotencyHeader, UtcDatetime
from shared.api.v1.conventions import (
    BodyRef,
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
from shared.errors import ValidationError
from shared.model.manual_metrics import NOTE_MAX, ManualNumbers, ManualSnapshot
from shared.model.schema_rules import omittable

blueprint = v1_blueprint("analytics", "post analytics")

PERCENT = 100  # the seed's engagement_rate is a percent; ours a fraction
Count = Annotated[int, Field(ge=0, le=COUNT_MAX)]
Percent = Annotated[float, Field(ge=0, description="a percent: (likes + comments + shares + saves) / views x 100")]


class AnalyticsRecordPath(BaseModel):
    id: Ref


class AnalyticsListQuery(SeedPage):
    post_id: Ref | None = Field(default=None, description="only this post's records")


class SeedAnalyticsIn(BaseModel):
    """The seed's body; saves, reach, impressions, measured_at and note are Postgate's additions."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    post_id: BodyRef
    views: Count | None = None
    likes: Count | None = None
    shares: Count | None = None
    comments: Count | None = None
    engagement_rate: Percent | None = None
    saves: Count | None = None
    reach: Count | None = None
    impressions: Count | None = None
    measured_at: UtcDatetime | None = Field(default=None, description="when the numbers were true (default: now)")
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class SeedAnalyticsPatch(BaseModel):
    """Only the fields sent change (null clears a number); post_id, if sent, must stay the record's."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    post_id: BodyRef = omittable(description="not null; must stay the record's")
    views: Count | None = None
    likes: Count | None = None
    shares: Count | None = None
    comments: Count | None = None
    engagement_rate: Percent | None = None
    saves: Count | None = None
    reach: Count | None = None
    impressions: Count | None = None
    measured_at: UtcDatetime = omittable(description="not null")
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class SeedAnalyticsSyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    post_id: BodyRef | None = Field(default=None, description="one post; left out: every post")

    @model_validator(mode="before")
    @classmethod
    def _no_body_is_every_post(cls, data):
        return {} if data is None else data  # the seed's `POST /analytics/sync` sends no body


class SeedAnalyticsOut(BaseModel):
    id: int = Field(description="the record's number")
    postgate_id: str
    post_id: int = Field(description="the post's number")
    views: int | None
    likes: int | None
    shares: int | None
    comments: int | None
    engagement_rate: float | None = Field(description="a percent, computed from the numbers")
    saves: int | None
    reach: int | None
    impressions: int | None
    source: str = Field(description='"manual": recorded by a person, not pulled from the platform')
    measured_at: str
    note: str | None
    recorded_by: str
    updated_by: str
    revision: int
    in_campaign_numbers: bool = Field(description="campaign numbers and charts include it; false: BigQuery could "
                                                  "not be written, the next analytics run copies it")
    created_at: str
    updated_at: str


class SeedAnalyticsList(RootModel[list[SeedAnalyticsOut]]):
    """A JSON array; the total in X-Total-Count."""


class SeedAnalyticsSyncOut(BaseModel):
    run_id: str
    scope: str = Field(description='"all" or "post"')
    post_id: int | None
    postgate_post_id: str | None
    started_at: str
    already_running: bool
    detail: str


def _answers(snapshots: list[ManualSnapshot], mirrored: bool | None = None) -> list[dict]:
    record_numbers = numbers("analytics", [s.id for s in snapshots])
    post_numbers = numbers("post", [s.post_id for s in snapshots])
    return [SeedAnalyticsOut(
        id=record_numbers[s.id], postgate_id=s.id, post_id=post_numbers[s.post_id], views=s.views, likes=s.likes,
        shares=s.shares, comments=s.comments,
        engagement_rate=None if s.engagement_rate is None else round(s.engagement_rate * PERCENT, 4),
        saves=s.saves, reach=s.reach, impressions=s.impressions, source=s.source,
        measured_at=str(seed_time(s.measured_at)), note=s.note, recorded_by=s.recorded_by, updated_by=s.updated_by,
        revision=s.revision, in_campaign_numbers=(not s.mirror_pending) if mirrored is None else mirrored,
        created_at=str(seed_time(s.recorded_at)), updated_at=str(seed_time(s.updated_at))).model_dump(mode="json")
        for s in snapshots]


def _fraction(percent: float | None) -> float | None:
    return None if percent is None else percent / PERCENT


def _record_id(ref: str) -> str:
    return resolve("analytics", ref)


@blueprint.post("/analytics", responses={201: SeedAnalyticsOut})
def record_analytics(body: SeedAnalyticsIn, header: IdempotencyHeader):
    """Record a published post's numbers (editor): a manual snapshot, counted in its campaign's numbers."""
    user = editor()
    post_id = resolve("post", body.post_id, field="post_id")
    moment = now()
    numbers_in = ManualNumbers(measured_at=body.measured_at or moment,
                               **body.model_dump(exclude={"post_id", "measured_at", "engagement_rate"}))
    try:
        with idempotent(repo(), user=user, operation="v1.analytics.create", key=header.idempotency_key,
                        body=body) as key:
            written = manual.record(repo(), target(), post_id=post_id, numbers=numbers_in,
                                    given_rate=_fraction(body.engagement_rate), by=user, now=moment,
                                    snapshot_id=f"mm-{key[:20]}" if key else None)
    except (manual.PostNotFound, manual.PostNotPublished, ValidationError) as exc:
        raise refused(exc) from None
    return _answers([written.snapshot], written.mirrored)[0], 201


@blueprint.get("/analytics", responses={200: SeedAnalyticsList})
def list_analytics(query: AnalyticsListQuery):
    """Recorded analytics, oldest first; a JSON array, the total in X-Total-Count."""
    post_id = resolve("post", query.post_id, field="post_id") if query.post_id else None
    items, total = manual.list_snapshots(repo(), post_id=post_id, skip=query.skip, limit=query.limit)
    return page_answer(_answers(items), total)


@blueprint.get("/analytics/<id>", responses={200: SeedAnalyticsOut})
def get_analytics(path: AnalyticsRecordPath):
    try:
        return _answers([manual.get(repo(), _record_id(path.id))])[0]
    except manual.SnapshotNotFound as exc:
        raise refused(exc) from None


@blueprint.put("/analytics/<id>", responses={200: SeedAnalyticsOut})
def update_analytics(path: AnalyticsRecordPath, body: SeedAnalyticsPatch):
    """Change the numbers (editor); the audit trail keeps who changed what, and the numbers before."""
    user = editor()
    record_id = _record_id(path.id)
    sent = body.model_fields_set
    try:
        if "post_id" in sent:
            current = manual.get(repo(), record_id)
            if body.post_id is None or resolve("post", body.post_id, field="post_id") != current.post_id:  # null: 400
                raise ApiError(400, "a record's post can't change: record the numbers for the other post",
                               field="post_id")
        if "measured_at" in sent and body.measured_at is None:
            raise ApiError(400, "measured_at can't be null", field="measured_at")
        changes = {name: getattr(body, name) for name in sent - {"post_id", "engagement_rate"}}
        written = manual.update(repo(), target(), record_id, changes, given_rate=_fraction(body.engagement_rate),
                                by=user, now=now())
    except (manual.SnapshotNotFound, ValidationError) as exc:
        raise refused(exc) from None
    return _answers([written.snapshot], written.mirrored)[0]


@blueprint.delete("/analytics/<id>", responses={200: Deleted})
def delete_analytics(path: AnalyticsRecordPath):
    """Take the numbers out of campaign numbers (editor); who deleted them stays in the audit trail."""
    user = editor()
    record_id = _record_id(path.id)
    try:
        manual.delete(repo(), target(), record_id, by=user, now=now())
    except manual.SnapshotNotFound as exc:
        raise refused(exc) from None
    return Deleted(id=number("analytics", record_id), postgate_id=record_id).model_dump(mode="json")


@blueprint.post("/analytics/sync", responses={202: SeedAnalyticsSyncOut})
def sync_analytics(body: SeedAnalyticsSyncIn):
    """Pull analytics now (editor): every post on the pull schedule, Buffer's included (through its
    adapter), or one published post (`post_id`). Answers at once (202) with the run started."""
    user = editor()
    post_id = resolve("post", body.post_id, field="post_id") if body.post_id is not None else None
    started = start_sync(post_id, user=user)
    return SeedAnalyticsSyncOut(run_id=started.run_id, scope=started.scope,
                   post_id=number("post", started.post_id) if started.post_id else None,
                   postgate_post_id=started.post_id, started_at=str(seed_time(started.started_at)),
                   already_running=started.already_running, detail=started.detail).model_dump(mode="json"), 202
