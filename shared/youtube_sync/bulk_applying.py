"""Applying an approved bulk metadata change: resumable, within the quota, never twice
(docs/catalogue.md#bulk-changes).

A run takes the bulk change's lease (status `applying`, `apply_claim`, `apply_due_at` = the lease's end)
and goes through the items still `pending` in their order, 50 at a time: one videos.list for the 50
(1 unit), then per video the conflict rule of a single change (shared.youtube_sync.model.classify) and
one videos.update (50 units) with the whole snippet and status parts read, only the approved fields
changed. Every call is charged to the quota model before it is sent.

Nothing is applied twice. Before each videos.update the item's `update_attempts` is raised in a
transaction that checks the run still holds the lease, and each item's outcome is written in a
transaction that checks the lease and that the item is still pending (the progress figures move in the
same transaction). A run that dies leaves its items pending; once its lease ends the next run (the
status poll's) takes over, and an item with an update sent but no outcome is settled by reading the
video: the approved values -> applied without sending again; the old values -> sent again (at most
MAX_UPDATE_ATTEMPTS); anything else -> conflict.

A run stops before the end when its time is up (the next one goes on at once), when the quota is spent
(it goes on after midnight Pacific Time, when the quota resets), or when YouTube did not answer or
refused the account (it goes on after a pause). Each final item gets its audit row (Firestore
`metadata_change_audit/{bulk id}--{video id}` and BigQuery `youtube_metadata_audit`, change_id the same).
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.errors import AuthError, CapReached, ConfigError, PermanentError, TransientError
from shared.platforms.youtube.client import writable_parts
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.stores.posts import Repository, run_with_contention_retry
from shared.stores.protocols import SecretStore
from shared.youtube_sync.applying import MAX_UPDATE_ATTEMPTS, charge_account, merged_parts, uncharged_client
from shared.youtube_sync.bulk import Publish, all_items, get_bulk, record_decision
from shared.youtube_sync.bulk_audit import write_audit
from shared.youtube_sync.bulk_model import BULKS, ITEMS, BulkChange, BulkItem, item_id
from shared.youtube_sync.model import classify, moved_fields, values_of
from shared.youtube_sync.service import ChangeConflict, ChangeNotFound, publisher

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger(__name__)
LEASE_SECONDS = 300  # well over one batch: a read and 50 updates at their HTTP timeouts are renewed per video
READ_BATCH = 50
RETRY_SECONDS = 60  # YouTube did not answer: the next run goes on after this
AUTH_RETRY_SECONDS = 3600  # the account must be reconnected; look again in an hour
DECIDING_SECONDS = 20.0  # what the deciding request spends applying before the status poll goes on
POLL_SECONDS = 120.0  # what a status-poll tick spends on bulk changes


class Stop(Exception):
    """End this run early: `fields` say when the next may go on and why."""

    def __init__(self, fields: dict):
        super().__init__(fields.get("waiting_for"))
        self.fields = fields


# -- deciding and settling -------------------------------------------------------------------------
def settle_decision(repo: Repository, config: Config, secrets: SecretStore, bq: bigquery.Client, bulk: BulkChange, *,
                    publish: Publish, seconds: float = DECIDING_SECONDS, now: datetime | None = None) -> BulkChange:
    """After the decision: apply for up to `seconds` (the status poll goes on), or reject every item; then
    the audit rows of the items that have an outcome, and the requester hears of a finished change."""
    with log_context(correlation_id=bulk.id):
        if bulk.status == "approved":
            run_bulk(repo, config, secrets, bulk.id, seconds=seconds, now=now)
        return after_run(repo, bq, config, bulk.id, publish)


def decide_via_api(repo: Repository, config: Config, secrets: SecretStore, bq: bigquery.Client, bulk_id: str, *,
                   action: str, hash_claimed: str, user: str, reason: str | None, publish: Publish,
                   seconds: float = DECIDING_SECONDS) -> BulkChange:
    if get_bulk(repo, bulk_id) is None:
        raise ChangeNotFound(f"no bulk metadata change {bulk_id!r}")
    decided = record_decision(repo, bulk_id, action=action, hash_claimed=hash_claimed, decided_by=user, via="api",
                              reason=reason)
    if isinstance(decided, str):
        raise ChangeConflict(decided)
    return settle_decision(repo, config, secrets, bq, decided, publish=publish, seconds=seconds)


def after_run(repo: Repository, bq: bigquery.Client, config: Config, bulk_id: str, publish: Publish) -> BulkChange:
    """Audit rows owed, then, once the change is finished and audited, the notice to the requester (once).
    A rejected change's items are rejected here first (again after a crash: only those still pending)."""
    rejected = get_bulk(repo, bulk_id)
    if rejected is not None and rejected.status == "rejected" and rejected.progress.remaining:
        _reject_items(repo, rejected)
    write_audit(repo, bq, config.project, bulk_id)
    bulk = get_bulk(repo, bulk_id)
    assert bulk is not None
    if bulk.status in ("done", "rejected") and bulk.audited and _take_notice(repo, bulk_id):
        try:
            publish({"metadata_bulk_id": bulk.id, "outcome": bulk.status})
        except Exception as exc:  # noqa: BLE001 - the outcome stands; only the notice is lost
            log_event(log, logging.ERROR, "could not send the bulk change notice", error=str(exc))
    return bulk


