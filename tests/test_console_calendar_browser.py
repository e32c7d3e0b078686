"""The calendar and a post's page in a real browser (headless Chromium) at phone and desktop width, in
the browser's own time zone: no horizontal overflow, no CSP or script error, axe-core finding no serious
or critical violation on the month, the week and the post's page; a click on a post opens it; and a
status change of the post appears on its open page without a reload (the live-status stream)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from tests.axe import assert_accessible, axe_version
from tests.browser import console_errors, set_timezone, set_viewport
from tests.conftest import register_account, upload_video
from tests.console_browser import assert_fits, page_heading, save_screenshot, serve_console, wait_until
from tests.console_posts_support import BERLIN, local_moment, make_post, move, schedule
from tests.console_support import APPROVER, api_client

WIDTHS = [pytest.param(1280, 800, False, id="desktop-1280px"), pytest.param(390, 844, True, id="phone-390px")]
_WORDS = "return document.body ? document.body.innerText : ''"


@pytest.fixture
def console_site(env, monkeypatch):
    """The api function (console included) on a real port, set up as the local stack sets it up."""
    with serve_console(monkeypatch) as site:
        yield site
    monkeypatch.undo()


def _sign_in(driver, site, next_path: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{site.url}/console/sign-in?{urlencode({'next': next_path})}")
    wait_until(driver, lambda d: page_heading(d) == "Sign in to Postgate", "the sign-in page")
    driver.find_element(By.CSS_SELECTOR, f'button[value="{APPROVER}"]').click()


def _seed(env) -> dict:
    """A week of posts in every state, two accounts (one at its cap on a day), long words included."""
    client, video = api_client(), upload_video()
    register_account("tiktok-small", "tiktok", {"access_token": "act.small"}, handle="small_shop_with_a_long_handle",
                     limits=[{"name": "posts_per_day", "max_count": 2, "window_seconds": 86400}])
    start = datetime.now(BERLIN).date() + timedelta(days=2)
    made: dict = {"start": start}
    made["waiting"] = make_post(client, env, video, local_moment(start, 9, 0),
                                caption="Our bottle keeps drinks cold all day, even on the longest summer hike")
    made["scheduled"] = make_post(client, env, video, local_moment(start, 11, 30), caption="Scheduled launch teaser")
    schedule(made["scheduled"])
    for hour in (8, 17):
        schedule(make_post(client, env, video, local_moment(start + timedelta(days=1), hour, 0), account="tiktok-small",
                           caption="Supercalifragilisticexpialidocious" * 3))
    failed = make_post(client, env, video, local_moment(start + timedelta(days=2), 10, 0), caption="This one failed")
    schedule(failed)
    move(failed, ("queued", "scheduled time reached"), ("publishing", None), ("failed", "platform: Video too short"),
         fail_reason="Video too short", fail_class="rejected_by_platform")
    published = make_post(client, env, video, local_moment(start + timedelta(days=3), 12, 0), caption="Live now!")
    schedule(published)
    move(published, ("queued", None), ("publishing", None), ("published", "platform confirmed"),
         published_at=datetime.now(UTC) - timedelta(days=2), share_url="https://www.tiktok.com/@brand_main/video/7",
         metrics={"views": 1200, "likes": 80, "comments": 4, "shares": 2, "saves": None, "reach": None,
                  "impressions": None, "engagement_rate": 0.071667}, metrics_fetched_at=datetime.now(UTC))
    _trend(published)
    cancelled = make_post(client, env, video, local_moment(start + timedelta(days=3), 15, 0), caption="Not any more")
    move(cancelled, ("cancelled", "cancelled by editor@example.com"))
    return made


def _trend(post_id: str) -> None:
    """Six metrics snapshots of the post in BigQuery, as the analytics fetch writes them."""
    from shared import services
    from shared.analytics.writer import metrics_row, write_rows
    from shared.model.analytics import PlatformMetrics
    from shared.runtime.config import get_config

    post = services.repository().get_post(post_id)
    first = post.published_at + timedelta(minutes=10)
    rows = [metrics_row(post, "7", PlatformMetrics(platform_post_id="7", views=40 * i * i, likes=3 * i),
                        run_id=f"run-{i}", fetched_at=first + timedelta(hours=6 * i)) for i in range(6)]
    write_rows(services.bigquery(), get_config().project, rows, run_started_at=first)


@pytest.mark.parametrize("width, height, mobile", WIDTHS)
def test_month_week_and_a_post_fit_the_screen_pass_axe_and_a_click_opens_the_post(console_site, browser, env, width,
                                                                                 height, mobile, tmp_path):
    from selenium.webdriver.common.by import By

    made = _seed(env)
    day = made["start"]
    set_viewport(browser, width, height, mobile=mobile)
    set_timezone(browser, "Europe/Berlin")
    _sign_in(browser, console_site, f"/console/calendar?view=month&date={day.isoformat()}")
    wait_until(browser, lambda d: page_heading(d) == f"{day:%B %Y}", "the month")
    words = browser.execute_script(_WORDS)
    assert "Times in Europe/Berlin" in words and "Waiting for approval" in words and "Scheduled" in words
    assert "at its cap: 2 of 2 a day" in words
    phone_list = browser.execute_script(
        "return getComputedStyle(document.querySelector('.cal-weekdays')).display === 'none'")
    assert phone_list == mobile  # a phone sees a list of days, a desktop the 7-column grid
    assert_fits(browser, width, "month")
    save_screenshot(browser, tmp_path / f"calendar-month-{width}.png")
    month = assert_accessible(browser)

    browser.find_element(By.LINK_TEXT, "Week").click()
    wait_until(browser, lambda d: "view=week" in d.current_url and d.find_elements(By.CSS_SELECTOR, ".cal-week"),
                "the week")
    assert_fits(browser, width, "week")
    save_screenshot(browser, tmp_path / f"calendar-week-{width}.png")
    week = assert_accessible(browser)

    card = browser.find_element(By.CSS_SELECTOR, f'a[data-post-id="{made["scheduled"]}"]')
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", card)
    card.click()
    wait_until(browser, lambda d: page_heading(d) == "TikTok post on @brand_main", "the post's page")
    assert browser.current_url.split("?")[0] == f"{console_site.url}/console/posts/{made['scheduled']}"
    words = browser.execute_script(_WORDS)
    assert "approved by lead@example.com" in words and "Goes out at" in words and "Times in Europe/Berlin" in words
    assert_fits(browser, width, "post")
    save_screenshot(browser, tmp_path / f"post-{width}.png")
    post = assert_accessible(browser)
    errors = console_errors(browser)
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors
    print(f"axe-core {axe_version()} at {width} px: month {len(month['violations'])} violations "
          f"({len(month['passes'])} rules passed), week {len(week['violations'])} ({len(week['passes'])}), "
          f"post {len(post['violations'])} ({len(post['passes'])}); none serious or critical")


@pytest.mark.parametrize("width, height, mobile", WIDTHS)
def test_published_and_failed_posts_fit_and_pass_axe(console_site, browser, env, width, height, mobile, tmp_path):
    from selenium.webdriver.common.by import By

    from shared import services

    _seed(env)
    repo = services.repository()
    posts = {p.status: p for p in (repo.get_post(d.id) for d in repo.db.collection("posts").stream())}
    set_viewport(browser, width, height, mobile=mobile)
    set_timezone(browser, "Europe/Berlin")
    _sign_in(browser, console_site, "/console/queue")
    wait_until(browser, lambda d: page_heading(d) == "Approval queue", "the queue")
    for status in ("published", "failed"):
        browser.get(f"{console_site.url}/console/posts/{posts[status].id}")
        wait_until(browser, lambda d: page_heading(d) == "TikTok post on @brand_main", f"the {status} post's page")
        words = browser.execute_script(_WORDS)
        assert {"published": "Open the post on TikTok", "failed": "Video too short"}[status] in words
        if status == "published":
            assert len(browser.find_elements(By.CSS_SELECTOR, "#trend-chart circle")) == 6
        assert_fits(browser, width, f"{status} post")
        save_screenshot(browser, tmp_path / f"post-{status}-{width}.png")
        assert_accessible(browser)


def test_a_status_change_appears_on_the_open_post_page_without_a_reload(console_site, browser, env, tmp_path):
    from shared import services
    from shared.posts.service import cancel_post

    made = _seed(env)
    post_id = made["scheduled"]
    set_viewport(browser, 1280, 800, mobile=False)
    _sign_in(browser, console_site, f"/console/posts/{post_id}")
    wait_until(browser, lambda d: page_heading(d) == "TikTok post on @brand_main", "the post's page")
    status = "return document.getElementById('post-status').innerText"
    assert browser.execute_script(status) == "Scheduled"
    browser.execute_script("window.stillTheSamePage = true")
    wait_until(browser, lambda d: d.execute_script("return document.getElementById('post-live').dataset.live")
                == "open", "the stream to open")

    cancel_post(services.repository(), post_id, by="lead@example.com")
    wait_until(browser, lambda d: d.execute_script(status) == "Cancelled", "the page showing the cancellation")
    assert browser.execute_script("return window.stillTheSamePage === true"), "the page was reloaded"
    words = browser.execute_script(_WORDS)
    assert "cancelled by lead@example.com" in words and "cannot be changed any more" in words
    assert "Updated: Cancelled." in words
    save_screenshot(browser, tmp_path / "post-live-cancelled.png")
    errors = console_errors(browser)
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors
