"""A real browser for tests: Debian's headless Chromium driven by Selenium, and functions served
over real HTTP for it to open. `make browser` (a prerequisite of `make test`) installs Chromium."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REPO = Path(__file__).resolve().parents[1]

_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    # Media elements load without a click (preload="metadata" does anyway; this keeps play() from being refused).
    "--autoplay-policy=no-user-gesture-required",
    "--window-size=1280,800",
]


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the session. Binary paths are explicit, so Selenium Manager never
    runs (it would try to download a browser or driver)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run `make browser` (Debian's chromium and chromium-driver)")
    profile = tempfile.TemporaryDirectory(prefix="postgate-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in _FLAGS + [f"--user-data-dir={profile.name}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console messages, CSP violations among them
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    profile.cleanup()


@pytest.fixture
def browser(chromium):
    """The session's Chromium with nothing left from the previous test: blank page, no cookies,
    no emulated viewport or time zone, no console messages."""
    chromium.get("about:blank")
    chromium.delete_all_cookies()
    chromium.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    chromium.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ""})
    console_messages(chromium)
    return chromium


def set_viewport(driver, width: int, height: int, *, mobile: bool) -> None:
    """Make the layout viewport exactly `width` CSS pixels, as a phone or a desktop would. Resizing
    the headless window is not enough: its outer size is clamped at 500 px and a desktop window
    ignores <meta name="viewport">. So the metrics are emulated (they stay for later navigations in
    the tab). With `mobile` the page's viewport meta is honoured as on a phone: without
    `width=device-width` the page is laid out 980 px wide, and `window.innerWidth` says so."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})


def set_timezone(driver, zone: str) -> None:
    """The IANA zone the page's scripts see (Intl, Date), as if the machine were there."""
    driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": zone})


def console_messages(driver) -> list[dict]:
    """Console messages since the last call (Chromium hands each over once): level, message, source."""
    return driver.get_log("browser")


def console_errors(driver) -> list[str]:
    return [m["message"] for m in console_messages(driver) if m["level"] == "SEVERE"]


class Served:
    """A WSGI app on 127.0.0.1 (a free port) in a background thread; a context manager."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"serve {self.url}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_function(source: str, target: str, signature_type: str = "http") -> Served:
    """Serve a function (source relative to the repo, e.g. functions/approval/main.py) the way
    functions-framework would, but over real HTTP so a browser can open it."""
    from functions_framework import create_app

    return Served(create_app(target=target, source=str(REPO / source), signature_type=signature_type))
