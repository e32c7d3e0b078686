"""The audit record of a decided YouTube metadata change, written once: Firestore
`metadata_change_audit/{change id}` and one row of the BigQuery table `youtube_metadata_audit`."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.runtime.bigquery_merge import insert_absent
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_event
from shared.stores.posts import Repository, run_with_contention_retry
from shared.topology import get_topology
from shared.youtube_sync.model import AUDIT, CHANGES, FINAL_STATUSES, MetadataChange

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger(__name__)
AUDIT_TABLE = "youtube_metadata_audit"
AUDIT_CLAIM_SECONDS = 300  # longer than one MERGE takes; a crashed writer's claim lapses after it


def audit_row(change: MetadataChange, recorded_at: datetime | None = None) -> dict:
    def as_json(value) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)

    return {
        "change_id": change.id, "post_id": change.post_id, "content_id": change.content_id,
        "video_id": change.video_id, "account_id": change.account_id, "campaign": change.campaign,
        "requested_by": change.requested_by, "requested_at": change.requested_at,
        "decision": change.decision, "decided_by": change.decided_by, "decided_at": change.decided_at,
        "decided_via": change.decided_via, "reason": change.reason, "outcome": change.outcome,
        "before": as_json(change.before.model_dump()), "proposed": as_json(change.proposed.given()),
        "after": as_json(change.after.model_dump() if change.after else None),
        "platform_response": as_json(change.platform_response), "failure_reason": change.failure_reason,
        "recorded_at": recorded_at or change.updated_at,
    }


def write_audit(repo: Repository, bq: bigquery.Client, project: str, change: MetadataChange, now: datetime | None = None) -> bool:
    """Firestore `metadata_change_audit/{change id}` and one BigQuery row keyed by the change id.
    One writer at a time (a short claim, as publish_log), and the row goes in by a MERGE on the
    change id, so a writer that died after the insert leaves nothing to double. False when the row
    is already written, another writer holds it, or BigQuery failed (the status poll retries)."""
    claimed = _claim_audit(repo, change.id, now or utcnow())
    if claimed is None:
        return False
    ref = repo.db.collection(CHANGES).document(change.id)
    row = audit_row(claimed)
    repo.db.collection(AUDIT).document(change.id).set(row)
    try:
        _merge_row(bq, project, row)
    except Exception as exc:  # noqa: BLE001 - the change stands; the Firestore record says the row is missing
        log_event(log, logging.ERROR, "audit row not written to BigQuery; the status poll retries",
                  error=f"{type(exc).__name__}: {exc}")
        ref.update({"audit_claim_until": None})
        return False
    ref.update({"audit_written": True, "audit_claim_until": None})
    return True


def _claim_audit(repo: Repository, change_id: str, now: datetime) -> MetadataChange | None:
    from google.cloud import firestore

    ref = repo.db.collection(CHANGES).document(change_id)

    @firestore.transactional
    def _take(transaction):
        snap = ref.get(transaction=transaction)
        if not snap.exists:
            return None
        change = MetadataChange.model_validate(snap.to_dict())
        if change.status not in FINAL_STATUSES or change.audit_written:
            return None
        if change.audit_claim_until and change.audit_claim_until > now:
            return None
        transaction.update(ref, {"audit_claim_until": now + timedelta(seconds=AUDIT_CLAIM_SECONDS)})
        return change

    return run_with_contention_retry(lambda: _take(repo.db.transaction()))


def _merge_row(bq: bigquery.Client, project: str, row: dict) -> None:
    merge_rows(bq, project, [row])


def merge_rows(bq: bigquery.Client, project: str, rows: list[dict]) -> None:
    """The BigQuery emulator ignores insertIds (and BigQuery dedupes them only best effort), so rows are
    inserted by a MERGE on change_id, as publish_log's rows are on post_id: a row written twice is one row."""
    topology = get_topology()
    table = f"{project}.{topology.bigquery.dataset}.{AUDIT_TABLE}"
    insert_absent(table, ["change_id"], topology.bigquery.tables[AUDIT_TABLE].schema_, rows).run(bq, timeout=60)
