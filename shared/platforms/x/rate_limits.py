"""How long an X 429 tells us to wait (docs/platforms.md#x-limits).

X sends no Retry-After. It sends reset epochs: `x-rate-limit-reset` for the 15-minute window, and
`x-user-limit-24hour-*` / `x-app-limit-24hour-*` for the daily caps of the user and of our app.
On a 429 from a daily cap the 15-minute headers can look healthy, so both daily pairs are read
first; when both are used up the post waits for the later reset.
"""

from __future__ import annotations

from typing import Mapping

from shared.errors import CapReached, TransientError

DAY_SECONDS = 24 * 3600.0
# A reset that is missing or already past (clock skew, a stale header) still means "wait": a 0 s
# wait would send the post straight back through Pub/Sub in a hot loop.
RATE_LIMIT_FLOOR_SECONDS = 60.0
_USER_DAY = "x-user-limit-24hour"
_APP_DAY = "x-app-limit-24hour"


def seconds_until(reset_epoch: str | None, now: float, *, missing: float) -> float:
    """Seconds until an X reset epoch; `missing` when there is none, the floor when it is past."""
    try:
        wait = float(reset_epoch) - now
    except (TypeError, ValueError):
        return missing
    return wait if wait > 0 else RATE_LIMIT_FLOOR_SECONDS


def rate_limited(headers: Mapping[str, str], payload: dict, message: str, code: str, now: float) -> TransientError:
    """The error for a 429: CapReached (the post waits in `queued`) when a daily cap is used up,
    else TransientError until the 15-minute window resets."""
    daily_waits = []
    if headers.get(f"{_USER_DAY}-remaining") == "0" or str(payload.get("type", "")).endswith("/usage-capped"):
        daily_waits.append(seconds_until(headers.get(f"{_USER_DAY}-reset"), now, missing=DAY_SECONDS))
    if headers.get(f"{_APP_DAY}-remaining") == "0":
        daily_waits.append(seconds_until(headers.get(f"{_APP_DAY}-reset"), now, missing=DAY_SECONDS))
    if daily_waits:
        return CapReached(message, retry_after=max(daily_waits), platform_code=code)
    return TransientError(message, platform_code=code,
                          retry_after=seconds_until(headers.get("x-rate-limit-reset"), now,
                                                    missing=RATE_LIMIT_FLOOR_SECONDS))
