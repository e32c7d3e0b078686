"""Handing a post to Buffer: createPost, sent once per attempt (docs/platforms.md#publishing-through-buffer).

The publisher runs when the post is due, so the post goes to Buffer with mode `shareNow` (Buffer sends
it at once) rather than into Buffer's queue: what Postgate approved and planned is what goes out, when
it planned. Buffer fetches each asset from its URL when it sends the post
(developers.buffer.com/guides/hosting-media.html), so the URLs are V4 signed GET URLs of the approved
generations (a later upload under the same name is another object and is never served), living
POSTGATE_BUFFER_MEDIA_URL_TTL_SECONDS (7 days by default: far past Buffer's send and the status poll's
give-up).

Before the create, one read of the channel: it must exist, be connected in Buffer and still post to the
network the account says (its rules were the ones checked). Then mark_create_sent, createPost, and the
post id saved the moment Buffer names it. Every unknown outcome of createPost is AmbiguousError
(client.py) and is settled by lookup; a 429 is the only answer sent again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from shared.errors import AuthError, CapReached, PermanentError, TransientError
from shared.model.account import Account
from shared.platforms.base import PublishContext, PublishResult
from shared.platforms.buffer.client import BufferClient, BufferPost, LimitReached
from shared.platforms.buffer.networks import NetworkPost
from shared.platforms.buffer.validation import channel_id, planned_post
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_event
from shared.stores.protocols import MediaStore

log = logging.getLogger(__name__)

# A LimitReachedError that is not the channel's daily limit (a plan's limit on scheduled posts): Buffer
# does not say when it frees, so the post looks again after this.
PLAN_LIMIT_WAIT_SECONDS = 3600.0


def client_for(tokens, config: Config) -> BufferClient:
    return BufferClient(tokens, base_url=config.buffer_base_url, timeout=config.http_timeout_seconds)


def post_input(post: NetworkPost, channel: str, urls: list[str]) -> dict:
    """CreatePostInput: the text, one AssetInput per media (exactly one of image / video each), the network's
    metadata, mode shareNow (developers.buffer.com/types/CreatePostInput.md, AssetInput.md)."""
    assets: list[dict] = []
    for media, url in zip(post.media, urls):
        if media.kind == "image":
            image: dict = {"url": url}
            if post.alt_text:
                image["metadata"] = {"altText": post.alt_text}
            assets.append({"image": image})
        else:
            video: dict = {"url": url}
            if post.video_title:
                video["metadata"] = {"title": post.video_title}
            assets.append({"video": video})
    body: dict = {"channelId": channel, "schedulingType": "automatic", "mode": "shareNow", "assets": assets}
    if post.text:
        body["text"] = post.text
    if post.metadata:
        body["metadata"] = post.metadata
    return body


def media_urls(post: NetworkPost, media_store: MediaStore, config: Config) -> list[str]:
    return [media_store.signed_url(m, ttl_seconds=config.buffer_media_url_ttl_seconds,
                                   endpoint=config.signed_url_endpoint, key_file=config.url_signing_key_file)
            for m in post.media]


def check_channel(client: BufferClient, account: Account, retry) -> None:
    """The channel exists, is connected in Buffer, and posts to the network whose rules were checked."""
    wanted = channel_id(account)
    channel = retry(lambda: client.channel(wanted))
    if channel is None:
        raise PermanentError(f"Buffer has no channel {wanted} for this key (removed from Buffer?)",
                             platform_code="channel_not_found")
    if channel.is_disconnected:
        raise AuthError(f"Buffer channel {channel.name or wanted} is disconnected in Buffer: reconnect it in Buffer",
                        platform_code="channel_disconnected")
    if channel.service != account.get("buffer_service"):
        raise PermanentError(f"Buffer channel {wanted} posts to {channel.service}, but the account says "
                             f"{account.get('buffer_service')}: its posts were checked against the wrong rules",
                             platform_code="channel_service_changed")


def publish(ctx: PublishContext) -> PublishResult:
    planned = planned_post(ctx.content, ctx.post.target, ctx.account)
    client = client_for(ctx.tokens, ctx.config)
    check_channel(client, ctx.account, ctx.retry)
    body = post_input(planned, channel_id(ctx.account), media_urls(planned, ctx.media_store, ctx.config))
    ctx.mark_create_sent()
    try:
        # ctx.retry sends it again only on a 429 (Buffer did nothing); every unknown outcome is AmbiguousError.
        created = ctx.retry(lambda: client.create_post(body))
    except LimitReached as exc:
        raise CapReached(str(exc), retry_after=limit_wait(client, channel_id(ctx.account)),
                         platform_code=exc.platform_code) from None
    ids = {"post_id": created.id}
    ctx.save_platform_ids(ids)
    log_event(log, logging.INFO, "buffer post created", buffer_status=created.status, network=planned.network)
    if created.status == "sent":
        return PublishResult(platform_ids=ids, confirmed=True, share_url=created.external_link)
    if created.status == "error":
        raise PermanentError(failure_reason(created), platform_code="buffer_error")
    return PublishResult(platform_ids=ids)


def failure_reason(post: BufferPost) -> str:
    return f"Buffer could not send the post: {post.error or 'Buffer gave no reason'}"


def limit_wait(client: BufferClient, channel: str, now: datetime | None = None) -> float:
    """Until the next UTC day when the channel is at its daily posting limit, else PLAN_LIMIT_WAIT_SECONDS."""
    now = now or utcnow()
    try:
        limits = client.daily_posting_limits([channel])
    except (TransientError, PermanentError):
        return PLAN_LIMIT_WAIT_SECONDS
    if any(limit.channel_id == channel and limit.is_at_limit for limit in limits):
        tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return max((tomorrow - now).total_seconds(), 60.0)
    return PLAN_LIMIT_WAIT_SECONDS
