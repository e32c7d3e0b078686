"""The seed's scheduled posts under /api/v1 (endpoints 8-17), each sent the seed document's own example
body verbatim, against the emulators: a post created with scheduled_time waits for approval, its media
URL is fetched once into the media bucket, and the seed's statuses, ids and pagination hold."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests.conftest import approve, bearer, function_client, pubsub_envelope, register_account
from tests.v1_support import V1, example_com, number_of, seed_clock

# The seed document's example bodies, copied verbatim.
CREATE_POST = """{
  "social_account_id": 1,
  "campaign_id": 1,
  "content": "Post content #hashtag",
  "scheduled_time": "2025-12-25T10:00:00",
  "platform": "twitter",
  "media_urls": ["https://example.com/image.jpg"]
}"""
BULK = """{
  "posts": [
    {
      "social_account_id": 1,
      "content": "Post 1",
      "scheduled_time": "2025-12-25T10:00:00"
    }
  ]
}"""


def _repo():
    from shared import services

    return services.repository()


@pytest.fixture
def seed(api, env):
    """Social account 1 (an X account) and campaign 1 exist; the clock is the seed's example moment and
    https://example.com is served locally."""
    with example_com() as (base, media), seed_clock(base, running=True):
        register_account("x-brand", "x", {"access_token": "x-token-123456"}, platform_account_id="42",
                         handle="brand")
        made = api.post("/campaigns", json={"id": "summer-2025", "name": "Summer Campaign 2025"}, headers=bearer(env))
        assert made.status_code == 201, made.get_json()
        assert number_of("social_account", "x-brand") == 1 and number_of("campaign", "summer-2025") == 1
        yield SimpleNamespace(api=api, env=env, media=media, headers={**bearer(env), "Content-Type": "application/json"})


def _create(seed, body: str = CREATE_POST):
    return seed.api.post(V1 + "/posts", data=body, headers=seed.headers)


# -- 8. create --------------------------------------------------------------------------------------

def test_created_post_waits_for_approval_and_its_media_is_fetched_once(seed):
    answer = _create(seed)
    assert answer.status_code == 201, answer.get_json()
    post = answer.get_json()
    assert post["id"] == 1 and post["social_account_id"] == 1 and post["campaign_id"] == 1
    assert post["platform"] == "twitter" and post["content"] == "Post content #hashtag"
    assert post["scheduled_time"] == "2025-12-25T10:00:00" and post["created_at"].startswith("2025-12-23T10:0")
    assert post["status"] == "draft" and post["postgate_status"] == "pending_approval"
    assert "waits for approval" in post["note"]
    # The URL was fetched once, into the media bucket: the approval binds those bytes.
    assert seed.media.requests == ["/image.jpg"]
    [uri] = post["media_urls"]
    assert uri.startswith("gs://test-media/uploads/") and uri.endswith("/image.jpg")
    stored = _repo().get_post(post["postgate_id"])
    assert stored.status == "pending_approval" and stored.account_id == "x-brand"


def test_a_post_waiting_for_approval_is_not_published_until_approved(seed):
    post = _create(seed).get_json()
    publisher = function_client("functions/publish_x/main.py", "publish_x")
    assert publisher.post("/", json=pubsub_envelope({"post_id": post["postgate_id"]})).status_code == 200
    assert _repo().get_post(post["postgate_id"]).status == "pending_approval"  # refused untouched
    # Nothing in /api/v1 approves: a status in an edit is refused, schedule refuses a waiting post.
    edit = seed.api.put(f"{V1}/posts/1", json={"status": "scheduled"}, headers=seed.headers)
    assert edit.status_code == 400 and edit.get_json()["field"] == "status"
    approver = seed.api.put(f"{V1}/posts/1", json={"postgate_status": "approved"},
                            headers={**bearer(seed.env, user="lead@example.com", roles=("approver",))})
    assert approver.status_code == 400
    assert _repo().get_post(post["postgate_id"]).status == "pending_approval"
    approve(seed.env, _repo().get_content(post["content_id"]))
    assert _repo().get_post(post["postgate_id"]).status in ("scheduled", "queued")


