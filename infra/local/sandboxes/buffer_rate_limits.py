"""Buffer's request limits per API key, as the Buffer sandbox enforces them
[https://developers.buffer.com/guides/api-limits]: three rolling windows (15 minutes, 24 hours, 30 days)
whose quotas depend on the plan of the organization the key belongs to; every answer carries the
structured RateLimit / RateLimit-Policy headers (one per window, IETF draft-8 syntax) and, as the
page's earlier version showed, RateLimit-Limit / -Remaining / -Reset for the window nearest its
quota; a request over any quota is refused with 429 RATE_LIMIT_EXCEEDED and `retryAfter` seconds.

Free's 24-hour quota is 250 on the page read 2026-12-06 (an earlier version said 100).
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

# (policy name suffix, window seconds); quotas per plan in the same order
WINDOWS = (("15min", 900), ("1day", 86_400), ("30days", 2_592_000))
PLAN_QUOTAS = {"free": (100, 250, 3_000), "essentials": (100, 250, 7_500), "team": (100, 500, 15_000)}
LIMIT_MESSAGE = "Too many requests from this client. Please try again later."


@dataclass(frozen=True)
class WindowState:
    name: str  # e.g. "100-in-15min"
    quota: int
    window: int
    remaining: int
    reset: int  # seconds until a request counted in this window leaves it


class RateWindows:
    """Rolling request windows per API key (the times of admitted requests, kept 30 days)."""

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self._lock = threading.Lock()
        self._hits: dict[str, list[float]] = {}

    def reset(self) -> None:
        with self._lock:
            self._hits = {}

    def admit(self, key: str, plan: str) -> int | None:
        """Count a request of `key` and answer None, or (over a quota) the seconds to wait."""
        with self._lock:
            states = self._states(key, plan)
            over = [s.reset for s in states if s.remaining <= 0]
            if over:
                return max(max(over), 1)
            self._hits.setdefault(key, []).append(self._clock())
            return None

    def headers(self, key: str, plan: str) -> list[tuple[str, str]]:
        """The rate-limit headers of an answer to `key` (after its request was counted)."""
        with self._lock:
            states = self._states(key, plan)
        pk = base64.b64encode(hashlib.sha256(key.encode()).digest()[:12]).decode()  # the key never leaves
        # one field line per name, the windows as a list (the same field as Buffer's three lines)
        out = [("RateLimit", ", ".join(f'"{s.name}";r={s.remaining};t={s.reset}' for s in states)),
               ("RateLimit-Policy", ", ".join(f'"{s.name}";q={s.quota};w={s.window};pk=:{pk}:' for s in states))]
        tightest = min(states, key=lambda s: (s.remaining, -s.window))
        reset_at = datetime.fromtimestamp(self._clock() + tightest.reset, UTC)
        out += [("RateLimit-Limit", str(tightest.quota)), ("RateLimit-Remaining", str(tightest.remaining)),
                ("RateLimit-Reset", reset_at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{reset_at.microsecond // 1000:03d}Z")]
        return out

    def _states(self, key: str, plan: str) -> list[WindowState]:
        now = self._clock()
        hits = self._hits.get(key, [])
        longest = WINDOWS[-1][1]
        del hits[:bisect.bisect_right(hits, now - longest)]
        states = []
        for (suffix, window), quota in zip(WINDOWS, PLAN_QUOTAS[plan], strict=True):
            first = bisect.bisect_right(hits, now - window)
            inside = hits[first:]
            reset = int(inside[0] + window - now) + 1 if inside else window
            states.append(WindowState(f"{quota}-in-{suffix}", quota, window, max(quota - len(inside), 0), reset))
        return states
