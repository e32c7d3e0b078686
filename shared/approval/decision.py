"""Recording a decision on a content item: once, in one transaction with its posts' transitions,
whether it comes from a signed link or from an approver through the content API; and noting that
the approvers were asked again.

Returns what was decided (Decided) or raises a refusal (shared/approval/refusals.py) saying why
nothing was recorded; the link's pages and the API's error mapping render either.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from shared.approval.checks import ReviewEnv, check_decidable, check_media, check_platforms, token_used
from shared.approval.links import verify_link
from shared.approval.refusals import AlreadyDecided, DecisionBusy, NothingToDecide, PlatformWouldRefuse
from shared.approval.tokens import API_TOKEN_PREFIX, Action, LinkClaims
from shared.model.content import Approval, ContentItem
from shared.model.post import Post, post_id_for
from shared.model.state_machine import transition
from shared.publishing.dispatch import LOST_MESSAGE_RESEND_SECONDS
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_context, log_event
from shared.stores.posts import (
    APPROVALS,
    CONTENTION_ERRORS,
    Repository,
    dump,
    is_contention,
    run_with_contention_retry,
)

log = logging.getLogger(__name__)
# Concurrent decisions on one item: one holds the item's lock, the others wait up to this long for
# its outcome. Then an answer, never a 500.
DECISION_WAIT_SECONDS = 20.0
DECISION_LOCK_SECONDS = 30
DECISION_LOCKS = "decision_locks"
REASON_MAX_CHARS = 1000

Decision = Literal["approved", "rejected"]


@dataclass(frozen=True)
class Decided:
    """A recorded decision: the item as decided on, and its posts that are due now or scheduled."""

    decision: Decision
    content: ContentItem
    reason: str | None = None
    due_posts: list[Post] = field(default_factory=list)
    scheduled_posts: list[Post] = field(default_factory=list)


def decide_by_link(repo: Repository, signing_key: str, token: str, action: str, env: ReviewEnv | None = None, *,
                   reason: str | None = None, now: datetime | None = None) -> Decided:
    """A signed link's POST: verify, then record the decision once, in a transaction with the posts' transitions.

    The transaction reads and writes only this item's documents (content, the token's use record,
    its posts by id), so decisions on different items never contend. Concurrent decisions on one
    item: one commits; the others find it decided and are refused.
    """
    now = now or utcnow()
    claims = verify_link(signing_key, token, now, action)
    return _decide(repo, claims, env, reason=reason, now=now)


def decide_via_api(repo: Repository, content_id: str, action: Action, content_hash: str, decided_by: str,
                   env: ReviewEnv | None = None, *, reason: str | None = None, now: datetime | None = None) -> Decided:
    """An approver's decision through the content API: recorded exactly as a link's (same checks,
    same lock, same transaction), by the authenticated caller, bound to the `content_hash` they
    read. The decision's token id is "api:<uuid>" (its use record sits with the links')."""
    now = now or utcnow()
    claims = LinkClaims(content_id=content_id, content_hash=content_hash, action=action, expires_at=now,
                        token_id=f"{API_TOKEN_PREFIX}{uuid.uuid4()}", recipient=decided_by)
    return _decide(repo, claims, env, reason=reason, now=now)


def _decide(repo: Repository, claims: LinkClaims, env: ReviewEnv | None, *, reason: str | None,
            now: datetime) -> Decided:
    """The decision once its maker is known (a verified link or an authenticated API caller)."""
    reason = (reason or "").strip()[:REASON_MAX_CHARS] or None
    with log_context(correlation_id=claims.content_id):
        try:
            content = check_decidable(claims, repo.get_content(claims.content_id),
                                      used=token_used(repo, claims.token_id))
        except NothingToDecide as refused:
            log_event(log, logging.WARNING, "approval decision refused", reason=refused.message)
            raise
        if claims.action == "approve":
            try:
                check_platforms(repo, content)
            except PlatformWouldRefuse:
                log_event(log, logging.WARNING, "approval refused: a platform would refuse this content")
                raise
            if env is not None:
                check_media(repo, content, env, may_reask=True, via_api=claims.via_api)
        decision, due, scheduled = _record_decision(repo, claims, content, reason, now)
        log_event(log, logging.INFO, f"content {decision}", decided_by=claims.recipient, posts_due=len(due),
                  posts_scheduled=len(scheduled), via="api" if claims.via_api else "link")
        return Decided(decision, content, reason, due, scheduled)


def _record_decision(repo: Repository, claims: LinkClaims, content: ContentItem, reason: str | None,
                     now: datetime) -> tuple[Decision, list[Post], list[Post]]:
    from google.cloud import firestore

    content_ref = repo.content_ref(claims.content_id)
    used_ref = repo.db.collection(APPROVALS).document(claims.token_id)
    post_refs = [repo.post_ref(post_id_for(content.id, t.account_id)) for t in content.targets]
    decision: Decision = "approved" if claims.action == "approve" else "rejected"

    @firestore.transactional
    def _decide(transaction):
        snaps = {s.reference.path: s for s in transaction.get_all([content_ref, used_ref, *post_refs])}
        current = snaps[content_ref.path]
        current = ContentItem.model_validate(current.to_dict()) if current.exists else None
        try:
            current = check_decidable(claims, current, used=snaps[used_ref.path].exists)
        except NothingToDecide as refused:
            return refused  # commits nothing; raised once the lock is released
        approval = Approval(decision=decision, decided_by=claims.recipient, decided_at=now,
                            content_hash=current.content_hash, token_id=claims.token_id, reason=reason)
        transaction.set(used_ref, {"content_id": current.id, "action": claims.action, "recipient": claims.recipient,
                                   "used_at": now})
        transaction.update(content_ref, {"status": decision, "approval": dump(approval), "updated_at": now})
        due, scheduled = [], []
        for ref in post_refs:
            snap = snaps[ref.path]
            post = Post.model_validate(snap.to_dict()) if snap.exists else None
            if post is None or post.status != "pending_approval":
                continue
            if decision == "rejected":
                note = f"rejected by {claims.recipient}" + (f": {reason}" if reason else "")
                updated = transition(post, "rejected", reason=note, fail_reason=reason)
            else:
                updated = transition(post, "approved", reason=f"approved by {claims.recipient}",
                                     approved_by=claims.recipient, approved_at=now)
                planned = post.scheduled_at or current.publish_at  # a post rescheduled while pending keeps its time
                if planned and planned > now:
                    updated = transition(updated, "scheduled", scheduled_at=planned)
                    scheduled.append(updated)
                else:
                    updated = transition(updated, "queued", redispatch_at=now + timedelta(seconds=LOST_MESSAGE_RESEND_SECONDS))
                    due.append(updated)
            transaction.set(ref, dump(updated))
        return decision, due, scheduled

    holder = _DecisionLock(repo, claims.content_id)
    deadline = time.monotonic() + DECISION_WAIT_SECONDS
    while not holder.acquire():
        # Another decision on this item is being recorded: wait for it, then say what it was.
        check_decidable(claims, repo.get_content(claims.content_id), used=token_used(repo, claims.token_id))
        if time.monotonic() > deadline:
            log_event(log, logging.ERROR, "decision not recorded: another decision held the item too long")
            raise DecisionBusy("Another decision on this post is being recorded. Open the link again in a few "
                               "seconds to see the outcome.", retry_after=5)
        time.sleep(random.uniform(0.05, 0.2))
    try:
        # Contention can still come from writers that take no decision lock (a publisher voiding an approval).
        outcome = run_with_contention_retry(lambda: _decide(repo.db.transaction()))
    except CONTENTION_ERRORS as exc:
        if not is_contention(exc):
            raise
        log_event(log, logging.ERROR, "decision not recorded: the item stayed contended", error=type(exc).__name__)
        raise DecisionBusy("Many changes arrived for this post at once and your decision was not recorded. Press "
                           "the button again in a few seconds.", retry_after=5) from None
    finally:
        holder.release()
    if isinstance(outcome, NothingToDecide):
        log_event(log, logging.WARNING, "approval decision refused", reason=outcome.message)
        raise outcome
    return outcome


class _DecisionLock:
    """One decision at a time per content item. Concurrent presses would otherwise all open a
    transaction on the same documents and abort one another (the emulator's pessimistic locks turn
    that into timeouts); a create-only document admits exactly one, and the rest wait and read the
    outcome. It expires, so a crashed holder cannot block the item for long."""

    def __init__(self, repo: Repository, content_id: str):
        self._db = repo.db
        self._ref = repo.db.collection(DECISION_LOCKS).document(content_id)
        self._token = uuid.uuid4().hex

    def acquire(self) -> bool:
        from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound

        expires = utcnow() + timedelta(seconds=DECISION_LOCK_SECONDS)
        try:
            self._ref.create({"holder": self._token, "expires_at": expires})
            return True
        except AlreadyExists:
            pass
        snap = self._ref.get()
        if snap.exists and snap.to_dict()["expires_at"] < utcnow():
            try:  # a holder that died: remove its lock only if nobody renewed it meanwhile
                self._ref.delete(option=self._db.write_option(last_update_time=snap.update_time))
            except (FailedPrecondition, NotFound):
                pass
        return False

    def release(self) -> None:
        from google.api_core.exceptions import FailedPrecondition, NotFound

        snap = self._ref.get()
        if snap.exists and snap.to_dict().get("holder") == self._token:
            try:
                self._ref.delete(option=self._db.write_option(last_update_time=snap.update_time))
            except (FailedPrecondition, NotFound):
                pass


def record_approval_request(repo: Repository, content_id: str, requested_by: str,
                            now: datetime | None = None) -> ContentItem:
    """Note in the item's approval history that `requested_by` asked its approvers again (the
    caller then sends the fresh links). Only an item still pending approval can be asked about:
    raises NothingToDecide ("gone") or AlreadyDecided otherwise."""
    from google.cloud import firestore

    ref = repo.content_ref(content_id)
    now = now or utcnow()

    @firestore.transactional
    def _run(transaction) -> ContentItem | NothingToDecide:
        content = repo.get_content(content_id, transaction=transaction)
        if content is None:
            return NothingToDecide("gone", f"no content {content_id!r}")
        if content.status != "pending_approval":
            decided = content.approval
            by = f" by {decided.decided_by}" if decided else ""
            return AlreadyDecided(f"content {content_id} is {content.status}{by}; only content pending approval can be "
                                  "asked about again", status=content.status,
                                  decided_by=decided.decided_by if decided else None,
                                  decided_at=decided.decided_at if decided else None)
        entry = {"event": "approval_requested", "requested_by": requested_by, "requested_at": now,
                 "version": content.version, "content_hash": content.content_hash}
        history = [*content.approval_history, entry]
        transaction.update(ref, {"approval_history": history, "updated_at": now})
        return content.model_copy(update={"approval_history": history, "updated_at": now})

    outcome = run_with_contention_retry(lambda: _run(repo.db.transaction()))
    if isinstance(outcome, NothingToDecide):
        raise outcome
    log_event(log, logging.INFO, "approval requested again", correlation_id=content_id, version=outcome.version)
    return outcome
