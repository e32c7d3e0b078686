"""Scheduler tick: check posts in `processing` whose next check is due; confirm or fail them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.errors import AuthError, CapReached, ConfigError, PermanentError, TransientError, ValidationError
from shared.model.post import Post
from shared.platforms.base import StatusContext, StatusResult, loggable_ids
from shared.platforms.credentials import mark_needs_reconnect
from shared.platforms.registry import adapter_for
from shared.publishing.publish_log import claim_publish_log, write_publish_log
from shared.publishing.publisher import account_tokens
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.stores.posts import Repository
from shared.stores.protocols import SecretStore

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger(__name__)


@dataclass
class PollSummary:
    checked: int = 0
    published: int = 0
    failed: int = 0
    waiting: int = 0
    errors: int = 0
    logged: int = 0
    requeued: int = 0
    details: list[str] = field(default_factory=list)


def next_check_delay(config: Config, check_count: int) -> float:
    return min(config.poll_first_check_seconds * (2 ** check_count), config.poll_max_interval_seconds) or 1.0


def poll_once(*, repo: Repository, config: Config, secrets: SecretStore, bq: bigquery.Client, now: datetime | None = None,
              owed_work: Sequence[Callable[..., object]] = ()) -> PollSummary:
    """`owed_work`: the higher layers' share of the tick (e.g. YouTube metadata changes a crash left
    approved), each called as f(repo=, config=, secrets=, bq=, now=) and never raising."""
    now = now or utcnow()
    summary = PollSummary()
    for post in repo.posts_due_for_check(now, config.poll_batch_size):
        summary.checked += 1
        with log_context(correlation_id=post.content_id, post_id=post.id, platform=post.platform):
            try:
                _check_one(post, repo=repo, config=config, secrets=secrets, now=now, summary=summary)
            except AuthError as exc:
                summary.errors += 1
                mark_needs_reconnect(repo, post.account_id, str(exc))  # e.g. TikTok auth_removed, a revoked scope
                _give_up(repo, post, summary, f"the account's access was refused: {exc}", "auth")
            except (PermanentError, ValidationError, ConfigError) as exc:
                # Retrying cannot help (revoked auth, a missing scope): end now, saying why.
                summary.errors += 1
                _give_up(repo, post, summary, f"the platform refused the status check: {exc}",
                         "unconfirmed" if post.unconfirmed else "status_check")
            except Exception as exc:  # noqa: BLE001 - transient or our bug: counts toward the deadline, never stops the tick
                summary.errors += 1
                _check_again_or_give_up(post, repo=repo, config=config, now=now, summary=summary, error=exc)
    _write_owed_publish_log_rows(repo, config, bq, now, summary)
    for work in owed_work:
        work(repo=repo, config=config, secrets=secrets, bq=bq, now=now)
    log_event(log, logging.INFO, "status poll done", checked=summary.checked, published=summary.published,
              failed=summary.failed, waiting=summary.waiting, errors=summary.errors, logged=summary.logged,
              requeued=summary.requeued)
    return summary


def _write_owed_publish_log_rows(repo: Repository, config: Config, bq: bigquery.Client, now: datetime, summary: PollSummary) -> None:
    """Confirmed publishes not yet in BigQuery (a BigQuery hiccup loses nothing; see publish_log.py)."""
    claimed = [p for p in (claim_publish_log(repo, post.id, now) for post in repo.posts_missing_publish_log(
        config.poll_batch_size)) if p is not None]
    if not claimed:
        return
    try:
        write_publish_log(bq, config.project, claimed)
    except Exception as exc:  # noqa: BLE001 - any BigQuery failure: the claims lapse, the next tick retries
        log_event(log, logging.WARNING, "publish_log write failed; will retry", error=str(exc), posts=len(claimed))
        return
    for post in claimed:
        repo.update_fields(post.id, publish_log_written=True, publish_log_claim_until=None)
    summary.logged += len(claimed)


def status_context(post: Post, *, repo: Repository, config: Config, secrets: SecretStore, now: datetime) -> StatusContext:
    """What an adapter's check_status / reconcile is handed for one post."""
    account = repo.get_account(post.account_id) or {}
    tokens = account_tokens(post.account_id, account, adapter_for(post.platform), repo=repo, config=config,
                            secrets=secrets)
    return StatusContext(post=post, account=account, tokens=tokens, config=config, repo=repo, now=now,
                         content=repo.get_content(post.content_id))


