"""Live status of a content item's posts as Server-Sent Events, fed by a Firestore listener.

A real-time listener (`Query.on_snapshot`) on the item's posts hands each snapshot to the stream
through a queue: first one event per post with its current state, then one each time a post's
status changes. An instance runs one listener per content item however many streams watch it (a
team's dashboards on one launch are one listener, not fifty; shared/stores/shared_listeners.py): the
first stream starts it, the last one to leave stops it, and a stream that joins late starts from the
latest snapshot. Comment lines keep idle connections (and proxies) open and let the server notice a
client that left. The stream ends with `event: end` once every post is final, when nothing
changed for `idle_seconds`, or at the time limit; the listener is always unsubscribed when the
stream stops, the client's leaving included.
"""

from __future__ import annotations

import json
import logging
import queue
import time
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from shared.model.state_machine import TERMINAL
from shared.runtime.logging import log_event
from shared.stores.posts import POSTS, Repository
from shared.stores.shared_listeners import SharedListeners, Watch, shared_listeners

if TYPE_CHECKING:
    from google.cloud import firestore

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 15.0


@dataclass(frozen=True)
class PostState:
    """What a dashboard shows of one post (the `data` of a `post` event)."""

    post_id: str
    status: str
    platform: str
    account_id: str
    share_url: str | None
    fail_reason: str | None
    at: str  # when the post last changed, ISO 8601

    @classmethod
    def of(cls, doc: dict) -> PostState:
        at = doc.get("updated_at")
        return cls(post_id=doc["id"], status=doc["status"], platform=doc.get("platform", ""),
                   account_id=doc.get("account_id", ""), share_url=doc.get("share_url"),
                   fail_reason=doc.get("fail_reason"), at=at.isoformat() if isinstance(at, datetime) else str(at))


def sse_message(event: str, data: dict, event_id: str | None = None) -> str:
    """One Server-Sent Events message (data is one line of JSON, so no line needs splitting)."""
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id else "")
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n"


def sse_comment(text: str) -> str:
    return f": {text}\n\n"


def _start_posts_listener(db: firestore.Client, content_id: str, deliver: Callable[[list[dict]], None]) -> Watch:
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = db.collection(POSTS).where(filter=FieldFilter("content_id", "==", content_id))
    # The callback runs on the listener's thread: it hands over plain dicts, made once for every stream.
    return query.on_snapshot(lambda docs, _changes, _read_time: deliver([d.to_dict() for d in docs]))


def feeds_for(db: firestore.Client) -> SharedListeners[list[dict]]:
    """The post listeners of this Firestore client, one per content item; a stream that joins late gets the
    latest snapshot first (the statuses as they are)."""
    return shared_listeners(db, "posts", _start_posts_listener, replay_latest=True)


def content_events(repo: Repository, content_id: str, *, stream_seconds: float,
                   heartbeat_seconds: float = HEARTBEAT_SECONDS, idle_seconds: float | None = None,
                   clock: Callable[[], float] = time.monotonic) -> Generator[str, None, None]:
    """The SSE text of one content item's post changes, as they happen (a generator: the listener
    is started at the first `next()` and unsubscribed when it finishes or is closed)."""
    feeds = feeds_for(repo.db)
    snapshots = feeds.subscribe(content_id)
    started = clock()
    deadline = started + stream_seconds
    next_heartbeat = started + heartbeat_seconds
    idle_seconds = stream_seconds if idle_seconds is None else idle_seconds
    idle_until = started + idle_seconds  # moved on by each post event
    last_status: dict[str, str] = {}
    sent: dict[str, int] = {}
    reason = "client left"
    log_event(log, logging.INFO, "live status stream opened", correlation_id=content_id)
    try:
        yield sse_comment(f"posts of content {content_id}")
        while True:
            now = clock()
            if now >= deadline:
                reason = "time limit"
                yield sse_message("end", {"content_id": content_id, "reason": reason})
                return
            if now >= idle_until:
                reason = "idle"  # a watcher with nothing to see gives its request thread back
                yield sse_message("end", {"content_id": content_id, "reason": reason})
                return
            try:
                docs = snapshots.get(timeout=max(0.0, min(deadline, idle_until, next_heartbeat) - now))
            except queue.Empty:
                if clock() >= next_heartbeat:
                    next_heartbeat = clock() + heartbeat_seconds
                    yield sse_comment("heartbeat")
                continue
            states = sorted((PostState.of(d) for d in docs), key=lambda s: s.post_id)
            for state in states:
                if last_status.get(state.post_id) == state.status:
                    continue  # a change of other fields (poll times, leases): nothing to show
                last_status[state.post_id] = state.status
                sent[state.post_id] = sent.get(state.post_id, 0) + 1
                idle_until = clock() + idle_seconds
                yield sse_message("post", asdict(state), f"{state.post_id}:{sent[state.post_id]}")
            if all(s.status in TERMINAL for s in states):
                reason = "all posts final" if states else "no posts"
                yield sse_message("end", {"content_id": content_id, "reason": reason})
                return
    finally:
        feeds.unsubscribe(snapshots)
        log_event(log, logging.INFO, "live status stream closed", correlation_id=content_id, reason=reason,
                  events=sum(sent.values()), seconds=round(clock() - started, 1))
