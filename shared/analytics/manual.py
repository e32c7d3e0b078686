"""Manually recorded metrics: numbers a person types in for a published post whose platform gives
none (or for an event nobody can pull), kept beside the pulled snapshots.

Where they live. The primary copy is Firestore `manual_metrics/{id}` with its audit trail
(shared/stores/manual_metrics.py): who recorded it, who changed or deleted it, and the numbers
before and after each time. A delete leaves a tombstone, so the trail outlives the numbers.
Campaign numbers, their charts and a post's trend read BigQuery `post_metrics`, so every write is
copied there as a row marked `source = "manual"` (snapshot id `<post id>@manual-<id>`, fetched_at
= measured_at): inserted, replaced, or deleted with the record (shared/runtime/bigquery_merge.py
replace_if_newer, guarded by the record's revision).

When one write fails. Firestore is written first, in one transaction with the audit entry: if it
fails nothing changed anywhere. The BigQuery copy follows under a lease per record (two copies of
one record never run at once), reading the record fresh, so the newest revision is what lands; the
record then notes the revision BigQuery holds (`mirrored_revision`). If BigQuery fails, the record
stands and says so (`mirror_pending`, and the answer's `mirrored: false`); every analytics pull run
copies the pending records first (mirror_pending), and a copy repeated after a success changes
nothing (the revision guard). So BigQuery is never ahead of Firestore, and behind it only until
the next run.

Engagement rate. It is always computed from the numbers with shared/model/analytics.py's formula
(the one every pulled snapshot and the campaign sums use). A rate sent with the numbers is checked
against it and refused (naming `engagement_rate`) when it disagrees by more than a rounding step.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.analytics.writer import TABLE, table_id
from shared.errors import PostgateError, ValidationError
from shared.model.manual_metrics import MANUAL, AuditEntry, ManualNumbers, ManualSnapshot, rate_refusal
from shared.model.post import Post
from shared.runtime.bigquery_merge import PartitionBound, replace_if_newer
from shared.runtime.logging import log_event
from shared.stores import manual_metrics as stored
from shared.stores.posts import Repository
from shared.topology import get_topology

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger("postgate.analytics")

CLOCK_SKEW = timedelta(minutes=5)  # a measured_at this far ahead of our clock is still "now"
MIRROR_LEASE_SECONDS = 120
MIRROR_ROUNDS = 3  # copies per call while writers keep adding revisions; the rest waits for the next run
PENDING_PER_RUN = 200
_MERGE_TIMEOUT_SECONDS = 60
_DELETED = "deleted"  # the mark on a copied row whose revision deletes it (not a column)
BigQueryFactory = Callable[[], "bigquery.Client"]


class PostNotFound(PostgateError):
    pass


class PostNotPublished(PostgateError):
    """Numbers are recorded for published posts only."""


class SnapshotNotFound(PostgateError):
    """No such record, or a deleted one (`deleted_by` says who deleted it)."""

    def __init__(self, snapshot_id: str, deleted: ManualSnapshot | None = None):
        if deleted is None:
            super().__init__(f"no manual analytics snapshot {snapshot_id!r}")
        else:
            super().__init__(f"manual analytics snapshot {snapshot_id!r} was deleted by {deleted.deleted_by} at "
                             f"{deleted.deleted_at.isoformat() if deleted.deleted_at else '?'}; its audit trail stays")
        self.deleted = deleted


@dataclass(frozen=True)
class Written:
    """A record as written, and whether BigQuery (campaign numbers, charts) holds it yet."""

    snapshot: ManualSnapshot
    mirrored: bool


@dataclass(frozen=True)
class Target:
    """Where the BigQuery copies go: the client factory and the project of post_metrics."""

    bigquery: BigQueryFactory
    project: str


def new_id() -> str:
    return "mm-" + uuid.uuid4().hex[:20]


def record(repo: Repository, target: Target, *, post_id: str, numbers: ManualNumbers, given_rate: float | None,
           by: str, now: datetime, snapshot_id: str | None = None) -> Written:
    """Record numbers for a published post. `snapshot_id` (from an Idempotency-Key) names the record:
    if it exists already, that record is the answer and nothing new is written."""
    if snapshot_id is not None and (existing := stored.get(repo, snapshot_id)) is not None:
        return Written(existing, not existing.mirror_pending)
    post = published_post(repo, post_id)
    _check(numbers, given_rate, now=now, published_at=post.published_at)
    snapshot = ManualSnapshot(
        id=snapshot_id or new_id(), post_id=post.id, content_id=post.content_id, campaign=post.campaign,
        platform=post.platform, account_id=post.account_id, engagement_rate=numbers.computed_rate(),
        revision=1, recorded_by=by, recorded_at=now, updated_by=by, updated_at=now,
        earliest_measured_at=numbers.measured_at, **numbers.model_dump())
    entry = AuditEntry(revision=1, action="recorded", by=by, at=now, after=_audited(snapshot))
    if not stored.create(repo, snapshot, entry):
        found = stored.get(repo, snapshot.id)
        assert found is not None  # created by a concurrent request with the same key: it is the answer
        return Written(found, not found.mirror_pending)
    log_event(log, logging.INFO, "manual analytics recorded", snapshot_id=snapshot.id, post_id=post.id, by=by)
    return _mirrored(repo, target, snapshot)


def get(repo: Repository, snapshot_id: str) -> ManualSnapshot:
    """The record; SnapshotNotFound for an unknown or deleted one."""
    found = stored.get(repo, snapshot_id)
    if found is None or found.deleted:
        raise SnapshotNotFound(snapshot_id, found)
    return found


def list_snapshots(repo: Repository, *, post_id: str | None, skip: int, limit: int) -> tuple[list[ManualSnapshot], int]:
    """A page of the records not deleted (one post's, or all), oldest recorded first, and their total."""
    return stored.page(repo, post_id=post_id, skip=skip, limit=limit)


def update(repo: Repository, target: Target, snapshot_id: str, changes: dict[str, Any], *, given_rate: float | None,
           by: str, now: datetime) -> Written:
    """Change numbers, measured_at or note (`changes`: fields of ManualNumbers; None clears a number).
    The rate is computed again; a given one must agree with the changed numbers."""
    unknown = set(changes) - set(ManualNumbers.model_fields)
    if unknown:
        raise ValueError(f"not a field of a manual snapshot: {', '.join(sorted(unknown))}")
    post_published_at = _published_at(repo, snapshot_id) if "measured_at" in changes else None

    def decide(current: ManualSnapshot) -> tuple[ManualSnapshot, AuditEntry]:
        if current.deleted:
            raise SnapshotNotFound(snapshot_id, current)
        numbers = ManualNumbers.model_validate({**_numbers_of(current), **changes})
        _check(numbers, given_rate, now=now, published_at=post_published_at)
        updated = current.model_copy(update={
            **numbers.model_dump(), "engagement_rate": numbers.computed_rate(), "revision": current.revision + 1,
            "updated_by": by, "updated_at": now, "mirror_pending": True,
            "earliest_measured_at": min(current.earliest_measured_at, numbers.measured_at)})
        return updated, AuditEntry(revision=updated.revision, action="changed", by=by, at=now,
                                   before=_audited(current), after=_audited(updated))

    updated = stored.change(repo, snapshot_id, decide)
    if updated is None:
        raise SnapshotNotFound(snapshot_id)
    log_event(log, logging.INFO, "manual analytics changed", snapshot_id=snapshot_id, by=by, fields=sorted(changes))
    return _mirrored(repo, target, updated)


def delete(repo: Repository, target: Target, snapshot_id: str, *, by: str, now: datetime) -> Written:
    """Take the numbers out of campaign numbers and charts. The record stays as a tombstone with its
    audit trail (the last entry says who deleted it and what the numbers were)."""

    def decide(current: ManualSnapshot) -> tuple[ManualSnapshot, AuditEntry]:
        if current.deleted:
            raise SnapshotNotFound(snapshot_id, current)
        updated = current.model_copy(update={"revision": current.revision + 1, "deleted_by": by, "deleted_at": now,
                                             "mirror_pending": True})
        return updated, AuditEntry(revision=updated.revision, action="deleted", by=by, at=now,
                                   before=_audited(current))

    deleted = stored.change(repo, snapshot_id, decide)
    if deleted is None:
        raise SnapshotNotFound(snapshot_id)
    log_event(log, logging.INFO, "manual analytics deleted", snapshot_id=snapshot_id, by=by)
    return _mirrored(repo, target, deleted)


def audit_trail(repo: Repository, snapshot_id: str) -> list[AuditEntry]:
    """Everything done to a record, oldest first; deleted records keep theirs."""
    if stored.get(repo, snapshot_id) is None:
        raise SnapshotNotFound(snapshot_id)
    return stored.audit(repo, snapshot_id)


# -- the BigQuery copy ------------------------------------------------------------------------------

def mirror(repo: Repository, target: Target, snapshot_id: str) -> bool:
    """Bring the record's BigQuery row to its newest revision. True when BigQuery holds it; False
    when it could not be copied now (BigQuery failed, or another copy of it is running): the record
    stays pending for the next run. BigQuery's errors propagate."""
    holder = uuid.uuid4().hex
    lease = f"manual-metrics--{snapshot_id}"
    if not repo.try_lease(lease, holder, MIRROR_LEASE_SECONDS):
        return False  # that holder reads the record fresh each round, so it copies this revision too
    try:
        for _ in range(MIRROR_ROUNDS):
            current = stored.get(repo, snapshot_id)
            if current is None:
                return True
            if current.mirrored_revision >= current.revision:
                return True
            copy_row(target, current)
            stored.mark_mirrored(repo, snapshot_id, current.revision)
        return False
    finally:
        repo.release_lease(lease, holder)


def mirror_pending(repo: Repository, target: Target, *, limit: int = PENDING_PER_RUN) -> int:
    """Copy the records whose BigQuery copy is behind (each analytics pull run does this first).
    Returns how many are copied now; one that fails stays pending and the others go on."""
    copied = 0
    for snapshot in stored.pending(repo, limit):
        try:
            copied += mirror(repo, target, snapshot.id)
        except Exception as exc:  # noqa: BLE001 - any BigQuery failure: it stays pending for the next run
            log_event(log, logging.WARNING, "manual analytics copy to BigQuery failed; still pending",
                      snapshot_id=snapshot.id, error=f"{type(exc).__name__}: {exc}")
    return copied


def bigquery_row(snapshot: ManualSnapshot) -> dict[str, Any]:
    """The post_metrics row of the record at its revision (every column, and the deletion mark)."""
    return {"snapshot_id": f"{snapshot.post_id}@manual-{snapshot.id}", "post_id": snapshot.post_id,
            "content_id": snapshot.content_id, "campaign": snapshot.campaign, "platform": snapshot.platform,
            "account_id": snapshot.account_id, "platform_post_id": None, "fetched_at": snapshot.measured_at,
            **snapshot.numbers(), "engagement_rate": snapshot.engagement_rate, "source": MANUAL,
            "revision": snapshot.revision, "recorded_by": snapshot.updated_by, _DELETED: snapshot.deleted}


def copy_row(target: Target, snapshot: ManualSnapshot) -> None:
    """One MERGE: BigQuery's row becomes this revision unless it holds this one or a later one."""
    schema = get_topology().bigquery.tables[TABLE].schema_
    merge = replace_if_newer(table_id(target.project), ["snapshot_id"], "revision", schema, [bigquery_row(snapshot)],
                             deleted=_DELETED, partition=PartitionBound("fetched_at", snapshot.earliest_measured_at))
    merge.run(target.bigquery(), timeout=_MERGE_TIMEOUT_SECONDS)


def _mirrored(repo: Repository, target: Target, snapshot: ManualSnapshot) -> Written:
    """Copy the record just written; a failure leaves it pending (module doc) and the answer says so."""
    try:
        done = mirror(repo, target, snapshot.id)
    except Exception as exc:  # noqa: BLE001 - any BigQuery failure: the Firestore record stands, pending
        log_event(log, logging.WARNING, "manual analytics copy to BigQuery failed; the next analytics run retries",
                  snapshot_id=snapshot.id, error=f"{type(exc).__name__}: {exc}")
        done = False
    if done:
        snapshot = snapshot.model_copy(update={"mirrored_revision": snapshot.revision, "mirror_pending": False})
    return Written(snapshot, done)


# -- rules ------------------------------------------------------------------------------------------

def published_post(repo: Repository, post_id: str) -> Post:
    """The post, if it is published (numbers are about published posts); PostNotFound, PostNotPublished."""
    post = repo.get_post(post_id)
    if post is None:
        raise PostNotFound(f"no post {post_id!r}")
    if post.status != "published":
        raise PostNotPublished(f"post {post_id!r} is {post.status}; numbers are recorded for published posts")
    return post


def _published_at(repo: Repository, snapshot_id: str) -> datetime | None:
    found = stored.get(repo, snapshot_id)
    post = repo.get_post(found.post_id) if found is not None else None
    return post.published_at if post is not None else None


def _check(numbers: ManualNumbers, given_rate: float | None, *, now: datetime, published_at: datetime | None) -> None:
    if numbers.measured_at > now + CLOCK_SKEW:
        raise ValidationError(f"measured_at {numbers.measured_at.isoformat()} is in the future", field="measured_at",
                              limit="at or before now")
    if published_at is not None and numbers.measured_at < published_at:
        raise ValidationError(f"measured_at {numbers.measured_at.isoformat()} is before the post was published "
                              f"({published_at.isoformat()})", field="measured_at", limit="at or after publication")
    refused = rate_refusal(given_rate, numbers.computed_rate())
    if refused:
        raise ValidationError(refused, field="engagement_rate", limit="agrees with the numbers")


def _numbers_of(snapshot: ManualSnapshot) -> dict[str, Any]:
    return {name: getattr(snapshot, name) for name in ManualNumbers.model_fields}


def _audited(snapshot: ManualSnapshot) -> dict[str, object]:
    """What an audit entry keeps of a revision: the numbers, when they were true, and the note."""
    return {**snapshot.numbers(), "measured_at": snapshot.measured_at, "engagement_rate": snapshot.engagement_rate,
            "note": snapshot.note}
