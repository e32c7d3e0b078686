"""The approval review page in a real browser (headless Chromium): an approver opens the link from
the notification at desktop and phone width, sees the post, its media and its schedule in their own
time zone, and the button they press is the decision recorded in Firestore."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from tests.axe import assert_accessible
from tests.browser import Served, console_errors, serve_function, set_timezone, set_viewport
from tests.conftest import ACCOUNT, brief, issue_link, upload_object
from tests.media_samples import decodable_jpeg, playable_mp4

APPROVER = "lead@example.com"  # POSTGATE_APPROVERS in the test environment
NEW_YORK = "America/New_York"
# 11:30 UTC is 7:30 in New York (EDT): the same digits whether the page writes 12- or 24-hour time.
PUBLISH_AT = datetime(2030, 7, 1, 11, 30, tzinfo=UTC)
WIDTHS = [pytest.param(1280, 800, False, id="desktop-1280px"), pytest.param(390, 844, True, id="phone-390px")]

_MEDIA = """return {
  images: [...document.querySelectorAll('img.media-preview')].map(i => ({src: i.currentSrc, complete: i.complete,
           naturalWidth: i.naturalWidth})),
  videos: [...document.querySelectorAll('video.media-preview')].map(v => ({src: v.currentSrc, preload: v.preload,
           readyState: v.readyState, duration: v.duration, error: v.error && v.error.code})),
}"""
_LAYOUT = """return {innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth,
  bodyFontPx: parseFloat(getComputedStyle(document.body).fontSize)}"""


@pytest.fixture(scope="module")
def approval_site():
    """The approval function on a real port, as its deployed URL would serve it."""
    with serve_function("functions/approval/main.py", "approval_http") as site:
        yield site


@pytest.fixture
def review_env(env, approval_site, monkeypatch):
    """Links point at the served function (media previews are signed for the storage emulator: conftest)."""
    from shared import services

    monkeypatch.setenv("POSTGATE_APPROVAL_BASE_URL", approval_site.url)
    services.reset()
    yield env
    monkeypatch.undo()
    services.reset()


def _draft_with_video_and_image():
    """A scheduled TikTok post with media Chromium can really decode (a playable MP4 and a JPEG)."""
    from shared import entrypoints

    video = upload_object("in/clip.mp4", playable_mp4(), "video/mp4")
    image = upload_object("in/still.jpg", decodable_jpeg(), "image/jpeg")
    return entrypoints.generate(brief(video, images=[image], publish_at=PUBLISH_AT.isoformat()))


def _review_link(env, content) -> str:
    # The token rides in the fragment: browsers never send it to a server or in a Referer.
    return f"{os.environ['POSTGATE_APPROVAL_BASE_URL']}/#token={issue_link(env, content, 'approve')}"


def _wait_until(driver, condition, what: str, timeout: float = 20):
    """condition(driver) truthy within timeout, else fail showing the page the browser is on."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout).until(condition)
    except TimeoutException:
        text = driver.execute_script("return document.body ? document.body.innerText : ''")[:800]
        pytest.fail(f"gave up waiting for {what}; browser is on {driver.current_url} "
                    f"titled {driver.title!r} showing:\n{text}", pytrace=False)


def _open_review_page(driver, link: str):
    from selenium.webdriver.common.by import By

    driver.get(link)
    _wait_until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "section.target"), "the review page (section.target)")
    _wait_until(driver, lambda d: all(i["complete"] for i in d.execute_script(_MEDIA)["images"])
                and all(v["readyState"] >= 1 or v["error"] for v in d.execute_script(_MEDIA)["videos"]),
                "the media previews to load or fail")


def _press(driver, action: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f'button[type="submit"][name="action"][value="{action}"]').click()


def _heading(driver) -> str:
    # One script, not find-then-read: the page may be replaced in between (StaleElementReference).
    return driver.execute_script("const h = document.querySelector('h1'); return h ? h.innerText.trim() : ''")


def _page_text(driver) -> str:
    return " ".join(driver.execute_script("return document.body.innerText").split())


def _save_full_page_screenshot(driver, path) -> None:
    import base64

    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    path.write_bytes(base64.b64decode(shot["data"]))
    print(f"screenshot: {path}")


def _assert_accessible(driver) -> None:
    """axe-core (tests/axe.py: from the npm registry, pinned) finds no serious or critical violation."""
    assert_accessible(driver)


def _assert_no_policy_or_script_errors(driver) -> None:
    errors = console_errors(driver)
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors


