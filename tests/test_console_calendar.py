"""The console's calendar (Flask test client on the api function, the emulators behind it): month and
week views grouped by the reader's local day across a clock change, what each post shows, the cap
mark, navigation, refusals naming the parameter, and the Firestore reads of a month by design."""

from __future__ import annotations

import html as htmllib
from datetime import timedelta

import pytest

from tests.conftest import ACCOUNT, register_account, upload_video
from tests.console_posts_support import (
    day_html,
    local_moment,
    make_post,
    next_dst_change,
    posts_by_day,
    schedule,
)
from tests.console_support import EDITOR, api_client, set_up_console, sign_in_locally


@pytest.fixture
def console(env, monkeypatch):
    set_up_console(monkeypatch)
    client = api_client()
    sign_in_locally(client, EDITOR)
    yield client
    monkeypatch.undo()


def _page(client, **query) -> str:
    answer = client.get("/console/calendar", query_string=query)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:2000]
    return answer.get_data(as_text=True)


def test_month_and_week_group_posts_by_the_local_day_across_a_clock_change(console, env):
    change = next_dst_change()
    video = upload_video()
    early = make_post(console, env, video, local_moment(change, 0, 30))  # 00:30 on the day of the change
    late = make_post(console, env, video, local_moment(change, 23, 30))  # 23:30 the same local day
    after = make_post(console, env, video, local_moment(change + timedelta(days=1), 0, 30))
    day, next_day = change.isoformat(), (change + timedelta(days=1)).isoformat()

    month = _page(console, view="month", date=day, tz="Europe/Berlin")
    by_day = posts_by_day(month)
    assert by_day[day] == [early, late], by_day
    if next_day in by_day:  # the month's grid ends on a Sunday: the day after is there unless the month ended
        assert by_day[next_day] == [after], by_day
    assert "Times in Europe/Berlin" in month and f"{change:%B %Y}" in month
    # A month grid runs Monday to Sunday: whole weeks, 35 or 42 days.
    assert len(by_day) in (35, 42) and list(by_day)[0] <= f"{change:%Y-%m}-01"
    assert ">00:30</time>" in day_html(month, change) and ">23:30</time>" in day_html(month, change)

    # The clocks change on a Sunday: the week ends with that day, the post after midnight is next week's.
    week = posts_by_day(_page(console, view="week", date=day, tz="Europe/Berlin"))
    assert list(week)[-1] == day and len(week) == 7 and week[day] == [early, late]
    assert posts_by_day(_page(console, view="week", date=next_day, tz="Europe/Berlin"))[next_day] == [after]

    # In UTC the same posts fall on other days: 00:30 in Berlin is the evening before.
    utc = posts_by_day(_page(console, view="week", date=day, tz="UTC"))
    assert early not in utc[day] and early in utc[(change - timedelta(days=1)).isoformat()]
    assert after in utc[day] and late in utc[day]


def test_the_browsers_zone_comes_from_its_cookie_and_tz_overrides_it(console, env):
    change = next_dst_change()
    post = make_post(console, env, upload_video(), local_moment(change, 0, 30))
    console.set_cookie("postgate-tz", "Europe/Berlin", domain="localhost")
    berlin = _page(console, view="week", date=change.isoformat())
    assert "Times in Europe/Berlin" in berlin and post in posts_by_day(berlin)[change.isoformat()]
    utc = _page(console, view="week", date=change.isoformat(), tz="UTC")
    assert "Times in UTC" in utc and post not in posts_by_day(utc)[change.isoformat()]
    # An unknown zone in the cookie is no zone: UTC.
    console.set_cookie("postgate-tz", "Mars/Olympus_Mons", domain="localhost")
    assert "Times in UTC" in _page(console, view="week", date=change.isoformat())


