"""CSV report files (YouTube CMS style) dropped into the reports bucket: validated, loaded, summarised, moved.

validation.py reads and checks the rows (no network), loader.py runs BigQuery load jobs at most once per job
id, summary.py is the processing summary, ingest.py puts them together for one storage notification.
"""

from __future__ import annotations

import logging
from typing import Any

from shared import services
from shared.errors import TransientError
from shared.runtime.clients import storage_client
from shared.runtime.config import get_config
from shared.runtime.logging import log_event


def ingest_notification(payload: dict[str, Any], attributes: dict[str, str]):
    """The report-ingest function: one Cloud Storage notification (Pub/Sub attributes + object resource)."""
    # Imported here, not at the top: ingest reads the topology (PyYAML and pydantic), which the
    # report-ingest function's import must not pay for (cold start, tests/test_coldstart.py).
    from shared.reports.ingest import ingest_report, report_object

    obj = report_object(payload, attributes)
    if obj is None:
        log_event(logging.getLogger("postgate.reports"), logging.INFO, "not a new report; ignored",
                  event_type=attributes.get("eventType"), object=attributes.get("objectId"))
        return None
    from google.api_core.exceptions import ServerError, TooManyRequests

    config = get_config()
    try:
        return ingest_report(obj, storage=storage_client(config.project), bq=services.bigquery(),
                             db=services.repository().db, project=config.project)
    except (ServerError, TooManyRequests, OSError) as exc:  # Storage, Firestore or BigQuery unavailable
        raise TransientError(f"{type(exc).__name__}: {exc}") from None
