"""One post's numbers over time: its snapshots in BigQuery `post_metrics` (the table the campaign
numbers are read from, shared/analytics/campaign.py), and a small line chart of them for the
console's post page.

Counts are lifetime counts as of each snapshot, so the line shows how the post's views (else
impressions, else reach: the engagement rate's denominator order) grew. The query reads only the
partitions from the post's publication on and at most TREND_POINTS rows. Manually recorded snapshots
(shared/analytics/manual.py) are rows of the same table: they are points of the line, marked as such.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.analytics.charts import count_text, nice_max
from shared.analytics.writer import METRIC_FIELDS, TABLE
from shared.model.manual_metrics import MANUAL
from shared.runtime.logging import log_event
from shared.topology import get_topology

log = logging.getLogger("postgate.analytics")

TREND_POINTS = 30
TREND_METRICS = ("views", "impressions", "reach")  # the first one the post has numbers for is drawn
_TIMEOUT_SECONDS = 30
# Chart geometry in viewBox units; the SVG scales to its box.
_W, _H = 480, 180
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 12, 32


@dataclass(frozen=True)
class Snapshot:
    fetched_at: datetime
    numbers: dict[str, int | None]
    manual: bool = False  # recorded by a person, not pulled from the platform


def post_snapshots(bq, project: str, post_id: str, since: datetime, limit: int = TREND_POINTS) -> list[Snapshot]:
    """The post's latest `limit` snapshots fetched at or after `since` (its publication), oldest first."""
    from google.cloud import bigquery

    table = f"{project}.{get_topology().bigquery.dataset}.{TABLE}"
    sql = (f"SELECT fetched_at, source, {', '.join(METRIC_FIELDS)} FROM `{table}` "
           "WHERE post_id = @post_id AND fetched_at >= @since ORDER BY fetched_at DESC, snapshot_id DESC LIMIT @limit")
    config = bigquery.QueryJobConfig(query_parameters=[
        bigquery.ScalarQueryParameter("post_id", "STRING", post_id),
        bigquery.ScalarQueryParameter("since", "TIMESTAMP", since),
        bigquery.ScalarQueryParameter("limit", "INT64", limit)])
    started = datetime.now(UTC)
    rows = list(bq.query(sql, job_config=config).result(timeout=_TIMEOUT_SECONDS))
    log_event(log, logging.INFO, "post trend read", post_id=post_id, rows=len(rows),
              ms=int((datetime.now(UTC) - started).total_seconds() * 1000))
    snapshots = [Snapshot(row["fetched_at"], {name: None if row[name] is None else int(row[name])
                                              for name in METRIC_FIELDS}, row["source"] == MANUAL) for row in rows]
    return snapshots[::-1]


@dataclass(frozen=True)
class TrendChart:
    metric: str
    description: str
    points: list[tuple[float, float, str, bool]]  # x, y, label, recorded manually
    path: str
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str, str]]  # x, label, text-anchor
    width: int = _W
    height: int = _H
    left: int = _LEFT
    right: int = _W - _RIGHT
    top: int = _TOP
    bottom: int = _H - _BOTTOM


def trend_chart(snapshots: list[Snapshot], when_text: Callable[[datetime], str]) -> TrendChart | None:
    """The line of the first of TREND_METRICS the snapshots have numbers for; None without one.
    `when_text` writes a snapshot's time (in the reader's zone)."""
    metric = next((m for m in TREND_METRICS if any(s.numbers.get(m) is not None for s in snapshots)), None)
    if metric is None:
        return None
    shown = [(s.fetched_at, value, s.manual) for s in snapshots if (value := s.numbers.get(metric)) is not None]
    top = nice_max(max(value for _, value, _ in shown))
    first, last = shown[0][0], shown[-1][0]
    span = (last - first).total_seconds()

    def x_of(moment: datetime) -> float:
        if span <= 0:
            return _LEFT + (_W - _RIGHT - _LEFT) / 2
        return round(_LEFT + (_W - _RIGHT - _LEFT) * (moment - first).total_seconds() / span, 2)

    def y_of(value: float) -> float:
        return round(_H - _BOTTOM - (_H - _BOTTOM - _TOP) * value / top, 2)

    points = [(x_of(at), y_of(value), f"{when_text(at)}: {count_text(value)} {metric}"
               + (" (recorded manually)" if manual else ""), manual) for at, value, manual in shown]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x},{y}" for i, (x, y, _, _) in enumerate(points))
    y_ticks = [(y_of(top * i / 2), count_text(int(top * i / 2))) for i in range(3)]
    x_ticks = ([(x_of(first), when_text(first), "start"), (x_of(last), when_text(last), "end")] if span > 0
               else [(x_of(first), when_text(first), "middle")])
    description = (f"{metric.capitalize()} over {len(shown)} snapshot{'s' if len(shown) != 1 else ''}: "
                   f"{count_text(shown[0][1])} at {when_text(first)}, {count_text(shown[-1][1])} at {when_text(last)}."
                   + (f" {manual} of them recorded manually." if (manual := sum(m for _, _, m in shown)) else ""))
    return TrendChart(metric, description, points, path, y_ticks, x_ticks)
