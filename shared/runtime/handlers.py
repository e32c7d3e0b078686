"""The one place that maps outcomes to ack / retry for Pub/Sub-triggered functions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from shared.errors import BadMessage, ConfigError, PermanentError, TransientError, ValidationError
from shared.runtime.config import get_config
from shared.runtime.logging import configure_logging, log_event
from shared.runtime.pubsub import decode_cloud_event, message_age_seconds

log = logging.getLogger("postgate.handler")
_configured = False


def ensure_logging() -> None:
    global _configured
    if not _configured:
        configure_logging()
        _configured = True


class Retry(Exception):
    """Raised to Functions Framework so the message is redelivered (HTTP 500 to the push)."""


def handle_pubsub(event, handler: Callable[[dict[str, Any], dict[str, str], str], None]) -> None:
    """Decode, drop stale or unreadable messages (ack), run the handler, map errors."""
    ensure_logging()
    message_id = str(getattr(event, "get", lambda _k, _d=None: None)("id") or "")
    try:
        payload, attributes, published = decode_cloud_event(event)
    except BadMessage as exc:
        log_event(log, logging.ERROR, "unparseable message acked and dropped", message_id=message_id, error=str(exc))
        return
    age = message_age_seconds(published)
    if age > get_config().max_message_age_seconds:
        # A poison message must not retry forever (python-docs-samples: tips-avoid-infinite-retries).
        log_event(log, logging.ERROR, "message too old; dropped", message_id=message_id, age_seconds=round(age))
        return
    try:
        handler(payload, attributes, message_id)
    except (BadMessage, ValidationError, PermanentError) as exc:
        log_event(log, logging.ERROR, "message refused; acked", message_id=message_id,
                  error_type=type(exc).__name__, error=str(exc))
    except (TransientError, ConfigError) as exc:
        log_event(log, logging.WARNING, "message will be retried", message_id=message_id,
                  error_type=type(exc).__name__, error=str(exc))
        raise Retry(str(exc)) from None
