"""The status poll's share of Content ID changes: apply the approved changes a deciding request left
(it died, or a retry or a lapsed lease is due) and write owed audit rows. shared.handlers.status_poll
hands settle_owed to the poll, so the pipeline never imports this feature."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from shared.content_id import service
from shared.content_id.applying import apply_approved
from shared.content_id.audit import write_audit
from shared.content_id.model import CHANGES, FINAL_STATUSES, ContentIdChange
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.stores.posts import Repository
from shared.stores.protocols import SecretStore

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger(__name__)
OWED_BATCH = 20


def settle_owed(*, repo: Repository, config: Config, secrets: SecretStore, bq: bigquery.Client,
                now: datetime | None = None) -> dict:
    """Each status-poll tick: apply approved changes a deciding request left (after the grace period),
    whose retry is due or whose lease ran out; then write owed audit rows. Never raises."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    now = now or utcnow()
    done = {"applied": 0, "failed": 0, "waiting": 0, "audited": 0, "errors": 0}
    changes = repo.db.collection(CHANGES)
    try:
        due = [s.id for s in changes.where(filter=FieldFilter("status", "in", ["approved", "applying"]))
               .where(filter=FieldFilter("apply_due_at", "<=", now)).order_by("apply_due_at").limit(OWED_BATCH).stream()]
        for change_id in due:
            with log_context(correlation_id=change_id):
                change = apply_approved(repo, config, secrets, change_id, now=now, due_only=True)
                if change is None:
                    continue
                if change.status in FINAL_STATUSES:
                    done["applied" if change.outcome == "applied" else "failed"] += 1
                    service.audit_and_tell(repo, bq, config, change, service.publisher(config))
                else:
                    done["waiting"] += 1
        owed = [ContentIdChange.model_validate(s.to_dict()) for s in
                changes.where(filter=FieldFilter("status", "in", list(FINAL_STATUSES)))
                .where(filter=FieldFilter("audit_written", "==", False)).limit(OWED_BATCH).stream()]
        for change in owed:
            done["audited"] += write_audit(repo, bq, config.project, change, now)
    except Exception as exc:  # noqa: BLE001 - a lease lapses and a later tick settles it
        done["errors"] += 1
        log_event(log, logging.ERROR, "content id changes not settled this tick", error=f"{type(exc).__name__}: {exc}")
    if any(done.values()):
        log_event(log, logging.INFO, "content id changes settled by the status poll", **done)
    return done
