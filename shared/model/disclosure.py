"""AI disclosure: whether the media a post publishes came from our AI generation, and where each
platform takes that. A fact recorded per media object (MediaRef.ai_generated), never guessed from
the generator's name: an AI-written caption is not AI media, and a video the team filmed is not
synthetic because a generated image sits beside it in the content item.

Only the media a platform publishes counts: a TikTok video post or a YouTube upload carries the
video, not the content's images.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.model.content import MediaRef

# The field each platform's API has for it; X and LinkedIn have none.
# TikTok: post_info.is_aigc, https://developers.tiktok.com/doc/content-posting-api-reference-direct-post
#   (video posts only: the photo post's post_info has no such field,
#   https://developers.tiktok.com/doc/content-posting-api-reference-photo-post)
# YouTube: status.containsSyntheticMedia, https://developers.google.com/youtube/v3/docs/videos#status.containsSyntheticMedia
# Instagram: is_ai_generated on POST /{ig-user-id}/media (the carousel container, not its items), both logins,
#   https://developers.facebook.com/documentation/instagram-platform/changelog (June 22, 2026, "AI Info Label");
#   facebook_business IGUser.create_media param_types. Sent only when true (Meta's default is no label).
# Buffer: isAiGenerated in the network's post metadata, where Buffer takes one (developers.buffer.com/types/
#   PostInputMetaData.md); a post to a network without it says so on its card (ReviewCard.ai_field_unavailable).
DISCLOSURE_FIELDS = {"tiktok": "is_aigc", "youtube": "containsSyntheticMedia", "instagram": "is_ai_generated",
                     "buffer": "isAiGenerated"}
SENT_WHEN_FALSE = {"tiktok", "youtube"}  # these send the field on every post, false included


def ai_generated(media: Iterable[MediaRef | None]) -> bool:
    """True when any of the media a post publishes was made by our AI generation."""
    return any(m is not None and m.ai_generated for m in media)


def review_line(platform: str, platform_name: str, media: Iterable[MediaRef], *, unavailable: str | None = None) -> str:
    """What the approver reads on a target's card: is AI media published there, and is it disclosed.
    `unavailable`: why this post cannot carry the platform's field (the card says, e.g. a TikTok photo post)."""
    field = None if unavailable else DISCLOSURE_FIELDS.get(platform)
    if not ai_generated(media):
        return "none in this post" + (f" ({field} false)" if field and platform in SENT_WHEN_FALSE else "")
    if unavailable:
        return f"yes: not disclosed by a platform field ({unavailable}); say so in the text if needed"
    if platform == "tiktok":
        return "yes: disclosed to TikTok (is_aigc), TikTok labels the post AI-generated"
    if platform == "youtube":
        return "yes: YouTube: contains synthetic media (containsSyntheticMedia)"
    if platform == "instagram":
        return "yes: disclosed to Instagram (is_ai_generated), Instagram shows its AI info label"
    if field:
        return f"yes: disclosed to {platform_name} ({field}), which passes the label on"
    return f"yes: not disclosed by a platform field ({platform_name} has none); say so in the text if needed"


def carry_ai_flags(media: list[MediaRef], before: list[MediaRef]) -> list[MediaRef]:
    """The flags of `before` on the refs of `media` that name the same object: an edit that names a
    generated image again, or its live generation after a change, is still our AI's image."""
    flagged = {(m.bucket, m.name) for m in before if m.ai_generated}
    return [m.model_copy(update={"ai_generated": True}) if (m.bucket, m.name) in flagged and not m.ai_generated else m
            for m in media]
