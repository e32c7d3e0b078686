"""The approval queue in a real browser (headless Chromium) at phone and desktop width: it fits the
screen, axe-core finds no serious or critical violation, the media loads through the console under its
CSP, the schedule is in the browser's zone, and approving, rejecting with a reason and a stale page's
refusal all happen in place (the page is not reloaded), each recorded or not recorded in Firestore."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.axe import assert_accessible, axe_version
from tests.browser import console_errors, set_timezone, set_viewport
from tests.conftest import brief, upload_object, upload_video
from tests.console_browser import assert_fits, page_heading, save_screenshot, serve_console, wait_until
from tests.console_support import APPROVER
from tests.media_samples import decodable_jpeg, playable_mp4

WIDTHS = [pytest.param(1280, 800, False, id="desktop-1280px"), pytest.param(390, 844, True, id="phone-390px")]
NEW_YORK = "America/New_York"
PUBLISH_AT = datetime(2030, 7, 1, 11, 30, tzinfo=UTC)  # 7:30 in New York (EDT)
_IMAGES = """return [...document.querySelectorAll('img.media-preview')].map(i => ({complete: i.complete,
  naturalWidth: i.naturalWidth, src: i.currentSrc}))"""


@pytest.fixture
def console_site(env, monkeypatch):
    """The api function (console included) on a real port, set up as the local stack sets it up."""
    with serve_console(monkeypatch) as site:
        yield site
    monkeypatch.undo()


def _item_text(driver, content_id: str) -> str:
    text = driver.execute_script(f"const e = document.getElementById('item-{content_id}'); return e ? e.innerText : ''")
    return " ".join(text.split())


def _press(driver, content_id: str, action: str) -> None:
    from selenium.webdriver.common.by import By

    form = driver.find_element(By.CSS_SELECTOR, f'#item-{content_id} form.decision input[name="action"][value="{action}"]')
    button = form.find_element(By.XPATH, "./ancestor::form//button[@type='submit']")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()


def _waiting_count(driver) -> str:
    return driver.execute_script("return document.getElementById('waiting-count').dataset.count")


@pytest.mark.parametrize("width, height, mobile", WIDTHS)
def test_queue_fits_passes_axe_and_decides_in_place(console_site, browser, width, height, mobile, tmp_path):
    from selenium.webdriver.common.by import By

    from shared import entrypoints, services
    from shared.content.versions import edit_content

    video = upload_object("in/clip.mp4", playable_mp4(), "video/mp4")
    image = upload_object("in/still.jpg", decodable_jpeg(), "image/jpeg")
    scheduled = entrypoints.generate(brief(video, images=[image], publish_at=PUBLISH_AT.isoformat(),
                                           topic="Our bottle keeps drinks cold all day, even on the longest hike"))
    to_reject = entrypoints.generate(brief(upload_video(name="in/second.mp4"), campaign="Summer",
                                           topic="A summer teaser for the bottle that stays cold"))
    to_edit = entrypoints.generate(brief(upload_video(name="in/third.mp4"), topic="A third post that will change"))
    set_viewport(browser, width, height, mobile=mobile)
    set_timezone(browser, NEW_YORK)

    browser.get(console_site.url + "/console/sign-in?next=/console/queue")
    wait_until(browser, lambda d: page_heading(d) == "Sign in to Postgate", "the sign-in page")
    browser.find_element(By.CSS_SELECTOR, f'button[value="{APPROVER}"]').click()
    wait_until(browser, lambda d: page_heading(d) == "Approval queue", "the approval queue")
    url = browser.current_url
    assert url == console_site.url + "/console/queue"
    assert _waiting_count(browser) == "3"
    first = _item_text(browser, scheduled.id)
    assert "Mon 01 Jul 2030, 07:30 America/New_York (Mon 01 Jul 11:30 UTC)" in first, first  # the browser's zone
    assert "TikTok · @brand_main" in first and "waiting 0 min" in first
    order = browser.execute_script("return [...document.querySelectorAll('li.queue-item')].map(e => e.id)")
    assert order == [f"item-{c.id}" for c in (scheduled, to_reject, to_edit)]
    # The image loads through the console's redirect to a signed URL, under the page's CSP.
    browser.execute_script("document.querySelector('img.media-preview').scrollIntoView()")
    wait_until(browser, lambda d: all(i["complete"] for i in d.execute_script(_IMAGES)), "the image preview")
    [shown] = browser.execute_script(_IMAGES)
    assert shown["naturalWidth"] > 0 and shown["src"].endswith(f"/console/queue/media/{scheduled.id}/1"), shown
    browser.execute_script("window.scrollTo(0, 0)")
    assert_fits(browser, width, "queue")
    save_screenshot(browser, tmp_path / f"console-queue-{width}.png")
    before = assert_accessible(browser)

    browser.execute_script("window.notReloaded = true")
    _press(browser, scheduled.id, "approve")
    wait_until(browser, lambda d: "Approved" in _item_text(d, scheduled.id), "the approved item")
    done = _item_text(browser, scheduled.id)
    assert "1 scheduled" in done and "scheduled for Mon 01 Jul 2030, 07:30 America/New_York" in done, done
    assert _waiting_count(browser) == "2"
    assert browser.find_element(By.ID, "queue-summary").text == "2 items waiting for approval, oldest first."
    assert browser.execute_script("return document.activeElement.closest('li').id") == f"item-{scheduled.id}"
    assert services.repository().get_content(scheduled.id).status == "approved"

    _press(browser, to_reject.id, "reject")  # no reason: the browser asks for one, nothing is sent
    assert browser.execute_script(f"return document.getElementById('reason-{to_reject.id}').validity.valueMissing")
    assert services.repository().get_content(to_reject.id).status == "pending_approval"
    browser.find_element(By.ID, f"reason-{to_reject.id}").send_keys("Wrong bottle colour; use the blue one.")
    _press(browser, to_reject.id, "reject")
    wait_until(browser, lambda d: "Rejected" in _item_text(d, to_reject.id), "the rejected item")
    assert "Reason recorded for marketing@example.com: Wrong bottle colour" in _item_text(browser, to_reject.id)
    assert services.repository().get_content(to_reject.id).approval.reason == "Wrong bottle colour; use the blue one."

    edit_content(services.repository(), to_edit.id, caption="A third post, changed while the page was open.")
    _press(browser, to_edit.id, "approve")
    wait_until(browser, lambda d: "Not recorded" in _item_text(d, to_edit.id), "the stale page's refusal")
    refused = _item_text(browser, to_edit.id)
    assert "now version 2" in refused and "Version 1 → 2" in refused and "caption changed" in refused, refused
    assert "changed while the page was open" in refused and "version 2" in refused  # the new version, to decide again
    assert services.repository().get_content(to_edit.id).status == "pending_approval"
    assert browser.execute_script("return window.notReloaded === true"), "the page was reloaded"
    assert browser.current_url == url

    assert_fits(browser, width, "queue after deciding")
    save_screenshot(browser, tmp_path / f"console-queue-decided-{width}.png")
    after = assert_accessible(browser)
    errors = console_errors(browser)
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors
    print(f"axe-core {axe_version()} at {width} px: queue {len(before['violations'])} violations "
          f"({len(before['passes'])} rules passed), after deciding {len(after['violations'])} violations "
          f"({len(after['passes'])} rules passed); none serious or critical")
