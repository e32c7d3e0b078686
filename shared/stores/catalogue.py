"""Firestore storage of the channel catalogue (docs/catalogue.md#what-is-stored). How a refresh uses it
is shared/catalogue/refresh.py; here is only how it is stored.

- `catalogue_channels/{channel id}`: the channel as channels.list answers it, the uploads playlist, the
  refresh under way (`refresh`: run id, claim, lease, checkpoint) and the last one's summary, and
  `version`, a new value whenever a refresh changed any video (what a search's snapshot is keyed by).
- `catalogue_pages/{channel id}--{page index}`: one page of the uploads playlist as last read: the
  page token it was read with, its etag and next page token, its video ids, the etag of their
  videos.list answer and each video's own etag. A refresh sends those etags back (If-None-Match).
- `catalogue_videos/{video id}`: the four parts as YouTube answered them, the derived search fields
  (shared/model/catalogue.py), the report join, `removed`, `changed_at`.

A refresh writes each page in one transaction that first checks it still holds the channel's claim,
so a page is written whole or not at all and an applier that lost its lease writes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.model.catalogue import ROW_FIELDS
from shared.stores.posts import Repository, run_with_contention_retry

CHANNELS = "catalogue_channels"
PAGES = "catalogue_pages"
VIDEOS = "catalogue_videos"
BATCH_WRITES = 400  # Firestore takes 500 writes a commit


@dataclass(frozen=True)
class RefreshRun:
    """A refresh holding a channel: where it stands (the checkpoint it goes on from)."""

    channel_id: str
    run_id: str
    claim: str
    started_at: datetime
    page_index: int  # the next page to read
    page_token: str | None  # the token that reads it (None: the first page)
    resumed: bool  # taken over from a run that stopped (its lease ran out, or it reached its time limit)


def page_id(channel_id: str, index: int) -> str:
    return f"{channel_id}--{index:05d}"


def get_channel(repo: Repository, channel_id: str) -> dict[str, Any] | None:
    snap = repo.db.collection(CHANNELS).document(channel_id).get()
    return snap.to_dict() if snap.exists else None


def list_channels(repo: Repository) -> list[dict[str, Any]]:
    return [s.to_dict() for s in repo.db.collection(CHANNELS).stream()]


def get_video(repo: Repository, video_id: str) -> dict[str, Any] | None:
    snap = repo.db.collection(VIDEOS).document(video_id).get()
    return snap.to_dict() if snap.exists else None


def get_videos(repo: Repository, video_ids: list[str]) -> dict[str, dict[str, Any]]:
    refs = [repo.db.collection(VIDEOS).document(v) for v in video_ids]
    return {s.id: s.to_dict() for s in repo.db.get_all(refs) if s.exists} if refs else {}


def get_page(repo: Repository, channel_id: str, index: int) -> dict[str, Any] | None:
    snap = repo.db.collection(PAGES).document(page_id(channel_id, index)).get()
    return snap.to_dict() if snap.exists else None


def get_pages(repo: Repository, channel_id: str, count: int) -> list[dict[str, Any] | None]:
    """Pages 0..count-1 in order (None where one is missing)."""
    refs = [repo.db.collection(PAGES).document(page_id(channel_id, i)) for i in range(count)]
    found = {s.id: s.to_dict() for s in repo.db.get_all(refs) if s.exists} if refs else {}
    return [found.get(page_id(channel_id, i)) for i in range(count)]


def delete_pages_from(repo: Repository, channel_id: str, first: int) -> int:
    """Drop the page records from `first` on (the playlist got shorter). Returns how many."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (repo.db.collection(PAGES).where(filter=FieldFilter("channel_id", "==", channel_id))
             .where(filter=FieldFilter("index", ">=", first)))
    refs = [s.reference for s in query.stream()]
    _commit_in_batches(repo, [(ref, None) for ref in refs])
    return len(refs)


def claim_refresh(repo: Repository, channel_id: str, *, account_id: str, now: datetime,
                  lease_seconds: float) -> RefreshRun | None:
    """Take the channel for a refresh: go on with the unfinished run (its checkpoint) when its holder's
    lease ran out, else start a new run from the first page. None while another holder's lease runs."""
    from google.cloud import firestore

    ref = repo.db.collection(CHANNELS).document(channel_id)

    @firestore.transactional
    def _take(transaction) -> RefreshRun | None:
        snap = ref.get(transaction=transaction)
        doc = snap.to_dict() if snap.exists else {}
        held = doc.get("refresh") or None
        if held and held.get("lease_until") and held["lease_until"] > now:
            return None
        claim = uuid.uuid4().hex
        if held:
            run = RefreshRun(channel_id, held["run_id"], claim, held["started_at"], int(held.get("page_index", 0)),
                             held.get("page_token"), resumed=True)
        else:
            run = RefreshRun(channel_id, uuid.uuid4().hex[:16], claim, now, 0, None, resumed=False)
        fields = {"channel_id": channel_id, "account_id": account_id,
                  "refresh": _refresh_fields(run, now + timedelta(seconds=lease_seconds))}
        transaction.set(ref, fields, merge=True)
        return run

    return run_with_contention_retry(lambda: _take(repo.db.transaction()))


