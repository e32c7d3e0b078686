"""The status poll's share of YouTube metadata changes: apply the approved changes a deciding
request left (it died, or a retry or a lapsed lease is due) and write owed audit rows.
shared.entrypoints hands settle_owed_changes to the poll, so the pipeline never imports this feature."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.stores.posts import Repository
from shared.stores.protocols import SecretStore
from shared.youtube_sync.applying import apply_approved
from shared.youtube_sync.audit import write_audit
from shared.youtube_sync.model import CHANGES, FINAL_STATUSES, MetadataChange
from shared.youtube_sync.service import Publish, audit_and_tell, publisher

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger(__name__)
OWED_BATCH = 20


def settle_owed_changes(*, repo: Repository, config: Config, secrets: SecretStore, bq: bigquery.Client, now: datetime | None = None) -> dict:
    """Each status-poll tick: apply approved changes whose deciding request died (after the grace
    period), whose retry is due or whose applier's lease ran out; then write owed audit rows.
    Never raises: a failure here must not stop the tick, and the next tick tries again."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    now = now or utcnow()
    done = {"applied": 0, "failed": 0, "waiting": 0, "audited": 0, "errors": 0}
    publish: Publish | None = None
    changes = repo.db.collection(CHANGES)
    try:
        due = [s.id for s in changes.where(filter=FieldFilter("status", "in", ["approved", "applying"]))
               .where(filter=FieldFilter("apply_due_at", "<=", now)).order_by("apply_due_at").limit(OWED_BATCH).stream()]
    except Exception as exc:  # noqa: BLE001
        log_event(log, logging.ERROR, "could not list metadata changes to apply", error=str(exc))
        due, done["errors"] = [], done["errors"] + 1
    for change_id in due:
        with log_context(correlation_id=change_id):
            try:
                change = apply_approved(repo, config, secrets, change_id, now=now, due_only=True)
                if change is None:
                    continue
                if change.status in FINAL_STATUSES:
                    done["applied" if change.outcome == "applied" else "failed"] += 1
                    publish = publish or publisher(config)
                    audit_and_tell(repo, bq, config, change, publish)
                else:
                    done["waiting"] += 1
            except Exception as exc:  # noqa: BLE001 - the lease lapses and a later tick settles it
                done["errors"] += 1
                log_event(log, logging.ERROR, "metadata change apply failed; a later tick retries",
                          error=f"{type(exc).__name__}: {exc}")
    try:
        owed = [MetadataChange.model_validate(s.to_dict()) for s in
                changes.where(filter=FieldFilter("status", "in", list(FINAL_STATUSES)))
                .where(filter=FieldFilter("audit_written", "==", False)).limit(OWED_BATCH).stream()]
        for change in owed:
            with log_context(correlation_id=change.id):
                done["audited"] += write_audit(repo, bq, config.project, change, now)
    except Exception as exc:  # noqa: BLE001
        done["errors"] += 1
        log_event(log, logging.ERROR, "owed metadata audit rows not written", error=f"{type(exc).__name__}: {exc}")
    if any(done.values()):
        log_event(log, logging.INFO, "metadata changes settled by the status poll", **done)
    return done
