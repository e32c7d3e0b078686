"""A create on X whose outcome is unknown is settled at the platform edge: looked up on the account's
timeline, never posted again. Pipeline on the emulators and the X sandbox (fixtures from
test_publish_x); reconcile() is called the way the status poll calls it."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from tests.conftest import approve, jpeg_bytes, reconcile, upload_object
from tests.test_publish_x import HANDLE, _deliver, _generate, _poll, _post, _publish, x, x_sandbox  # noqa: F401 - fixtures


def _reconcile(post, *, now=None):
    """The adapter's reconcile, with the context the status poll hands it."""
    return reconcile(post, now)


def _tweet_directly(x, text: str) -> str:
    """A post made on the account outside this publish attempt (e.g. an earlier one whose answer was lost)."""
    import requests

    answer = requests.post(x.base_url + "/2/tweets", json={"text": text}, timeout=10,
                           headers={"Authorization": f"Bearer {x.tokens['access_token']}"})
    assert answer.status_code == 201
    return answer.json()["data"]["id"]


# ---- the create was carried out, its answer lost ----

@pytest.mark.parametrize("how", ["error", "drop"])
def test_create_stored_but_answer_lost_ends_published_once_by_the_status_poll(x, how):
    """End to end: waits on the core (publisher: unconfirmed; status poll: reconcile)."""
    x.inject("create_post", "lost_response", how=how)
    content = _generate()
    post = _publish(x, content)
    assert post.status == "processing" and post.unconfirmed
    assert len(x.posts) == 1 and x.count("create_post") == 1  # stored by X, and never sent again
    _poll()
    post = _post(content.id)
    [tweet_id] = x.posts
    assert post.status == "published" and post.platform_ids["tweet_id"] == tweet_id
    assert post.share_url == f"https://x.com/{HANDLE}/status/{tweet_id}"
    assert x.count("create_post") == 1 and len(x.posts) == 1


def test_reconcile_finds_the_post_whose_answer_was_lost_by_text_and_media(x):
    images = [upload_object("in/a.jpg", jpeg_bytes(), "image/jpeg")]
    content = _generate(images=images, topic="Salt & <pepper> bottle, see https://example.com/cold")
    x.inject("create_post", "lost_response")
    post = _publish(x, content)
    assert post.create_sent_at is not None and post.platform_ids["media_ids"]  # saved before the create
    [tweet_id] = x.posts
    assert x.posts[tweet_id]["media_ids"] == post.platform_ids["media_ids"].split(",")
    result = _reconcile(post)
    assert result.state == "published" and result.platform_ids == {"tweet_id": tweet_id}
    assert result.share_url == f"https://x.com/{HANDLE}/status/{tweet_id}"
    assert x.count("create_post") == 1  # looking never posts
    assert x.count("user_posts", 200) == 1


def test_reconcile_does_not_take_another_post_for_ours(x):
    x.inject("create_post", "server_error")  # refused before anything was stored
    post = _publish(x, _generate())
    assert post.status == "processing" and post.unconfirmed and x.posts == {}
    _tweet_directly(x, "Something else entirely")
    assert _reconcile(post).state == "pending"
    assert x.count("create_post") == 2  # ours once (refused) and the other one; reconcile made none


# ---- a duplicate refusal is a lookup, not a failure ----

def test_duplicate_refusal_is_looked_up_and_confirmed_not_failed(x):
    """An earlier attempt of this approval posted, its answer was lost: X refuses the new create as
    duplicate content and names no post, so the timeline is read back to the approval."""
    content = _generate()
    [due] = approve(x.env, content)
    earlier = _tweet_directly(x, content.text())
    assert _deliver(due.id).status_code == 200
    post = _post(content.id)
    assert x.count("create_post", 403) == 1 and len(x.posts) == 1
    assert post.status == "processing" and post.unconfirmed  # waits on the core; today: failed
    result = _reconcile(post)
    assert result.state == "published" and result.platform_ids == {"tweet_id": earlier}
    _poll()
    post = _post(content.id)
    assert post.status == "published" and post.platform_ids["tweet_id"] == earlier and len(x.posts) == 1


def test_duplicate_of_a_post_from_before_the_approval_fails_once_the_wait_is_over(x, monkeypatch):
    from shared.runtime.clock import utcnow

    content = _generate()
    monkeypatch.setattr(x, "_clock", lambda: time.time() - 3600)  # posted an hour before the approval
    _tweet_directly(x, content.text())
    monkeypatch.setattr(x, "_clock", time.time)
    [due] = approve(x.env, content)
    _deliver(due.id)
    post = _post(content.id)
    assert post.platform_ids.get("create_refused") == "duplicate"
    assert _reconcile(post).state == "pending"  # our own post could still be on its way to the timeline
    later = _reconcile(post, now=utcnow() + timedelta(minutes=16))
    assert later.state == "failed" and "duplicate" in later.fail_reason
    assert x.count("create_post") == 2 and len(x.posts) == 1


# ---- absent only when the timeline proves it ----

def test_a_5xx_that_stored_nothing_is_absent_only_after_the_wait(x):
    from shared.platforms.x.adapter import ABSENT_AFTER

    x.inject("create_post", "server_error")
    post = _publish(x, _generate())
    assert post.status == "processing" and post.unconfirmed  # not re-sent: a 5xx proves nothing
    assert x.count("create_post") == 1 and x.posts == {}
    assert _reconcile(post).state == "pending"
    assert _reconcile(post, now=post.create_sent_at + ABSENT_AFTER - timedelta(seconds=1)).state == "pending"
    assert _reconcile(post, now=post.create_sent_at + ABSENT_AFTER).state == "absent"
    assert x.count("create_post") == 1  # reconcile never creates


def test_reconcile_asks_x_who_the_user_is_when_the_account_has_no_user_id(x):
    from shared import services

    x.inject("create_post", "lost_response")
    post = _publish(x, _generate())
    repo = services.repository()
    account = repo.get_account(post.account_id)
    repo.put_account(post.account_id, {k: v for k, v in account.items() if k != "platform_account_id"})
    [tweet_id] = x.posts
    assert _reconcile(post).platform_ids == {"tweet_id": tweet_id}
    assert x.count("users_me", 200) == 1 and x.count("create_post") == 1
