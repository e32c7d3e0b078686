"""What X would refuse, checked before anyone approves (docs/platforms.md#x-endpoints: media limits, counting).

Weighted length uses twitter-text config v3 (X's own counting library, Python port on PyPI as
twitter-text-parser): NFC first, 280 weighted, every URL 23, CJK / kana / hangul / emoji 2.
"""

from __future__ import annotations

import unicodedata

from twitter_text import parse_tweet

from shared.errors import ValidationError
from shared.model.account import Account
from shared.model.content import ContentItem, MediaRef, TargetSpec

MAX_WEIGHTED_LENGTH = 280
MAX_IMAGES = 4
MiB = 1024 * 1024
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
GIF_TYPE = "image/gif"
VIDEO_TYPES = ("video/mp4", "video/quicktime")
IMAGE_MAX_BYTES, GIF_MAX_BYTES, VIDEO_MAX_BYTES = 5 * MiB, 15 * MiB, 512 * MiB
MEDIA_RULE = "up to 4 photos, or 1 GIF, or 1 video per post"


def post_text(content: ContentItem) -> str:
    """The text exactly as it is counted and sent: caption + hashtags, NFC-normalised."""
    return unicodedata.normalize("NFC", content.text())


def weighted_length(text: str) -> int:
    return parse_tweet(unicodedata.normalize("NFC", text)).weightedLength


def media_plan(content: ContentItem, target: TargetSpec) -> tuple[str, list[MediaRef]]:
    """(kind, media to upload) with kind text | images | gif | video. X takes one video or up to
    four images, never both: when the content has a video, the video is what X gets."""
    if target.text_only or not content.media:
        return "text", []
    video = next((m for m in content.media if m.kind == "video"), None)
    if video is not None:
        if video.content_type not in VIDEO_TYPES:
            raise ValidationError(f"X does not take {video.content_type} video", field="video", limit=", ".join(VIDEO_TYPES))
        if video.size > VIDEO_MAX_BYTES:
            raise ValidationError(f"video is {video.size} bytes", field="video", limit=f"{VIDEO_MAX_BYTES} bytes (512 MB)")
        return "video", [video]
    images = [m for m in content.media if m.kind == "image"]
    gifs = [m for m in images if m.content_type == GIF_TYPE]
    if gifs:
        if len(images) > 1:
            raise ValidationError("an animated GIF must be the only media of an X post", field="images", limit=MEDIA_RULE)
        if gifs[0].size > GIF_MAX_BYTES:
            raise ValidationError(f"GIF is {gifs[0].size} bytes", field="images", limit=f"{GIF_MAX_BYTES} bytes (15 MB)")
        return "gif", gifs
    if len(images) > MAX_IMAGES:
        raise ValidationError(f"{len(images)} images", field="images", limit=MEDIA_RULE)
    for image in images:
        if image.content_type not in IMAGE_TYPES:
            raise ValidationError(f"X does not take {image.content_type} images ({image.uri})", field="images",
                                  limit=", ".join(IMAGE_TYPES + (GIF_TYPE,)))
        if image.size > IMAGE_MAX_BYTES:
            raise ValidationError(f"image {image.uri} is {image.size} bytes", field="images",
                                  limit=f"{IMAGE_MAX_BYTES} bytes (5 MB) per image")
    return "images", images


def validate(content: ContentItem, target: TargetSpec, account: Account) -> None:
    text = post_text(content)
    parsed = parse_tweet(text)
    if parsed.weightedLength > MAX_WEIGHTED_LENGTH:
        raise ValidationError(
            f"post text is {parsed.weightedLength} weighted characters", field="caption",
            limit=f"{MAX_WEIGHTED_LENGTH} weighted characters (twitter-text v3: URLs count 23, CJK and emoji 2)")
    if not parsed.valid:
        raise ValidationError("post text contains characters X refuses", field="caption",
                              limit="no invalid Unicode characters (twitter-text)")
    media_plan(content, target)
