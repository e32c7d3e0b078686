"""Live status: `GET /contents/{id}/events`, a Server-Sent Events stream of the item's posts."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator

import flask
from flask_openapi3 import APIBlueprint, Tag

from shared.api.auth import current_principal
from shared.api.errors import not_found
from shared.api.routes.approvals import ContentPath
from shared.api.streams import StreamSlots, request_threads
from shared.runtime.config_model import Config
from shared.services import get_services
from shared.stores.live_status import content_events as stream
from shared.stores.posts import Repository

blueprint = APIBlueprint("events", __name__, abp_tags=[Tag(name="live status")], abp_security=[{"bearer": []}])

_EVENT_STREAM = {
    "description": "Server-Sent Events: `event: post` (id `<post_id>:<n>`, data {post_id, status, platform, "
                   "account_id, share_url, fail_reason, at}) for each post's current state and then each status "
                   "change; comment heartbeats about every 15 s; `event: end` when every post is final, after "
                   "2 minutes without a change, or at the time limit. A user may hold a few streams at once "
                   "(more: 429) and an instance a bounded number (more: 503), both with Retry-After.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


@blueprint.get("/contents/<content_id>/events", responses={200: _EVENT_STREAM})
def content_events(path: ContentPath):
    """Watch a content item's posts move (fed by a Firestore listener, not polling). Streams are
    bounded per user (429) and per instance (503), see shared/api/streams.py."""
    repo = get_services().repository
    if repo.get_content(path.content_id) is None:
        raise not_found("content", path.content_id)
    return event_stream(repo, path.content_id, current_principal().user)


def event_stream(repo: Repository, content_id: str, user: str) -> flask.Response:
    """The live-status stream of a content item as a response, in one of this instance's stream slots
    (`user`'s: ApiError 429 or 503 when none is free). The API's route and the console's serve it."""
    config = get_services().config
    return stream_response(user, lambda: stream(repo, content_id, stream_seconds=config.api_stream_seconds,
                                                heartbeat_seconds=config.api_stream_heartbeat_seconds,
                                                idle_seconds=config.api_stream_idle_seconds))


def stream_response(user: str, make_events: Callable[[], Generator[str, None, None]]) -> flask.Response:
    """A Server-Sent Events stream (`make_events()`'s text) as a response, in one of `user`'s stream slots
    of this instance (ApiError 429 or 503 when none is free); the slot is given back when it ends."""
    config = get_services().config
    release = stream_slots(config).acquire(user)
    try:
        events = make_events()
        response = flask.Response(flask.stream_with_context(_releasing(events, release)), status=200,
                                  content_type="text/event-stream",
                                  headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    except BaseException:
        release()
        raise
    response.call_on_close(release)  # also when the body was never read (the client left at once)
    return response


def _releasing(events: Generator[str, None, None], release: Callable[[], None]) -> Iterator[str]:
    """The stream's text; its slot is given back as soon as it ends, whichever way."""
    try:
        yield from events
    finally:
        events.close()
        release()


def stream_slots(config: Config) -> StreamSlots:
    """This instance's stream counts (kept on the app: one per instance, whichever route opens the stream)."""
    extensions = flask.current_app.extensions
    slots = extensions.get("postgate_streams")
    if slots is None:
        per_instance = config.api_streams_per_instance or max(1, request_threads() // 2)
        slots = extensions.setdefault("postgate_streams", StreamSlots(per_instance, config.api_streams_per_user))
    return slots
