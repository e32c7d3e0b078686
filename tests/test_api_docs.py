"""The API's interactive documentation at /docs: public like /openapi.json, behind the console's strict CSP
(no inline script or style), Swagger UI vendored at the Makefile's pinned version with its licence, and, in
a real browser, the list of operations rendered from the document with no CSP violation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.axe import assert_accessible, axe_version
from tests.browser import Served, console_errors, set_viewport
from tests.console_support import api_client, set_up_console

REPO = Path(__file__).resolve().parents[1]
VENDORED = REPO / "shared" / "console" / "static" / "swagger-ui"


@pytest.fixture
def api_with_console(env, monkeypatch):
    set_up_console(monkeypatch)
    yield api_client()
    monkeypatch.undo()


def test_swagger_ui_is_vendored_at_the_pinned_version_with_its_licences():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    pinned = re.search(r"^SWAGGER_UI_VERSION := (\S+)$", makefile, re.M).group(1)
    assert re.search(r"^SWAGGER_UI_INTEGRITY := sha512-\S{86}==$", makefile, re.M)
    package = json.loads((VENDORED / "package.json").read_text(encoding="utf-8"))
    assert package["name"] == "swagger-ui-dist" and package["version"] == pinned
    assert package["license"] == "Apache-2.0"
    assert "Apache License" in (VENDORED / "LICENSE").read_text(encoding="utf-8")
    assert "MIT" in (VENDORED / "swagger-ui-bundle.js.LICENSE.txt").read_text(encoding="utf-8")
    assert {p.name for p in VENDORED.iterdir()} == {"swagger-ui-bundle.js", "swagger-ui-bundle.js.LICENSE.txt",
                                                    "swagger-ui.css", "LICENSE", "package.json"}


def test_docs_are_public_behind_the_consoles_csp_and_point_at_the_document(api_with_console):
    client = api_with_console
    assert client.get("/openapi.json").status_code == 200  # the rule /docs keeps: the description is public
    answer = client.get("/docs")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and answer.content_type == "text/html; charset=utf-8"
    csp = answer.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp and "connect-src 'self';" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "default-src 'none'" in csp
    assert answer.headers["X-Frame-Options"] == "DENY" and answer.headers["X-Content-Type-Options"] == "nosniff"
    assert 'data-spec-url="openapi.json"' in html and 'href="openapi.json"' in html
    assert "<style" not in html and " style=" not in html and not re.search(r"<script(?![^>]*\ssrc=)", html)
    assert not re.search(r" on[a-z]+=", html) and "Set-Cookie" not in answer.headers

    scripts = re.findall(r'<script src="([^"]+)"', html)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert any(s.endswith("/swagger-ui/swagger-ui-bundle.js") for s in scripts)
    assert any(s.endswith("/api-docs.js") for s in scripts)
    assert any(s.endswith("/swagger-ui/swagger-ui.css") for s in styles)
    for reference in scripts + styles:
        assert reference.startswith("console/static/"), reference  # relative: right behind any path prefix
        served = client.get("/" + reference)
        assert served.status_code == 200 and served.headers["Cache-Control"].endswith("immutable"), reference
        assert served.content_type.startswith("text/javascript" if reference.endswith(".js") else "text/css")
    bundle = client.get("/" + next(s for s in scripts if s.endswith("swagger-ui-bundle.js")))
    assert bundle.get_data() == (VENDORED / "swagger-ui-bundle.js").read_bytes()

    slash = client.get("/docs/")
    assert slash.status_code == 308 and slash.headers["Location"] == "../docs"


def _served_under(prefix: str):
    """The api function on a real port, under `prefix` as a deployed function's URL has one (/api)."""
    from functions_framework import create_app
    from werkzeug.exceptions import NotFound
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    app = create_app(target="api", source=str(REPO / "functions/api/main.py"), signature_type="http")
    return Served(DispatcherMiddleware(NotFound(), {prefix: app}) if prefix else app)


@pytest.mark.parametrize("width, mobile, prefix", [pytest.param(1280, False, "", id="desktop-1280px"),
                                                   pytest.param(390, True, "/api", id="phone-390px-under-a-prefix")])
def test_docs_list_every_operation_in_chromium_without_a_csp_violation(env, monkeypatch, browser, width, mobile,
                                                                       prefix, tmp_path):
    import base64

    import requests
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    def wait_for(script: str, what: str):
        try:
            return WebDriverWait(browser, 30).until(lambda d: d.execute_script(script))
        except TimeoutException:
            text = browser.execute_script("return document.body.innerText")[:1500]
            pytest.fail(f"gave up waiting for {what}; the page shows:\n{text}", pytrace=False)

    set_up_console(monkeypatch)
    with _served_under(prefix) as site:
        base = site.url + prefix
        doc = requests.get(base + "/openapi.json", timeout=10).json()
        operations = sum(1 for ops in doc["paths"].values() for method in ops
                         if method in ("get", "post", "put", "patch", "delete"))
        set_viewport(browser, width, 844, mobile=mobile)
        browser.get(base + "/docs")
        wait_for(f"return document.querySelectorAll('#swagger-ui .opblock').length >= {operations}",
                 f"the {operations} operations")
        shown = browser.execute_script(
            "return Array.from(document.querySelectorAll('#swagger-ui .opblock-summary-path'))"
            ".map(e => e.getAttribute('data-path'))")
        assert set(shown) == set(doc["paths"]), set(doc["paths"]) ^ set(shown)
        servers = browser.execute_script("return window.ui.specSelectors.specJson().toJS().servers")
        assert servers == [{"url": base, "description": "this deployment"}]
        layout = browser.execute_script("return {inner: innerWidth, scroll: document.documentElement.scrollWidth}")
        assert layout["scroll"] <= layout["inner"] == width, layout
        shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        (tmp_path / f"docs-{width}.png").write_bytes(base64.b64decode(shot["data"]))
        result = assert_accessible(browser)

        # Try it out: the call goes to this deployment (same origin, as the CSP's connect-src allows), and
        # without a token the API answers 401.
        browser.execute_script("""
            const op = document.querySelector('.opblock-summary-path[data-path="/campaigns"]').closest('.opblock-get');
            op.querySelector('.opblock-summary-control').click();""")
        wait_for("return document.querySelector('.opblock-get.is-open .try-out__btn')", "Try it out")
        browser.execute_script("document.querySelector('.opblock-get.is-open .try-out__btn').click()")
        wait_for("return document.querySelector('.opblock-get.is-open .execute')", "Execute")
        browser.execute_script("document.querySelector('.opblock-get.is-open .execute').click()")
        url = wait_for("const u = document.querySelector('.opblock-get.is-open .request-url pre');"
                       "return u && u.innerText", "the request URL")
        assert url.startswith(base + "/campaigns"), url
        status = wait_for("const s = document.querySelector('.opblock-get.is-open .live-responses-table "
                          "tbody .response-col_status'); return s && s.innerText", "the answer")
        assert status.strip() == "401", status

        errors = console_errors(browser)
        assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors
        print(f"{prefix}/docs at {width} px: {len(shown)} operations shown; axe-core {axe_version()}: "
              f"{len(result['violations'])} violations, none serious or critical "
              f"({', '.join(sorted(v['id'] for v in result['violations']))}); screenshot {tmp_path}")
    monkeypatch.undo()
