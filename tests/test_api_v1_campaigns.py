"""The seed's campaigns under /api/v1 (endpoints 24-30), each sent the seed document's own example body
verbatim, against the emulators: our campaign statuses (the seed's three among them), the seed's
dates, integer ids and pagination, the campaign's numbers summed over its posts with manually recorded
snapshots counted beside the pulled ones, and its posts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from tests.conftest import ACCOUNT, PROJECT, bearer, register_account
from tests.v1_support import V1, number_of, seed_clock

# The seed document's example body, copied verbatim.
CREATE = """{
  "name": "Summer Campaign 2025",
  "description": "Summer promotion",
  "start_date": "2025-06-01",
  "end_date": "2025-08-31",
  "status": "active"
}"""
CAMPAIGN = "summer-campaign-2025"


@pytest.fixture
def seed(api, env):
    with seed_clock():
        yield SimpleNamespace(api=api, env=env, headers={**bearer(env), "Content-Type": "application/json"})


def _create(seed, body: str = CREATE, headers: dict | None = None):
    return seed.api.post(V1 + "/campaigns", data=body, headers=headers or seed.headers)


def _published(post_id: str, *, platform: str = "tiktok", account: str = ACCOUNT, status: str = "published") -> None:
    from infra.local.bench import published_post_doc, write_posts
    from shared import services

    doc = published_post_doc(post_id=post_id, account_id=account, platform=platform,
                             platform_ids={"video_id": f"v-{post_id}"},
                             published_at=datetime(2025, 6, 2, 9, 0, tzinfo=UTC), campaign=CAMPAIGN)
    doc["status"] = status
    write_posts(services.repository().db, [doc])


def _pulled(post_id: str, views: int, likes: int, at: datetime) -> None:
    from shared import services
    from shared.analytics.writer import metrics_row, write_rows
    from shared.model.analytics import PlatformMetrics

    post = services.repository().get_post(post_id)
    metrics = PlatformMetrics(platform_post_id=f"v-{post_id}", views=views, likes=likes)
    write_rows(services.bigquery(), PROJECT, [metrics_row(post, metrics.platform_post_id, metrics,
                                                          run_id=f"run-{at:%m%d}", fetched_at=at)],
               at - timedelta(days=1))


# -- 24. create ---------------------------------------------------------------------------------------

def test_a_campaign_is_created_from_the_seeds_example_body(seed):
    answer = _create(seed)
    assert answer.status_code == 201, answer.get_json()
    made = answer.get_json()
    assert (made["id"], made["postgate_id"], made["name"]) == (1, CAMPAIGN, "Summer Campaign 2025")
    assert (made["description"], made["start_date"], made["end_date"]) == ("Summer promotion", "2025-06-01", "2025-08-31")
    assert made["status"] == "active" and made["created_by"] == "editor@example.com"
    assert made["created_at"] == made["updated_at"] == "2025-12-23T10:00:00"
    # The same campaign through our own API: one record, one rule.
    ours = seed.api.get(f"/campaigns/{CAMPAIGN}", headers=seed.headers).get_json()
    assert (ours["status"], ours["starts_on"], ours["ends_on"]) == ("active", "2025-06-01", "2025-08-31")


def test_creating_is_refused_naming_the_field(seed):
    assert _create(seed).status_code == 201
    again = _create(seed)
    assert again.status_code == 409 and again.get_json()["field"] == "name"
    cases = [(CREATE.replace('"2025-08-31"', '"2025-05-31"').replace("Summer Campaign", "Winter Campaign"), "end_date"),
             (CREATE.replace('"active"', '"live"'), "status"),
             (CREATE.replace('"2025-06-01"', '"June 1st"'), "start_date"),
             (CREATE.replace('"Summer Campaign 2025"', '""'), "name"),
             (CREATE.replace('"Summer Campaign 2025"', '"!!!"'), "name")]
    for body, field in cases:
        answer = _create(seed, body)
        assert (answer.status_code, answer.get_json().get("field")) == (400, field), (body, answer.get_json())
    no_role = _create(seed, CREATE.replace("Summer", "Autumn"), {**bearer(seed.env, roles=()),
                                                                 "Content-Type": "application/json"})
    assert no_role.status_code == 403
    assert seed.api.get(V1 + "/campaigns", headers=seed.headers).headers["X-Total-Count"] == "1"


# -- 25. get ------------------------------------------------------------------------------------------

def test_a_campaign_is_read_by_its_number_or_its_postgate_id(seed):
    made = _create(seed).get_json()
    assert seed.api.get(V1 + "/campaigns/1", headers=seed.headers).get_json() == made
    assert seed.api.get(V1 + f"/campaigns/{CAMPAIGN}", headers=seed.headers).get_json() == made
    assert seed.api.get(V1 + "/campaigns/2", headers=seed.headers).status_code == 404
    assert seed.api.get(V1 + "/campaigns/nothing", headers=seed.headers).status_code == 404


# -- 26. list -----------------------------------------------------------------------------------------

def test_the_list_filters_by_the_seeds_statuses_and_pages(seed):
    _create(seed)
    _create(seed, CREATE.replace("Summer", "Spring").replace('"active"', '"paused"'))
    _create(seed, CREATE.replace("Summer", "Winter").replace('"active"', '"completed"'))
    for status, names in (("active", ["Summer Campaign 2025"]), ("paused", ["Spring Campaign 2025"]),
                          ("completed", ["Winter Campaign 2025"])):
        listed = seed.api.get(V1 + f"/campaigns?status={status}", headers=seed.headers)
        assert [c["name"] for c in listed.get_json()] == names and listed.headers["X-Total-Count"] == "1"
    page = seed.api.get(V1 + "/campaigns?skip=1&limit=1", headers=seed.headers)
    assert page.headers["X-Total-Count"] == "3" and [c["postgate_id"] for c in page.get_json()] == [
        "summer-campaign-2025"]  # id order: spring, summer, winter
    assert seed.api.get(V1 + "/campaigns?status=live", headers=seed.headers).get_json()["field"] == "status"


# -- 27. update ---------------------------------------------------------------------------------------

def test_an_update_changes_what_is_sent_and_keeps_the_dates_in_order(seed):
    _create(seed)
    answer = seed.api.put(V1 + "/campaigns/1", data='{"status": "paused", "description": "Extended"}',
                          headers=seed.headers)
    assert answer.status_code == 200, answer.get_json()
    changed = answer.get_json()
    assert (changed["status"], changed["description"], changed["end_date"]) == ("paused", "Extended", "2025-08-31")
    whole = seed.api.put(V1 + "/campaigns/1", data=CREATE, headers=seed.headers)
    assert whole.status_code == 200 and whole.get_json()["status"] == "active"
    bad = seed.api.put(V1 + "/campaigns/1", data='{"end_date": "2025-05-01"}', headers=seed.headers)
    assert bad.status_code == 400 and bad.get_json()["field"] == "end_date" and "start_date" in bad.get_json()["detail"]
    assert seed.api.put(V1 + "/campaigns/1", data='{"name": null}', headers=seed.headers).get_json()["field"] == "name"
    assert seed.api.put(V1 + "/campaigns/9", data='{"status": "paused"}', headers=seed.headers).status_code == 404


# -- 28. delete ---------------------------------------------------------------------------------------

def test_a_campaign_with_posts_on_their_way_is_not_deleted(seed):
    _create(seed)
    _published("on-its-way", status="scheduled")
    busy = seed.api.delete(V1 + "/campaigns/1", headers=seed.headers)
    assert busy.status_code == 409 and "on-its-way" in busy.get_json()["detail"]
    from shared import services

    services.repository().db.collection("posts").document("on-its-way").delete()
    answer = seed.api.delete(V1 + "/campaigns/1", headers=seed.headers)
    assert answer.status_code == 200 and answer.get_json() == {"id": 1, "postgate_id": CAMPAIGN, "deleted": True}
    assert seed.api.get(V1 + "/campaigns/1", headers=seed.headers).status_code == 404


# -- 29. analytics ------------------------------------------------------------------------------------

def test_campaign_analytics_sum_every_post_pulled_and_manual_alike(seed):
    register_account("x-brand", "x", {"access_token": "x-token-123456"}, platform_account_id="42", handle="brand")
    _create(seed)
    _published("tt-1")
    _published("x-1", platform="x", account="x-brand")
    _published("event-1")  # numbers from a stand at an event: typed in by hand
    _pulled("tt-1", 1000, 80, datetime(2025, 7, 1, 12, tzinfo=UTC))
    _pulled("tt-1", 1500, 100, datetime(2025, 7, 20, 12, tzinfo=UTC))  # its last snapshot in the range counts
    _pulled("x-1", 500, 20, datetime(2025, 7, 2, 12, tzinfo=UTC))
    _pulled("x-1", 9000, 900, datetime(2025, 9, 15, 12, tzinfo=UTC))  # after the campaign's end_date
    post = number_of("post", "event-1")
    recorded = seed.api.post(V1 + "/analytics", headers=seed.headers, data=(
        '{"post_id": %d, "views": 400, "likes": 30, "shares": 5, "comments": 5, "engagement_rate": 10,'
        ' "measured_at": "2025-07-15T18:00:00"}' % post))
    assert recorded.status_code == 201, recorded.get_json()

    answer = seed.api.get(V1 + "/campaigns/1/analytics", headers=seed.headers)
    assert answer.status_code == 200, answer.get_json()
    numbers = answer.get_json()
    assert (numbers["campaign_id"], numbers["start_date"], numbers["end_date"]) == (1, "2025-06-01", "2025-08-31")
    assert (numbers["posts"], numbers["manual_posts"], numbers["views"], numbers["likes"]) == (3, 1, 2400, 150)
    assert numbers["engagement_rate"] == round((150 + 5 + 5) / 2400 * 100, 4)
    by_platform = {p["platform"]: p for p in numbers["platforms"]}
    assert set(by_platform) == {"tiktok", "twitter"}
    assert (by_platform["tiktok"]["views"], by_platform["tiktok"]["manual_posts"]) == (1900, 1)
    assert by_platform["twitter"]["views"] == 500
    manual_day = [d for d in numbers["days"] if d["date"] == "2025-07-15"]
    assert manual_day == [{**manual_day[0], "platform": "tiktok", "posts": 1, "manual_posts": 1, "views": 400}]
    assert numbers["as_of"] == "2025-07-20T12:00:00"

    july = seed.api.get(V1 + "/campaigns/1/analytics?start_date=2025-07-01&end_date=2025-07-10",
                        headers=seed.headers).get_json()
    assert (july["posts"], july["views"], july["manual_posts"]) == (2, 1500, 0)
    too_long = seed.api.get(V1 + "/campaigns/1/analytics?start_date=2024-01-01&end_date=2025-07-10",
                            headers=seed.headers)
    assert too_long.status_code == 400 and too_long.get_json()["field"] == "end_date"
    assert seed.api.get(V1 + "/campaigns/5/analytics", headers=seed.headers).status_code == 404


# -- 30. posts ----------------------------------------------------------------------------------------

def test_a_campaigns_posts_are_listed_with_the_seeds_numbers(seed):
    _create(seed)
    _published("tt-1")
    _published("tt-2")
    first = number_of("post", "tt-1")
    answer = seed.api.get(V1 + "/campaigns/1/posts?limit=1", headers=seed.headers)
    assert answer.status_code == 200 and answer.headers["X-Total-Count"] == "2"
    [post] = answer.get_json()
    assert (post["id"], post["postgate_id"], post["campaign_id"], post["status"]) == (first, "tt-1", 1, "published")
    rest = seed.api.get(V1 + "/campaigns/1/posts?skip=1", headers=seed.headers).get_json()
    assert [p["postgate_id"] for p in rest] == ["tt-2"]
    assert seed.api.get(V1 + "/campaigns/3/posts", headers=seed.headers).status_code == 404
