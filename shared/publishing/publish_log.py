"""BigQuery publish_log: exactly one row per confirmed publish (schema in infra/topology.yaml).

Two guards make it exactly one, whatever the overlap of poll runs and whether or not BigQuery
honours insertIds (the emulator ignores them; BigQuery dedupes only best effort):
- a poll run takes a short Firestore lease on the post before writing (`claim_publish_log`), so
  overlapping runs never write the same post at once;
- the write is a MERGE on post_id that inserts only rows not already there
  (shared.runtime.bigquery_merge), so a writer that crashed after the insert and before marking
  the post leaves nothing to duplicate.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.model.post import Post
from shared.runtime.bigquery_merge import insert_absent
from shared.stores.posts import Repository
from shared.topology import get_topology

if TYPE_CHECKING:
    from google.cloud import bigquery

CLAIM_SECONDS = 300  # longer than one MERGE takes; a crashed writer's claim lapses after it


def publish_log_row(post: Post) -> dict:
    return {
        "post_id": post.id,
        "content_id": post.content_id,
        "platform": post.platform,
        "account_id": post.account_id,
        "campaign": post.campaign,
        "platform_ids": json.dumps(dict(post.platform_ids), sort_keys=True),
        "share_url": post.share_url,
        "approved_by": post.approved_by or "",
        "approved_at": post.approved_at,
        "published_at": post.published_at,
        "attempts": post.attempt_count,
    }


def table_id(project: str) -> str:
    return f"{project}.{get_topology().bigquery.dataset}.publish_log"


def claim_publish_log(repo: Repository, post_id: str, now: datetime) -> Post | None:
    """Take the write of this post's row for CLAIM_SECONDS; None if it is written or another run holds it."""

    def decide(post: Post) -> Post | None:
        if post.status != "published" or post.publish_log_written:
            return None
        if post.publish_log_claim_until and post.publish_log_claim_until > now:
            return None
        return post.model_copy(update={"publish_log_claim_until": now + timedelta(seconds=CLAIM_SECONDS)})

    _, after = repo.change_post(post_id, decide)
    return after


def write_publish_log(bq: bigquery.Client, project: str, posts: list[Post]) -> None:
    """One MERGE for the batch: inserts the rows whose post_id is not in the table yet."""
    if not posts:
        return
    schema = get_topology().bigquery.tables["publish_log"].schema_
    insert_absent(table_id(project), ["post_id"], schema, [publish_log_row(p) for p in posts]).run(bq, timeout=60)
