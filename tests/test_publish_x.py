"""Publishing to X through the real pipeline (emulators + the X sandbox): text, images, GIF and
video posts; retries, permanent refusals, caps, duplicate delivery, token refresh with rotation,
and weighted-length validation before approval."""

from __future__ import annotations

import hashlib
import json
import os
import secrets as pysecrets
import threading
import time

import pytest

from infra.local.sandboxes.x import XSandbox
from tests.conftest import (
    approve,
    function_client,
    generic_brief,
    jpeg_bytes,
    pubsub_envelope,
    register_account,
    upload_object,
    upload_video,
)

ACCOUNT = "x-main"
HANDLE = "brand_x"
CLIENT_ID, CLIENT_SECRET = "postgate-x-client", "x-client-secret"
CHUNK = 1024
_ENV = {"POSTGATE_X_CHUNK_BYTES": str(CHUNK), "POSTGATE_RETRY_BASE_SECONDS": "0.01"}


@pytest.fixture(scope="module")
def x_sandbox():
    from shared import services

    box = XSandbox(check_after_secs=0, status_checks_before_succeeded=2, clients={CLIENT_ID: CLIENT_SECRET})
    box.start()
    env = {**_ENV, "POSTGATE_X_BASE_URL": box.base_url}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    services.reset()
    yield box
    box.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    services.reset()


@pytest.fixture
def x(env, x_sandbox):
    """A fresh sandbox state and the X account registered with its own (new) tokens."""
    x_sandbox.reset()
    x_sandbox.user_daily_cap = None
    x_sandbox.app_daily_cap = None
    x_sandbox.max_segment_bytes = 5 * 1024 * 1024
    access, refresh = "x-at-" + pysecrets.token_urlsafe(12), "x-rt-" + pysecrets.token_urlsafe(12)
    ids = x_sandbox.add_account(access, refresh, username=HANDLE, client_id=CLIENT_ID)
    register_account(ACCOUNT, "x", {"access_token": access, "refresh_token": refresh, "client_id": CLIENT_ID,
                                     "client_secret": CLIENT_SECRET},
                     handle=HANDLE, platform_account_id=ids["user_id"])
    x_sandbox.tokens = {"access_token": access, "refresh_token": refresh}
    x_sandbox.env = env
    return x_sandbox


def _generate(**brief):
    from shared import entrypoints

    targets = brief.pop("targets", [{"account_id": ACCOUNT}])
    return entrypoints.generate(generic_brief(targets, **brief))


def _deliver(post_id: str, message_id: str = "1"):
    client = function_client("functions/publish_x/main.py", "publish_x")
    return client.post("/", json=pubsub_envelope({"post_id": post_id}, message_id))


def _post(content_id: str):
    from shared import services

    [post] = services.repository().posts_for_content(content_id)
    return post


def _publish(x, content):
    [due] = approve(x.env, content)
    assert _deliver(due.id).status_code == 200
    return _post(content.id)


def _gif_bytes(size: int = 2048) -> bytes:
    header = b"GIF89a" + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + b"\x00\x00\x00"
    return (header + b"\x00" * size)[:size]


def _poll():
    from shared import services
    from shared.publishing.status_poll import poll_once
    from shared.runtime.config import get_config

    return poll_once(repo=services.repository(), config=get_config(), secrets=services.secrets(), bq=services.bigquery())


# ---- happy path and each media kind ----

def test_text_post_is_published_on_create_with_its_share_url_and_logged(x):
    content = _generate()
    post = _publish(x, content)
    assert post.status == "published"
    tweet_id = post.platform_ids["tweet_id"]
    assert post.share_url == f"https://x.com/{HANDLE}/status/{tweet_id}"
    assert post.platform_ids["media_ids"] == ""
    assert x.posts[tweet_id]["text"] == content.text() and x.posts[tweet_id]["media_ids"] == []
    assert x.count("create_post", 201) == 1 and x.count("media_initialize") == 0
    assert _poll().logged == 1  # one publish_log row in BigQuery


def test_text_only_target_posts_no_media_even_when_the_content_has_a_video(x):
    content = _generate(targets=[{"account_id": ACCOUNT, "text_only": True}], video=upload_video(3000, "in/x.mp4"))
    post = _publish(x, content)
    assert post.status == "published" and x.posts[post.platform_ids["tweet_id"]]["media_ids"] == []
    assert x.count("media_initialize") == 0


