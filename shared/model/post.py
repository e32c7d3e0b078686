"""The post document (Firestore collection `posts`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.model.content import TargetSpec
from shared.model.platform import Platform

PostStatus = Literal[
    "draft",
    "pending_approval",
    "approved",
    "scheduled",
    "queued",
    "publishing",
    "processing",
    "published",
    "rejected",
    "cancelled",
    "failed",
]


class Transition(BaseModel):
    from_status: PostStatus
    to_status: PostStatus
    at: datetime
    reason: str | None = None


class Post(BaseModel):
    id: str
    content_id: str
    account_id: str
    platform: Platform
    campaign: str
    status: PostStatus
    content_hash: str = Field(description="content version this post was made for")
    target: TargetSpec
    scheduled_at: datetime | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None

    # Claim-before-call (invariant 2): who is publishing and until when.
    attempt_count: int = 0
    attempt_id: str | None = None
    lease_until: datetime | None = None
    next_attempt_at: datetime | None = None  # parked (cap, retry wait): not to be claimed before this
    # A queued post still queued at this time is sent again by dispatch (its message may be lost).
    redispatch_at: datetime | None = None
    # Set just before the platform's create call is sent: after it, a blind retry could post twice.
    create_sent_at: datetime | None = None
    # In `processing` because the create call's outcome is unknown: the status poll reconciles
    # (looks the post up on the platform) instead of checking a known id.
    unconfirmed: bool = False

    platform_ids: dict[str, str] = Field(default_factory=dict)
    share_url: str | None = None

    # Status polling.
    next_check_at: datetime | None = None
    check_count: int = 0
    poll_deadline: datetime | None = None

    published_at: datetime | None = None
    publish_log_written: bool = False
    publish_log_claim_until: datetime | None = None  # a poll run is writing the row (publish_log.py)
    fail_reason: str | None = None
    fail_class: str | None = None

    # Analytics (shared/analytics): the latest numbers, and when the post is next due a fetch
    # (decaying schedule; None once it is past the maximum age).
    metrics: dict[str, float | int | None] | None = None
    metrics_fetched_at: datetime | None = None
    metrics_checked_at: datetime | None = None
    metrics_next_at: datetime | None = None
    metrics_run_id: str | None = None
    metrics_refused: str | None = None
    history: list[Transition] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


def post_id_for(content_id: str, account_id: str) -> str:
    """Deterministic id: a redelivered 'generate' can never create a second post for a target."""
    return f"{content_id}--{account_id}"


def content_id_of(post_id: str) -> str:
    """The content item a post id names (content ids never contain "--")."""
    return post_id.split("--", 1)[0]
