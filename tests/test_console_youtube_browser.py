"""The console's YouTube metadata changes in a real browser (headless Chromium) at phone and desktop width,
on the emulators and the YouTube sandbox: an approver proposes a change (a refused one first, its problem
next to the field), sees each field before and after, approves it and YouTube holds the new title; every
page fits the screen, axe-core finds no serious or critical violation, and no CSP or script error shows."""

from __future__ import annotations

import base64

import pytest

from tests import test_youtube_metadata_sync as youtube_tests
from tests.axe import assert_accessible, axe_version
from tests.browser import console_errors, serve_function, set_viewport
from tests.console_support import APPROVER, set_up_console

WIDTHS = [pytest.param(1280, 800, False, id="desktop-1280px"), pytest.param(390, 844, True, id="phone-390px")]
_LAYOUT = "return {innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth}"

# The YouTube sandbox and a video published through the pipeline: the metadata sync tests' fixtures.
yt_sandbox, yt, published = youtube_tests.yt_sandbox, youtube_tests.yt, youtube_tests.published


@pytest.fixture
def console_site(env, monkeypatch):
    set_up_console(monkeypatch)
    with serve_function("functions/api/main.py", "api") as site:
        yield site
    monkeypatch.undo()


def _wait_for(driver, script: str, what: str) -> None:
    """Until `script` (JavaScript returning a truthy value) holds on the page."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, 20).until(lambda d: d.execute_script(script))
    except TimeoutException:
        text = driver.execute_script("return document.body ? document.body.innerText : ''")[:800]
        pytest.fail(f"gave up waiting for {what}; browser is on {driver.current_url} showing:\n{text}",
                    pytrace=False)


def _wait_for_heading(driver, starts: str) -> None:
    _wait_for(driver, f"const h = document.querySelector('h1'); return h && h.innerText.trim().startsWith({starts!r})",
              repr(starts))


def _checked(driver, width: int, page: str, shots) -> dict:
    """The page fits the width, passes axe, and is kept as a screenshot; axe's result."""
    layout = driver.execute_script(_LAYOUT)
    assert layout["innerWidth"] == width and layout["scrollWidth"] <= layout["innerWidth"], (page, layout)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    path = shots / f"youtube-{page}-{width}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    print(f"screenshot: {path}")
    return assert_accessible(driver)


def _text(driver) -> str:
    return " ".join(driver.execute_script("return document.body.innerText").split())


@pytest.mark.parametrize("width, height, mobile", WIDTHS)
def test_an_approver_proposes_reviews_and_approves_a_change_in_the_browser(console_site, browser, published, yt,
                                                                          width, height, mobile, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    post, video_id = published
    set_viewport(browser, width, height, mobile=mobile)
    browser.get(console_site.url + "/console/youtube/new")
    _wait_for_heading(browser, "Sign in to Postgate")
    browser.find_element(By.CSS_SELECTOR, f'button[value="{APPROVER}"]').click()
    _wait_for_heading(browser, "Propose a YouTube change")

    Select(browser.find_element(By.ID, "post_id")).select_by_value(post.id)
    browser.find_element(By.ID, "title").send_keys("Cold all day <hot> all night")
    browser.find_element(By.ID, "tags").send_keys("bottle, thermos")
    browser.find_element(By.CSS_SELECTOR, "form.proposal button[type=submit]").click()
    _wait_for(browser, "return document.getElementById('title-problem')", "the refusal next to the title")
    problem = browser.find_element(By.ID, "title-problem")
    assert "title must not contain < or >" in problem.text
    assert browser.find_element(By.ID, "title").get_attribute("aria-invalid") == "true"
    refused = _checked(browser, width, "refused-proposal", tmp_path)

    title = browser.find_element(By.ID, "title")
    title.clear()
    title.send_keys("Cold all day, hot all night")
    browser.find_element(By.CSS_SELECTOR, "form.proposal button[type=submit]").click()
    _wait_for_heading(browser, "Change to “Cold all day”")
    text = _text(browser)
    assert "Waiting for a decision" in text and "NOW COLD ALL DAY AFTER APPROVAL COLD ALL DAY, HOT ALL NIGHT" in text.upper()
    review = _checked(browser, width, "review", tmp_path)

    browser.find_element(By.CSS_SELECTOR, 'button[value="approve"]').click()
    _wait_for(browser, "return document.querySelector('.done')", "the decision's confirmation")
    text = _text(browser)
    assert "Your decision is recorded: approved." in text and "YouTube holds the new values" in text, text
    assert yt.posts[video_id]["snippet"]["title"] == "Cold all day, hot all night"
    assert yt.posts[video_id]["snippet"]["tags"] == ["bottle", "thermos"]
    decided = _checked(browser, width, "decided", tmp_path)

    browser.find_element(By.LINK_TEXT, "All changes").click()
    _wait_for_heading(browser, "YouTube metadata changes")
    text = _text(browser)
    assert f"Applied video {video_id} requested by {APPROVER}" in text and "YouTube holds the new values" in text
    listed = _checked(browser, width, "list", tmp_path)

    errors = console_errors(browser)
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors
    print(f"axe-core {axe_version()} at {width} px: " + ", ".join(
        f"{name} {len(result['violations'])} violations ({len(result['passes'])} rules passed)"
        for name, result in (("refused proposal", refused), ("review", review), ("decided", decided),
                             ("list", listed))) + "; none serious or critical")
