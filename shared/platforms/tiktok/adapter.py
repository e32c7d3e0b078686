"""TikTok Direct Post as a platform adapter (see shared/platforms/base.py): creator_info, init,
chunked upload inside a claimed attempt; status fetch for the poll; token refresh."""

from __future__ import annotations


from shared.content.model import ContentItem, TargetSpec
from shared.errors import ValidationError
from shared.platforms.base import Limit, PublishContext, PublishResult, ReviewCard, StatusContext, StatusResult, on_off
from shared.platforms.tiktok.chunking import plan_chunks
from shared.platforms.tiktok.client import TRANSIENT_FAIL_REASONS, TikTokClient, refresh_user_tokens, upload_all
from shared.posts.model import Post
from shared.runtime.clock import utcnow

CAPTION_LIMIT = 2200  # UTF-16 code units (platforms.md 1.2)
VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm")
# About 15 Direct Posts per creator per 24 h across all clients (platforms.md 1.6); we stay under it.
DEFAULT_LIMITS = [Limit("posts_per_day", 15, 86400)]


def validate(content: ContentItem, target: TargetSpec, account: dict) -> None:
    if target.privacy_level is None:
        raise ValidationError("TikTok needs an explicit privacy_level (no default is allowed)",
                              field="targets.privacy_level", limit="one of the creator's privacy_level_options")
    if len(content.text().encode("utf-16-le")) // 2 > CAPTION_LIMIT:
        raise ValidationError("caption too long for TikTok", field="caption", limit=f"{CAPTION_LIMIT} UTF-16 code units")
    if target.brand_content_toggle and target.privacy_level == "SELF_ONLY":
        raise ValidationError("branded content cannot be SELF_ONLY on TikTok", field="targets.privacy_level",
                              limit="not SELF_ONLY with brand_content_toggle")
    video = next((m for m in content.media if m.kind == "video"), None)
    if video is None:
        raise ValidationError("TikTok posts need a video", field="video", limit="a gs:// video object")
    if video.content_type not in VIDEO_TYPES:
        raise ValidationError(f"TikTok does not take {video.content_type}", field="video", limit=", ".join(VIDEO_TYPES))


def client_for(tokens, config) -> TikTokClient:
    return TikTokClient(tokens, base_url=config.tiktok_base_url, timeout=config.http_timeout_seconds,
                        rate_limit_wait=config.tiktok_rate_limit_wait_seconds)


def refresh_tokens(tokens: dict, *, config, http=None) -> dict:
    return refresh_user_tokens(config.tiktok_base_url.rstrip("/") + "/v2/oauth/token/", tokens,
                               timeout=config.http_timeout_seconds, http=http)


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
        "is_aigc": is_aigc(content),
    }


def is_aigc(content: ContentItem) -> bool:
    """TikTok's AI-generated content label: set when a generated image is part of the post."""
    return content.generator != "offline-template-v1" and any(m.kind == "image" for m in content.media)


# TikTok's own words for the privacy options (its UX guidelines ask apps to show them this way).
_AUDIENCE = {"PUBLIC_TO_EVERYONE": "Everyone", "MUTUAL_FOLLOW_FRIENDS": "Friends", "FOLLOWER_OF_CREATOR": "Followers",
             "SELF_ONLY": "Only me"}


def preview(content: ContentItem, target: TargetSpec, account: dict) -> ReviewCard:
    # The creator's own disabled toggles can only turn these off further at publish time.
    fields = [("Who can watch", _AUDIENCE.get(str(target.privacy_level), str(target.privacy_level))), ("Comments", on_off(not target.disable_comment)),
              ("Duet", on_off(not target.disable_duet)), ("Stitch", on_off(not target.disable_stitch)),
              ("AI-generated label", "yes" if is_aigc(content) else "no")]
    if target.brand_content_toggle or target.brand_organic_toggle:
        fields.append(("Promotion", "branded content" if target.brand_content_toggle else "your own brand"))
    video = [m for m in content.media if m.kind == "video"][:1]
    return ReviewCard(text=content.text(), fields=fields, media=video, text_label="Caption")


def publish(ctx: PublishContext) -> PublishResult:
    """creator_info -> init -> chunked upload. The publish id is saved the moment init answers,
    before the (slow) upload; TikTok confirms asynchronously, so the poll takes it from here."""
    content, config, retry = ctx.content, ctx.config, ctx.retry
    video = next((m for m in content.media if m.kind == "video"), None)
    if video is None:
        raise ValidationError("TikTok posts need a video", field="video", limit="a gs:// video object")
    client = client_for(ctx.tokens, config)
    creator = retry(client.creator_info)
    post_info = build_post_info(content, ctx.post, creator)
    plan = plan_chunks(video.size, config.tiktok_chunk_bytes)
    ctx.mark_create_sent()
    init = retry(lambda: client.init_video(post_info, plan))
    ctx.save_platform_ids({"publish_id": init.publish_id})
    chunks = ctx.media_store.iter_ranges(video, plan.ranges())
    upload_all(client, init.upload_url, plan, chunks, video.content_type, retry)
    return PublishResult(platform_ids={"publish_id": init.publish_id})


def check_status(ctx: StatusContext) -> StatusResult:
    client = client_for(ctx.tokens, ctx.config)
    post = ctx.post
    status = client.fetch_status(post.platform_ids["publish_id"])
    if status.status == "PUBLISH_COMPLETE":
        public = status.public_post_ids
        # Public posts get their id only after moderation; wait for it until the deadline.
        needs_public_id = post.target.privacy_level == "PUBLIC_TO_EVERYONE"
        if public or not needs_public_id or (post.poll_deadline and (ctx.now or utcnow()) >= post.poll_deadline):
            ids: dict[str, str] = {}
            share_url = None
            if public:
                ids["video_id"] = public[0]
                videos = client.query_videos([public[0]], ["id", "share_url"])
                share_url = next((v.get("share_url") for v in videos if str(v.get("id")) == public[0]), None)
            return StatusResult("published", platform_ids=ids, share_url=share_url, detail=status.status)
    elif status.status == "FAILED":
        reason = status.fail_reason or "unknown"
        return StatusResult("failed", fail_reason=reason, detail=status.status,
                            fail_class="transient" if reason in TRANSIENT_FAIL_REASONS else "platform")
    return StatusResult("pending", detail=status.status)


