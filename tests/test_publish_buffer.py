"""Publishing to a Buffer channel through the real pipeline (emulators + the Buffer sandbox): generate ->
approve -> publish_buffer function -> createPost (shareNow, media as signed URLs the sandbox fetches) ->
status poll until Buffer reports it sent or errored; retries, caps, a refused key, duplicate delivery,
and the network's rules applied before approval."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from infra.local.sandboxes.buffer import BufferSandbox
from tests.conftest import (
    approve,
    function_client,
    generic_brief,
    jpeg_bytes,
    pubsub_envelope,
    upload_object,
    upload_video,
)

ACCOUNT = "buffer-x"
CONFIG_ID = "cfg1"
HANDLE = "brand_x"
_ENV = {"POSTGATE_RETRY_BASE_SECONDS": "0.01"}


@pytest.fixture(scope="module")
def buffer_sandbox():
    from shared import services

    box = BufferSandbox()
    box.start()
    saved = {k: os.environ.get(k) for k in [*_ENV, "POSTGATE_BUFFER_BASE_URL"]}
    os.environ.update({**_ENV, "POSTGATE_BUFFER_BASE_URL": box.base_url})
    services.reset()
    box.key = "buffer-key-" + os.urandom(6).hex()
    box.organization = box.add_api_key(box.key, plan="team")
    box.channel_ids = {service: box.add_channel(box.key, service=service, name=f"brand_{service}")
                       for service in ("twitter", "instagram", "linkedin", "tiktok", "youtube", "bluesky")}
    box.limited_channel = box.add_channel(box.key, service="twitter", name="brand_limited", daily_limit=0)
    yield box
    box.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    services.reset()


def register_channel(box: BufferSandbox, account_id: str, service: str = "twitter", *, key: str | None = None,
                     channel_id: str | None = None, **fields) -> dict:
    """A Buffer channel as a Postgate account, with its Buffer configuration's secret, as linking it leaves them."""
    from shared import services
    from shared.model.account import buffer_config_secret_name

    secret = buffer_config_secret_name(fields.pop("config_id", CONFIG_ID))
    services.secrets().add_version(secret, json.dumps({"access_token": key or box.key}))
    account = {"platform": "buffer", "handle": fields.pop("handle", f"brand_{service}"), "secret_name": secret,
               "platform_account_id": channel_id or box.channel_ids[service], "buffer_service": service,
               "buffer_organization_id": box.organization, "buffer_config_id": CONFIG_ID, "buffer_plan": "team",
               **fields}
    services.repository().put_account(account_id, account)
    return account


@pytest.fixture
def buffer(env, buffer_sandbox):
    """A fresh sandbox (no posts, fresh request windows) and the X channel registered as an account."""
    buffer_sandbox.reset()
    buffer_sandbox.env = env
    register_channel(buffer_sandbox, ACCOUNT, "twitter", handle=HANDLE)
    return buffer_sandbox


def generate(account: str = ACCOUNT, target: dict | None = None, **brief):
    from shared import entrypoints

    return entrypoints.generate(generic_brief([{"account_id": account, **(target or {})}], **brief))


def deliver(post_id: str, message_id: str = "1"):
    client = function_client("functions/publish_buffer/main.py", "publish_buffer")
    return client.post("/", json=pubsub_envelope({"post_id": post_id}, message_id))


def stored_post(content_id: str):
    from shared import services

    [post] = services.repository().posts_for_content(content_id)
    return post


def publish(box, content):
    [due] = approve(box.env, content)
    assert deliver(due.id).status_code == 200
    return stored_post(content.id)


def poll():
    from shared import services
    from shared.publishing.status_poll import poll_once
    from shared.runtime.config import get_config

    return poll_once(repo=services.repository(), config=get_config(), secrets=services.secrets(), bq=services.bigquery())


# ---- handed to Buffer once, followed until sent ----

