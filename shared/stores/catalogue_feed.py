"""Live catalogue changes as Server-Sent Events, fed by a Firestore listener (the live-status mechanism of
shared/stores/live_status.py, for the catalogue: docs/catalogue.md#live-updates).

A real-time listener (`Query.on_snapshot`) on the videos whose `changed_at` is after the stream opened
(one channel's, or every channel's) hands each batch of changed documents to the stream through a queue:
one `videos` event per batch, naming how many changed and the first ids. A refresh sets `changed_at` on
every video it writes (a change of YouTube's data, a removal, a report joined), so whatever a page shows
may have changed. The stream ends with `event: end` when nothing changed for `idle_seconds` or at the time
limit; the listener is always unsubscribed when it stops, the client's leaving included.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Generator

from shared.runtime.clock import utcnow
from shared.runtime.logging import log_event
from shared.stores.catalogue import VIDEOS
from shared.stores.live_status import HEARTBEAT_SECONDS, sse_comment, sse_message
from shared.stores.posts import Repository

log = logging.getLogger(__name__)
IDS_SHOWN = 50  # ids named in one event; `count` says how many changed


def catalogue_events(repo: Repository, channel_id: str | None, *, stream_seconds: float,
                     heartbeat_seconds: float = HEARTBEAT_SECONDS, idle_seconds: float | None = None,
                     clock: Callable[[], float] = time.monotonic) -> Generator[str, None, None]:
    """The SSE text of catalogue changes from now on (a generator: the listener starts at the first
    `next()` and is unsubscribed when it finishes or is closed)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    changed: queue.Queue[list[str]] = queue.Queue()
    query = repo.db.collection(VIDEOS).where(filter=FieldFilter("changed_at", ">", utcnow()))
    if channel_id is not None:
        query = query.where(filter=FieldFilter("channel_id", "==", channel_id))
    started = clock()
    deadline = started + stream_seconds
    idle_until = started + (stream_seconds if idle_seconds is None else idle_seconds)
    next_heartbeat = started + heartbeat_seconds
    events, reason = 0, "client left"
    # The callback runs on the listener's thread: it hands over the ids, nothing else.
    watch = query.on_snapshot(lambda _docs, changes, _read_time: changed.put([c.document.id for c in changes]))
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
                ids = changed.get(timeout=max(0.0, min(deadline, idle_until, next_heartbeat) - now))
            except queue.Empty:
                if clock() >= next_heartbeat:
                    next_heartbeat = clock() + heartbeat_seconds
                    yield sse_comment("heartbeat")
                continue
            if not ids:
                continue  # the first snapshot: nothing changed yet
            events += 1
            idle_until = clock() + (stream_seconds if idle_seconds is None else idle_seconds)
            unique = sorted(set(ids))
            yield sse_message("videos", {"channel_id": channel_id, "count": len(unique), "video_ids": unique[:IDS_SHOWN]},
                              str(events))
    finally:
        watch.unsubscribe()
        log_event(log, logging.INFO, "catalogue stream closed", channel_id=channel_id, reason=reason, events=events,
                  seconds=round(clock() - started, 1))
