"""Following a post Buffer holds until it is sent or errored, and settling a createPost whose answer was
lost (docs/platforms.md#publishing-through-buffer).

Buffer's post moves scheduled -> sending -> sent, or to error with Buffer's reason
(developers.buffer.com/guides/posts-and-scheduling.html): sent is published (the share URL is the
post's `externalLink` on the network, when Buffer gives one), error fails the post with Buffer's words.

reconcile: with the post id saved, that post says. Without it, the channel's posts since the create was
sent (less CLOCK_SKEW) are read and matched on text and assets (lookup.py); found, the post id is kept
and the post followed like any other. Absent only when every post since then was read, none matched,
and ABSENT_AFTER has passed since the create was sent; never created again from here.
"""

from __future__ import annotations

from datetime import timedelta

from shared.errors import ValidationError
from shared.platforms.base import StatusContext, StatusResult, seconds_until_conclusive
from shared.platforms.buffer.client import BufferClient, BufferPost
from shared.platforms.buffer.lookup import find_sent_post
from shared.platforms.buffer.publish import client_for, failure_reason
from shared.platforms.buffer.validation import channel_id, planned_post
from shared.runtime.clock import utcnow

# Our clock and Buffer's disagree a little: the channel's posts are read from this much before the create.
CLOCK_SKEW = timedelta(minutes=2)
# "Not among the channel's posts" proves nothing until Buffer has had this long to list a post created
# then. Buffer documents no listing delay; the margin is ours, and generous, because a wrong "absent"
# posts twice.
ABSENT_AFTER = timedelta(minutes=15)
# Buffer's words for a post it holds but will not send until someone acts in Buffer.
HELD_IN_BUFFER = {"draft", "needs_approval"}


def settle(found: BufferPost | None, post_id: str) -> StatusResult:
    """What Buffer's post says about ours."""
    if found is None:
        return StatusResult("failed", fail_reason=f"Buffer has no post {post_id} (deleted in Buffer?)",
                            fail_class="platform", detail="not_found")
    ids = {"post_id": found.id}
    if found.status == "sent":
        return StatusResult("published", platform_ids=ids, share_url=found.external_link, detail="sent")
    if found.status == "error":
        return StatusResult("failed", platform_ids=ids, fail_reason=failure_reason(found), fail_class="platform",
                            detail="error")
    detail = found.status or "unknown"
    if found.status in HELD_IN_BUFFER:
        detail += " (held in Buffer until someone acts on it there)"
    return StatusResult("pending", platform_ids=ids, detail=detail)


def check_status(ctx: StatusContext) -> StatusResult:
    post_id = ctx.post.platform_ids.get("post_id")
    if not post_id:
        return StatusResult("failed", fail_reason="no Buffer post id was recorded", fail_class="platform")
    return settle(client_for(ctx.tokens, ctx.config).post(post_id), post_id)


def reconcile(ctx: StatusContext) -> StatusResult:
    post, ids = ctx.post, ctx.post.platform_ids
    client = client_for(ctx.tokens, ctx.config)
    if ids.get("post_id"):
        return settle(client.post(ids["post_id"]), ids["post_id"])
    if ctx.content is None:
        return StatusResult("pending", detail="no content to match the channel's posts against")
    try:
        planned = planned_post(ctx.content, post.target, ctx.account)
        text, kinds = planned.text, [m.kind for m in planned.media]
    except ValidationError:  # the rules changed since it was sent: match on what the content holds
        text, kinds = ctx.content.text(), [m.kind for m in ctx.content.media]
    channel = channel_id(ctx.account)
    sent_at = post.create_sent_at
    start = sent_at or post.approved_at or post.created_at
    search = find_sent_post(client, organization_of(client, ctx), channel, text, kinds, start - CLOCK_SKEW)
    if search.post is not None:
        found = settle(search.post, search.post.id)
        return StatusResult(found.state, platform_ids=found.platform_ids, share_url=found.share_url,
                            fail_reason=found.fail_reason, fail_class=found.fail_class,
                            detail=f"found among the channel's posts: {found.detail}")
    now = ctx.now or utcnow()
    if not search.complete or sent_at is None or now - sent_at < ABSENT_AFTER:
        return StatusResult("pending", detail="not among the channel's posts yet",
                            conclusive_in_seconds=seconds_until_conclusive(sent_at, now, ABSENT_AFTER))
    return StatusResult("absent", detail=f"not among the channel's posts {ABSENT_AFTER} after the create was sent")


def organization_of(client: BufferClient, ctx: StatusContext) -> str:
    """The channel's organization (the posts query asks for it): the account's, else the channel's."""
    known = str(ctx.account.get("buffer_organization_id") or "")
    if known:
        return known
    channel = client.channel(channel_id(ctx.account))
    if channel is None:
        raise ValidationError("Buffer has no channel for this account", field="account.platform_account_id",
                              limit="a channel of the Buffer configuration's organizations")
    return channel.organization_id
