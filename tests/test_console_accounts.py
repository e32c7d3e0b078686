"""The console's accounts page (Flask test client on the api function, the emulators and the TikTok
sandbox behind it): each account's status with its reason, its caps as publishing applies them, Connect
through the platform's consent page and back, Test with its answer, and the refusals (no session, no
CSRF token, unknown account, connect not set up)."""

from __future__ import annotations

import html
import json
import re
import secrets as pysecrets
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from tests.conftest import ACCOUNT
from tests.console_support import APPROVER, EDITOR, api_client, csrf_of, set_up_console, sign_in_locally

CLIENT = {"client_id": "postgate-tiktok", "client_secret": "tiktok-app-secret"}


@pytest.fixture
def tiktok_consent(env, sandbox, monkeypatch):
    """Postgate's app registered with the TikTok sandbox, its consent page there, and a signed-in creator who
    consents; the open_id Postgate should end up with."""
    from shared import services

    monkeypatch.setenv("POSTGATE_TIKTOK_AUTHORIZE_URL", sandbox.base_url + "/v2/auth/authorize/")
    services.reset()
    services.secrets().add_version("oauth-clients", json.dumps({"tiktok": CLIENT}))
    sandbox.oauth.register_client(CLIENT["client_id"], CLIENT["client_secret"],
                                  [env["POSTGATE_API_BASE_URL"] + "/accounts/oauth/callback"])
    sandbox.add_creator("unused-" + pysecrets.token_urlsafe(8), creator_username="console_creator",
                        creator_nickname="Console Creator")
    sandbox.oauth.sign_in("console_creator")
    return sandbox.open_id("console_creator")


@pytest.fixture
def console(env, monkeypatch, tiktok_consent):
    set_up_console(monkeypatch)
    client = api_client()
    yield client
    monkeypatch.undo()


def _html(answer) -> str:
    return answer.get_data(as_text=True)


def _text(answer) -> str:
    """The page's words, tags dropped and spaces collapsed."""
    return _words(_html(answer))


def _card(answer, account_id: str) -> str:
    """The words of one account's card."""
    page = _html(answer)
    start = page.find(f'id="account-{account_id}"')
    assert start >= 0, f"no card for {account_id}"
    end = page.find('<li class="account-card', start)
    return _words(page[start:end if end >= 0 else page.find("</main>")])


