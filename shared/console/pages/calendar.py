"""The calendar: a month (Monday to Sunday weeks) or a week of posts on the days they go out in the
reader's time zone, each with its platform, account, status and the start of its caption, linking
to the post's page; a day on which an account has its cap of posts is marked. The posts come from
shared/posts/calendar.py, as GET /calendar's do. Reading is open to editors and approvers alike.

Query: `view` (month | week), `date` (a day in the month or week shown, YYYY-MM-DD; default today
in the reader's zone), `tz` (see shared/console/zone.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import flask

from shared import services
from shared.api.errors import ApiError
from shared.console import render
from shared.console.post_text import account_label, caption_start, clock_text, status_label
from shared.console.zone import asked_zone, reader_zone, today
from shared.model.account import Account
from shared.model.platform import account_platform_name
from shared.model.post import Post
from shared.posts.calendar import accounts_at_cap, calendar
from shared.posts.service import when

VIEWS = ("month", "week")
MONTH_POSTS_PER_DAY = 4  # a month's day lists this many; the week view has them all


@dataclass(frozen=True)
class PostCard:
    post_id: str
    at: str  # ISO 8601, for <time datetime>
    time: str  # 14:05 in the reader's zone
    platform: str
    platform_name: str
    account: str
    status: str
    status_label: str
    caption: str


@dataclass(frozen=True)
class CapMark:
    account: str
    posts: int
    cap: int


@dataclass(frozen=True)
class Day:
    date: date
    label: str  # Monday 29 March 2027
    in_range: bool  # in the month shown (a month's grid starts and ends with days of its neighbours)
    is_today: bool
    posts: list[PostCard]
    hidden: int  # posts not listed here (month view): the week view lists them
    at_cap: list[CapMark]


def register(bp: flask.Blueprint) -> None:
    bp.add_url_rule("/calendar", "calendar", calendar_page)


def calendar_page():
    zone = reader_zone()
    args = flask.request.args
    view = args.get("view", "month")
    if view not in VIEWS:
        raise ApiError(400, f"view {view[:20]!r} is not one of: {', '.join(VIEWS)}", field="view")
    now_day = today(zone)
    anchor = _day(args.get("date")) or now_day
    first, last = month_grid(anchor) if view == "month" else week_of(anchor)
    repo = services.repository()
    days, contents = calendar(repo, first, last, zone, {})
    accounts = repo.accounts_by_id({p.account_id for _, posts in days for p in posts})
    full = accounts_at_cap(days, accounts)
    shown = MONTH_POSTS_PER_DAY if view == "month" else None
    cards = [_day_of(day, posts, zone, contents, accounts, full.get(day, []), shown, now_day,
                     in_range=view == "week" or _same_month(day, anchor)) for day, posts in days]
    previous, following = _neighbours(view, anchor)
    heading = f"{anchor:%B %Y}" if view == "month" else _week_heading(first, last)
    total = sum(len(day.posts) + day.hidden for day in cards if day.in_range)
    return render.page("console/calendar.html", title=f"Calendar · {heading}", heading=heading, view=view,
                       anchor=anchor, zone=zone.key, days=cards, total=total, previous=previous, following=following,
                       today=now_day, tz=asked_zone(), weeks=[cards[i:i + 7] for i in range(0, len(cards), 7)])


def month_grid(anchor: date) -> tuple[date, date]:
    """The Monday on or before the month's first day to the Sunday on or after its last."""
    first = anchor.replace(day=1)
    last = _next_month(first) - timedelta(days=1)
    return first - timedelta(days=first.weekday()), last + timedelta(days=6 - last.weekday())


def week_of(anchor: date) -> tuple[date, date]:
    """Monday to Sunday around `anchor`."""
    monday = anchor - timedelta(days=anchor.weekday())
    return monday, monday + timedelta(days=6)


def _same_month(day: date, anchor: date) -> bool:
    return (day.year, day.month) == (anchor.year, anchor.month)


def _next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


def _neighbours(view: str, anchor: date) -> tuple[date, date]:
    if view == "week":
        return anchor - timedelta(days=7), anchor + timedelta(days=7)
    first = anchor.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1), _next_month(first)


def _week_heading(first: date, last: date) -> str:
    if first.year != last.year:
        return f"{first.day} {first:%B %Y} – {last.day} {last:%B %Y}"
    if first.month != last.month:
        return f"{first.day} {first:%B} – {last.day} {last:%B %Y}"
    return f"{first.day}–{last.day} {last:%B %Y}"


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, f"date {text[:20]!r} is not a day (YYYY-MM-DD)", field="date") from None


def _day_of(day: date, posts: list[Post], zone: ZoneInfo, contents: dict, accounts: dict[str, Account], full: list,
            shown: int | None, now_day: date, *, in_range: bool) -> Day:
    listed = posts if shown is None else posts[:shown]
    cards = [PostCard(post_id=p.id, at=when(p).isoformat(), time=clock_text(when(p), zone), platform=p.platform,
                      platform_name=account_platform_name(p.platform, (accounts.get(p.account_id) or {}).get("buffer_service")),
                      account=account_label(p.account_id, accounts.get(p.account_id)),
                      status=p.status, status_label=status_label(p.status),
                      caption=caption_start(contents[p.content_id].caption if p.content_id in contents else None))
             for p in listed]
    marks = [CapMark(account_label(c.account_id, accounts.get(c.account_id)), c.posts, c.cap) for c in full]
    return Day(date=day, label=f"{day:%A} {day.day} {day:%B %Y}", in_range=in_range, is_today=day == now_day,
               posts=cards, hidden=len(posts) - len(listed), at_cap=marks)
