"""analytics-pull: turn a Scheduler tick into bounded work messages, one account each.

A run takes its cut-off (`started_at`) once; for every connected, unparked account it pages
through the account's due posts in due order and sends messages of at most
`analytics_batch_max_posts` post ids, rounded down to whole platform batches (TikTok 20, X 100,
...), so every metrics call but an account's last carries a full batch. A message never mixes
accounts: a failing or rate-limited account holds up nobody else.

One invocation reads at most `page_budget` pages; a bigger run hands over to the next invocation
with a continuation tick carrying the run id and the cursor (account, due time, post id), so no
invocation grows with the history (the function has 300 s and one instance).

A pull started by hand for all posts (POST /analytics/sync, shared/analytics/sync.py) is a tick
with `sync_run_id`: the run gets that id and pulls every post still on the schedule (published
within analytics_max_age_days), due or not; its continuations read that from the run document.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.errors import BadMessage
from shared.model.platform import PLATFORMS
from shared.platforms.credentials import NEEDS_RECONNECT
from shared.platforms.registry import adapter_for
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.runtime.pubsub import publish_json
from shared.stores import analytics_runs as runs
from shared.stores import metrics_due
from shared.stores.posts import Repository
from shared.topology import get_topology

log = logging.getLogger(__name__)
PAGES_PER_INVOCATION = 40  # 20,000 posts at 500 per page: well inside the function's 300 s


@dataclass
class PullSummary:
    run_id: str
    started_at: datetime
    messages: int = 0
    posts: int = 0
    accounts: int = 0
    pages: int = 0
    backfilled: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # account id -> why
    continued: bool = False  # handed the rest of the run to a continuation tick
    done: bool = False


@dataclass(frozen=True)
class Senders:
    """Where a pull's messages go: work messages to analytics-fetch, ticks to analytics-pull."""

    work: Callable[[dict], Any]
    tick: Callable[[dict], Any]


def pubsub_senders(project: str) -> Senders:
    """The deployed wiring (the analytics-pull function, and POST /analytics/sync, send through it)."""
    topology = get_topology()
    work_topic = topology.trigger_topic("analytics-fetch")
    tick_topic = topology.trigger_topic("analytics-pull")

    def send(topic: str) -> Callable[[dict], Any]:
        return lambda message: publish_json(project, topic, message,
                                            correlation_id=message.get("run_id") or message.get("sync_run_id") or "")

    return Senders(send(work_topic), send(tick_topic))


def message_size(max_posts: int, batch_size: int) -> int:
    """The most post ids one message carries: whole batches of the platform's metrics call."""
    if max_posts < batch_size:
        return max_posts
    return max_posts // batch_size * batch_size


def pull(repo: Repository, *, config: Config, payload: dict[str, Any], send_work: Callable[[dict], Any], send_tick: Callable[[dict], Any],
         message_id: str | None = None, now: datetime | None = None,
         page_budget: int = PAGES_PER_INVOCATION) -> PullSummary:
    """One invocation of analytics-pull: a new run (a Scheduler tick) or the rest of one (a
    continuation tick with `run_id` and `cursor`)."""
    now = now or utcnow()
    cursor = payload.get("cursor")
    if payload.get("run_id") is not None:
        run_id = payload["run_id"]
        if not isinstance(run_id, str) or not isinstance(cursor, dict) or not isinstance(cursor.get("account_id"), str):
            raise BadMessage("continuation tick needs run_id and cursor.account_id")
        run = runs.get_run(repo, run_id)
        if run is None:
            raise BadMessage(f"continuation of unknown run {run_id}")
    else:
        run_id = payload.get("sync_run_id") or runs.run_id_for(message_id, now)
        if not isinstance(run_id, str):
            raise BadMessage("sync_run_id must be a run id")
        run, created = runs.open_run(repo, run_id, now, every_post="sync_run_id" in payload)
        if not created and run.get("fanned_out_at"):
            log_event(log, logging.INFO, "analytics run already fanned out; tick redelivery ignored", run_id=run_id)
            return PullSummary(run_id, run["started_at"], done=True)
        cursor = None
    run_at: datetime = run["started_at"]
    summary = PullSummary(run_id, run_at)
    with log_context(correlation_id=run_id):
        if cursor is None:
            summary.backfilled = metrics_due.backfill_schedules(repo, run_at, config)
        # Due by the run's start; a run for every post: due by the end of the schedule (module doc).
        due_by = run_at + timedelta(days=config.analytics_max_age_days) if run.get("every_post") else run_at
        _fan_out(repo, config=config, run_id=run_id, run_at=run_at, due_by=due_by, cursor=cursor, send_work=send_work,
                 send_tick=send_tick, page_budget=page_budget, summary=summary)
        finished = {"fanned_out_at": utcnow()} if summary.done else None
        runs.add_to_run(repo, run_id, set_fields=finished, messages=summary.messages, posts=summary.posts,
                        accounts=summary.accounts, skipped_accounts=len(summary.skipped),
                        backfilled=summary.backfilled, invocations=1)
        log_event(log, logging.INFO, "analytics pull fanned out" if summary.done else "analytics pull continues",
                  run_id=run_id, started_at=run_at.isoformat(), messages=summary.messages, posts=summary.posts,
                  accounts=summary.accounts, pages=summary.pages, backfilled=summary.backfilled,
                  skipped=summary.skipped, continued=summary.continued)
    return summary


