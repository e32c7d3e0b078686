"""The post state machine (invariant 7): every status change goes through `transition`."""

from __future__ import annotations

from shared.errors import IllegalTransition
from shared.model.post import Post, PostStatus, Transition
from shared.runtime.clock import utcnow

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"pending_approval", "cancelled"}),
    "pending_approval": frozenset({"approved", "rejected", "cancelled"}),
    # -> pending_approval: the approval was voided (content edited, approved media replaced) before a
    # publisher claimed the post; the new version goes back to its approver.
    "approved": frozenset({"scheduled", "queued", "cancelled", "pending_approval"}),
    "scheduled": frozenset({"queued", "cancelled", "pending_approval"}),
    # queued -> failed: refused before any platform call (validation, approved media deleted).
    # queued -> scheduled: rescheduled to a new time before a publisher claimed it (the approval
    # stands; dispatch sends it when that time comes, and a publish message still in flight finds
    # it no longer queued and leaves it).
    "queued": frozenset({"publishing", "cancelled", "failed", "pending_approval", "scheduled"}),
    # publishing -> queued: a transient failure before anything was created releases the claim.
    # publishing -> published: platforms that confirm synchronously.
    "publishing": frozenset({"processing", "queued", "published", "failed"}),
    # processing -> queued: a create of unknown outcome that the platform proves never happened.
    "processing": frozenset({"published", "failed", "queued"}),
    "published": frozenset(),
    "rejected": frozenset(),
    "cancelled": frozenset(),
    "failed": frozenset(),
}

TERMINAL = frozenset(s for s, targets in TRANSITIONS.items() if not targets)


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def transition(post: Post, to: PostStatus, *, reason: str | None = None, **changes) -> Post:
    """Return a copy of `post` in state `to` with `changes` applied; raise IllegalTransition if not allowed."""
    if not can_transition(post.status, to):
        raise IllegalTransition(f"post {post.id}: {post.status} -> {to} is not allowed")
    now = utcnow()
    history = [*post.history, Transition(from_status=post.status, to_status=to, at=now, reason=reason)]
    return post.model_copy(update={**changes, "status": to, "history": history, "updated_at": now})
