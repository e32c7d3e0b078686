"""The composer in a real browser (headless Chromium) at phone and desktop width: a caption X refuses
shows X's message while it is typed and clears when fixed, a file goes from the browser straight to the
media bucket (the storage emulator) through a V4 signed URL, the schedule is typed in the browser's own
time zone, and sending lands on the queue with the item waiting for approval. No horizontal overflow,
no CSP or script error, axe-core finds no serious or critical violation."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.axe import assert_accessible, axe_version
from tests.browser import console_errors, serve_function, set_timezone, set_viewport
from tests.conftest import jpeg_bytes
from tests.console_support import EDITOR, set_up_console

WIDTHS = [pytest.param(1280, 800, False, id="desktop-1280px"), pytest.param(390, 844, True, id="phone-390px")]
X_ACCOUNT = "x-main"
ZONE = "Europe/Berlin"
SHOTS = os.environ.get("POSTGATE_SCREENSHOTS")  # a directory to keep the screenshots in (else the test's tmp_path)


@pytest.fixture
def console_site(env, monkeypatch):
    """The api function (console included) on a real port, with an X account beside the TikTok one."""
    from shared import services

    set_up_console(monkeypatch)
    services.repository().put_account(X_ACCOUNT, {"platform": "x", "handle": "brand", "secret_name": "x-account-x-main"})
    with serve_function("functions/api/main.py", "api") as site:
        yield site
    monkeypatch.undo()


def _wait_until(driver, condition, what: str, timeout: float = 20):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout).until(condition)
    except TimeoutException:
        text = driver.execute_script("return document.body ? document.body.innerText : ''")[:1500]
        pytest.fail(f"gave up waiting for {what}; browser is on {driver.current_url} showing:\n{text}", pytrace=False)


def _assert_fits(driver, width: int, what: str) -> None:
    layout = driver.execute_script("return {innerWidth: window.innerWidth, "
                                   "scrollWidth: document.documentElement.scrollWidth}")
    assert layout["innerWidth"] == width, (what, layout)
    assert layout["scrollWidth"] <= layout["innerWidth"], f"{what} scrolls sideways: {layout}"


def _screenshot(driver, tmp_path, name: str) -> None:
    from pathlib import Path

    folder = Path(SHOTS) if SHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    (folder / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))
    print(f"screenshot: {folder / name}.png")


def _text(driver, element_id: str) -> str:
    return driver.execute_script("const e = document.getElementById(arguments[0]); return e ? e.innerText : ''",
                                 element_id)


@pytest.mark.parametrize("width, height, mobile", WIDTHS)
def test_compose_check_upload_and_send_for_approval(console_site, browser, width, height, mobile, tmp_path):
    from selenium.webdriver.common.by import By

    from shared import services

    set_viewport(browser, width, height, mobile=mobile)
    set_timezone(browser, ZONE)
    browser.get(console_site.url + "/console/sign-in?next=/console/compose")
    browser.find_element(By.CSS_SELECTOR, f'button[value="{EDITOR}"]').click()
    # The URL changes before the new page's document is there: wait for the composer's form itself.
    _wait_until(browser, lambda d: d.current_url.endswith("/console/compose") and d.find_elements(By.ID, "f-tz"),
                "the composer")
    assert browser.find_element(By.ID, "f-tz").get_attribute("value") == ZONE  # the browser's own zone
    assert browser.find_element(By.ID, "upload").is_displayed()  # direct upload: offered once the script runs
    _assert_fits(browser, width, "composer")
    _screenshot(browser, tmp_path, f"compose-empty-{width}")
    empty = assert_accessible(browser)

    # Choose X and type a caption over its 280 weighted characters: X's own message appears.
    browser.find_element(By.ID, f"target-{X_ACCOUNT}").click()
    browser.find_element(By.ID, "f-campaign").send_keys("launch")
    caption = browser.find_element(By.ID, "f-caption")
    caption.send_keys("Cold all day, on every hike. " * 11)
    _wait_until(browser, lambda d: "weighted characters" in _text(d, "f-caption-error"), "X's message at the caption")
    assert "limit: 280" in _text(browser, "f-caption-error")
    assert caption.get_attribute("aria-invalid") == "true"
    assert "weighted characters" in _text(browser, "checks")
    _assert_fits(browser, width, "composer with a problem")
    _screenshot(browser, tmp_path, f"compose-problem-{width}")
    refused = assert_accessible(browser)

    # Fix it: the message goes, and X's preview shows what will be posted.
    caption.clear()
    caption.send_keys("Cold all day.")
    _wait_until(browser, lambda d: _text(d, "f-caption-error") == "" and "Meets X's rules" in _text(d, "checks"),
                "the caption accepted")
    assert caption.get_attribute("aria-invalid") is None

    # Upload a small JPEG from the browser straight to the bucket through the signed URL.
    picture = tmp_path / "bottle.jpg"
    picture.write_bytes(jpeg_bytes(64, 64))
    browser.find_element(By.ID, "f-upload").send_keys(str(picture))
    _wait_until(browser, lambda d: d.find_element(By.ID, "f-images").get_attribute("value").startswith("gs://"),
                "the uploaded image's URI")
    uri = browser.find_element(By.ID, "f-images").get_attribute("value")
    assert "bottle.jpg uploaded" in _text(browser, "upload-status")
    stored = services.media_store().describe(uri, "image", field="images[0]")
    assert stored.size == picture.stat().st_size and stored.content_type == "image/jpeg"
    _wait_until(browser, lambda d: "Image 1" in _text(d, "checks"), "the preview with the image")

    # Tomorrow 09:30 in the browser's zone.
    tomorrow = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
    browser.execute_script("const e = document.getElementById('f-publish_at'); e.value = arguments[0];"
                           "e.dispatchEvent(new Event('input', {bubbles: true}));", tomorrow.strftime("%Y-%m-%dT%H:%M"))
    _wait_until(browser, lambda d: f"{tomorrow:%Y-%m-%d} 09:30 {ZONE}" in _text(d, "checks"), "the schedule in UTC")
    _assert_fits(browser, width, "composer ready to send")
    _screenshot(browser, tmp_path, f"compose-ready-{width}")

    browser.find_element(By.CSS_SELECTOR, 'button[value="send"]').click()
    _wait_until(browser, lambda d: "/console/queue" in d.current_url, "the queue")
    [content] = [services.repository().get_content(d.id)
                 for d in services.repository().db.collection("content").stream()]
    assert browser.current_url == f"{console_site.url}/console/queue#item-{content.id}"
    assert "Cold all day." in _text(browser, f"item-{content.id}")
    assert content.status == "pending_approval" and content.requested_by == EDITOR
    assert [m.uri for m in content.media] == [uri] and content.publish_at == tomorrow.astimezone(UTC)

    # A brief sent empty: the form comes back (a plain form POST) with each problem at its field.
    browser.get(console_site.url + "/console/compose?mode=brief")
    browser.find_element(By.CSS_SELECTOR, 'button[value="send"]').click()
    _wait_until(browser, lambda d: d.find_elements(By.ID, "error-summary"), "the refused brief")
    assert "topic" in _text(browser, "f-topic-error").lower() and _text(browser, "f-targets-error")
    _assert_fits(browser, width, "refused brief")
    _screenshot(browser, tmp_path, f"compose-brief-refused-{width}")
    brief = assert_accessible(browser)
    errors = console_errors(browser)
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors
    print(f"axe-core {axe_version()} at {width} px: composer {len(empty['violations'])} violations "
          f"({len(empty['passes'])} rules passed), with a problem shown {len(refused['violations'])} violations "
          f"({len(refused['passes'])} rules passed), refused brief {len(brief['violations'])} violations "
          f"({len(brief['passes'])} rules passed); none serious or critical")
