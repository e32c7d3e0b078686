"""Instagram's reconcile, called directly the way the status poll calls it: it settles a
media_publish whose outcome is unknown by reading the container and the account's recent media,
and it never publishes anything itself."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import reconcile, upload_video
from tests.test_publish_instagram import _approved, _deliver, _draft, _images, _post, account, ig  # noqa: F401


def _reconcile(post_id: str, now=None):
    """The adapter's reconcile, with the context the status poll hands it."""
    from shared import services

    return reconcile(services.repository().get_post(post_id), now)


def _unknown_publish(account_env, ig, fault: dict, media_type: str = "IMAGE") -> str:
    ig.inject("media_publish", **fault)
    if media_type == "REELS":
        content = _draft("REELS", video=upload_video(64 * 1024, "in/reconcile.mp4"))
    elif media_type == "STORIES":
        content = _draft("STORIES", images=_story_image())
    else:
        content = _draft(media_type, images=_images(2 if media_type == "CAROUSEL" else 1))
    post_id = _approved(account_env, content)
    _deliver(post_id)
    post = _post(post_id)
    assert post.status == "processing" and post.unconfirmed
    return post_id


def _story_image() -> list[str]:
    from tests.conftest import jpeg_bytes, upload_object

    return [upload_object("in/story-1080x1920.jpg", jpeg_bytes(1080, 1920), "image/jpeg")]


@pytest.fixture
def counts(ig):
    """media_publish and container-create calls so far; reconcile must add none."""
    return lambda: (ig.count("media_publish"), ig.count("media"))


@pytest.mark.parametrize("media_type", ["IMAGE", "REELS", "CAROUSEL", "STORIES"])
def test_a_lost_publish_answer_is_found_with_its_media_id_and_permalink(account, ig, counts, media_type):
    post_id = _unknown_publish(account, ig, {"kind": "lost_response"}, media_type)
    before = counts()
    result = _reconcile(post_id)
    [media_id] = ig.posts
    assert result.state == "published" and result.platform_ids == {"media_id": media_id}
    assert result.share_url == ig.posts[media_id]["permalink"]
    assert counts() == before


def test_a_published_container_whose_media_is_not_listed_yet_is_pending(account, ig, counts):
    ig.listing_lag = 10
    post_id = _unknown_publish(account, ig, {"kind": "lost_response"})
    before = counts()
    result = _reconcile(post_id)
    assert result.state == "pending" and "PUBLISHED" in result.detail and "not listed" in result.detail
    assert counts() == before and len(ig.posts) == 1


def test_a_published_container_is_recorded_published_on_the_last_look_before_the_deadline(account, ig, counts):
    ig.listing_lag = 10
    post_id = _unknown_publish(account, ig, {"kind": "lost_response"})
    result = _reconcile(post_id, now=_post(post_id).poll_deadline - timedelta(seconds=30))
    assert result.state == "published" and result.platform_ids == {} and "not found" in result.detail


def test_a_container_still_finished_is_pending_and_never_published_by_reconcile(account, ig, counts):
    post_id = _unknown_publish(account, ig, {"kind": "server_error"})  # refused before publishing
    before = counts()
    for _ in range(3):
        result = _reconcile(post_id)
        assert result.state == "pending" and "FINISHED" in result.detail
    assert counts() == before and ig.posts == {}
    assert ig.count("media_list") == 0  # a same-caption media could only be somebody else's


def test_a_container_still_finished_long_after_the_call_is_proved_absent(account, ig, counts):
    post_id = _unknown_publish(account, ig, {"kind": "server_error"})
    before = counts()
    result = _reconcile(post_id, now=_post(post_id).create_sent_at + timedelta(minutes=16))
    assert result.state == "absent" and "still FINISHED" in result.detail
    assert counts() == before and ig.posts == {}


def test_an_expired_container_with_no_media_like_it_is_proved_absent(account, ig, counts):
    post_id = _unknown_publish(account, ig, {"kind": "server_error"})
    ig.expire_container(_post(post_id).platform_ids["container_id"])
    before = counts()
    result = _reconcile(post_id)
    assert result.state == "absent" and "EXPIRED" in result.detail
    assert counts() == before and ig.count("media_list", 200) == 1


def test_an_expired_container_is_not_called_absent_when_the_same_caption_went_out(account, ig):
    from shared.platforms.instagram.client import InstagramClient
    from tests.test_publish_instagram import IG_ID, TOKEN

    post_id = _unknown_publish(account, ig, {"kind": "server_error"})
    container_id = _post(post_id).platform_ids["container_id"]
    ig.expire_container(container_id)
    # The same text went out meanwhile from elsewhere (e.g. the app): publishing again would double it.
    client = InstagramClient(TOKEN, base_url=ig.graph_url)
    caption = ig.containers[container_id]["caption"]
    image_url = ig.requests_log[[e["endpoint"] for e in ig.requests_log].index("media")]["params"]["image_url"]
    other = client.create_container(IG_ID, {"image_url": image_url, "caption": caption})
    client.container_status(other)
    client.container_status(other)
    client.publish(IG_ID, other)
    result = _reconcile(post_id)
    assert result.state == "pending" and "a person should check" in result.detail


def test_a_lost_story_is_found_on_the_stories_edge_by_type_and_time(account, ig, counts):
    """A story has no caption to match and is not in the media edge: it is looked for in /stories."""
    post_id = _unknown_publish(account, ig, {"kind": "lost_response"}, "STORIES")
    result = _reconcile(post_id)
    [media_id] = ig.posts
    assert result.state == "published" and result.platform_ids == {"media_id": media_id}
    assert ig.count("stories", 200) == 1 and ig.count("media_list") == 0


def test_a_story_among_several_since_the_call_is_published_without_a_media_id(account, ig, counts):
    from shared.platforms.instagram.client import InstagramClient
    from tests.test_publish_instagram import IG_ID, TOKEN

    post_id = _unknown_publish(account, ig, {"kind": "lost_response"}, "STORIES")
    image_url = ig.requests_log[[e["endpoint"] for e in ig.requests_log].index("media")]["params"]["image_url"]
    client = InstagramClient(TOKEN, base_url=ig.graph_url)  # another story of the account, e.g. from the app
    other = client.create_container(IG_ID, {"media_type": "STORIES", "image_url": image_url})
    client.container_status(other)
    client.container_status(other)
    client.publish(IG_ID, other)
    before = counts()
    result = _reconcile(post_id)
    assert result.state == "published" and result.platform_ids == {} and "2 stories" in result.detail
    assert counts() == before
