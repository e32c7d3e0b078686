"""The campaign analytics page in a real browser (headless Chromium): someone opens the view link
from `GET /campaigns/{id}/analytics/link` at desktop and phone width and sees one line per platform
in each chart, a legend naming the platforms, and tables with the numbers the API returns, with
nothing blocked by the page's Content-Security-Policy and nothing wider than the screen."""

from __future__ import annotations

import pytest
import requests

from tests.browser import console_messages, serve_function, set_viewport
from tests.conftest import bearer
from tests.test_campaign_analytics import CAMPAIGN, _insert, _rows, expected_day_cells

WIDTHS = [pytest.param(1280, 800, False, id="desktop-1280px"), pytest.param(390, 844, True, id="phone-390px")]
RANGE = {"from": "2030-03-01", "to": "2030-03-03"}

_CHARTS = """return [...document.querySelectorAll('svg.chart')].map(svg => {
  const box = svg.getBoundingClientRect();
  return {id: svg.id, width: box.width, height: box.height,
          title: (svg.querySelector('title') || {}).textContent, desc: (svg.querySelector('desc') || {}).textContent,
          labelledBy: svg.getAttribute('aria-labelledby'),
          series: [...svg.querySelectorAll('g.series')].map(g => ({
            platform: g.dataset.platform, length: g.querySelector('path').getTotalLength(),
            drawnWidth: g.getBoundingClientRect().width, points: g.querySelectorAll('circle').length}))};
})"""
_LAYOUT = """return {innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth,
  collapse: getComputedStyle(document.querySelector('table')).borderCollapse,
  legend: [...document.querySelectorAll('ul.legend li')].map(li => li.textContent.trim())}"""
_TABLE = """return [...document.querySelectorAll('#days tbody tr')].map(tr =>
  [...tr.querySelectorAll('td')].map(td => td.textContent.trim()))"""


@pytest.fixture
def campaign_site(env, monkeypatch):
    """The api function on a real port, its links pointing at it."""
    import shared.api.app as api_app
    from shared import services

    api_app._app = None
    with serve_function("functions/api/main.py", "api") as site:
        monkeypatch.setenv("POSTGATE_API_BASE_URL", site.url)
        services.reset()
        yield site
    api_app._app = None
    monkeypatch.undo()
    services.reset()


@pytest.mark.parametrize("width, height, mobile", WIDTHS)
def test_view_link_page_draws_a_line_per_platform_and_the_apis_numbers(browser, campaign_site, env, width, height,
                                                                      mobile):
    _insert(_rows())
    headers = bearer(env)
    numbers = requests.get(f"{campaign_site.url}/campaigns/{CAMPAIGN}/analytics", params=RANGE, headers=headers,
                           timeout=30).json()
    link = requests.get(f"{campaign_site.url}/campaigns/{CAMPAIGN}/analytics/link", params=RANGE, headers=headers,
                        timeout=30).json()

    set_viewport(browser, width, height, mobile=mobile)
    browser.get(link["url"])
    assert browser.title == f"{CAMPAIGN} analytics · Postgate"

    charts = browser.execute_script(_CHARTS)
    assert [c["id"] for c in charts] == ["views-chart", "engagement-chart"]
    for chart in charts:
        assert chart["width"] > 0.8 * min(width, 960) - 64 and chart["height"] > 100, chart
        assert chart["title"] and chart["desc"] and chart["labelledBy"] == f"{chart['id']}-title {chart['id']}-desc"
        assert sorted(s["platform"] for s in chart["series"]) == ["instagram", "tiktok"]
        for series in chart["series"]:  # drawn across the three days, a marker on each
            assert series["length"] > 0 and series["drawnWidth"] > 0.5 * chart["width"] and series["points"] == 3

    layout = browser.execute_script(_LAYOUT)
    assert layout["innerWidth"] == width
    assert layout["scrollWidth"] <= layout["innerWidth"], "the page is wider than the screen"
    assert layout["collapse"] == "collapse", "the hashed stylesheet did not apply"
    assert layout["legend"] == ["Instagram", "TikTok"]

    assert browser.execute_script(_TABLE) == [expected_day_cells(d) for d in numbers["days"]]
    problems = [m["message"] for m in console_messages(browser)
                if m["level"] == "SEVERE" or "Content Security Policy" in m["message"]]
    assert problems == []


def test_expired_or_missing_view_link_is_refused_in_the_browser(browser, campaign_site, env):
    browser.get(f"{campaign_site.url}/campaigns/{CAMPAIGN}/analytics/page?from=2030-03-01&to=2030-03-03")
    assert "missing bearer token" in browser.find_element("tag name", "body").text
