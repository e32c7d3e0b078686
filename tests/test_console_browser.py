"""The console in a real browser (headless Chromium) at phone and desktop width: signing in with the
keyboard only on the local sign-in page, landing on the queue, no horizontal overflow, no CSP or script
error, and axe-core finding no serious or critical violation on either page."""

from __future__ import annotations

import pytest

from tests.axe import assert_accessible, axe_version
from tests.browser import console_errors, set_viewport
from tests.conftest import brief, upload_video
from tests.console_browser import assert_fits, page_heading, save_screenshot, serve_console, wait_until
from tests.console_support import APPROVER

WIDTHS = [pytest.param(1280, 800, False, id="desktop-1280px"), pytest.param(390, 844, True, id="phone-390px")]
_FOCUSED = """const e = document.activeElement;
return {tag: e.tagName, name: e.getAttribute('name'), value: e.getAttribute('value'), text: e.innerText || ''}"""


@pytest.fixture
def console_site(env, monkeypatch):
    """The api function (console included) on a real port, set up as the local stack sets it up."""
    with serve_console(monkeypatch) as site:
        yield site
    monkeypatch.undo()


def _tab_to(driver, wanted, what: str, limit: int = 25) -> dict:
    """Press Tab until the focused element is the one `wanted(focused)` picks; fail after `limit` presses."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    for _ in range(limit):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        focused = driver.execute_script(_FOCUSED)
        if wanted(focused):
            return focused
    pytest.fail(f"{limit} presses of Tab never reached {what}", pytrace=False)


@pytest.mark.parametrize("width, height, mobile", WIDTHS)
def test_keyboard_sign_in_lands_on_the_queue_that_fits_the_screen_and_passes_axe(console_site, browser, width, height,
                                                                                 mobile, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    from shared import entrypoints

    entrypoints.generate(brief(upload_video(), topic="Our bottle keeps drinks cold all day, even on the longest "
                                                      "summer hike through the hills"))
    set_viewport(browser, width, height, mobile=mobile)
    browser.get(console_site.url + "/console/")
    wait_until(browser, lambda d: page_heading(d) == "Sign in to Postgate", "the sign-in page")
    assert "/console/sign-in?next=" in browser.current_url
    assert_fits(browser, width, "sign-in page")
    save_screenshot(browser, tmp_path / f"console-sign-in-{width}.png")
    sign_in = assert_accessible(browser)

    _tab_to(browser, lambda f: f["tag"] == "BUTTON" and f["value"] == APPROVER, f"the button signing in as {APPROVER}")
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    wait_until(browser, lambda d: page_heading(d) == "Approval queue", "the approval queue")
    assert browser.current_url == console_site.url + "/console/queue"
    page = " ".join(browser.execute_script("return document.body.innerText").split())
    assert APPROVER in page and "approver" in page and "Our bottle keeps drinks cold" in page
    assert browser.execute_script("return document.getElementById('waiting-count').dataset.count") == "1"
    assert_fits(browser, width, "queue")
    save_screenshot(browser, tmp_path / f"console-queue-{width}.png")
    queue = assert_accessible(browser)
    errors = console_errors(browser)
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors

    cookie = next(c for c in browser.get_cookies() if c["name"] == "__Host-postgate-console")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    print(f"axe-core {axe_version()} at {width} px: sign-in {len(sign_in['violations'])} violations "
          f"({len(sign_in['passes'])} rules passed), queue {len(queue['violations'])} violations "
          f"({len(queue['passes'])} rules passed); none serious or critical")
