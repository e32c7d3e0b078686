"""The seed's social accounts under /api/v1 (endpoints 1-7), sent the seed document's example body
verbatim, against the emulators and the Buffer sandbox: a Buffer channel becomes a Buffer-routed account,
tokens go to the secret store only, and the seed's ids, lists and errors hold."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests.conftest import bearer
from tests.v1_support import V1, buffer_sandbox, seed_clock

# The seed document's example body, copied verbatim.
CREATE_ACCOUNT = """{
  "platform": "twitter",
  "account_name": "@username",
  "buffer_profile_id": "buf_123",
  "access_token": "token_123"
}"""


def _repo():
    from shared import services

    return services.repository()


def _secrets():
    from shared import services

    return services.secrets()


@pytest.fixture
def seed(api, env):
    """The Buffer sandbox knows the example's key token_123 with its twitter channel buf_123."""
    with buffer_sandbox() as sandbox, seed_clock(POSTGATE_BUFFER_BASE_URL=sandbox.base_url):
        sandbox.add_api_key("token_123", organization_name="Example Org")
        sandbox.add_channel("token_123", service="twitter", name="@username", channel_id="buf_123")
        sandbox.add_channel("token_123", service="instagram", name="example.insta", channel_id="buf_456")
        yield SimpleNamespace(api=api, env=env, sandbox=sandbox,
                              headers={**bearer(env), "Content-Type": "application/json"})


def _create(seed, body: str = CREATE_ACCOUNT):
    return seed.api.post(V1 + "/social-accounts", data=body, headers=seed.headers)


def test_the_example_account_posts_through_buffer_and_its_token_is_never_answered(seed, logs):
    created = _create(seed)
    assert created.status_code == 201, created.get_json()
    account = created.get_json()
    assert account["id"] == 1 and account["platform"] == "twitter" and account["account_name"] == "@username"
    assert account["buffer_profile_id"] == "buf_123" and account["postgate_platform"] == "buffer"
    assert account["status"] == "connected" and account["is_active"] is True and account["buffer_config_id"] == 1
    assert account["created_at"] == "2025-12-23T10:00:00"
    record = _repo().get_account(account["postgate_id"])
    assert record["platform"] == "buffer" and record["platform_account_id"] == "buf_123"
    assert record["buffer_service"] == "twitter" and record["buffer_organization_id"]
    # For a Buffer account the access token is the Buffer key: kept as a Buffer configuration's secret.
    assert record["secret_name"] == f"buffer-config-{record['buffer_config_id']}"
    assert json.loads(_secrets().access(record["secret_name"])) == {"access_token": "token_123"}
    got = seed.api.get(V1 + "/social-accounts/1", headers=seed.headers)
    assert got.status_code == 200 and got.get_json() == account
    config = seed.api.get(V1 + "/buffer/config/1", headers=seed.headers).get_json()
    assert config["social_account_ids"] == [1] and config["has_access_token"] is True
    for text in (created.get_data(as_text=True), got.get_data(as_text=True), json.dumps(config), logs.text):
        assert "token_123" not in text


def test_list_is_an_array_with_the_total_in_a_header(seed):
    assert _create(seed).status_code == 201
    direct = seed.api.post(V1 + "/social-accounts", json={"platform": "linkedin", "account_name": "Brand"},
                           headers=seed.headers)
    assert direct.status_code == 201 and direct.get_json()["status"] == "not_connected"
    page = seed.api.get(V1 + "/social-accounts?skip=0&limit=20", headers=seed.headers)
    assert page.status_code == 200 and isinstance(page.get_json(), list)
    assert page.headers["X-Total-Count"] == "3"  # the TikTok account every test registers too
    numbers = {a["postgate_id"]: a["id"] for a in page.get_json()}
    assert numbers[created_id(seed)] == 1 and len(set(numbers.values())) == 3
    assert len(seed.api.get(V1 + "/social-accounts?limit=1", headers=seed.headers).get_json()) == 1
    assert seed.api.get(V1 + "/social-accounts?limit=0", headers=seed.headers).status_code == 400


def created_id(seed) -> str:
    return seed.api.get(V1 + "/social-accounts/1", headers=seed.headers).get_json()["postgate_id"]


