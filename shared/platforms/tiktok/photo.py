"""TikTok photo posts: POST /v2/post/publish/content/init/ with media_type PHOTO, post_mode DIRECT_POST
[developers.tiktok.com/doc/content-posting-api-reference-photo-post]. The adapter hands a target here
when post_type() says PHOTO; approval, claim, poll and metrics are the video post's.

Photos have one source, PULL_FROM_URL: init names the images by URL (V4 signed Cloud Storage URLs of
the approved generations, as Instagram gets them) and TikTok fetches them itself, after answering.
The URLs must lie under a URL prefix or domain verified for the app in TikTok's developer portal
(else 403 url_ownership_unverified): for us, the media bucket's prefix.

What can post twice: init itself. Unlike a FILE_UPLOAD video, whose lost init answer carried the only
upload_url (so nothing can reach that publish), a photo init holds everything TikTok needs. So any
init outcome other than TikTok's answer or a 429 refusal (no answer, a 5xx) is AmbiguousError and is
never sent again; the publish_id is saved the moment TikTok names it.
"""

from __future__ import annotations

import logging

from shared.errors import AmbiguousError, PermanentError, TransientError, ValidationError
from shared.model.account import Account
from shared.model.content import ContentItem, MediaRef, TargetSpec
from shared.platforms.base import PublishContext, PublishResult, ReviewCard, StatusContext, StatusResult, on_off
from shared.platforms.tiktok import account_state, image_size, status
from shared.platforms.tiktok.client import CreatorInfo, RateLimited, TikTokClient
from shared.runtime.config_model import Config
from shared.runtime.logging import log_event
from shared.stores.protocols import MediaStore

log = logging.getLogger(__name__)

INIT_PATH = "/v2/post/publish/content/init/"
# Photo post rules [developers.tiktok.com/doc/content-posting-api-reference-photo-post]: title at most
# 90 and description at most 4000 UTF-16 code units; up to 35 images; the cover is an index into them.
TITLE_LIMIT, DESCRIPTION_LIMIT, MAX_PHOTOS = 90, 4000, 35
# Image restrictions [developers.tiktok.com/doc/content-posting-api-media-transfer-guide]: WebP or JPEG,
# at most 1080p (read as fitting 1920x1080 either way up), at most 20 MB each.
PHOTO_TYPES = ("image/jpeg", "image/webp")
MAX_PHOTO_BYTES = 20 * 1024 * 1024
MAX_LONG_SIDE, MAX_SHORT_SIDE = 1920, 1080
COVER_INDEX = 0  # the first image, in the brief's order
# The photo post's post_info defines no is_aigc (the video post's does): nothing to send.
NO_AIGC = "TikTok photo posts have no is_aigc field"


def post_type(content: ContentItem | None, target: TargetSpec) -> str:
    """The target's choice, else VIDEO when the content has a video and PHOTO when it has only images."""
    if target.tiktok_post_type:
        return target.tiktok_post_type
    media = content.media if content is not None else []
    if not any(m.kind == "video" for m in media) and any(m.kind == "image" for m in media):
        return "PHOTO"
    return "VIDEO"


def photos(content: ContentItem) -> list[MediaRef]:
    return [m for m in content.media if m.kind == "image"]


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def validate(content: ContentItem, target: TargetSpec, account: Account | None = None) -> None:
    if target.privacy_level is None:
        raise ValidationError("TikTok needs an explicit privacy_level (no default is allowed)",
                              field="targets.privacy_level", limit="one of the creator's privacy_level_options")
    account_state.check_privacy(target.privacy_level, account)
    if target.brand_content_toggle and target.privacy_level == "SELF_ONLY":
        raise ValidationError("branded content cannot be SELF_ONLY on TikTok", field="targets.privacy_level",
                              limit="not SELF_ONLY with brand_content_toggle")
    validate_post(content, target)