@pytest.mark.parametrize("width, height, mobile", WIDTHS)
def test_approver_sees_post_media_and_local_schedule_then_approves(review_env, browser, width, height, mobile, tmp_path):
    from shared import services

    content = _draft_with_video_and_image()
    set_viewport(browser, width, height, mobile=mobile)
    set_timezone(browser, NEW_YORK)

    _open_review_page(browser, _review_link(review_env, content))

    assert "Review" in browser.title and "Postgate" in browser.title, browser.title
    cards = browser.execute_script("return [...document.querySelectorAll('section.target')].map(s => s.dataset.platform)")
    assert cards == ["tiktok"]
    media = browser.execute_script(_MEDIA)
    assert len(media["images"]) == 1 and len(media["videos"]) == 1, media
    for image in media["images"]:
        assert image["naturalWidth"] > 0, image
    for video in media["videos"]:
        assert video["preload"] == "metadata" and video["readyState"] >= 1 and video["duration"] > 0, video
    for preview in media["images"] + media["videos"]:  # short-lived signed URLs, never the bucket itself
        assert preview["src"].startswith(os.environ["STORAGE_EMULATOR_HOST"]) and "X-Goog-Signature=" in preview["src"]

    layout = browser.execute_script(_LAYOUT)
    assert layout["innerWidth"] == width, layout  # on a phone: <meta name="viewport" content="width=device-width">
    assert layout["scrollWidth"] <= layout["innerWidth"], layout  # nothing scrolls sideways
    if mobile:
        assert layout["bodyFontPx"] >= 16, layout

    text = _page_text(browser)
    assert " ".join(content.text().split()) in text
    assert "7:30" in text and "11:30" in text and "UTC" in text, text  # New York time, with UTC beside it
    _assert_no_policy_or_script_errors(browser)
    _assert_accessible(browser)
    _save_full_page_screenshot(browser, tmp_path / f"review-{width}px.png")

    _press(browser, "approve")

    _wait_until(browser, lambda d: _heading(d) == "Approved", "the Approved page")
    recap = _page_text(browser)
    assert "tiktok" in recap.lower() and ("brand_main" in recap or ACCOUNT in recap), recap
    _assert_no_policy_or_script_errors(browser)
    _assert_accessible(browser)
    decided = services.repository().get_content(content.id)
    assert decided.status == "approved"
    assert decided.approval.decision == "approved" and decided.approval.decided_by == APPROVER


def test_approver_rejects_with_a_reason_from_the_review_page(review_env, browser):
    from selenium.webdriver.common.by import By

    from shared import services

    content = _draft_with_video_and_image()
    set_viewport(browser, 390, 844, mobile=True)
    _open_review_page(browser, _review_link(review_env, content))

    reason = "The bottle in the video is last year's model."
    browser.find_element(By.CSS_SELECTOR, 'textarea[name="reason"]').send_keys(reason)
    _press(browser, "reject")

    _wait_until(browser, lambda d: _heading(d) == "Rejected", "the Rejected page")
    _assert_no_policy_or_script_errors(browser)
    decided = services.repository().get_content(content.id)
    assert decided.status == "rejected"
    assert decided.approval.decided_by == APPROVER and decided.approval.reason == reason


# The harness itself, so a failure above is about the page and not about the browser or the samples.

def test_sample_media_load_in_chromium_through_signed_emulator_urls(review_env, browser):
    from werkzeug.wrappers import Response

    from shared import services
    from shared.runtime.config import get_config

    config, store = get_config(), services.media_store()
    urls = {kind: store.signed_url(store.describe(upload_object(name, data, content_type), kind), ttl_seconds=600,
                                   endpoint=config.signed_url_endpoint, key_file=config.url_signing_key_file)
            for kind, name, data, content_type in [("video", "in/clip.mp4", playable_mp4(), "video/mp4"),
                                                   ("image", "in/still.jpg", decodable_jpeg(), "image/jpeg")]}
    page = Response(f'<!doctype html><section class="target"><img class="media-preview" src="{urls["image"]}">'
                    f'<video class="media-preview" preload="metadata" src="{urls["video"]}"></video></section>',
                    content_type="text/html; charset=utf-8")
    with Served(page) as site:
        _open_review_page(browser, site.url)
        media = browser.execute_script(_MEDIA)
    assert media["images"][0]["naturalWidth"] == 1080, media
    assert media["videos"][0]["readyState"] >= 1 and media["videos"][0]["duration"] == 1, media


def test_console_errors_report_content_security_policy_violations(browser):
    from werkzeug.wrappers import Response

    page = Response("<!doctype html><title>t</title><script>document.title = 'ran'</script>",
                    content_type="text/html; charset=utf-8", headers={"Content-Security-Policy": "script-src 'none'"})
    with Served(page) as site:
        browser.get(site.url)
        assert browser.title == "t"
        assert any("Content Security Policy" in e for e in console_errors(browser))