def test_images_are_uploaded_and_attached_in_order(x):
    jpeg, png = jpeg_bytes(1200, 675), b"\x89PNG\r\n\x1a\n" + b"p" * 1500
    images = [upload_object("in/a.jpg", jpeg, "image/jpeg"), upload_object("in/b.png", png, "image/png")]
    post = _publish(x, _generate(images=images))
    assert post.status == "published"
    media_ids = post.platform_ids["media_ids"].split(",")
    tweet = x.posts[post.platform_ids["tweet_id"]]
    assert tweet["media_ids"] == media_ids and tweet["media_categories"] == ["tweet_image", "tweet_image"]
    assert tweet["media_sha256"] == [hashlib.sha256(jpeg).hexdigest(), hashlib.sha256(png).hexdigest()]
    assert x.count("media_status") == 0  # images need no processing wait


def test_gif_is_uploaded_as_tweet_gif_and_waits_for_processing(x):
    gif = _gif_bytes(2500)
    post = _publish(x, _generate(images=[upload_object("in/a.gif", gif, "image/gif")]))
    assert post.status == "published"
    [media_id] = post.platform_ids["media_ids"].split(",")
    assert x.media[media_id]["media_category"] == "tweet_gif" and x.media[media_id]["sha256"] == hashlib.sha256(gif).hexdigest()
    assert x.count("media_status") == 2


def test_video_is_uploaded_in_segments_and_posted_after_processing_succeeds(x):
    from shared import services

    uri = upload_video(3000, "in/clip.mp4")
    post = _publish(x, _generate(video=uri))
    assert post.status == "published"
    [media_id] = post.platform_ids["media_ids"].split(",")
    media = x.media[media_id]
    source = services.media_store().read_range(_generate_ref(uri), 0, 2999)
    # The contract as the sandbox recorded it: declared size, category, three 1024-byte segments, same bytes.
    assert media["media_category"] == "tweet_video" and media["media_type"] == "video/mp4"
    assert media["total_bytes"] == 3000 and media["segments_received"] == 3 and x.count("media_append", 200) == 3
    assert media["sha256"] == hashlib.sha256(source).hexdigest()
    assert media["state"] == "succeeded" and x.count("media_status", 200) == 2
    log = [e["endpoint"] for e in x.requests_log]
    assert log.index("create_post") > max(i for i, e in enumerate(log) if e == "media_status")


def _generate_ref(uri: str):
    from shared import services

    return services.media_store().describe(uri, "video")


# ---- transient failures ----

def test_rate_limit_on_create_is_retried_and_makes_one_post(x):
    """A 429 is the one answer on create that proves X did nothing, so it alone is sent again."""
    x.inject("create_post", "rate_limit", reset_in=2)
    post = _publish(x, _generate())
    assert post.status == "published"
    assert x.count("create_post", 429) == 1 and x.count("create_post", 201) == 1 and len(x.posts) == 1


def test_server_error_on_a_segment_resends_that_segment(x):
    x.inject("media_append", "server_error")
    post = _publish(x, _generate(video=upload_video(3000, "in/clip.mp4")))
    assert post.status == "published"
    assert x.count("media_append", 503) == 1 and x.count("media_append", 200) == 3
    [media_id] = post.platform_ids["media_ids"].split(",")
    assert x.media[media_id]["total_bytes"] == 3000


def test_rate_limit_far_from_reset_releases_the_post_until_the_reset(x):
    from shared import services
    from shared.runtime.clock import utcnow

    x.inject("create_post", "rate_limit", reset_in=600)  # longer than we hold an instance for
    content = _generate()
    [due] = approve(x.env, content)
    assert _deliver(due.id).status_code == 500  # Pub/Sub redelivers later
    post = _post(content.id)
    assert post.status == "queued" and x.count("create_post") == 1 and x.posts == {}
    wait = (post.next_attempt_at - utcnow()).total_seconds()
    assert 590 <= wait <= 601  # not before x-rate-limit-reset
    assert _deliver(due.id, message_id="2").status_code == 200 and x.count("create_post") == 1  # too early: skipped
    services.repository().update_fields(post.id, next_attempt_at=None)  # ... the window has reset
    assert _deliver(due.id, message_id="3").status_code == 200
    assert _post(content.id).status == "published" and len(x.posts) == 1


def test_daily_user_cap_parks_the_post_instead_of_failing_it(x):
    x.user_daily_cap = 0
    content = _generate()
    [due] = approve(x.env, content)
    assert _deliver(due.id).status_code == 200
    post = _post(content.id)
    assert post.status == "queued" and post.next_attempt_at is not None
    assert x.count("create_post", 429) == 1 and x.posts == {}


