"""report-ingest: one Cloud Storage notification for a CSV report dropped into the reports bucket."""

from __future__ import annotations

import logging
from typing import Any

from google.api_core.exceptions import ServerError, TooManyRequests

from shared.errors import TransientError
from shared.reports.ingest import ingest_report, report_object
from shared.reports.summary import ReportSummary
from shared.runtime.clients import storage_client
from shared.runtime.logging import log_event
from shared.services import get_services


def ingest_notification(payload: dict[str, Any], attributes: dict[str, str]) -> ReportSummary | None:
    """The report-ingest function: one Cloud Storage notification (Pub/Sub attributes + object resource)."""
    obj = report_object(payload, attributes)
    if obj is None:
        log_event(logging.getLogger("postgate.reports"), logging.INFO, "not a new report; ignored",
                  event_type=attributes.get("eventType"), object=attributes.get("objectId"))
        return None
    services = get_services()
    config = services.config
    try:
        return ingest_report(obj, storage=storage_client(config.project), bq=services.bigquery(),
                             repo=services.repository, project=config.project)
    except (ServerError, TooManyRequests, OSError) as exc:  # Storage, Firestore or BigQuery unavailable
        raise TransientError(f"{type(exc).__name__}: {exc}") from None
