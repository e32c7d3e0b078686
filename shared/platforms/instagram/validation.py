"""What Instagram refuses, checked before anything is sent: the media type, the caption's length,
hashtags and @-mentions, the images and the reel or story video. Pure, except the story video's
duration, read from the MP4 header at publish time."""

from __future__ import annotations

import re

from shared.errors import ValidationError
from shared.model.account import Account
from shared.model.content import ContentItem, MediaRef, TargetSpec
from shared.platforms.tiktok.duration import mp4_duration_seconds  # an MP4 header reader, not TikTok-specific
from shared.stores.protocols import MediaStore

CAPTION_LIMIT = 2200       # characters (docs/platforms.md#instagram-limits)
HASHTAG_LIMIT = 5          # CHANGED 2025-12: 5 per post; the API docs still say 30
MENTION_LIMIT = 20
CAROUSEL_MIN, CAROUSEL_MAX = 2, 10
IMAGE_MAX_BYTES = 8 * 1024 * 1024
IMAGE_TYPES = ("image/jpeg",)
VIDEO_TYPES = ("video/mp4", "video/quicktime")
MEDIA_TYPES = ("IMAGE", "REELS", "CAROUSEL", "STORIES")
# Stories [developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media]:
# media_type=STORIES with image_url (JPEG, the image rules) or video_url (MP4/MOV, 3-60 s, at most
# 100 MB); no stickers; they expire after 24 h. Instagram shows no caption on a story, so none is
# sent: the review page says so, and the caption's limits do not apply to it.
STORY_VIDEO_MAX_BYTES = 100 * 1024 * 1024
STORY_VIDEO_SECONDS = (3.0, 60.0)
_HASHTAG_RE = re.compile(r"(?<![\w&])#(\w+)")
_MENTION_RE = re.compile(r"(?<![\w.])@([\w.]+)")


def hashtags_in(text: str) -> list[str]:
    """Distinct hashtags as posted (the caption's own and content.hashtags both end up in the text)."""
    return list(dict.fromkeys(tag.lower() for tag in _HASHTAG_RE.findall(text)))


def images_of(content: ContentItem) -> list[MediaRef]:
    return [m for m in content.media if m.kind == "image"]


def video_of(content: ContentItem) -> MediaRef | None:
    return next((m for m in content.media if m.kind == "video"), None)


def validate(content: ContentItem, target: TargetSpec, account: Account) -> None:
    validate_post(content, target)
    if not str(account.get("platform_account_id") or "").strip():
        raise ValidationError("the Instagram account has no IG user id", field="account.platform_account_id",
                              limit="the account's Instagram user id")


def validate_post(content: ContentItem, target: TargetSpec) -> None:
    """Instagram's rules for the post itself, whoever sends it (also a Buffer channel's, shared/platforms/buffer)."""
    kind = target.instagram_media_type
    if kind not in MEDIA_TYPES:
        raise ValidationError("Instagram needs targets.instagram_media_type", field="targets.instagram_media_type",
                              limit="one of IMAGE, REELS, CAROUSEL, STORIES")
    if kind == "STORIES":
        _validate_story(content, target)
    else:
        _validate_caption(content.text())
        _validate_post_media(content, target, kind)


def _validate_caption(text: str) -> None:
    if len(text) > CAPTION_LIMIT:
        raise ValidationError(f"caption is {len(text)} characters, too long for Instagram", field="caption",
                              limit=f"{CAPTION_LIMIT} characters (caption + hashtags)")
    tags = hashtags_in(text)
    if len(tags) > HASHTAG_LIMIT:
        raise ValidationError(f"{len(tags)} hashtags; Instagram allows {HASHTAG_LIMIT} per post", field="hashtags",
                              limit=f"{HASHTAG_LIMIT} hashtags (caption and hashtags together)")
    mentions = _MENTION_RE.findall(text)
    if len(mentions) > MENTION_LIMIT:
        raise ValidationError(f"{len(mentions)} @-mentions; Instagram allows {MENTION_LIMIT}", field="caption",
                              limit=f"{MENTION_LIMIT} @-mentions")


