"""The console's YouTube catalogue in a real browser (headless Chromium) at phone and desktop width, on the
emulators and the YouTube sandbox: a search with filters and a sort, a video's page, and the list updating
by itself while a refresh changes a video it shows (the live stream); every page fits the screen, axe-core
finds no serious or critical violation, and no CSP or script error shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests import catalogue_support as support
from tests import test_catalogue_api as api_tests
from tests.axe import assert_accessible, axe_version
from tests.browser import console_errors, set_viewport
from tests.catalogue_support import refresh
from tests.console_browser import assert_fits, page_heading, save_screenshot, serve_console, wait_until
from tests.console_support import EDITOR

WIDTHS = [pytest.param(1280, 800, False, id="desktop-1280px"), pytest.param(390, 844, True, id="phone-390px")]
catalogue_sandbox, channel, four = support.catalogue_sandbox, support.channel, api_tests.four


@pytest.fixture
def console_site(env, monkeypatch):
    with serve_console(monkeypatch) as site:
        yield site
    monkeypatch.undo()


def _text(driver) -> str:
    return " ".join(driver.execute_script("return document.body.innerText").split())


def _checked(driver, width: int, page: str, shots) -> dict:
    assert_fits(driver, width, page)
    save_screenshot(driver, shots / f"catalogue-{page}-{width}.png")
    return assert_accessible(driver)


@pytest.mark.parametrize("width, height, mobile", WIDTHS)
def test_searching_the_catalogue_and_seeing_a_refresh_change_it_live(console_site, browser, four, channel, width,
                                                                     height, mobile, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    set_viewport(browser, width, height, mobile=mobile)
    browser.get(console_site.url + "/console/catalogue")
    wait_until(browser, lambda d: page_heading(d) == "Sign in to Postgate", "the sign-in page")
    browser.find_element(By.CSS_SELECTOR, f'button[value="{EDITOR}"]').click()
    wait_until(browser, lambda d: page_heading(d) == "YouTube catalogue", "the catalogue")
    assert "1–4 of 4 videos" in _text(browser)
    everything = _checked(browser, width, "all", tmp_path)

    browser.find_element(By.ID, "q").send_keys("launch")
    Select(browser.find_element(By.ID, "privacy")).select_by_value("public")
    Select(browser.find_element(By.ID, "sort")).select_by_value("published")
    Select(browser.find_element(By.ID, "order")).select_by_value("asc")
    browser.find_element(By.CSS_SELECTOR, "form.search button[type=submit]").click()
    wait_until(browser, lambda d: "1–2 of 2 videos" in _text(d), "the search's two videos")
    titles = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".video-item .title a")]
    assert titles == ["Launches of the year", "Spring launch teaser"]  # oldest first
    searched = _checked(browser, width, "search", tmp_path)

    # A refresh changes a video on the page: the list shows it without a reload.
    wait_until(browser, lambda d: d.find_element(By.ID, "catalogue-live").get_attribute("data-live") == "open",
               "the live stream to open")
    channel.edit_video(four["d"], snippet={"title": "Launches of the year, revisited", "categoryId": "10"})
    assert refresh(now=datetime.now(UTC) + timedelta(seconds=5)).videos_written == 1
    wait_until(browser, lambda d: "Launches of the year, revisited" in _text(d), "the changed title, live")
    assert "a refresh changed 1 video" in browser.find_element(By.ID, "catalogue-live").text
    assert browser.find_element(By.ID, "q").get_attribute("value") == "launch"  # the form is left as typed

    browser.find_element(By.LINK_TEXT, "Spring launch teaser").click()
    wait_until(browser, lambda d: page_heading(d) == "Spring launch teaser", "the video's page")
    text = _text(browser)
    assert "Café opening day" in text and "Monetize" in text and "gs://r/incoming/cms.csv" in text
    video = _checked(browser, width, "video", tmp_path)

    errors = console_errors(browser)
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors
    print(f"axe-core {axe_version()} at {width} px: " + ", ".join(
        f"{name} {len(result['violations'])} violations ({len(result['passes'])} rules passed)"
        for name, result in (("all", everything), ("search", searched), ("video", video)))
        + "; none serious or critical")
