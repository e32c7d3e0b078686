"""A busy item answers fast and holds no one else's request threads.

Changes of one item (a content item and its posts) run one at a time per instance: one more may
wait its turn briefly, and any beyond that are answered 503 with Retry-After at once instead of
each holding a request thread while their transactions lock each other out. Every API request's
transactions retry within a small budget (shared.stores.posts.ContentionBudget), so contention
from other instances or background functions ends in a 503 within seconds too. Nothing is applied
partly: a refused change ran no transaction, or one that did not commit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from shared.api.errors import ApiError
from shared.stores.posts import contention_budget

# Transactions of one API request: at most this many runs each, no retry after this many seconds.
API_TRANSACTION_ATTEMPTS = 3
API_TRANSACTION_SECONDS = 2.0
# Per item and instance: requests waiting behind the one that is changing it, and for how long.
WAITERS_PER_ITEM = 1
WAIT_SECONDS = 2.0
RETRY_AFTER_SECONDS = 1


class _Item:
    __slots__ = ("lock", "holders")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders = 0  # the one changing it and those waiting


class ItemGate:
    """One change at a time per key; `waiters` more may wait up to `wait_seconds`; the rest are refused."""

    def __init__(self, waiters: int = WAITERS_PER_ITEM, wait_seconds: float = WAIT_SECONDS):
        self.waiters = waiters
        self.wait_seconds = wait_seconds
        self._items: dict[str, _Item] = {}
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Raises ApiError 503 (Retry-After) when the item is busy."""
        with self._lock:
            item = self._items.setdefault(key, _Item())
            if item.holders > self.waiters:
                raise _busy()
            item.holders += 1
        try:
            if not item.lock.acquire(timeout=self.wait_seconds):
                raise _busy()
            try:
                yield
            finally:
                item.lock.release()
        finally:
            with self._lock:
                item.holders -= 1
                if item.holders == 0:
                    del self._items[key]


def _busy() -> ApiError:
    return ApiError(503, "this item is being changed by other requests right now; nothing was changed, "
                         f"try again in {RETRY_AFTER_SECONDS} s", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


_gate = ItemGate()


def one_change_at_a_time(key: str):
    """This instance's gate for item `key` (a content id: its posts change with it)."""
    return _gate.hold(key)


def request_budget():
    """The retry budget of every transaction one API request runs."""
    return contention_budget(API_TRANSACTION_ATTEMPTS, API_TRANSACTION_SECONDS)
