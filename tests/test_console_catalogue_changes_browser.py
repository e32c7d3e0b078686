"""Changes from the console's catalogue in a real browser (headless Chromium) at phone and desktop width, on
the emulators and the YouTube sandbox: a video's "Propose a change" form filled and sent, the bulk form
under a search sent, and the bulk change's page whose progress figures follow the change being approved
and applied elsewhere without a reload (its poll); every page fits the screen, axe-core finds no serious
or critical violation, and no CSP or script error shows."""

from __future__ import annotations

import pytest

from tests import catalogue_support as support
from tests import test_catalogue_api as api_tests
from tests.axe import assert_accessible, axe_version
from tests.browser import console_errors, set_viewport
from tests.console_browser import assert_fits, page_heading, save_screenshot, serve_console, wait_until
from tests.console_support import APPROVER

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
    save_screenshot(driver, shots / f"catalogue-changes-{page}-{width}.png")
    return assert_accessible(driver)


def _figures(driver) -> dict[str, str]:
    return driver.execute_script(
        "const f = {}; document.querySelectorAll('[data-figure]').forEach(e => f[e.dataset.figure] = e.textContent);"
        " return f;")


@pytest.mark.parametrize("width, height, mobile", WIDTHS)
def test_proposing_a_change_and_following_a_bulk_change_live(console_site, browser, four, channel, width, height,
                                                             mobile, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from shared import services
    from shared.runtime.config import get_config
    from shared.youtube_sync.bulk import list_bulks
    from shared.youtube_sync.bulk_applying import decide_via_api
    from shared.youtube_sync.service import publisher

    set_viewport(browser, width, height, mobile=mobile)
    browser.get(console_site.url + f"/console/catalogue/videos/{four['a']}")
    wait_until(browser, lambda d: page_heading(d) == "Sign in to Postgate", "the sign-in page")
    browser.find_element(By.CSS_SELECTOR, f'button[value="{APPROVER}"]').click()
    wait_until(browser, lambda d: page_heading(d) == "Spring launch teaser", "the video's page")
    assert browser.find_element(By.ID, "title").get_attribute("value") == "Spring launch teaser"
    video = _checked(browser, width, "video", tmp_path)

    title = browser.find_element(By.ID, "title")
    title.clear()
    title.send_keys("Spring launch teaser, final cut")
    Select(browser.find_element(By.ID, "made_for_kids")).select_by_value("yes")
    browser.find_element(By.CSS_SELECTOR, "#propose button[type=submit]").click()
    wait_until(browser, lambda d: page_heading(d).startswith("Change to"), "the change's page")
    text = _text(browser)
    assert "Spring launch teaser, final cut" in text and "Waiting for a decision" in text and "Made for kids" in text

    browser.get(console_site.url + "/console/catalogue?q=launch")
    wait_until(browser, lambda d: "This search selects 3 videos" in _text(d), "the bulk form's count")
    browser.find_element(By.CSS_SELECTOR, 'input[name="op"][value="add_tag"]').click()
    browser.find_element(By.ID, "bulk-tag").send_keys("summer sale")
    browser.find_element(By.CSS_SELECTOR, "form.bulk-form button[type=submit]").click()
    wait_until(browser, lambda d: page_heading(d) == "Bulk change of 3 videos", "the bulk change's page")
    assert _figures(browser) == {"applied": "0", "conflict": "0", "failed": "0", "rejected": "0", "remaining": "3"}
    pending = _checked(browser, width, "bulk-pending", tmp_path)

    # Approved elsewhere (the API's decision service, as another approver's link or call would): the page's
    # figures follow without a reload.
    [bulk], _ = list_bulks(services.repository())
    config = get_config()
    decide_via_api(services.repository(), config, services.secrets(), services.bigquery(), bulk.id, action="approve",
                   hash_claimed=bulk.bulk_hash, user="other@example.com", reason=None, publish=publisher(config))
    wait_until(browser, lambda d: _figures(d).get("applied") == "3", "the applied figure, live")
    assert _figures(browser)["remaining"] == "0"
    wait_until(browser, lambda d: "Finished" in d.find_element(By.ID, "bulk-live").text, "the finished note")
    assert browser.find_element(By.CSS_SELECTOR, '[data-field="status_text"]').text == "Done"
    assert not browser.find_element(By.ID, "bulk-decision").is_displayed()  # decided elsewhere: no stale forms
    done = _checked(browser, width, "bulk-done", tmp_path)

    errors = console_errors(browser)
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors
    print(f"axe-core {axe_version()} at {width} px: " + ", ".join(
        f"{name} {len(result['violations'])} violations {[(v['id'], v['impact'], [n['target'] for n in v['nodes']]) for v in result['violations']]} "
        f"({len(result['passes'])} rules passed)"
        for name, result in (("video", video), ("bulk-pending", pending), ("bulk-done", done)))
        + "; none serious or critical")
