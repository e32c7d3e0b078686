"""publish-<platform>: one approved post goes to its platform (one deployed function per platform)."""

from __future__ import annotations

from typing import Any

from shared.errors import BadMessage, TransientError
from shared.handlers.messages import request_approval
from shared.publishing.publisher import PublishOutcome, publish_post
from shared.services import get_services


def publish(payload: dict[str, Any]) -> PublishOutcome:
    post_id = payload.get("post_id")
    if not isinstance(post_id, str) or not post_id:
        raise BadMessage("publish message without post_id")
    services = get_services()
    config = services.config
    outcome = publish_post(post_id, repo=services.repository, config=config, secrets=services.secrets,
                           media_store=services.media, request_approval=lambda c: request_approval(config, c))
    if outcome.retry:
        raise TransientError(outcome.detail)
    return outcome
