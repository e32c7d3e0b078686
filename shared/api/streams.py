"""Bounds on open live-status streams, so they never take the request threads ordinary calls need.

The API runs under functions-framework's gunicorn: one process with THREADS request threads (set
equal to the function's concurrency in infra/topology.yaml). A Server-Sent Events stream holds
one of those threads for as long as it is open, so at most a share of them may be streams (by
default half), and one user may hold only a few of those. Over a bound the stream is refused before
it starts: 429 when the user holds their share, 503 when the instance does; both with Retry-After.
The counts are per instance (per process): that is where the threads are.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from shared.api.errors import ApiError

# How long a refused client should wait: streams end by themselves within the idle timeout.
RETRY_AFTER_SECONDS = 10


def request_threads() -> int:
    """The request threads of this instance, as functions-framework's gunicorn server sizes them."""
    return int(os.environ.get("THREADS") or (os.cpu_count() or 1) * 4)


class StreamSlots:
    """Open streams of this instance, in total and per user."""

    def __init__(self, per_instance: int, per_user: int):
        self.per_instance, self.per_user = per_instance, per_user
        self._lock = threading.Lock()
        self._by_user: dict[str, int] = {}

    @property
    def open(self) -> int:
        with self._lock:
            return sum(self._by_user.values())

    def acquire(self, user: str) -> Callable[[], None]:
        """Take a slot for `user` (or raise the refusal); returns its release, safe to call twice."""
        with self._lock:
            mine = self._by_user.get(user, 0)
            if mine >= self.per_user:
                raise ApiError(429, f"{user} already has {mine} live-status streams open (at most {self.per_user}); "
                                    "close one or try again later", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
            if sum(self._by_user.values()) >= self.per_instance:
                raise ApiError(503, "too many live-status streams open on this instance; try again later",
                               headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
            self._by_user[user] = mine + 1
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if released.is_set():
                    return
                released.set()
                left = self._by_user.get(user, 1) - 1
                if left > 0:
                    self._by_user[user] = left
                else:
                    self._by_user.pop(user, None)

        return release
