"""The audit rows of a bulk metadata change: one per video with an outcome, Firestore
`metadata_change_audit/{bulk id}--{video id}` and BigQuery `youtube_metadata_audit` (change_id the same),
written by a MERGE on change_id so a row written twice stays one."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from shared.runtime.logging import log_event
from shared.stores.posts import Repository
from shared.youtube_sync.audit import merge_rows
from shared.youtube_sync.bulk import all_items, get_bulk
from shared.youtube_sync.bulk_model import BULKS, FINAL_ITEM_STATUSES, ITEMS, BulkChange, BulkItem, item_id
from shared.youtube_sync.model import AUDIT

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger(__name__)
AUDIT_CAMPAIGN = "youtube-catalogue"  # the campaign column and the approval message's campaign


def write_audit(repo: Repository, bq: bigquery.Client, project: str, bulk_id: str) -> int:
    """The audit rows of the items with an outcome and none yet: BigQuery first (a MERGE on change_id, so
    a row written twice stays one), then the Firestore records and the items' `audit_written`. Returns how
    many; 0 also when BigQuery failed (a later run retries)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    bulk = get_bulk(repo, bulk_id)
    if bulk is None:
        return 0
    query = (repo.db.collection(ITEMS).where(filter=FieldFilter("bulk_id", "==", bulk_id))
             .where(filter=FieldFilter("audit_written", "==", False)))
    owed = [i for i in (BulkItem.model_validate(s.to_dict()) for s in query.stream()) if i.status in FINAL_ITEM_STATUSES]
    if owed:
        rows = [audit_row(bulk, item) for item in owed]
        try:
            merge_rows(bq, project, rows)
        except Exception as exc:  # noqa: BLE001 - the outcomes stand; the items say their rows are missing
            log_event(log, logging.ERROR, "bulk audit rows not written to BigQuery; retried later",
                      error=f"{type(exc).__name__}: {exc}")
            return 0
        for start in range(0, len(owed), 200):
            batch = repo.db.batch()
            for row in rows[start:start + 200]:
                batch.set(repo.db.collection(AUDIT).document(row["change_id"]), row)
                batch.update(repo.db.collection(ITEMS).document(row["change_id"]), {"audit_written": True})
            batch.commit()
    if bulk.status in ("done", "rejected") and not bulk.audited and bulk.progress.remaining == 0:
        still = [i for i in all_items(repo, bulk_id) if not i.audit_written]
        if not still:
            repo.db.collection(BULKS).document(bulk_id).update({"audited": True})
    return len(owed)


def audit_row(bulk: BulkChange, item: BulkItem) -> dict:
    def as_json(value) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)

    return {"change_id": item_id(bulk.id, item.video_id), "post_id": None, "content_id": None,
            "video_id": item.video_id, "account_id": item.account_id, "campaign": AUDIT_CAMPAIGN,
            "requested_by": bulk.requested_by, "requested_at": bulk.requested_at, "decision": bulk.decision,
            "decided_by": bulk.decided_by, "decided_at": bulk.decided_at, "decided_via": bulk.decided_via,
            "reason": bulk.reason, "outcome": item.status, "before": as_json(item.before.model_dump()),
            "proposed": as_json(item.proposed.given()),
            "after": as_json(item.after.model_dump() if item.after else None),
            "platform_response": as_json(item.platform_response), "failure_reason": item.failure_reason,
            "recorded_at": item.applied_at or bulk.updated_at}