def test_unknown_account_campaign_and_platform_mismatch_are_refused_naming_the_field(seed):
    unknown = _create(seed, CREATE_POST.replace('"social_account_id": 1', '"social_account_id": 7'))
    assert unknown.status_code == 404 and unknown.get_json()["field"] == "social_account_id"
    no_campaign = _create(seed, CREATE_POST.replace('"campaign_id": 1', '"campaign_id": 9'))
    assert no_campaign.status_code == 404 and no_campaign.get_json()["field"] == "campaign_id"
    mismatch = _create(seed, CREATE_POST.replace('"twitter"', '"instagram"'))
    assert mismatch.status_code == 400 and mismatch.get_json()["field"] == "platform"
    assert "twitter" in mismatch.get_json()["detail"]
    ours = _create(seed, CREATE_POST.replace('"twitter"', '"x"'))  # our own name for it is the same network
    assert ours.status_code == 201, ours.get_json()
    assert len(list(_repo().db.collection("content").stream())) == 1


def test_media_urls_that_cannot_be_fetched_are_refused_naming_the_url(seed):
    for url, words in (("https://example.com/missing.jpg", "HTTP 404"), ("https://example.com/page.html", "text/html"),
                       ("http://example.org/image.jpg", "not an https URL"),
                       ("https://127.0.0.1/image.jpg", "not public"), ("https://localhost/image.jpg", "not public")):
        refused = _create(seed, CREATE_POST.replace("https://example.com/image.jpg", url))
        assert refused.status_code == 400, url
        assert refused.get_json()["field"] == "media_urls[0]" and words in refused.get_json()["detail"], url
    assert list(_repo().db.collection("content").stream()) == []


def test_the_seed_example_time_is_refused_at_todays_clock(api, env):
    """Without the seed's clock the example is in the past: our planned-time rule refuses it, as 400."""
    register_account("x-brand", "x", {"access_token": "x-token-123456"}, platform_account_id="42")
    api.post("/campaigns", json={"id": "summer-2025", "name": "Summer"}, headers=bearer(env))
    number_of("social_account", "x-brand")
    number_of("campaign", "summer-2025")
    body = json.loads(CREATE_POST)
    del body["media_urls"]
    refused = api.post(V1 + "/posts", json=body, headers=bearer(env))
    assert refused.status_code == 400 and refused.get_json()["field"] == "scheduled_time"
    assert "in the past" in refused.get_json()["detail"]


def test_idempotency_key_answers_the_same_post_without_fetching_again(seed):
    headers = {**seed.headers, "Idempotency-Key": "sheet-row-1"}
    first = seed.api.post(V1 + "/posts", data=CREATE_POST, headers=headers).get_json()
    again = seed.api.post(V1 + "/posts", data=CREATE_POST, headers=headers)
    assert again.status_code == 201 and again.get_json()["id"] == first["id"]
    assert seed.media.requests == ["/image.jpg"]
    other = seed.api.post(V1 + "/posts", data=CREATE_POST.replace("Post content", "Other"), headers=headers)
    # Our API answers this 422; the seed knows 400 for every refusal of what was sent.
    assert other.status_code == 400 and other.get_json()["field"] == "Idempotency-Key"


# -- 9, 10. read and list ---------------------------------------------------------------------------

def test_get_and_list_with_the_seeds_filters_and_pagination(seed):
    created = _create(seed).get_json()
    other = seed.api.post(V1 + "/posts", json={"social_account_id": 1, "content": "Other", "platform": "twitter"},
                          headers=seed.headers)
    assert other.status_code == 201, other.get_json()
    got = seed.api.get(f"{V1}/posts/1", headers=seed.headers)
    assert got.status_code == 200 and got.get_json() == created
    assert seed.api.get(f"{V1}/posts/{created['postgate_id']}", headers=seed.headers).get_json()["id"] == 1
    assert seed.api.get(f"{V1}/posts/99", headers=seed.headers).status_code == 404
    page = seed.api.get(f"{V1}/posts?skip=0&limit=20", headers=seed.headers)
    assert page.status_code == 200 and page.headers["X-Total-Count"] == "2"
    assert isinstance(page.get_json(), list) and [p["id"] for p in page.get_json()] == [2, 1]
    one = seed.api.get(f"{V1}/posts?skip=1&limit=1", headers=seed.headers)
    assert [p["id"] for p in one.get_json()] == [1] and one.headers["X-Total-Count"] == "2"
    by = {q: seed.api.get(f"{V1}/posts?{q}", headers=seed.headers) for q in (
        "status=draft", "status=scheduled", "status=published", "platform=twitter", "platform=instagram",
        "campaign_id=1")}
    assert [p["id"] for p in by["status=draft"].get_json()] == [2, 1]
    assert by["status=scheduled"].get_json() == [] and by["status=published"].get_json() == []
    assert len(by["platform=twitter"].get_json()) == 2 and by["platform=instagram"].get_json() == []
    assert [p["id"] for p in by["campaign_id=1"].get_json()] == [1]
    bad = seed.api.get(f"{V1}/posts?limit=101", headers=seed.headers)
    assert bad.status_code == 400 and bad.get_json()["field"] == "limit"
    assert seed.api.get(f"{V1}/posts?status=pending", headers=seed.headers).status_code == 400


