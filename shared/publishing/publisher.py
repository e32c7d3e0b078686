"""Publish one post: approval gate, claim, platform flow, and the outcome -> state mapping.

Invariant 1: nothing calls a platform unless the content carries an approval for exactly its
current hash. Invariant 2: the claim transaction lets only one delivery through.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType

from shared.content.versions import void_for_changed_media
from shared.errors import (
    AmbiguousError,
    AuthError,
    CapReached,
    ConfigError,
    MediaChanged,
    PermanentError,
    TransientError,
    ValidationError,
)
from shared.model.account import Account
from shared.model.content import ContentItem
from shared.model.post import Post
from shared.model.state_machine import transition
from shared.platforms.base import PublishContext, PublishResult, loggable_ids
from shared.platforms.credentials import (
    DEFAULT_REFRESH_AHEAD_SECONDS,
    ROTATING_REFRESH_TOKEN_PLATFORMS,
    AccountTokens,
    mark_needs_reconnect,
)
from shared.platforms.registry import adapter_for, default_limits
from shared.publishing.dispatch import LOST_MESSAGE_RESEND_SECONDS
from shared.publishing.retry import make_retry
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.stores import posting_caps as limits
from shared.stores.posts import Repository, claim_for_publishing, unconfirmed
from shared.stores.protocols import MediaStore, SecretStore

log = logging.getLogger(__name__)

# An account document with `dry_run: true` (the post-deploy smoke check's, infra/smoke.py) has its posts go
# through everything up to the claim, then cancelled with this reason: nothing is claimed, reserved or sent.
DRY_RUN_REASON = "dry run: stopped before the platform call"


@dataclass(frozen=True)
class PublishOutcome:
    status: str  # published | processing | failed | queued | skipped | refused | cancelled (dry run)
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


def publish_post(post_id: str, *, repo: Repository, config: Config, secrets: SecretStore, media_store: MediaStore,
                 request_approval: Callable[[ContentItem], None] = lambda content: None) -> PublishOutcome:
    """`request_approval(content)` sends a new version to its approver (after an approved object changed)."""
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
        assert content is not None  # approval_problem refuses a missing content item
        try:
            media_store.verify(content.media)  # invariant 1: the approved generations, byte for byte
        except MediaChanged as changed:
            return _media_changed(repo, post, content, str(changed), media_store, request_approval, attempt=None)
        account = repo.get_account(post.account_id)  # read once: the dry-run stop and the platform flow use it
        if (account or {}).get("dry_run") is True:
            return _stop_dry_run(repo, post)

        claim = claim_for_publishing(repo, post.id, config.publish_lease_seconds)
        if not claim.claimed:
            log_event(log, logging.INFO, "publish skipped", reason=claim.reason, status=claim.post.status if claim.post else None)
            return PublishOutcome("skipped", claim.reason)
        post = claim.post
        # a granted claim carries the post it moved to publishing, with the new attempt id
        assert post is not None and post.attempt_id is not None
        attempt = post.attempt_id
        log_event(log, logging.INFO, "publish claimed", attempt=post.attempt_count)
        adapter = adapter_for(post.platform)
        if account is None:
            return _fail(repo, post, attempt, f"account {post.account_id} not found", "ConfigError")
        # Invariant 4: a post over the account's cap waits in `queued`; dispatch resends it when a slot frees.
        reservation = limits.reserve(repo, post.account_id, limits.limits_for(account, default_limits(account)), post.id)
        if not reservation.granted:
            assert reservation.retry_at is not None  # a refused reservation says when a slot frees
            delay = max((reservation.retry_at - utcnow()).total_seconds(), 1.0)
            return _release(repo, post, attempt, f"account limit {reservation.limit} reached", delay=delay, retry=False)
        try:
            result = _run_platform_flow(post, content, account, adapter, repo=repo, config=config, secrets=secrets,
                                        media_store=media_store)
        except CapReached as exc:
            return _release(repo, post, attempt, f"platform cap reached: {exc}", delay=exc.retry_after or 86400,
                            retry=False, reservation=reservation)
        except TransientError as exc:
            return _release(repo, post, attempt, str(exc), delay=exc.retry_after or 0, retry=True, reservation=reservation)
        except AmbiguousError as exc:
            return _unconfirmed(repo, post, attempt, str(exc))
        except MediaChanged as changed:
            # Replaced mid-upload: nothing was created from the new bytes (reads are pinned to the approved generation).
            limits.release(repo, reservation, post.id)
            return _media_changed(repo, post, content, str(changed), media_store, request_approval, attempt=attempt)
        except AuthError as exc:
            mark_needs_reconnect(repo, post.account_id, str(exc))
            return _fail(repo, post, attempt, str(exc), "auth")
        except (PermanentError, ValidationError, ConfigError) as exc:  # an adapter may name the class (e.g. unaudited_app)
            return _fail(repo, post, attempt, str(exc), getattr(exc, "fail_class", None) or type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - our bug or an unclassified error: never leave the claim behind
            log.exception("publishing attempt crashed")
            current = repo.get_post(post.id)
            if current is not None and current.attempt_id == attempt and current.create_sent_at is not None:
                return _unconfirmed(repo, post, attempt, f"the attempt crashed after the create call ({type(exc).__name__})")
            return _release(repo, post, attempt, f"the attempt crashed before the create call ({type(exc).__name__})",
                            delay=0, retry=True, reservation=reservation)
        now = utcnow()
        if result.confirmed:
            moved = repo.move_post(post.id, {"publishing"}, "published", reason="platform confirmed on create",
                                   platform_ids=result.platform_ids, share_url=result.share_url, published_at=now,
                                   metrics_next_at=now)  # due at the next analytics pull
            log_event(log, logging.INFO, "post published", platform_ids=loggable_ids(result.platform_ids), share_url=result.share_url,
                      approval_to_publish_seconds=_since(post.approved_at, now))
            return PublishOutcome("published" if moved else "skipped", "published")
        first_check = result.next_check_seconds if result.next_check_seconds is not None else config.poll_first_check_seconds
        moved = repo.move_post(post.id, {"publishing"}, "processing", reason="platform accepted the upload",
                               platform_ids=result.platform_ids, check_count=0,
                               next_check_at=now + timedelta(seconds=first_check),
                               poll_deadline=now + timedelta(seconds=config.poll_give_up_seconds))
        log_event(log, logging.INFO, "publish handed to status poll", platform_ids=loggable_ids(result.platform_ids))
        return PublishOutcome("processing" if moved else "skipped", "uploaded; awaiting platform confirmation")


def _stop_dry_run(repo: Repository, post: Post) -> PublishOutcome:
    """A dry-run account's post: queued -> cancelled before any claim, cap reservation or platform call."""
    moved = repo.move_post(post.id, {"queued"}, "cancelled", reason=DRY_RUN_REASON)
    log_event(log, logging.INFO, "publish stopped: dry-run account", reason=DRY_RUN_REASON, account_id=post.account_id,
              status=moved.status if moved else post.status)
    return PublishOutcome("cancelled" if moved else "skipped", DRY_RUN_REASON)


