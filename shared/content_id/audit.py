"""The audit record of a decided Content ID change, written once: Firestore
`content_id_change_audit/{change id}` and one row of the BigQuery table `youtube_content_id_audit`
(the same way metadata changes are audited: a short claim, then a MERGE on the change id)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.content_id.model import AUDIT, AUDIT_TABLE, CHANGES, FINAL_STATUSES, ContentIdChange
from shared.runtime.bigquery_merge import insert_absent
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_event
from shared.stores.posts import Repository, run_with_contention_retry
from shared.topology import get_topology

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger(__name__)
AUDIT_CLAIM_SECONDS = 300


def audit_row(change: ContentIdChange, recorded_at: datetime | None = None) -> dict:
    def as_json(value) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)

    proposed = {k: v for k, v in change.proposed.items() if k != "policy_names"}
    return {
        "change_id": change.id, "kind": change.kind, "account_id": change.account_id, "channel_id": change.channel_id,
        "content_owner_id": change.content_owner_id, "video_id": change.video_id, "asset_id": change.asset_id,
        "claim_id": change.claim_id, "requested_by": change.requested_by, "requested_at": change.requested_at,
        "decision": change.decision, "decided_by": change.decided_by, "decided_at": change.decided_at,
        "decided_via": change.decided_via, "reason": change.reason, "outcome": change.outcome,
        "before": as_json(change.before), "proposed": as_json(proposed), "after": as_json(change.after),
        "platform_response": as_json(change.platform_response), "failure_reason": change.failure_reason,
        "recorded_at": recorded_at or change.updated_at,
    }


def write_audit(repo: Repository, bq: bigquery.Client, project: str, change: ContentIdChange,
                now: datetime | None = None) -> bool:
    """False when the row is already written, another writer holds it, or BigQuery failed (the status
    poll retries); the Firestore record is written either way."""
    claimed = _claim_audit(repo, change.id, now or utcnow())
    if claimed is None:
        return False
    ref = repo.db.collection(CHANGES).document(change.id)
    row = audit_row(claimed)
    repo.db.collection(AUDIT).document(change.id).set(row)
    try:
        topology = get_topology()
        table = f"{project}.{topology.bigquery.dataset}.{AUDIT_TABLE}"
        insert_absent(table, ["change_id"], topology.bigquery.tables[AUDIT_TABLE].schema_, [row]).run(bq, timeout=60)
    except Exception as exc:  # noqa: BLE001 - the change stands; the Firestore record says the row is missing
        log_event(log, logging.ERROR, "content id audit row not written to BigQuery; the status poll retries",
                  error=f"{type(exc).__name__}: {exc}")
        ref.update({"audit_claim_until": None})
        return False
    ref.update({"audit_written": True, "audit_claim_until": None})
    return True


def _claim_audit(repo: Repository, change_id: str, now: datetime) -> ContentIdChange | None:
    from google.cloud import firestore

    ref = repo.db.collection(CHANGES).document(change_id)

    @firestore.transactional
    def _take(transaction):
        snap = ref.get(transaction=transaction)
        if not snap.exists:
            return None
        change = ContentIdChange.model_validate(snap.to_dict())
        if change.status not in FINAL_STATUSES or change.audit_written:
            return None
        if change.audit_claim_until and change.audit_claim_until > now:
            return None
        transaction.update(ref, {"audit_claim_until": now + timedelta(seconds=AUDIT_CLAIM_SECONDS)})
        return change

    return run_with_contention_retry(lambda: _take(repo.db.transaction()))
