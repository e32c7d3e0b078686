"""BigQuery publish_log: one row per confirmed publish (schema in infra/topology.yaml)."""

from __future__ import annotations

from shared.posts.model import Post
from shared.topology import get_topology


def publish_log_row(post: Post) -> dict:
    return {
        "post_id": post.id,
        "content_id": post.content_id,
        "platform": post.platform,
        "account_id": post.account_id,
        "campaign": post.campaign,
        "platform_ids": dict(post.platform_ids),
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
    errors = bq.insert_rows_json(table_id(project), [publish_log_row(post)], row_ids=[post.id])
    if errors:
        raise RuntimeError(f"publish_log insert failed: {errors}")
