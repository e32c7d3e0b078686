"""YouTube Data API quota, accounted per call in Firestore before the call is made (docs/platforms.md#youtube-quota).

The quota belongs to the Google Cloud project of the OAuth client, not to a channel, and resets at
midnight Pacific Time. An upload no longer costs 1,600 units of the general bucket: on 2025-12-04
Google cut it to about 100 units, and since 2026-06-01 videos.insert draws on a bucket of its own,
by default 100 calls a day at 1 per call; every other method we call (videos.list 1, channels.list 1,
playlistItems.list 1, videos.update 50) draws on the general bucket, by default 10,000 units a day
[https://developers.google.com/youtube/v3/revision_history;
https://developers.google.com/youtube/v3/determine_quota_cost]. Google raises each bucket apart on
request, so each limit is a setting (POSTGATE_YOUTUBE_DAILY_UPLOADS, POSTGATE_YOUTUBE_DAILY_QUOTA).
Invalid and failed requests cost too, so every attempt is charged, retries included. One document per
quota key and Pacific day, `youtube_quota/{key}--{YYYY-MM-DD}`, charged in a transaction: concurrent
instances never overspend.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from shared.errors import CapReached, TransientError
from shared.model.account import Account
from shared.runtime.clock import utcnow

if TYPE_CHECKING:
    from google.cloud import firestore

QUOTA_COLLECTION = "youtube_quota"
PACIFIC = ZoneInfo("America/Los_Angeles")
INSERT_DAILY_CALLS = 100  # Google's default for the videos.insert bucket
# method -> (bucket, cost)
COSTS: dict[str, tuple[str, int]] = {
    "videos.insert": ("insert", 1),
    "videos.list": ("general", 1),
    "videos.update": ("general", 50),
    "channels.list": ("general", 1),
    "playlistItems.list": ("general", 1),
}


def pacific_day(now: datetime | None = None) -> str:
    return (now or utcnow()).astimezone(PACIFIC).date().isoformat()


def seconds_until_pacific_midnight(now: datetime | None = None) -> float:
    local = (now or utcnow()).astimezone(PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=PACIFIC)
    return max((midnight.astimezone(UTC) - local.astimezone(UTC)).total_seconds(), 1.0)


def bucket_limits(daily_quota: int, daily_uploads: int = INSERT_DAILY_CALLS) -> dict[str, int]:
    return {"general": int(daily_quota), "insert": int(daily_uploads)}


def charge(db: firestore.Client, method: str, *, daily_quota: int, daily_uploads: int = INSERT_DAILY_CALLS, key: str = "default",
           now: datetime | None = None) -> int:
    """Spend `method`'s cost, or raise CapReached (retry_after = until midnight PT) without spending.
    Returns the bucket's usage after the charge."""
    from google.cloud import firestore

    bucket, cost = COSTS[method]
    limit = bucket_limits(daily_quota, daily_uploads)[bucket]
    now = now or utcnow()
    day = pacific_day(now)
    ref = db.collection(QUOTA_COLLECTION).document(f"{key}--{day}")

    @firestore.transactional
    def _charge(transaction) -> int | None:
        snap = ref.get(transaction=transaction)
        used = int((snap.to_dict() or {}).get(bucket, 0)) if snap.exists else 0
        if used + cost > limit:
            return None
        transaction.set(ref, {bucket: used + cost, "day": day, "key": key, "updated_at": now}, merge=True)
        return used + cost

    with _local_lock(ref.path):  # threads of one instance queue here; instances meet in the transaction
        after = _run_contended(lambda: _charge(db.transaction()))
    if after is None:
        raise CapReached(f"youtube quota: {method} costs {cost} and the {bucket} bucket ({limit}/day) is used up "
                         f"for {day} (resets at midnight Pacific Time)",
                         retry_after=seconds_until_pacific_midnight(now), platform_code="quotaExceeded")
    return after


_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _local_lock(path: str) -> threading.Lock:
    """Two transactions of one process reading the same document deadlock on its lock until the
    lock times out (seconds); serialising them locally avoids that without weakening anything."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(path, threading.Lock())


def _run_contended(run, attempts: int = 12):
    """Concurrent instances contend on one document: a transaction that could not commit (the
    emulator's lock timeout, Aborted) is tried again after a jittered pause, never charged twice."""
    from google.api_core import exceptions as gexc

    for attempt in range(attempts):
        try:
            return run()
        except (ValueError, gexc.Aborted, gexc.DeadlineExceeded, gexc.ServiceUnavailable) as exc:
            if isinstance(exc, ValueError) and "transaction" not in str(exc).lower():
                raise
            if attempt == attempts - 1:
                raise TransientError(f"youtube quota: could not record the charge ({type(exc).__name__})") from None
            time.sleep(random.uniform(0.02, 0.1) * (attempt + 1))
    raise AssertionError("unreachable")


def usage(db: firestore.Client, *, key: str = "default", now: datetime | None = None) -> dict[str, int]:
    snap = db.collection(QUOTA_COLLECTION).document(f"{key}--{pacific_day(now)}").get()
    data = (snap.to_dict() or {}) if snap.exists else {}
    return {"general": int(data.get("general", 0)), "insert": int(data.get("insert", 0))}


def quota_key(account: Account) -> str:
    """Quota belongs to the API project of the account's OAuth client; accounts sharing one share it."""
    return str(account.get("quota_project") or "default")


def charge_call(ctx, method: str) -> None:
    """Charge one call made for a publish or a status check (ctx: PublishContext / StatusContext)."""
    if ctx.repo is not None:
        charge(ctx.repo.db, method, daily_quota=ctx.config.youtube_daily_quota,
               daily_uploads=ctx.config.youtube_daily_uploads, key=quota_key(ctx.account))