# -- 11, 12. update and delete ----------------------------------------------------------------------

def test_editing_approved_content_sends_it_back_for_approval_and_a_time_change_keeps_it(seed):
    post = _create(seed).get_json()
    approve(seed.env, _repo().get_content(post["content_id"]))
    moved = seed.api.put(f"{V1}/posts/1", json={"scheduled_time": "2025-12-26T10:00:00"}, headers=seed.headers)
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["status"] == "scheduled" and moved.get_json()["scheduled_time"] == "2025-12-26T10:00:00"
    edited = seed.api.put(f"{V1}/posts/1", json={"content": "New words #hashtag"}, headers=seed.headers)
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["postgate_status"] == "pending_approval" and edited.get_json()["status"] == "draft"
    assert edited.get_json()["content"] == "New words #hashtag"
    other = seed.api.put(f"{V1}/posts/1", json={"platform": "linkedin"}, headers=seed.headers)
    assert other.status_code == 400 and other.get_json()["field"] == "platform"


def test_delete_answers_the_deleted_id_and_refuses_a_published_post(seed):
    post = _create(seed).get_json()
    deleted = seed.api.delete(f"{V1}/posts/1", headers=seed.headers)
    assert deleted.status_code == 200 and deleted.get_json() == {"id": 1, "postgate_id": post["postgate_id"],
                                                                 "deleted": True}
    assert seed.api.get(f"{V1}/posts/1", headers=seed.headers).status_code == 404
    assert _create(seed).get_json()["id"] == 2  # numbers are never reused
    _repo().update_fields(_repo().get_post(seed.api.get(f"{V1}/posts/2", headers=seed.headers)
                                           .get_json()["postgate_id"]).id, status="published")
    assert seed.api.delete(f"{V1}/posts/2", headers=seed.headers).status_code == 409


# -- 13. schedule via Buffer ------------------------------------------------------------------------

def test_schedule_refuses_a_post_of_an_account_that_does_not_post_through_buffer(seed):
    _create(seed)
    refused = seed.api.post(f"{V1}/posts/1/schedule", headers=seed.headers)
    assert refused.status_code == 409 and "not through Buffer" in refused.get_json()["detail"]


# -- 14. bulk ---------------------------------------------------------------------------------------

def test_bulk_example_creates_posts_waiting_for_approval_all_or_nothing(seed):
    made = seed.api.post(V1 + "/posts/bulk", data=BULK, headers=seed.headers)
    assert made.status_code == 201, made.get_json()
    [post] = made.get_json()
    assert post["content"] == "Post 1" and post["postgate_status"] == "pending_approval" and post["campaign_id"] is None
    two = json.loads(BULK)
    two["posts"].append({"social_account_id": 1, "content": "Post 2", "scheduled_time": "2025-12-20T10:00:00"})
    refused = seed.api.post(V1 + "/posts/bulk", json=two, headers=seed.headers)
    assert refused.status_code == 400 and refused.get_json()["field"] == "posts[1].scheduled_time"
    assert len(list(_repo().db.collection("content").stream())) == 1  # the refused bulk stored nothing


# -- 15. calendar -----------------------------------------------------------------------------------

def test_calendar_groups_posts_by_utc_day(seed):
    _create(seed)
    got = seed.api.get(f"{V1}/posts/calendar?start_date=2025-12-24&end_date=2025-12-26", headers=seed.headers)
    assert got.status_code == 200, got.get_json()
    days = {d["date"]: [p["id"] for p in d["posts"]] for d in got.get_json()["days"]}
    assert days == {"2025-12-24": [], "2025-12-25": [1], "2025-12-26": []}
    backwards = seed.api.get(f"{V1}/posts/calendar?start_date=2025-12-24&end_date=2025-12-01", headers=seed.headers)
    assert backwards.status_code == 400 and backwards.get_json()["field"] == "end_date"


# -- 16, 17. cancel and reschedule ------------------------------------------------------------------

