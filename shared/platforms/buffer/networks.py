"""What a post to a Buffer channel carries, by the network behind the channel (the account's
`buffer_service`), and the rules it must meet: the network's own where Postgate publishes to that
network itself (X for `twitter`, Instagram, LinkedIn, TikTok, YouTube: their adapters' validation
functions, not a copy), plus Buffer's own for every channel (validation.py). Validation, the review
card and createPost's input are all built from plan() here, so the approver sees what is sent.

Buffer takes the text, the assets (each an image or a video by URL, in order, an image with its alt
text) and per-network metadata (developers.buffer.com/types/CreatePostInput.md, PostInputMetaData).
Which of a target's choices reach each network is declared once, in shared/model/content.py
(BUFFER_TARGET_OPTIONS); a choice Buffer cannot carry is refused, never approved and dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from shared.errors import ValidationError
from shared.model.content import ContentItem, MediaRef, TargetSpec, target_options
from shared.model.disclosure import ai_generated
from shared.model.platform import network_name
from shared.platforms.instagram import validation as instagram
from shared.platforms.linkedin import adapter as linkedin
from shared.platforms.tiktok import adapter as tiktok
from shared.platforms.tiktok import photo as tiktok_photo
from shared.platforms.x import validation as x
from shared.platforms.youtube import adapter as youtube

# Instagram's kinds of post as Buffer's PostType names them (developers.buffer.com/types/PostType.md).
INSTAGRAM_TYPES = {"IMAGE": "post", "CAROUSEL": "carousel", "REELS": "reel", "STORIES": "story"}


@dataclass(frozen=True)
class NetworkPost:
    """One post as Buffer gets it for the network behind the channel."""

    network: str  # the channel's service, as Buffer names it
    text: str
    media: list[MediaRef]  # the assets, in order
    metadata: dict  # PostInputMetaData ({} when the network needs none)
    fields: list[tuple[str, str]] = field(default_factory=list)  # the review card's lines
    alt_text: str | None = None  # the one image's alt text
    video_title: str | None = None
    text_label: str = "Text"
    ai_label: bool = False  # Buffer takes the network's AI label (isAiGenerated) for this post


def plan(content: ContentItem, target: TargetSpec, network: str) -> NetworkPost:
    """The post for `network`, after the network's rules (ValidationError naming the field otherwise)."""
    _refuse_uncarried(target, network)
    build = _NETWORKS.get(network, _other)
    return build(content, target, network)


def _refuse_uncarried(target: TargetSpec, network: str) -> None:
    carried = set(target_options("buffer", network))
    for name, spec in TargetSpec.model_fields.items():
        if name == "account_id" or name in carried:
            continue
        if getattr(target, name) != spec.get_default(call_default_factory=True):
            raise ValidationError(f"Buffer does not carry {name} to {network_name(network)}: it would be approved "
                                  "and never published", field=f"targets.{name}",
                                  limit=f"for a Buffer {network_name(network)} channel: "
                                        f"{', '.join(sorted(carried)) or 'no choices'}")


def _twitter(content: ContentItem, target: TargetSpec, network: str) -> NetworkPost:
    x.validate(content, target, {})  # X's own rules (they read nothing of the account)
    kind, media = x.media_plan(content, target)
    text = x.post_text(content)
    fields = [("Length", f"{x.weighted_length(text)} of {x.MAX_WEIGHTED_LENGTH} (X's weighted count)"),
              ("Media", {"text": "none (text only)", "images": f"{len(media)} image(s)", "gif": "1 GIF",
                         "video": "1 video"}[kind])]
    return NetworkPost(network, text, media, _ai_flag("twitter", media), fields, ai_label=True)


def _instagram(content: ContentItem, target: TargetSpec, network: str) -> NetworkPost:
    instagram.validate_post(content, target)
    kind = str(target.instagram_media_type)
    if kind == "STORIES":
        media = [m for m in [instagram.story_media(content)] if m is not None]
        # Instagram shows no caption on a story: none is sent.
        meta = {"type": "story", "shouldShareToFeed": False, **({"isAiGenerated": True} if ai_generated(media) else {})}
        return NetworkPost(network, "", media, {"instagram": meta},
                           [("Post type", "story (visible for 24 hours)")], text_label="Caption", ai_label=True)
    media = {"IMAGE": instagram.images_of(content)[:1], "CAROUSEL": instagram.images_of(content),
             "REELS": [v for v in [instagram.video_of(content)] if v is not None]}[kind]
    fields = [("Post type", {"IMAGE": "image", "CAROUSEL": f"carousel of {len(media)} images, in this order",
                             "REELS": "reel"}[kind])]
    if kind == "REELS":
        fields.append(("Also in the feed", "yes" if target.share_to_feed else "no"))
    if kind == "IMAGE":
        fields.append(("Alt text", target.alt_text or "none"))
    meta = {"type": INSTAGRAM_TYPES[kind], "shouldShareToFeed": target.share_to_feed if kind == "REELS" else True,
            **({"isAiGenerated": True} if ai_generated(media) else {})}
    return NetworkPost(network, content.text(), media, {"instagram": meta}, fields,
                       alt_text=target.alt_text if kind == "IMAGE" else None, text_label="Caption", ai_label=True)


