"""Start a metrics pull now, by hand (POST /analytics/sync): for one post, or for every post.

Both go the way the scheduled pull goes, so the same code fetches, writes and reschedules:
- one post: one analytics-work message (the fan-out's message, for that post alone) goes straight
  to analytics-fetch, under a run of its own;
- every post: an analytics-tick goes to analytics-pull like the Scheduler's, carrying the run id
  chosen here (`sync_run_id`), and the fan-out pulls every post still on the schedule, due or not.
  One such run at a time: a request within SYNC_ALL_INTERVAL of the last one answers that run
  instead of starting another (each pulls every account's posts: platform quotas are finite).
Buffer-routed posts are pulled like the others, through their adapter.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from shared.analytics.manual import published_post
from shared.errors import PostgateError
from shared.platforms.credentials import NEEDS_RECONNECT
from shared.runtime.logging import log_event
from shared.stores import analytics_runs as runs
from shared.stores.posts import Repository

log = logging.getLogger("postgate.analytics")
SYNC_ALL_INTERVAL = timedelta(minutes=10)


class NothingToPull(PostgateError):
    """The post is published but cannot be pulled now (no platform id, its account needs reconnecting)."""


@dataclass(frozen=True)
class SyncStarted:
    run_id: str
    scope: Literal["all", "post"]
    started_at: datetime
    requested_by: str
    post_id: str | None = None
    account_id: str | None = None
    platform: str | None = None
    already_running: bool = False  # a pull of every post started less than SYNC_ALL_INTERVAL ago


def run_id_of(now: datetime) -> str:
    return f"sync-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def sync_post(repo: Repository, *, post_id: str, requested_by: str, now: datetime,
              send_work: Callable[[dict[str, Any]], Any]) -> SyncStarted:
    """Pull one published post's numbers now (PostNotFound, PostNotPublished, NothingToPull)."""
    post = published_post(repo, post_id)
    if not any(post.platform_ids.values()):
        raise NothingToPull(f"post {post_id!r} has no platform id to ask its numbers by")
    account = repo.get_account(post.account_id)
    if account is None:
        raise NothingToPull(f"post {post_id!r} names account {post.account_id!r}, which is gone")
    if account.get("status") == NEEDS_RECONNECT:
        raise NothingToPull(f"the account of post {post_id!r} ({post.account_id}) needs reconnecting first")
    run_id = run_id_of(now)
    runs.open_run(repo, run_id, now)
    send_work({"run_id": run_id, "run_at": now.isoformat(), "platform": post.platform, "account_id": post.account_id,
               "post_ids": [post.id]})
    runs.add_to_run(repo, run_id, set_fields={"fanned_out_at": now, "requested_by": requested_by, "scope": "post"},
                    messages=1, posts=1, accounts=1)
    log_event(log, logging.INFO, "analytics pull of one post started", run_id=run_id, post_id=post.id,
              requested_by=requested_by)
    return SyncStarted(run_id, "post", now, requested_by, post_id=post.id, account_id=post.account_id,
                       platform=post.platform)


def sync_all(repo: Repository, *, requested_by: str, now: datetime,
             send_tick: Callable[[dict[str, Any]], Any]) -> SyncStarted:
    """Pull every post on the schedule now, or answer the run started less than SYNC_ALL_INTERVAL ago."""
    run_id = run_id_of(now)
    claim, mine = runs.claim_sync_all(repo, run_id, now, requested_by=requested_by, interval=SYNC_ALL_INTERVAL)
    if not mine:
        return SyncStarted(claim["run_id"], "all", claim["started_at"], claim.get("requested_by", ""),
                           already_running=True)
    try:
        send_tick({"tick": "analytics", "sync_run_id": run_id, "requested_by": requested_by})
    except Exception:
        runs.release_sync_all(repo, run_id)  # nothing was started: the next request may start it
        raise
    log_event(log, logging.INFO, "analytics pull of every post started", run_id=run_id, requested_by=requested_by)
    return SyncStarted(run_id, "all", now, requested_by)
