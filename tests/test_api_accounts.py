"""Accounts through the API: create, read, list, change, and the delete guard."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.conftest import ACCOUNT, approve, bearer, brief, upload_video

EDITOR = "editor@example.com"


def _create(api, env, account_id="x-brand", platform="x", **fields):
    body = {"id": account_id, "platform": platform, "handle": fields.pop("handle", "brand"), **fields}
    return api.post("/accounts", json=body, headers=bearer(env))


def test_created_account_is_not_connected_and_names_no_secret(api, env):
    response = _create(api, env, limits=[{"name": "posts_per_day", "max_count": 5, "window_seconds": 86400}])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["id"] == "x-brand" and body["platform"] == "x" and body["status"] == "not_connected"
    assert body["limits"] == [{"name": "posts_per_day", "max_count": 5, "window_seconds": 86400}] and body["limits_custom"]
    assert "secret_name" not in body and "access_token" not in json.dumps(body)
    from shared import services

    assert services.repository().get_account("x-brand")["secret_name"] == "x-account-x-brand"


def test_creating_an_existing_id_conflicts(api, env):
    assert _create(api, env).status_code == 201
    again = _create(api, env, handle="other")
    assert again.status_code == 409 and again.get_json()["field"] == "id"


def test_bad_platform_limits_and_ids_are_refused_naming_the_field(api, env):
    bad_platform = _create(api, env, platform="myspace")
    assert bad_platform.status_code == 400 and bad_platform.get_json()["field"] == "platform"
    bad_limit = _create(api, env, limits=[{"name": "posts_per_day", "max_count": 0, "window_seconds": 60}])
    assert bad_limit.status_code == 400 and bad_limit.get_json()["field"] == "limits[0].max_count"
    bad_id = _create(api, env, account_id="has/slash")
    assert bad_id.status_code == 400 and bad_id.get_json()["field"] == "id"
    secret_name = _create(api, env, secret_name="x-account-other")  # derived, never supplied
    assert secret_name.status_code == 400 and secret_name.get_json()["field"] == "secret_name"


def test_list_filters_by_platform_and_paginates_with_a_total(api, env):
    for i in range(3):
        assert _create(api, env, account_id=f"x-{i}").status_code == 201
    assert _create(api, env, account_id="yt-1", platform="youtube").status_code == 201
    page = api.get("/accounts?platform=x&limit=2", headers=bearer(env)).get_json()
    assert page["total"] == 3 and [a["id"] for a in page["items"]] == ["x-0", "x-1"]
    rest = api.get("/accounts?platform=x&skip=2&limit=2", headers=bearer(env)).get_json()
    assert [a["id"] for a in rest["items"]] == ["x-2"]
    everything = api.get("/accounts", headers=bearer(env)).get_json()
    assert everything["total"] == 5  # the TikTok account registered for every test too
    hand_made = next(a for a in everything["items"] if a["id"] == ACCOUNT)
    assert hand_made["status"] == "connected" and hand_made["limits"][0]["name"] == "posts_per_day"


def test_unknown_account_is_404(api, env):
    response = api.get("/accounts/nobody", headers=bearer(env))
    assert response.status_code == 404 and "nobody" in response.get_json()["detail"]


def test_patch_changes_handle_and_limits_and_empty_limits_restore_the_defaults(api, env):
    assert _create(api, env).status_code == 201
    changed = api.patch("/accounts/x-brand", json={"handle": "brand_new", "limits": [
        {"name": "posts_per_hour", "max_count": 3, "window_seconds": 3600}]}, headers=bearer(env))
    assert changed.status_code == 200
    assert changed.get_json()["handle"] == "brand_new" and changed.get_json()["limits"][0]["name"] == "posts_per_hour"
    duplicate = api.patch("/accounts/x-brand", json={"limits": [{"name": "a", "max_count": 1, "window_seconds": 60}] * 2},
                          headers=bearer(env))
    assert duplicate.status_code == 400 and duplicate.get_json()["field"] == "limits"
    restored = api.patch("/accounts/x-brand", json={"limits": []}, headers=bearer(env)).get_json()
    assert restored["limits_custom"] is False and restored["limits"][0]["name"] == "posts_per_15_minutes"
    assert api.patch("/accounts/nobody", json={"handle": "h"}, headers=bearer(env)).status_code == 404


def test_deleting_an_account_without_posts_leaves_its_secret_for_the_operator(api, env):
    from shared import services

    assert _create(api, env).status_code == 201
    services.secrets().add_version("x-account-x-brand", json.dumps({"access_token": "tok"}))
    assert api.delete("/accounts/x-brand", headers=bearer(env)).status_code == 204
    assert api.get("/accounts/x-brand", headers=bearer(env)).status_code == 404
    assert json.loads(services.secrets().access("x-account-x-brand"))["access_token"] == "tok"


def _scheduled_posts(env) -> list:
    from shared import entrypoints
    from shared.runtime.clock import utcnow

    content = entrypoints.generate(brief(upload_video(), publish_at=(utcnow() + timedelta(hours=2)).isoformat()))
    approve(env, content)
    from shared import services

    posts = services.repository().posts_for_content(content.id)
    assert [p.status for p in posts] == ["scheduled"]
    return posts


def test_delete_is_refused_while_posts_are_scheduled_and_force_cancels_them(api, env):
    from shared import services

    [post] = _scheduled_posts(env)
    refused = api.delete(f"/accounts/{ACCOUNT}", headers=bearer(env))
    assert refused.status_code == 409 and post.id in refused.get_json()["detail"]
    assert services.repository().get_account(ACCOUNT) is not None
    assert services.repository().get_post(post.id).status == "scheduled"

    forced = api.delete(f"/accounts/{ACCOUNT}?force=true", headers=bearer(env))
    assert forced.status_code == 204
    after = services.repository().get_post(post.id)
    assert after.status == "cancelled"
    assert after.history[-1].reason == f"account {ACCOUNT} deleted by {EDITOR}"
    assert services.repository().get_account(ACCOUNT) is None


def test_forced_delete_still_refuses_while_a_publisher_holds_a_post(api, env):
    from shared import services
    from shared.stores.posts import claim_for_publishing

    [post] = _scheduled_posts(env)
    repo = services.repository()
    repo.move_post(post.id, {"scheduled"}, "queued")
    assert claim_for_publishing(repo, post.id, lease_seconds=600).claimed
    refused = api.delete(f"/accounts/{ACCOUNT}?force=true", headers=bearer(env))
    assert refused.status_code == 409 and "publisher" in refused.get_json()["detail"]
    assert repo.get_post(post.id).status == "publishing" and repo.get_account(ACCOUNT) is not None
