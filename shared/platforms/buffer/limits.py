"""A Buffer account's posting caps, from its organization's request limits (docs/platforms.md#publishing-through-buffer).

Buffer limits requests, not posts: per API client, over rolling 15-minute, 24-hour and 30-day windows,
by plan (developers.buffer.com/guides/api-limits.html: 100 / 250 / 3,000 on Free, 100 / 250 / 7,500 on
Essentials, 100 / 500 / 15,000 on Team). A post costs Postgate about REQUESTS_PER_POST of them: the
channel check and createPost when it is handed over, then the status reads until Buffer has sent it
(plus a share of a metrics request later). So each window's cap is its request limit divided by that,
per account. The key's requests are shared by every channel that uses it, which per-account caps cannot
see: there the RateLimit headers and 429 answers decide (rate_limits.py), and a post that meets them waits.
"""

from __future__ import annotations

from shared.model.account import Account, Limit
from shared.platforms.buffer.rate_limits import WINDOW_15_MIN, WINDOW_30_DAYS, WINDOW_DAY

REQUESTS_PER_POST = 4
# Requests per 15 minutes, 24 hours and 30 days, by plan (the account's `buffer_plan`).
PLAN_REQUEST_LIMITS: dict[str, tuple[int, int, int]] = {
    "free": (100, 250, 3000), "essentials": (100, 250, 7500), "team": (100, 500, 15000)}
FALLBACK_PLAN = "free"  # an account that names no plan (or one Buffer does not list) gets the smallest


def plan_limits(plan: str) -> list[Limit]:
    quarter_hour, day, month = PLAN_REQUEST_LIMITS.get(plan, PLAN_REQUEST_LIMITS[FALLBACK_PLAN])
    return [Limit("posts_per_15_minutes", quarter_hour // REQUESTS_PER_POST, WINDOW_15_MIN),
            Limit("posts_per_day", day // REQUESTS_PER_POST, WINDOW_DAY),
            Limit("posts_per_30_days", month // REQUESTS_PER_POST, WINDOW_30_DAYS)]


def limits_for_account(account: Account) -> list[Limit]:
    return plan_limits(str(account.get("buffer_plan") or FALLBACK_PLAN))


DEFAULT_LIMITS = plan_limits(FALLBACK_PLAN)
