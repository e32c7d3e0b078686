"""Failed authentications, rate-limited per instance: per client address and for everyone, each a
small token bucket. A caller whose token verifies is never held back here (its own rate limit is
shared/stores/api_records.py); a failure while the caller's or the global bucket is empty is answered
429 with Retry-After instead of 401, and verifying it may not fetch Google's certificates, so a
flood of forged tokens can neither reach the certificate endpoint nor keep guessing freely.

The client address is the last X-Forwarded-For entry (the one Google's front end appends; earlier
entries are the caller's to write), else the connection's address.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

PER_CLIENT = (20, 1 / 3)  # 20 failures at once, then one per 3 s
GLOBAL = (200, 5.0)  # every client together
MAX_CLIENTS = 10_000  # addresses remembered; the least recently failed are forgotten first


class _Bucket:
    __slots__ = ("tokens", "at")

    def __init__(self, capacity: float, now: float):
        self.tokens = capacity
        self.at = now

    def level(self, capacity: float, rate: float, now: float) -> float:
        self.tokens = min(capacity, self.tokens + (now - self.at) * rate)
        self.at = now
        return self.tokens


class FailureThrottle:
    def __init__(self, per_client=PER_CLIENT, overall=GLOBAL, *, clock=time.monotonic) -> None:
        self._per_client = per_client
        self._overall = overall
        self._clock = clock
        self._lock = threading.Lock()
        self._clients: OrderedDict[str, _Bucket] = OrderedDict()
        self._global = _Bucket(overall[0], clock())

    def retry_after(self, client: str) -> int | None:
        """Seconds until this client may fail again, or None while it still may."""
        now = self._clock()
        with self._lock:
            waits = [self._wait(self._global, self._overall, now)]
            bucket = self._clients.get(client)
            if bucket is not None:
                waits.append(self._wait(bucket, self._per_client, now))
        wait = max(waits)
        return math.ceil(wait) if wait > 0 else None

    def failed(self, client: str) -> None:
        """Count one failure of this client."""
        now = self._clock()
        with self._lock:
            bucket = self._clients.pop(client, None) or _Bucket(self._per_client[0], now)
            self._clients[client] = bucket  # most recent last
            while len(self._clients) > MAX_CLIENTS:
                self._clients.popitem(last=False)
            for b, (capacity, rate) in ((bucket, self._per_client), (self._global, self._overall)):
                b.tokens = max(0.0, b.level(capacity, rate, now) - 1)

    @staticmethod
    def _wait(bucket: _Bucket, limits: tuple[float, float], now: float) -> float:
        capacity, rate = limits
        level = bucket.level(capacity, rate, now)
        return 0.0 if level >= 1 else (1 - level) / rate


def client_address(request) -> str:
    forwarded = request.headers.get("X-Forwarded-For", "")
    last = forwarded.rsplit(",", 1)[-1].strip()
    return last or request.remote_addr or "unknown"
