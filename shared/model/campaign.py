"""The campaign document (Firestore collection `campaigns`, keyed by the campaign id)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal, get_args

from pydantic import BaseModel, Field

CampaignStatus = Literal["planned", "active", "paused", "completed", "archived"]
CAMPAIGN_STATUSES: tuple[str, ...] = get_args(CampaignStatus)
# A Firestore document id that is also safe in a URL path: no "/", not "." or "..", not `__x__`.
CAMPAIGN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
CAMPAIGN_ID_MAX = 128
NAME_MAX = 200
DESCRIPTION_MAX = 2000


class Campaign(BaseModel):
    id: str = Field(pattern=CAMPAIGN_ID_PATTERN)
    name: str = Field(min_length=1, max_length=NAME_MAX)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    status: CampaignStatus = "planned"
    starts_on: date | None = None
    ends_on: date | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime


def slug_of(name: str) -> str:
    """'Spring Sale 2025!' -> 'spring-sale-2025' (an id for a campaign created by name only)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:CAMPAIGN_ID_MAX].rstrip("-")


def is_campaign_id(value: str) -> bool:
    return re.fullmatch(CAMPAIGN_ID_PATTERN, value) is not None