def test_daily_app_cap_parks_the_post_until_the_app_cap_resets(x):
    """On the app's 24 h cap only x-app-limit-24hour-* say so; the 15-minute headers look healthy."""
    from shared.runtime.clock import utcnow

    x.app_daily_cap = 0
    content = _generate()
    [due] = approve(x.env, content)
    assert _deliver(due.id).status_code == 200  # parked, not redelivered in a loop
    post = _post(content.id)
    assert post.status == "queued" and x.count("create_post", 429) == 1 and x.posts == {}
    wait = (post.next_attempt_at - utcnow()).total_seconds()
    assert 86400 - 60 <= wait <= 86400 + 1  # the app cap's reset, not the 15-minute window's


def test_rate_limit_whose_reset_is_already_past_waits_the_floor_not_zero(x, monkeypatch):
    from shared import services
    from shared.platforms.x.rate_limits import RATE_LIMIT_FLOOR_SECONDS
    from shared.runtime.clock import utcnow

    monkeypatch.setenv("POSTGATE_MAX_INPROCESS_WAIT_SECONDS", "5")  # the floor is not waited out in-process
    services.reset()
    x.inject("create_post", "rate_limit", reset_in=-30)
    content = _generate()
    [due] = approve(x.env, content)
    assert _deliver(due.id).status_code == 500  # Pub/Sub redelivers ...
    post = _post(content.id)
    assert post.status == "queued" and x.count("create_post") == 1 and x.posts == {}
    wait = (post.next_attempt_at - utcnow()).total_seconds()
    assert RATE_LIMIT_FLOOR_SECONDS - 5 <= wait <= RATE_LIMIT_FLOOR_SECONDS  # ... but not at once: no hot loop


# ---- permanent failures ----

def test_permanent_refusal_fails_once_with_the_platforms_reason(x, logs):
    x.inject("create_post", "error", http_status=403, title="Forbidden",
             detail="You are not permitted to perform this action.")
    content = _generate()
    post = _publish(x, content)
    assert post.status == "failed"
    assert "You are not permitted to perform this action." in post.fail_reason
    assert x.count("create_post") == 1
    assert _deliver(post.id, message_id="again").status_code == 200
    assert x.count("create_post") == 1  # no retry storm
    assert any(e["severity"] == "ERROR" and e["message"] == "post failed" for e in logs.entries)


def test_video_processing_failure_fails_the_post_with_the_error(x):
    x.inject("media_finalize", "fail_processing", message="Unsupported video format")
    post = _publish(x, _generate(video=upload_video(3000, "in/clip.mp4")))
    assert post.status == "failed" and "x media processing failed" in post.fail_reason
    assert x.count("create_post") == 0


def test_timeout_after_create_was_sent_is_looked_up_not_posted_again(x, monkeypatch):
    from shared import services

    monkeypatch.setenv("POSTGATE_HTTP_TIMEOUT_SECONDS", "0.5")
    services.reset()
    x.inject("create_post", "slow", seconds=1.5)
    post = _publish(x, _generate())
    assert post.status == "processing" and post.unconfirmed  # outcome unknown: never `failed`
    deadline = time.monotonic() + 5
    while x.count("create_post") == 0 and time.monotonic() < deadline:  # the slow answer is still on its way
        time.sleep(0.05)
    assert len(x.posts) == 1  # X did post it: exactly why we must not post again
    _deliver(post.id, message_id="again")
    assert x.count("create_post") == 1 and len(x.posts) == 1
    monkeypatch.delenv("POSTGATE_HTTP_TIMEOUT_SECONDS")
    services.reset()
    _poll()
    post = _post(post.content_id)
    [tweet_id] = x.posts
    assert post.status == "published" and post.platform_ids["tweet_id"] == tweet_id


# ---- duplicate delivery ----

