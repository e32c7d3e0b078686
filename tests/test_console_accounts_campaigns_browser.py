"""The console's accounts and campaigns pages in a real browser (headless Chromium) at phone and desktop
width: no horizontal overflow, no CSP or script error, axe-core finding no serious or critical violation,
and each page's main interaction done by the browser: Test shown in place and Connect through the TikTok
sandbox's consent page and back; a campaign created after a refusal shown at its field, and its charts
drawn under the console's CSP."""

from __future__ import annotations

import json
import secrets as pysecrets

import pytest

from tests.axe import assert_accessible, axe_version
from tests.browser import console_errors, serve_function, set_viewport
from tests.conftest import ACCOUNT
from tests.console_browser import assert_fits, page_heading, save_screenshot, wait_until
from tests.console_support import EDITOR, set_up_console
from tests.test_campaign_analytics import CAMPAIGN, _insert, _rows

WIDTHS = [pytest.param(1280, 800, False, id="desktop-1280px"), pytest.param(390, 844, True, id="phone-390px")]
CLIENT = {"client_id": "postgate-tiktok", "client_secret": "tiktok-app-secret"}
_CHARTS = """return [...document.querySelectorAll('.campaign-numbers svg.chart')].map(svg => {
  const box = svg.getBoundingClientRect();
  return {id: svg.id, width: box.width, height: box.height,
          series: [...svg.querySelectorAll('g.series')].map(g => ({
            platform: g.dataset.platform, drawnWidth: g.getBoundingClientRect().width,
            points: g.querySelectorAll('circle').length}))};
})"""


@pytest.fixture
def console_site(env, sandbox, monkeypatch):
    """The api function (console included) on a real port, set up as the local stack sets it up, with
    Postgate's app registered at the TikTok sandbox, whose consent page a signed-in creator passes."""
    from shared import services

    set_up_console(monkeypatch)
    with serve_function("functions/api/main.py", "api") as site:
        monkeypatch.setenv("POSTGATE_API_BASE_URL", site.url)  # the OAuth redirect URI points at it
        monkeypatch.setenv("POSTGATE_TIKTOK_AUTHORIZE_URL", sandbox.base_url + "/v2/auth/authorize/")
        services.reset()
        services.secrets().add_version("oauth-clients", json.dumps({"tiktok": CLIENT}))
        sandbox.oauth.register_client(CLIENT["client_id"], CLIENT["client_secret"],
                                      [site.url + "/accounts/oauth/callback"])
        sandbox.add_creator("unused-" + pysecrets.token_urlsafe(8), creator_username="browser_creator",
                            creator_nickname="Browser Creator")
        sandbox.oauth.sign_in("browser_creator")
        site.creator_open_id = sandbox.open_id("browser_creator")
        yield site
    monkeypatch.undo()
    services.reset()


def _text(driver, selector: str) -> str:
    return " ".join(driver.find_element("css selector", selector).text.split())


def _sign_in(driver, site, page: str, heading: str, user: str = EDITOR) -> None:
    driver.get(f"{site.url}/console/{page}")
    wait_until(driver, lambda d: page_heading(d) == "Sign in to Postgate", "the sign-in page")
    driver.find_element("css selector", f'button[value="{user}"]').click()
    wait_until(driver, lambda d: page_heading(d) == heading, f"the {page} page")


def _assert_no_script_or_csp_error(driver) -> None:
    errors = console_errors(driver)
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors


def _account(account_id: str, **fields) -> None:
    from shared import services

    services.repository().db.collection("accounts").document(account_id).set(
        {"platform": "tiktok", "handle": account_id, "secret_name": f"tiktok-account-{account_id}", **fields})