def settle_owed_bulks(*, repo: Repository, config: Config, secrets: SecretStore, bq: bigquery.Client,
                      now: datetime | None = None, seconds: float = POLL_SECONDS) -> dict:
    """Each status-poll tick: go on with approved bulk changes that are due (a new one, one whose run
    stopped or whose lease ran out), then owed audit rows. Never raises: the next tick tries again."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    now = now or utcnow()
    done = {"runs": 0, "finished": 0, "audited": 0, "errors": 0}
    deadline = time.monotonic() + seconds
    bulks = repo.db.collection(BULKS)
    try:
        due = [s.id for s in bulks.where(filter=FieldFilter("status", "in", ["approved", "applying"]))
               .where(filter=FieldFilter("apply_due_at", "<=", now)).order_by("apply_due_at").limit(10).stream()]
        owed = [s.id for s in bulks.where(filter=FieldFilter("status", "in", ["done", "rejected"]))
                .where(filter=FieldFilter("audited", "==", False)).limit(10).stream()]
    except Exception as exc:  # noqa: BLE001
        log_event(log, logging.ERROR, "could not list bulk metadata changes to apply", error=str(exc))
        return {**done, "errors": 1}
    for bulk_id in due + [b for b in owed if b not in due]:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        with log_context(correlation_id=bulk_id):
            try:
                if bulk_id in due and run_bulk(repo, config, secrets, bulk_id, seconds=left, now=now, due_only=True):
                    done["runs"] += 1
                bulk = after_run(repo, bq, config, bulk_id, publisher(config))
                done["finished"] += bulk.status == "done"
                done["audited"] += bulk.audited
            except Exception as exc:  # noqa: BLE001 - the lease lapses and a later tick goes on
                done["errors"] += 1
                log_event(log, logging.ERROR, "bulk metadata change run failed; a later tick goes on",
                          error=f"{type(exc).__name__}: {exc}")
    if any(done.values()):
        log_event(log, logging.INFO, "bulk metadata changes settled by the status poll", **done)
    return done


# -- a run -----------------------------------------------------------------------------------------
def run_bulk(repo: Repository, config: Config, secrets: SecretStore, bulk_id: str, *, seconds: float,
             now: datetime | None = None, due_only: bool = False) -> BulkChange | None:
    """Take the lease and apply pending items until none is left, the time is up, or a Stop. None when
    another run holds the lease or nothing is due. `now` dates the quota charges (the Pacific day)."""
    now = now or utcnow()
    bulk = _claim(repo, bulk_id, now, due_only=due_only)
    if bulk is None:
        return None
    deadline = time.monotonic() + seconds
    with log_context(correlation_id=bulk_id):
        try:
            while True:
                pending = _pending(repo, bulk_id)
                if not pending:
                    return _finish(repo, bulk) or bulk
                if time.monotonic() >= deadline:
                    raise Stop({"waiting_for": None, "apply_due_at": now})  # time up: the next run goes on at once
                _apply_batch(repo, config, secrets, bulk, pending, now)
        except Stop as stop:
            log_event(log, logging.INFO, "bulk metadata change run stopped", reason=stop.fields.get("waiting_for"))
            return _release(repo, bulk, stop.fields)


def _apply_batch(repo: Repository, config: Config, secrets: SecretStore, bulk: BulkChange, pending: list[BulkItem],
                 now: datetime) -> None:
    account_id = pending[0].account_id
    batch = [i for i in pending if i.account_id == account_id][:READ_BATCH]
    account = repo.get_account(account_id)
    if account is None:
        for item in batch:
            _record(repo, bulk, item, "failed", failure_reason=f"account {account_id} no longer exists")
        return
    try:
        client = uncharged_client(repo, config, secrets, account_id, account)
        charge_account(repo, config, account, "videos.list", now)
        listed = {v["id"]: v for v in client.list_videos([i.video_id for i in batch], parts="snippet,status")}
    except Exception as exc:  # noqa: BLE001 - sorted by _stop_for; a programming error is raised there
        raise _stop_for(exc, now, f"reading videos of {account_id}") from None
    for item in batch:
        video = listed.get(item.video_id)
        if video is None:
            _record(repo, bulk, item, "failed", failure_reason=f"YouTube no longer lists video {item.video_id}")
            continue
        current = values_of(video)
        state = classify(item.before, item.proposed, current)
        if item.update_attempts and state in ("after", "kept"):  # our update landed; its answer was lost
            _record(repo, bulk, item, "applied" if state == "after" else "failed", after=current,
                    platform_response={"note": "confirmed by reading back", "read_with": "videos.list"},
                    failure_reason=None if state == "after" else "YouTube kept some of the old values")
            continue
        if state != "before":
            moved = moved_fields(item.before, item.proposed, current) or [
                n for n in item.proposed.given() if getattr(current, n) != getattr(item.before, n)]
            _record(repo, bulk, item, "conflict", after=current,
                    failure_reason=f"the video's {', '.join(moved)} changed on YouTube after the change was "
                                   "requested; nothing was overwritten")
            continue
        if item.update_attempts >= MAX_UPDATE_ATTEMPTS:
            _record(repo, bulk, item, "failed", after=current,
                    failure_reason=f"{item.update_attempts} updates were sent and the video still has its old values")
            continue
        _update(repo, config, bulk, item, client, account, video, now)


def _update(repo: Repository, config: Config, bulk: BulkChange, item: BulkItem, client, account, video: dict,
            now: datetime) -> None:
    snippet, status = merged_parts(*writable_parts(video), item.proposed, now)
    try:
        charge_account(repo, config, account, "videos.update", now)
    except CapReached as exc:
        raise _stop_for(exc, now, "videos.update") from None
    if not _mark_sending(repo, bulk, item):
        raise Stop({"lost": True})
    try:
        answer = client.update_video(item.video_id, snippet=snippet, status=status)
    except (AuthError, TransientError) as exc:  # maybe applied (no answer) or the account is refused: later
        raise _stop_for(exc, now, f"videos.update of {item.video_id}") from None
    except (PermanentError, ConfigError) as exc:  # a 4xx refusal: not applied
        _record(repo, bulk, item, "failed", platform_response={"error": getattr(exc, "platform_code", None)},
                failure_reason=f"YouTube did not apply the change: {exc}")
        return
    after = values_of(answer)
    kept = [n for n, v in item.proposed.given().items() if getattr(after, n) != v]
    response = {"id": answer.get("id"), **dict(zip(("snippet", "status"), writable_parts(answer)))}
    _record(repo, bulk, item, "failed" if kept else "applied", after=after, platform_response=response,
            failure_reason=f"YouTube accepted the update but kept the old {', '.join(kept)}" if kept else None)


def _stop_for(exc: Exception, now: datetime, what: str) -> Stop:
    if isinstance(exc, CapReached):
        return Stop({"waiting_for": f"quota: {exc}", "apply_due_at": now + timedelta(seconds=exc.retry_after or 3600)})
    if isinstance(exc, AuthError):
        return Stop({"waiting_for": f"{what}: {exc}; reconnect the account",
                     "apply_due_at": now + timedelta(seconds=AUTH_RETRY_SECONDS)})
    if isinstance(exc, (TransientError, PermanentError, ConfigError)):
        delay = max(getattr(exc, "retry_after", None) or 0, RETRY_SECONDS)
        return Stop({"waiting_for": f"{what}: {exc}", "apply_due_at": now + timedelta(seconds=delay)})
    raise exc


# -- the recorded state: every write checks the run still holds the lease ---------------------------
def _claim(repo: Repository, bulk_id: str, now: datetime, *, due_only: bool) -> BulkChange | None:
    from google.cloud import firestore

    ref = repo.db.collection(BULKS).document(bulk_id)

    @firestore.transactional
    def _take(transaction):
        snap = ref.get(transaction=transaction)
        if not snap.exists:
            return None
        bulk = BulkChange.model_validate(snap.to_dict())
        due = bulk.apply_due_at is not None and bulk.apply_due_at <= now
        if not ((bulk.status == "approved" and (due or not due_only)) or (bulk.status == "applying" and due)):
            return None
        fields = {"status": "applying", "apply_claim": uuid.uuid4().hex, "runs": bulk.runs + 1,
                  "apply_due_at": utcnow() + timedelta(seconds=LEASE_SECONDS), "updated_at": utcnow()}
        transaction.update(ref, fields)
        if bulk.status == "applying":
            log_event(log, logging.WARNING, "bulk change lease ran out; going on from what is recorded")
        return bulk.model_copy(update=fields)

    return run_with_contention_retry(lambda: _take(repo.db.transaction()))


def _holding(snap, bulk: BulkChange) -> bool:
    stored = snap.to_dict() if snap.exists else {}
    return stored.get("status") == "applying" and stored.get("apply_claim") == bulk.apply_claim


def _mark_sending(repo: Repository, bulk: BulkChange, item: BulkItem) -> bool:
    """Count the update before it is sent (and renew the lease); False when the run lost its lease."""
    from google.cloud import firestore

    bulk_ref = repo.db.collection(BULKS).document(bulk.id)
    item_ref = repo.db.collection(ITEMS).document(item_id(bulk.id, item.video_id))

    @firestore.transactional
    def _write(transaction):
        bulk_snap, item_snap = bulk_ref.get(transaction=transaction), item_ref.get(transaction=transaction)
        if not _holding(bulk_snap, bulk) or (item_snap.to_dict() or {}).get("status") != "pending":
            return False
        transaction.update(item_ref, {"update_attempts": int(item_snap.get("update_attempts") or 0) + 1})
        transaction.update(bulk_ref, {"apply_due_at": utcnow() + timedelta(seconds=LEASE_SECONDS)})
        return True

    return bool(run_with_contention_retry(lambda: _write(repo.db.transaction())))


def _record(repo: Repository, bulk: BulkChange, item: BulkItem, outcome: str, *, after=None,
            platform_response: dict | None = None, failure_reason: str | None = None) -> None:
    """The item's outcome and the progress figures, once, while the run holds the lease."""
    from google.cloud import firestore

    bulk_ref = repo.db.collection(BULKS).document(bulk.id)
    item_ref = repo.db.collection(ITEMS).document(item_id(bulk.id, item.video_id))
    now = utcnow()
    fields = {"status": outcome, "after": after.seen_by(item.proposed).model_dump() if after else None,
              "platform_response": platform_response, "failure_reason": failure_reason,
              "applied_at": now if outcome == "applied" else None}

    @firestore.transactional
    def _write(transaction):
        bulk_snap, item_snap = bulk_ref.get(transaction=transaction), item_ref.get(transaction=transaction)
        if not _holding(bulk_snap, bulk):
            return None
        if (item_snap.to_dict() or {}).get("status") != "pending":
            return False
        progress = dict(bulk_snap.get("progress"))
        progress[outcome] = int(progress.get(outcome, 0)) + 1
        progress["remaining"] = int(progress.get("remaining", 0)) - 1
        transaction.update(item_ref, fields)
        transaction.update(bulk_ref, {"progress": progress, "updated_at": now,
                                      "apply_due_at": now + timedelta(seconds=LEASE_SECONDS)})
        return True

    if run_with_contention_retry(lambda: _write(repo.db.transaction())) is None:
        raise Stop({"lost": True})
    if outcome != "applied":
        log_event(log, logging.WARNING, f"bulk change video {outcome}", video_id=item.video_id, reason=failure_reason)