def test_same_message_three_times_then_two_concurrent_makes_one_post(x):
    content = _generate(video=upload_video(3000, "in/clip.mp4"))
    [due] = approve(x.env, content)
    barrier = threading.Barrier(2)
    codes = []

    def deliver(message_id):
        barrier.wait()
        codes.append(_deliver(due.id, message_id).status_code)

    threads = [threading.Thread(target=deliver, args=(f"c{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for _ in range(3):
        codes.append(_deliver(due.id, message_id="same").status_code)
    assert codes == [200] * 5
    assert x.count("create_post") == 1 and len(x.posts) == 1 and x.count("media_initialize") == 1
    post = _post(content.id)
    assert post.status == "published" and post.attempt_count == 1


# ---- contract check ----

def test_segment_larger_than_the_platform_takes_fails_loudly(x):
    """If our chunking sent more per APPEND than X accepts, the post must fail, not limp on."""
    x.max_segment_bytes = CHUNK - 1
    post = _publish(x, _generate(video=upload_video(3000, "in/clip.mp4")))
    assert post.status == "failed" and "413" in post.fail_reason
    assert x.count("create_post") == 0


def test_requests_carry_the_documented_fields_and_nothing_else(x):
    """The sandbox refuses unknown fields, non-JSON bodies and bad media categories; this pins the
    shapes too: the post body is {text, media:{media_ids}}, text NFC, ids as strings."""
    content = _generate(topic="Cafe\u0301 launch with cold drinks",
                        images=[upload_object("in/a.jpg", jpeg_bytes(), "image/jpeg")])
    post = _publish(x, content)
    tweet = x.posts[post.platform_ids["tweet_id"]]
    assert tweet["other_fields"] == {}
    assert "Café" in tweet["text"] and "Cafe\u0301" not in tweet["text"]
    assert all(isinstance(m, str) and m.isdigit() for m in tweet["media_ids"])
    assert not [e for e in x.requests_log if e["status"] >= 400]


# ---- token refresh ----

def test_expired_token_is_refreshed_once_and_the_rotated_token_is_written_back(x):
    import requests

    from shared import services

    old = dict(x.tokens)
    x.expire_token(old["access_token"])
    post = _publish(x, _generate())
    assert post.status == "published"
    assert x.count("create_post", 401) == 1 and x.count("token", 200) == 1 and x.count("create_post", 201) == 1
    stored = json.loads(services.secrets().access(f"x-account-{ACCOUNT}"))
    assert stored["access_token"] != old["access_token"] and stored["refresh_token"] != old["refresh_token"]
    assert stored["client_id"] == CLIENT_ID and stored["expires_at"]
    # The old refresh token was single-use: it is dead, the stored one works.
    reuse = requests.post(x.base_url + "/2/oauth2/token", auth=(CLIENT_ID, CLIENT_SECRET), timeout=10,
                          data={"grant_type": "refresh_token", "refresh_token": old["refresh_token"], "client_id": CLIENT_ID})
    assert reuse.status_code == 400


def test_second_rejection_after_refresh_fails_the_post_for_reconnection(x):
    from shared import services

    x.inject("media_initialize", "error", count=2, http_status=401, title="Unauthorized", detail="Unauthorized")
    post = _publish(x, _generate(images=[upload_object("in/a.jpg", jpeg_bytes(), "image/jpeg")]))
    assert post.status == "failed" and "401" in post.fail_reason
    assert x.count("token", 200) == 1 and x.count("create_post") == 0
    assert json.loads(services.secrets().access(f"x-account-{ACCOUNT}"))["refresh_token"] != x.tokens["refresh_token"]


# ---- validation at generation ----

def test_text_over_280_weighted_characters_is_refused_at_generation(x):
    from shared.errors import ValidationError

    with pytest.raises(ValidationError) as info:
        _generate(topic="Our bottle keeps drinks cold all day " * 8)
    assert info.value.field == "caption" and "280" in info.value.limit
    assert x.requests_log == []


def test_cjk_text_counts_double_and_is_refused_though_len_fits(x):
    from shared.errors import ValidationError

    topic = "このボトルは一日中飲み物を冷たく保ちます" * 7  # 140 characters, weighted 280 on its own
    with pytest.raises(ValidationError) as info:
        _generate(topic=topic)
    assert info.value.field == "caption" and "280 weighted" in info.value.limit


def test_urls_count_23_so_a_long_link_still_fits(x):
    link = "https://example.com/" + "very-long-path/" * 30
    content = _generate(topic=f"Read more at {link}")
    assert len(content.text()) > 280
    assert _publish(x, content).status == "published"


def test_five_images_are_refused_at_generation_naming_the_limit(x):
    from shared.errors import ValidationError

    images = [upload_object(f"in/{i}.jpg", jpeg_bytes(), "image/jpeg") for i in range(5)]
    with pytest.raises(ValidationError) as info:
        _generate(images=images)
    assert info.value.field == "images" and "4 photos" in info.value.limit
