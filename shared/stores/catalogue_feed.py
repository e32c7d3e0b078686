"""Live catalogue changes as Server-Sent Events, fed by a Firestore listener (the live-status mechanism of
shared/stores/live_status.py, for the catalogue: docs/catalogue.md#live-updates).

A real-time listener (`Query.on_snapshot`) on the videos whose `changed_at` is after it started (one
channel's, or every channel's) hands each batch of changed documents to the streams through queues: one
`videos` event per batch, naming how many changed and the first ids. A refresh sets `changed_at` on every
video it writes (a change of YouTube's data, a removal, a report joined), so whatever a page shows may
have changed. An instance runs one listener per channel (and one for every channel) however many pages
watch it (shared/stores/shared_listeners.py). A stream that joins it late is told only of what changed
after it opened, as if it had its own listener: nothing of the listener's past batches, and of a batch,
only the videos whose `changed_at` is after the stream opened. A listener gathers every video changed
since it started, so a stream opening on one older than the time limit starts a fresh one (the old one
goes with its last stream). The stream ends with `event: end` when nothing changed for `idle_seconds` or at the time
limit; the listener is always unsubscribed when it stops, the client's leaving included.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Generator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.runtime.clock import utcnow
from shared.runtime.logging import log_event
from shared.stores.catalogue import VIDEOS
from shared.stores.live_status import HEARTBEAT_SECONDS, sse_comment, sse_message
from shared.stores.posts import Repository
from shared.stores.shared_listeners import SharedListeners, Watch, shared_listeners

if TYPE_CHECKING:
    from google.cloud import firestore

log = logging.getLogger(__name__)
IDS_SHOWN = 50  # ids named in one event; `count` says how many changed
Changes = list[tuple[str, Any]]  # (video id, its changed_at) of each change in one snapshot


def _start_catalogue_listener(db: firestore.Client, channel_id: str | None, deliver: Callable[[Changes], None]) -> Watch:
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = db.collection(VIDEOS).where(filter=FieldFilter("changed_at", ">", utcnow()))
    if channel_id is not None:
        query = query.where(filter=FieldFilter("channel_id", "==", channel_id))
    # The callback runs on the listener's thread: it hands over ids and times, nothing else. A removed
    # document's change carries its last state, so its `changed_at` places it like any other change.
    return query.on_snapshot(lambda _docs, changes, _read_time: deliver(
        [(c.document.id, c.document.get("changed_at")) for c in changes]))


def catalogue_feeds_for(db: firestore.Client) -> SharedListeners[Changes]:
    """The catalogue listeners of this Firestore client, one per channel and one (key None) for every channel;
    a stream that joins late gets none of the past batches."""
    return shared_listeners(db, "catalogue", _start_catalogue_listener, replay_latest=False)


def _after(at: Any, opened: datetime) -> bool:
    return isinstance(at, datetime) and at > opened


def catalogue_events(repo: Repository, channel_id: str | None, *, stream_seconds: float,
                     heartbeat_seconds: float = HEARTBEAT_SECONDS, idle_seconds: float | None = None,
                     clock: Callable[[], float] = time.monotonic) -> Generator[str, None, None]:
    """The SSE text of catalogue changes from now on (a generator: the listener starts at the first
    `next()` and is unsubscribed when it finishes or is closed)."""
    feeds = catalogue_feeds_for(repo.db)
    opened = utcnow()  # before subscribing: a listener this stream starts asks for changes after a later moment
    changed = feeds.subscribe(channel_id, younger_than=stream_seconds)
    started = clock()
    deadline = started + stream_seconds
    idle_until = started + (stream_seconds if idle_seconds is None else idle_seconds)
    next_heartbeat = started + heartbeat_seconds
    events, reason = 0, "client left"
    log_event(log, logging.INFO, "catalogue stream opened", channel_id=channel_id)
    try:
        yield sse_comment(f"catalogue changes of {channel_id or 'every channel'}")
        while True:
            now = clock()
            if now >= deadline or now >= idle_until:
                reason = "time limit" if now >= deadline else "idle"
                yield sse_message("end", {"channel_id": channel_id, "reason": reason})
                return
            try:
                batch = changed.get(timeout=max(0.0, min(deadline, idle_until, next_heartbeat) - now))
            except queue.Empty:
                if clock() >= next_heartbeat:
                    next_heartbeat = clock() + heartbeat_seconds
                    yield sse_comment("heartbeat")
                continue
            ids = [video_id for video_id, at in batch if _after(at, opened)]
            if not ids:
                continue  # the first snapshot (nothing changed yet), or only changes from before this stream
            events += 1
            idle_until = clock() + (stream_seconds if idle_seconds is None else idle_seconds)
            unique = sorted(set(ids))
            yield sse_message("videos", {"channel_id": channel_id, "count": len(unique), "video_ids": unique[:IDS_SHOWN]},
                              str(events))
    finally:
        feeds.unsubscribe(changed)
        log_event(log, logging.INFO, "catalogue stream closed", channel_id=channel_id, reason=reason, events=events,
                  seconds=round(clock() - started, 1))