def _check_one(post: Post, *, repo: Repository, config: Config, secrets: SecretStore, now: datetime, summary: PollSummary) -> None:
    adapter = adapter_for(post.platform)
    ctx = status_context(post, repo=repo, config=config, secrets=secrets, now=now)
    if post.unconfirmed:
        reconcile = getattr(adapter, "reconcile", None)
        result = reconcile(ctx) if reconcile else StatusResult("pending", detail="no lookup for this platform yet")
    else:
        result = adapter.check_status(ctx)
    if result.state == "published":
        ids = {**post.platform_ids, **result.platform_ids}
        moved = repo.move_post(post.id, {"processing"}, "published", reason="platform confirmed",
                               platform_ids=ids, share_url=result.share_url, published_at=now, next_check_at=None,
                               unconfirmed=False, metrics_next_at=now)  # due at the next analytics pull
        if moved:
            summary.published += 1
            log_event(log, logging.INFO, "post published", platform_ids=loggable_ids(ids), share_url=result.share_url,
                      found_by_lookup=post.unconfirmed,
                      approval_to_publish_seconds=round((now - post.approved_at).total_seconds(), 3)
                      if post.approved_at else None)
        return
    if result.state == "failed":
        reason = result.fail_reason or "unknown"
        fail_class = result.fail_class or "platform"
        if repo.move_post(post.id, {"processing"}, "failed", reason=f"platform: {reason}", fail_reason=reason,
                          fail_class=fail_class, next_check_at=None):
            summary.failed += 1
            log_event(log, logging.ERROR, "post failed", reason=reason, fail_class=fail_class)
        return
    if result.state == "absent":
        # The platform's answer proves the unknown create never happened: publish it again.
        wait = result.next_check_seconds  # e.g. a platform cap: not worth trying before then
        if repo.move_post(post.id, {"processing"}, "queued", reason=f"not on the platform: {result.detail or 'absent'}",
                          unconfirmed=False, create_sent_at=None, platform_ids=dict(result.platform_ids),
                          next_check_at=None, poll_deadline=None,
                          next_attempt_at=now + timedelta(seconds=wait) if wait else None,
                          redispatch_at=None if wait else now):
            summary.requeued += 1
            log_event(log, logging.WARNING, "unknown create proved absent; queued to publish again", detail=result.detail)
        return
    _check_again_or_give_up(post, repo=repo, config=config, now=now, summary=summary, result=result)


def _check_again_or_give_up(post: Post, *, repo: Repository, config: Config, now: datetime, summary: PollSummary,
                            result: StatusResult | None = None, error: Exception | None = None) -> None:
    # Our own quota (e.g. YouTube's daily units) says nothing about the post: it never runs the clock out.
    if post.poll_deadline and now >= post.poll_deadline and not isinstance(error, CapReached):
        if post.unconfirmed:
            reason = ("the create call's outcome is unknown and the post was not found on the platform by the deadline"
                      + (f" (last error: {error})" if error else "") + "; check the account for this post before publishing again")
            _give_up(repo, post, summary, reason, "unconfirmed")
        else:
            still = f"still {result.detail or 'processing'}" if result else f"status checks failing ({error})"
            _give_up(repo, post, summary, f"gave up waiting: {still} at the deadline", "timeout")
        return
    if error is not None:
        delay = error.retry_after if isinstance(error, TransientError) and error.retry_after else next_check_delay(config, post.check_count)
        log_event(log, logging.WARNING, "status check failed; will check again", error=str(error),
                  error_type=type(error).__name__, next_check_in=delay)
        changes: dict = {}
    else:
        assert result is not None  # a check either answered or raised `error`
        delay = result.next_check_seconds if result.next_check_seconds is not None else next_check_delay(config, post.check_count)
        if result.conclusive_in_seconds is not None:
            # Settle when the answer becomes conclusive, not up to a backoff interval later.
            delay = max(min(delay, result.conclusive_in_seconds + 1.0), 1.0)
        changes = {"platform_ids": {**post.platform_ids, **result.platform_ids}} if result.platform_ids else {}
        summary.waiting += 1
        log_event(log, logging.INFO, "post still processing" if not post.unconfirmed else "post not found yet",
                  platform_status=result.detail, next_check_in=delay)
    repo.update_fields(post.id, next_check_at=now + timedelta(seconds=delay), check_count=post.check_count + 1, **changes)


def _give_up(repo: Repository, post: Post, summary: PollSummary, reason: str, fail_class: str) -> None:
    if repo.move_post(post.id, {"processing"}, "failed", reason=reason, fail_reason=reason, fail_class=fail_class,
                      next_check_at=None):
        summary.failed += 1
        # The one line a person acts on: which post, where, and what to check.
        log_event(log, logging.ERROR, "post failed", reason=reason, fail_class=fail_class, account_id=post.account_id,
                  platform_ids=loggable_ids(post.platform_ids))
