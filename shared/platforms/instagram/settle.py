"""Settling a post from what Meta says about its container, and from the account's recent media when
the container alone cannot tell (lookup.py): for the status poll and for reconcile. Never publishes."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.errors import PostgateError, TransientError
from shared.platforms.base import StatusContext, StatusResult, seconds_until_conclusive
from shared.platforms.instagram import lookup
from shared.platforms.instagram.client import ContainerStatus, InstagramClient
from shared.platforms.instagram.containers import ig_user_id, permalink
from shared.runtime.clock import utcnow

# How long a media_publish may still be taking effect after it was sent: past this, a container
# that still reads FINISHED was never published (the same margin LinkedIn's reconcile uses).
FINISHED_PROVES_UNPUBLISHED_AFTER = timedelta(minutes=15)


def settle_from_container(ctx: StatusContext, client: InstagramClient, status: ContainerStatus | None) -> StatusResult:
    if status is None:
        # Nothing ties this post to a media: a same-caption media could be anybody's.
        return _pending("no container id was saved; a person should check the account")
    code = status.status_code
    sent_at = ctx.post.create_sent_at
    now = ctx.now or utcnow()
    if code == "FINISHED" and sent_at is not None and now - sent_at > FINISHED_PROVES_UNPUBLISHED_AFTER:
        # A container is published at most once and then reads PUBLISHED; still FINISHED long after
        # the call means the call never took effect (e.g. a 500 before acting): publish it again.
        return StatusResult("absent", detail=f"container still FINISHED {now - sent_at} after media_publish was sent")
    if code in ("IN_PROGRESS", "FINISHED"):
        # Not published (yet). A media with the same caption would be somebody else's.
        return StatusResult("pending", detail=f"container {code}: not published",
                            conclusive_in_seconds=seconds_until_conclusive(sent_at, now, FINISHED_PROVES_UNPUBLISHED_AFTER)
                            if code == "FINISHED" else None)
    sighting = _sighting(ctx, client)
    if code == "PUBLISHED":
        if sighting.ambiguous:
            # Live for sure (the container says so), but several stories since the call could be it.
            return StatusResult("published", detail=f"container PUBLISHED; {len(sighting.matches)} stories since the "
                                                    "publish call, so its media id is not known")
        if sighting.matches:
            media = sighting.matches[0]  # the first one after our call; later look-alikes are not ours
            return StatusResult("published", platform_ids={"media_id": str(media["id"])},
                                share_url=media.get("permalink") or permalink(client, str(media["id"]), once),
                                detail=f"container {code}; media found in the account's recent media")
        if _last_look(ctx):
            # Known to be live: recorded as published without its id rather than failed.
            return StatusResult("published", detail="container PUBLISHED; its media was not found in recent media")
        return _pending(f"container {code}; its media is not listed yet")
    # EXPIRED or ERROR: the container never became a post.
    if not sighting.matches and sighting.complete:
        return StatusResult("absent", detail=f"container {code} and no media like it since the publish call")
    return _pending(f"container {code}, but {len(sighting.matches)} media with the same caption "
                         f"{'' if sighting.complete else 'or more unread '}since the publish call: a person should check")


def _sighting(ctx: StatusContext, client: InstagramClient) -> lookup.Sighting:
    if ctx.content is None:
        return lookup.Sighting(matches=[], complete=False)
    post = ctx.post
    sent_at = post.create_sent_at or post.approved_at or post.created_at
    expected = lookup.expected_media(ctx.content, post.target, sent_at)
    return lookup.find(client, ig_user_id(ctx.account), expected)


def _last_look(ctx: StatusContext) -> bool:
    """True when the poll will not look again before its deadline."""
    deadline = ctx.post.poll_deadline
    now = ctx.now or utcnow()
    margin = float(getattr(ctx.config, "poll_max_interval_seconds", 300.0))
    return deadline is not None and (deadline - now).total_seconds() <= margin


def _pending(detail: str) -> StatusResult:
    return StatusResult("pending", detail=detail)  # the poll's own backoff decides when to look again


def failed(exc: PostgateError, detail: str) -> StatusResult:
    return StatusResult("failed", fail_reason=str(exc), detail=detail,
                        fail_class="transient" if isinstance(exc, TransientError) else "platform")


def record_create_sent(ctx: StatusContext, at: datetime | None) -> None:
    """Written before media_publish goes out from the poll, so a lost answer is looked up, not re-sent."""
    if ctx.repo is not None:
        ctx.repo.update_fields(ctx.post.id, create_sent_at=at)


def once(fn):
    return fn()  # the status poll reschedules transient errors itself