def _words(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _account(account_id: str, **fields) -> None:
    from shared import services

    services.repository().db.collection("accounts").document(account_id).set(
        {"platform": "tiktok", "handle": account_id, "secret_name": f"tiktok-account-{account_id}", **fields})


def _signed_in(console, user: str = APPROVER) -> str:
    sign_in_locally(console, user)
    page = console.get("/console/accounts")
    assert page.status_code == 200, _html(page)[:2000]
    return csrf_of(_html(page))


def _lands_on(answer) -> str:
    """Where a 303's relative Location takes the browser from the URL the request went to."""
    assert answer.status_code == 303, _html(answer)[:2000]
    return urljoin(answer.request.path, answer.headers["Location"])


# --- what the page shows --------------------------------------------------------------------------

def test_each_account_shows_its_status_with_the_reason_dry_run_and_caps(console):
    _account("tiktok-broken", status="needs_reconnect", status_reason="refresh refused: invalid_grant")
    _account("tiktok-new", status="not_connected")
    _account("tiktok-smoke", status="connected", dry_run=True,
             limits=[{"name": "posts_per_hour", "max_count": 3, "window_seconds": 3600}])
    _signed_in(console)
    page = console.get("/console/accounts")
    ids = re.findall(r'<li class="account-card" data-status="\w+" id="account-([^"]+)"', _html(page))
    assert ids == ["tiktok-broken", "tiktok-new", ACCOUNT, "tiktok-smoke"], "those needing someone come first"

    broken = _card(page, "tiktok-broken")
    assert "Needs reconnecting" in broken and "refresh refused: invalid_grant" in broken
    assert "Reconnect" in broken and "Test" in broken
    new = _card(page, "tiktok-new")
    assert "Not connected" in new and "No tokens yet: connect it to publish." in new and "Connect" in new
    main = _card(page, ACCOUNT)
    assert "Connected" in main and "At most 15 per day posts_per_day" in main and "TikTok's defaults" in main
    assert "Dry run" not in main
    smoke = _card(page, "tiktok-smoke")
    assert "Dry run" in smoke and "At most 3 per hour posts_per_hour" in smoke and "set for this account" in smoke
    assert " style=" not in _html(page) and "<script>" not in _html(page)


def test_the_page_allows_the_consent_pages_origin_for_its_connect_forms_only(console, sandbox):
    _signed_in(console)
    csp = console.get("/console/accounts").headers["Content-Security-Policy"]
    assert f"form-action 'self' {sandbox.base_url};" in csp
    assert "form-action 'self';" in console.get("/console/campaigns").headers["Content-Security-Policy"]


def test_a_buffer_channel_shows_the_network_behind_it_its_plans_caps_and_no_sign_in(console, sandbox):
    _account("buffer-x", platform="buffer", handle="brand_x", secret_name="buffer-config-cfg1",
             platform_account_id="64f0c0ffee", buffer_service="twitter", buffer_plan="team")
    _signed_in(console)
    page = console.get("/console/accounts")
    card = _card(page, "buffer-x")
    assert "Buffer · X" in card and "64f0c0ffee" in card
    assert "At most 125 per day posts_per_day" in card and "At most 25 per 15 minutes" in card
    assert "Test" in card and "Buffer configuration's API key" in card
    assert 'action="accounts/buffer-x/connect"' not in _html(page) and 'action="accounts/buffer-x/test"' in _html(page)
    csp = page.headers["Content-Security-Policy"]
    assert f"form-action 'self' {sandbox.base_url};" in csp  # the TikTok account's consent page only
    refused = console.post("/console/accounts/buffer-x/connect", data={"csrf_token": csrf_of(_html(page))})
    assert refused.status_code == 409 and "no sign-in page" in _card(refused, "buffer-x")


def test_window_text_names_the_largest_unit_that_divides_the_window():
    from shared.console.pages.accounts import window_text

    assert [window_text(s) for s in (86400, 900, 3600, 7200, 604800, 90, 61)] == [
        "day", "15 minutes", "hour", "2 hours", "week", "90 seconds", "61 seconds"]


# --- connect --------------------------------------------------------------------------------------

def test_connect_sends_the_browser_to_the_consent_page_with_a_state_bound_to_the_user(console, env, sandbox):
    from shared import services
    from shared.stores.accounts import OAUTH_STATES

    _account("tiktok-new", status="not_connected")
    token = _signed_in(console, EDITOR)
    answer = console.post("/console/accounts/tiktok-new/connect", data={"csrf_token": token})
    assert answer.status_code == 303
    location = answer.headers["Location"]
    assert location.startswith(sandbox.base_url + "/v2/auth/authorize/?"), location
    query = parse_qs(urlsplit(location).query)
    assert query["client_key"] == [CLIENT["client_id"]] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == [env["POSTGATE_API_BASE_URL"] + "/accounts/oauth/callback"]
    [state] = query["state"]
    [record] = [d.to_dict() for d in services.repository().db.collection(OAUTH_STATES).stream()]
    assert record["account_id"] == "tiktok-new" and record["user"] == EDITOR
    assert record["return_to"] == "/console/accounts" and record["used_at"] is None
    assert state not in json.dumps(record, default=str), "only the state's hash is stored"


def test_connect_round_trip_comes_back_to_the_accounts_page_saying_so(console, env, tiktok_consent):
    from shared import services

    _account("tiktok-new", status="not_connected")
    token = _signed_in(console)
    started = console.post("/console/accounts/tiktok-new/connect", data={"csrf_token": token})
    consent = requests.get(started.headers["Location"], allow_redirects=False, timeout=10)
    assert consent.status_code == 302
    callback = urlsplit(consent.headers["Location"])
    back = console.get(callback.path + "?" + callback.query)
    assert back.headers["Location"].startswith("../../console/accounts?connect="), "relative: any prefix works"
    target = _lands_on(back)
    page = console.get(target)
    assert page.status_code == 200
    outcome = re.search(r'<div class="notice" id="connect-outcome" role="status">(.*?)</div>', _html(page), re.S)
    assert outcome and "Connected" in outcome.group(1) and "tiktok-new" in outcome.group(1)
    assert "Connected" in _card(page, "tiktok-new") and "Reconnect" in _card(page, "tiktok-new")
    record = services.repository().db.collection("accounts").document("tiktok-new").get().to_dict()
    assert record["status"] == "connected" and record["platform_account_id"] == tiktok_consent

    replay = console.get(callback.path + "?" + callback.query)  # the first outcome stays
    assert "Connected" in _text(console.get(_lands_on(replay)))


def test_declined_consent_comes_back_with_the_platforms_refusal_and_nothing_changed(console, sandbox):
    _account("tiktok-new", status="not_connected")
    sandbox.oauth.sign_in("console_creator", consent=False)
    token = _signed_in(console)
    started = console.post("/console/accounts/tiktok-new/connect", data={"csrf_token": token})
    callback = urlsplit(requests.get(started.headers["Location"], allow_redirects=False, timeout=10).headers["Location"])
    page = console.get(_lands_on(console.get(callback.path + "?" + callback.query)))
    outcome = re.search(r'<div class="problem" id="connect-outcome" role="status">(.*?)</div>', _html(page), re.S)
    assert outcome, _text(page)
    said = _words(outcome.group(1))
    assert said.startswith("Not connected (tiktok-new): TikTok did not grant access (access_denied)"), said
    assert "Not connected" in _card(page, "tiktok-new")


def test_the_outcome_is_shown_only_to_whoever_started_the_connect(console, tiktok_consent):
    _account("tiktok-new", status="not_connected")
    token = _signed_in(console, EDITOR)
    started = console.post("/console/accounts/tiktok-new/connect", data={"csrf_token": token})
    callback = urlsplit(requests.get(started.headers["Location"], allow_redirects=False, timeout=10).headers["Location"])
    target = _lands_on(console.get(callback.path + "?" + callback.query))
    assert 'id="connect-outcome"' in _html(console.get(target))
    other = api_client()  # another browser, someone else signed in
    sign_in_locally(other, APPROVER)
    assert 'id="connect-outcome"' not in _html(other.get(target))
    assert 'id="connect-outcome"' not in _html(console.get("/console/accounts?connect=" + "0" * 64))
    assert 'id="connect-outcome"' not in _html(console.get("/console/accounts?connect=../../x"))


def test_an_api_callers_connect_still_gets_the_apis_own_answers(console, env, tiktok_consent):
    from tests.conftest import bearer

    _account("tiktok-new", status="not_connected")
    started = console.post("/accounts/tiktok-new/connect", json={}, headers=bearer(env)).get_json()
    callback = urlsplit(requests.get(started["authorize_url"], allow_redirects=False, timeout=10).headers["Location"])
    done = console.get(callback.path + "?" + callback.query)
    assert done.status_code == 200 and done.mimetype == "text/html" and "<h1>Connected</h1>" in _html(done)
    replay = console.get(callback.path + "?" + callback.query)
    assert replay.status_code == 400 and replay.get_json()["field"] == "state"


def test_connect_not_set_up_says_which_secret_under_the_account(console):
    from shared import services

    services.secrets().add_version("oauth-clients", json.dumps({}))
    _account("tiktok-new", status="not_connected")
    token = _signed_in(console)
    answer = console.post("/console/accounts/tiktok-new/connect", data={"csrf_token": token})
    assert answer.status_code == 503
    refused = re.search(r'<p class="problem" id="refused-tiktok-new">(.*?)</p>', _html(answer), re.S)
    assert refused and "oauth-clients" in refused.group(1) and "tiktok" in refused.group(1)


def test_connect_and_test_need_the_csrf_token_and_change_nothing_without_it(console):
    from shared import services
    from shared.stores.accounts import OAUTH_STATES

    _account("tiktok-broken", status="needs_reconnect", status_reason="revoked")
    _signed_in(console)
    for path in ("/console/accounts/tiktok-new/connect", f"/console/accounts/{ACCOUNT}/test",
                 "/console/accounts/tiktok-broken/test"):
        answer = console.post(path, data={})
        assert answer.status_code == 400 and "Form not accepted" in _html(answer), path
        assert "The CSRF token is missing." in _html(answer)
    assert list(services.repository().db.collection(OAUTH_STATES).stream()) == []
    record = services.repository().db.collection("accounts").document("tiktok-broken").get().to_dict()
    assert record["status"] == "needs_reconnect", "the test did not run"


def test_without_a_session_the_posts_go_to_sign_in(console):
    for path in ("/console/accounts/tiktok-main/connect", "/console/accounts/tiktok-main/test"):
        answer = console.post(path, data={})
        assert answer.status_code == 303 and answer.headers["Location"].endswith("sign-in"), path


def test_unknown_account_is_a_404_page_naming_it(console):
    token = _signed_in(console)
    for path in ("/console/accounts/nobody/connect", "/console/accounts/nobody/test", "/console/accounts/no%20body/test"):
        answer = console.post(path, data={"csrf_token": token})
        assert answer.status_code == 404 and "no account" in _html(answer), path


# --- test -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("user", [EDITOR, APPROVER])
def test_test_answers_json_for_the_page_script_with_the_status_after(console, user):
    token = _signed_in(console, user)
    answer = console.post(f"/console/accounts/{ACCOUNT}/test", headers={"X-CSRFToken": token,
                                                                       "Accept": "application/json"})
    assert answer.status_code == 200, _html(answer)[:1000]
    body = answer.get_json()
    assert body["result"] == "ok" and body["result_text"] == "Works" and "brand_main" in body["detail"] or body
    assert body["status"] == "connected" and body["status_text"] == "Connected"


def test_test_says_why_in_place_without_script_when_no_tokens_are_stored(console):
    account_id = f"tiktok-{pysecrets.token_hex(4)}"  # the secrets file outlives a test
    _account(account_id, status="not_connected")
    token = _signed_in(console)
    answer = console.post(f"/console/accounts/{account_id}/test", data={"csrf_token": token})
    assert _lands_on(answer) == f"/console/accounts#account-{account_id}"
    page = console.get("/console/accounts")
    result = re.search(rf'<p class="test-result result-needs_reconnect" id="test-{account_id}"[^>]*>(.*?)</p>',
                       _html(page), re.S)
    assert result, _card(page, account_id)
    assert result.group(1) == "<strong>Needs reconnecting</strong>: no tokens are stored for this account; connect it first"
    assert 'class="test-result result' not in _html(console.get("/console/accounts")), "shown once"


def test_a_revoked_authorization_is_marked_needs_reconnect_with_the_reason_in_place(console, sandbox):
    _account("tiktok-new", status="not_connected")
    token = _signed_in(console)
    started = console.post("/console/accounts/tiktok-new/connect", data={"csrf_token": token})
    callback = urlsplit(requests.get(started.headers["Location"], allow_redirects=False, timeout=10).headers["Location"])
    assert console.get(callback.path + "?" + callback.query).status_code == 303
    sandbox.revoke_authorization("console_creator")
    body = console.post("/console/accounts/tiktok-new/test", headers={"X-CSRFToken": token,
                                                                      "Accept": "application/json"}).get_json()
    assert body["result"] == "needs_reconnect" and body["status"] == "needs_reconnect", body
    assert body["status_text"] == "Needs reconnecting" and body["status_reason"].startswith("test connection: ")
    card = _card(console.get("/console/accounts"), "tiktok-new")
    assert "Needs reconnecting" in card and body["status_reason"] in card
