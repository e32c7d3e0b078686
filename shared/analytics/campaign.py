"""A campaign's numbers per UTC day and platform, read from BigQuery.

Days come from the view `campaign_daily_metrics` (SQL declared once, in infra/topology.yaml): each
post's last snapshot of the day, summed per platform. Counts are lifetime counts as of that snapshot,
so a day's row says where the campaign stood at the end of that day, not what happened during it.

Totals for a date range are each post's last snapshot in the range, summed per platform: adding the
days up would count a post once per day it was fetched. Their engagement rate comes from
shared/model/analytics.py engagement_rate, the formula the view applies in SQL.

Manually recorded snapshots (shared/analytics/manual.py) are rows of the same table, so they count
like pulled ones; `manual_posts` says how many of the posts counted were counted with one.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from shared.model.analytics import PlatformMetrics, engagement_rate
from shared.model.manual_metrics import MANUAL
from shared.runtime.logging import log_event
from shared.topology import get_topology

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger("postgate.analytics")

DAILY_VIEW = "campaign_daily_metrics"
METRICS = ("views", "likes", "comments", "shares", "saves", "impressions", "reach")
MAX_RANGE_DAYS = 366
_TIMEOUT_SECONDS = 60


class _Numbers(BaseModel):
    posts: int = Field(ge=0, description="posts with a snapshot counted here")
    manual_posts: int = Field(default=0, ge=0, description="of those, posts counted with a manually recorded snapshot")
    views: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    saves: int | None = None
    impressions: int | None = None
    reach: int | None = None
    engagement_rate: float | None = Field(default=None, description="(likes + comments + shares + saves) / views "
                                                                   "(else impressions, else reach)")


class DayNumbers(_Numbers):
    """One platform on one UTC day: each post's last snapshot of that day, summed."""

    date: date
    platform: str


class PlatformTotals(_Numbers):
    """One platform over the range: each post's last snapshot in the range, summed."""

    platform: str
    as_of: datetime | None = Field(default=None, description="the newest snapshot counted")


class CampaignNumbers(BaseModel):
    campaign: str
    from_: date = Field(alias="from")
    to: date
    tz: str = Field(default="UTC", description="days are UTC dates of the snapshots")
    days: list[DayNumbers]
    totals: list[PlatformTotals]

    model_config = {"populate_by_name": True}


def range_refusal(start: date, end: date) -> str | None:
    """Why numbers from `start` to `end` cannot be asked for (the end is what to change), or None."""
    if end < start:
        return "`to` is before `from`"
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        return f"at most {MAX_RANGE_DAYS} days at once"
    return None


def campaign_numbers(bq: bigquery.Client, project: str, campaign: str, start: date, end: date) -> CampaignNumbers:
    """Days from `start` to `end` (inclusive, UTC) and the totals of that range. Both queries run at once."""
    from google.cloud import bigquery

    if end < start:
        raise ValueError("end is before start")
    dataset = f"{project}.{get_topology().bigquery.dataset}"
    params = [bigquery.ScalarQueryParameter("campaign", "STRING", campaign),
              bigquery.ScalarQueryParameter("start_day", "DATE", start),
              bigquery.ScalarQueryParameter("end_day", "DATE", end),
              bigquery.ScalarQueryParameter("start_at", "TIMESTAMP", _midnight(start)),
              bigquery.ScalarQueryParameter("end_before", "TIMESTAMP", _midnight(end + timedelta(days=1)))]
    config = bigquery.QueryJobConfig(query_parameters=params)
    started = datetime.now(UTC)
    daily_job = bq.query(_daily_sql(dataset), job_config=config)
    totals_job = bq.query(_totals_sql(dataset), job_config=config)
    days = [DayNumbers(**_numbers(row), date=row["day"], platform=row["platform"])
            for row in daily_job.result(timeout=_TIMEOUT_SECONDS)]
    totals = []
    for row in totals_job.result(timeout=_TIMEOUT_SECONDS):
        numbers = _numbers(row)
        numbers["engagement_rate"] = engagement_rate(PlatformMetrics(platform_post_id="total", **{
            k: numbers[k] for k in METRICS}))
        totals.append(PlatformTotals(**numbers, platform=row["platform"], as_of=row["as_of"]))
    log_event(log, logging.INFO, "campaign numbers read", campaign=campaign, start=start.isoformat(),
              end=end.isoformat(), day_rows=len(days), platforms=len(totals),
              ms=int((datetime.now(UTC) - started).total_seconds() * 1000))
    return CampaignNumbers(campaign=campaign, from_=start, to=end, days=days, totals=totals)


class AllPlatforms(_Numbers):
    """Every platform together over the range: the platforms' totals summed, with the engagement rate
    of those sums (a count no platform has stays None)."""

    as_of: datetime | None = None


def all_platforms(numbers: CampaignNumbers) -> AllPlatforms:
    summed: dict[str, int | None] = {}
    for name in METRICS:
        values = [getattr(t, name) for t in numbers.totals if getattr(t, name) is not None]
        summed[name] = sum(values) if values else None
    rate = engagement_rate(PlatformMetrics(platform_post_id="total", **summed))
    as_of = max((t.as_of for t in numbers.totals if t.as_of is not None), default=None)
    return AllPlatforms(posts=sum(t.posts for t in numbers.totals),
                        manual_posts=sum(t.manual_posts for t in numbers.totals), engagement_rate=rate, as_of=as_of,
                        **summed)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _numbers(row) -> dict:
    out: dict[str, int | float | None] = {"posts": int(row["posts"]), "manual_posts": int(row["manual_posts"] or 0)}
    for name in METRICS:
        out[name] = None if row[name] is None else int(row[name])
    if "engagement_rate" in row.keys():  # noqa: SIM118 - a BigQuery Row: `in row` would search its values
        out["engagement_rate"] = None if row["engagement_rate"] is None else float(row["engagement_rate"])
    return out


def _daily_sql(dataset: str) -> str:
    columns = ", ".join(("day", "platform", "posts", "manual_posts", *METRICS, "engagement_rate"))
    return (f"SELECT {columns} FROM `{dataset}.{DAILY_VIEW}` "
            "WHERE campaign = @campaign AND day BETWEEN @start_day AND @end_day ORDER BY day, platform")


def _totals_sql(dataset: str) -> str:
    sums = ", ".join(f"SUM({name}) AS {name}" for name in METRICS)
    return (f"SELECT platform, COUNT(*) AS posts, COUNTIF(source = '{MANUAL}') AS manual_posts, {sums}, "
            "MAX(fetched_at) AS as_of FROM ("
            f"SELECT platform, fetched_at, source, {', '.join(METRICS)}, "
            "ROW_NUMBER() OVER (PARTITION BY post_id ORDER BY fetched_at DESC, snapshot_id DESC) AS recency "
            f"FROM `{dataset}.post_metrics` "
            "WHERE campaign = @campaign AND fetched_at >= @start_at AND fetched_at < @end_before"
            ") AS latest WHERE recency = 1 GROUP BY platform ORDER BY platform")
