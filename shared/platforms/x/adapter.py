"""X as a platform adapter (see shared/platforms/base.py): media upload (chunked, with processing
waits for video and GIF), then POST /2/tweets, which is synchronous, so the post is confirmed on
create; status lookup for completeness; token refresh with rotation."""

from __future__ import annotations

import math
import time

from shared.content.model import MediaRef
from shared.errors import PermanentError, TransientError
from shared.platforms.base import Limit, PublishContext, PublishResult, ReviewCard, StatusContext, StatusResult
from shared.platforms.x.client import XClient, refresh_user_tokens
from shared.platforms.x.validation import (MAX_WEIGHTED_LENGTH, media_plan, post_text, validate,  # noqa: F401
                                           weighted_length)

MAX_SEGMENTS = 1000  # segment_index 0..999
_CATEGORY = {"images": "tweet_image", "gif": "tweet_gif", "video": "tweet_video"}
# POST /2/tweets: 100 per 15 minutes per user (platforms.md 3.1); X reports the live numbers in headers.
DEFAULT_LIMITS = [Limit("posts_per_15_minutes", 100, 900)]


def client_for(tokens, config) -> XClient:
    return XClient(tokens, base_url=config.x_base_url, timeout=config.http_timeout_seconds)


def refresh_tokens(tokens: dict, *, config, http=None) -> dict:
    return refresh_user_tokens(config.x_base_url.rstrip("/") + "/2/oauth2/token", tokens,
                               timeout=config.http_timeout_seconds, http=http)


def share_url(account: dict, tweet_id: str) -> str:
    handle = str(account.get("handle") or "i").lstrip("@")
    return f"https://x.com/{handle}/status/{tweet_id}"


def publish(ctx: PublishContext) -> PublishResult:
    kind, media = media_plan(ctx.content, ctx.post.target)
    text = post_text(ctx.content)
    client = client_for(ctx.tokens, ctx.config)
    media_ids = [_upload(client, ctx, m, _CATEGORY[kind]) for m in media]
    ctx.mark_create_sent()
    data = ctx.retry(lambda: client.create_post(text, media_ids))
    ids = {"tweet_id": str(data["id"]), "media_ids": ",".join(media_ids)}
    ctx.save_platform_ids(ids)
    return PublishResult(platform_ids=ids, confirmed=True, share_url=share_url(ctx.account, ids["tweet_id"]))


def preview(content, target, account: dict) -> ReviewCard:
    text = post_text(content)
    kind, media = media_plan(content, target)
    fields = [("Length", f"{weighted_length(text)} of {MAX_WEIGHTED_LENGTH} (X's weighted count)"),
              ("Media", {"text": "none (text only)", "images": f"{len(media)} image(s)", "gif": "1 GIF",
                         "video": "1 video"}[kind])]
    return ReviewCard(text=text, fields=fields, media=media)


def _upload(client: XClient, ctx: PublishContext, media: MediaRef, category: str) -> str:
    """initialize -> append each segment -> finalize -> STATUS until processing ends. Media ids are
    not posts: an attempt abandoned here leaves nothing public, and the next one uploads again."""
    retry, config = ctx.retry, ctx.config
    media_id = retry(lambda: client.initialize_upload(media.size, media.content_type, category))
    chunk = max(config.x_chunk_bytes, math.ceil(media.size / MAX_SEGMENTS))
    for index, first in enumerate(range(0, media.size, chunk)):
        data = ctx.media_store.read_range(media, first, min(first + chunk, media.size) - 1)
        retry(lambda: client.append(media_id, index, data))  # a 5xx re-sends the same segment
    processing = retry(lambda: client.finalize(media_id))
    # Wait as X asks (check_after_secs), but never past half the publish lease we hold.
    deadline = time.monotonic() + config.publish_lease_seconds / 2
    while processing is not None and processing.state in ("pending", "in_progress"):
        wait = processing.check_after_secs
        if time.monotonic() + wait > deadline:
            raise TransientError(f"x media {media_id} still {processing.state} after "
                                 f"{config.publish_lease_seconds / 2:.0f}s; uploading again later")
        time.sleep(wait)
        processing = retry(lambda: client.upload_status(media_id))
    if processing is not None and processing.state == "failed":
        raise PermanentError(f"x media processing failed for {media.uri}: {processing.error or 'no reason given'}",
                             platform_code=processing.error_code or "media_processing_failed")
    return media_id


def check_status(ctx: StatusContext) -> StatusResult:
    """Posts are confirmed on create; this answers for a post that somehow sits in processing."""
    tweet_id = ctx.post.platform_ids.get("tweet_id")
    if not tweet_id:
        return StatusResult("failed", fail_reason="no tweet id was recorded", fail_class="platform")
    post = client_for(ctx.tokens, ctx.config).get_post(tweet_id)
    if post is None:
        return StatusResult("failed", fail_reason=f"x post {tweet_id} not found", fail_class="platform",
                            detail="not_found")
    return StatusResult("published", share_url=share_url(ctx.account, tweet_id), detail="found")
