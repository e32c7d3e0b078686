"""Bulk YouTube metadata changes: request (expanded into each video's before -> after at once), read,
decide once (one approval bound to every value), then apply (shared.youtube_sync.bulk_applying).

At request time each video is read fresh from YouTube (videos.list, 50 ids a call, each call charged to
the quota model first), so `before` is what YouTube holds, as for a single change; the approver sees
every row and the hash binds them all. Applying reads each video again and refuses any video whose
values moved since as a conflict, as a single change does; the other videos are applied.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from shared.catalogue import service as catalogue
from shared.catalogue.search import CatalogueFilter
from shared.errors import ValidationError
from shared.model.account import Account
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.stores.posts import APPROVALS, Repository, run_with_contention_retry
from shared.stores.protocols import SecretStore
from shared.youtube_sync.applying import charge_account, uncharged_client
from shared.youtube_sync.bulk_model import (
    BULK_PREFIX,
    BULKS,
    ITEMS,
    MAX_VIDEOS,
    BulkChange,
    BulkChangeRequest,
    BulkItem,
    Progress,
    VideoSelection,
    bulk_hash,
    item_id,
)
from shared.youtube_sync.model import values_of
from shared.youtube_sync.service import REASON_MAX_CHARS, ChangeConflict, video_account

log = logging.getLogger(__name__)
READ_BATCH = 50  # videos.list takes at most 50 ids
WRITE_BATCH = 400  # Firestore takes 500 writes a commit
Publish = Callable[[dict], None]


# -- reading ---------------------------------------------------------------------------------------
def get_bulk(repo: Repository, bulk_id: str) -> BulkChange | None:
    snap = repo.db.collection(BULKS).document(bulk_id).get()
    return BulkChange.model_validate(snap.to_dict()) if snap.exists else None


def list_bulks(repo: Repository, *, status: str | None = None, skip: int = 0, limit: int = 50) -> tuple[list[BulkChange], int]:
    """Newest first, with the total that matches."""
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = repo.db.collection(BULKS)
    if status:
        query = query.where(filter=FieldFilter("status", "==", status))
    total = int(query.count().get()[0][0].value)
    snaps = query.order_by("requested_at", direction=firestore.Query.DESCENDING).offset(skip).limit(limit).stream()
    return [BulkChange.model_validate(s.to_dict()) for s in snaps], total


def items(repo: Repository, bulk_id: str, *, status: str | None = None, skip: int = 0,
          limit: int = MAX_VIDEOS) -> list[BulkItem]:
    """The bulk change's videos in their order (or those with `status`)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = repo.db.collection(ITEMS).where(filter=FieldFilter("bulk_id", "==", bulk_id))
    if status:
        query = query.where(filter=FieldFilter("status", "==", status))
    snaps = query.order_by("index").offset(skip).limit(limit).stream()
    return [BulkItem.model_validate(s.to_dict()) for s in snaps]


def all_items(repo: Repository, bulk_id: str) -> list[BulkItem]:
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = repo.db.collection(ITEMS).where(filter=FieldFilter("bulk_id", "==", bulk_id))
    return [BulkItem.model_validate(s.to_dict()) for s in query.stream()]


def preview_text(bulk: BulkChange, shown: list[BulkItem]) -> str:
    lines = [f"YouTube bulk metadata change of {bulk.count} videos requested by {bulk.requested_by}: "
             f"{describe_operation(bulk.operation)}."]
    lines += [f"{i.video_id}: " + "; ".join(f"{name} {getattr(i.before, name)!r} -> {value!r}"
                                             for name, value in i.proposed.given().items()) for i in shown]
    if bulk.count > len(shown):
        lines.append(f"... and {bulk.count - len(shown)} more on the review page.")
    return "\n".join(lines)


def describe_operation(operation: dict) -> str:
    if operation.get("add_tag"):
        return f"add the tag {operation['add_tag']!r}"
    if operation.get("remove_tag"):
        return f"remove the tag {operation['remove_tag']!r}"
    fields = {k: v for k, v in (operation.get("set") or {}).items() if v is not None}
    return "set " + ", ".join(f"{k} to {v!r}" for k, v in fields.items())


