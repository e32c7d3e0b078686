"""What the API answers about content items and posts (shared by the posts, campaigns, approvals
and events resources). Built from the stored models; never carries tokens or secrets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.model.content import ContentItem, TargetSpec
from shared.model.post import Post


class TransitionOut(BaseModel):
    from_status: str
    to_status: str
    at: datetime
    reason: str | None = None


class PostOut(BaseModel):
    id: str
    content_id: str
    account_id: str
    platform: str
    campaign: str
    status: str
    content_hash: str
    scheduled_at: datetime | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    published_at: datetime | None = None
    share_url: str | None = None
    platform_ids: dict[str, str] = Field(default_factory=dict)
    fail_reason: str | None = None
    fail_class: str | None = None
    attempt_count: int = 0
    caption: str | None = Field(default=None, description="the text as it will be posted (caption and hashtags)")
    target: TargetSpec
    history: list[TransitionOut] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, post: Post, content: ContentItem | None = None) -> PostOut:
        data = post.model_dump(include=set(cls.model_fields) - {"caption", "history"})
        data["history"] = [t.model_dump() for t in post.history]
        data["caption"] = content.text() if content is not None else None
        return cls.model_validate(data)


class PostPage(BaseModel):
    items: list[PostOut]
    total: int
    skip: int
    limit: int


class MediaOut(BaseModel):
    kind: str
    uri: str
    content_type: str
    size: int
    generation: int | None = None
    ai_generated: bool = False  # made by our AI generation: disclosed to TikTok and YouTube when posted there


class ContentOut(BaseModel):
    id: str
    campaign: str
    caption: str
    hashtags: list[str]
    text: str = Field(description="caption and hashtags as posted")
    media: list[MediaOut]
    targets: list[TargetSpec]
    publish_at: datetime | None = None
    requested_by: str
    generator: str
    version: int
    content_hash: str
    status: str
    approved_by: str | None = None
    approved_at: datetime | None = None
    posts: list[PostOut] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, content: ContentItem, posts: Sequence[Post] = ()) -> ContentOut:
        approval = content.approval if content.approval and content.approval.decision == "approved" else None
        return cls(id=content.id, campaign=content.campaign, caption=content.caption, hashtags=content.hashtags,
                   text=content.text(), media=[MediaOut(kind=m.kind, uri=m.uri, content_type=m.content_type, size=m.size,
                                                        generation=m.generation, ai_generated=m.ai_generated)
                                               for m in content.media],
                   targets=content.targets, publish_at=content.publish_at, requested_by=content.requested_by,
                   generator=content.generator, version=content.version, content_hash=content.content_hash,
                   status=content.status, approved_by=approval.decided_by if approval else None,
                   approved_at=approval.decided_at if approval else None,
                   posts=[PostOut.of(p, content) for p in posts], created_at=content.created_at,
                   updated_at=content.updated_at)


class BulkOut(BaseModel):
    """What a bulk create made, in the order of the request's items."""

    items: list[ContentOut]


class CalendarDay(BaseModel):
    date: dt.date = Field(description="local date in the requested time zone")
    posts: list[PostOut] = Field(default_factory=list)


class CalendarOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    tz: str = Field(description="IANA time zone the days are in")
    from_: dt.date = Field(alias="from")
    to: dt.date
    days: list[CalendarDay] = Field(description="every day from `from` to `to`, each with its posts in time order")
