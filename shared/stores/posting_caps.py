"""Per-account posting caps enforced across all function instances (invariant 4).

A cap of N posts per window is N slot documents, `rate_limits/{account}/slots/{limit}-{i}`.
Taking a slot is either creating a missing one (atomic create: two instances can't both win)
or taking over an expired one in a transaction. There is no single hot counter document, so
a burst of hundreds of posts at one account contends on N small documents, not one.
A post that finds no free slot waits: the publisher parks it in `queued` until the earliest
slot frees, and dispatch sends it again then.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.model.account import Account, Limit
from shared.runtime.clock import utcnow
from shared.stores.posts import Repository

if TYPE_CHECKING:
    from google.cloud import firestore

RATE_LIMITS = "rate_limits"


def limits_for(account: Account, defaults: list[Limit]) -> list[Limit]:
    """The account doc's `limits` ([{name, max_count, window_seconds}]) replace the platform defaults."""
    custom = account.get("limits")
    if not custom:
        return list(defaults)
    return [Limit(name=str(c["name"]), max_count=int(c["max_count"]), window_seconds=int(c["window_seconds"]))
            for c in custom]


@dataclass
class Reservation:
    granted: bool
    retry_at: datetime | None = None
    limit: str | None = None  # the limit that refused
    slots: list[str] = field(default_factory=list)  # slot document paths held


def _slots(db: firestore.Client, account_id: str):
    return db.collection(RATE_LIMITS).document(account_id).collection("slots")


def reserve(repo: Repository, account_id: str, limits: list[Limit], holder: str,
            now: datetime | None = None) -> Reservation:
    """Take one slot of every limit for `holder` (a post id), or none at all."""
    db = repo.db
    now = now or utcnow()
    held: list[str] = []
    for limit in limits:
        path, retry_at = _take_slot(db, account_id, limit, holder, now)
        if path is None:
            release(repo, Reservation(True, slots=held), holder)
            return Reservation(False, retry_at=retry_at, limit=limit.name)
        held.append(path)
    return Reservation(True, slots=held)


def _take_slot(db: firestore.Client, account_id: str, limit: Limit, holder: str, now: datetime) -> tuple[str | None, datetime | None]:
    from google.api_core.exceptions import AlreadyExists, Conflict
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter

    slots = _slots(db, account_id)
    existing = {d.id: d.to_dict() for d in slots.where(filter=FieldFilter("limit", "==", limit.name)).stream()}
    for doc_id, slot in existing.items():
        if slot.get("holder") == holder and slot["expires_at"] > now:
            return slots.document(doc_id).path, None  # a redelivery of a post that already holds one
    expires_at = now + timedelta(seconds=limit.window_seconds)
    record = {"limit": limit.name, "holder": holder, "taken_at": now, "expires_at": expires_at}
    candidates = [f"{limit.name}-{i}" for i in range(limit.max_count)]
    random.shuffle(candidates)  # spread concurrent takers over the slots
    for doc_id in candidates:
        ref = slots.document(doc_id)
        if doc_id not in existing:
            try:
                ref.create(record)
                return ref.path, None
            except (AlreadyExists, Conflict):
                continue
        elif existing[doc_id]["expires_at"] <= now:

            @firestore.transactional
            def _take_over(transaction, ref=ref) -> bool:
                snap = ref.get(transaction=transaction)
                if snap.exists and snap.to_dict()["expires_at"] > now:
                    return False
                transaction.set(ref, record)
                return True

            if _take_over(db.transaction()):
                return ref.path, None
    fresh = [s["expires_at"] for s in slots.where(filter=FieldFilter("limit", "==", limit.name)).stream()
             for s in [s.to_dict()] if s["expires_at"] > now]
    return None, (min(fresh) if fresh else now + timedelta(seconds=1))


def release(repo: Repository, reservation: Reservation, holder: str) -> None:
    """Give the slots back (the attempt ended before anything was posted)."""
    from google.cloud import firestore

    db = repo.db
    for path in reservation.slots:
        ref = db.document(path)

        @firestore.transactional
        def _drop(transaction, ref=ref) -> None:
            snap = ref.get(transaction=transaction)
            if snap.exists and snap.to_dict().get("holder") == holder:
                transaction.delete(ref)

        _drop(db.transaction())


def slots_in_use(repo: Repository, account_id: str, limit: Limit, now: datetime | None = None) -> int:
    from google.cloud.firestore_v1.base_query import FieldFilter

    now = now or utcnow()
    docs = _slots(repo.db, account_id).where(filter=FieldFilter("limit", "==", limit.name)).stream()
    return sum(1 for d in docs if d.to_dict()["expires_at"] > now)
