"""Posts for the console's calendar and post-page tests: made through the API as a team would, then
moved through the states the publisher, the approver and the status poll move them through."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tests.conftest import ACCOUNT, bearer

BERLIN = ZoneInfo("Europe/Berlin")
_DAY = re.compile(r'<li class="cal-day[^"]*" id="day-(\d{4}-\d{2}-\d{2})"')
_POST = re.compile(r'data-post-id="([^"]+)"')


def make_post(client, env, video: str, at: datetime | None, *, caption: str = "Cold for 24 hours.",
              account: str = ACCOUNT) -> str:
    """A post of the team's own copy planned for `at` (pending approval); its id."""
    body = {"campaign": "launch", "caption": caption, "video": video,
            "targets": [{"account_id": account, "privacy_level": "PUBLIC_TO_EVERYONE"}]}
    if at is not None:
        body["publish_at"] = at.astimezone(UTC).isoformat()
    answer = client.post("/posts", json=body, headers=bearer(env))
    assert answer.status_code == 201, answer.get_json()
    [post] = answer.get_json()["posts"]
    return post["id"]


def move(post_id: str, *steps: tuple[str, str | None], **changes):
    """Take the post through `steps` ((status, reason), ...) by state-machine transitions, as the
    publisher and the status poll do; `changes` are set with the last one."""
    from shared import services
    from shared.model.state_machine import transition

    def decide(post):
        for i, (status, reason) in enumerate(steps):
            post = transition(post, status, reason=reason, **(changes if i == len(steps) - 1 else {}))
        return post

    _, after = services.repository().change_post(post_id, decide)
    return after


def schedule(post_id: str, by: str = "lead@example.com"):
    """Approved and scheduled, as an approval of a post with a future time leaves it."""
    from shared.runtime.clock import utcnow

    return move(post_id, ("approved", f"approved by {by}"), ("scheduled", None), approved_by=by, approved_at=utcnow())


def next_dst_change(zone: ZoneInfo = BERLIN, after_days: int = 3) -> date:
    """The next local day (from `after_days` on) on which `zone`'s clocks change."""
    day = datetime.now(UTC).date() + timedelta(days=after_days)
    for _ in range(400):
        before = datetime.combine(day, time(0, 30), zone).utcoffset()
        after = datetime.combine(day, time(23, 30), zone).utcoffset()
        if before != after:
            return day
        day += timedelta(days=1)
    raise AssertionError(f"{zone.key} changes no clock within 400 days")


def local_moment(day: date, hour: int, minute: int, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime.combine(day, time(hour, minute), zone)


def posts_by_day(html: str) -> dict[str, list[str]]:
    """The calendar page's days (YYYY-MM-DD) and the post ids listed on each, in order."""
    marks = list(_DAY.finditer(html))
    days = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(html)
        days[mark.group(1)] = _POST.findall(html[mark.start():end])
    return days


def day_html(html: str, day: date) -> str:
    """The markup of one day of the calendar page."""
    start = next(m.start() for m in _DAY.finditer(html) if m.group(1) == day.isoformat())
    following = _DAY.search(html, start + 10)
    return html[start:following.start() if following else len(html)]
