"""Campaigns through the content API: create, list, read, change, delete, and a campaign's posts."""

from __future__ import annotations

from tests.conftest import approve, bearer, brief, upload_video


def _create(api, env, **body):
    return api.post("/campaigns", json=body, headers=bearer(env))


def test_created_campaign_is_read_back_with_its_creator(api, env):
    answer = _create(api, env, id="Launch", name="Launch", description="Bottle launch", status="active",
                     starts_on="2025-03-01", ends_on="2025-03-31")
    assert answer.status_code == 201, answer.get_json()
    created = answer.get_json()
    assert created["id"] == "Launch" and created["created_by"] == "editor@example.com"
    assert created["starts_on"] == "2025-03-01" and created["ends_on"] == "2025-03-31"
    read = api.get("/campaigns/Launch", headers=bearer(env)).get_json()
    assert read == created


def test_campaign_without_an_id_gets_a_slug_of_its_name(api, env):
    answer = _create(api, env, name="  Spring Sale 2025! ")
    assert answer.status_code == 201
    assert answer.get_json()["id"] == "spring-sale-2025" and answer.get_json()["name"] == "Spring Sale 2025!"
    assert answer.get_json()["status"] == "planned"


def test_second_campaign_with_the_same_id_is_409_and_keeps_the_first(api, env):
    assert _create(api, env, id="Launch", name="First").status_code == 201
    answer = _create(api, env, id="Launch", name="Second")
    assert answer.status_code == 409 and answer.get_json()["field"] == "id"
    assert api.get("/campaigns/Launch", headers=bearer(env)).get_json()["name"] == "First"


def test_end_before_start_is_refused_naming_ends_on(api, env):
    answer = _create(api, env, id="Launch", name="Launch", starts_on="2025-03-10", ends_on="2025-03-01")
    assert answer.status_code == 422 and answer.get_json()["field"] == "ends_on"
    assert api.get("/campaigns/Launch", headers=bearer(env)).status_code == 404
    # A change that would put the end before the stored start is refused too, and changes nothing.
    assert _create(api, env, id="Launch", name="Launch", starts_on="2025-03-10").status_code == 201
    answer = api.patch("/campaigns/Launch", json={"ends_on": "2025-03-09", "name": "Renamed"}, headers=bearer(env))
    assert answer.status_code == 422 and answer.get_json()["field"] == "ends_on"
    assert api.get("/campaigns/Launch", headers=bearer(env)).get_json()["name"] == "Launch"


def test_bad_input_is_400_naming_the_field(api, env):
    cases = [({"name": ""}, "name"), ({"name": "x", "status": "live"}, "status"), ({"name": "x", "id": "a/b"}, "id"),
             ({"name": "x", "id": "__x__"}, "id"), ({"name": "x", "starts_on": "tomorrow"}, "starts_on"),
             ({"name": "x", "colour": "red"}, "colour")]
    for body, field in cases:
        answer = _create(api, env, **body)
        assert answer.status_code == 400, (body, answer.get_json())
        assert answer.get_json()["field"] == field, (body, answer.get_json())
    assert api.get("/campaigns/..", headers=bearer(env)).status_code in (400, 404)
    assert api.get("/campaigns/a%20b", headers=bearer(env)).status_code == 400
    assert api.get("/campaigns/nothing", headers=bearer(env)).status_code == 404


def test_list_filters_by_status_and_pages_with_a_total(api, env):
    for i in range(5):
        assert _create(api, env, id=f"c{i}", name=f"Campaign {i}", status="active" if i % 2 else "planned").status_code == 201
    page = api.get("/campaigns?limit=2&skip=1", headers=bearer(env)).get_json()
    assert [c["id"] for c in page["items"]] == ["c1", "c2"] and page["total"] == 5
    assert (page["skip"], page["limit"]) == (1, 2)
    active = api.get("/campaigns?status=active", headers=bearer(env)).get_json()
    assert [c["id"] for c in active["items"]] == ["c1", "c3"] and active["total"] == 2
    assert api.get("/campaigns?status=live", headers=bearer(env)).get_json()["field"] == "status"
    assert api.get("/campaigns?limit=101", headers=bearer(env)).status_code == 400


def test_patch_changes_only_the_fields_sent_and_null_clears(api, env):
    created = _create(api, env, id="Launch", name="Launch", description="Bottle launch", starts_on="2025-03-01").get_json()
    answer = api.patch("/campaigns/Launch", json={"status": "paused", "description": None}, headers=bearer(env))
    assert answer.status_code == 200
    changed = answer.get_json()
    assert changed["status"] == "paused" and changed["description"] is None
    assert changed["name"] == "Launch" and changed["starts_on"] == "2025-03-01"
    assert changed["created_at"] == created["created_at"] and changed["updated_at"] > created["updated_at"]
    assert api.patch("/campaigns/Launch", json={"name": None}, headers=bearer(env)).get_json()["field"] == "name"
    assert api.patch("/campaigns/nothing", json={"status": "active"}, headers=bearer(env)).status_code == 404


def test_posts_of_a_campaign_named_by_briefs_but_never_created_are_listed(api, env, draft):
    answer = api.get("/campaigns/Launch/posts", headers=bearer(env))
    assert answer.status_code == 200
    page = answer.get_json()
    assert page["total"] == 1 and page["items"][0]["content_id"] == draft.id
    assert page["items"][0]["caption"] == draft.text() and page["items"][0]["campaign"] == "Launch"
    assert api.get("/campaigns/Launch", headers=bearer(env)).status_code == 404  # no campaign record
    assert api.get("/campaigns/Other/posts", headers=bearer(env)).status_code == 404
    _create(api, env, id="Other", name="Other")
    assert api.get("/campaigns/Other/posts", headers=bearer(env)).get_json() == {"items": [], "total": 0, "skip": 0,
                                                                                "limit": 50}


def test_campaign_posts_page_in_post_id_order(api, env):
    from shared import entrypoints

    video = upload_video()
    contents = [entrypoints.generate(brief(video, topic=f"Cold drinks, take {i}")) for i in range(3)]
    ids = sorted(c.id for c in contents)
    page = api.get("/campaigns/Launch/posts?skip=1&limit=1", headers=bearer(env)).get_json()
    assert page["total"] == 3 and [p["content_id"] for p in page["items"]] == [ids[1]]


def test_delete_is_refused_while_posts_are_on_their_way(api, env, draft):
    assert _create(api, env, id="Launch", name="Launch").status_code == 201
    approve(env, draft)  # the post is queued for publishing now
    answer = api.delete("/campaigns/Launch", headers=bearer(env))
    assert answer.status_code == 409 and "queued" in answer.get_json()["detail"]
    assert api.get("/campaigns/Launch", headers=bearer(env)).status_code == 200


def test_delete_of_a_campaign_with_only_drafts_is_204(api, env, draft):
    assert _create(api, env, id="Launch", name="Launch").status_code == 201
    answer = api.delete("/campaigns/Launch", headers=bearer(env))
    assert answer.status_code == 204 and answer.data == b""
    assert api.get("/campaigns/Launch", headers=bearer(env)).status_code == 404
    assert api.delete("/campaigns/Launch", headers=bearer(env)).status_code == 404
    # Its posts still name it, so they are still listed.
    assert api.get("/campaigns/Launch/posts", headers=bearer(env)).get_json()["total"] == 1
