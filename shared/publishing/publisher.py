"""Publish one post: approval gate, claim, platform flow, and the outcome -> state mapping.

Invariant 1: nothing calls a platform unless the content carries an approval for exactly its
current hash. Invariant 2: the claim transaction lets only one delivery through.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from shared.content.model import ContentItem
from shared.errors import AmbiguousError, ConfigError, PermanentError, TransientError, ValidationError
from shared.platforms.tiktok.client import CapReached, TikTokClient
from shared.posts.model import Post
from shared.posts.repository import Repository, claim_for_publishing
from shared.publishing.accounts import access_token_for
from shared.publishing.retry import make_retry
from shared.publishing.tiktok import publish_to_tiktok
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_context, log_event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishOutcome:
    status: str  # published | processing | failed | queued | skipped | refused
    detail: str
    retry: bool = False  # True: the handler raises so Pub/Sub redelivers


def approval_problem(post: Post, content: ContentItem | None) -> str | None:
    if content is None:
        return "content not found"
    approval = content.approval
    if approval is None or approval.decision != "approved":
        return "no approval recorded for this content"
    if not (approval.content_hash == post.content_hash == content.content_hash == content.current_hash()):
        return "content changed after approval; the approval is void"
    return None


def _tiktok_client(token: str, config) -> TikTokClient:
    return TikTokClient(token, base_url=config.tiktok_base_url, timeout=config.http_timeout_seconds,
                        rate_limit_wait=config.tiktok_rate_limit_wait_seconds)


PLATFORM_CLIENTS: dict[str, Callable] = {"tiktok": _tiktok_client}


def publish_post(post_id: str, *, repo: Repository, config, secrets, media_store) -> PublishOutcome:
    post = repo.get_post(post_id)
    if post is None:
        log_event(log, logging.ERROR, "publish message names an unknown post", post_id=post_id)
        return PublishOutcome("refused", "unknown post")
    with log_context(correlation_id=post.content_id, post_id=post.id, platform=post.platform):
        content = repo.get_content(post.content_id)
        problem = approval_problem(post, content)
        if problem:
            log_event(log, logging.ERROR, "publish refused: approval gate", reason=problem, status=post.status)
            if post.status == "queued":
                repo.move_post(post.id, {"queued"}, "failed", reason=problem, fail_reason=problem, fail_class="approval")
            return PublishOutcome("refused", problem)

        claim = claim_for_publishing(repo, post.id, config.publish_lease_seconds)
        if not claim.claimed:
            log_event(log, logging.INFO, "publish skipped", reason=claim.reason, status=claim.post.status if claim.post else None)
            return PublishOutcome("skipped", claim.reason)
        post = claim.post
        attempt = post.attempt_id
        log_event(log, logging.INFO, "publish claimed", attempt=post.attempt_count)
        try:
            fields = _run_platform_flow(post, content, repo=repo, config=config, secrets=secrets, media_store=media_store)
        except CapReached as exc:
            return _release(repo, post, attempt, f"platform cap reached: {exc}", delay=exc.retry_after or 86400, retry=False)
        except TransientError as exc:
            return _release(repo, post, attempt, str(exc), delay=exc.retry_after or 0, retry=True)
        except AmbiguousError as exc:
            return _fail(repo, post, attempt, str(exc), "ambiguous")
        except (PermanentError, ValidationError, ConfigError) as exc:
            return _fail(repo, post, attempt, str(exc), type(exc).__name__)
        moved = repo.move_post(post.id, {"publishing"}, "processing", reason="platform accepted the upload", **fields)
        log_event(log, logging.INFO, "publish handed to status poll", platform_ids=fields.get("platform_ids"))
        return PublishOutcome("processing" if moved else "skipped", "uploaded; awaiting platform confirmation")


def _run_platform_flow(post: Post, content: ContentItem, *, repo: Repository, config, secrets, media_store) -> dict:
    account = repo.get_account(post.account_id)
    if account is None:
        raise ConfigError(f"account {post.account_id} not found")
    client = PLATFORM_CLIENTS[post.platform](access_token_for(account, secrets), config)
    retry = make_retry(config.retry_attempts, config.retry_base_seconds, config.max_inprocess_wait_seconds)

    def mark_create_sent() -> None:
        repo.update_fields(post.id, expected_attempt=post.attempt_id, create_sent_at=utcnow())

    def save_platform_ids(ids: dict) -> None:
        # Saved before the slow upload: a crash after this point never leads to a second init.
        repo.update_fields(post.id, expected_attempt=post.attempt_id, platform_ids=ids)

    return publish_to_tiktok(post=post, content=content, client=client, media_store=media_store, config=config,
                             retry=retry, mark_create_sent=mark_create_sent, save_platform_ids=save_platform_ids)


def _release(repo: Repository, post: Post, attempt: str, reason: str, *, delay: float, retry: bool) -> PublishOutcome:
    """Back to queued. An unfinished TikTok upload is never published, so the next attempt may init again."""
    now = utcnow()

    def decide(current: Post):
        if current.attempt_id != attempt or current.status != "publishing":
            return None
        from shared.posts.state_machine import transition

        abandoned = dict(current.platform_ids)
        note = f"{reason}" + (f" (abandoned incomplete upload {abandoned})" if abandoned else "")
        return transition(current, "queued", reason=note, attempt_id=None, lease_until=None, create_sent_at=None,
                          platform_ids={}, next_attempt_at=now + timedelta(seconds=delay) if delay else None)

    repo.change_post(post.id, decide)
    log_event(log, logging.WARNING, "publish attempt released for retry", reason=reason, retry_in_seconds=delay)
    return PublishOutcome("queued", reason, retry=retry)


def _fail(repo: Repository, post: Post, attempt: str, reason: str, fail_class: str) -> PublishOutcome:
    def decide(current: Post):
        if current.attempt_id != attempt or current.status != "publishing":
            return None
        from shared.posts.state_machine import transition

        return transition(current, "failed", reason=reason, fail_reason=reason, fail_class=fail_class)

    repo.change_post(post.id, decide)
    # The failure notice for people: one ERROR line per failed post (alerting keys on it).
    log_event(log, logging.ERROR, "post failed", reason=reason, fail_class=fail_class)
    return PublishOutcome("failed", reason)