def test_post_is_handed_to_buffer_once_and_published_with_the_networks_link_when_buffer_sends_it(buffer):
    content = generate()
    post = publish(buffer, content)
    assert post.status == "processing" and not post.unconfirmed
    post_id = post.platform_ids["post_id"]
    held = buffer.posts[post_id]
    assert held["text"] == content.text() and held["channel_id"] == buffer.channel_ids["twitter"]
    assert held["mode"] == "shareNow" and held["scheduling_type"] == "automatic" and held["assets"] == []
    assert buffer.count("createPost") == 1 and buffer.count("channel") == 1
    summary = poll()
    done = stored_post(content.id)
    assert summary.published == 1 and summary.logged == 1 and done.status == "published"  # and one publish_log row
    # The post's link on X, as Buffer reports it (the sandbox names the channel brand_twitter).
    assert done.share_url == buffer.posts[post_id]["external_link"]
    assert done.share_url.startswith("https://x.com/brand_twitter/status/")
    assert done.platform_ids == {"post_id": post_id}
    assert buffer.count("createPost") == 1


def test_images_go_to_buffer_as_long_lived_signed_urls_of_the_approved_generation(buffer):
    from shared import services

    first, second = jpeg_bytes(1200, 675) + b"one", jpeg_bytes(1200, 675) + b"two"
    images = [upload_object("in/a.jpg", first, "image/jpeg"), upload_object("in/b.jpg", second, "image/jpeg")]
    content = generate(images=images)
    post = publish(buffer, content)
    assets = buffer.posts[post.platform_ids["post_id"]]["assets"]
    assert [a["type"] for a in assets] == ["image", "image"]
    generations = [m.generation for m in content.media]
    for asset, approved, generation in zip(assets, (first, second), generations):
        query = parse_qs(urlsplit(asset["url"]).query)
        assert query["X-Goog-Expires"] == [str(7 * 24 * 3600)] and query["generation"] == [str(generation)]
        assert requests.get(asset["url"], timeout=10).content == approved  # what Buffer fetches is what was approved
    # The name gets new bytes after approval: the URL Buffer holds never serves them (the approved
    # generation or nothing, and then Buffer's send fails rather than posting unapproved bytes).
    upload_object("in/a.jpg", b"replaced after approval", "image/jpeg")
    assert services.media_store().describe(images[0], "image").generation != generations[0]
    assert requests.get(assets[0]["url"], timeout=10).content != b"replaced after approval"


def test_an_instagram_reel_carries_the_video_and_instagrams_metadata(buffer):
    register_channel(buffer, "buffer-ig", "instagram")
    content = generate("buffer-ig", {"instagram_media_type": "REELS", "share_to_feed": False},
                       video=upload_video(3000, "in/reel.mp4"))
    post = publish(buffer, content)
    held = buffer.posts[post.platform_ids["post_id"]]
    assert [a["type"] for a in held["assets"]] == ["video"] and held["text"] == content.text()
    poll()
    assert stored_post(content.id).status == "published"


# ---- transient failures are retried, unknown outcomes never re-sent ----

def test_rate_limit_on_create_is_retried_and_makes_one_post(buffer):
    buffer.inject("createPost", "rate_limit", retry_after=1)
    post = publish(buffer, generate())
    assert post.status == "processing" and len(buffer.posts) == 1
    assert buffer.count("createPost", 429) == 1 and buffer.count("createPost", 200) == 1


def test_server_error_before_the_create_is_retried(buffer):
    buffer.inject("channel", "server_error")
    post = publish(buffer, generate())
    assert post.status == "processing" and not post.unconfirmed
    assert buffer.count("channel", 503) == 1 and buffer.count("createPost") == 1 and len(buffer.posts) == 1


