"""Connecting accounts through each platform's OAuth flow, against the platform sandboxes, and
testing the connection afterwards."""

from __future__ import annotations

import json
import secrets as pysecrets
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from infra.local.sandboxes.instagram import InstagramSandbox
from infra.local.sandboxes.linkedin import LinkedInSandbox
from infra.local.sandboxes.x import XSandbox
from infra.local.sandboxes.youtube import YouTubeSandbox
from shared.accounts.oauth import connects_by_sign_in
from shared.model.platform import PLATFORMS
from tests.conftest import bearer

# The platforms whose accounts connect through a consent page (a Buffer channel posts with its configuration's key).
SIGN_IN_PLATFORMS = tuple(p for p in PLATFORMS if connects_by_sign_in(p))
CLIENTS = {p: {"client_id": f"postgate-{p}", "client_secret": f"{p}-app-secret-{pysecrets.token_hex(4)}"}
           for p in SIGN_IN_PLATFORMS}
REDIRECT_URI = "http://api.test/accounts/oauth/callback"  # POSTGATE_API_BASE_URL + the callback path


@pytest.fixture(scope="module")
def boxes(sandbox):
    """Every platform's sandbox (TikTok's is the session one), the app registered with each."""
    import os

    from shared import services

    started = {"tiktok": sandbox, "instagram": InstagramSandbox(), "x": XSandbox(check_after_secs=0),
               "youtube": YouTubeSandbox(), "linkedin": LinkedInSandbox()}
    for platform, box in started.items():
        if platform != "tiktok":
            box.start()
        box.oauth.register_client(CLIENTS[platform]["client_id"], CLIENTS[platform]["client_secret"], [REDIRECT_URI])
    ig, x, yt, li = (started[p] for p in ("instagram", "x", "youtube", "linkedin"))
    env = {"POSTGATE_TIKTOK_AUTHORIZE_URL": sandbox.base_url + "/v2/auth/authorize/",
           **ig.settings,  # graph.facebook.com and graph.instagram.com apart, the consent page, the code exchange
           "POSTGATE_X_BASE_URL": x.base_url, "POSTGATE_X_AUTHORIZE_URL": x.base_url + "/i/oauth2/authorize",
           "POSTGATE_YOUTUBE_BASE_URL": yt.base_url, "POSTGATE_YOUTUBE_OAUTH_URL": yt.token_url,
           "POSTGATE_YOUTUBE_AUTHORIZE_URL": yt.base_url + "/o/oauth2/v2/auth",
           "POSTGATE_LINKEDIN_BASE_URL": li.base_url, "POSTGATE_LINKEDIN_OAUTH_URL": li.oauth_url,
           "POSTGATE_LINKEDIN_AUTHORIZE_URL": li.base_url + "/oauth/v2/authorization"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    services.reset()
    yield started
    for platform, box in started.items():
        if platform != "tiktok":
            box.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    services.reset()


@pytest.fixture
def people(env, boxes):
    """The app's credentials in the oauth-clients secret, and on each platform a signed-in test
    user who consents: {platform: the platform id Postgate should end up with}."""
    from shared import services

    services.secrets().add_version("oauth-clients", json.dumps(CLIENTS))
    throwaway = lambda: "unused-" + pysecrets.token_urlsafe(8)  # noqa: E731 - registers the user only
    boxes["tiktok"].add_creator(throwaway(), creator_username="oauth_creator", creator_nickname="OAuth Creator")
    boxes["tiktok"].oauth.sign_in("oauth_creator")
    ig = boxes["instagram"].add_account(throwaway(), username="oauth_ig")
    boxes["instagram"].oauth.sign_in(ig["ig_user_id"])
    x = boxes["x"].add_account(throwaway(), username="oauth_x")
    boxes["x"].oauth.sign_in(x["user_id"])
    yt = boxes["youtube"].add_account(throwaway(), title="OAuth Channel")
    boxes["youtube"].oauth.sign_in(yt["channel_id"])
    li = boxes["linkedin"].add_account(throwaway(), person_id="oauthmember1")
    boxes["linkedin"].oauth.sign_in(li["person_urn"])
    return {"tiktok": boxes["tiktok"].open_id("oauth_creator"), "instagram": ig["ig_user_id"], "x": x["user_id"],
            "youtube": yt["channel_id"], "linkedin": li["person_urn"]}


def _add(api, env, platform: str, account_id: str | None = None, **fields) -> str:
    account_id = account_id or f"{platform}-{pysecrets.token_hex(4)}"  # the secrets file outlives a test
    response = api.post("/accounts", json={"id": account_id, "platform": platform, "handle": "brand", **fields},
                        headers=bearer(env))
    assert response.status_code == 201, response.get_json()
    return account_id


def _consent(api, env, account_id: str) -> str:
    """POST connect, then the browser at the authorize page; returns where it is sent back to."""
    started = api.post(f"/accounts/{account_id}/connect", json={}, headers=bearer(env))
    assert started.status_code == 200, started.get_json()
    page = requests.get(started.get_json()["authorize_url"], allow_redirects=False, timeout=10)
    assert page.status_code == 302, page.text
    location = page.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return location


def _callback(api, location: str):
    return api.get("/accounts/oauth/callback?" + urlsplit(location).query)


def _secret_versions(env, name: str) -> list[dict]:
    data = json.loads(open(env["POSTGATE_SECRETS_FILE"], encoding="utf-8").read())
    versions = data.get(name, [])
    return [json.loads(v) for v in (versions if isinstance(versions, list) else [versions])]


@pytest.mark.parametrize("platform", SIGN_IN_PLATFORMS)
def test_connect_round_trip_stores_tokens_and_the_account_then_tests_ok(api, env, people, boxes, platform):
    account_id = _add(api, env, platform)
    secret = f"{platform}-account-{account_id}"
    assert _secret_versions(env, secret) == []

    done = _callback(api, _consent(api, env, account_id))
    assert done.status_code == 200, done.get_json()
    assert done.mimetype == "text/html" and "Connected" in done.get_data(as_text=True)

    [tokens] = _secret_versions(env, secret)
    assert tokens["access_token"] and tokens["client_id"] == CLIENTS[platform]["client_id"]
    assert tokens["access_token"] not in done.get_data(as_text=True)
    if platform != "instagram":  # Instagram Login's long-lived token is its own refresh token
        assert tokens["refresh_token"] != tokens["access_token"]
    account = api.get(f"/accounts/{account_id}", headers=bearer(env)).get_json()
    assert account["status"] == "connected" and account["connected_at"]
    assert account["platform_account_id"] == people[platform]
    assert "access_token" not in json.dumps(account)

    tested = api.post(f"/accounts/{account_id}/test", headers=bearer(env)).get_json()
    assert tested["result"] == "ok", tested
    assert tested["identity"]["platform_account_id"] == people[platform]


def test_instagram_connect_records_instagram_login_and_every_call_goes_to_graph_instagram_com(api, env, people, boxes):
    """Business Login for Instagram hands out Instagram User tokens, which Meta serves on
    graph.instagram.com only: who signed in, the test call and the refresh all go there, and the
    login is recorded on the account and beside the token."""
    from shared import services

    ig = boxes["instagram"]
    ig.reset()
    account_id = _add(api, env, "instagram")
    assert _callback(api, _consent(api, env, account_id)).status_code == 200
    [tokens] = _secret_versions(env, f"instagram-account-{account_id}")
    assert tokens["login"] == "instagram" and ig.token_login(tokens["access_token"]) == "instagram"
    record = services.repository().db.collection("accounts").document(account_id).get().to_dict()
    assert record["instagram_login"] == "instagram"
    assert api.post(f"/accounts/{account_id}/test", headers=bearer(env)).get_json()["result"] == "ok"
    calls = [(e["endpoint"], e["host"]) for e in ig.requests_log]
    assert calls == [("authorize", "www.instagram.com"), ("ig_code", "api.instagram.com"),
                     ("ig_exchange", "graph.instagram.com"), ("me", "graph.instagram.com"),
                     ("me", "graph.instagram.com")]


def test_facebook_login_account_tests_ok_by_reading_its_ig_user_on_graph_facebook_com(api, env, boxes):
    """An account set up with Facebook Login tokens (graph.facebook.com): there /me is the Facebook
    user, with no user_id, so test connection reads the IG user by the account's own id
    (GET /{ig-user-id}?fields=id,username) instead of failing."""
    from shared import services

    ig = boxes["instagram"]
    ig.reset()
    token = "EAAGfacebook-login-" + pysecrets.token_hex(6)
    user = ig.add_account(token, ig_user_id="17841400000004242", username="fb_brand")  # a Facebook Login token
    account_id = _add(api, env, "instagram", platform_account_id=user["ig_user_id"])
    services.secrets().add_version(f"instagram-account-{account_id}",
                                   json.dumps({"access_token": token, "refresh_token": ""}))
    tested = api.post(f"/accounts/{account_id}/test", headers=bearer(env)).get_json()
    assert tested["result"] == "ok", tested
    assert tested["identity"]["platform_account_id"] == user["ig_user_id"]
    assert tested["identity"]["handle"] == "fb_brand"
    assert [(e["endpoint"], e["host"], e["status"]) for e in ig.requests_log] == [
        ("ig_user", "graph.facebook.com", 200)]


def test_a_second_connect_adds_a_new_secret_version(api, env, people):
    account_id = _add(api, env, "x")
    assert _callback(api, _consent(api, env, account_id)).status_code == 200
    assert _callback(api, _consent(api, env, account_id)).status_code == 200
    first, second = _secret_versions(env, f"x-account-{account_id}")
    assert first["access_token"] != second["access_token"]


def test_replayed_state_is_refused(api, env, people):
    account_id = _add(api, env, "youtube")
    location = _consent(api, env, account_id)
    assert _callback(api, location).status_code == 200
    replay = _callback(api, location)
    assert replay.status_code == 400 and replay.get_json()["field"] == "state"
    assert "already used" in replay.get_json()["detail"]
    assert len(_secret_versions(env, f"youtube-account-{account_id}")) == 1


def test_unknown_and_expired_states_are_refused(api, env, people):
    from datetime import timedelta

    from shared import services
    from shared.runtime.clock import utcnow
    from shared.stores.accounts import OAUTH_STATES

    unknown = api.get("/accounts/oauth/callback?code=abc&state=not-ours")
    assert unknown.status_code == 400 and unknown.get_json()["field"] == "state"
    account_id = _add(api, env, "tiktok")
    location = _consent(api, env, account_id)
    for doc in services.repository().db.collection(OAUTH_STATES).stream():
        doc.reference.update({"expires_at": utcnow() - timedelta(seconds=1)})
    expired = _callback(api, location)
    assert expired.status_code == 400 and "expired" in expired.get_json()["detail"]
    assert api.get(f"/accounts/{account_id}", headers=bearer(env)).get_json()["status"] == "not_connected"


def test_x_refuses_a_code_redeemed_with_the_wrong_pkce_verifier(api, env, people, boxes):
    from shared import services
    from shared.stores.accounts import OAUTH_STATES

    account_id = _add(api, env, "x")
    started = api.post(f"/accounts/{account_id}/connect", json={}, headers=bearer(env)).get_json()
    query = parse_qs(urlsplit(started["authorize_url"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    location = requests.get(started["authorize_url"], allow_redirects=False, timeout=10).headers["Location"]
    for doc in services.repository().db.collection(OAUTH_STATES).stream():  # a verifier that is not the one hashed
        doc.reference.update({"code_verifier": pysecrets.token_urlsafe(64)})
    refused = _callback(api, location)
    assert refused.status_code == 400 and "X refused the sign-in" in refused.get_json()["detail"]
    token_calls = [e for e in boxes["x"].requests_log if e["endpoint"] == "token"]
    assert token_calls[-1]["status"] == 400 and token_calls[-1]["error"] == "invalid_grant"
    assert _secret_versions(env, f"x-account-{account_id}") == []


def test_x_authorize_without_a_pkce_challenge_is_sent_back_with_an_error(boxes, people):
    url = (boxes["x"].base_url + "/i/oauth2/authorize?response_type=code&client_id=" + CLIENTS["x"]["client_id"]
           + "&redirect_uri=" + REDIRECT_URI + "&scope=tweet.read&state=s1")
    answer = requests.get(url, allow_redirects=False, timeout=10)
    back = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert back["error"] == ["invalid_request"] and back["state"] == ["s1"] and "code" not in back


@pytest.mark.parametrize("platform", SIGN_IN_PLATFORMS)
def test_a_redirect_uri_that_is_not_registered_exactly_is_not_redirected_to(boxes, people, platform, api, env):
    account_id = _add(api, env, platform)
    url = api.post(f"/accounts/{account_id}/connect", json={}, headers=bearer(env)).get_json()["authorize_url"]
    tampered = url.replace("callback", "callback%2F")  # a trailing slash is a different URI
    answer = requests.get(tampered, allow_redirects=False, timeout=10)
    assert answer.status_code == 400 and "Location" not in answer.headers


@pytest.mark.parametrize("platform, error", [("tiktok", "access_denied"), ("linkedin", "user_cancelled_authorize")])
def test_declined_consent_answers_a_clear_message_and_changes_nothing(api, env, people, boxes, platform, error):
    account_id = _add(api, env, platform)
    box = boxes[platform]
    box.oauth.sign_in(box.oauth._user, consent=False)
    location = _consent(api, env, account_id)
    assert parse_qs(urlsplit(location).query)["error"] == [error]
    answer = _callback(api, location)
    assert answer.status_code == 400
    assert "declined" in answer.get_json()["detail"] and error in answer.get_json()["detail"]
    assert api.get(f"/accounts/{account_id}", headers=bearer(env)).get_json()["status"] == "not_connected"
    assert _secret_versions(env, f"{platform}-account-{account_id}") == []


def test_signing_in_as_another_account_than_the_bound_one_is_refused(api, env, people):
    account_id = _add(api, env, "x", platform_account_id="1234567890")
    answer = _callback(api, _consent(api, env, account_id))
    assert answer.status_code == 409 and "1234567890" in answer.get_json()["detail"]
    assert _secret_versions(env, f"x-account-{account_id}") == []


def test_connect_without_app_credentials_says_which_secret_to_fill(api, env, boxes):
    from shared import services

    services.secrets().add_version("oauth-clients", json.dumps({p: c for p, c in CLIENTS.items() if p != "linkedin"}))
    account_id = _add(api, env, "linkedin")
    answer = api.post(f"/accounts/{account_id}/connect", json={}, headers=bearer(env))
    assert answer.status_code == 503 and "oauth-clients" in answer.get_json()["detail"]
    assert "linkedin" in answer.get_json()["detail"]


def test_linkedin_organization_account_keeps_its_author_and_asks_for_organization_scopes(api, env, people):
    org = "urn:li:organization:5550001"
    account_id = _add(api, env, "linkedin", platform_account_id=org)
    started = api.post(f"/accounts/{account_id}/connect", json={}, headers=bearer(env)).get_json()
    assert "w_organization_social" in parse_qs(urlsplit(started["authorize_url"]).query)["scope"][0].split()
    location = requests.get(started["authorize_url"], allow_redirects=False, timeout=10).headers["Location"]
    assert _callback(api, location).status_code == 200
    from shared import services

    record = services.repository().get_account(account_id)
    assert record["platform_account_id"] == org and record["person_urn"] == people["linkedin"]


@pytest.mark.parametrize("platform", SIGN_IN_PLATFORMS)
def test_connection_needs_reconnect_once_the_platform_revoked_the_app(api, env, people, boxes, platform):
    account_id = _add(api, env, platform)
    assert _callback(api, _consent(api, env, account_id)).status_code == 200
    user = {"tiktok": "oauth_creator"}.get(platform, people[platform])
    boxes[platform].revoke_authorization(user)
    tested = api.post(f"/accounts/{account_id}/test", headers=bearer(env)).get_json()
    assert tested["result"] == "needs_reconnect", tested
    account = api.get(f"/accounts/{account_id}", headers=bearer(env)).get_json()
    assert account["status"] == "needs_reconnect" and account["status_reason"]


@pytest.mark.parametrize("platform, endpoint, kind", [("tiktok", "user_info", "server_error"),
                                                      ("x", "users_me", "server_error"),
                                                      ("youtube", "channels", "server_error")])
def test_connection_error_on_a_platform_5xx_leaves_the_account_connected(api, env, people, boxes, platform, endpoint, kind):
    account_id = _add(api, env, platform)
    assert _callback(api, _consent(api, env, account_id)).status_code == 200
    boxes[platform].inject(endpoint, kind)
    tested = api.post(f"/accounts/{account_id}/test", headers=bearer(env)).get_json()
    assert tested["result"] == "error" and "identity" not in tested or tested["identity"] is None
    assert api.get(f"/accounts/{account_id}", headers=bearer(env)).get_json()["status"] == "connected"


def test_tokens_never_reach_the_logs(api, env, people, logs):
    account_id = _add(api, env, "tiktok")
    assert _callback(api, _consent(api, env, account_id)).status_code == 200
    assert api.post(f"/accounts/{account_id}/test", headers=bearer(env)).get_json()["result"] == "ok"
    [tokens] = _secret_versions(env, f"tiktok-account-{account_id}")
    assert tokens["access_token"] not in logs.text and tokens["refresh_token"] not in logs.text
    assert CLIENTS["tiktok"]["client_secret"] not in logs.text
    assert any(e.get("message") == "account connected" for e in logs.entries)


def test_a_buffer_channel_has_no_consent_page_and_its_connect_says_so(api, env):
    from shared import services

    assert "buffer" in PLATFORMS and "buffer" not in SIGN_IN_PLATFORMS
    services.repository().put_account("buffer-x", {"platform": "buffer", "handle": "brand_x", "buffer_service": "twitter",
                                                   "secret_name": "buffer-config-cfg1", "platform_account_id": "64f0"})
    answer = api.post("/accounts/buffer-x/connect", json={}, headers=bearer(env))
    assert answer.status_code == 409 and "Buffer configuration's API key" in answer.get_json()["detail"]
    assert answer.get_json()["field"] == "platform"