def _validate_post_media(content: ContentItem, target: TargetSpec, kind: str) -> None:
    if target.alt_text and kind != "IMAGE":
        raise ValidationError("Instagram takes alt text on image posts only", field="targets.alt_text",
                              limit="instagram_media_type IMAGE")
    images = images_of(content)
    if kind == "IMAGE" and len(images) != 1:
        raise ValidationError(f"an Instagram IMAGE post needs exactly one image, got {len(images)}", field="images",
                              limit="exactly 1 JPEG image")
    if kind == "CAROUSEL" and not CAROUSEL_MIN <= len(images) <= CAROUSEL_MAX:
        raise ValidationError(f"an Instagram carousel needs {CAROUSEL_MIN}-{CAROUSEL_MAX} images, got {len(images)}",
                              field="images", limit=f"{CAROUSEL_MIN}-{CAROUSEL_MAX} items")
    if kind in ("IMAGE", "CAROUSEL"):
        for image in images:
            _validate_image(image)
    if kind == "REELS":
        video = video_of(content)
        if video is None:
            raise ValidationError("an Instagram reel needs the video", field="video", limit="a gs:// MP4 or MOV video")
        if video.content_type not in VIDEO_TYPES:
            raise ValidationError(f"Instagram reels take MP4 or MOV, not {video.content_type}", field="video",
                                  limit=", ".join(VIDEO_TYPES))


def _validate_image(image: MediaRef) -> None:
    if image.content_type not in IMAGE_TYPES:
        raise ValidationError(f"Instagram takes JPEG images only, not {image.content_type} ({image.uri})",
                              field="images", limit="image/jpeg")
    if image.size > IMAGE_MAX_BYTES:
        raise ValidationError(f"{image.uri} is {image.size} bytes, too large for Instagram", field="images",
                              limit="8 MiB per image")


def story_media(content: ContentItem) -> MediaRef | None:
    """What a story carries: the video when the content has one, else its only image."""
    video = video_of(content)
    if video is not None:
        return video
    images = images_of(content)
    return images[0] if len(images) == 1 else None


def _validate_story(content: ContentItem, target: TargetSpec) -> None:
    if target.alt_text:
        raise ValidationError("Instagram takes alt text on image posts only", field="targets.alt_text",
                              limit="instagram_media_type IMAGE")
    media = story_media(content)
    if media is None:
        raise ValidationError(f"an Instagram story carries the video or exactly one image, got "
                              f"{len(images_of(content))} images and no video", field="images",
                              limit="1 JPEG image or 1 MP4/MOV video")
    if media.kind == "image":
        _validate_image(media)
        return
    if media.content_type not in VIDEO_TYPES:
        raise ValidationError(f"Instagram stories take MP4 or MOV, not {media.content_type}", field="video",
                              limit=", ".join(VIDEO_TYPES))
    if media.size > STORY_VIDEO_MAX_BYTES:
        raise ValidationError(f"the video is {media.size} bytes, too large for an Instagram story", field="video",
                              limit="100 MB per story video")


def check_story_duration(video: MediaRef, media_store: MediaStore) -> None:
    """Meta takes story videos of 3 to 60 seconds. The duration is known only at publish time (it is
    read from the approved generation's MP4 header); unreadable: Meta's own check decides."""
    seconds = mp4_duration_seconds(lambda first, last: media_store.read_range(video, first, last), video.size)
    low, high = STORY_VIDEO_SECONDS
    if seconds is not None and not low <= seconds <= high:
        raise ValidationError(f"the video is {seconds:.1f} s long; an Instagram story video runs {low:.0f}-{high:.0f} s",
                              field="video", limit=f"{low:.0f}-{high:.0f} seconds")