@pytest.mark.parametrize("how", ["drop", "error"])
def test_lost_answer_after_the_create_is_settled_by_lookup_with_exactly_one_buffer_post(buffer, how):
    buffer.inject("createPost", "lost_response", how=how)
    content = generate()
    post = publish(buffer, content)
    assert post.status == "processing" and post.unconfirmed and "post_id" not in post.platform_ids
    assert len(buffer.posts) == 1 and buffer.count("createPost") == 1  # Buffer has it: never create again
    assert deliver(post.id, message_id="again").status_code == 200
    assert buffer.count("createPost") == 1
    poll()
    done = stored_post(content.id)
    [post_id] = buffer.posts
    assert done.status == "published" and done.platform_ids == {"post_id": post_id} and not done.unconfirmed
    assert done.share_url == buffer.posts[post_id]["external_link"]
    assert buffer.count("createPost") == 1 and len(buffer.posts) == 1


def test_same_message_three_times_then_two_concurrent_makes_one_buffer_post(buffer):
    content = generate()
    [due] = approve(buffer.env, content)
    barrier = threading.Barrier(2)
    codes = []

    def send(message_id):
        barrier.wait()
        codes.append(deliver(due.id, message_id).status_code)

    threads = [threading.Thread(target=send, args=(f"c{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    codes += [deliver(due.id, message_id="same").status_code for _ in range(3)]
    assert codes == [200] * 5
    assert buffer.count("createPost") == 1 and len(buffer.posts) == 1
    assert stored_post(content.id).attempt_count == 1


# ---- refusals ----

def test_a_refused_key_marks_the_account_for_reconnection_and_creates_nothing(buffer):
    from shared import services

    register_channel(buffer, ACCOUNT, "twitter", key="a-key-buffer-does-not-know", config_id="cfg-old")
    post = publish(buffer, generate())
    assert post.status == "failed" and post.fail_class == "auth" and "refused the API key" in post.fail_reason
    assert "a-key-buffer-does-not-know" not in post.fail_reason
    account = services.repository().get_account(ACCOUNT)
    assert account["status"] == "needs_reconnect" and buffer.count("createPost") == 0


def test_a_channel_disconnected_in_buffer_needs_reconnecting_and_creates_nothing(buffer):
    from shared import services

    channel = buffer.add_channel(buffer.key, service="twitter", name="brand_gone")
    buffer.disconnect_channel(channel)
    register_channel(buffer, ACCOUNT, "twitter", channel_id=channel)
    post = publish(buffer, generate())
    assert post.status == "failed" and "disconnected" in post.fail_reason
    assert services.repository().get_account(ACCOUNT)["status"] == "needs_reconnect"
    assert buffer.count("createPost") == 0


def test_buffers_posting_limit_parks_the_post_until_the_next_day_instead_of_failing_it(buffer):
    from shared.runtime.clock import utcnow

    register_channel(buffer, ACCOUNT, "twitter", channel_id=buffer.limited_channel)
    content = generate()
    [due] = approve(buffer.env, content)
    assert deliver(due.id).status_code == 200  # parked, not redelivered in a loop
    post = stored_post(content.id)
    assert post.status == "queued" and post.next_attempt_at is not None and buffer.posts == {}
    now = utcnow()
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert abs((post.next_attempt_at - midnight).total_seconds()) < 120
    assert buffer.count("createPost") == 1 and buffer.count("dailyPostingLimits") == 1


def test_the_accounts_caps_follow_its_buffer_plan():
    from shared.platforms.registry import default_limits

    caps = {plan: {lim.name: (lim.max_count, lim.window_seconds) for lim in default_limits(
        {"platform": "buffer", "buffer_plan": plan})} for plan in ("free", "essentials", "team")}
    assert caps["free"] == {"posts_per_15_minutes": (25, 900), "posts_per_day": (62, 86400),
                            "posts_per_30_days": (750, 30 * 86400)}
    assert caps["team"]["posts_per_day"] == (125, 86400) and caps["essentials"]["posts_per_30_days"][0] == 1875
    assert default_limits({"platform": "buffer"}) == default_limits({"platform": "buffer", "buffer_plan": "free"})


def test_an_error_from_buffer_fails_the_post_with_buffers_reason(buffer):
    buffer.inject("createPost", "send_error", message="Twitter refused the post: duplicate content")
    content = generate()
    post = publish(buffer, content)
    assert post.status == "processing"
    poll()
    failed = stored_post(content.id)
    assert failed.status == "failed" and failed.fail_class == "platform"
    assert "Twitter refused the post: duplicate content" in failed.fail_reason
    assert buffer.count("createPost") == 1


def test_a_typed_refusal_of_the_create_fails_once_with_buffers_message(buffer):
    buffer.inject("createPost", "mutation_error", type="InvalidInputError", message="Text is too long for this channel")
    post = publish(buffer, generate())
    assert post.status == "failed" and "Text is too long for this channel" in post.fail_reason
    assert deliver(post.id, message_id="again").status_code == 200 and buffer.count("createPost") == 1


# ---- the network's rules, before approval ----

def test_more_than_280_weighted_characters_for_an_x_channel_is_refused_at_creation(buffer):
    from shared.errors import ValidationError

    with pytest.raises(ValidationError) as info:
        generate(topic="Our bottle keeps drinks cold all day " * 8)
    assert info.value.field == "caption" and "280" in info.value.limit
    assert buffer.requests_log == []


def test_a_network_postgate_does_not_publish_to_gets_buffers_own_rules_only(buffer):
    register_channel(buffer, "buffer-bsky", "bluesky")
    content = generate("buffer-bsky", topic="Our bottle keeps drinks cold all day " * 8)  # > 280: not X's rule here
    post = publish(buffer, content)
    assert post.status == "processing" and buffer.posts[post.platform_ids["post_id"]]["text"] == content.text()


@pytest.mark.parametrize("service,target,brief,field", [
    ("instagram", {"instagram_media_type": "IMAGE"}, {}, "images"),  # Instagram: an image post needs its image
    ("youtube", {"youtube_privacy": "public"}, {"video": "VIDEO"}, "targets.title"),  # YouTube needs a title
    ("tiktok", {"privacy_level": "SELF_ONLY"}, {"video": "VIDEO"}, "targets.privacy_level"),  # Buffer cannot carry it
    ("linkedin", {"linkedin_visibility": "CONNECTIONS"}, {}, "targets.linkedin_visibility"),
    ("youtube", {"title": "Cold", "youtube_privacy": "public", "tags": ["a"]}, {"video": "VIDEO"}, "targets.tags"),
])
def test_each_networks_rules_and_buffers_are_applied_before_approval(buffer, service, target, brief, field):
    from shared.errors import ValidationError

    register_channel(buffer, f"buffer-{service}", service)
    if brief.get("video"):
        brief = {**brief, "video": upload_video(3000, f"in/{service}.mp4")}
    with pytest.raises(ValidationError) as info:
        generate(f"buffer-{service}", target, **brief)
    assert info.value.field == field
    assert buffer.count("createPost") == 0


def test_the_review_card_shows_what_buffer_gets_for_the_network(buffer):
    from shared.platforms.registry import adapter_for

    content = generate()
    from shared import services

    card = adapter_for("buffer").preview(content, content.targets[0], services.repository().get_account(ACCOUNT))
    fields = dict(card.fields)
    assert card.text == content.text() and "X channel" in fields["Sent through"]
    assert fields["Length"].endswith("of 280 (X's weighted count)") and "at once" in fields["When"]


def test_buffer_sends_share_now_so_the_post_goes_out_when_postgate_planned_it(buffer):
    content = generate(publish_at=(datetime.now(UTC) + timedelta(minutes=1)).isoformat())
    [due] = approve(buffer.env, content) or [None]
    assert due is None and buffer.posts == {}  # nothing reaches Buffer before the planned time
