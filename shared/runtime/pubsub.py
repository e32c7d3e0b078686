"""Publishing JSON messages and decoding Pub/Sub push / CloudEvent envelopes."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from shared.errors import BadMessage
from shared.runtime.clients import publisher_client


def publish_json(project: str, topic: str, payload: dict[str, Any], **attributes: str) -> str:
    """Publish and wait for the server's message id (so a failure raises here, not later)."""
    client = publisher_client()
    data = json.dumps(payload, default=str).encode("utf-8")
    future = client.publish(client.topic_path(project, topic), data, **{k: str(v) for k, v in attributes.items()})
    return future.result(timeout=30)


def decode_cloud_event(event) -> tuple[dict[str, Any], dict[str, str], datetime | None]:
    """(payload, attributes, publish time) from a Pub/Sub CloudEvent; BadMessage if unreadable."""
    try:
        message = event.data["message"]
        raw = base64.b64decode(message.get("data") or "")
        payload = json.loads(raw.decode("utf-8")) if raw else {}
    except (KeyError, TypeError, ValueError, UnicodeDecodeError, RecursionError) as exc:  # nesting bomb: unreadable
        raise BadMessage(f"cannot decode Pub/Sub message: {type(exc).__name__}: {exc}") from None
    if not isinstance(payload, dict):
        raise BadMessage("Pub/Sub message data is JSON but not an object")
    published = message.get("publishTime") or message.get("publish_time")
    when = None
    if published:
        try:
            when = datetime.fromisoformat(published.replace("Z", "+00:00"))
        except ValueError:
            when = None
    return payload, dict(message.get("attributes") or {}), when


def message_age_seconds(published: datetime | None) -> float:
    if published is None:
        return 0.0
    return (datetime.now(UTC) - published).total_seconds()