def _media_changed(repo: Repository, post: Post, content: ContentItem, reason: str, media_store: MediaStore,
                   request_approval: Callable[[ContentItem], None], *, attempt: str | None) -> PublishOutcome:
    """Refuse the post: its approval is void. A replaced object goes back to the approver as a new
    version; a deleted one fails the post naming it."""
    if attempt is not None:  # hand the claim back first: only unclaimed posts go back for approval
        repo.change_post(post.id, lambda current: transition(current, "queued", reason=reason, attempt_id=None,
                                                             lease_until=None, create_sent_at=None, platform_ids={})
                         if current.attempt_id == attempt and current.status == "publishing" else None)
    reopened, cannot = void_for_changed_media(repo, content, media_store, reason)
    if cannot:
        repo.move_post(post.id, {"queued", "approved", "scheduled"}, "failed", reason=cannot, fail_reason=cannot,
                       fail_class="media_changed")
        log_event(log, logging.ERROR, "post failed", reason=cannot, fail_class="media_changed")
        return PublishOutcome("failed", cannot)
    if reopened is not None:
        request_approval(reopened)
    log_event(log, logging.WARNING, "publish refused: approved media changed; approval requested again", reason=reason)
    return PublishOutcome("refused", f"approval void: {reason}")


def account_tokens(account_id: str, account: Account, adapter: ModuleType, *, repo: Repository, config: Config,
                   secrets: SecretStore) -> AccountTokens:
    # Tokens that cannot be refreshed once expired (Meta's) say how far ahead to refresh them.
    return AccountTokens(account_id, account, secrets=secrets, repo=repo,
                         refresh_fn=lambda tokens: adapter.refresh_tokens(tokens, config=config),
                         refresh_ahead_seconds=getattr(adapter, "REFRESH_AHEAD_SECONDS", DEFAULT_REFRESH_AHEAD_SECONDS),
                         refresh_token_rotates=account.get("platform") in ROTATING_REFRESH_TOKEN_PLATFORMS)


