"""The seed's Buffer configuration and profiles under /api/v1 (endpoints 31-35), sent the seed document's
example body verbatim, against the emulators and the Buffer sandbox: the key is checked with Buffer,
kept only in the secret store, never answered or logged."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests.conftest import bearer
from tests.v1_support import V1, buffer_sandbox, seed_clock

# The seed document's example body, copied verbatim.
CREATE_CONFIG = """{
  "access_token": "your-buffer-access-token"
}"""
KEY = "your-buffer-access-token"


@pytest.fixture
def buffer(api, env):
    with buffer_sandbox() as sandbox, seed_clock(POSTGATE_BUFFER_BASE_URL=sandbox.base_url):
        sandbox.org = sandbox.add_api_key(KEY, organization_name="Brand Co")
        sandbox.insta = sandbox.add_channel(KEY, service="instagram", name="brand.insta")
        sandbox.tweets = sandbox.add_channel(KEY, service="twitter", name="@brand")
        yield SimpleNamespace(api=api, env=env, sandbox=sandbox,
                              headers={**bearer(env), "Content-Type": "application/json"})


def _secrets():
    from shared import services

    return services.secrets()


def test_create_get_update_delete_a_configuration_never_answering_the_key(buffer, logs):
    created = buffer.api.post(V1 + "/buffer/config", data=CREATE_CONFIG, headers=buffer.headers)
    assert created.status_code == 201, created.get_json()
    config = created.get_json()
    assert config["id"] == 1 and config["has_access_token"] is True and config["social_account_ids"] == []
    assert config["organizations"] == [{"id": buffer.sandbox.org, "name": "Brand Co"}]
    assert config["created_at"] == "2025-12-23T10:00:00"
    secret = f"buffer-config-{config['postgate_id']}"
    assert json.loads(_secrets().access(secret)) == {"access_token": KEY}
    got = buffer.api.get(V1 + "/buffer/config/1", headers=buffer.headers)
    assert got.status_code == 200 and got.get_json() == config
    listed = buffer.api.get(V1 + "/buffer/config", headers=buffer.headers)
    assert [c["id"] for c in listed.get_json()] == [1] and listed.headers["X-Total-Count"] == "1"
    again = buffer.api.post(V1 + "/buffer/config", data=CREATE_CONFIG, headers=buffer.headers)
    assert again.status_code == 409 and again.get_json()["field"] == "access_token"

    buffer.sandbox.add_api_key("a-newer-buffer-key", organization_name="Brand Co 2")
    updated = buffer.api.put(V1 + "/buffer/config/1", json={"access_token": "a-newer-buffer-key"}, headers=buffer.headers)
    assert updated.status_code == 200 and updated.get_json()["organizations"][0]["name"] == "Brand Co 2"
    assert json.loads(_secrets().access(secret)) == {"access_token": "a-newer-buffer-key"}

    deleted = buffer.api.delete(V1 + "/buffer/config/1", headers=buffer.headers)
    assert deleted.status_code == 200 and deleted.get_json() == {"id": 1, "postgate_id": config["postgate_id"],
                                                                 "deleted": True}
    assert buffer.api.get(V1 + "/buffer/config/1", headers=buffer.headers).status_code == 404
    everything = created.get_data(as_text=True) + got.get_data(as_text=True) + updated.get_data(as_text=True)
    for key in (KEY, "a-newer-buffer-key"):
        assert key not in everything and key not in logs.text


def test_a_key_buffer_refuses_is_400_and_nothing_is_stored(buffer):
    refused = buffer.api.post(V1 + "/buffer/config", json={"access_token": "not-a-buffer-key"}, headers=buffer.headers)
    assert refused.status_code == 400 and refused.get_json()["field"] == "access_token"
    assert "not-a-buffer-key" not in refused.get_data(as_text=True)
    assert buffer.api.get(V1 + "/buffer/config", headers=buffer.headers).get_json() == []


def test_buffer_down_is_503(buffer):
    buffer.sandbox.inject("account", "server_error", count=5)
    down = buffer.api.post(V1 + "/buffer/config", data=CREATE_CONFIG, headers=buffer.headers)
    assert down.status_code == 503 and "Buffer" in down.get_json()["detail"]


def test_profiles_list_every_channel_marked_with_its_linked_account(buffer):
    assert buffer.api.post(V1 + "/buffer/config", data=CREATE_CONFIG, headers=buffer.headers).status_code == 201
    linked = buffer.api.post(V1 + "/social-accounts", json={"platform": "twitter", "account_name": "@brand",
                                                            "buffer_profile_id": buffer.sandbox.tweets},
                             headers=buffer.headers)
    assert linked.status_code == 201, linked.get_json()
    profiles = buffer.api.get(V1 + "/buffer/profiles", headers=buffer.headers)
    assert profiles.status_code == 200 and profiles.headers["X-Total-Count"] == "2"
    by_id = {p["id"]: p for p in profiles.get_json()}
    assert by_id[buffer.sandbox.tweets]["social_account_id"] == linked.get_json()["id"]
    assert by_id[buffer.sandbox.tweets]["service"] == "twitter" and by_id[buffer.sandbox.tweets]["buffer_config_id"] == 1
    assert by_id[buffer.sandbox.insta]["social_account_id"] is None and by_id[buffer.sandbox.insta]["name"] == "brand.insta"
    page = buffer.api.get(V1 + "/buffer/profiles?skip=1&limit=1", headers=buffer.headers)
    assert len(page.get_json()) == 1 and page.headers["X-Total-Count"] == "2"
    # A configuration its accounts still use is not deleted: they would fail when due.
    used = buffer.api.delete(V1 + "/buffer/config/1", headers=buffer.headers)
    assert used.status_code == 409 and linked.get_json()["postgate_id"] in used.get_json()["detail"]


def test_an_editor_is_needed_and_a_token_is_asked_for(buffer):
    anonymous = buffer.api.get(V1 + "/buffer/profiles")
    assert anonymous.status_code == 401
    approver_only = buffer.api.post(V1 + "/buffer/config", data=CREATE_CONFIG,
                                    headers={**bearer(buffer.env, roles=()), "Content-Type": "application/json"})
    assert approver_only.status_code == 403


def test_the_configurations_plan_sets_its_accounts_caps_and_a_plan_change_reaches_them(buffer):
    from shared import services
    from shared.platforms.registry import default_limits

    created = buffer.api.post(V1 + "/buffer/config", json={"access_token": KEY, "plan": "team"}, headers=buffer.headers)
    assert created.status_code == 201 and created.get_json()["plan"] == "team"
    linked = buffer.api.post(V1 + "/social-accounts", json={"platform": "twitter", "account_name": "@brand",
                                                            "buffer_profile_id": buffer.sandbox.tweets},
                             headers=buffer.headers)
    assert linked.status_code == 201, linked.get_json()
    account_id = linked.get_json()["postgate_id"]

    def daily_cap() -> int:
        account = services.repository().get_account(account_id)
        return {limit.name: limit.max_count for limit in default_limits(account)}["posts_per_day"]

    assert daily_cap() == 500 // 4  # Team: 500 requests a day, about 4 requests a post
    changed = buffer.api.put(V1 + "/buffer/config/1", json={"plan": "essentials"}, headers=buffer.headers)
    assert changed.status_code == 200 and changed.get_json()["plan"] == "essentials"
    assert daily_cap() == 250 // 4
    assert buffer.api.put(V1 + "/buffer/config/1", json={"plan": "gold"},
                          headers=buffer.headers).get_json()["field"] == "plan"
    assert buffer.api.put(V1 + "/buffer/config/1", json={}, headers=buffer.headers).status_code == 400
