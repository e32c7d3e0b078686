"""generate and generate-http: a brief becomes a draft awaiting approval."""

from __future__ import annotations

from typing import Any

from shared.content.drafts import create_draft, parse_brief
from shared.content.generation import generator_from_config
from shared.handlers.messages import request_approval
from shared.model.content import ContentItem
from shared.services import get_services


def generate(brief_payload: dict[str, Any], idempotency_key: str | None = None) -> ContentItem:
    """Brief -> draft -> content-created message. Returns the ContentItem."""
    services = get_services()
    config = services.config
    brief = parse_brief(brief_payload)
    content, _created = create_draft(
        brief, generator=generator_from_config(config), repo=services.repository, media_store=services.media,
        media_bucket=config.media_bucket, idempotency_key=idempotency_key)
    # Published even on a redelivery: approval-notify is idempotent per content version.
    request_approval(config, content)
    return content