def _run_platform_flow(post: Post, content: ContentItem, account: Account, adapter: ModuleType, *, repo: Repository,
                       config: Config, secrets: SecretStore, media_store: MediaStore) -> PublishResult:
    retry = make_retry(config.retry_attempts, config.retry_base_seconds, config.max_inprocess_wait_seconds)

    def mark_create_sent() -> None:
        repo.update_fields(post.id, expected_attempt=post.attempt_id, create_sent_at=utcnow())

    def save_platform_ids(ids: dict) -> None:
        # Saved before any slow step: a crash after this point never leads to a second create.
        repo.update_fields(post.id, expected_attempt=post.attempt_id, platform_ids=ids)

    ctx = PublishContext(post=post, content=content, account=account,
                         tokens=account_tokens(post.account_id, account, adapter, repo=repo, config=config, secrets=secrets),
                         media_store=media_store, config=config, retry=retry, mark_create_sent=mark_create_sent,
                         save_platform_ids=save_platform_ids, repo=repo)
    return adapter.publish(ctx)


def _release(repo: Repository, post: Post, attempt: str, reason: str, *, delay: float, retry: bool,
             reservation: limits.Reservation | None = None) -> PublishOutcome:
    """Back to queued. An unfinished upload is never published, so the next attempt may start again.
    The account's limit slot goes back too: nothing was posted."""
    now = utcnow()

    def decide(current: Post):
        if current.attempt_id != attempt or current.status != "publishing":
            return None
        abandoned = dict(current.platform_ids)
        note = f"{reason}" + (f" (abandoned incomplete upload {abandoned})" if abandoned else "")
        # Pub/Sub redelivers a retry=True release; redispatch_at covers a message that runs out of deliveries.
        return transition(current, "queued", reason=note, attempt_id=None, lease_until=None, create_sent_at=None,
                          platform_ids={}, next_attempt_at=now + timedelta(seconds=delay) if delay else None,
                          redispatch_at=None if delay else now + timedelta(seconds=LOST_MESSAGE_RESEND_SECONDS))

    repo.change_post(post.id, decide)
    if reservation is not None:
        limits.release(repo, reservation, post.id)
    log_event(log, logging.WARNING, "publish attempt released for retry", reason=reason, retry_in_seconds=delay)
    return PublishOutcome("queued", reason, retry=retry)


def _unconfirmed(repo: Repository, post: Post, attempt: str, reason: str) -> PublishOutcome:
    """The create call's outcome is unknown: never failed (it may be live), never re-created; the
    status poll settles it by looking it up on the platform. The account's slot stays taken."""
    now = utcnow()
    repo.change_post(post.id, lambda current: unconfirmed(current, now, reason)
                     if current.attempt_id == attempt and current.status == "publishing" else None)
    log_event(log, logging.WARNING, "create outcome unknown; the status poll will look the post up", reason=reason)
    return PublishOutcome("processing", f"unconfirmed: {reason}")


def _fail(repo: Repository, post: Post, attempt: str, reason: str, fail_class: str) -> PublishOutcome:
    def decide(current: Post):
        if current.attempt_id != attempt or current.status != "publishing":
            return None
        return transition(current, "failed", reason=reason, fail_reason=reason, fail_class=fail_class)

    repo.change_post(post.id, decide)
    # The failure notice for people: one ERROR line per failed post (alerting keys on it).
    log_event(log, logging.ERROR, "post failed", reason=reason, fail_class=fail_class)
    return PublishOutcome("failed", reason)


def _since(start, now) -> float | None:
    """Seconds from approval to the platform's confirmation (the dashboard's publish latency)."""
    return round((now - start).total_seconds(), 3) if start else None
