"""Scheduler tick: check posts in `processing` whose next check is due; confirm or fail them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.errors import PostgateError, TransientError
from shared.platforms.base import StatusContext, loggable_ids
from shared.platforms.registry import adapter_for
from shared.posts.model import Post
from shared.posts.repository import Repository
from shared.publishing.publish_log import write_publish_log
from shared.publishing.publisher import account_tokens
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_context, log_event

log = logging.getLogger(__name__)


@dataclass
class PollSummary:
    checked: int = 0
    published: int = 0
    failed: int = 0
    waiting: int = 0
    errors: int = 0
    logged: int = 0
    details: list[str] = field(default_factory=list)


def next_check_delay(config, check_count: int) -> float:
    return min(config.poll_first_check_seconds * (2 ** check_count), config.poll_max_interval_seconds) or 1.0


def poll_once(*, repo: Repository, config, secrets, bq, now: datetime | None = None) -> PollSummary:
    now = now or utcnow()
    summary = PollSummary()
    for post in repo.posts_due_for_check(now, config.poll_batch_size):
        summary.checked += 1
        with log_context(correlation_id=post.content_id, post_id=post.id, platform=post.platform):
            try:
                _check_one(post, repo=repo, config=config, secrets=secrets, now=now, summary=summary)
            except PostgateError as exc:
                summary.errors += 1
                delay = exc.retry_after if isinstance(exc, TransientError) and exc.retry_after else next_check_delay(config, post.check_count)
                repo.update_fields(post.id, next_check_at=now + timedelta(seconds=delay), check_count=post.check_count + 1)
                log_event(log, logging.WARNING, "status check failed; will check again", error=str(exc))
    # Rows whose publish was confirmed but not yet logged (a BigQuery hiccup loses nothing).
    for post in repo.posts_missing_publish_log(config.poll_batch_size):
        with log_context(correlation_id=post.content_id, post_id=post.id, platform=post.platform):
            try:
                write_publish_log(bq, config.project, post)
            except Exception as exc:  # noqa: BLE001 - any BigQuery failure: keep the flag, retry next tick
                log_event(log, logging.WARNING, "publish_log write failed; will retry", error=str(exc))
                continue
            repo.update_fields(post.id, publish_log_written=True)
            summary.logged += 1
    log_event(log, logging.INFO, "status poll done", checked=summary.checked, published=summary.published,
              failed=summary.failed, waiting=summary.waiting, errors=summary.errors, logged=summary.logged)
    return summary


def _check_one(post: Post, *, repo: Repository, config, secrets, now: datetime, summary: PollSummary) -> None:
    account = repo.get_account(post.account_id) or {}
    adapter = adapter_for(post.platform)
    tokens = account_tokens(post.account_id, account, adapter, repo=repo, config=config, secrets=secrets)
    result = adapter.check_status(StatusContext(post=post, account=account, tokens=tokens, config=config, repo=repo, now=now))
    if result.state == "published":
        ids = {**post.platform_ids, **result.platform_ids}
        moved = repo.move_post(post.id, {"processing"}, "published", reason="platform confirmed",
                               platform_ids=ids, share_url=result.share_url, published_at=now, next_check_at=None)
        if moved:
            summary.published += 1
            log_event(log, logging.INFO, "post published", platform_ids=loggable_ids(ids), share_url=result.share_url)
        return
    if result.state == "failed":
        reason = result.fail_reason or "unknown"
        fail_class = result.fail_class or "platform"
        if repo.move_post(post.id, {"processing"}, "failed", reason=f"platform: {reason}", fail_reason=reason,
                          fail_class=fail_class, next_check_at=None):
            summary.failed += 1
            log_event(log, logging.ERROR, "post failed", reason=reason, fail_class=fail_class)
        return
    if post.poll_deadline and now >= post.poll_deadline:
        reason = f"gave up waiting: still {result.detail or 'processing'} at the deadline"
        if repo.move_post(post.id, {"processing"}, "failed", reason=reason, fail_reason=reason, fail_class="timeout"):
            summary.failed += 1
            log_event(log, logging.ERROR, "post failed", reason=reason, fail_class="timeout")
        return
    delay = result.next_check_seconds if result.next_check_seconds is not None else next_check_delay(config, post.check_count)
    changes = {"next_check_at": now + timedelta(seconds=delay), "check_count": post.check_count + 1}
    if result.platform_ids:
        changes["platform_ids"] = {**post.platform_ids, **result.platform_ids}
    repo.update_fields(post.id, **changes)
    summary.waiting += 1
    log_event(log, logging.INFO, "post still processing", platform_status=result.detail, next_check_in=delay)
