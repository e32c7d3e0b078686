"""Pydantic models for briefs and content items (Firestore collection `content`)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

TikTokPrivacy = Literal["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TargetSpec(_Strict):
    """One account the content should go to, with the per-post choices a person made.

    TikTok forbids a pre-selected privacy default, so `privacy_level` has none: the brief
    must say it, and the publisher checks it against a fresh creator_info answer.
    """

    account_id: str = Field(min_length=1, max_length=128)
    privacy_level: TikTokPrivacy | None = None
    disable_comment: bool = False
    disable_duet: bool = False
    disable_stitch: bool = False
    brand_content_toggle: bool = False
    brand_organic_toggle: bool = False
    # TikTok: a video post, or a photo post of the images (PULL_FROM_URL, up to 35). None: the video
    # when the content has one, else the images.
    tiktok_post_type: Literal["VIDEO", "PHOTO"] | None = None

    # Instagram: which kind of post (an image, a reel from the video, a carousel of the images, or a
    # story from the video, else from the one image; a story shows no caption).
    instagram_media_type: Literal["IMAGE", "REELS", "CAROUSEL", "STORIES"] | None = None
    share_to_feed: bool = True
    # Instagram image / LinkedIn image alt text.
    alt_text: str | None = Field(default=None, max_length=1000)
    # YouTube: title, tags and privacy are per target (the caption becomes the description).
    title: str | None = Field(default=None, max_length=500)
    tags: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list, max_length=100)
    youtube_privacy: Literal["private", "unlisted", "public"] | None = None
    youtube_category_id: str = Field(default="22", max_length=10)
    made_for_kids: bool = False
    # LinkedIn: who sees the post.
    linkedin_visibility: Literal["PUBLIC", "CONNECTIONS", "LOGGED_IN"] = "PUBLIC"
    # X: post text only even when the content has media.
    text_only: bool = False


# The TargetSpec choices each platform's adapter reads, in the order a form offers them (the console's
# composer shows a target's own; tests/test_console_compose.py holds this to the fields and platforms).
TARGET_OPTIONS: dict[str, tuple[str, ...]] = {
    "tiktok": ("privacy_level", "tiktok_post_type", "title", "disable_comment", "disable_duet", "disable_stitch",
               "brand_content_toggle", "brand_organic_toggle"),
    "instagram": ("instagram_media_type", "share_to_feed", "alt_text"),
    "x": ("text_only",),
    "youtube": ("title", "youtube_privacy", "tags", "youtube_category_id", "made_for_kids"),
    "linkedin": ("linkedin_visibility", "title", "alt_text"),
    # A Buffer channel: the choices Buffer carries to the network behind it (BUFFER_TARGET_OPTIONS), all of them.
    "buffer": ("text_only", "instagram_media_type", "share_to_feed", "tiktok_post_type", "title", "youtube_privacy",
               "youtube_category_id", "made_for_kids", "alt_text"),
}
# The choices Buffer's createPost can carry to each network (developers.buffer.com/types/CreatePostInput.md:
# the assets, their alt text and video title, and the network's metadata); any other choice set on a
# Buffer target would be approved and never published, so validation refuses it. Networks not named here
# get BUFFER_OTHER_NETWORK_OPTIONS.
BUFFER_TARGET_OPTIONS: dict[str, tuple[str, ...]] = {
    "twitter": ("text_only",),
    "instagram": ("instagram_media_type", "share_to_feed", "alt_text"),
    "linkedin": ("title", "alt_text"),
    "tiktok": ("tiktok_post_type", "title"),
    "youtube": ("title", "youtube_privacy", "youtube_category_id", "made_for_kids"),
}
BUFFER_OTHER_NETWORK_OPTIONS: tuple[str, ...] = ("alt_text",)


def target_options(platform: str, buffer_service: str | None = None) -> tuple[str, ...]:
    """The choices a target on `platform` offers; for a Buffer channel, those of the network behind it."""
    if platform == "buffer" and buffer_service is not None:
        return BUFFER_TARGET_OPTIONS.get(buffer_service, BUFFER_OTHER_NETWORK_OPTIONS)
    return TARGET_OPTIONS.get(platform, ())


def _gs_uri(value: str) -> str:
    if not (value.startswith("gs://") and "/" in value[5:] and not value.endswith("/")):
        raise PydanticCustomError("gs_uri", "must be a gs://bucket/object URI", {"limit": "gs://bucket/object"})
    return value


# gs:// + bucket name (at most 222 characters) + / + object name (at most 1024 bytes).
# A hashtag as the validators take it (after trimming and a leading #: no whitespace, and in
# posted copy no control character), stated in the document as a pattern.
BRIEF_HASHTAG_PATTERN = r"^\s*#*[^\s\x1C-\x1F\x85]*\s*$"
HASHTAG_PATTERN = r"^\s*#*[^\s\x00-\x1F\x7F-\x9F]*\s*$"
# The document states the rule as a pattern: gs://, a "/" after it, not ending in "/". Surrounding
# whitespace is stripped in every model that takes one, so the pattern allows it around the URI and
# asks the object name to end in something else. Whitespace is spelled out as pydantic strips it
# (Unicode White_Space): `\s` means other sets in Python and in JSON Schema's ECMA regexes.
_WS_CHARS = "\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
_WS = f"[{_WS_CHARS}]"
GsUri = Annotated[str, StringConstraints(strip_whitespace=True),
                  Field(max_length=5 + 222 + 1 + 1024,
                        json_schema_extra={"pattern": rf"^{_WS}*gs://[\s\S]*/[\s\S]*[^/{_WS_CHARS}]{_WS}*$"}),
                  AfterValidator(_gs_uri)]

def stripped_min_length(n: int) -> dict:
    """The schema of "at least n characters once surrounding whitespace is stripped" (models that
    strip whitespace count after stripping; minLength alone would count it)."""
    visible = f"[^{_WS_CHARS}]"
    return {"pattern": visible if n <= 1 else f"{visible}[\\s\\S]{{{n - 2},}}{visible}"}



class Brief(_Strict):
    """What the marketing team asks for."""

    campaign: str = Field(min_length=1, max_length=120, json_schema_extra=stripped_min_length(1))
    topic: str = Field(min_length=3, max_length=1000, json_schema_extra=stripped_min_length(3))
    audience: str | None = Field(default=None, max_length=300)
    tone: str = Field(default="friendly", max_length=60)
    call_to_action: str | None = Field(default=None, max_length=200)
    hashtags: list[Annotated[str, Field(max_length=500, json_schema_extra={"pattern": BRIEF_HASHTAG_PATTERN})]] = Field(
        default_factory=list, max_length=30, description="no whitespace inside one (a leading # is dropped)")
    language: str = Field(default="en", min_length=2, max_length=10, json_schema_extra=stripped_min_length(2))
    video: GsUri | None = Field(default=None, description="gs://bucket/object of the video to post")
    images: list[GsUri] = Field(default_factory=list, max_length=10, description="gs:// images, in carousel order")
    targets: list[TargetSpec] = Field(min_length=1, max_length=50)
    publish_at: datetime | None = None
    requested_by: str = Field(min_length=3, max_length=200, json_schema_extra=stripped_min_length(3))

    @field_validator("hashtags")
    @classmethod
    def _clean_tags(cls, tags: list[str]) -> list[str]:
        cleaned = [t.strip().lstrip("#") for t in tags if t.strip().lstrip("#")]
        for tag in cleaned:
            if any(ch.isspace() for ch in tag):
                raise ValueError(f"hashtag {tag!r} contains whitespace")
        return cleaned

    @model_validator(mode="after")
    def _each_account_once(self) -> Brief:
        """One post per account and brief: a second target for the same account names that target."""
        seen: set[str] = set()
        for index, target in enumerate(self.targets):
            if target.account_id in seen:
                error = PydanticCustomError("duplicate_target", "account {account_id} is already a target of this brief",
                                            {"account_id": target.account_id, "limit": "each account once"})
                raise ValidationError.from_exception_data("Brief", [InitErrorDetails(
                    type=error, loc=("targets", index, "account_id"), input=target.account_id)])
            seen.add(target.account_id)
        return self


class GeneratedImage(BaseModel):
    mime_type: str
    data: bytes


class GeneratedDraft(BaseModel):
    """What a generator returns: text for the post, optionally an image."""

    caption: str = Field(min_length=1)
    hashtags: list[str] = Field(default_factory=list)
    image: GeneratedImage | None = None
    generator: str  # e.g. "offline-template-v1" or "gemini:<model id>"


class MediaRef(BaseModel):
    """One generation of an object in Cloud Storage that belongs to a content item.

    The generation and the checksum are part of the content hash: an approval covers these exact
    bytes, and publishing reads this generation only (an overwrite under the same name is a
    different object, and voids the approval).
    """

    kind: Literal["video", "image"]
    bucket: str
    name: str
    content_type: str
    size: int = Field(ge=0)
    generation: int | None = None
    crc32c: str | None = None  # base64, as Cloud Storage reports it
    md5_hash: str | None = None  # base64; absent for composite objects
    # Made by our AI generation (create_draft stores the generator's image with this set), never
    # guessed from who wrote the text: TikTok and YouTube are told per post (shared/model/disclosure.py).
    ai_generated: bool = False

    @property
    def uri(self) -> str:
        return f"gs://{self.bucket}/{self.name}"

    @property
    def versioned_uri(self) -> str:
        return f"{self.uri}#{self.generation}"


class Approval(BaseModel):
    """The recorded human decision, bound to the exact content version it was made on."""

    decision: Literal["approved", "rejected"]
    decided_by: str
    decided_at: datetime
    content_hash: str
    token_id: str
    reason: str | None = Field(default=None, max_length=1000)  # a rejection's reason, for the requester


ContentStatus = Literal["pending_approval", "approved", "rejected", "cancelled"]


class ContentItem(BaseModel):
    id: str
    campaign: str
    caption: str
    hashtags: list[str] = Field(default_factory=list)
    media: list[MediaRef] = Field(default_factory=list)
    targets: list[TargetSpec]
    publish_at: datetime | None = None
    requested_by: str
    generator: str
    version: int = 1
    content_hash: str
    status: ContentStatus = "pending_approval"
    approval: Approval | None = None
    # Earlier versions' decisions and voided approvals, oldest first (what happened, and why).
    approval_history: list[dict] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime

    def text(self) -> str:
        """The text as it will be posted: caption then hashtags."""
        tags = " ".join(f"#{t}" for t in self.hashtags)
        return f"{self.caption}\n\n{tags}".strip() if tags else self.caption

    def current_hash(self) -> str:
        return content_hash(self.caption, self.hashtags, self.media, self.targets, self.publish_at)


def content_hash(
    caption: str,
    hashtags: list[str],
    media: list[MediaRef],
    targets: list[TargetSpec],
    publish_at: datetime | None,
) -> str:
    """SHA-256 over everything a person approves. Any edit changes it and so voids the approval."""
    canonical = {
        "caption": caption,
        "hashtags": hashtags,
        "media": [_media_canonical(m) for m in media],
        "targets": [_target_for_hash(t) for t in targets],
        "publish_at": publish_at.isoformat() if publish_at else None,
    }
    blob = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _media_canonical(media: MediaRef) -> dict:
    """`ai_generated` counts only when set: media stored before the field existed (all of it not
    AI-generated) keeps the hash its approval was bound to."""
    return media.model_dump(mode="json", exclude=None if media.ai_generated else {"ai_generated"})


def _target_for_hash(target: TargetSpec) -> dict:
    """A target as hashed. tiktok_post_type came later: left unset it stays out, so the hashes (and
    approvals) of content stored before it existed still match; set, it is covered like any choice."""
    return target.model_dump(mode="json", exclude={"tiktok_post_type"} if target.tiktok_post_type is None else None)
