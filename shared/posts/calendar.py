"""The calendar: posts between two local dates, grouped by day in the reader's time zone.

A post is on the local day of its `when()` (scheduled_at, else created_at; see shared/posts/service.py),
so a post at 23:30 UTC is on the next day in Europe/Berlin. A day on which an account has its cap of
posts is marked (accounts_at_cap).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from shared.errors import ValidationError
from shared.model.account import Account
from shared.model.content import ContentItem
from shared.model.post import Post
from shared.posts.service import COUNTED_FOR_CAP, daily_cap, posts_between, when
from shared.stores.posts import PostEquals, Repository

MAX_CALENDAR_DAYS = 92


def check_calendar_range(first: date, last: date, *, last_field: str) -> None:
    """The one rule for a calendar's days: `last` on or after `first`, at most MAX_CALENDAR_DAYS in all.
    ValidationError naming `last_field` (the request's name for the last day)."""
    if last < first:
        raise ValidationError(f"`{last_field}` is before the first day", field=last_field)
    if (last - first).days + 1 > MAX_CALENDAR_DAYS:
        raise ValidationError(f"the calendar shows at most {MAX_CALENDAR_DAYS} days at once", field=last_field,
                              limit=f"{MAX_CALENDAR_DAYS} days")


def calendar(repo: Repository, first: date, last: date, zone,
             equals: PostEquals) -> tuple[list[tuple[date, list[Post]]], dict[str, ContentItem]]:
    """Every local day from `first` to `last` (inclusive) in `zone`, with its posts in time order."""
    start = datetime.combine(first, time(), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    posts = posts_between(repo, equals, start, end)
    days: dict[date, list[Post]] = {first + timedelta(days=i): [] for i in range((last - first).days + 1)}
    for post in sorted(posts, key=lambda p: (when(p), p.id)):
        local_day = when(post).astimezone(zone).date()
        if local_day in days:
            days[local_day].append(post)
    return list(days.items()), repo.contents_by_id({p.content_id for p in posts})


@dataclass(frozen=True)
class AtCap:
    """An account with as many posts on one day as its posts-per-day cap allows."""

    account_id: str
    posts: int
    cap: int


def accounts_at_cap(days: list[tuple[date, list[Post]]], accounts: dict[str, Account]) -> dict[date, list[AtCap]]:
    """Per day of `days` (calendar()'s), the accounts at their cap on it: posts counted against the cap
    (COUNTED_FOR_CAP: approved and on, published included) reaching the account's daily cap (daily_cap:
    its own limits, else its platform's defaults -- the limits the publisher holds with its slots in
    shared/stores/posting_caps.py). Days without one are left out."""
    full: dict[date, list[AtCap]] = {}
    for day, posts in days:
        counted = Counter(p.account_id for p in posts if p.status in COUNTED_FOR_CAP)
        reached = [AtCap(account_id, n, cap) for account_id, n in sorted(counted.items())
                   if (cap := daily_cap(accounts.get(account_id))) is not None and n >= cap]
        if reached:
            full[day] = reached
    return full
