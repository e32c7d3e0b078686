"""Dispatch: scheduled posts go out when due, parked posts when their wait is over, lost
messages are sent again; nothing is sent early. Platform rules are checked again at approval."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import approve, brief, issue_link, snapshot_state, upload_video


def _dispatch(now=None):
    from shared import services
    from shared.publishing.dispatch import dispatch_due

    sent = []
    summary = dispatch_due(repo=services.repository(), send=sent.append, batch_size=50, redispatch_seconds=900, now=now)
    return summary, sent


def test_scheduled_post_is_queued_and_sent_only_when_due(env):
    from shared import entrypoints, services
    from shared.runtime.clock import utcnow

    publish_at = utcnow() + timedelta(hours=2)
    content = entrypoints.generate(brief(upload_video(), publish_at=publish_at.isoformat()))
    assert approve(env, content) == []  # nothing due now
    [post] = services.repository().posts_for_content(content.id)
    assert post.status == "scheduled" and post.scheduled_at == publish_at

    summary, sent = _dispatch()
    assert sent == [] and summary.sent == 0
    summary, sent = _dispatch(now=publish_at + timedelta(seconds=1))
    assert [p.id for p in sent] == [post.id] and summary.released == 1
    after = services.repository().get_post(post.id)
    assert after.status == "queued" and after.redispatch_at > publish_at


def test_parked_post_is_sent_after_its_wait_and_not_before(env):
    from shared import entrypoints, services
    from shared.runtime.clock import utcnow

    content = entrypoints.generate(brief(upload_video()))
    [due] = approve(env, content)
    repo = services.repository()
    later = utcnow() + timedelta(minutes=30)
    repo.update_fields(due.id, next_attempt_at=later, redispatch_at=None)
    assert _dispatch()[1] == []
    _, sent = _dispatch(now=later + timedelta(seconds=1))
    assert [p.id for p in sent] == [due.id]
    # Sent once per wait: the next tick does not send it again.
    assert _dispatch(now=later + timedelta(seconds=2))[1] == []


def test_a_lost_publish_message_is_sent_again_and_publishes_once(env, sandbox):
    from shared import entrypoints, services
    from shared.publishing.publisher import publish_post
    from shared.runtime.config import get_config

    content = entrypoints.generate(brief(upload_video()))
    [due] = approve(env, content)  # its publish message was "lost": nobody delivered it
    resend_at = services.repository().get_post(due.id).redispatch_at
    _, sent = _dispatch(now=resend_at + timedelta(seconds=1))
    assert [p.id for p in sent] == [due.id]
    kwargs = dict(repo=services.repository(), config=get_config(), secrets=services.secrets(),
                  media_store=services.media_store())
    assert publish_post(due.id, **kwargs).status == "processing"
    assert publish_post(due.id, **kwargs).status == "skipped"  # the original turning up late changes nothing
    assert sandbox.count("video_init") == 1
    assert _dispatch(now=resend_at + timedelta(days=1))[1] == []  # no longer queued


def test_dispatch_function_sends_due_posts_to_the_platform_topic(env):
    from shared import entrypoints, services
    from shared.runtime.clock import utcnow
    from tests.conftest import function_client, pubsub_envelope

    content = entrypoints.generate(brief(upload_video()))
    [due] = approve(env, content)
    services.repository().update_fields(due.id, next_attempt_at=utcnow() - timedelta(seconds=1))
    client = function_client("functions/dispatch/main.py", "dispatch_due_posts")
    assert client.post("/", json=pubsub_envelope({"tick": "dispatch"})).status_code == 200
    post = services.repository().get_post(due.id)
    assert post.status == "queued" and post.next_attempt_at is None and post.redispatch_at > utcnow()


def test_content_a_platform_would_refuse_cannot_be_approved(env):
    from shared import entrypoints, services
    from shared.approval.checks import ReviewEnv
    from shared.approval.link_answers import apply_decision, render_review
    from shared.content.versions import edit_content
    from shared.runtime.config import get_config

    content = entrypoints.generate(brief(upload_video()))
    # Edited after generation into something TikTok refuses (captions are at most 2200 UTF-16 units).
    edited = edit_content(services.repository(), content.id, caption="x" * 2300)
    token = issue_link(env, edited, "approve")
    before = snapshot_state()
    page = render_review(services.repository(), env["signing_key"], token, ReviewEnv(services.media_store(), get_config(), print))
    assert page.status == 422 and "2200 UTF-16 code units" in page.html and "caption" in page.html
    result = apply_decision(services.repository(), env["signing_key"], token, "approve")
    assert result.status == 422 and result.decision is None
    assert snapshot_state() == before
    # Rejecting it is still possible.
    assert apply_decision(services.repository(), env["signing_key"], issue_link(env, edited, "reject"), "reject").decision == "rejected"
