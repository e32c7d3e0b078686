"""The messages one function sends another after a change: content waiting for approval goes to
approval-notify, a decision's due posts to their platforms' publish topics and a rejection back to
approval-notify (which tells whoever asked). The API sends the same messages as the functions."""

from __future__ import annotations

import logging
from typing import Protocol

from shared.model.content import ContentItem
from shared.model.post import Post
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.runtime.pubsub import publish_json
from shared.topology import get_topology

log = logging.getLogger("postgate")


class CommittedDecision(Protocol):
    """What a committed decision (a link's page or the API's) says: approved or rejected, the item,
    the posts due now."""

    @property
    def decision(self) -> str | None: ...

    @property
    def content(self) -> ContentItem | None: ...

    @property
    def due_posts(self) -> list[Post]: ...


def request_approval(config: Config, content: ContentItem) -> None:
    """Ask the approvers about this exact version (content-created; approval-notify sends the links)."""
    with log_context(correlation_id=content.id):
        topic = get_topology().trigger_topic("approval-notify")
        publish_json(config.project, topic, {"content_id": content.id, "content_hash": content.content_hash},
                     correlation_id=content.id)


def after_decision(config: Config, result: CommittedDecision) -> None:
    """Once a decision is committed (link or API): due posts go to their platforms' publish topics,
    and a rejection is told to whoever asked for the approval, with the reason. Neither can undo
    the decision: a lost message leaves the post queued for dispatch, a lost notice is logged."""
    topology = get_topology()
    if result.decision == "rejected" and result.content is not None:  # approval-notify tells the requester
        content_id = result.content.id
        with log_context(correlation_id=content_id):
            try:
                publish_json(config.project, topology.trigger_topic("approval-notify"),
                             {"content_id": content_id, "content_hash": result.content.content_hash,
                              "decision": "rejected"}, correlation_id=content_id)
            except Exception as exc:  # noqa: BLE001 - the decision stands; only the notice is lost
                log_event(log, logging.ERROR, "could not send the rejection notice", error=str(exc))
    for post in result.due_posts:
        with log_context(correlation_id=post.content_id, post_id=post.id, platform=post.platform):
            try:
                publish_json(config.project, topology.publish_topic(post.platform), {"post_id": post.id},
                             correlation_id=post.content_id)
            except Exception as exc:  # noqa: BLE001 - the decision stands; the post stays queued for dispatch
                log_event(log, logging.ERROR, "could not enqueue approved post; it stays queued", error=str(exc))