def validate_post(content: ContentItem, target: TargetSpec) -> None:
    """The photo post's rules for its text and images, however its audience is chosen."""
    if _utf16(content.text()) > DESCRIPTION_LIMIT:
        raise ValidationError("caption too long for a TikTok photo post", field="caption",
                              limit=f"{DESCRIPTION_LIMIT} UTF-16 code units (the photo post's description)")
    if target.title and _utf16(target.title) > TITLE_LIMIT:
        raise ValidationError("title too long for a TikTok photo post", field="targets.title",
                              limit=f"{TITLE_LIMIT} UTF-16 code units")
    images = photos(content)
    if not 1 <= len(images) <= MAX_PHOTOS:
        raise ValidationError(f"a TikTok photo post needs 1-{MAX_PHOTOS} images, got {len(images)}", field="images",
                              limit=f"1-{MAX_PHOTOS} JPEG or WebP images")
    for image in images:
        if image.content_type not in PHOTO_TYPES:
            raise ValidationError(f"TikTok photo posts take JPEG or WebP, not {image.content_type} ({image.uri})",
                                  field="images", limit=", ".join(PHOTO_TYPES))
        if image.size > MAX_PHOTO_BYTES:
            raise ValidationError(f"{image.uri} is {image.size} bytes, too large for TikTok", field="images",
                                  limit="20 MB per image")


def preview(content: ContentItem, target: TargetSpec, *, audience: str, aigc: bool) -> ReviewCard:
    images = photos(content)
    fields = [("Post type", f"photo post of {len(images)} image{'s' if len(images) != 1 else ''}, in this order "
                            "(the first is the cover)"),
              ("Title", target.title or "none"),
              ("Who can see it", audience), ("Comments", on_off(not target.disable_comment)),
              ("Music added by TikTok", "no"),
              # TikTok's photo post has no is_aigc field, unlike its video post.
              ("AI-generated label", "not available for TikTok photo posts" if aigc else "no")]
    if target.brand_content_toggle or target.brand_organic_toggle:
        fields.append(("Promotion", "branded content" if target.brand_content_toggle else "your own brand"))
    return ReviewCard(text=content.text(), fields=fields, media=images, text_label="Description",
                      ai_field_unavailable=NO_AIGC)


def build_post_info(content: ContentItem, target: TargetSpec, creator: CreatorInfo) -> dict:
    """post_info as the photo post defines it (no duet, stitch or is_aigc there), from the person's
    choices checked against a fresh creator_info."""
    if target.privacy_level not in creator.privacy_level_options:
        raise ValidationError(
            f"privacy level {target.privacy_level!r} is not offered by @{creator.username} right now "
            f"(offered: {', '.join(creator.privacy_level_options) or 'none'})",
            field="targets.privacy_level", limit="one of creator_info.privacy_level_options",
        )
    info = {"description": content.text(), "privacy_level": target.privacy_level,
            # A toggle the creator has disabled must be sent as disabled (TikTok UX guidelines).
            "disable_comment": target.disable_comment or creator.comment_disabled,
            "auto_add_music": False,
            "brand_content_toggle": target.brand_content_toggle,
            "brand_organic_toggle": target.brand_organic_toggle}
    if target.title:
        info["title"] = target.title
    return info


class PhotoClient(TikTokClient):
    def init_photo(self, post_info: dict, photo_urls: list[str], cover_index: int) -> str:
        """The publish_id. Raises AmbiguousError when TikTok may hold the request without our having
        its answer (see the module docstring); a 429 was refused before acting and is retried."""
        body = {"media_type": "PHOTO", "post_mode": "DIRECT_POST", "post_info": post_info,
                "source_info": {"source": "PULL_FROM_URL", "photo_images": photo_urls,
                                "photo_cover_index": cover_index}}
        try:
            data = self._post(INIT_PATH, body, endpoint="photo_init")
        except RateLimited:
            raise
        except TransientError as exc:
            raise AmbiguousError(f"{exc}; TikTok may have the photo post and pull its images") from None
        except PermanentError as exc:
            if exc.platform_code == "url_ownership_unverified":
                raise PermanentError(f"{exc}; verify the media bucket's URL prefix for the app in TikTok's developer "
                                     "portal", platform_code=exc.platform_code) from None
            raise
        if not data.get("publish_id"):
            raise AmbiguousError("tiktok photo_init answered ok without a publish_id")
        return str(data["publish_id"])