@pytest.mark.parametrize("width, height, mobile", WIDTHS)
def test_accounts_test_in_place_and_connect_through_the_sandboxs_consent_page(console_site, browser, width, height,
                                                                              mobile, tmp_path):
    from shared import services

    new = f"tiktok-{pysecrets.token_hex(3)}"  # the secrets file outlives a test
    _account("tiktok-lapsed", status="needs_reconnect", status_reason="token refresh refused: invalid_grant")
    _account(new, handle="brand_new", status="not_connected")
    _account("tiktok-smoke", status="connected", dry_run=True)
    set_viewport(browser, width, height, mobile=mobile)
    _sign_in(browser, console_site, "accounts", "Accounts")
    assert "Needs reconnecting token refresh refused: invalid_grant" in _text(browser, "#account-tiktok-lapsed")
    assert_fits(browser, width, "accounts")
    save_screenshot(browser, tmp_path / f"console-accounts-{width}.png")
    first = assert_accessible(browser)

    page = browser.current_url
    browser.find_element("css selector", f"#account-{ACCOUNT} form.test-form button").click()
    wait_until(browser, lambda d: _text(d, f"#test-{ACCOUNT}").startswith("Works:"), "the test's answer in place")
    assert _text(browser, f"#test-{ACCOUNT}") == "Works: tiktok knows the token as Brand"
    assert browser.current_url == page, "shown in place, the page stayed"
    assert browser.execute_script("return document.activeElement.closest('form.test-form') !== null"), \
        "the Test button keeps the focus"
    _assert_no_script_or_csp_error(browser)

    browser.find_element("css selector", f"#account-{new} .actions button.primary").click()
    wait_until(browser, lambda d: "connect=" in d.current_url and page_heading(d) == "Accounts", "the way back")
    assert browser.current_url.startswith(console_site.url + "/console/accounts?connect=")
    assert _text(browser, "#connect-outcome") == (f"Connected ({new}): Postgate can now publish to tiktok account "
                                                  f"Browser Creator ({new}).")
    assert _text(browser, f"#account-{new} [data-role=status]") == "Connected"
    record = services.repository().db.collection("accounts").document(new).get().to_dict()
    assert record["status"] == "connected" and record["platform_account_id"] == console_site.creator_open_id
    assert_fits(browser, width, "accounts after connecting")
    save_screenshot(browser, tmp_path / f"console-accounts-connected-{width}.png")
    after = assert_accessible(browser)
    _assert_no_script_or_csp_error(browser)
    print(f"axe-core {axe_version()} at {width} px: accounts {len(first['violations'])} violations "
          f"({len(first['passes'])} rules passed), after connecting {len(after['violations'])} violations; "
          "none serious or critical")


@pytest.mark.parametrize("width, height, mobile", WIDTHS)
def test_campaign_created_after_a_refusal_at_its_field_then_its_charts_drawn(console_site, browser, width, height,
                                                                            mobile, tmp_path):
    from selenium.webdriver.common.by import By

    _insert(_rows())
    set_viewport(browser, width, height, mobile=mobile)
    _sign_in(browser, console_site, "campaigns", "Campaigns")
    assert_fits(browser, width, "campaigns (empty)")
    form = browser.find_element(By.CSS_SELECTOR, "form.campaign-form")
    form.find_element(By.NAME, "id").send_keys(CAMPAIGN)
    form.find_element(By.NAME, "name").send_keys("Spring launch")
    for name, day in (("starts_on", "03/03/2030"), ("ends_on", "03/01/2030")):
        form.find_element(By.NAME, name).send_keys(day)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_until(browser, lambda d: d.find_elements(By.ID, "new-ends_on-error"), "the refusal at ends_on")
    assert _text(browser, "#new-ends_on-error") == "⚠ ends_on 2030-03-01 is before starts_on 2030-03-03" or \
        "is before starts_on" in _text(browser, "#new-ends_on-error")
    assert_fits(browser, width, "campaigns with a refusal")
    save_screenshot(browser, tmp_path / f"console-campaigns-refused-{width}.png")
    refused = assert_accessible(browser)

    ends = browser.find_element(By.ID, "new-ends_on")
    ends.send_keys("03/03/2030")
    browser.find_element(By.CSS_SELECTOR, "form.campaign-form button[type=submit]").click()
    wait_until(browser, lambda d: page_heading(d) == "Spring launch", "the new campaign's page")
    browser.get(browser.current_url.split("?")[0] + "?from=2030-03-01&to=2030-03-03")
    charts = browser.execute_script(_CHARTS)
    assert [c["id"] for c in charts] == ["views-chart", "engagement-chart"]
    for chart in charts:
        assert chart["height"] > 100 and sorted(s["platform"] for s in chart["series"]) == ["instagram", "tiktok"]
        for series in chart["series"]:
            assert series["points"] == 3 and series["drawnWidth"] > 0.5 * chart["width"], chart
    collapse = browser.execute_script(
        "return getComputedStyle(document.querySelector('.campaign-numbers table')).borderCollapse")
    assert collapse == "collapse", "the charts' stylesheet applied"
    assert_fits(browser, width, "campaign page")
    _assert_no_script_or_csp_error(browser)
    save_screenshot(browser, tmp_path / f"console-campaign-{width}.png")
    detail = assert_accessible(browser)

    browser.find_element(By.CSS_SELECTOR, "p.crumbs a").click()
    wait_until(browser, lambda d: page_heading(d) == "Campaigns", "the list")
    assert "Spring launch" in _text(browser, f"#campaign-{CAMPAIGN}")
    assert_fits(browser, width, "campaigns")
    save_screenshot(browser, tmp_path / f"console-campaigns-{width}.png")
    listed = assert_accessible(browser)
    print(f"axe-core {axe_version()} at {width} px: campaigns with a refusal {len(refused['violations'])} "
          f"violations, campaign page {len(detail['violations'])}, list {len(listed['violations'])}; "
          "none serious or critical")