def _release(repo: Repository, bulk: BulkChange, fields: dict) -> BulkChange | None:
    """Stop here: back to approved, due again at `apply_due_at` (a run that lost its lease writes nothing)."""
    from google.cloud import firestore

    if fields.get("lost"):
        log_event(log, logging.WARNING, "bulk change lease lost; leaving it to the new holder")
        return None
    ref = repo.db.collection(BULKS).document(bulk.id)
    update = {"status": "approved", "apply_claim": None, "apply_due_at": fields["apply_due_at"],
              "waiting_for": (fields.get("waiting_for") or None) and str(fields["waiting_for"])[:1000],
              "updated_at": utcnow()}

    @firestore.transactional
    def _write(transaction):
        if not _holding(ref.get(transaction=transaction), bulk):
            return None
        transaction.update(ref, update)
        return True

    run_with_contention_retry(lambda: _write(repo.db.transaction()))
    return get_bulk(repo, bulk.id)


def _finish(repo: Repository, bulk: BulkChange) -> BulkChange | None:
    from google.cloud import firestore

    ref = repo.db.collection(BULKS).document(bulk.id)
    now = utcnow()
    update = {"status": "done", "apply_claim": None, "apply_due_at": None, "waiting_for": None, "finished_at": now,
              "updated_at": now}

    @firestore.transactional
    def _write(transaction):
        if not _holding(ref.get(transaction=transaction), bulk):
            return None
        transaction.update(ref, update)
        return True

    if run_with_contention_retry(lambda: _write(repo.db.transaction())):
        log_event(log, logging.INFO, "bulk metadata change done")
    return get_bulk(repo, bulk.id)