def _linkedin(content: ContentItem, target: TargetSpec, network: str) -> NetworkPost:
    linkedin.validate_post(content, target)
    media = linkedin.post_media(content)
    fields = [("Visibility", "anyone (Buffer posts publicly)")]
    if media is not None and media.kind == "image":
        fields.append(("Alt text", target.alt_text or "none"))
    if media is not None and media.kind == "video" and target.title:
        fields.append(("Video title", target.title))
    return NetworkPost(network, content.text(), [media] if media else [], {}, fields,
                       alt_text=target.alt_text if media is not None and media.kind == "image" else None,
                       video_title=target.title if media is not None and media.kind == "video" else None)


def _tiktok(content: ContentItem, target: TargetSpec, network: str) -> NetworkPost:
    tiktok.validate_post(content, target)
    photo = tiktok_photo.post_type(content, target) == "PHOTO"
    if photo:
        media = tiktok_photo.photos(content)
        meta: dict = {"title": target.title} if target.title else {}
        fields = [("Post type", f"photo post of {len(media)} image(s), in this order (the first is the cover)"),
                  ("Title", target.title or "none")]
    else:
        media = [m for m in content.media if m.kind == "video"][:1]
        meta = {"isAiGenerated": True} if ai_generated(media) else {}  # Buffer: TikTok video posts only
        fields = [("Post type", "video")]
    fields.append(("Who can watch", "as the channel is set in Buffer and TikTok"))
    return NetworkPost(network, content.text(), media, {"tiktok": meta} if meta else {}, fields, text_label="Caption",
                       ai_label=not photo)


def _youtube(content: ContentItem, target: TargetSpec, network: str) -> NetworkPost:
    youtube.validate(content, target, {})  # YouTube's own rules (they read nothing of the account)
    media = [m for m in content.media if m.kind == "video"][:1]
    meta = {"title": target.title, "privacy": target.youtube_privacy, "categoryId": target.youtube_category_id,
            "madeForKids": target.made_for_kids, "isAiGenerated": ai_generated(media)}
    fields = [("Title", target.title or ""), ("Privacy", str(target.youtube_privacy)),
              ("Made for kids", "yes" if target.made_for_kids else "no"), ("Category", target.youtube_category_id)]
    return NetworkPost(network, content.text(), media, {"youtube": meta}, fields, text_label="Description",
                       ai_label=True)


def _other(content: ContentItem, target: TargetSpec, network: str) -> NetworkPost:
    """A network Postgate does not publish to itself: Buffer's own rules only (validation.py)."""
    video = next((m for m in content.media if m.kind == "video"), None)
    media = [video] if video is not None else [m for m in content.media if m.kind == "image"]
    fields = [("Media", "1 video" if video is not None else f"{len(media)} image(s)" if media else "none"),
              ("Rules", f"Buffer's own: Postgate does not check {network_name(network)}'s")]
    single_image = len(media) == 1 and media[0].kind == "image"
    return NetworkPost(network, content.text(), media, {}, fields, alt_text=target.alt_text if single_image else None)


def _ai_flag(network: str, media: list[MediaRef]) -> dict:
    """Buffer's isAiGenerated for the network, sent when the media the post carries is our AI's."""
    return {network: {"isAiGenerated": True}} if ai_generated(media) else {}


# Each network of BUFFER_NETWORK_PLATFORMS (those Postgate publishes to itself), with that platform's rules.
_NETWORKS: dict[str, Callable[[ContentItem, TargetSpec, str], NetworkPost]] = {
    "twitter": _twitter, "instagram": _instagram, "linkedin": _linkedin, "tiktok": _tiktok, "youtube": _youtube}


def known_networks() -> set[str]:
    """The networks whose own rules apply (tests hold this to BUFFER_NETWORK_PLATFORMS)."""
    return set(_NETWORKS)
