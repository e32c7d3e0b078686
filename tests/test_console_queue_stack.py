"""From the keyboard to the platforms: on the whole local stack (every function under functions-framework,
the emulators' push subscriptions, a sandbox per platform), a person signs in to the console, reaches the
approval queue and approves a brief with Tab and Enter only, at desktop and phone width; the approval goes
out as a link's would and ends with the post published on all five sandboxes."""

from __future__ import annotations

import pytest
import requests

from tests.axe import assert_accessible
from tests.browser import console_errors, set_viewport

pytestmark = pytest.mark.stack  # its own local stack (not a session fixture the conftest hook sees)

APPROVER = "lead@example.com"  # infra/local/stack.py LOCAL_USERS
WIDTHS = [pytest.param(1280, 800, False, id="desktop-1280px"), pytest.param(390, 844, True, id="phone-390px")]
_FOCUSED = """const e = document.activeElement;
return {tag: e.tagName, value: e.getAttribute('value'), text: (e.innerText || '').trim(),
        item: e.closest('li.queue-item') ? e.closest('li.queue-item').id : null}"""


@pytest.fixture(scope="module")
def local_stack():
    from tests.conftest import running_local_stack

    yield from running_local_stack("console-e2e")


def _brief(stack, n: int) -> str:
    """A brief for every sandbox's account, sent to the generate function as the demo sends it; its content id."""
    video = stack.upload_video(f"briefs/console-{n}.mp4", 3 * 1024 * 1024)
    image = stack.upload_image(f"briefs/console-{n}.jpg", 1080, 1350)
    answer = requests.post(stack.function_urls["generate-http"], timeout=60, json={
        "campaign": "console-launch", "topic": f"Our bottle keeps drinks cold for 24 hours (take {n})",
        "tone": "friendly", "hashtags": ["StayCold"], "video": video, "images": [image],
        "targets": [local.target for local in stack.platforms.values()], "requested_by": "marketing@example.com"})
    assert answer.status_code == 201, answer.text
    return answer.json()["content_id"]


def _wait_until(driver, condition, what: str, timeout: float = 30, interval: float = 0.5):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=interval).until(condition)
    except TimeoutException:
        text = driver.execute_script("return document.body ? document.body.innerText : ''")[:1500]
        pytest.fail(f"gave up waiting for {what}; browser is on {driver.current_url} showing:\n{text}", pytrace=False)


def _key(driver, key) -> dict:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(key).perform()
    return driver.execute_script(_FOCUSED)


def _tab_to(driver, wanted, what: str, limit: int = 40) -> dict:
    """Press Tab until the focused element is the one `wanted(focused)` picks; fail after `limit` presses."""
    from selenium.webdriver.common.keys import Keys

    for _ in range(limit):
        focused = _key(driver, Keys.TAB)
        if wanted(focused):
            return focused
    pytest.fail(f"{limit} presses of Tab never reached {what}", pytrace=False)


def _heading(driver) -> str:
    return driver.execute_script("const h = document.querySelector('h1'); return h ? h.innerText.trim() : ''")


@pytest.mark.parametrize("width, height, mobile", WIDTHS)
def test_keyboard_only_sign_in_queue_approve_ends_published_on_every_sandbox(local_stack, browser, width, height,
                                                                              mobile):
    from selenium.webdriver.common.keys import Keys

    from shared import services

    content_id = _brief(local_stack, width)
    repo = services.repository()
    seen = {p: len(local.sandbox.posts) for p, local in local_stack.platforms.items()}
    set_viewport(browser, width, height, mobile=mobile)
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})  # signed out: the stack (and its key) outlive a test
    browser.get(local_stack.console_url)
    _wait_until(browser, lambda d: _heading(d) == "Sign in to Postgate", "the sign-in page")

    _tab_to(browser, lambda f: f["tag"] == "BUTTON" and f["value"] == APPROVER, f"the button signing in as {APPROVER}")
    _key(browser, Keys.ENTER)
    _wait_until(browser, lambda d: _heading(d) == "Approval queue", "the approval queue")
    _wait_until(browser, lambda d: d.execute_script(f"return !!document.getElementById('item-{content_id}')"),
                "the brief in the queue")
    assert_accessible(browser)
    _tab_to(browser, lambda f: f["tag"] == "BUTTON" and f["text"].startswith("Approve and publish")
            and f["item"] == f"item-{content_id}", "the brief's Approve button")
    _key(browser, Keys.ENTER)
    _wait_until(browser, lambda d: "Approved" in d.execute_script(
        f"return document.getElementById('item-{content_id}').innerText"), "the item to say it was approved")
    focused = browser.execute_script(_FOCUSED)
    assert focused["item"] == f"item-{content_id}", focused  # the keyboard stays where the person was

    def published():
        posts = repo.posts_for_content(content_id)
        return posts if posts and all(p.status in ("published", "failed") for p in posts) else None

    posts = _wait_until(browser, lambda d: published(), "every post to be published", timeout=150, interval=1)
    assert {p.platform: p.status for p in posts} == {p: "published" for p in local_stack.platforms}, \
        {p.platform: (p.status, p.fail_reason) for p in posts}
    assert all(p.approved_by == APPROVER and p.share_url for p in posts)
    for platform, local in local_stack.platforms.items():
        assert len(local.sandbox.posts) == seen[platform] + 1, platform
    stored = repo.get_content(content_id)
    assert stored.status == "approved" and stored.approval.token_id.startswith("api:")
    errors = console_errors(browser)
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors
