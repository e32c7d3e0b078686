"""The seed's post analytics under /api/v1 (endpoints 18-23), each sent the seed document's own example
body verbatim, against the emulators: a record is a manual snapshot (engagement_rate a percent here, a
fraction in BigQuery), audited with who recorded, changed and deleted it, counted in campaign numbers;
sync starts a pull now through the path the hourly pull takes."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from tests.conftest import ACCOUNT, PROJECT, bearer, drain_messages
from tests.v1_support import V1, number_of, seed_clock

# The seed document's example body, copied verbatim.
RECORD = """{
  "post_id": 1,
  "views": 1000,
  "likes": 50,
  "shares": 10,
  "comments": 5,
  "engagement_rate": 6.5
}"""
CAMPAIGN = "summer-campaign-2025"
APPROVER = ("approver",)


def _published(post_id: str, published_at: datetime = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)) -> None:
    from infra.local.bench import published_post_doc, write_posts
    from shared import services

    doc = published_post_doc(post_id=post_id, account_id=ACCOUNT, platform="tiktok",
                             platform_ids={"publish_id": f"pub-{post_id}", "video_id": f"v-{post_id}"},
                             published_at=published_at, campaign=CAMPAIGN)
    write_posts(services.repository().db, [doc])


@pytest.fixture
def seed(api, env):
    """Post 1 and post 2 are published posts of the TikTok account; the clock is the seed's example moment."""
    with seed_clock():
        _published("post-one")
        _published("post-two")
        assert number_of("post", "post-one") == 1 and number_of("post", "post-two") == 2
        yield SimpleNamespace(api=api, env=env, headers={**bearer(env), "Content-Type": "application/json"})


def _as(seed, user: str, roles: tuple[str, ...]) -> dict:
    return {**bearer(seed.env, user=user, roles=roles), "Content-Type": "application/json"}


def _record(seed, body: str = RECORD, headers: dict | None = None):
    return seed.api.post(V1 + "/analytics", data=body, headers=headers or seed.headers)


def _rows() -> list[dict]:
    from shared import services

    sql = f"SELECT * FROM `{PROJECT}.postgate.post_metrics` ORDER BY post_id"
    return [dict(r) for r in services.bigquery().query(sql).result()]


# -- 18. record ---------------------------------------------------------------------------------------

def test_recorded_analytics_are_a_manual_snapshot_with_the_rate_as_a_percent(seed):
    answer = _record(seed)
    assert answer.status_code == 201, answer.get_json()
    made = answer.get_json()
    assert (made["id"], made["post_id"], made["postgate_id"][:3]) == (1, 1, "mm-")
    assert (made["views"], made["likes"], made["shares"], made["comments"]) == (1000, 50, 10, 5)
    assert made["engagement_rate"] == 6.5 and made["source"] == "manual"
    assert made["recorded_by"] == made["updated_by"] == "editor@example.com"
    assert made["created_at"] == made["measured_at"] == "2025-12-23T10:00:00" and made["in_campaign_numbers"]
    [row] = _rows()
    assert (row["post_id"], row["source"], row["views"], row["campaign"]) == ("post-one", "manual", 1000, CAMPAIGN)
    assert row["engagement_rate"] == 0.065  # a fraction, as every pulled row has it


def test_recording_is_refused_naming_the_field_and_stores_nothing(seed):
    cases = [
        (RECORD.replace('"post_id": 1', '"post_id": 99'), 404, "post_id"),
        (RECORD.replace('"post_id": 1', '"post_id": "no-such-post"'), 404, "post_id"),
        (RECORD.replace('"views": 1000', '"views": -1000'), 400, "views"),
        (RECORD.replace('"engagement_rate": 6.5', '"engagement_rate": 0.065'), 400, "engagement_rate"),  # a fraction
        (RECORD.replace('"engagement_rate": 6.5', '"engagement_rate": 7.5'), 400, "engagement_rate"),
        (RECORD.replace('"likes": 50', '"likes": "fifty"'), 400, "likes"),
        (RECORD.replace('"comments": 5', '"comments": 5, "clicks": 9'), 400, "clicks"),
    ]
    for body, status, field in cases:
        answer = _record(seed, body)
        assert (answer.status_code, answer.get_json().get("field")) == (status, field), (body, answer.get_json())
    assert "6.5 %" in _record(seed, RECORD.replace('"engagement_rate": 6.5', '"engagement_rate": 7.5')
                              ).get_json()["detail"]
    assert _record(seed, headers=_as(seed, "nobody@example.com", ())).status_code == 403
    assert seed.api.get(V1 + "/analytics", headers=seed.headers).get_json() == [] and _rows() == []


# -- 19. get ------------------------------------------------------------------------------------------

def test_a_record_is_read_by_its_number_or_its_postgate_id(seed):
    made = _record(seed).get_json()
    assert seed.api.get(V1 + "/analytics/1", headers=seed.headers).get_json() == made
    assert seed.api.get(V1 + f"/analytics/{made['postgate_id']}", headers=seed.headers).get_json() == made
    assert seed.api.get(V1 + "/analytics/7", headers=seed.headers).status_code == 404


# -- 20. list -----------------------------------------------------------------------------------------

def test_the_list_pages_with_skip_and_limit_and_filters_by_post(seed):
    _record(seed)
    _record(seed, RECORD.replace('"post_id": 1', '"post_id": 2'))
    _record(seed, RECORD.replace('"views": 1000', '"views": 2000').replace('"engagement_rate": 6.5', '"engagement_rate": 3.25'))
    first = seed.api.get(V1 + "/analytics?skip=0&limit=2", headers=seed.headers)
    rest = seed.api.get(V1 + "/analytics?skip=2&limit=2", headers=seed.headers)
    assert first.status_code == rest.status_code == 200 and first.headers["X-Total-Count"] == "3"
    assert len(first.get_json()) == 2 and sorted(a["id"] for a in first.get_json() + rest.get_json()) == [1, 2, 3]
    of_one = seed.api.get(V1 + "/analytics?post_id=1", headers=seed.headers)
    assert sorted(a["views"] for a in of_one.get_json()) == [1000, 2000] and of_one.headers["X-Total-Count"] == "2"
    assert seed.api.get(V1 + "/analytics?limit=101", headers=seed.headers).get_json()["field"] == "limit"


# -- 21. update ---------------------------------------------------------------------------------------

def test_an_update_is_audited_with_who_changed_what(seed):
    _record(seed)
    body = RECORD.replace('"views": 1000', '"views": 2000').replace('"engagement_rate": 6.5', '"engagement_rate": 3.25')
    answer = seed.api.put(V1 + "/analytics/1", data=body, headers=_as(seed, "lead@example.com", APPROVER))
    assert answer.status_code == 200, answer.get_json()
    changed = answer.get_json()
    assert (changed["views"], changed["engagement_rate"], changed["revision"]) == (2000, 3.25, 2)
    assert changed["recorded_by"] == "editor@example.com" and changed["updated_by"] == "lead@example.com"
    assert [r["views"] for r in _rows()] == [2000]
    moved = seed.api.put(V1 + "/analytics/1", data='{"post_id": 2}', headers=seed.headers)
    assert moved.status_code == 400 and moved.get_json()["field"] == "post_id"
    wrong = seed.api.put(V1 + "/analytics/1", data='{"likes": 10, "engagement_rate": 6.5}', headers=seed.headers)
    assert wrong.status_code == 400 and wrong.get_json()["field"] == "engagement_rate"
    trail = seed.api.get(f"/analytics/manual/{changed['postgate_id']}/audit", headers=seed.headers).get_json()
    assert [(e["action"], e["by"]) for e in trail["entries"]] == [("recorded", "editor@example.com"),
                                                                  ("changed", "lead@example.com")]
    assert (trail["entries"][1]["before"]["views"], trail["entries"][1]["after"]["views"]) == (1000, 2000)


# -- 22. delete ---------------------------------------------------------------------------------------

def test_a_deleted_record_leaves_the_numbers_and_keeps_its_audit_trail(seed):
    made = _record(seed).get_json()
    answer = seed.api.delete(V1 + "/analytics/1", headers=_as(seed, "other@example.com", ("editor",)))
    assert answer.status_code == 200 and answer.get_json() == {"id": 1, "postgate_id": made["postgate_id"],
                                                              "deleted": True}
    assert _rows() == []
    again = seed.api.get(V1 + "/analytics/1", headers=seed.headers)
    assert again.status_code == 404 and "deleted by other@example.com" in again.get_json()["detail"]
    assert seed.api.delete(V1 + "/analytics/1", headers=seed.headers).status_code == 404
    trail = seed.api.get(f"/analytics/manual/{made['postgate_id']}/audit", headers=seed.headers).get_json()
    assert [(e["action"], e["by"]) for e in trail["entries"]][-1] == ("deleted", "other@example.com")


# -- 23. sync -----------------------------------------------------------------------------------------

def test_sync_starts_a_pull_of_every_post_or_of_one(seed):
    drain_messages("analytics-pull")
    drain_messages("analytics-fetch")
    answer = seed.api.post(V1 + "/analytics/sync", headers=bearer(seed.env))  # as the seed documents it: no body
    assert answer.status_code == 202, answer.get_json()
    started = answer.get_json()
    assert started["scope"] == "all" and started["started_at"] == "2025-12-23T10:00:00"
    assert [m["sync_run_id"] for m in drain_messages("analytics-pull")] == [started["run_id"]]

    one = seed.api.post(V1 + "/analytics/sync", data='{"post_id": 2}', headers=seed.headers)
    assert one.status_code == 202 and (one.get_json()["scope"], one.get_json()["post_id"]) == ("post", 2)
    [work] = drain_messages("analytics-fetch")
    assert work["post_ids"] == ["post-two"] and work["run_id"] == one.get_json()["run_id"]
    assert seed.api.post(V1 + "/analytics/sync", data='{"post_id": 99}', headers=seed.headers).status_code == 404
