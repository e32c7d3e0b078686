"""A post's page in the console (Flask test client on the api function, the emulators behind it): the
timeline with its reasons, the platform link and numbers with their trend, cancel / reschedule / edit by
the API's rules with refusals next to the field they name, CSRF and sessions, and the live-status
stream served under the console's session within the API's stream bounds."""

from __future__ import annotations

import html as htmllib
import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import pytest
import requests

from tests.browser import serve_function
from tests.conftest import bearer, register_account, upload_video
from tests.console_posts_support import BERLIN, local_moment, make_post, move, next_dst_change, schedule
from tests.console_support import APPROVER, EDITOR, api_client, csrf_of, set_up_console, sign_in_locally


@pytest.fixture
def console(env, monkeypatch):
    set_up_console(monkeypatch)
    client = api_client()
    sign_in_locally(client, EDITOR)
    yield client
    monkeypatch.undo()


def _text(html: str) -> str:
    """The page's words, tags dropped and entities read, whitespace folded."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _page(client, post_id: str, **query) -> str:
    answer = client.get(f"/console/posts/{post_id}", query_string=query)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:3000]
    return answer.get_data(as_text=True)


def _post(post_id: str):
    from shared import services

    return services.repository().get_post(post_id)


def _planned(client, env, days: int = 10, **kwargs) -> str:
    return make_post(client, env, upload_video(), datetime.now(UTC) + timedelta(days=days), **kwargs)


def _submit(client, post_id: str, action: str, **fields):
    """POST one of the page's forms, with the page's CSRF token, as a browser does."""
    token = csrf_of(client.get(f"/console/posts/{post_id}").get_data(as_text=True))
    return client.post(f"/console/posts/{post_id}/{action}", data={"csrf_token": token, **fields})


def _error_of(html: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert match, f"no error next to {field}:\n{_text(html)[:2000]}"
    return htmllib.unescape(match.group(1))


# --- what the page shows -------------------------------------------------------------------------

def test_the_timeline_tells_approval_retries_an_unknown_outcome_and_the_platforms_words(console, env):
    from shared.runtime.clock import utcnow
    from shared.stores.posts import unconfirmed

    post_id = _planned(console, env)
    schedule(post_id, by=APPROVER)
    page = _text(_page(console, post_id, tz="Europe/Berlin"))
    assert "Scheduled Goes out at" in page and "Approved by lead@example.com" in page
    assert "approved by lead@example.com" in page and "Times in Europe/Berlin" in page

    retry_at = utcnow() + timedelta(minutes=5)
    move(post_id, ("queued", "scheduled time reached"), ("publishing", None), attempt_id="a1", attempt_count=1)
    move(post_id, ("queued", "TikTok answered 503 Service Unavailable; trying again"), attempt_id=None,
         next_attempt_at=retry_at)
    page = _text(_page(console, post_id, tz="Europe/Berlin"))
    local_retry = retry_at.astimezone(BERLIN)
    assert f"Waiting after 1 attempt: the next try is not before {local_retry:%a} {local_retry.day}" in page
    assert "TikTok answered 503 Service Unavailable; trying again" in page and "Attempts 1" in page

    move(post_id, ("publishing", None), attempt_id="a2", attempt_count=2)
    from shared import services

    services.repository().change_post(post_id, lambda p: unconfirmed(p, utcnow(), "the connection dropped after the upload"))
    html = _page(console, post_id)
    assert 'id="post-status" class="status-badge status-processing">Processing<' in html
    assert "Outcome unknown, looking it up" in _text(html)
    assert "outcome unknown: the connection dropped after the upload; the status poll will look it up" in _text(html)

    move(post_id, ("failed", "platform: The video is shorter than 3 seconds"),
         fail_reason="The video is shorter than 3 seconds", fail_class="rejected_by_platform")
    html = _page(console, post_id)
    page = _text(html)
    assert "Failed (rejected_by_platform): The video is shorter than 3 seconds" in page
    steps = re.findall(r'<li class="step[^"]*" data-status="([a-z_]+)"', html)
    assert steps == ["draft", "approved", "scheduled", "queued", "publishing", "queued", "publishing", "processing", "failed"]
    order = ["Written by editor@example.com", "approved by lead@example.com", "scheduled time reached", "TikTok answered 503", "outcome unknown",
             "platform: The video is shorter than 3 seconds"]
    assert [page.index(words) for words in order] == sorted(page.index(words) for words in order)
    # A failed post is final: no forms, and it says why.
    assert "/cancel" not in html and "cannot be changed any more" in page


def test_a_published_post_links_to_the_platform_and_shows_its_numbers_and_their_trend(console, env):
    from shared import services
    from shared.analytics.writer import latest_metrics, metrics_row, write_rows
    from shared.model.analytics import PlatformMetrics
    from shared.runtime.clock import utcnow
    from shared.runtime.config import get_config

    post_id = _planned(console, env)
    schedule(post_id)
    published_at = utcnow() - timedelta(days=3)
    snapshots = [(published_at + timedelta(hours=6 * i), PlatformMetrics(platform_post_id="v1", views=100 * i * i,
                                                                           likes=10 * i, comments=i))
                 for i in range(1, 6)]
    move(post_id, ("queued", None), ("publishing", None), ("published", "platform confirmed"),
         published_at=published_at, share_url="https://www.tiktok.com/@brand_main/video/7", platform_ids={"video_id": "7"},
         metrics=latest_metrics(snapshots[-1][1]), metrics_fetched_at=snapshots[-1][0])
    post = _post(post_id)
    rows = [metrics_row(post, "v1", m, run_id=f"run-{i}", fetched_at=at) for i, (at, m) in enumerate(snapshots)]
    write_rows(services.bigquery(), get_config().project, rows, run_started_at=published_at)

    html = _page(console, post_id, tz="Europe/Berlin")
    page = _text(html)
    assert 'href="https://www.tiktok.com/@brand_main/video/7"' in html and "Open the post on TikTok" in page
    assert "Views 2,500" in page and "Likes 50" in page and "Comments 5" in page and "Engagement rate 2.20 %" in page
    chart = html[html.index('<svg class="chart" id="trend-chart"'):html.index("</svg>", html.index('id="trend-chart"'))]
    assert chart.count("<circle") == 5 and 'role="img"' in chart
    # Under the console's CSP: no inline script or style (the chart's colours come from posts.css).
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html and " style=" not in html and not re.search(r" on[a-z]+=", html)
    assert "Views over 5 snapshots: 100 at" in _text(chart) and "2,500 at" in _text(chart)
    assert "/cancel" not in html and "cannot be changed any more" in page


def test_an_unknown_post_is_a_404_page(console):
    for post_id in ("c-nothing--tiktok-main", "..hidden"):
        answer = console.get(f"/console/posts/{post_id}")
        assert answer.status_code == 404 and "no post" in answer.get_data(as_text=True)


# --- changes and their refusals ------------------------------------------------------------------

def test_reschedule_moves_the_post_in_the_readers_zone_and_keeps_the_approval(console, env):
    post_id = _planned(console, env)
    schedule(post_id)
    new_day = (datetime.now(BERLIN) + timedelta(days=20)).date()
    answer = _submit(console, post_id, "reschedule", tz="Europe/Berlin", scheduled_at=f"{new_day.isoformat()}T09:30")
    assert answer.status_code == 303
    target = urljoin(f"/console/posts/{post_id}/reschedule", answer.headers["Location"])
    assert target == f"/console/posts/{post_id}?done=rescheduled"
    post = _post(post_id)
    assert post.scheduled_at == local_moment(new_day, 9, 30).astimezone(UTC) and post.status == "scheduled"
    assert post.approved_by == APPROVER and "rescheduled by editor@example.com" in post.history[-1].reason
    page = _text(_page(console, post_id, done="rescheduled", tz="Europe/Berlin"))
    assert "The post has its new time." in page and f"{new_day.day} {new_day:%b %Y}, 09:30" in page


@pytest.mark.parametrize("typed, status, words", [
    ("2020-01-01T09:00", 422, "is in the past"),
    ("tomorrow", 400, "is not a date and time"),
    ("", 400, "is not a date and time"),
])
def test_a_refused_reschedule_says_why_next_to_the_time_and_changes_nothing(console, env, typed, status, words):
    post_id = _planned(console, env)
    before = _post(post_id)
    answer = _submit(console, post_id, "reschedule", tz="Europe/Berlin", scheduled_at=typed)
    html = answer.get_data(as_text=True)
    assert answer.status_code == status
    assert words in _error_of(html, "scheduled_at") and "scheduled_at" in _error_of(html, "scheduled_at")
    assert 'aria-describedby="scheduled_at-error"' in html and f'value="{typed}"' in html
    assert "Nothing was changed" in _text(html)
    assert _post(post_id) == before


def test_a_time_the_clocks_skip_is_refused_naming_it(console, env):
    day = next_dst_change()
    while datetime.combine(day, datetime.min.time(), BERLIN).utcoffset() != timedelta(hours=1):
        day = next_dst_change(after_days=(day - datetime.now(UTC).date()).days + 1)  # the spring change
    post_id = _planned(console, env)
    answer = _submit(console, post_id, "reschedule", tz="Europe/Berlin", scheduled_at=f"{day.isoformat()}T02:30")
    assert answer.status_code == 400
    assert "does not exist in Europe/Berlin" in _error_of(answer.get_data(as_text=True), "scheduled_at")


def test_a_reschedule_onto_a_full_day_is_refused_naming_the_time(console, env):
    register_account("tiktok-small", "tiktok", {"access_token": "act.small"}, handle="small_shop",
                     limits=[{"name": "posts_per_day", "max_count": 1, "window_seconds": 86400}])
    day = (datetime.now(UTC) + timedelta(days=15)).date()
    taken = make_post(console, env, upload_video(), datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=9),
                      account="tiktok-small")
    schedule(taken)
    post_id = _planned(console, env, account="tiktok-small")
    answer = _submit(console, post_id, "reschedule", tz="UTC", scheduled_at=f"{day.isoformat()}T15:00")
    assert answer.status_code == 422
    assert "its cap is 1 a day" in _error_of(answer.get_data(as_text=True), "scheduled_at")


def test_cancel_by_an_editor_and_a_refused_cancel_once_published(console, env):
    post_id = _planned(console, env)
    schedule(post_id)
    answer = _submit(console, post_id, "cancel")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("?done=cancelled")
    post = _post(post_id)
    assert post.status == "cancelled" and post.history[-1].reason == "cancelled by editor@example.com"
    page = _text(_page(console, post_id, done="cancelled"))
    assert "The post is cancelled." in page and "cancelled by editor@example.com" in page

    done = _planned(console, env)
    schedule(done)
    move(done, ("queued", None), ("publishing", None), ("published", "platform confirmed"), published_at=datetime.now(UTC))
    token = csrf_of(console.get(f"/console/posts/{post_id}").get_data(as_text=True))
    refused = console.post(f"/console/posts/{done}/cancel", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "is already published; it can't be cancelled" in _error_of(refused.get_data(as_text=True), "cancel")
    assert _post(done).status == "published"


def test_an_approver_may_reschedule_and_cancel_too(env, monkeypatch):
    set_up_console(monkeypatch)
    client = api_client()
    sign_in_locally(client, APPROVER)
    post_id = make_post(client, env, upload_video(), datetime.now(UTC) + timedelta(days=5))
    new_time = (datetime.now(UTC) + timedelta(days=6)).strftime("%Y-%m-%dT%H:%M")
    assert _submit(client, post_id, "reschedule", tz="UTC", scheduled_at=new_time).status_code == 303
    assert _submit(client, post_id, "cancel").status_code == 303
    assert _post(post_id).history[-1].reason == f"cancelled by {APPROVER}"


def test_an_edit_makes_a_new_version_and_asks_for_approval_again(console, env):
    post_id = _planned(console, env, caption="Cold for 24 hours.")
    schedule(post_id)
    answer = _submit(console, post_id, "edit", caption="Cold for 48 hours.\r\nNew line.", hashtags="#Launch summer")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("?done=edited")
    from shared import services

    post = _post(post_id)
    content = services.repository().get_content(post.content_id)
    assert content.caption == "Cold for 48 hours.\nNew line." and content.hashtags == ["Launch", "summer"]
    assert post.status == "pending_approval" and "approval void: edited by editor@example.com" in post.history[-1].reason
    assert "Saved: the new version waits for approval." in _text(_page(console, post_id, done="edited"))
    again = _submit(console, post_id, "edit", caption="Cold for 48 hours.\r\nNew line.", hashtags="Launch summer")
    assert again.headers["Location"].endswith("?done=unchanged") and _post(post_id) == post


@pytest.mark.parametrize("fields, field, words", [
    ({"caption": "   ", "hashtags": ""}, "caption", "caption is blank"),
    ({"caption": "Fine.", "hashtags": "ok " + "x" * 101}, "hashtags", "hashtags"),
])
def test_a_refused_edit_says_why_next_to_the_field_and_keeps_what_was_typed(console, env, fields, field, words):
    post_id = _planned(console, env)
    before = _post(post_id)
    answer = _submit(console, post_id, "edit", **fields)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400 and words in _error_of(html, field)
    assert f'aria-describedby="{field}-error"' in html
    assert htmllib.escape(fields["hashtags"]) in html
    assert _post(post_id) == before


def test_an_edit_the_platform_would_refuse_is_shown_next_to_the_caption(console, env):
    post_id = _planned(console, env)
    before = _post(post_id)
    answer = _submit(console, post_id, "edit", caption="x" * 2201, hashtags="")  # TikTok captions: 2200 at most
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "caption too long for TikTok" in _error_of(html, "caption")
    assert _post(post_id) == before


# --- who may, and the CSRF token -----------------------------------------------------------------

@pytest.mark.parametrize("action, fields", [("cancel", {}), ("reschedule", {"scheduled_at": "2030-01-01T09:00"}),
                                            ("edit", {"caption": "Changed.", "hashtags": ""})])
def test_every_change_needs_the_csrf_token(console, env, action, fields):
    post_id = _planned(console, env)
    before = _post(post_id)
    answer = console.post(f"/console/posts/{post_id}/{action}", data=fields)
    assert answer.status_code == 400 and "CSRF token is missing" in answer.get_data(as_text=True)
    assert _post(post_id) == before


def test_without_a_session_the_page_and_its_changes_go_to_sign_in(env, monkeypatch):
    set_up_console(monkeypatch)
    client = api_client()
    post_id = make_post(client, env, upload_video(), datetime.now(UTC) + timedelta(days=5))
    before = _post(post_id)
    page = client.get(f"/console/posts/{post_id}")
    assert page.status_code == 303 and "sign-in?next=" in page.headers["Location"]
    refused = client.post(f"/console/posts/{post_id}/cancel", data={})
    assert refused.status_code == 303 and refused.headers["Location"].endswith("sign-in")
    assert client.get(f"/console/contents/{before.content_id}/events").status_code == 303
    assert _post(post_id) == before


# --- live status ---------------------------------------------------------------------------------

def test_the_page_points_its_script_at_the_consoles_stream_of_the_item(console, env):
    post_id = _planned(console, env)
    html = _page(console, post_id)
    content_id = _post(post_id).content_id
    assert f'data-events="../contents/{content_id}/events"' in html and "post-live.js" in html
    answer = console.get(f"/console/contents/{content_id}/events", buffered=False)
    try:
        assert answer.status_code == 200 and answer.mimetype == "text/event-stream"
        chunks = iter(answer.response)
        first, second = next(chunks), next(chunks)
        text = (first + second).decode() if isinstance(first, bytes) else first + second
        assert f": posts of content {content_id}" in text and "event: post" in text and post_id in text
    finally:
        answer.close()
    assert console.get("/console/contents/c-nothing/events").status_code == 404


def test_the_consoles_stream_shares_the_apis_per_user_bound(env, monkeypatch):
    """Over real HTTP (a test client cannot hold two streams open at once): a person's console streams and
    API streams count against one per-user bound; over it, 429 with Retry-After."""
    monkeypatch.setenv("POSTGATE_API_STREAMS_PER_USER", "2")
    monkeypatch.setenv("POSTGATE_API_STREAM_HEARTBEAT_SECONDS", "0.3")
    set_up_console(monkeypatch)
    with serve_function("functions/api/main.py", "api") as site:
        cookie = _session_cookie(site.url, EDITOR)
        post_id = make_post(api_client(), env, upload_video(), datetime.now(UTC) + timedelta(days=5))
        path = f"/contents/{_post(post_id).content_id}/events"
        held = [_stream(site.url + "/console" + path, {"Cookie": cookie}),
                _stream(site.url + path, bearer(env, user=EDITOR))]
        try:
            assert [a.status_code for a in held] == [200, 200]
            over = _stream(site.url + "/console" + path, {"Cookie": cookie})
            assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
            assert "already has 2 live-status streams open (at most 2)" in over.text
            other = _stream(site.url + path, bearer(env, user="someone@example.com"))  # their own share
            assert other.status_code == 200
            other.close()
        finally:
            for answer in held:
                answer.close()
        deadline = time.monotonic() + 10
        while True:  # the server notices the closed streams at their next heartbeat or event
            again = _stream(site.url + "/console" + path, {"Cookie": cookie})
            again.close()
            if again.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert again.status_code == 200


def _session_cookie(url: str, user: str) -> str:
    """Sign in on the local sign-in page; the session cookie as a Cookie header value (the cookie is
    Secure, which a cookie jar keeps from plain HTTP, so it is sent by hand)."""
    page = requests.get(url + "/console/sign-in", timeout=10)
    first = re.search(r"__Host-postgate-console=([^;]+)", page.headers["Set-Cookie"]).group(0)
    signed = requests.post(url + "/console/sign-in/local", data={"csrf_token": csrf_of(page.text), "user": user},
                           headers={"Cookie": first}, allow_redirects=False, timeout=10)
    assert signed.status_code == 303, signed.text[:500]
    return re.search(r"__Host-postgate-console=([^;]+)", signed.headers["Set-Cookie"]).group(0)


def _stream(url: str, headers: dict) -> requests.Response:
    """A stream request on its own connection; the answer's head only."""
    return requests.get(url, headers=headers, stream=True, timeout=(3, 5))
