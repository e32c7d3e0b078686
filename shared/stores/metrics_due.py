"""Firestore queries and writes of the metrics schedule (shared/analytics/selection.py says when a
post is due): the published posts an account has due, the posts a work message names, the
fields a pull writes back, and the backfill.

A post without `metrics_next_at` yet (published before the publisher wrote it) is due at its
publish time. Firestore cannot query a missing field, so the backfill follows the published posts
in publish order with a cursor (a bounded page per run, starting no earlier than the maximum age)
and writes `metrics_next_at = published_at` on those without it; the per-account due query then
finds them with everything else.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.runtime.config_model import Config
from shared.stores.posts import POSTS, Repository

STATE = "analytics_state"
BACKFILL_DOC = "backfill"
# The backfill looks only at posts published at least this long ago: a publisher or status poll
# that is still committing a post with an earlier published_at cannot slip behind the cursor.
BACKFILL_SETTLE = timedelta(hours=1)
BACKFILL_PAGE = 1000
FIRESTORE_BATCH = 450  # under Firestore's 500 writes per commit


def due_page(repo: Repository, account_id: str, due_by: datetime, limit: int, after: tuple[datetime, str] | None = None) -> list:
    """Up to `limit` of the account's published posts due by `due_by` (a run's start), in due order,
    after the cursor (metrics_next_at, post id). Only the due time is read back (the fetch loads the posts)."""
    from google.cloud.firestore_v1.base_query import FieldFilter
    from google.cloud.firestore_v1.field_path import FieldPath

    query = (repo.db.collection(POSTS)
             .where(filter=FieldFilter("account_id", "==", account_id))
             .where(filter=FieldFilter("status", "==", "published"))
             .where(filter=FieldFilter("metrics_next_at", "<=", due_by))
             .order_by("metrics_next_at").order_by(FieldPath.document_id())
             .select(["metrics_next_at"]))
    if after is not None:
        query = query.start_after({"metrics_next_at": after[0],
                                   FieldPath.document_id(): repo.db.collection(POSTS).document(after[1])})
    return list(query.limit(limit).stream())


def backfill_schedules(repo: Repository, run_at: datetime, config: Config, *, page: int = BACKFILL_PAGE) -> int:
    """Give published posts that have no `metrics_next_at` yet their first due time (their publish
    time); one bounded page per run, resuming where the last run stopped. Returns how many got one."""
    from google.cloud.firestore_v1.base_query import FieldFilter
    from google.cloud.firestore_v1.field_path import FieldPath

    state_ref = repo.db.collection(STATE).document(BACKFILL_DOC)
    state = (state_ref.get().to_dict() or {})
    floor = run_at - timedelta(days=config.analytics_max_age_days)  # older posts are never due
    after_at, after_id = state.get("published_at"), state.get("post_id")
    if after_at is None or after_at < floor:
        after_at, after_id = floor, None
    until = run_at - BACKFILL_SETTLE
    query = (repo.db.collection(POSTS)
             .where(filter=FieldFilter("status", "==", "published"))
             .where(filter=FieldFilter("published_at", ">=", after_at))
             .where(filter=FieldFilter("published_at", "<=", until))
             .order_by("published_at").order_by(FieldPath.document_id())
             .select(["published_at", "metrics_next_at", "metrics_checked_at"]))
    if after_id is not None:
        query = query.start_after({"published_at": after_at,
                                   FieldPath.document_id(): repo.db.collection(POSTS).document(after_id)})
    docs = list(query.limit(page).stream())
    batch, in_batch, scheduled = repo.db.batch(), 0, 0
    for doc in docs:
        fields = doc.to_dict() or {}
        if fields.get("metrics_next_at") is None and fields.get("metrics_checked_at") is None:  # never scheduled
            batch.update(doc.reference, {"metrics_next_at": fields.get("published_at") or run_at})
            scheduled, in_batch = scheduled + 1, in_batch + 1
            if in_batch == 450:
                batch.commit()
                batch, in_batch = repo.db.batch(), 0
    if docs:
        last = docs[-1]
        batch.set(state_ref, {"published_at": (last.to_dict() or {}).get("published_at"), "post_id": last.id,
                              "updated_at": run_at}, merge=True)
        batch.commit()
    return scheduled


def posts_by_id(repo: Repository, post_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored fields of the named posts that exist."""
    refs = [repo.db.collection(POSTS).document(post_id) for post_id in post_ids]
    return {snap.id: snap.to_dict() for snap in repo.db.get_all(refs) if snap.exists}


def update_posts(repo: Repository, updates: list[tuple[str, dict[str, object]]]) -> None:
    """Field updates (never whole documents) in batched commits."""
    for start in range(0, len(updates), FIRESTORE_BATCH):
        batch = repo.db.batch()
        for post_id, fields in updates[start:start + FIRESTORE_BATCH]:
            batch.update(repo.db.collection(POSTS).document(post_id), fields)
        batch.commit()
