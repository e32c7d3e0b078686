"""The video resource Postgate sends to YouTube (docs/platforms.md#youtube-endpoints): snippet and status parts."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.model.content import ContentItem, TargetSpec
from shared.model.disclosure import ai_generated

OFFLINE_GENERATOR = "offline-template-v1"


def scheduled_release(content: ContentItem, target: TargetSpec, now: datetime) -> datetime | None:
    """A future publish time for a public video is YouTube's own scheduled release."""
    at = content.publish_at
    if at is None or target.youtube_privacy != "public":
        return None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at if at > now else None


def contains_synthetic_media(content: ContentItem) -> bool:
    """status.containsSyntheticMedia: the uploaded video was made by our AI generation (a fact on its
    MediaRef; an AI-written description or a generated image beside the video doesn't make it so)."""
    return ai_generated(m for m in content.media if m.kind == "video")


def status_part(privacy: str, *, made_for_kids: bool, synthetic: bool, publish_at: datetime | None = None) -> dict:
    status = {"privacyStatus": privacy, "selfDeclaredMadeForKids": made_for_kids, "containsSyntheticMedia": synthetic}
    if publish_at is not None:
        status["publishAt"] = publish_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return status


def build_resource(content: ContentItem, target: TargetSpec, *, now: datetime) -> dict:
    """Always private first (and always explicit: omitted means public since 2026-11)."""
    snippet: dict[str, object] = {"title": target.title, "description": content.text(), "categoryId": target.youtube_category_id}
    if target.tags:
        snippet["tags"] = list(target.tags)
    return {"snippet": snippet,
            "status": status_part("private", made_for_kids=target.made_for_kids,
                                  synthetic=contains_synthetic_media(content),
                                  publish_at=scheduled_release(content, target, now))}
