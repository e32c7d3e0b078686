"""TikTok: a publish whose outcome is unknown is settled by the status fetch on its publish_id, never
by a second init (issue 9: zero double posts, zero live posts recorded as failed).

Each test drives the real publish function against the sandbox, then either the real status poll
(end to end) or the adapter's reconcile with a StatusContext built as status_poll.py builds it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import approve, function_client, pubsub_envelope, reconcile

MiB = 1024 * 1024


def _deliver(post_id: str, message_id: str = "1"):
    client = function_client("functions/publish_tiktok/main.py", "publish_tiktok")
    return client.post("/", json=pubsub_envelope({"post_id": post_id}, message_id))


def _post(content_id: str):
    from shared import services

    [post] = services.repository().posts_for_content(content_id)
    return post


_TICKS = [0]


def _poll(at: datetime | None = None):
    from shared import services
    from shared.publishing.status_poll import poll_once
    from shared.runtime.config import get_config

    _TICKS[0] += 1  # each tick a little later than the last, so the post's next check is due (no sleeping)
    return poll_once(repo=services.repository(), config=get_config(), secrets=services.secrets(), bq=services.bigquery(),
                     now=at or datetime.now(UTC) + timedelta(seconds=10 * _TICKS[0]))


def _reconcile(post, now: datetime | None = None):
    """The adapter's reconcile, with the context the status poll hands it."""
    return reconcile(post, now)


def _unconfirmed(draft, env, sandbox, **fault):
    """Publish with the last chunk's answer lost (stored, then the connection drops)."""
    [due] = approve(env, draft)
    sandbox.inject("upload", "lost_response", **fault)
    assert _deliver(due.id).status_code == 200
    post = _post(draft.id)
    assert post.status == "processing" and post.unconfirmed
    return post


def _completed(sandbox) -> list[dict]:
    return [p for p in sandbox.posts.values() if p["status"] == "PUBLISH_COMPLETE"]


# ---- end to end: publish function, then the status poll ------------------------------------------
@pytest.mark.parametrize("respond", ["drop", "server_error"])
def test_lost_answer_to_the_last_chunk_ends_published_with_exactly_one_post(draft, env, sandbox, respond):
    post = _unconfirmed(draft, env, sandbox, respond=respond)
    _poll()  # TikTok still processing: not found yet
    assert _post(draft.id).status == "processing"
    _poll()
    done = _post(draft.id)
    assert done.status == "published" and not done.unconfirmed
    [live] = _completed(sandbox)
    assert (done.platform_ids["publish_id"], done.platform_ids["video_id"]) == (post.platform_ids["publish_id"],
                                                                                live["video_id"])
    assert done.share_url == live["share_url"]
    assert len(sandbox.posts) == 1 and sandbox.count("video_init") == 1 and sandbox.count("upload") == 1


def test_creator_over_the_daily_cap_is_published_again_and_waits_for_the_cap(draft, env, sandbox):
    """FAILED spam_risk_too_many_posts: nothing was posted, so the post goes back to the queue and
    waits about a day (TikTok's cap) before its next attempt, instead of failing."""
    [due] = approve(env, draft)
    sandbox.inject("status", "fail_publish", fail_reason="spam_risk_too_many_posts")
    _deliver(due.id)
    _poll(), _poll()
    post = _post(draft.id)
    assert post.status == "queued" and post.platform_ids == {} and post.fail_reason is None
    # It waits out TikTok's cap (about a day) before trying again: a redelivery now makes no call.
    assert post.next_attempt_at - datetime.now(UTC) > timedelta(hours=23)
    _deliver(due.id, "again")
    post = _post(draft.id)
    assert post.status == "queued" and post.next_attempt_at - datetime.now(UTC) > timedelta(hours=23)
    assert sandbox.count("video_init") == 1 and _completed(sandbox) == []


def test_creator_who_removed_the_apps_access_fails_asking_to_reconnect(draft, env, sandbox):
    [due] = approve(env, draft)
    sandbox.inject("status", "fail_publish", fail_reason="auth_removed")
    _deliver(due.id)
    _poll(), _poll()
    post = _post(draft.id)
    assert post.status == "failed" and "auth_removed" in post.fail_reason and "reconnect" in post.fail_reason


# ---- reconcile itself ------------------------------------------------------------------------------
def test_reconcile_waits_while_tiktok_processes_then_finds_the_post_without_creating(draft, env, sandbox):
    post = _unconfirmed(draft, env, sandbox)
    calls = (sandbox.count("video_init"), sandbox.count("upload"))
    first = _reconcile(post)
    assert first.state == "pending" and first.detail == "PROCESSING_UPLOAD"
    second = _reconcile(post)
    [live] = _completed(sandbox)
    assert second.state == "published" and second.platform_ids == {"video_id": live["video_id"]}
    assert second.share_url == live["share_url"]
    assert (sandbox.count("video_init"), sandbox.count("upload")) == calls


