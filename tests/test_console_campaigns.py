"""The console's campaigns pages (Flask test client on the api function, the emulators behind it): the list
and its status filter, creating and editing through the API's own rules with each refusal next to the
field it names, CSRF on every POST, and a campaign's numbers drawn by the same charts and tables as the
standalone campaign page, under the console's CSP."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

import pytest

from tests.console_support import APPROVER, EDITOR, api_client, csrf_of, set_up_console, sign_in_locally
from tests.test_campaign_analytics import CAMPAIGN, _insert, _rows, expected_day_cells, table_rows


@pytest.fixture
def console(env, monkeypatch):
    set_up_console(monkeypatch)
    client = api_client()
    yield client
    monkeypatch.undo()


def _html(answer) -> str:
    return answer.get_data(as_text=True)


def _words(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _signed_in(console, user: str = EDITOR) -> str:
    sign_in_locally(console, user)
    page = console.get("/console/campaigns")
    assert page.status_code == 200, _html(page)[:2000]
    return csrf_of(_html(page))


def _field_error(answer, prefix: str, field: str) -> str | None:
    """The refusal shown right under the field (and tied to it with aria-describedby)."""
    page = _html(answer)
    match = re.search(rf'<p class="field-error" id="{prefix}-{field}-error">(.*?)</p>', page, re.S)
    if match is None:
        return None
    assert re.search(rf'id="{prefix}-{field}"[^>]*aria-invalid="true" aria-describedby="{prefix}-{field}-error', page), \
        f"{field}'s input does not point at its error"
    return html.unescape(match.group(1))


def _errors(answer, prefix: str) -> dict[str, str]:
    return {name: html.unescape(text) for name, text in
            re.findall(rf'<p class="field-error" id="{prefix}-(\w+)-error">(.*?)</p>', _html(answer), re.S)}


def _create(console, token: str, **fields):
    return console.post("/console/campaigns", data={"csrf_token": token, **fields})


def _landed(answer) -> str:
    assert answer.status_code == 303, _html(answer)[:3000]
    return urljoin(answer.request.path, answer.headers["Location"])


# --- list and create ------------------------------------------------------------------------------

def test_create_then_the_list_and_its_status_filter_show_it(console):
    token = _signed_in(console)
    created = _create(console, token, name="Spring Launch 2030", description="Bottles for the hills",
                      status="active", starts_on="2030-03-01", ends_on="2030-03-31")
    assert _landed(created) == "/console/campaigns/spring-launch-2030?saved=created"
    assert created.headers["Location"] == "campaigns/spring-launch-2030?saved=created", "relative"
    assert _landed(_create(console, token, id="autumn", name="Autumn", status="planned")) == \
        "/console/campaigns/autumn?saved=created"

    listed = _words(_html(console.get("/console/campaigns")))
    assert "2 campaigns, in id order." in listed
    assert listed.index("Autumn planned autumn") < listed.index(
        "Spring Launch 2030 active spring-launch-2030 · 2030-03-01 to 2030-03-31 Bottles for the hills")
    active = _html(console.get("/console/campaigns?status=active"))
    assert "Spring Launch 2030" in active and "Autumn" not in active
    assert '<option value="active" selected>' in active

    from shared import services
    from shared.campaigns import service

    stored = service.get_campaign(services.repository(), "spring-launch-2030")
    assert stored.created_by == EDITOR and stored.description == "Bottles for the hills"


def test_an_unknown_status_filter_is_refused_naming_it(console):
    _signed_in(console)
    answer = console.get("/console/campaigns?status=finished")
    assert answer.status_code == 400 and "status must be one of planned, active" in _html(answer)


@pytest.mark.parametrize("fields, status, field, says", [
    ({"name": ""}, 400, "name", "Field required"),
    ({"name": "x" * 201}, 400, "name", "at most 200 characters"),
    ({"name": "Bad id", "id": "no spaces"}, 400, "id", "String should match pattern"),
    ({"name": "Dates", "starts_on": "2030-13-01"}, 400, "starts_on", "valid date"),
    ({"name": "Dates", "starts_on": "2030-03-10", "ends_on": "2030-03-01"}, 422, "ends_on",
     "ends_on 2030-03-01 is before starts_on 2030-03-10"),
    ({"name": "!!!"}, 422, "id", "the name has no letters or digits to make an id from; give an id"),
    ({"name": "Taken", "id": "taken"}, 409, "id", "campaign 'taken' already exists"),
])
def test_create_refusals_are_shown_next_to_the_field_they_name_and_keep_the_form(console, fields, status, field,
                                                                                 says):
    token = _signed_in(console)
    if fields.get("id") == "taken":
        _landed(_create(console, token, id="taken", name="First"))
    answer = _create(console, token, status="planned", **fields)
    assert answer.status_code == status
    assert says in (_field_error(answer, "new", field) or ""), _errors(answer, "new")
    assert list(_errors(answer, "new")) == [field]
    assert "Nothing was saved: 1 field needs changing." in _words(_html(answer))
    for name, value in fields.items():  # what was typed is still there
        if name in ("name", "id") and value:
            assert f'name="{name}" value="{html.escape(value)}"' in _html(answer)


def test_create_and_edit_need_the_csrf_token(console):
    from shared import services
    from shared.campaigns import service

    token = _signed_in(console)
    _landed(_create(console, token, id="kept", name="Kept"))
    for path, data in (("/console/campaigns", {"name": "Sneaky"}), ("/console/campaigns/kept", {"name": "Changed",
                                                                                               "status": "active"})):
        answer = console.post(path, data=data)
        assert answer.status_code == 400 and "The CSRF token is missing." in _html(answer), path
    answer = console.post("/console/campaigns/kept", data={"name": "Changed", "status": "active", "csrf_token": "forged"})
    assert answer.status_code == 400 and "Form not accepted" in _html(answer)
    assert [c.name for c in service.list_campaigns(services.repository(), status=None, skip=0, limit=10)[0]] == ["Kept"]


def test_without_a_session_the_pages_go_to_sign_in_and_posts_change_nothing(console):
    for path in ("/console/campaigns/kept", "/console/campaigns?status=active"):
        assert console.get(path).status_code == 303
    answer = console.post("/console/campaigns", data={"name": "Nobody"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("sign-in")


@pytest.mark.parametrize("user", [EDITOR, APPROVER])
def test_editors_and_approvers_both_see_the_forms(console, user):
    _signed_in(console, user)
    page = _html(console.get("/console/campaigns"))
    assert 'id="new-heading">New campaign' in page


# --- a campaign's page ----------------------------------------------------------------------------

def test_edit_saves_every_field_and_blank_clears_the_optional_ones(console):
    from shared import services
    from shared.campaigns import service

    token = _signed_in(console)
    _landed(_create(console, token, id="summer", name="Summer", description="Hot", starts_on="2030-06-01",
                    ends_on="2030-08-31"))
    page = console.get("/console/campaigns/summer")
    assert page.status_code == 200
    assert 'id="edit-name" name="name" value="Summer"' in _html(page)
    assert 'id="edit-starts_on" name="starts_on" type="date" value="2030-06-01"' in _html(page)

    saved = console.post("/console/campaigns/summer", data={"csrf_token": token, "name": "Summer Sale", "description": "",
                                                           "status": "paused", "starts_on": "2030-06-15", "ends_on": ""})
    assert _landed(saved) == "/console/campaigns/summer?saved=changed"
    stored = service.get_campaign(services.repository(), "summer")
    assert (stored.name, stored.description, stored.status, stored.starts_on.isoformat(), stored.ends_on) == (
        "Summer Sale", None, "paused", "2030-06-15", None)
    shown = _words(_html(console.get("/console/campaigns/summer?saved=changed")))
    assert "Changes saved." in shown and "Summer Sale paused summer · 2030-06-15 to …" in shown


@pytest.mark.parametrize("fields, status, field, says", [
    ({"name": ""}, 400, "name", "at least 1 character"),
    ({"status": "finished"}, 400, "status", "Input should be 'planned', 'active', 'paused', 'completed' or 'archived'"),
    ({"ends_on": "2030-05-01"}, 422, "ends_on", "ends_on 2030-05-01 is before starts_on 2030-06-01"),
    ({"description": "d" * 2001}, 400, "description", "at most 2000 characters"),
])
def test_edit_refusals_are_shown_next_to_the_field_and_nothing_changes(console, fields, status, field, says):
    from shared import services
    from shared.campaigns import service

    token = _signed_in(console)
    _landed(_create(console, token, id="summer", name="Summer", starts_on="2030-06-01"))
    form = {"name": "Summer", "description": "", "status": "planned", "starts_on": "2030-06-01", "ends_on": "", **fields}
    answer = console.post("/console/campaigns/summer", data={"csrf_token": token, **form})
    assert answer.status_code == status
    assert says in (_field_error(answer, "edit", field) or ""), _errors(answer, "edit")
    assert list(_errors(answer, "edit")) == [field]
    assert service.get_campaign(services.repository(), "summer").name == "Summer"


def test_unknown_campaign_is_a_404_page_naming_it(console):
    token = _signed_in(console)
    for answer in (console.get("/console/campaigns/nothing"), console.get("/console/campaigns/-x"),
                   console.post("/console/campaigns/nothing", data={"csrf_token": token, "name": "N",
                                                                   "status": "planned"})):
        assert answer.status_code == 404 and "no campaign" in _html(answer)


def test_the_campaigns_numbers_are_the_standalone_pages_charts_and_tables_under_the_console_csp(console, env):
    from tests.conftest import bearer

    token = _signed_in(console)
    _landed(_create(console, token, id=CAMPAIGN, name="Spring launch", starts_on="2030-03-01", ends_on="2030-03-03"))
    _insert(_rows())
    numbers = console.get(f"/campaigns/{CAMPAIGN}/analytics?from=2030-03-01&to=2030-03-03",
                          headers=bearer(env)).get_json()

    page = console.get(f"/console/campaigns/{CAMPAIGN}?from=2030-03-01&to=2030-03-03")
    assert page.status_code == 200
    text = _html(page)
    assert table_rows(text, "days") == [expected_day_cells(d) for d in numbers["days"]]
    assert len(re.findall(r'<g class="series" data-platform="(\w+)"', text)) == 4  # 2 platforms x 2 charts
    assert '<h3 id="days-heading">Per day</h3>' in text, "headings under the page's own h2"
    standalone = _html(console.get(f"/campaigns/{CAMPAIGN}/analytics/page?from=2030-03-01&to=2030-03-03",
                                   headers=bearer(env)))
    fragment = re.search(r'<div class="campaign-numbers">.*?</table>\s*</div>\s*</div>', text, re.S).group(0)
    assert fragment.replace("<h3", "<h2").replace("</h3>", "</h2>") in standalone, "one implementation"

    csp = page.headers["Content-Security-Policy"]
    assert "style-src 'self';" in csp and "unsafe-inline" not in csp
    assert "<style" not in text and " style=" not in text and "<script>" not in text
    [sheet] = re.findall(r'<link rel="stylesheet" href="([./]*static/[0-9a-f]{16}/campaign-charts\.css)">', text)
    served = console.get(urljoin(f"/console/campaigns/{CAMPAIGN}", sheet))
    from shared.analytics.charts import CSS

    assert served.status_code == 200 and served.get_data(as_text=True) == CSS and served.mimetype == "text/css"


def test_a_bad_range_is_refused_next_to_its_field_and_the_rest_of_the_page_stays(console):
    token = _signed_in(console)
    _landed(_create(console, token, id="ranged", name="Ranged"))
    for query, field, says in (("from=2030-03-05&to=2030-03-01", "to", "`to` is before `from`"),
                               ("from=2029-01-01&to=2030-03-01", "to", "at most 366 days at once"),
                               ("from=yesterday", "from", "YYYY-MM-DD")):
        answer = console.get(f"/console/campaigns/ranged?{query}")
        assert answer.status_code == 400, query
        assert says in (_field_error(answer, "range", field) or ""), (query, _errors(answer, "range"))
        assert 'class="campaign-numbers"' not in _html(answer) and 'id="edit-name"' in _html(answer)


def test_default_range_is_the_campaigns_dates_so_far_or_the_last_30_days():
    from datetime import UTC, date, datetime

    from shared.console.pages.campaigns import default_range
    from shared.model.campaign import Campaign

    def campaign(**dates) -> Campaign:
        now = datetime(2030, 1, 1, tzinfo=UTC)
        return Campaign(id="c", name="C", created_by="x", created_at=now, updated_at=now, **dates)

    today = date(2030, 6, 30)
    assert default_range(campaign(), today) == (date(2030, 6, 1), today)
    assert default_range(campaign(starts_on=date(2030, 6, 10)), today) == (date(2030, 6, 10), today)
    assert default_range(campaign(starts_on=date(2030, 3, 1), ends_on=date(2030, 3, 31)), today) == (
        date(2030, 3, 1), date(2030, 3, 31))
    assert default_range(campaign(starts_on=date(2030, 9, 1)), today) == (date(2030, 6, 1), today)
    assert default_range(campaign(starts_on=date(2020, 1, 1)), today) == (date(2029, 6, 30), today)
