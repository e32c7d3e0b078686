"""The calendar: posts between two local dates, grouped by day in the reader's time zone.

A post is on the local day of its `when()` (scheduled_at, else created_at; see shared/posts/service.py),
so a post at 23:30 UTC is on the next day in Europe/Berlin.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from shared.model.content import ContentItem
from shared.model.post import Post
from shared.posts.service import posts_between, when
from shared.stores.posts import Repository


def calendar(repo: Repository, first: date, last: date, zone,
             equals: dict[str, str]) -> tuple[list[tuple[date, list[Post]]], dict[str, ContentItem]]:
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
