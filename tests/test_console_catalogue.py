"""The console's YouTube catalogue (/console/catalogue) through the Flask test client, on the emulators and the
YouTube sandbox: the same search, filters, sorts and paging as the API (the same service), refusals next to
the field they name, a video's page with its report row, and the live stream under the console's session."""

from __future__ import annotations

import html as htmllib
import re

import pytest

from tests import catalogue_support as support
from tests import test_catalogue_api as api_tests
from tests.catalogue_support import CHANNEL
from tests.console_support import api_client, set_up_console, sign_in_locally

catalogue_sandbox, channel, four = support.catalogue_sandbox, support.channel, api_tests.four


@pytest.fixture
def console(env, monkeypatch):
    set_up_console(monkeypatch)
    client = api_client()
    sign_in_locally(client)
    yield client
    monkeypatch.undo()


def _text(answer) -> str:
    body = re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True))
    return " ".join(htmllib.unescape(body).split())


def _shown(answer, four: dict) -> list[str]:
    """The letters of the videos the page lists, in its order."""
    by_id = {v: k for k, v in four.items()}
    return [by_id[v] for v in re.findall(r'id="video-([A-Za-z0-9_-]{11})"', answer.get_data(as_text=True))]


def test_the_page_searches_filters_and_sorts_as_the_api_does(console, env, four):
    from tests.conftest import bearer

    api = api_client()
    cases = [{}, {"q": "launch"}, {"category_id": "22"}, {"privacy": "unlisted"}, {"claimed_status": "claimed"},
             {"sort": "published", "order": "asc"}, {"sort": "views"}, {"q": "cafe", "privacy": "public"}]
    for params in cases:
        page = console.get("/console/catalogue", query_string=params)
        assert page.status_code == 200, _text(page)[:1000]
        listed = api.get("/youtube/catalogue/videos", query_string=params, headers=bearer(env)).get_json()
        assert _shown(page, four) == [api_tests._letters(four, listed)][0], params
        assert f"of {listed['total']} video" in _text(page)
    text = _text(console.get("/console/catalogue", query_string={"q": "launch"}))
    assert "Spring launch teaser" in text and "Claimed · Monetize" in text and "Brand TV" in text


def test_a_day_range_includes_its_last_day(console, four):
    page = console.get("/console/catalogue", query_string={"published_from": "2026-10-12", "published_to": "2026-10-31"})
    assert sorted(_shown(page, four)) == ["b", "c"]  # b: 2026-10-31 12:00 UTC, on the last day


def test_pages_of_25_link_to_each_other(console, channel):
    from tests.catalogue_support import ACCESS, refresh

    channel.add_catalogue_videos(ACCESS, 30)
    refresh()
    first = console.get("/console/catalogue")
    assert "1–25 of 30 videos" in _text(first) and len(re.findall(r'class="video-item"', first.get_data(as_text=True))) == 25
    following = re.search(r'href="([^"]*skip=25[^"]*)"', first.get_data(as_text=True))
    assert following, "a link to the next page"
    second = console.get("/console/catalogue", query_string={"skip": "25"})
    assert "26–30 of 30 videos" in _text(second) and "Previous 25" in _text(second)


@pytest.mark.parametrize("params, field, words", [
    ({"privacy": "secret"}, "privacy", "Input should be"),
    ({"published_from": "yesterday"}, "published_from", "a day as YYYY-MM-DD"),
    ({"published_from": "2026-11-05", "published_to": "2026-11-01"}, "published_to", "must be after published_from"),
    ({"sort": "likes"}, "sort", "Input should be"),
])
def test_a_refused_filter_is_shown_next_to_its_field(console, four, params, field, words):
    page = console.get("/console/catalogue", query_string=params)
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert f'id="{field}-problem"' in html and words in _text(page)
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', html), f"{field} is not marked invalid"
    assert "This search cannot be run" in _text(page)


def test_a_videos_page_shows_its_parts_and_report_row(console, four):
    page = console.get(f"/console/catalogue/videos/{four['a']}")
    assert page.status_code == 200
    text = _text(page)
    assert "Spring launch teaser" in text and "Café opening day" in text and "launch, spring" in text
    assert "0:00:45" in text and "People & Blogs" in text
    assert "Claimed (Claimed)" in text and "Monetize" in text and "gs://r/incoming/cms.csv , line 2" in text
    assert console.get(f"/console/catalogue/videos/{four['c']}").status_code == 200
    assert "No CMS report loaded so far names this video." in _text(console.get(f"/console/catalogue/videos/{four['c']}"))
    assert console.get("/console/catalogue/videos/AAAAAAAAAAA").status_code == 404
    assert console.get("/console/catalogue/videos/bad").status_code == 404


def test_the_live_stream_is_served_under_the_session(console, env):
    import os

    os.environ["POSTGATE_API_STREAM_SECONDS"] = "1"
    try:
        from shared import services

        services.reset()
        answer = console.get(f"/console/catalogue/events?channel_id={CHANNEL}")
        assert answer.status_code == 200 and answer.mimetype == "text/event-stream"
        assert '"reason":"time limit"' in answer.get_data(as_text=True)
    finally:
        os.environ.pop("POSTGATE_API_STREAM_SECONDS")
    assert console.get("/console/catalogue/events?channel_id=nope").status_code == 400
    assert api_client().get("/console/catalogue/events").status_code in (302, 303)  # no session