def test_each_post_shows_platform_account_status_in_words_and_colour_and_caption_start(console, env):
    change = next_dst_change()
    long_caption = "Our bottle keeps drinks cold for a full day, even on the longest summer hike through the hills."
    waiting = make_post(console, env, upload_video(), local_moment(change, 9, 0), caption=long_caption)
    planned = make_post(console, env, upload_video(), local_moment(change, 11, 15), caption="Second & <b>bold</b>")
    schedule(planned)
    html = day_html(_page(console, view="week", date=change.isoformat(), tz="Europe/Berlin"), change)
    first, second = html.split(f'data-post-id="{planned}"')
    assert f'href="posts/{waiting}?tz=Europe/Berlin"' in first
    assert 'class="platform">TikTok<' in first and 'class="account">@brand_main<' in first
    assert 'class="status-badge status-pending_approval">Waiting for approval<' in first
    assert "Our bottle keeps drinks cold for a full day, even on the lo…" in first and long_caption not in first
    assert 'class="status-badge status-scheduled">Scheduled<' in second
    assert "Second &amp; &lt;b&gt;bold&lt;/b&gt;" in second and "<b>bold" not in second


def test_a_day_with_an_account_at_its_cap_is_marked(console, env):
    from shared import services

    register_account("tiktok-small", "tiktok", {"access_token": "act.small"}, handle="small_shop",
                     limits=[{"name": "posts_per_day", "max_count": 2, "window_seconds": 86400}])
    change = next_dst_change()
    full_day, half_day = change, change + timedelta(days=1)
    video = upload_video()
    for hour in (9, 12):
        schedule(make_post(console, env, video, local_moment(full_day, hour, 0), account="tiktok-small"))
    schedule(make_post(console, env, video, local_moment(half_day, 9, 0), account="tiktok-small"))
    make_post(console, env, video, local_moment(half_day, 12, 0), account="tiktok-small")  # waiting: not counted
    for hour in (10, 11, 13):  # the main account's cap is TikTok's 15 a day
        schedule(make_post(console, env, video, local_moment(full_day, hour, 0)))
    assert services.repository().get_account(ACCOUNT).get("limits") is None

    month = _page(console, view="month", date=full_day.isoformat(), tz="Europe/Berlin")
    marked = day_html(month, full_day)
    assert "at-cap" in marked.split(">", 1)[0]
    assert "@small_shop at its cap: 2 of 2 a day" in htmllib.unescape(marked) and "@brand_main at its cap" not in marked
    assert "at-cap" not in day_html(month, half_day).split(">", 1)[0] and "cap-mark" not in day_html(month, half_day)
    # The month lists 4 posts a day; the week view has the rest.
    assert month.count("data-post-id") >= 4 and "1 more" in marked
    week = day_html(_page(console, view="week", date=full_day.isoformat(), tz="Europe/Berlin"), full_day)
    assert week.count("data-post-id") == 5 and "at its cap: 2 of 2" in week


def test_previous_and_next_move_by_a_month_or_a_week_and_keep_the_zone_asked_for(console):
    month = _page(console, view="month", date="2027-01-15", tz="Asia/Tokyo")
    assert "January 2027" in month
    assert 'rel="prev" href="calendar?view=month&amp;date=2026-12-01&amp;tz=Asia/Tokyo"' in month
    assert 'rel="next" href="calendar?view=month&amp;date=2027-02-01&amp;tz=Asia/Tokyo"' in month
    week = _page(console, view="week", date="2027-01-15", tz="Asia/Tokyo")
    assert "11–17 January 2027" in week
    assert 'rel="prev" href="calendar?view=week&amp;date=2027-01-08&amp;tz=Asia/Tokyo"' in week
    assert 'rel="next" href="calendar?view=week&amp;date=2027-01-22&amp;tz=Asia/Tokyo"' in week
    assert 'href="calendar?view=week&amp;date=2027-01-15&amp;tz=Asia/Tokyo" aria-current="page">Week' in week
    # Without ?tz= the links carry none: the browser's own zone applies.
    assert "tz=" not in _page(console, view="week", date="2027-01-15").split("<main", 1)[1]