# -- requesting ------------------------------------------------------------------------------------
def create_bulk(repo: Repository, config: Config, secrets: SecretStore, *, request: BulkChangeRequest,
                requested_by: str, publish: Publish, now: datetime | None = None) -> BulkChange:
    """Expand the request into one item per video it changes (each read fresh from YouTube), record them
    and the bulk change pending approval, and ask the approvers once."""
    now = now or utcnow()
    video_ids = selected_videos(repo, request)
    accounts: dict[str, Account] = {}
    by_account: dict[str, list[str]] = {}
    for video_id in video_ids:
        account_id, account = video_account(repo, video_id)
        accounts[account_id] = account
        by_account.setdefault(account_id, []).append(video_id)
    bulk_id = BULK_PREFIX + uuid.uuid4().hex[:20]
    found: list[BulkItem] = []
    unchanged: list[str] = []
    for account_id, ids in sorted(by_account.items()):
        account = accounts[account_id]
        client = uncharged_client(repo, config, secrets, account_id, account)
        for start in range(0, len(ids), READ_BATCH):
            batch = ids[start:start + READ_BATCH]
            charge_account(repo, config, account, "videos.list", now)
            listed = {v["id"]: v for v in client.list_videos(batch, parts="snippet,status")}
            missing = [v for v in batch if v not in listed]
            if missing:
                raise ChangeConflict(f"YouTube no longer lists video(s) {', '.join(missing[:10])}; refresh the "
                                     "catalogue and request the change again")
            for video_id in batch:
                current = values_of(listed[video_id])
                proposed = request.operation.proposed_for(video_id, current)
                if proposed is None:
                    unchanged.append(video_id)
                    continue
                found.append(BulkItem(bulk_id=bulk_id, video_id=video_id, index=len(found), account_id=account_id,
                                      before=current.seen_by(proposed), proposed=proposed))
    if not found:
        raise ValidationError("nothing would change: every video selected already has these values",
                              field="operation", limit="an operation that changes at least one video")
    bulk = BulkChange(id=bulk_id, requested_by=requested_by, requested_at=now,
                      selection=request.videos.model_dump(exclude_none=True),
                      operation=request.operation.model_dump(exclude_none=True), account_ids=sorted(by_account),
                      count=len(found), unchanged=unchanged, bulk_hash=bulk_hash(found), status="pending_approval",
                      progress=Progress(remaining=len(found)), created_at=now, updated_at=now)
    with log_context(correlation_id=bulk.id):
        writes = [(repo.db.collection(ITEMS).document(item_id(bulk_id, i.video_id)), i.model_dump(mode="python"))
                  for i in found]
        for start in range(0, len(writes), WRITE_BATCH):  # the items first: the bulk document makes them visible
            batch = repo.db.batch()
            for ref, fields in writes[start:start + WRITE_BATCH]:
                batch.set(ref, fields)
            batch.commit()
        repo.db.collection(BULKS).document(bulk.id).create(bulk.model_dump(mode="python"))
        publish({"metadata_bulk_id": bulk.id, "bulk_hash": bulk.bulk_hash})
        log_event(log, logging.INFO, "youtube bulk metadata change requested", videos=bulk.count,
                  unchanged=len(unchanged), requested_by=requested_by)
    return bulk


def selected_videos(repo: Repository, request: BulkChangeRequest) -> list[str]:
    """The video ids the request names, a catalogue search's in its order (newest published first)."""
    wanted = request.videos
    if wanted.video_ids is not None:
        return list(wanted.video_ids)
    page = catalogue.list_videos(repo, selection_filter(wanted), skip=0, limit=MAX_VIDEOS + 1)
    if page.total > MAX_VIDEOS:
        raise ValidationError(f"the search finds {page.total} videos; one bulk change takes at most {MAX_VIDEOS}",
                              field="videos", limit=f"at most {MAX_VIDEOS} videos")
    if not page.rows:
        raise ValidationError("the search finds no video in the catalogue", field="videos", limit="at least one video")
    return [row.video_id for row in page.rows]


def selection_filter(wanted: VideoSelection) -> CatalogueFilter:
    """The catalogue search a selection by search names (not by video ids)."""
    return CatalogueFilter(q=wanted.q, channel_id=wanted.channel_id, category_id=wanted.category_id,
                           privacy=wanted.privacy)


def selection_size(repo: Repository, wanted: VideoSelection) -> int:
    """How many videos a selection names (a search: as many as the catalogue finds), before the request
    leaves out those the operation would not change; the console shows it before a bulk change is asked."""
    if wanted.video_ids is not None:
        return len(wanted.video_ids)
    return catalogue.list_videos(repo, selection_filter(wanted), skip=0, limit=0).total


# -- deciding --------------------------------------------------------------------------------------
def why_not_decidable(bulk: BulkChange | None, hash_claimed: str, *, used: bool = False) -> str | None:
    if bulk is None:
        return "This bulk change no longer exists."
    if used:
        return "This link has already been used."
    if bulk.status != "pending_approval":
        by = f" by {bulk.decided_by} at {bulk.decided_at:%Y-%m-%d %H:%M} UTC" if bulk.decided_by else ""
        return f"This bulk change was already {bulk.status}{by}; nothing more to do."
    if hash_claimed != bulk.bulk_hash:
        return "This link or hash is for a different version of the bulk change."
    return None


def record_decision(repo: Repository, bulk_id: str, *, action: str, hash_claimed: str, decided_by: str, via: str,
                    token_id: str | None = None, reason: str | None = None,
                    now: datetime | None = None) -> BulkChange | str:
    """Once per bulk change, in one transaction with the link's use record: the updated change, or why not."""
    from google.cloud import firestore

    now = now or utcnow()
    ref = repo.db.collection(BULKS).document(bulk_id)
    used_ref = repo.db.collection(APPROVALS).document(token_id) if token_id else None
    decision = "approved" if action == "approve" else "rejected"
    reason = (reason or "").strip()[:REASON_MAX_CHARS] or None

    @firestore.transactional
    def _decide(transaction):
        refs = [ref, used_ref] if used_ref is not None else [ref]
        snaps = {s.reference.path: s for s in transaction.get_all(refs)}
        snap = snaps[ref.path]
        current = BulkChange.model_validate(snap.to_dict()) if snap.exists else None
        used = used_ref is not None and snaps[used_ref.path].exists
        problem = why_not_decidable(current, hash_claimed, used=used)
        if problem:
            return problem
        if used_ref is not None:
            transaction.set(used_ref, {"content_id": bulk_id, "kind": "youtube_metadata_bulk_change",
                                       "action": action, "recipient": decided_by, "used_at": now})
        fields = {"status": decision, "decision": decision, "decided_by": decided_by, "decided_at": now,
                  "decided_via": via, "reason": reason, "token_id": token_id, "updated_at": now,
                  "apply_due_at": now if decision == "approved" else None}
        transaction.update(ref, fields)
        return current.model_copy(update=fields)

    outcome = run_with_contention_retry(lambda: _decide(repo.db.transaction()))
    if isinstance(outcome, str):
        log_event(log, logging.WARNING, "bulk metadata change decision refused", bulk_id=bulk_id, reason=outcome)
    else:
        log_event(log, logging.INFO, f"bulk metadata change {decision}", bulk_id=bulk_id, decided_by=decided_by, via=via)
    return outcome
