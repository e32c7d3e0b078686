"""dispatch: each Scheduler tick sends due scheduled posts, and parked posts whose wait is over, to
their platforms' publish topics."""

from __future__ import annotations

from shared.model.post import Post
from shared.publishing.dispatch import LOST_MESSAGE_RESEND_SECONDS, DispatchSummary, dispatch_due
from shared.runtime.pubsub import publish_json
from shared.services import get_services
from shared.topology import get_topology


def dispatch() -> DispatchSummary:
    services = get_services()
    config = services.config
    topology = get_topology()

    def send(post: Post) -> None:
        publish_json(config.project, topology.publish_topic(post.platform), {"post_id": post.id},
                     correlation_id=post.content_id)

    return dispatch_due(repo=services.repository, send=send, batch_size=config.poll_batch_size,
                        redispatch_seconds=LOST_MESSAGE_RESEND_SECONDS)
