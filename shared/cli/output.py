"""What the CLI prints: tables (tabulate) for people, the API's JSON unchanged for scripts (`--json`).

Datetimes are shown in the operator's zone (`--tz`, default UTC) with the zone's abbreviation,
so "09:00 CEST" is never mistaken for UTC.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from tabulate import tabulate

TABLE_FORMAT = "simple"
CAPTION_WIDTH = 48

POST_COLUMNS = [("id", "POST"), ("platform", "PLATFORM"), ("account_id", "ACCOUNT"), ("status", "STATUS"),
                ("scheduled_at", "SCHEDULED"), ("campaign", "CAMPAIGN"), ("caption", "CAPTION")]
ACCOUNT_COLUMNS = [("id", "ACCOUNT"), ("platform", "PLATFORM"), ("handle", "HANDLE"), ("status", "STATUS"),
                   ("platform_account_id", "PLATFORM ID"), ("connected_at", "CONNECTED")]
CAMPAIGN_COLUMNS = [("id", "CAMPAIGN"), ("name", "NAME"), ("status", "STATUS"), ("starts_on", "STARTS"),
                    ("ends_on", "ENDS"), ("updated_at", "UPDATED")]
CALENDAR_COLUMNS = [("scheduled_at", "TIME"), ("platform", "PLATFORM"), ("account_id", "ACCOUNT"), ("status", "STATUS"),
                    ("id", "POST"), ("campaign", "CAMPAIGN"), ("caption", "CAPTION")]


def emit(text: str = "") -> None:
    print(text, file=sys.stdout)


def print_json(data) -> None:
    emit(json.dumps(data, indent=2, ensure_ascii=False))


def zone(name: str) -> ZoneInfo:
    """The IANA zone; raises ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin or UTC)") from None


def parse_datetime(value: str) -> datetime | None:
    if not isinstance(value, str) or len(value) < 16 or value[4:5] != "-" or "T" not in value and " " not in value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def format_time(value, tz: ZoneInfo, *, with_date: bool = True) -> str:
    """An ISO timestamp from the API as local time in `tz` with the zone, e.g. `2025-05-02 09:00 CEST`."""
    if value in (None, ""):
        return "-"
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    if moment is None:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M %Z" if with_date else "%H:%M %Z")


def shorten(text, width: int = CAPTION_WIDTH) -> str:
    if text is None:
        return "-"
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def cell(key: str, value, tz: ZoneInfo):
    if value is None or value == "":
        return "-"
    if key.endswith("_at") or key == "at":
        return format_time(value, tz)
    if key == "caption":
        return shorten(value)
    if isinstance(value, (dict, list)):
        return shorten(json.dumps(value, ensure_ascii=False), 60) if value else "-"
    return value


def table(items: list[dict], columns: list[tuple[str, str]], tz: ZoneInfo) -> str:
    rows = [[cell(key, item.get(key), tz) for key, _ in columns] for item in items]
    return tabulate(rows, headers=[title for _, title in columns], tablefmt=TABLE_FORMAT, disable_numparse=True)


def page_range(page: dict, noun: str) -> str:
    """`showing 1-50 of 123 posts` (or `no posts` / `showing 0 of 7 posts` past the end)."""
    total = int(page.get("total", 0))
    count = len(page.get("items", []))
    skip = int(page.get("skip", 0))
    if total == 0:
        return f"no {noun}"
    if count == 0:
        return f"showing 0 of {total} {noun} (skip {skip} is past the end)"
    return f"showing {skip + 1}-{skip + count} of {total} {noun}"


def print_page(page: dict, columns, tz: ZoneInfo, noun: str) -> None:
    if page.get("items"):
        emit(table(page["items"], columns, tz))
    emit(page_range(page, noun))


def record(obj: dict, tz: ZoneInfo, *, skip: tuple[str, ...] = ()) -> str:
    """One object as a two-column table of its fields (nested values compact)."""
    rows = []
    for key, value in obj.items():
        if key in skip:
            continue
        shown = cell(key, value, tz)
        if key in ("caption", "text", "detail", "status_reason", "description", "reason") and value:
            shown = str(value)  # the whole text when looking at one thing
        elif isinstance(value, (dict, list)) and value:
            shown = json.dumps(value, ensure_ascii=False)
        rows.append([key, shown])
    return tabulate(rows, tablefmt="plain", disable_numparse=True)


def print_record(obj: dict, tz: ZoneInfo, *, skip: tuple[str, ...] = ()) -> None:
    emit(record(obj, tz, skip=skip))


