"""What the console's real-Chromium tests share: the api function (console included) served on a real
port as the local stack sets it up, waiting with a readable failure, the page's heading, the no-sideways-
scroll check and full-page screenshots."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator

import pytest

from tests.browser import serve_function
from tests.console_support import set_up_console

LAYOUT = "return {innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth}"


@contextlib.contextmanager
def serve_console(monkeypatch) -> Iterator:
    """The api function with the console set up (settings, session key, users), on a real port."""
    set_up_console(monkeypatch)
    with serve_function("functions/api/main.py", "api") as site:
        yield site


def wait_until(driver, condition, what: str, timeout: float = 20):
    """WebDriverWait, failing with what the browser shows instead of a bare TimeoutException."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout).until(condition)
    except TimeoutException:
        text = driver.execute_script("return document.body ? document.body.innerText : ''")[:1500]
        pytest.fail(f"gave up waiting for {what}; browser is on {driver.current_url} showing:\n{text}", pytrace=False)


def page_heading(driver) -> str:
    return driver.execute_script("const h = document.querySelector('h1'); return h ? h.innerText.trim() : ''")


def assert_fits(driver, width: int, page: str) -> None:
    """The viewport is `width` wide and nothing on the page is wider (no sideways scrolling)."""
    layout = driver.execute_script(LAYOUT)
    assert layout["innerWidth"] == width, (page, layout)
    assert layout["scrollWidth"] <= layout["innerWidth"], f"{page} scrolls sideways at {width} px: {layout}"


def save_screenshot(driver, path) -> None:
    """The whole page as PNG at `path` (looked at by people checking the pages; named in the output)."""
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    path.write_bytes(base64.b64decode(shot["data"]))
    print(f"screenshot: {path}")
