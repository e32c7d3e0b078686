"""Where a fetch's numbers go: BigQuery post_metrics (append-only snapshots) and the post in Firestore.

Rows are deduplicated by `snapshot_id` = (post id, run id): a work message delivered twice (Pub/Sub
is at-least-once; a TransientError asks for it again) writes each snapshot once. insertIds would
not do: BigQuery dedups them best effort only, within about a minute, and the emulator ignores
them. So the write is one MERGE per message that inserts only the snapshot ids not in the table
yet; it behaves the same on BigQuery and the emulator. Its ON clause also bounds the target to
partitions at or after the run's start (every row of a run is fetched after it starts), so the
MERGE reads a few days of partitions, not the whole history. post_metrics is written only by
this MERGE (no streaming inserts), so DML never meets a streaming buffer.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from shared.model.analytics import MetricsRefused, PlatformMetrics, engagement_rate
from shared.runtime.bigquery_merge import PartitionBound, insert_absent
from shared.topology import get_topology

if TYPE_CHECKING:
    from google.cloud import bigquery

TABLE = "post_metrics"
METRIC_FIELDS = ("views", "likes", "comments", "shares", "saves", "reach", "impressions")
PULLED = "platform"  # the `source` of a pulled row; manual ones are shared/analytics/manual.py's


def snapshot_id(post_id: str, run_id: str) -> str:
    """Stable per post and run: the same work message always produces the same ids."""
    return f"{post_id}@{run_id}"


def metrics_row(post, platform_post_id: str, metrics: PlatformMetrics, *, run_id: str, fetched_at: datetime) -> dict:
    return {
        "snapshot_id": snapshot_id(post.id, run_id),
        "post_id": post.id,
        "content_id": post.content_id,
        "campaign": post.campaign,
        "platform": post.platform,
        "account_id": post.account_id,
        "platform_post_id": platform_post_id,
        "fetched_at": fetched_at,
        **{name: getattr(metrics, name) for name in METRIC_FIELDS},
        "engagement_rate": engagement_rate(metrics),
        "source": PULLED,
        "revision": None,
        "recorded_by": None,
    }


def latest_metrics(metrics: PlatformMetrics) -> dict:
    """The `metrics` map kept on the post: the last numbers and their engagement rate."""
    return {**{name: getattr(metrics, name) for name in METRIC_FIELDS}, "engagement_rate": engagement_rate(metrics)}


def table_id(project: str) -> str:
    return f"{project}.{get_topology().bigquery.dataset}.{TABLE}"


def write_rows(bq: bigquery.Client, project: str, rows: list[dict], run_started_at: datetime) -> None:
    """Insert the rows whose snapshot_id is not in post_metrics yet: one MERGE (shared.runtime.bigquery_merge),
    reading only the partitions at or after the run's start."""
    if not rows:
        return
    schema = get_topology().bigquery.tables[TABLE].schema_
    merge = insert_absent(table_id(project), ["snapshot_id"], schema, rows,
                          partition=PartitionBound("fetched_at", run_started_at))
    merge.run(bq, timeout=120)  # on failure Pub/Sub redelivers the work message


def post_update(result: PlatformMetrics | MetricsRefused, *, run_id: str, fetched_at: datetime,
                next_at: datetime | None) -> dict:
    """Fields written on the post. A refusal keeps the last good numbers and says why."""
    update: dict[str, object] = {"metrics_next_at": next_at, "metrics_run_id": run_id, "metrics_checked_at": fetched_at}
    if isinstance(result, PlatformMetrics):
        update.update({"metrics": latest_metrics(result), "metrics_fetched_at": fetched_at, "metrics_refused": None})
    else:
        update["metrics_refused"] = result.reason
    return update
