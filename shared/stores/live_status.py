"""Live status of a content item's posts as Server-Sent Events, fed by a Firestore listener.

A real-time listener (`Query.on_snapshot`) on the item's posts hands each snapshot to the stream
through a queue: first one event per post with its current state, then one each time a post's
status changes. An instance runs one listener per content item however many streams watch it (a
team's dashboards on one launch are one listener, not fifty): the first stream starts it, the last
one to leave stops it, and a stream that joins late starts from the latest snapshot. Comment lines keep idle connections (and proxies) open and let the server notice
a client that left. The stream ends with `event: end` once every post is final, when nothing
changed for `idle_seconds`, or at the time limit; the listener is always unsubscribed when the
stream stops, the client's leaving included.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.model.state_machine import TERMINAL
from shared.runtime.logging import log_event
from shared.stores.posts import POSTS, Repository

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


@dataclass
class _SharedWatch:
    """One listener on one content item's posts and the streams it feeds."""

    watch: Any = None
    subscribers: set[queue.Queue[list[dict]]] = field(default_factory=set)
    latest: list[dict] | None = None


class PostFeeds:
    """The listeners of one Firestore client: one per content item, shared by its streams."""

    def __init__(self, db: firestore.Client):
        self._db = db
        self._lock = threading.Lock()
        self._watches: dict[str, _SharedWatch] = {}

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._watches)

    def subscribe(self, content_id: str) -> queue.Queue[list[dict]]:
        """A queue that receives every snapshot of the item's posts from now on (the latest one
        first, when the listener already has it). Give it back with `unsubscribe`."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        mailbox: queue.Queue[list[dict]] = queue.Queue()
        with self._lock:
            shared = self._watches.get(content_id)
            if shared is not None:
                shared.subscribers.add(mailbox)
                if shared.latest is not None:
                    mailbox.put(shared.latest)
                return mailbox
            shared = self._watches[content_id] = _SharedWatch(subscribers={mailbox})
        query = self._db.collection(POSTS).where(filter=FieldFilter("content_id", "==", content_id))
        try:
            # The callback runs on the listener's thread: it hands over plain dicts, nothing else.
            shared.watch = query.on_snapshot(lambda docs, _changes, _read_time: self._deliver(shared, docs))
        except BaseException:
            with self._lock:
                self._watches.pop(content_id, None)
            raise
        return mailbox

    def unsubscribe(self, content_id: str, mailbox: queue.Queue[list[dict]]) -> None:
        with self._lock:
            shared = self._watches.get(content_id)
            if shared is None or mailbox not in shared.subscribers:
                return
            shared.subscribers.discard(mailbox)
            if shared.subscribers:
                return
            del self._watches[content_id]
        if shared.watch is not None:  # outside the lock: closing the RPC may take a moment
            shared.watch.unsubscribe()

    def _deliver(self, shared: _SharedWatch, docs) -> None:
        snapshot = [d.to_dict() for d in docs]
        with self._lock:
            shared.latest = snapshot
            for mailbox in shared.subscribers:
                mailbox.put(snapshot)


_FEEDS: weakref.WeakKeyDictionary[Any, PostFeeds] = weakref.WeakKeyDictionary()
_FEEDS_LOCK = threading.Lock()


def feeds_for(db: firestore.Client) -> PostFeeds:
    """The one PostFeeds of this Firestore client (its listeners live as long as it does)."""
    with _FEEDS_LOCK:
        feeds = _FEEDS.get(db)
        if feeds is None:
            feeds = _FEEDS[db] = PostFeeds(db)
        return feeds


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
        feeds.unsubscribe(content_id, snapshots)
        log_event(log, logging.INFO, "live status stream closed", correlation_id=content_id, reason=reason,
                  events=sum(sent.values()), seconds=round(clock() - started, 1))
