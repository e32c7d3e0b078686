"""Live status: `GET /contents/{id}/events`, a Server-Sent Events stream of the item's posts."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from shared.api.errors import not_found
from shared.api.routes.approvals import ContentPath

blueprint = APIBlueprint("events", __name__, abp_tags=[Tag(name="live status")], abp_security=[{"bearer": []}])

_EVENT_STREAM = {
    "description": "Server-Sent Events: `event: post` (id `<post_id>:<n>`, data {post_id, status, platform, "
                   "account_id, share_url, fail_reason, at}) for each post's current state and then each status "
                   "change; comment heartbeats about every 15 s; `event: end` when every post is final or at the "
                   "time limit.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


@blueprint.get("/contents/<content_id>/events", responses={200: _EVENT_STREAM})
def content_events(path: ContentPath):
    """Watch a content item's posts move (fed by a Firestore listener, not polling)."""
    import flask

    from shared import services
    from shared.posts.live_status import content_events as stream
    from shared.runtime.config import get_config

    repo = services.repository()
    if repo.get_content(path.content_id) is None:
        raise not_found("content", path.content_id)
    events = stream(repo.db, path.content_id, stream_seconds=get_config().api_stream_seconds)
    return flask.Response(flask.stream_with_context(events), status=200, content_type="text/event-stream",
                          headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
