"""TikTok Direct Post steps inside a claimed attempt: creator_info, init, chunked upload."""

from __future__ import annotations

from datetime import timedelta

from shared.content.model import ContentItem
from shared.errors import ValidationError
from shared.platforms.tiktok.chunking import plan_chunks
from shared.platforms.tiktok.client import TikTokClient, upload_all
from shared.posts.model import Post
from shared.runtime.clock import utcnow


def build_post_info(content: ContentItem, post: Post, creator) -> dict:
    """post_info from the person's choices, checked against a fresh creator_info (never a default)."""
    target = post.target
    if target.privacy_level not in creator.privacy_level_options:
        raise ValidationError(
            f"privacy level {target.privacy_level!r} is not offered by @{creator.username} right now "
            f"(offered: {', '.join(creator.privacy_level_options) or 'none'})",
            field="targets.privacy_level", limit="one of creator_info.privacy_level_options",
        )
    return {
        "title": content.text(),
        "privacy_level": target.privacy_level,
        # A toggle the creator has disabled must be sent as disabled (TikTok UX guidelines).
        "disable_comment": target.disable_comment or creator.comment_disabled,
        "disable_duet": target.disable_duet or creator.duet_disabled,
        "disable_stitch": target.disable_stitch or creator.stitch_disabled,
        "brand_content_toggle": target.brand_content_toggle,
        "brand_organic_toggle": target.brand_organic_toggle,
        "is_aigc": content.generator != "offline-template-v1" and any(m.kind == "image" for m in content.media),
    }


def publish_to_tiktok(*, post: Post, content: ContentItem, client: TikTokClient, media_store, config, retry,
                      mark_create_sent, save_platform_ids) -> dict:
    """Run the flow; returns the post fields for `processing`. Platform ids are saved the moment
    init answers, before the (slow) upload, through `save_platform_ids`."""
    video = next((m for m in content.media if m.kind == "video"), None)
    if video is None:
        raise ValidationError("TikTok posts need a video", field="video", limit="a gs:// video object")
    creator = retry(client.creator_info)
    post_info = build_post_info(content, post, creator)
    plan = plan_chunks(video.size, config.tiktok_chunk_bytes)
    mark_create_sent()
    init = retry(lambda: client.init_video(post_info, plan))
    save_platform_ids({"publish_id": init.publish_id})
    chunks = media_store.iter_ranges(video, plan.ranges())
    upload_all(client, init.upload_url, plan, chunks, video.content_type, retry)
    now = utcnow()
    return {
        "platform_ids": {"publish_id": init.publish_id},
        "next_check_at": now + timedelta(seconds=config.poll_first_check_seconds),
        "poll_deadline": now + timedelta(seconds=config.poll_give_up_seconds),
        "check_count": 0,
    }
