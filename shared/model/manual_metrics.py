"""A manually recorded metrics snapshot (Firestore `manual_metrics/{id}`) and its audit trail.

Numbers for a post a platform gives no API numbers for (or an event nobody can pull) are typed in
by a person. Each is a snapshot like a pulled one, marked `source: "manual"`, with who recorded and
last changed it. Nothing is ever erased from its record: a change raises `revision`, a delete
leaves a tombstone (`deleted_at`, `deleted_by`), and every one of them is an AuditEntry
(`manual_metrics/{id}/audit/{revision}`) with the numbers before and after.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.model.analytics import PlatformMetrics, engagement_rate

MANUAL: Literal["manual"] = "manual"
NOTE_MAX = 500
# A given engagement rate agrees with the numbers when it is within this of the computed one: a
# rate rounded to a tenth of a percentage point (6.5 % for 6.54 %) still agrees.
RATE_TOLERANCE = 0.0005
COUNTS = ("views", "likes", "comments", "shares", "saves", "reach", "impressions")
AuditAction = Literal["recorded", "changed", "deleted"]


class ManualNumbers(BaseModel):
    """What a person may type in. None: not known; 0 is a real zero."""

    model_config = ConfigDict(frozen=True)

    measured_at: datetime
    views: int | None = Field(default=None, ge=0)
    likes: int | None = Field(default=None, ge=0)
    comments: int | None = Field(default=None, ge=0)
    shares: int | None = Field(default=None, ge=0)
    saves: int | None = Field(default=None, ge=0)
    reach: int | None = Field(default=None, ge=0)
    impressions: int | None = Field(default=None, ge=0)
    note: str | None = Field(default=None, max_length=NOTE_MAX)

    def computed_rate(self) -> float | None:
        """shared/model/analytics.py's formula, the one every pulled snapshot uses."""
        return engagement_rate(PlatformMetrics(platform_post_id=MANUAL, **{n: getattr(self, n) for n in COUNTS}))


class ManualSnapshot(ManualNumbers):
    """The stored record: the numbers, the post they are about (as it was when they were recorded),
    who recorded and changed them, and how far the BigQuery copy has caught up."""

    id: str
    post_id: str
    content_id: str
    campaign: str | None = None
    platform: str
    account_id: str
    source: Literal["manual"] = MANUAL
    engagement_rate: float | None = Field(default=None, description="computed from the numbers (a fraction)")
    revision: int = Field(ge=1, description="1 when recorded, +1 on every change and on the delete")
    recorded_by: str
    recorded_at: datetime
    updated_by: str
    updated_at: datetime
    deleted_by: str | None = None
    deleted_at: datetime | None = None
    # BigQuery post_metrics holds the state of this revision (0: none yet). Behind `revision`: the
    # copy is retried (shared/analytics/manual.py mirror_pending) until it catches up.
    mirrored_revision: int = 0
    mirror_pending: bool = True
    # The earliest measured_at any revision had: the BigQuery row is in a partition at or after it.
    earliest_measured_at: datetime

    model_config = ConfigDict(frozen=True)

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    def numbers(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in COUNTS}


class AuditEntry(BaseModel):
    """One thing done to a manual snapshot: who, when, and its numbers before and after."""

    model_config = ConfigDict(frozen=True)

    revision: int
    action: AuditAction
    by: str
    at: datetime
    before: dict[str, object] | None = None
    after: dict[str, object] | None = None


def rate_refusal(given: float | None, computed: float | None) -> str | None:
    """Why a given engagement rate (a fraction) cannot stand beside the numbers, or None. The
    computed rate is what is stored: a given one only has to agree with it."""
    if given is None:
        return None
    if computed is None:
        return ("engagement_rate needs views, impressions or reach to be checked against; send those numbers "
                "or leave engagement_rate out")
    if abs(given - computed) > RATE_TOLERANCE:
        return (f"engagement_rate {given * 100:g} % disagrees with the numbers: likes, comments, shares and saves "
                f"per view (else impression, else reach) are {computed * 100:g} %; leave it out and it is computed")
    return None
