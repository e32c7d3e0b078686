"""Which published posts are due a metrics pull: a decaying schedule, and the queries that find them.

Every published post carries `metrics_next_at`, the earliest run that pulls it again: young posts
(under `analytics_young_age_hours`) on every run, then daily until `analytics_daily_until_days`,
then weekly until `analytics_max_age_days`, then never (the field is cleared). So the posts due in
one run are the young ones plus a 24th of the month and a 168th of the year: the cost of a run
follows the publishing rate, not the size of the history.

A post without the field yet (published before the publisher wrote it) is due at its publish
time. Firestore cannot query a missing field, so a backfill follows the published posts in
publish order with a cursor (a bounded page per run, starting no earlier than the maximum age)
and writes `metrics_next_at = published_at` on those without it; the per-account due query then
finds them with everything else.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shared.runtime.config_model import Config

if TYPE_CHECKING:
    from google.cloud import firestore

POSTS = "posts"
STATE = "analytics_state"
BACKFILL_DOC = "backfill"
# A schedule computed from one run's start must not miss the same slot a day (or a week) later
# because that run started a few seconds earlier: slots open this much early.
EARLY = timedelta(minutes=5)
# The backfill looks only at posts published at least this long ago: a publisher or status poll
# that is still committing a post with an earlier published_at cannot slip behind the cursor.
BACKFILL_SETTLE = timedelta(hours=1)
BACKFILL_PAGE = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def next_pull_at(published_at: datetime | None, run_at: datetime, config: Config) -> datetime | None:
    """When a post pulled by the run that started at `run_at` is due again; None: never again."""
    published_at = published_at or run_at
    age = run_at - published_at
    max_age = timedelta(days=config.analytics_max_age_days)
    if age >= max_age:
        return None
    if age < timedelta(hours=config.analytics_young_age_hours):
        nxt = run_at + EARLY  # the next run, whenever it comes
    elif age < timedelta(days=config.analytics_daily_until_days):
        nxt = run_at + timedelta(days=1) - EARLY
    else:
        nxt = run_at + timedelta(days=7) - EARLY
    return nxt if nxt - published_at < max_age else None


def due_page(db: firestore.Client, account_id: str, run_at: datetime, limit: int, after: tuple[datetime, str] | None = None) -> list:
    """Up to `limit` of the account's published posts due at `run_at`, in due order, after the cursor
    (metrics_next_at, post id). Only the due time is read back (the fetch loads the posts)."""
    from google.cloud.firestore_v1.base_query import FieldFilter
    from google.cloud.firestore_v1.field_path import FieldPath

    query = (db.collection(POSTS)
             .where(filter=FieldFilter("account_id", "==", account_id))
             .where(filter=FieldFilter("status", "==", "published"))
             .where(filter=FieldFilter("metrics_next_at", "<=", run_at))
             .order_by("metrics_next_at").order_by(FieldPath.document_id())
             .select(["metrics_next_at"]))
    if after is not None:
        query = query.start_after({"metrics_next_at": after[0],
                                   FieldPath.document_id(): db.collection(POSTS).document(after[1])})
    return list(query.limit(limit).stream())


def backfill_schedules(db: firestore.Client, run_at: datetime, config: Config, *, page: int = BACKFILL_PAGE) -> int:
    """Give published posts that have no `metrics_next_at` yet their first due time (their publish
    time); one bounded page per run, resuming where the last run stopped. Returns how many got one."""
    from google.cloud.firestore_v1.base_query import FieldFilter
    from google.cloud.firestore_v1.field_path import FieldPath

    state_ref = db.collection(STATE).document(BACKFILL_DOC)
    state = (state_ref.get().to_dict() or {})
    floor = run_at - timedelta(days=config.analytics_max_age_days)  # older posts are never due
    after_at, after_id = state.get("published_at"), state.get("post_id")
    if after_at is None or after_at < floor:
        after_at, after_id = floor, None
    until = run_at - BACKFILL_SETTLE
    query = (db.collection(POSTS)
             .where(filter=FieldFilter("status", "==", "published"))
             .where(filter=FieldFilter("published_at", ">=", after_at))
             .where(filter=FieldFilter("published_at", "<=", until))
             .order_by("published_at").order_by(FieldPath.document_id())
             .select(["published_at", "metrics_next_at", "metrics_checked_at"]))
    if after_id is not None:
        query = query.start_after({"published_at": after_at,
                                   FieldPath.document_id(): db.collection(POSTS).document(after_id)})
    docs = list(query.limit(page).stream())
    batch, in_batch, scheduled = db.batch(), 0, 0
    for doc in docs:
        fields = doc.to_dict() or {}
        if fields.get("metrics_next_at") is None and fields.get("metrics_checked_at") is None:  # never scheduled
            batch.update(doc.reference, {"metrics_next_at": fields.get("published_at") or run_at})
            scheduled, in_batch = scheduled + 1, in_batch + 1
            if in_batch == 450:
                batch.commit()
                batch, in_batch = db.batch(), 0
    if docs:
        last = docs[-1]
        batch.set(state_ref, {"published_at": (last.to_dict() or {}).get("published_at"), "post_id": last.id,
                              "updated_at": run_at}, merge=True)
        batch.commit()
    return scheduled
