"""Firestore listeners shared by the streams of one instance: one listener per key, however many streams watch it.

A stream (the live status of a content item, the catalogue's changes of a channel) subscribes to a key and
reads messages from its own mailbox. The first subscriber of a key starts the listener (`Query.on_snapshot`);
each snapshot is turned into one message once, on the listener's thread, and put in every subscriber's
mailbox; the last subscriber to leave stops the listener. Fifty dashboards on one launch are then one query
the Firestore backend evaluates per change and one snapshot the instance decodes, not fifty.

What a late subscriber receives is the caller's choice: with `replay_latest` it gets the listener's latest
message first (a state, like the posts' statuses); without, only the messages of snapshots that arrive
after it joined (changes, which happened before it was there). A listener whose query names a moment (the
catalogue's "changed after the stream opened") gathers every document changed since: `younger_than` lets a
subscriber start a fresh listener for the key instead of joining an old one, which keeps serving the
subscribers it has until they leave.
"""

from __future__ import annotations

import queue
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

M = TypeVar("M")


class Watch(Protocol):
    """What `Query.on_snapshot` returns."""

    def unsubscribe(self) -> None: ...


# Starts the listener of a key on a Firestore client: start(db, key, deliver), where `deliver` takes the
# message made of each snapshot.
Starter = Callable[[Any, Any, Callable[[M], None]], Watch]


@dataclass(eq=False)
class Listener(Generic[M]):
    """One Firestore listener on one key and the mailboxes it feeds."""

    key: Hashable
    started: float
    watch: Watch | None = None
    mailboxes: set[queue.Queue[M]] = field(default_factory=set)
    latest: M | None = None


@dataclass(frozen=True, eq=False)
class Subscription(Generic[M]):
    """One stream's place on a shared listener: read its mailbox, give it back with `unsubscribe`."""

    listener: Listener[M]
    mailbox: queue.Queue[M]

    def get(self, timeout: float) -> M:
        """The next message (raises queue.Empty after `timeout` seconds without one)."""
        return self.mailbox.get(timeout=timeout)


class SharedListeners(Generic[M]):
    """The listeners of one kind of stream on one Firestore client, one per key."""

    def __init__(self, db: Any, start: Starter[M], *, replay_latest: bool,
                 clock: Callable[[], float] = time.monotonic):
        self._db = db
        self._start = start
        self._replay_latest = replay_latest
        self._clock = clock
        self._lock = threading.Lock()
        self._current: dict[Hashable, Listener[M]] = {}  # the listener a new subscriber of the key joins
        self._running: set[Listener[M]] = set()  # the current ones and older ones still serving subscribers

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._running)

    def subscribe(self, key: Hashable, *, younger_than: float | None = None) -> Subscription[M]:
        """A mailbox on the key's listener, started if there is none (or if it is `younger_than` seconds old
        or older)."""
        mailbox: queue.Queue[M] = queue.Queue()
        with self._lock:
            listener = self._current.get(key)
            if listener is not None and (younger_than is None or self._clock() - listener.started < younger_than):
                listener.mailboxes.add(mailbox)
                if self._replay_latest and listener.latest is not None:
                    mailbox.put(listener.latest)
                return Subscription(listener, mailbox)
            listener = Listener(key=key, started=self._clock(), mailboxes={mailbox})
            self._current[key] = listener
            self._running.add(listener)
        try:
            # Outside the lock: opening the RPC takes a moment, and other keys' snapshots keep flowing.
            listener.watch = self._start(self._db, key, lambda message: self._deliver(listener, message))
        except BaseException:
            with self._lock:
                self._forget(listener)
            raise
        return Subscription(listener, mailbox)

    def unsubscribe(self, subscription: Subscription[M]) -> None:
        listener = subscription.listener
        with self._lock:
            if subscription.mailbox not in listener.mailboxes:
                return
            listener.mailboxes.discard(subscription.mailbox)
            if listener.mailboxes:
                return
            self._forget(listener)  # in the same hold of the lock: no one joins a listener being stopped
        if listener.watch is not None:  # outside the lock: closing the RPC may take a moment
            listener.watch.unsubscribe()

    def _forget(self, listener: Listener[M]) -> None:
        """Take the listener off the books (the caller holds the lock)."""
        self._running.discard(listener)
        if self._current.get(listener.key) is listener:
            del self._current[listener.key]

    def _deliver(self, listener: Listener[M], message: M) -> None:
        with self._lock:
            if self._replay_latest:
                listener.latest = message
            for mailbox in listener.mailboxes:
                mailbox.put(message)


_REGISTRY: weakref.WeakKeyDictionary[Any, dict[str, SharedListeners[Any]]] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def shared_listeners(db: Any, kind: str, start: Starter[M], *, replay_latest: bool) -> SharedListeners[M]:
    """The one SharedListeners of `kind` (a stream's name) on this Firestore client (its listeners live as long
    as the client does)."""
    with _REGISTRY_LOCK:
        kinds = _REGISTRY.setdefault(db, {})
        found = kinds.get(kind)
        if found is None:
            found = kinds[kind] = SharedListeners(db, start, replay_latest=replay_latest)
        return found
