"""Buffer's request limits: what the headers say is left, and how long a 429 tells us to wait
(docs/platforms.md#publishing-through-buffer; developers.buffer.com/guides/api-limits.html).

Buffer counts requests per API client over three rolling windows: 15 minutes, 24 hours and 30 days.
Every answer reports each window as a structured `RateLimit` header, one policy per window
(`"100-in-15min";r=98;t=897`: r requests left, t seconds until that window resets), described by
`RateLimit-Policy` (`q` quota, `w` window in seconds). Policy names follow the plan, so a window is
known by its length `w` (or, in the status header, by the name's suffix), never by its name. Earlier
answers carried one window as `RateLimit-Limit` / `-Remaining` / `-Reset` (an ISO time); both forms
are read.

A 429 carries `errors[0].extensions` with `code: RATE_LIMIT_EXCEEDED` and `retryAfter` in seconds
(and a `Retry-After` header). The 15-minute window is a throttle: the call is retried when it
resets (TransientError). The daily and 30-day windows are the key's budget: a post that meets one
waits in `queued` until it resets (CapReached), as X's daily caps do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from shared.errors import CapReached, TransientError

WINDOW_15_MIN, WINDOW_DAY, WINDOW_30_DAYS = 900, 86400, 30 * 86400
# A wait that is missing or already past (clock skew, a stale header) still means "wait": a 0 s
# wait would send the post straight back in a hot loop.
RATE_LIMIT_FLOOR_SECONDS = 60.0
_ITEM = re.compile(r'\s*"(?P<name>[^"]*)"(?P<params>(?:;[^,]*)?)')
_PARAM = re.compile(r";\s*(?P<key>[a-z]+)=(?P<value>[^;]*)")
# How a policy's name ends for each window ("100-in-15min", "500-in-1day", "15000-in-30days").
_NAME_WINDOWS = (("15min", WINDOW_15_MIN), ("30days", WINDOW_30_DAYS), ("1day", WINDOW_DAY))


class RateLimited(TransientError):
    """429 in the 15-minute window: `retry_after` runs until it resets."""


@dataclass(frozen=True)
class WindowStatus:
    window_seconds: int
    remaining: int | None
    reset_seconds: float | None
    quota: int | None = None


def _items(header: str | None) -> list[tuple[str, dict[str, str]]]:
    """A structured-field list (RFC 9651) as (name, params); requests joins repeated headers with ', '."""
    out = []
    for match in _ITEM.finditer(header or ""):
        params = {m.group("key"): m.group("value").strip() for m in _PARAM.finditer(match.group("params"))}
        out.append((match.group("name"), params))
    return out


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def window_statuses(headers: Mapping[str, str], now: datetime | None = None) -> list[WindowStatus]:
    """What each window has left, read from the structured headers, else the single-window ones."""
    windows: dict[str, int] = {}
    quotas: dict[str, int] = {}
    for name, params in _items(headers.get("RateLimit-Policy")):
        w, q = _number(params.get("w")), _number(params.get("q"))
        if w is not None:
            windows[name] = int(w)
        if q is not None:
            quotas[name] = int(q)
    statuses = []
    for name, params in _items(headers.get("RateLimit")):
        window = windows.get(name) or next((w for suffix, w in _NAME_WINDOWS if name.endswith(suffix)), None)
        if window is None:
            continue
        remaining = _number(params.get("r"))
        statuses.append(WindowStatus(window, None if remaining is None else int(remaining), _number(params.get("t")),
                                     quotas.get(name)))
    if statuses:
        return statuses
    remaining = _number(headers.get("RateLimit-Remaining"))
    if remaining is None:
        return []
    return [WindowStatus(0, int(remaining), _reset_in(headers.get("RateLimit-Reset"), now),
                         int(_number(headers.get("RateLimit-Limit")) or 0) or None)]


def _reset_in(value: str | None, now: datetime | None) -> float | None:
    """Seconds until a reset given as an ISO time (the single-window form) or as seconds."""
    if not value:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        reset = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if reset.tzinfo is None or now is None:
        return None
    return (reset - now).total_seconds()


def remaining_summary(headers: Mapping[str, str]) -> dict[str, int | None]:
    """For the call's log line: requests left per window ({"15min": 98, "1day": 480, ...})."""
    names = {WINDOW_15_MIN: "15min", WINDOW_DAY: "1day", WINDOW_30_DAYS: "30days", 0: "window"}
    return {names.get(s.window_seconds, str(s.window_seconds)): s.remaining for s in window_statuses(headers)}


def rate_limited(headers: Mapping[str, str], extensions: Mapping[str, object], message: str,
                 now: datetime | None = None) -> TransientError:
    """The error for a 429 (or a RATE_LIMIT_EXCEEDED error): CapReached when the daily or 30-day
    window is used up (the post waits for its reset), else RateLimited until the 15-minute one resets."""
    statuses = window_statuses(headers, now)
    spent = [s for s in statuses if s.remaining == 0]
    named = str(extensions.get("window") or "")
    told = _number(str(extensions.get("retryAfter"))) if extensions.get("retryAfter") is not None else None
    told = told if told is not None else _number(headers.get("Retry-After"))
    long_windows = [s for s in spent if s.window_seconds in (WINDOW_DAY, WINDOW_30_DAYS)]
    if long_windows or named in ("24h", "30d"):
        waits = [s.reset_seconds for s in long_windows if s.reset_seconds is not None]
        wait = max(waits) if waits else told
        return CapReached(message, retry_after=_floor(wait if wait is not None else WINDOW_DAY),
                          platform_code="RATE_LIMIT_EXCEEDED")
    short = [s.reset_seconds for s in spent if s.reset_seconds is not None]
    wait = told if told is not None else (max(short) if short else None)
    return RateLimited(message, retry_after=_floor(wait if wait is not None else WINDOW_15_MIN),
                       platform_code="RATE_LIMIT_EXCEEDED")


def _floor(seconds: float) -> float:
    return seconds if seconds > 0 else RATE_LIMIT_FLOOR_SECONDS