def print_post(post: dict, tz: ZoneInfo) -> None:
    print_record(post, tz, skip=("history", "target"))
    target = {k: v for k, v in (post.get("target") or {}).items() if v not in (None, False, [], "")}
    if target:
        emit("target   " + ", ".join(f"{k}={v}" for k, v in target.items()))
    history = post.get("history") or []
    if history:
        emit("")
        emit(table(history, [("at", "WHEN"), ("from_status", "FROM"), ("to_status", "TO"), ("reason", "REASON")], tz))


def print_content(content: dict, tz: ZoneInfo) -> None:
    media = ", ".join(m.get("uri", "?") for m in content.get("media") or []) or "-"
    print_record({**content, "media": media}, tz, skip=("posts", "targets", "caption", "hashtags"))
    posts = content.get("posts") or []
    if posts:
        emit("")
        emit(table(posts, POST_COLUMNS[:5], tz))


def print_calendar(calendar: dict, tz: ZoneInfo) -> None:
    """Posts grouped by day: a heading per day (in the calendar's zone), then that day's posts by time."""
    days = [day for day in calendar.get("days", []) if day.get("posts")]
    total = sum(len(day["posts"]) for day in days)
    emit(f"calendar {calendar.get('from')} .. {calendar.get('to')} ({calendar.get('tz', tz.key)})")
    for day in days:
        emit("")
        emit(_day_heading(day.get("date")))
        rows = [[_calendar_time(p, tz)] +
                [cell(key, p.get(key), tz) for key, _ in CALENDAR_COLUMNS[1:]] for p in day["posts"]]
        emit(tabulate(rows, headers=[title for _, title in CALENDAR_COLUMNS], tablefmt=TABLE_FORMAT,
                      disable_numparse=True))
    emit("")
    emit(f"{total} post{'s' if total != 1 else ''} on {len(days)} day{'s' if len(days) != 1 else ''}" if total
         else "no posts in this range")


def _calendar_time(post: dict, tz: ZoneInfo) -> str:
    """When it goes out: its scheduled time, else when it was published, else "on approval"
    (a post without a time is published as soon as it is approved)."""
    moment = post.get("scheduled_at") or post.get("published_at")
    if moment:
        return format_time(moment, tz, with_date=False)
    return "on approval" if post.get("status") in ("draft", "pending_approval") else "-"


def _day_heading(value) -> str:
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return f"== {value} =="
    return f"== {day.isoformat()} {day.strftime('%a')} =="


STATS_METRICS = [("views", "VIEWS"), ("likes", "LIKES"), ("comments", "COMMENTS"), ("shares", "SHARES"),
                 ("saves", "SAVES"), ("impressions", "IMPRESSIONS"), ("reach", "REACH")]


def _stats_row(first: str, row: dict) -> list[str]:
    rate = row.get("engagement_rate")
    counts = ["-" if row.get(key) is None else f"{row[key]:,}" for key, _ in STATS_METRICS]
    return [first, f"{row.get('posts', 0):,}", *counts, "-" if rate is None else f"{rate * 100:.2f}%"]


def print_campaign_stats(stats: dict, tz: ZoneInfo) -> None:
    """One table per platform: a row per UTC day (each post's last snapshot that day, summed), then
    the range's total (each post's last snapshot in the range, summed: days do not add up)."""
    emit(f"campaign {stats.get('campaign')}  {stats.get('from')} .. {stats.get('to')} "
         f"({stats.get('tz', 'UTC')} days; counts are lifetime counts at each day's last snapshot)")
    totals = {t["platform"]: t for t in stats.get("totals") or []}
    platforms = sorted({d["platform"] for d in stats.get("days") or []} | set(totals))
    if not platforms:
        emit("no numbers in this range")
        return
    headers = ["DATE", "POSTS", *[title for _, title in STATS_METRICS], "ENGAGEMENT"]
    for platform in platforms:
        rows = [_stats_row(str(d["date"]), d) for d in stats["days"] if d["platform"] == platform]
        if platform in totals:
            total = totals[platform]
            rows.append(_stats_row("total", total))
        emit("")
        emit(f"== {platform} ==" + (f"  (total as of {format_time(totals[platform].get('as_of'), tz)})"
                                    if platform in totals else ""))
        emit(tabulate(rows, headers=headers, tablefmt=TABLE_FORMAT, disable_numparse=True,
                      colalign=("left",) + ("right",) * (len(headers) - 1)))
