"""What a platform says about one published post, and the one place engagement rate is computed."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PlatformMetrics(BaseModel):
    """One post's numbers as one platform call returned them. None: the platform has no such number
    (or withheld it); 0 is a real zero."""

    model_config = ConfigDict(frozen=True)

    platform_post_id: str
    views: int | None = Field(default=None, ge=0)
    likes: int | None = Field(default=None, ge=0)
    comments: int | None = Field(default=None, ge=0)
    shares: int | None = Field(default=None, ge=0)
    saves: int | None = Field(default=None, ge=0)
    reach: int | None = Field(default=None, ge=0)
    impressions: int | None = Field(default=None, ge=0)


class MetricsRefused(BaseModel):
    """The platform answered the batch but not for this post (deleted, not enough viewers, ...)."""

    model_config = ConfigDict(frozen=True)

    platform_post_id: str
    reason: str


def engagement_rate(m: PlatformMetrics) -> float | None:
    """Interactions (likes, comments, shares, saves) per view; where a platform counts no views, per
    impression, then per reached account. None when there is no denominator or it is 0."""
    base = m.views if m.views else (m.impressions if m.impressions else m.reach)
    if not base:
        return None
    interactions = sum(v for v in (m.likes, m.comments, m.shares, m.saves) if v)
    return round(interactions / base, 6)
