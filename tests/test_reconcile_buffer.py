"""A createPost whose outcome is unknown is settled at Buffer: the post is looked up among the channel's
posts (text and assets), never created again; absent only when Buffer's answer proves it. Pipeline on
the emulators and the Buffer sandbox (fixtures from test_publish_buffer); reconcile() is called the way
the status poll calls it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.platforms.buffer.client import BufferClient, BufferPost
from shared.platforms.buffer.lookup import is_sent_post
from tests.conftest import jpeg_bytes, reconcile, upload_object
from tests.test_publish_buffer import (  # noqa: F401 - fixtures
    ACCOUNT,
    buffer,
    buffer_sandbox,
    deliver,
    generate,
    poll,
    publish,
    register_channel,
    stored_post,
)


def post_directly(box, text: str, channel: str | None = None) -> str:
    """A post made on the channel outside this publish attempt."""
    client = BufferClient(box.key, base_url=box.base_url)
    return client.create_post({"channelId": channel or box.channel_ids["twitter"], "text": text,
                               "schedulingType": "automatic", "mode": "shareNow"}).id


def due_now(post_id: str) -> None:
    """The poll's next look at the post is due (its backoff has passed)."""
    from shared import services
    from shared.runtime.clock import utcnow

    services.repository().update_fields(post_id, next_check_at=utcnow() - timedelta(seconds=1))


def test_lost_answer_is_found_by_text_and_assets_and_published_once(buffer):
    images = [upload_object("in/a.jpg", jpeg_bytes(), "image/jpeg")]
    content = generate(images=images, topic="Salt & pepper bottle, see https://example.com/cold")
    buffer.inject("createPost", "lost_response")
    post = publish(buffer, content)
    assert post.status == "processing" and post.unconfirmed and post.create_sent_at is not None
    [post_id] = buffer.posts
    result = reconcile(post)
    assert result.state == "published" and result.platform_ids == {"post_id": post_id}
    assert result.share_url == buffer.posts[post_id]["external_link"]
    assert buffer.count("createPost") == 1 and buffer.count("posts", 200) == 1  # looking never creates


def test_another_post_on_the_channel_is_not_taken_for_ours(buffer):
    buffer.inject("createPost", "server_error")  # refused before anything was stored: the outcome still unknown to us
    post = publish(buffer, generate())
    assert post.status == "processing" and post.unconfirmed and buffer.posts == {}
    post_directly(buffer, "Something else entirely")
    assert reconcile(post).state == "pending"
    assert buffer.count("createPost") == 2  # ours once (refused) and the other one; reconcile made none


def test_a_5xx_that_stored_nothing_is_absent_only_after_the_wait_and_then_published_again(buffer):
    from shared.platforms.buffer.settle import ABSENT_AFTER

    buffer.inject("createPost", "server_error")
    content = generate()
    post = publish(buffer, content)
    assert post.status == "processing" and post.unconfirmed and buffer.posts == {}
    assert deliver(post.id, message_id="again").status_code == 200 and buffer.count("createPost") == 1
    assert reconcile(post).state == "pending"
    assert reconcile(post, now=post.create_sent_at + ABSENT_AFTER - timedelta(seconds=1)).state == "pending"
    assert reconcile(post, now=post.create_sent_at + ABSENT_AFTER).state == "absent"
    assert buffer.count("createPost") == 1  # reconcile never creates


def test_a_found_post_buffer_is_still_sending_is_followed_by_its_id_until_sent(buffer, buffer_sandbox):
    buffer_sandbox.status_reads_before_sent = 3
    try:
        buffer.inject("createPost", "lost_response", how="error")
        content = generate()
        post = publish(buffer, content)
        [post_id] = buffer.posts
        first = reconcile(post)
        assert first.state == "pending" and first.platform_ids == {"post_id": post_id}
        poll()  # the poll keeps the id it was given and asks Buffer for that post from now on
        assert stored_post(content.id).platform_ids == {"post_id": post_id}
        due_now(post.id)
        poll()
        done = stored_post(content.id)
        assert done.status == "published" and done.platform_ids == {"post_id": post_id}
        assert buffer.count("createPost") == 1 and buffer.count("posts") >= 1 and buffer.count("post") >= 1
    finally:
        buffer_sandbox.status_reads_before_sent = 1


def test_a_found_post_that_buffer_could_not_send_fails_with_buffers_reason(buffer):
    buffer.inject("createPost", "send_error", message="Instagram refused the media")
    buffer.inject("createPost", "lost_response")
    content = generate()
    publish(buffer, content)
    poll()
    failed = stored_post(content.id)
    assert failed.status == "failed" and "Instagram refused the media" in failed.fail_reason
    assert buffer.count("createPost") == 1


def test_reconcile_asks_buffer_for_the_channels_organization_when_the_account_has_none(buffer):
    from shared import services

    buffer.inject("createPost", "lost_response")
    post = publish(buffer, generate())
    repo = services.repository()
    account = repo.get_account(ACCOUNT)
    repo.put_account(ACCOUNT, {k: v for k, v in account.items() if k != "buffer_organization_id"})
    [post_id] = buffer.posts
    assert reconcile(post).platform_ids == {"post_id": post_id}
    assert buffer.count("channel", 200) == 2  # the publish's channel check, then reconcile's


@pytest.mark.parametrize("held,ours", [
    ("Cold all day https://buff.ly/3xYz", True),  # Buffer shortened the link: still ours
    ("Cold all day", False),  # the link is missing
    ("Cold all night https://example.com/cold", False),
])
def test_a_post_is_ours_when_its_text_matches_with_links_as_links(held, ours):
    post = BufferPost(id="p", status="sent", text=held, channel_id="c", service="twitter", created_at=None,
                      due_at=None, sent_at=None, external_link=None, error=None, asset_urls=(), asset_types=())
    assert is_sent_post(post, "c", "Cold all day https://example.com/cold", []) is ours
    assert not is_sent_post(post, "other-channel", held, [])
