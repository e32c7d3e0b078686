"""BigQuery publish_log: one row per confirmed publish (schema in infra/topology.yaml)."""

from __future__ import annotations

import json

from shared.posts.model import Post
from shared.topology import get_topology


def publish_log_row(post: Post) -> dict:
    return {
        "post_id": post.id,
        "content_id": post.content_id,
        "platform": post.platform,
        "account_id": post.account_id,
        "campaign": post.campaign,
        "platform_ids": json.dumps(dict(post.platform_ids), sort_keys=True),  # insertAll takes JSON columns as strings
        "share_url": post.share_url,
        "approved_by": post.approved_by or "",
        "approved_at": post.approved_at.isoformat() if post.approved_at else None,
        "published_at": post.published_at.isoformat() if post.published_at else None,
        "attempts": post.attempt_count,
    }


def table_id(project: str) -> str:
    return f"{project}.{get_topology().bigquery.dataset}.publish_log"


def write_publish_log(bq, project: str, post: Post) -> None:
    """Streaming insert with the post id as insertId, so a retried write is deduplicated."""
    from google.cloud import bigquery

    # Bounded: the default retry deadline (10 min) would outlive the tick; the next tick retries.
    errors = bq.insert_rows_json(table_id(project), [publish_log_row(post)], row_ids=[post.id],
                                 retry=bigquery.DEFAULT_RETRY.with_deadline(30), timeout=30)
    if errors:
        raise RuntimeError(f"publish_log insert failed: {errors}")