def test_reconcile_without_a_publish_id_is_absent_and_asks_tiktok_nothing(draft, env, sandbox):
    """Init's answer (and with it the upload_url) never arrived: no byte can have reached TikTok."""
    from shared import services

    [due] = approve(env, draft)
    post = services.repository().get_post(due.id).model_copy(update={"unconfirmed": True, "platform_ids": {}})
    result = _reconcile(post)
    assert result.state == "absent" and sandbox.requests_log == []


def test_reconcile_of_an_upload_missing_bytes_hands_back_its_upload_url_while_it_lives(draft, env, sandbox):
    """PROCESSING_UPLOAD with fewer bytes than the file: no post yet. While the upload_url lives the
    post goes back to the publisher with it (to send the missing bytes there); near its expiry it
    waits; once expired it starts afresh without it."""
    [due] = approve(env, draft)
    sandbox.inject("upload", "server_error")  # refused before storing: but the client cannot know that
    _deliver(due.id)
    post = _post(draft.id)
    assert post.unconfirmed and sandbox.count("upload") == 1
    calls = sandbox.count("video_init")
    now = datetime.now(UTC)
    result = _reconcile(post, now=now)
    assert result.state == "absent" and result.detail == "upload_incomplete_resumable"
    assert result.platform_ids["publish_id"] == post.platform_ids["publish_id"]
    assert result.platform_ids["upload_url"] == post.platform_ids["upload_url"]
    expires = datetime.fromisoformat(post.platform_ids["upload_expires_at"])
    assert expires - now <= timedelta(hours=1)
    assert _reconcile(post, now=expires - timedelta(minutes=2)).state == "pending"  # too late to resume, not yet expired
    result = _reconcile(post, now=expires + timedelta(minutes=6))
    assert result.state == "absent" and result.detail == "upload_incomplete" and result.platform_ids == {}
    assert sandbox.count("video_init") == calls and _completed(sandbox) == []


def test_a_lost_last_chunk_with_bytes_missing_is_resent_on_the_same_upload_url_within_minutes(draft, env, sandbox):
    """Issue 16 item 9: the last chunk's PUT got a 5xx before TikTok stored it. The status poll finds
    PROCESSING_UPLOAD with fewer bytes than the file and the post goes back to the publisher, which
    re-sends the missing bytes on the same upload_url (same publish_id: no second init, no second
    post) instead of waiting out the URL's hour."""
    [due] = approve(env, draft)
    sandbox.inject("upload", "server_error")
    _deliver(due.id)
    post = _post(draft.id)
    assert post.unconfirmed
    _poll()  # reconcile: bytes missing, the URL lives -> back to the queue with its handle
    queued = _post(draft.id)
    assert queued.status == "queued" and queued.platform_ids["upload_url"] == post.platform_ids["upload_url"]
    _deliver(due.id, "resume")  # dispatch's resend (redispatch_at is now)
    resumed = _post(draft.id)
    assert resumed.status == "processing" and not resumed.unconfirmed
    assert resumed.platform_ids == {"publish_id": post.platform_ids["publish_id"]}
    _poll(), _poll()
    done = _post(draft.id)
    assert done.status == "published"
    [live] = _completed(sandbox)
    assert live["publish_id"] == post.platform_ids["publish_id"] and done.platform_ids["video_id"] == live["video_id"]
    assert len(sandbox.posts) == 1 and sandbox.count("video_init") == 1 and sandbox.count("upload") == 2
    # minutes, not the URL's hour: everything above ran within a few poll ticks
    assert done.published_at - done.approved_at < timedelta(minutes=20)


@pytest.mark.parametrize("reason,state", [("internal", "absent"), ("spam_risk_too_many_posts", "absent"),
                                          ("file_format_check_failed", "failed"), ("publish_cancelled", "failed")])
def test_reconcile_reads_tiktoks_fail_reason(draft, env, sandbox, reason, state):
    sandbox.inject("status", "fail_publish", fail_reason=reason)
    post = _unconfirmed(draft, env, sandbox)
    _reconcile(post)  # PROCESSING_UPLOAD
    result = _reconcile(post)
    assert result.state == state and sandbox.count("video_init") == 1
    if state == "failed":
        assert result.fail_reason == reason and result.fail_class == "platform"


def test_reconcile_reports_removed_access_as_an_auth_error(draft, env, sandbox):
    from shared.errors import AuthError

    sandbox.inject("status", "fail_publish", fail_reason="auth_removed")
    post = _unconfirmed(draft, env, sandbox)
    _reconcile(post)
    with pytest.raises(AuthError, match="reconnect"):
        _reconcile(post)
    assert sandbox.count("video_init") == 1


def test_post_found_without_the_video_list_scope_is_published_without_a_link(draft, env, sandbox):
    """The share URL needs video.list; the post is live without it, so it is published all the same."""
    sandbox.add_creator(env["access_token"], creator_username="brand_main", scopes=["video.publish"])
    post = _unconfirmed(draft, env, sandbox)
    _reconcile(post)
    result = _reconcile(post)
    assert result.state == "published" and result.platform_ids["video_id"] and result.share_url is None
    assert sandbox.count("video_query", 401) == 1 and sandbox.count("token") == 0  # no refresh for a missing scope
