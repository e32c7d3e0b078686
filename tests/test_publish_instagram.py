"""Publishing to Instagram through the real pipeline: generate -> approve -> publish_instagram
function -> Graph API sandbox (which fetches the media through V4 signed URLs served by the
storage emulator) -> status poll, on the emulators. A media_publish whose outcome is unknown leaves
the post `processing` and unconfirmed; the status poll settles it by looking the media up."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import timedelta

import pytest

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

ACCOUNT = "ig-main"
IG_ID = "17841400000000077"
TOKEN = "EAAGpipeline-access-token"
LONG = "EAAGpipeline-long-lived-user-token"
CLIENT = {"client_id": "postgate-app", "client_secret": "postgate-app-secret"}
SECRET = f"instagram-account-{ACCOUNT}"


@pytest.fixture(scope="module")
def ig(stack_env, tmp_path_factory):
    from infra.local.sandboxes.instagram import InstagramSandbox
    from infra.local.signing_key import write_local_signing_key
    from shared import services

    box = InstagramSandbox(status_checks_before_finished=1, clients={CLIENT["client_id"]: CLIENT["client_secret"]})
    box.start()
    key = write_local_signing_key(tmp_path_factory.mktemp("ig-signing") / "key.json", "test-project")
    settings = {
        **box.settings,  # graph.facebook.com and graph.instagram.com, each serving its own login's tokens
        "POSTGATE_INSTAGRAM_CONTAINER_POLL_SECONDS": "0",
        "POSTGATE_INSTAGRAM_CONTAINER_WAIT_SECONDS": "2",
        "POSTGATE_SIGNED_URL_ENDPOINT": os.environ["STORAGE_EMULATOR_HOST"],
        "POSTGATE_URL_SIGNING_KEY_FILE": str(key),
    }
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
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
def account(env, ig):
    ig.reset()
    ig.status_checks_before_finished = 1
    ig.listing_lag = 0
    ig.add_account(TOKEN, LONG, ig_user_id=IG_ID, username="brand")
    register_account(ACCOUNT, "instagram", {"access_token": TOKEN, "refresh_token": LONG, **CLIENT},
                     platform_account_id=IG_ID, handle="brand")
    return env


def _target(media_type: str | None, **fields) -> dict:
    target = {"account_id": ACCOUNT, **fields}
    if media_type:
        target["instagram_media_type"] = media_type
    return target


def _images(n: int, width: int = 1080, height: int = 1080) -> list[str]:
    return [upload_object(f"in/ig-{i}-{width}x{height}.jpg", jpeg_bytes(width, height), "image/jpeg") for i in range(n)]


def _draft(media_type: str, *, images: list[str] | None = None, video: str | None = None, **target_fields):
    from shared import entrypoints

    return entrypoints.generate(generic_brief([_target(media_type, **target_fields)], images=images, video=video))


def _deliver(post_id: str, message_id: str = "1"):
    client = function_client("functions/publish_instagram/main.py", "publish_instagram")
    return client.post("/", json=pubsub_envelope({"post_id": post_id}, message_id))


def _approved(env, content) -> str:
    [due] = approve(env, content)
    return due.id


def _post(post_id: str):
    from shared import services

    return services.repository().get_post(post_id)


def _poll(now=None):
    from shared import services
    from shared.publishing.status_poll import poll_once
    from shared.runtime.config import get_config

    return poll_once(repo=services.repository(), config=get_config(), secrets=services.secrets(),
                     bq=services.bigquery(), now=now)


def _unconfirmed(post_id: str):
    post = _post(post_id)
    assert post.status == "processing" and post.unconfirmed, (post.status, post.fail_reason)
    return post


def _after_deadline(post_id: str):
    return _post(post_id).poll_deadline + timedelta(seconds=1)


def _params(ig, endpoint: str) -> list[dict]:
    return [e["params"] for e in ig.requests_log if e["endpoint"] == endpoint and e["status"] == 200]


# ---- happy path and every media kind -------------------------------------------------------
def test_image_post_is_published_and_confirmed_with_its_permalink(account, ig):
    content = _draft("IMAGE", images=_images(1), alt_text="A steel bottle on a desk")
    post_id = _approved(account, content)
    assert _deliver(post_id).status_code == 200
    post = _post(post_id)
    assert post.status == "published"
    media = ig.posts[post.platform_ids["media_id"]]
    assert media["media_type"] == "IMAGE" and media["caption"] == content.text()
    assert media["alt_text"] == "A steel bottle on a desk"
    assert post.share_url == media["permalink"] and post.platform_ids["container_id"] == media["container_id"]
    assert ig.count("media_publish") == 1
    assert _poll().logged == 1 and _post(post_id).publish_log_written


def test_reel_is_published_from_the_video_with_share_to_feed(account, ig):
    content = _draft("REELS", video=upload_video(256 * 1024, "in/reel.mp4"), share_to_feed=False)
    post_id = _approved(account, content)
    _deliver(post_id)
    post = _post(post_id)
    assert post.status == "published"
    media = ig.posts[post.platform_ids["media_id"]]
    assert (media["media_type"], media["media_product_type"], media["is_shared_to_feed"]) == ("VIDEO", "REELS", False)
    assert ig.fetches[-1]["bytes"] == 256 * 1024 and ig.fetches[-1]["content_type"] == "video/mp4"


def test_carousel_is_published_from_the_images_in_order(account, ig):
    content = _draft("CAROUSEL", images=_images(3))
    post_id = _approved(account, content)
    _deliver(post_id)
    post = _post(post_id)
    assert post.status == "published"
    media = ig.posts[post.platform_ids["media_id"]]
    children = post.platform_ids["children"].split(",")
    assert media["media_type"] == "CAROUSEL_ALBUM" and [c["id"] for c in media["children"]] == children
    assert [f["url_path"].rsplit("/", 1)[-1] for f in ig.fetches] == [f"ig-{i}-1080x1080.jpg" for i in range(3)]
    assert ig.count("media") == 4 and ig.count("media_publish") == 1


def test_image_story_is_published_full_screen_without_a_caption(account, ig):
    content = _draft("STORIES", images=_images(1, 1080, 1920))
    post_id = _approved(account, content)
    assert _deliver(post_id).status_code == 200
    post = _post(post_id)
    assert post.status == "published", post.fail_reason
    story = ig.posts[post.platform_ids["media_id"]]
    assert (story["media_type"], story["media_product_type"], story["caption"]) == ("IMAGE", "STORY", None)
    [create] = _params(ig, "media")
    assert set(create) == {"media_type", "image_url"} and create["media_type"] == "STORIES"
    assert post.share_url == story["permalink"]


def test_video_story_is_published_from_the_video(account, ig):
    from tests.media_samples import timed_mp4

    video = upload_object("in/story.mp4", timed_mp4(15), "video/mp4")
    post_id = _approved(account, _draft("STORIES", video=video, images=_images(2)))  # the video wins over images
    _deliver(post_id)
    post = _post(post_id)
    assert post.status == "published", post.fail_reason
    story = ig.posts[post.platform_ids["media_id"]]
    assert (story["media_type"], story["media_product_type"]) == ("VIDEO", "STORY")
    assert set(_params(ig, "media")[0]) == {"media_type", "video_url"}


def test_story_video_longer_than_60_seconds_fails_before_any_container(account, ig):
    from tests.media_samples import timed_mp4

    post_id = _approved(account, _draft("STORIES", video=upload_object("in/long.mp4", timed_mp4(75), "video/mp4")))
    _deliver(post_id)
    post = _post(post_id)
    assert post.status == "failed" and "75.0 s" in post.fail_reason and "3-60" in post.fail_reason
    assert ig.count("media") == 0 and ig.posts == {}


def test_review_card_of_a_story_says_no_caption_is_shown(account, ig):
    from shared.platforms.instagram.adapter import preview

    content = _draft("STORIES", images=_images(1, 1080, 1920))
    card = preview(content, content.targets[0], {"platform_account_id": IG_ID})
    assert card.text_label == "Caption" and "no caption" in card.text and content.text() not in card.text
    assert card.fields == [("Post type", "story from the image (visible for 24 hours)")]
    assert [m.uri for m in card.media] == [m.uri for m in content.media]


def test_slow_container_is_handed_to_the_status_poll_which_publishes_it_once(account, ig, monkeypatch):
    from shared import services
    from shared.runtime.clock import utcnow

    monkeypatch.setenv("POSTGATE_INSTAGRAM_CONTAINER_WAIT_SECONDS", "0")
    services.reset()
    ig.status_checks_before_finished = 3
    post_id = _approved(account, _draft("REELS", video=upload_video(128 * 1024, "in/slow.mp4")))
    _deliver(post_id)
    post = _post(post_id)
    assert post.status == "processing" and post.platform_ids["container_id"]
    assert ig.count("media_publish") == 0
    for minute in range(1, 8):
        _poll(now=utcnow() + timedelta(minutes=minute))
        if _post(post_id).status != "processing":
            break
    post = _post(post_id)
    assert post.status == "published" and post.platform_ids["media_id"] in ig.posts
    assert post.share_url == ig.posts[post.platform_ids["media_id"]]["permalink"]
    assert ig.count("media_publish") == 1 and post.publish_log_written


def test_a_container_already_published_is_confirmed_without_a_second_publish(account, ig, monkeypatch):
    from shared import services
    from shared.platforms.instagram.client import InstagramClient
    from shared.runtime.clock import utcnow

    monkeypatch.setenv("POSTGATE_INSTAGRAM_CONTAINER_WAIT_SECONDS", "0")
    services.reset()
    post_id = _approved(account, _draft("IMAGE", images=_images(1)))
    _deliver(post_id)
    container = _post(post_id).platform_ids["container_id"]
    client = InstagramClient(TOKEN, base_url=ig.graph_url)
    client.container_status(container)
    client.publish(IG_ID, container)  # e.g. an earlier attempt whose reply was lost
    _poll(now=utcnow() + timedelta(minutes=1))
    post = _post(post_id)
    [media_id] = ig.posts
    assert post.status == "published" and post.platform_ids["media_id"] == media_id
    assert post.share_url == ig.posts[media_id]["permalink"]
    assert ig.count("media_publish") == 1 and len(ig.posts) == 1


# ---- transient ------------------------------------------------------------------------------
def test_transient_failures_are_retried_in_process_and_the_post_goes_out(account, ig):
    ig.inject("publishing_limit", "rate_limit", code=17)
    ig.inject("media", "server_error")
    ig.inject("container_status", "error", code=-2, subcode=2207003, message="It takes too long to download the media.")
    ig.inject("media_publish", "rate_limit", code=17)  # a throttle is answered before anything is done
    post_id = _approved(account, _draft("IMAGE", images=_images(1)))
    assert _deliver(post_id).status_code == 200
    assert _post(post_id).status == "published"
    assert ig.count("publishing_limit", 400) == 1 and ig.count("media", 500) == 1 and ig.count("media_publish", 400) == 1
    assert ig.count("media_publish", 200) == 1 and len(ig.posts) == 1


@pytest.mark.parametrize("via", ["drop", "server_error"])
def test_lost_publish_answer_leaves_the_post_unconfirmed_and_the_poll_finds_its_media(account, ig, via):
    ig.inject("media_publish", "lost_response", via=via)
    post_id = _approved(account, _draft("IMAGE", images=_images(1)))
    assert _deliver(post_id).status_code == 200
    post = _unconfirmed(post_id)
    assert post.create_sent_at and post.platform_ids["container_id"] and "media_id" not in post.platform_ids
    summary = _poll()
    post = _post(post_id)
    [media_id] = ig.posts
    assert summary.published == 1 and post.status == "published" and not post.unconfirmed
    assert post.platform_ids["media_id"] == media_id and post.share_url == ig.posts[media_id]["permalink"]
    assert ig.count("media_publish") == 1 and len(ig.posts) == 1 and post.publish_log_written


def test_already_published_refusal_is_looked_up_not_failed(account, ig):
    # The publish went through but the answer is a refusal (as a re-sent publish of the same
    # container would get): the post is live, so it is settled by lookup, never failed.
    ig.inject("media_publish", "error", code=100, message="The media container has already been published",
              after_accept=True)
    post_id = _approved(account, _draft("IMAGE", images=_images(1)))
    _deliver(post_id)
    _unconfirmed(post_id)
    _poll()
    post = _post(post_id)
    assert post.status == "published" and post.platform_ids["media_id"] in ig.posts and len(ig.posts) == 1


def test_published_media_not_listed_yet_is_looked_up_again(account, ig):
    ig.listing_lag = 1
    ig.inject("media_publish", "lost_response")
    post_id = _approved(account, _draft("REELS", video=upload_video(64 * 1024, "in/lag.mp4")))
    _deliver(post_id)
    assert _poll().waiting == 1 and _unconfirmed(post_id)
    _poll(now=_post(post_id).next_check_at)
    post = _post(post_id)
    [media_id] = ig.posts
    assert post.status == "published" and post.platform_ids["media_id"] == media_id
    assert ig.posts[media_id]["media_product_type"] == "REELS" and ig.count("media_publish") == 1


def test_server_error_at_media_publish_is_not_sent_again_until_the_container_proves_it_unpublished(account, ig):
    ig.inject("media_publish", "server_error")  # refused before publishing, but we cannot know that yet
    post_id = _approved(account, _draft("IMAGE", images=_images(1)))
    _deliver(post_id)
    sent_at = _unconfirmed(post_id).create_sent_at
    _poll()  # right after the call the container still reads FINISHED: maybe still taking effect
    assert _unconfirmed(post_id).platform_ids["container_id"] in ig.containers
    _deliver(post_id, message_id="redelivered")  # a duplicate delivery does not publish either
    assert ig.count("media_publish") == 1 and ig.posts == {}
    # 15 minutes on, still FINISHED: a published container reads PUBLISHED, so this one never went out.
    assert _poll(now=sent_at + timedelta(minutes=16)).requeued == 1
    assert _deliver(post_id, message_id="again").status_code == 200
    post = _post(post_id)
    [media_id] = ig.posts
    assert post.status == "published" and post.platform_ids["media_id"] == media_id
    assert ig.count("media_publish", 200) == 1


def test_unknown_publish_whose_container_expired_unpublished_is_published_again_once(account, ig):
    ig.inject("media_publish", "server_error")
    post_id = _approved(account, _draft("IMAGE", images=_images(1)))
    _deliver(post_id)
    first_container = _unconfirmed(post_id).platform_ids["container_id"]
    ig.expire_container(first_container)  # 24 h later: the container never went out
    assert _poll().requeued == 1
    post = _post(post_id)
    assert post.status == "queued" and not post.unconfirmed and post.create_sent_at is None
    assert _deliver(post_id, message_id="again").status_code == 200
    post = _post(post_id)
    [media_id] = ig.posts
    assert post.status == "published" and post.platform_ids["media_id"] == media_id
    assert post.platform_ids["container_id"] != first_container and ig.count("media_publish", 200) == 1


def test_lost_answer_to_a_publish_sent_by_the_status_poll_is_looked_up_not_sent_again(account, ig, monkeypatch):
    from shared import services
    from shared.runtime.clock import utcnow

    monkeypatch.setenv("POSTGATE_INSTAGRAM_CONTAINER_WAIT_SECONDS", "0")
    services.reset()
    ig.status_checks_before_finished = 2
    post_id = _approved(account, _draft("IMAGE", images=_images(1)))
    _deliver(post_id)
    assert _post(post_id).status == "processing" and not _post(post_id).unconfirmed
    ig.inject("media_publish", "lost_response")
    for minute in range(1, 8):
        _poll(now=utcnow() + timedelta(minutes=minute))
        if _post(post_id).status != "processing":
            break
    post = _post(post_id)
    [media_id] = ig.posts
    assert post.status == "published" and post.platform_ids["media_id"] == media_id
    assert ig.count("media_publish") == 1


def test_long_throttle_releases_the_post_for_redelivery_after_the_buc_wait(account, ig):
    ig.inject("publishing_limit", "rate_limit", code=4, regain_minutes=30)
    post_id = _approved(account, _draft("IMAGE", images=_images(1)))
    assert _deliver(post_id).status_code >= 500  # Pub/Sub redelivers later
    post = _post(post_id)
    assert post.status == "queued" and post.next_attempt_at is not None
    assert ig.count("publishing_limit") == 1 and ig.count("media") == 0


def test_publishing_cap_parks_the_post_without_creating_a_container(account, ig):
    ig.set_quota_usage(IG_ID, 100)
    post_id = _approved(account, _draft("IMAGE", images=_images(1)))
    assert _deliver(post_id).status_code == 200
    post = _post(post_id)
    assert post.status == "queued" and post.next_attempt_at is not None
    assert ig.count("media") == 0 and ig.posts == {}


# ---- permanent -----------------------------------------------------------------------------
def test_refused_image_fails_once_with_instagrams_reason_and_no_retry_storm(account, ig):
    post_id = _approved(account, _draft("IMAGE", images=_images(1, 1080, 1920)))  # 9:16 is outside 4:5..1.91:1
    assert _deliver(post_id).status_code == 200
    post = _post(post_id)
    assert post.status == "failed"
    assert "aspect ratio" in post.fail_reason and "36003/2207009" in post.fail_reason
    assert ig.count("media") == 1
    assert _deliver(post_id, message_id="again").status_code == 200
    assert ig.count("media") == 1 and ig.posts == {}


def test_container_processing_error_fails_the_post_with_the_status_reason(account, ig):
    ig.inject("media", "container_error", subcode=2207026)
    post_id = _approved(account, _draft("REELS", video=upload_video(64 * 1024, "in/bad.mp4")))
    _deliver(post_id)
    post = _post(post_id)
    assert post.status == "failed" and "2207026" in post.fail_reason
    assert ig.count("media_publish") == 0


def test_spam_block_at_publish_is_looked_up_and_found_when_the_media_went_out(account, ig):
    # 4 / 2207051: "the media may already be published" (docs/platforms.md#instagram-errors)
    ig.inject("media_publish", "error", code=4, subcode=2207051,
              message="We restrict certain activity to protect our community.", after_accept=True)
    post_id = _approved(account, _draft("CAROUSEL", images=_images(2)))
    _deliver(post_id)
    assert "restrict" in _unconfirmed(post_id).history[-1].reason
    _poll()
    post = _post(post_id)
    [media_id] = ig.posts
    assert post.status == "published" and post.platform_ids["media_id"] == media_id
    assert ig.posts[media_id]["media_type"] == "CAROUSEL_ALBUM" and ig.count("media_publish") == 1


# ---- duplicate delivery --------------------------------------------------------------------
def test_three_sequential_and_two_concurrent_deliveries_make_one_instagram_post(account, ig):
    post_id = _approved(account, _draft("CAROUSEL", images=_images(2)))
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def deliver(message_id: str):
        barrier.wait()
        codes.append(_deliver(post_id, message_id).status_code)

    threads = [threading.Thread(target=deliver, args=(f"c{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for _ in range(3):
        codes.append(_deliver(post_id, "same").status_code)
    assert codes == [200] * 5
    assert len(ig.posts) == 1 and ig.count("media_publish") == 1 and ig.count("media") == 3
    assert _post(post_id).status == "published" and _post(post_id).attempt_count == 1


# ---- contract ------------------------------------------------------------------------------
def test_client_keeps_the_graph_contract_on_every_call(account, ig):
    content = _draft("IMAGE", images=_images(1, 1080, 1350), alt_text="Alt")
    post_id = _approved(account, content)
    _deliver(post_id)
    post = _post(post_id)
    assert post.status == "published"
    log = ig.requests_log
    assert all(e["status"] == 200 and e["auth"] == "header" and e["path"].startswith("/v25.0/") for e in log)
    assert [e["endpoint"] for e in log] == ["publishing_limit", "media", "container_status", "container_status",
                                             "media_publish", "media_read"]
    assert _params(ig, "publishing_limit") == [{"fields": "quota_usage,config"}]
    [create] = _params(ig, "media")
    assert set(create) == {"image_url", "caption", "alt_text"} and create["caption"] == content.text()
    assert "X-Goog-Signature=" in create["image_url"] and create["image_url"].startswith(os.environ["STORAGE_EMULATOR_HOST"])
    assert {e["content_type"] for e in log if e["method"] == "POST"} == {"application/x-www-form-urlencoded"}
    assert _params(ig, "media_publish") == [{"creation_id": post.platform_ids["container_id"]}]
    assert _params(ig, "container_status")[0] == {"fields": "id,status_code,status"}
    assert ig.fetches == [{"url_path": "/test-media/in/ig-0-1080x1350.jpg", "status": 200,
                           "bytes": len(jpeg_bytes(1080, 1350)), "content_type": "image/jpeg"}]
    assert TOKEN not in json.dumps(log)


# ---- AI disclosure: is_ai_generated (Meta's Instagram changelog, 2026-06-22, "AI Info Label") ---------
def _ai_made(content, *names: str):
    """The item with the named media recorded as made by our AI generation (as the generator stores
    its image), pending approval again."""
    from shared import services
    from shared.content.versions import reopen_for_approval

    media = [m.model_copy(update={"ai_generated": True}) if m.name in names else m for m in content.media]
    return reopen_for_approval(services.repository(), content.id, expected_hash=content.content_hash,
                               reason="our AI made it", media=media)


def test_container_of_ai_made_media_carries_is_ai_generated_and_the_teams_does_not(account, ig):
    team = _draft("IMAGE", images=_images(1))
    _deliver(_approved(account, team))
    [create] = _params(ig, "media")
    assert "is_ai_generated" not in create
    ig.reset()
    ig.add_account(TOKEN, LONG, ig_user_id=IG_ID, username="brand")
    uri = upload_object("in/gen.jpg", jpeg_bytes(1080, 1080), "image/jpeg")
    ours = _ai_made(_draft("IMAGE", images=[uri]), "in/gen.jpg")
    post_id = _approved(account, ours)
    _deliver(post_id)
    post = _post(post_id)
    assert post.status == "published", post.fail_reason
    [create] = _params(ig, "media")
    assert create["is_ai_generated"] == "true"
    assert ig.posts[post.platform_ids["media_id"]]["is_ai_generated"] is True


def test_carousel_with_an_ai_made_image_is_labelled_on_the_carousel_container_only(account, ig):
    uris = _images(2) + [upload_object("in/gen.jpg", jpeg_bytes(1080, 1080), "image/jpeg")]
    content = _ai_made(_draft("CAROUSEL", images=uris), "in/gen.jpg")
    post_id = _approved(account, content)
    _deliver(post_id)
    post = _post(post_id)
    assert post.status == "published", post.fail_reason
    *items, parent = _params(ig, "media")
    assert len(items) == 3 and not any("is_ai_generated" in item for item in items)
    assert parent["media_type"] == "CAROUSEL" and parent["is_ai_generated"] == "true"
    assert ig.posts[post.platform_ids["media_id"]]["is_ai_generated"] is True


# ---- tokens --------------------------------------------------------------------------------
IG_TOKEN, IG_LONG = "IGAApipeline-access-token", "IGAApipeline-long-lived-token"


def _instagram_login(account_env, ig, *, record_on_account: bool = True, **secret):
    """The account as connect leaves it after Business Login for Instagram: tokens valid on
    graph.instagram.com only, the login recorded in the secret and on the account."""
    ig.add_account(IG_TOKEN, IG_LONG, ig_user_id=IG_ID, username="brand", login="instagram")
    fields = {"instagram_login": "instagram"} if record_on_account else {}
    register_account(ACCOUNT, "instagram", {"access_token": IG_TOKEN, "refresh_token": IG_LONG, "login": "instagram",
                                            **CLIENT, **secret}, platform_account_id=IG_ID, handle="brand", **fields)


def _hosts(ig) -> set[str]:
    return {e["host"] for e in ig.requests_log}


@pytest.mark.parametrize("recorded", ["account and secret", "account only", "secret only"])
def test_instagram_login_account_publishes_on_graph_instagram_com(account, ig, recorded):
    from shared import services

    _instagram_login(account, ig, record_on_account=recorded != "secret only")
    if recorded == "account only":  # e.g. an operator replaced the secret by hand with the bare tokens
        services.secrets().add_version(SECRET, json.dumps({"access_token": IG_TOKEN, "refresh_token": IG_LONG, **CLIENT}))
    post_id = _approved(account, _draft("IMAGE", images=_images(1)))
    assert _deliver(post_id).status_code == 200
    post = _post(post_id)
    assert post.status == "published", post.fail_reason
    assert _hosts(ig) == {"graph.instagram.com"} and all(e["status"] == 200 for e in ig.requests_log)
    assert [e["endpoint"] for e in ig.requests_log] == ["publishing_limit", "media", "container_status",
                                                        "container_status", "media_publish", "media_read"]


def test_facebook_login_account_and_one_without_a_recorded_login_publish_on_graph_facebook_com(account, ig):
    post_id = _approved(account, _draft("IMAGE", images=_images(1)))  # the `account` fixture records no login
    _deliver(post_id)
    assert _post(post_id).status == "published" and _hosts(ig) == {"graph.facebook.com"}


def test_instagram_login_rejected_token_is_refreshed_with_ig_refresh_token_and_written_back(account, ig):
    from shared import services

    _instagram_login(account, ig)
    ig.revoke_token(IG_TOKEN)  # 190 / 460: the session was invalidated
    post_id = _approved(account, _draft("IMAGE", images=_images(1)))
    assert _deliver(post_id).status_code == 200
    assert _post(post_id).status == "published"
    assert ig.count("ig_refresh", 200) == 1 and ig.count("fb_token") == 0
    assert _hosts(ig) == {"graph.instagram.com"}
    stored = json.loads(services.secrets().access(SECRET))
    assert stored["access_token"] not in (IG_TOKEN, IG_LONG) and ig.is_token_valid(stored["access_token"])
    assert stored["login"] == "instagram"
    assert stored["refresh_token"] == stored["access_token"] and stored["expires_at"] > 0
    assert stored["client_id"] == CLIENT["client_id"]  # the rest of the secret is kept
    # The next post uses the stored token straight away: no second refresh.
    other = _approved(account, _draft("IMAGE", images=_images(1, 1200, 1000)))
    _deliver(other, "2")
    assert _post(other).status == "published" and ig.count("ig_refresh") == 1


def test_instagram_login_token_is_refreshed_a_week_before_it_expires(account, ig):
    from shared import services
    from shared.platforms.instagram.adapter import REFRESH_AHEAD_SECONDS

    _instagram_login(account, ig, expires_at=int(time.time() + REFRESH_AHEAD_SECONDS - 3600))
    post_id = _approved(account, _draft("IMAGE", images=_images(1)))
    _deliver(post_id)
    assert _post(post_id).status == "published"
    assert [(e["endpoint"], e["host"]) for e in ig.requests_log][:2] == [("ig_refresh", "graph.instagram.com"),
                                                                         ("publishing_limit", "graph.instagram.com")]
    stored = json.loads(services.secrets().access(SECRET))
    assert stored["access_token"] != IG_TOKEN and stored["expires_at"] > time.time() + 50 * 86400


def test_facebook_login_token_near_expiry_is_kept_not_exchanged_and_reconnect_is_asked_for(account, ig):
    from shared import services
    from shared.platforms.instagram.adapter import REFRESH_AHEAD_SECONDS

    expires_at = int(time.time() + REFRESH_AHEAD_SECONDS - 3600)
    register_account(ACCOUNT, "instagram", {"access_token": TOKEN, "refresh_token": LONG, "expires_at": expires_at,
                                            **CLIENT}, platform_account_id=IG_ID, handle="brand")
    post_id = _approved(account, _draft("IMAGE", images=_images(1)))
    _deliver(post_id)
    assert _post(post_id).status == "published"
    assert ig.count("fb_token") == 0 and ig.count("me", 200) == 1  # checked, not exchanged
    stored = json.loads(services.secrets().access(SECRET))
    assert stored["access_token"] == TOKEN and stored["refresh_token"] == "" and stored["expires_at"] == expires_at
    assert stored["reconnect_by"]
    # Still in the window, but nothing is refreshed again; once Meta rejects the token, reconnect.
    other = _approved(account, _draft("IMAGE", images=_images(1, 1200, 1000)))
    _deliver(other, "2")
    assert _post(other).status == "published" and ig.count("me") == 1
    ig.revoke_token(TOKEN)
    third = _approved(account, _draft("IMAGE", images=_images(1, 1000, 1000)))
    _deliver(third, "3")
    assert _post(third).status == "failed" and "reconnect" in _post(third).fail_reason


def test_token_that_cannot_be_refreshed_fails_the_post_asking_to_reconnect(account, ig):
    ig.revoke_token(TOKEN)
    ig.revoke_token(LONG)
    post_id = _approved(account, _draft("IMAGE", images=_images(1)))
    assert _deliver(post_id).status_code == 200
    post = _post(post_id)
    assert post.status == "failed" and "reconnect" in post.fail_reason and ig.count("media") == 0
    assert ig.count("fb_token") == 0


# ---- validation at generation ----------------------------------------------------------------
@pytest.mark.parametrize("media_type,kwargs,field,limit", [
    (None, {"images": 1}, "targets.instagram_media_type", "IMAGE, REELS, CAROUSEL, STORIES"),
    ("IMAGE", {"images": 1, "hashtags": ["a", "b", "c", "d", "e", "f"]}, "hashtags", "5 hashtags"),
    ("IMAGE", {"images": 1, "caption_extra": "#g #h #i #j #k"}, "hashtags", "5 hashtags"),
    ("IMAGE", {"images": 2}, "images", "exactly 1 JPEG image"),
    ("IMAGE", {"png": True}, "images", "image/jpeg"),
    ("CAROUSEL", {"images": 1}, "images", "2-10 items"),
    ("REELS", {"images": 1}, "video", "MP4 or MOV"),
    ("REELS", {"video": True, "alt_text": "x"}, "targets.alt_text", "IMAGE"),
    ("STORIES", {"images": 2}, "images", "1 JPEG image or 1 MP4/MOV video"),
    ("STORIES", {"images": 1, "alt_text": "x"}, "targets.alt_text", "IMAGE"),
    ("STORIES", {"png": True}, "images", "image/jpeg"),
    ("IMAGE", {"images": 1, "hashtags": [f"{'x' * 450}{i}" for i in range(5)]}, "caption", "2200 characters"),
])
def test_generation_refuses_what_instagram_would_refuse(account, ig, media_type, kwargs, field, limit):
    from shared import entrypoints
    from shared.errors import ValidationError

    images = _images(kwargs.get("images", 0))
    if kwargs.get("png"):
        images = [upload_object("in/pic.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "image/png")]
    video = upload_video(64 * 1024, "in/v.mp4") if kwargs.get("video") else None
    target = _target(media_type, **({"alt_text": kwargs["alt_text"]} if "alt_text" in kwargs else {}))
    overrides = {"hashtags": kwargs["hashtags"]} if "hashtags" in kwargs else {}
    if "caption_extra" in kwargs:
        overrides["topic"] = "Our bottle keeps drinks cold all day " + kwargs["caption_extra"]
    with pytest.raises(ValidationError) as err:
        entrypoints.generate(generic_brief([target], images=images, video=video, **overrides))
    assert err.value.field == field and limit in err.value.limit
    assert ig.requests_log == []
