"""Firestore access for manually recorded metrics snapshots: `manual_metrics/{id}` (the primary
copy) and its audit trail `manual_metrics/{id}/audit/{revision}`. A record and its audit entry
are always written together, in one batch or transaction. What may be recorded is
shared/analytics/manual.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from shared.model.manual_metrics import AuditEntry, ManualSnapshot
from shared.stores.posts import Repository, run_with_contention_retry

if TYPE_CHECKING:
    from google.cloud import firestore

MANUAL_METRICS = "manual_metrics"
AUDIT = "audit"


def _ref(repo: Repository, snapshot_id: str) -> firestore.DocumentReference:
    return repo.db.collection(MANUAL_METRICS).document(snapshot_id)


def _audit_ref(repo: Repository, snapshot_id: str, revision: int) -> firestore.DocumentReference:
    return _ref(repo, snapshot_id).collection(AUDIT).document(f"{revision:09d}")  # sorts by revision


def _doc(snapshot: ManualSnapshot) -> dict:
    return {**snapshot.model_dump(mode="python"), "deleted": snapshot.deleted}  # `deleted`: what lists filter on


def _of(data: dict | None) -> ManualSnapshot:
    return ManualSnapshot.model_validate(data)


def create(repo: Repository, snapshot: ManualSnapshot, entry: AuditEntry) -> bool:
    """Store a new record with its first audit entry, atomically. False if the id exists."""
    from google.api_core.exceptions import AlreadyExists

    batch = repo.db.batch()
    batch.create(_ref(repo, snapshot.id), _doc(snapshot))
    batch.create(_audit_ref(repo, snapshot.id, entry.revision), entry.model_dump(mode="python"))
    try:
        batch.commit()
    except AlreadyExists:
        return False
    return True


def get(repo: Repository, snapshot_id: str) -> ManualSnapshot | None:
    """The record, deleted ones (tombstones) included."""
    snap = _ref(repo, snapshot_id).get()
    return _of(snap.to_dict()) if snap.exists else None


def change(repo: Repository, snapshot_id: str,
           decide: Callable[[ManualSnapshot], tuple[ManualSnapshot, AuditEntry]]) -> ManualSnapshot | None:
    """Write `decide(current)` and its audit entry in one transaction (decide may raise to refuse;
    Firestore may call it again on contention). None if there is no such record."""
    from google.cloud import firestore

    ref = _ref(repo, snapshot_id)

    @firestore.transactional
    def _run(transaction) -> ManualSnapshot | None:
        snap = ref.get(transaction=transaction)
        if not snap.exists:
            return None
        updated, entry = decide(_of(snap.to_dict()))
        transaction.set(ref, _doc(updated))
        transaction.create(_audit_ref(repo, snapshot_id, entry.revision), entry.model_dump(mode="python"))
        return updated

    return run_with_contention_retry(lambda: _run(repo.db.transaction()))


def mark_mirrored(repo: Repository, snapshot_id: str, revision: int) -> None:
    """BigQuery now holds `revision`: raise mirrored_revision to it (never lower it), in a
    transaction so a change that landed meanwhile stays pending."""
    from google.cloud import firestore

    ref = _ref(repo, snapshot_id)

    @firestore.transactional
    def _run(transaction) -> None:
        snap = ref.get(transaction=transaction)
        if not snap.exists:
            return
        current = _of(snap.to_dict())
        mirrored = max(current.mirrored_revision, revision)
        transaction.update(ref, {"mirrored_revision": mirrored, "mirror_pending": mirrored < current.revision})

    run_with_contention_retry(lambda: _run(repo.db.transaction()))


def _live(repo: Repository, post_id: str | None) -> firestore.Query:
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = repo.db.collection(MANUAL_METRICS).where(filter=FieldFilter("deleted", "==", False))
    if post_id is not None:
        query = query.where(filter=FieldFilter("post_id", "==", post_id))
    return query


def page(repo: Repository, *, post_id: str | None, skip: int, limit: int) -> tuple[list[ManualSnapshot], int]:
    """A page of the records not deleted (of one post, or all), oldest recorded first, and their total."""
    from google.cloud.firestore_v1.field_path import FieldPath

    query = _live(repo, post_id)
    found = query.order_by("recorded_at").order_by(FieldPath.document_id()).offset(skip).limit(limit).get()
    # google-cloud-firestore's stubs type AggregationQuery.get as unbound and its result as one row
    [[total]] = query.count().get()  # type: ignore[call-arg, misc]
    return [_of(d.to_dict()) for d in found], int(total.value)  # type: ignore[has-type]


def audit(repo: Repository, snapshot_id: str) -> list[AuditEntry]:
    """Everything done to the record, oldest first."""
    entries = _ref(repo, snapshot_id).collection(AUDIT).order_by("revision").get()
    return [AuditEntry.model_validate(e.to_dict()) for e in entries]


def pending(repo: Repository, limit: int) -> list[ManualSnapshot]:
    """Records whose BigQuery copy is behind (deleted ones included: their row must go)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    found = (repo.db.collection(MANUAL_METRICS).where(filter=FieldFilter("mirror_pending", "==", True))
             .limit(limit).get())
    return [_of(d.to_dict()) for d in found]