def test_cancel_and_reschedule(seed):
    _create(seed)
    moved = seed.api.post(f"{V1}/posts/1/reschedule", json={"scheduled_time": "2025-12-27T09:30:00"},
                          headers=seed.headers)
    assert moved.status_code == 200 and moved.get_json()["scheduled_time"] == "2025-12-27T09:30:00"
    past = seed.api.post(f"{V1}/posts/1/reschedule", json={"scheduled_time": "2025-12-01T09:30:00"},
                         headers=seed.headers)
    assert past.status_code == 400 and past.get_json()["field"] == "scheduled_time"
    cancelled = seed.api.post(f"{V1}/posts/1/cancel", headers=seed.headers)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert seed.api.post(f"{V1}/posts/1/cancel", headers=seed.headers).status_code == 409


# -- the seed's examples in order, through Buffer ------------------------------------------------------

def test_the_seed_examples_in_order_post_through_buffer_only_after_approval(api, env):
    """Buffer configuration, the example account (Buffer channel buf_123), campaign 1, the example post:
    it waits for approval, schedule says so; once approved Postgate hands it to Buffer, once."""
    from tests.test_api_v1_accounts import CREATE_ACCOUNT
    from tests.test_api_v1_buffer import CREATE_CONFIG, KEY
    from tests.v1_support import buffer_sandbox

    with example_com() as (base, _media), buffer_sandbox() as sandbox, \
            seed_clock(base, POSTGATE_BUFFER_BASE_URL=sandbox.base_url):
        sandbox.add_api_key(KEY)
        sandbox.add_api_key("token_123")
        sandbox.add_channel("token_123", service="twitter", name="@username", channel_id="buf_123")
        headers = {**bearer(env), "Content-Type": "application/json"}
        assert api.post(V1 + "/buffer/config", data=CREATE_CONFIG, headers=headers).status_code == 201
        account = api.post(V1 + "/social-accounts", data=CREATE_ACCOUNT, headers=headers)
        assert account.status_code == 201 and account.get_json()["id"] == 1, account.get_json()
        assert api.post("/campaigns", json={"id": "summer-2025", "name": "Summer Campaign 2025"},
                        headers=bearer(env)).status_code == 201
        assert number_of("campaign", "summer-2025") == 1
        post = api.post(V1 + "/posts", data=CREATE_POST, headers=headers)
        assert post.status_code == 201, post.get_json()
        assert post.get_json()["postgate_status"] == "pending_approval" and post.get_json()["platform"] == "twitter"
        waiting = api.post(V1 + "/posts/1/schedule", headers=headers)
        assert waiting.status_code == 409 and "waiting for approval" in waiting.get_json()["detail"]

        content = _repo().get_content(post.get_json()["content_id"])
        [due] = approve(env, content)  # at today's clock the example's time has passed: due at once
        planned = api.post(V1 + "/posts/1/schedule", headers=headers)
        assert planned.status_code == 200, planned.get_json()
        assert planned.get_json()["handed_to_buffer"] is False and planned.get_json()["buffer_channel_id"] == "buf_123"
        assert sandbox.posts == {}  # nothing reaches Buffer before the publisher takes the approved post

        publisher = function_client("functions/publish_buffer/main.py", "publish_buffer")
        assert publisher.post("/", json=pubsub_envelope({"post_id": due.id})).status_code == 200
        [sent] = sandbox.posts.values()
        assert sent["text"] == "Post content #hashtag"
        handed = api.post(V1 + "/posts/1/schedule", headers=headers)
        assert handed.status_code == 200 and handed.get_json()["handed_to_buffer"] is True
        assert handed.get_json()["buffer_post_id"] == sent["id"]


def test_v1_models_have_names_of_their_own():
    """flask-openapi3 names a component of /openapi.json by its model's class name: a /api/v1 model named
    like one of our API's would replace that one in the document (a CalendarOut did)."""
    import importlib
    import inspect
    import pkgutil

    from pydantic import BaseModel

    import shared

    def models(prefix: str) -> set[tuple[str, str]]:
        """(class name, module) of every pydantic model defined under `prefix`."""
        found = set()
        for info in pkgutil.walk_packages(shared.__path__, "shared."):
            if info.name.startswith(prefix) and not info.name.endswith("__main__"):
                module = importlib.import_module(info.name)
                found |= {(n, info.name) for n, v in vars(module).items()
                          if inspect.isclass(v) and issubclass(v, BaseModel) and v.__module__ == info.name}
        return found

    v1 = {name for name, module in models("shared.api.v1")}
    ours = {name for name, module in models("shared.") if not module.startswith("shared.api.v1")}
    assert sorted(v1 & ours) == []