def publish(ctx: PublishContext, client: PhotoClient) -> PublishResult:
    """creator_info -> image sizes -> signed URLs -> init, sent once. TikTok pulls the images and
    posts asynchronously: the poll takes it from the saved publish_id (PROCESSING_DOWNLOAD ->
    PUBLISH_COMPLETE, or FAILED with TikTok's fail_reason)."""
    content, target, config = ctx.content, ctx.post.target, ctx.config
    validate(content, target)  # the account's record is not applied here: a fresh creator_info follows
    creator = ctx.retry(client.creator_info)
    if ctx.repo is not None:
        account_state.remember_creator(ctx.repo, ctx.post.account_id, ctx.account, creator)
    post_info = build_post_info(content, target, creator)
    images = photos(content)
    check_dimensions(images, ctx.media_store)
    urls = [ctx.media_store.signed_url(image, ttl_seconds=config.signed_url_ttl_seconds,
                                       endpoint=config.signed_url_endpoint, key_file=config.url_signing_key_file)
            for image in images]
    ctx.mark_create_sent()
    try:
        publish_id = ctx.retry(lambda: client.init_photo(post_info, urls, COVER_INDEX))
    except PermanentError as exc:
        if exc.platform_code == account_state.UNAUDITED_CODE:
            account_state.refused_unaudited(ctx, exc)
        raise
    ctx.save_platform_ids({"publish_id": publish_id})
    return PublishResult(platform_ids={"publish_id": publish_id})


def check_dimensions(images: list[MediaRef], media_store: MediaStore) -> None:
    """Refuse a picture over 1080p before init: TikTok would only fail the post after pulling it.
    A header we cannot read is left for TikTok to judge."""
    for image in images:
        head = media_store.read_range(image, 0, min(image.size, image_size.HEADER_BYTES) - 1) if image.size else b""
        size = image_size.dimensions(head)
        if size is None:
            log_event(log, logging.INFO, "image size unreadable; TikTok checks it", image=image.uri)
            continue
        width, height = size
        if max(width, height) > MAX_LONG_SIDE or min(width, height) > MAX_SHORT_SIDE:
            raise ValidationError(f"{image.uri} is {width}x{height}; TikTok photo posts take at most 1080p",
                                  field="images", limit=f"{MAX_SHORT_SIDE}x{MAX_LONG_SIDE} either way up")


def reconcile(ctx: StatusContext, client: TikTokClient) -> StatusResult:
    """A photo init whose answer never arrived (no answer, or a 5xx).

    What TikTok lets us look up: the status fetch, by publish_id only; the video list and query, of
    a creator's public videos only (the photo post reference names no way to find a photo post, and
    a SELF_ONLY post is listed nowhere). So with a publish_id (saved the moment init answered) the
    status says published / pending / absent as for a video. Without one nothing can prove the post
    absent, since TikTok may be pulling the images, and creating it again could post twice: it stays
    pending, and at the poll's deadline fails as unconfirmed for a person to check the profile."""
    if ctx.post.platform_ids.get("publish_id"):
        return status.settle(ctx, client, unconfirmed=True)
    return StatusResult("pending", detail="photo init's answer was lost; TikTok offers no lookup without its "
                                          "publish_id, so a person should check the creator's profile")


def client_for(tokens, config: Config) -> PhotoClient:
    return PhotoClient(tokens, base_url=config.tiktok_base_url, timeout=config.http_timeout_seconds,
                       rate_limit_wait=config.tiktok_rate_limit_wait_seconds)
