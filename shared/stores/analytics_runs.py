"""Bookkeeping of pulls in Firestore: one `analytics_runs/{run_id}` document per pull, and
`analytics_parked/{account_id}` for accounts a platform rate limit stopped until its reset.

The run document is written by the fan-out (messages, posts, accounts) and incremented by every
work message (fetched, refused, failed, calls): Increment transforms, so the order in which they
arrive does not matter and no instance reads it to write it.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

from shared.stores.posts import Repository, run_with_contention_retry

RUNS = "analytics_runs"
PARKED = "analytics_parked"


def run_id_for(message_id: str | None, now: datetime) -> str:
    """A redelivered tick is the same run (same id, so its snapshot rows dedup); without a message
    id (a pull started by hand, the demo, the bench), a new one."""
    if message_id:
        return "tick-" + hashlib.sha256(message_id.encode()).hexdigest()[:16]
    return f"run-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def open_run(repo: Repository, run_id: str, now: datetime, *, every_post: bool = False) -> tuple[dict, bool]:
    """(the run document, created now). An existing run keeps its start time: the cut-off of every
    due query and the base of every schedule it writes. `every_post`: a run started by hand that
    pulls every post on the schedule, due or not (shared/analytics/fanout.py)."""
    from google.api_core.exceptions import AlreadyExists

    ref = repo.db.collection(RUNS).document(run_id)
    doc = {"run_id": run_id, "started_at": now, "messages": 0, "posts": 0, **({"every_post": True} if every_post else {})}
    try:
        ref.create(doc)
        return doc, True
    except AlreadyExists:
        return ref.get().to_dict() or doc, False


def get_run(repo: Repository, run_id: str) -> dict | None:
    snap = repo.db.collection(RUNS).document(run_id).get()
    return snap.to_dict() if snap.exists else None


def add_to_run(repo: Repository, run_id: str, *, set_fields: dict | None = None, **counts: int) -> None:
    """Increment the run's counters (and set fields) in one write."""
    from google.cloud import firestore

    update = {name: firestore.Increment(value) for name, value in counts.items() if value}
    update.update(set_fields or {})
    if update:
        repo.db.collection(RUNS).document(run_id).set(update, merge=True)


def parked_accounts(repo: Repository, now: datetime) -> dict[str, datetime]:
    """account id -> until, for accounts whose metrics pulls wait for a platform's reset."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = repo.db.collection(PARKED).where(filter=FieldFilter("until", ">", now))
    return {snap.id: snap.get("until") for snap in query.stream()}


def parked_until(repo: Repository, account_id: str, now: datetime) -> datetime | None:
    snap = repo.db.collection(PARKED).document(account_id).get()
    until = snap.get("until") if snap.exists else None
    return until if until and until > now else None


def park(repo: Repository, account_id: str, *, platform: str, run_id: str, reason: str, now: datetime, seconds: float) -> datetime:
    until = now + timedelta(seconds=max(seconds, 1.0))
    repo.db.collection(PARKED).document(account_id).set(
        {"until": until, "reason": reason, "platform": platform, "run_id": run_id, "parked_at": now})
    return until


SYNC_ALL = ("analytics_state", "sync_all")  # the last pull of every post started by hand


def claim_sync_all(repo: Repository, run_id: str, now: datetime, *, requested_by: str,
                   interval: timedelta) -> tuple[dict, bool]:
    """(the pull of every post started by hand within `interval` before `now`, False) if there is
    one; else this one is recorded as it: (its record, True). A transaction: two callers at once
    cannot both start one."""
    from google.cloud import firestore

    ref = repo.db.collection(SYNC_ALL[0]).document(SYNC_ALL[1])
    mine = {"run_id": run_id, "started_at": now, "requested_by": requested_by}

    @firestore.transactional
    def _run(transaction) -> tuple[dict, bool]:
        snap = ref.get(transaction=transaction)
        last = snap.to_dict() if snap.exists else None
        if last and last.get("started_at") and last["started_at"] > now - interval:
            return last, False
        transaction.set(ref, mine)
        return mine, True

    return run_with_contention_retry(lambda: _run(repo.db.transaction()))  # type: ignore[no-any-return]


def release_sync_all(repo: Repository, run_id: str) -> None:
    """Forget the claim of `run_id` (its tick could not be sent), so the next request may start one."""
    ref = repo.db.collection(SYNC_ALL[0]).document(SYNC_ALL[1])
    snap = ref.get()
    if snap.exists and (snap.to_dict() or {}).get("run_id") == run_id:
        ref.delete()
