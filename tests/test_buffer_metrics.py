"""Buffer's post metrics through the adapter's fetch_metrics, against the Buffer sandbox over real HTTP
(no emulators): up to 30 posts in one aliased request, Buffer's normalized metrics mapped, posts Buffer
has no numbers for refused with the reason, a rate limit parking the batch."""

from __future__ import annotations

import secrets as pysecrets
import time
from datetime import UTC, datetime

import pytest
import requests

from infra.local.sandboxes.buffer import BufferSandbox
from infra.local.sandboxes.engagement import engagement
from shared.errors import CapReached
from shared.model.analytics import MetricsRefused, PlatformMetrics
from shared.model.content import TargetSpec
from shared.model.post import Post
from shared.platforms.base import MetricsContext
from shared.platforms.buffer.client import BufferClient
from shared.platforms.credentials import StaticToken
from shared.platforms.registry import adapter_for
from shared.runtime.config import Config

DELETE = """mutation Delete($input: DeletePostInput!) {
  deletePost(input: $input) { __typename ... on DeletePostSuccess { id } ... on MutationError { message } }
}"""


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def box():
    clock = Clock()
    sandbox = BufferSandbox(clock=clock)
    sandbox.start()
    sandbox.clock_ = clock
    sandbox.key = "buffer-key-" + pysecrets.token_hex(6)
    sandbox.add_api_key(sandbox.key)
    sandbox.channel = sandbox.add_channel(sandbox.key, service="twitter", name="brand_x")
    sandbox.config = Config(project="p", media_bucket="media", approval_base_url="http://approval.test",
                            buffer_base_url=sandbox.base_url, http_timeout_seconds=10)
    yield sandbox
    sandbox.stop()


def sent_posts(box, n: int, *, live_seconds: float = 3600.0) -> list[Post]:
    client = BufferClient(box.key, base_url=box.base_url)
    ids = [client.create_post({"channelId": box.channel, "text": f"post {i}", "schedulingType": "automatic",
                               "mode": "shareNow"}).id for i in range(n)]
    box.send_due()
    box.clock_.now += live_seconds
    now = datetime.now(UTC)
    return [Post(id=f"c{i}--buffer-x", content_id=f"c{i}", account_id="buffer-x", platform="buffer", campaign="Launch",
                 status="published", content_hash="h", target=TargetSpec(account_id="buffer-x"),
                 platform_ids={"post_id": post_id}, created_at=now, updated_at=now, published_at=now)
            for i, post_id in enumerate(ids)]


def fetch(box, posts: list[Post]) -> list:
    return adapter_for("buffer").fetch_metrics(MetricsContext(posts=posts, account={"platform": "buffer"},
                                                              tokens=StaticToken(box.key), config=box.config))


def expected(box, post: Post) -> PlatformMetrics:
    held = box.posts[post.platform_ids["post_id"]]
    live = engagement(held["id"], box.clock_.now - held["sent"])
    return PlatformMetrics(platform_post_id=held["id"], likes=live.likes, comments=live.comments, shares=live.shares,
                           reach=live.reach, impressions=live.views)


def test_thirty_posts_are_one_request_with_buffers_metrics_mapped(box):
    posts = sent_posts(box, 30)
    calls = box.count("post")
    results = fetch(box, posts)
    assert box.count("post") == calls + 1
    assert results == [expected(box, p) for p in posts]  # in the posts' order
    assert all(r.impressions > 0 and r.views is None and r.saves is None for r in results)


def test_more_than_thirty_is_the_callers_bug_and_sends_nothing(box):
    posts = sent_posts(box, 1) * 31
    calls = box.count("post")
    with pytest.raises(ValueError, match="at most 30"):
        fetch(box, posts)
    assert box.count("post") == calls


def test_a_post_buffer_has_not_sent_or_deleted_is_refused_while_the_rest_are_answered(box):
    posts = sent_posts(box, 3)
    client = BufferClient(box.key, base_url=box.base_url)
    waiting = client.create_post({"channelId": box.channel, "text": "later", "schedulingType": "automatic",
                                  "mode": "customScheduled", "dueAt": "2099-01-01T00:00:00.000Z"}).id
    gone = posts[1].platform_ids["post_id"]
    answer = requests.post(box.base_url, timeout=10, headers={"Authorization": f"Bearer {box.key}"},
                           json={"query": DELETE, "variables": {"input": {"id": gone}}, "operationName": "Delete"})
    assert answer.json()["data"]["deletePost"]["__typename"] == "DeletePostSuccess"
    unsent = posts[0].model_copy(update={"platform_ids": {"post_id": waiting}})
    results = fetch(box, [unsent, *posts])
    assert results[0] == MetricsRefused(platform_post_id=waiting, reason="Buffer has no metrics for a post that is scheduled")
    assert isinstance(results[2], MetricsRefused) and results[2].platform_post_id == gone and "NOT_FOUND" in results[2].reason
    assert [results[1], results[3]] == [expected(box, posts[0]), expected(box, posts[2])]


def test_a_rate_limit_parks_the_whole_batch_until_buffers_window_resets(box):
    posts = sent_posts(box, 2)
    box.inject("post", "rate_limit", retry_after=600)
    with pytest.raises(CapReached) as caught:
        fetch(box, posts)
    assert caught.value.retry_after == 600


def test_a_post_without_a_buffer_id_is_refused_without_a_call(box):
    [post] = sent_posts(box, 1)
    bare = post.model_copy(update={"platform_ids": {}})
    calls = box.count("post")
    assert fetch(box, [bare]) == [MetricsRefused(platform_post_id="", reason="no Buffer post id was recorded for this post")]
    assert box.count("post") == calls
