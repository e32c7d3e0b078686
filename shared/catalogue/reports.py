"""The CMS CSV report rows joined into the catalogue by video id (docs/catalogue.md#the-report-join).

report-ingest loads each report's good rows into BigQuery `youtube_report_rows` (shared/reports); a
video may appear in many reports. The catalogue takes, for each of its videos, the row of the report
loaded last (latest `loaded_at`; then the later file name and line) and keeps its claimed status and
policy on the video's document. Joined when a refresh ends, not when a list is read: claimed status is
a filter, and a list answered from Firestore should not wait on a BigQuery query.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from shared.model.catalogue import claimed_status_of
from shared.reports.ingest import ROWS_TABLE
from shared.runtime.logging import log_event
from shared.topology import get_topology

log = logging.getLogger(__name__)
QUERY_TIMEOUT_SECONDS = 120.0


def latest_report_rows(bq, project: str, video_ids: list[str]) -> dict[str, dict[str, Any]]:
    """video id -> its latest report row (claimed_status, policy, report_file, line, loaded_at, views)."""
    from google.cloud import bigquery

    if not video_ids:
        return {}
    table = f"{project}.{get_topology().bigquery.dataset}.{ROWS_TABLE}"
    sql = (f"SELECT video_id, claimed_status, policy, report_file, line, loaded_at, views FROM ("
           f"SELECT *, ROW_NUMBER() OVER (PARTITION BY video_id ORDER BY loaded_at DESC, report_file DESC, line DESC)"
           f" AS recency FROM `{table}` WHERE video_id IN UNNEST(@ids)) WHERE recency = 1")
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ArrayQueryParameter("ids", "STRING", sorted(video_ids))])
    rows = list(bq.query(sql, job_config=config).result(timeout=QUERY_TIMEOUT_SECONDS))
    log_event(log, logging.INFO, "report rows read for the catalogue", videos=len(video_ids), rows=len(rows))
    return {str(r["video_id"]): {"claimed_status": r["claimed_status"], "policy": r["policy"],
                                 "report_file": r["report_file"], "line": r["line"], "loaded_at": r["loaded_at"],
                                 "views": r["views"]} for r in rows}


def joined_fields(row: dict[str, Any] | None) -> dict[str, Any]:
    """The fields a video's document gets from its report row (or from having none)."""
    if row is None:
        return {"claimed_status": "none", "policy": None, "report": None}
    loaded = row.get("loaded_at")
    return {"claimed_status": claimed_status_of(row.get("claimed_status")), "policy": row.get("policy") or None,
            "report": {"claimed_status": row.get("claimed_status"), "policy": row.get("policy"),
                       "report_file": row.get("report_file"), "line": row.get("line"), "views": row.get("views"),
                       "loaded_at": loaded if isinstance(loaded, datetime) else None}}


def changed_joins(stored: dict[str, dict[str, Any]], rows: dict[str, dict[str, Any]],
                  video_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The videos whose joined fields differ from what their documents hold (stored: id -> fields)."""
    updates = {}
    for video_id in sorted(video_ids):
        fields = joined_fields(rows.get(video_id))
        current = {**joined_fields(None), **{k: v for k, v in stored.get(video_id, {}).items() if v is not None}}
        if any(_comparable(current.get(k)) != _comparable(v) for k, v in fields.items()):
            updates[video_id] = fields
    return updates


def _comparable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.timestamp()
    return value