def _refresh_fields(run: RefreshRun, lease_until: datetime) -> dict[str, Any]:
    return {"run_id": run.run_id, "claim": run.claim, "started_at": run.started_at, "lease_until": lease_until,
            "page_index": run.page_index, "page_token": run.page_token}


def commit_page(repo: Repository, run: RefreshRun, *, next_run: RefreshRun | None, lease_until: datetime,
                page: dict[str, Any] | None, videos: dict[str, dict[str, Any]],
                channel_fields: dict[str, Any] | None = None) -> bool:
    """Write a page's videos (merged into their documents), the page record and the checkpoint (the next
    page to read, or no refresh under way when `next_run` is None: the run is done) in one transaction,
    if `run` still holds the channel. False: it lost its claim and nothing was written."""
    from google.cloud import firestore

    channel_ref = repo.db.collection(CHANNELS).document(run.channel_id)

    @firestore.transactional
    def _write(transaction) -> bool:
        snap = channel_ref.get(transaction=transaction)
        held = (snap.to_dict() or {}).get("refresh") if snap.exists else None
        if not held or held.get("claim") != run.claim:
            return False
        for video_id, fields in videos.items():  # each field named is replaced whole (a part YouTube answered)
            transaction.set(repo.db.collection(VIDEOS).document(video_id), fields, merge=list(fields))
        if page is not None:
            transaction.set(repo.db.collection(PAGES).document(page_id(run.channel_id, page["index"])), page)
        update: dict[str, Any] = dict(channel_fields or {})
        update["refresh"] = _refresh_fields(next_run, lease_until) if next_run is not None else None
        transaction.set(channel_ref, update, merge=True)
        return True

    return bool(run_with_contention_retry(lambda: _write(repo.db.transaction())))


def release(repo: Repository, run: RefreshRun, *, lease_until: datetime) -> None:
    """A run that stops before its end (its time is up, the quota is spent) keeps its checkpoint and lets
    the lease end at `lease_until`, so the next tick goes on from there."""
    from google.cloud import firestore

    ref = repo.db.collection(CHANNELS).document(run.channel_id)

    @firestore.transactional
    def _write(transaction) -> None:
        snap = ref.get(transaction=transaction)
        held = (snap.to_dict() or {}).get("refresh") if snap.exists else None
        if held and held.get("claim") == run.claim:
            transaction.update(ref, {"refresh.lease_until": lease_until})

    run_with_contention_retry(lambda: _write(repo.db.transaction()))


def abandon(repo: Repository, run: RefreshRun) -> None:
    """Drop the run's checkpoint (while it holds the claim): the next tick starts a new run from the first page."""
    from google.cloud import firestore

    ref = repo.db.collection(CHANNELS).document(run.channel_id)

    @firestore.transactional
    def _write(transaction) -> None:
        snap = ref.get(transaction=transaction)
        held = (snap.to_dict() or {}).get("refresh") if snap.exists else None
        if held and held.get("claim") == run.claim:
            transaction.update(ref, {"refresh": None})

    run_with_contention_retry(lambda: _write(repo.db.transaction()))


def update_channel(repo: Repository, channel_id: str, fields: dict[str, Any]) -> None:
    repo.db.collection(CHANNELS).document(channel_id).set(fields, merge=True)


def new_version() -> str:
    """A search snapshot key: a new value each time a refresh changes what lists show."""
    return uuid.uuid4().hex


def live_videos(repo: Repository, channel_id: str, fields: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The channel's videos not marked removed: `fields` of each, by video id (one document read each)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (repo.db.collection(VIDEOS).where(filter=FieldFilter("channel_id", "==", channel_id))
             .where(filter=FieldFilter("removed", "==", False)).select(list(fields)))
    return {s.id: s.to_dict() or {} for s in query.stream()}


def update_videos(repo: Repository, updates: dict[str, dict[str, Any]]) -> None:
    """Merge fields into several videos' documents (in batches)."""
    _commit_in_batches(repo, [(repo.db.collection(VIDEOS).document(v), f) for v, f in updates.items()])


def snapshot_rows(repo: Repository, channel_id: str) -> list[dict[str, Any]]:
    """Every video of the channel, removed ones included, with only what a list filters, sorts and shows."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = repo.db.collection(VIDEOS).where(filter=FieldFilter("channel_id", "==", channel_id)).select(list(ROW_FIELDS))
    return [s.to_dict() for s in query.stream()]


def _commit_in_batches(repo: Repository, writes: list[tuple[Any, dict[str, Any] | None]]) -> None:
    for start in range(0, len(writes), BATCH_WRITES):
        batch = repo.db.batch()
        for ref, fields in writes[start:start + BATCH_WRITES]:
            if fields is None:
                batch.delete(ref)
            else:
                batch.set(ref, fields, merge=list(fields))  # the fields named are replaced whole
        batch.commit()