def test_a_direct_account_keeps_its_token_in_its_own_secret(seed, logs):
    made = seed.api.post(V1 + "/social-accounts", json={"platform": "twitter", "account_name": "@direct",
                                                         "access_token": "direct-token-123"}, headers=seed.headers)
    assert made.status_code == 201, made.get_json()
    account = made.get_json()
    assert account["postgate_platform"] == "x" and account["platform"] == "twitter" and account["status"] == "connected"
    assert account["buffer_profile_id"] is None and account["buffer_config_id"] is None
    secret = _repo().get_account(account["postgate_id"])["secret_name"]
    assert secret == f"x-account-{account['postgate_id']}"
    assert json.loads(_secrets().access(secret)) == {"access_token": "direct-token-123"}
    assert "direct-token-123" not in made.get_data(as_text=True) and "direct-token-123" not in logs.text


def test_refusals_name_the_field(seed):
    assert seed.api.get(V1 + "/social-accounts/9", headers=seed.headers).status_code == 404
    assert seed.api.get(V1 + "/social-accounts/nobody", headers=seed.headers).status_code == 404
    facebook = seed.api.post(V1 + "/social-accounts", json={"platform": "facebook", "account_name": "Brand"},
                             headers=seed.headers)
    assert facebook.status_code == 400 and facebook.get_json()["field"] == "platform"
    wrong_network = _create(seed, CREATE_ACCOUNT.replace("buf_123", "buf_456"))
    assert wrong_network.status_code == 400 and wrong_network.get_json()["field"] == "platform"
    no_channel = _create(seed, CREATE_ACCOUNT.replace("buf_123", "buf_999"))
    assert no_channel.status_code == 400 and no_channel.get_json()["field"] == "buffer_profile_id"
    refused_key = _create(seed, CREATE_ACCOUNT.replace("token_123", "token_999"))
    assert refused_key.status_code == 400 and refused_key.get_json()["field"] == "access_token"
    assert "token_999" not in refused_key.get_data(as_text=True)
    assert _create(seed).status_code == 201
    twice = _create(seed)
    assert twice.status_code == 409 and twice.get_json()["field"] == "buffer_profile_id"
    extra = seed.api.post(V1 + "/social-accounts", json={"platform": "x", "account_name": "a", "secret_name": "s"},
                          headers=seed.headers)
    assert extra.status_code == 400 and extra.get_json()["field"] == "secret_name"


def test_update_and_delete(seed):
    assert _create(seed).status_code == 201
    renamed = seed.api.put(V1 + "/social-accounts/1", json={"account_name": "@renamed"}, headers=seed.headers)
    assert renamed.status_code == 200 and renamed.get_json()["account_name"] == "@renamed"
    moved = seed.api.put(V1 + "/social-accounts/1", json={"platform": "instagram"}, headers=seed.headers)
    assert moved.status_code == 400 and moved.get_json()["field"] == "platform"
    postgate_id = renamed.get_json()["postgate_id"]
    deleted = seed.api.delete(V1 + "/social-accounts/1", headers=seed.headers)
    assert deleted.status_code == 200
    assert deleted.get_json() == {"id": 1, "postgate_id": postgate_id, "deleted": True, "cancelled_post_ids": []}
    assert seed.api.get(V1 + "/social-accounts/1", headers=seed.headers).status_code == 404
    assert _repo().get_account(postgate_id) is None


def test_connection_test_and_sync_ask_buffer_for_the_channel(seed):
    account = _create(seed).get_json()
    tested = seed.api.post(V1 + "/social-accounts/1/test-connection", headers=seed.headers)
    assert tested.status_code == 200, tested.get_json()
    assert tested.get_json()["result"] == "ok" and tested.get_json()["identity"]["platform_account_id"] == "buf_123"
    seed.sandbox.disconnect_channel("buf_123")
    synced = seed.api.post(V1 + "/social-accounts/1/sync-buffer", headers=seed.headers)
    assert synced.status_code == 200, synced.get_json()
    assert synced.get_json()["is_disconnected"] is True and synced.get_json()["channel_name"] == "@username"
    assert synced.get_json()["account"]["status"] == "needs_reconnect"
    # A key Buffer no longer takes: the account needs reconnecting, and the answer says so.
    record = _repo().get_account(account["postgate_id"])
    _secrets().add_version(record["secret_name"], json.dumps({"access_token": "revoked-key-000"}))
    refused = seed.api.post(V1 + "/social-accounts/1/sync-buffer", headers=seed.headers)
    assert refused.status_code == 503 and "needs reconnecting" in refused.get_json()["detail"]
    assert _repo().get_account(account["postgate_id"])["status"] == "needs_reconnect"
    direct = seed.api.post(V1 + "/social-accounts", json={"platform": "youtube", "account_name": "Brand"},
                           headers=seed.headers).get_json()
    not_buffer = seed.api.post(f"{V1}/social-accounts/{direct['id']}/sync-buffer", headers=seed.headers)
    assert not_buffer.status_code == 409