def _pending(repo: Repository, bulk_id: str) -> list[BulkItem]:
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (repo.db.collection(ITEMS).where(filter=FieldFilter("bulk_id", "==", bulk_id))
             .where(filter=FieldFilter("status", "==", "pending")).order_by("index").limit(READ_BATCH))
    return [BulkItem.model_validate(s.to_dict()) for s in query.stream()]


def _reject_items(repo: Repository, bulk: BulkChange) -> None:
    """A rejected change: every item rejected (nothing was sent), in batches."""
    from google.cloud import firestore

    pending = [i for i in all_items(repo, bulk.id) if i.status == "pending"]
    for start in range(0, len(pending), 400):
        batch = repo.db.batch()
        for item in pending[start:start + 400]:
            batch.update(repo.db.collection(ITEMS).document(item_id(bulk.id, item.video_id)), {"status": "rejected"})
        batch.commit()
    repo.db.collection(BULKS).document(bulk.id).update(
        {"progress.rejected": firestore.Increment(len(pending)), "progress.remaining": 0, "updated_at": utcnow()})


def _take_notice(repo: Repository, bulk_id: str) -> bool:
    """True once per bulk change: whoever sets `notice_sent` tells the requester."""
    from google.cloud import firestore

    ref = repo.db.collection(BULKS).document(bulk_id)

    @firestore.transactional
    def _take(transaction):
        snap = ref.get(transaction=transaction)
        if not snap.exists or (snap.to_dict() or {}).get("notice_sent"):
            return False
        transaction.update(ref, {"notice_sent": True})
        return True

    return bool(run_with_contention_retry(lambda: _take(repo.db.transaction())))