@pytest.mark.parametrize("query, field", [({"tz": "Mars/Olympus_Mons"}, "tz"), ({"tz": "../../etc/passwd"}, "tz"),
                                          ({"date": "2027-02-30"}, "date"), ({"date": "soon"}, "date"),
                                          ({"view": "year"}, "view")])
def test_a_bad_parameter_is_a_400_page_naming_it(console, query, field):
    answer = console.get("/console/calendar", query_string=query)
    assert answer.status_code == 400
    assert f"{field} " in answer.get_data(as_text=True) and 'role="alert"' in answer.get_data(as_text=True)


def test_the_calendar_needs_a_session(env, monkeypatch):
    set_up_console(monkeypatch)
    answer = api_client().get("/console/calendar?view=week")
    assert answer.status_code == 303 and "sign-in?next=" in answer.headers["Location"]


def test_a_month_of_500_posts_reads_what_the_design_says(console, env):
    """docs/console.md#calendar: the layout's 2 reads, 2 queries for the posts, their content items in
    get_all batches of 100, and one get_all of their accounts."""
    from infra.local.bench import FirestoreMeter
    from shared import services
    from shared.model.content import ContentItem, TargetSpec
    from shared.model.post import Post
    from shared.runtime.clock import utcnow
    from shared.stores.posts import dump

    change = next_dst_change()
    first = change.replace(day=1)
    db = services.repository().db
    now = utcnow()
    docs = []
    for i in range(500):
        at = local_moment(first + timedelta(days=i % 28), 8 + i % 12, i % 60)
        content = ContentItem(id=f"c-bench-{i:03d}", campaign="launch", caption=f"Post number {i}", targets=[
            TargetSpec(account_id=ACCOUNT)], requested_by="editor@example.com", generator="own-copy",
            content_hash="h", created_at=now, updated_at=now)
        post = Post(id=f"c-bench-{i:03d}--{ACCOUNT}", content_id=content.id, account_id=ACCOUNT, platform="tiktok",
                    campaign="launch", status="scheduled", content_hash="h", target=TargetSpec(account_id=ACCOUNT),
                    scheduled_at=at, created_at=now, updated_at=now)
        docs += [("content", content.id, dump(content)), ("posts", post.id, dump(post))]
    for start in range(0, len(docs), 400):
        batch = db.batch()
        for collection, doc_id, doc in docs[start:start + 400]:
            batch.set(db.collection(collection).document(doc_id), doc)
        batch.commit()

    meter = FirestoreMeter(db)
    calls = _count_calls(db)
    html = _page(console, view="month", date=first.isoformat(), tz="Europe/Berlin")
    reads, writes = meter.take()
    assert html.count("data-post-id") == 28 * 4 and html.count("@brand_main at its cap: 1") == 28
    # Documents: api_users, 500 planned posts, 1 for the query of unplanned ones (empty: billed one read),
    # 500 content items, 1 account; nothing written. (The waiting count is an aggregation, billed one read
    # per 1000 items counted, which the meter does not see.)
    assert (reads, writes) == (1 + 500 + 1 + 500 + 1, 0), (reads, writes)
    # RPCs: the roles' get, the count, 2 post queries, 5 get_all batches of content, 1 of accounts.
    assert calls == {"batch_get_documents": 1 + 5 + 1, "run_query": 2, "run_aggregation_query": 1}, calls


def _count_calls(db) -> dict[str, int]:
    """RPCs by method from now on (the meter's wrapping stays underneath)."""
    counts: dict[str, int] = {}
    api = db._firestore_api
    for name in ("batch_get_documents", "run_query", "run_aggregation_query"):
        original = getattr(api, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            counts[_name] = counts.get(_name, 0) + 1
            return _original(*args, **kwargs)

        setattr(api, name, counted)
    return counts
