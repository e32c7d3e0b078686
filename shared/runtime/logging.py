"""Structured JSON logs in the Cloud Logging shape, with a correlation id and secret redaction.

Cloud Logging parses one JSON object per stdout line and maps `severity`, `message` and
`logging.googleapis.com/labels`. Every line carries the correlation id of the content item being
worked on, and any value registered as secret is replaced before the line is written.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

_correlation: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("postgate_log_context", default={})  # noqa: B039 - never mutated: log_context sets a merged copy
_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_REDACTED = "[REDACTED]"
# Belt and braces for values we were never told about: bearer tokens and token-ish query params.
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)((?:access_token|refresh_token|client_secret|upload_token|token|sig|signature)=)[^&\s\"']+"),
]


def register_secret(value: str | None) -> None:
    """Never let this value reach a log line (tokens, keys, signed-link tokens)."""
    if value and len(value) >= 6:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    with _secrets_lock:
        values = sorted(_secrets, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, _REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + _REDACTED, text)
    return text


@contextlib.contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Attach fields (correlation_id = content id, post_id, platform...) to every line inside."""
    merged = {**_correlation.get(), **{k: str(v) for k, v in fields.items() if v is not None}}
    token = _correlation.set(merged)
    try:
        yield
    finally:
        _correlation.reset(token)


_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelno, "DEFAULT"),
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        context = _correlation.get()
        if context:
            entry.update(context)
            if "correlation_id" in context:
                entry["logging.googleapis.com/labels"] = {"correlation_id": context["correlation_id"]}
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


def configure_logging(level: int = logging.INFO, stream=None) -> None:
    """Send every logger through one JSON handler. Safe to call more than once."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_postgate", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler._postgate = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # urllib3 logs full URLs at DEBUG; keep it quiet so signed URLs never show up.
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)


def log_event(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """Log with structured fields merged into the JSON entry."""
    logger.log(level, message, extra={"fields": fields})