def _fan_out(repo: Repository, *, config: Config, run_id: str, run_at: datetime, due_by: datetime, cursor: dict | None,
             send_work, send_tick, page_budget: int, summary: PullSummary) -> None:
    parked = runs.parked_accounts(repo, run_at)
    accounts = sorted(repo.account_platforms(), key=lambda a: a[0])
    resume_account = cursor["account_id"] if cursor else None
    after = _cursor_after(cursor)
    for account_id, account in accounts:
        if resume_account is not None:
            if account_id < resume_account:
                continue
            if account_id > resume_account:
                after = None
            resume_account = None
        platform = account.get("platform")
        why = None
        if account_id in parked:
            why = f"parked until {parked[account_id].isoformat()}"
        elif account.get("status") == NEEDS_RECONNECT:
            why = "needs reconnecting"
        elif platform not in PLATFORMS:
            why = f"unknown platform {platform!r}"
        if why:
            summary.skipped[account_id] = why  # its posts stay due for a later run
            after = None
            continue
        if summary.pages >= page_budget:
            _continue_later(send_tick, run_id, {"account_id": account_id}, summary)
            return
        assert isinstance(platform, str)  # an unknown or missing platform was skipped above
        size = message_size(config.analytics_batch_max_posts, adapter_for(platform).METRICS_BATCH_SIZE)
        sent_before = summary.messages
        while True:
            if summary.pages >= page_budget:
                assert after is not None  # spent before the first page returned above; a full page set it
                _continue_later(send_tick, run_id, {"account_id": account_id, "after_at": after[0].isoformat(),
                                                    "after_id": after[1]}, summary)
                return
            page = metrics_due.due_page(repo, account_id, due_by, size, after)
            summary.pages += 1
            if page:
                last = page[-1]
                after = (last.get("metrics_next_at"), last.id)
                message = {"run_id": run_id, "run_at": run_at.isoformat(), "platform": platform,
                           "account_id": account_id, "post_ids": [snap.id for snap in page]}
                send_work(message)
                summary.messages += 1
                summary.posts += len(page)
            if len(page) < size:
                break
        after = None
        if summary.messages > sent_before:
            summary.accounts += 1
    summary.done = True


def _cursor_after(cursor: dict | None) -> tuple[datetime, str] | None:
    if not cursor or not cursor.get("after_id"):
        return None
    try:
        return datetime.fromisoformat(cursor["after_at"]), str(cursor["after_id"])
    except (KeyError, TypeError, ValueError):
        raise BadMessage("continuation cursor has a bad after_at") from None


def _continue_later(send_tick, run_id: str, cursor: dict, summary: PullSummary) -> None:
    send_tick({"tick": "analytics", "run_id": run_id, "cursor": cursor})
    summary.continued = True
