"""Scheduler tick: send due posts to their platform topics.

Scheduled posts whose publish time has come move to `queued` and are sent. Queued posts that
were parked (an account cap, a platform cap, a retry wait) are sent once their next attempt
time passes. Every sent post gets `redispatch_at` = now + `redispatch_seconds`: if it is still
queued then (the message was lost), it is sent again. The publisher's claim makes a duplicate
send harmless and clears `redispatch_at`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.model.post import Post
from shared.model.state_machine import transition
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_context, log_event
from shared.stores.posts import Repository, recover_expired_lease

log = logging.getLogger(__name__)
# A queued post whose publish message may be lost is sent again after this long.
LOST_MESSAGE_RESEND_SECONDS = 900


@dataclass
class DispatchSummary:
    sent: int = 0
    released: int = 0  # scheduled -> queued
    recovered: int = 0  # publishing with an expired lease -> queued (nothing sent) or processing (look it up)
    errors: int = 0
    post_ids: list[str] = field(default_factory=list)


def dispatch_due(*, repo: Repository, send: Callable[[Post], None], batch_size: int, redispatch_seconds: float,
                 now: datetime | None = None) -> DispatchSummary:
    now = now or utcnow()
    summary = DispatchSummary()
    # Attempts that died holding their lease: nothing else revisits them (invariant: every post ends final).
    for post in repo.posts_with_expired_lease(now, batch_size):
        with log_context(correlation_id=post.content_id, post_id=post.id, platform=post.platform):
            recovered = recover_expired_lease(repo, post.id, now)
            if recovered is not None:
                summary.recovered += 1
                log_event(log, logging.WARNING, "recovered a post from a dead publishing attempt", to=recovered.status)
    # A post parked until later than now is not returned by the query, so next_attempt_at is honoured.
    for post in repo.posts_due_for_dispatch(now, batch_size):
        with log_context(correlation_id=post.content_id, post_id=post.id, platform=post.platform):
            next_try = now + timedelta(seconds=redispatch_seconds)

            def decide(current: Post) -> Post | None:
                if current.status == "scheduled" and current.scheduled_at and current.scheduled_at <= now:
                    return transition(current, "queued", reason="scheduled time reached", redispatch_at=next_try)
                due = [t for t in (current.next_attempt_at, current.redispatch_at) if t is not None]
                if current.status == "queued" and due and min(due) <= now:
                    return current.model_copy(update={"next_attempt_at": None, "redispatch_at": next_try,
                                                      "updated_at": now})
                return None  # someone else moved it meanwhile

            before, after = repo.change_post(post.id, decide)
            if before is None or after is None:  # gone, or nothing to change
                continue
            if before.status == "scheduled":
                summary.released += 1
            try:
                send(after)
            except Exception as exc:  # noqa: BLE001 - the post stays due; the next tick sends it again
                summary.errors += 1
                log_event(log, logging.ERROR, "dispatch could not send post", error=str(exc))
                continue
            summary.sent += 1
            summary.post_ids.append(post.id)
    log_event(log, logging.INFO, "dispatch done", sent=summary.sent, released=summary.released,
              recovered=summary.recovered, errors=summary.errors)
    return summary
