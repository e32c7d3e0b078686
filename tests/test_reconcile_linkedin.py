"""A create on LinkedIn whose outcome is unknown is settled at the platform edge: by the URN LinkedIn
names or among the author's posts, never by posting again. Pipeline on the emulators and the
LinkedIn sandbox (fixtures from test_publish_linkedin); reconcile() is called the way the status
poll calls it."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from tests.conftest import approve, jpeg_bytes, reconcile, upload_object
from tests.test_publish_linkedin import (  # noqa: F401
    _APPROVAL_ENV,
    ACCESS,
    ACCOUNT,
    _approval_env,
    _deliver,
    _generate,
    _post,  # fixtures: _approval_env, li, linkedin
    _publish,
    li,
    linkedin,
)


def _reconcile(post, *, now=None):
    """The adapter's reconcile, with the context the status poll hands it."""
    return reconcile(post, now)


def _poll():
    from shared import services
    from shared.publishing.status_poll import poll_once
    from shared.runtime.config import get_config

    return poll_once(repo=services.repository(), config=get_config(), secrets=services.secrets(), bq=services.bigquery())


def _post_directly(linkedin, author: str, content) -> str:
    """The same post made outside this publish attempt (e.g. an earlier one whose answer was lost)."""
    from shared.platforms.linkedin.adapter import build_post
    from shared.platforms.linkedin.client import LinkedInClient

    client = LinkedInClient(ACCESS, base_url=linkedin.base_url, version="202607")
    return client.create_post(build_post(author, content, content.targets[0], None, None))


# ---- the create was carried out, its answer lost ----

@pytest.mark.parametrize("how", ["error", "drop"])
def test_create_stored_but_answer_lost_ends_published_once_by_the_status_poll(li, linkedin, how):
    """End to end: waits on the core (publisher: unconfirmed; status poll: reconcile)."""
    content, due = _publish()
    linkedin.inject("posts_create", "lost_response", how=how)
    assert _deliver(due.id).status_code == 200
    post = _post(content.id)
    assert post.status == "processing" and post.unconfirmed
    assert len(linkedin.posts) == 1 and linkedin.count("posts_create") == 1  # stored, and never sent again
    _poll()
    post = _post(content.id)
    [urn] = linkedin.posts
    assert post.status == "published" and post.platform_ids["post_urn"] == urn
    assert post.share_url == f"https://www.linkedin.com/feed/update/{urn}/"
    assert linkedin.count("posts_create") == 1 and len(linkedin.posts) == 1


def test_reconcile_finds_the_post_among_the_authors_posts_by_commentary_and_media(li, linkedin):
    image = upload_object("in/r.jpg", jpeg_bytes(), "image/jpeg")
    content, due = _publish(images=[image], topic="Cold (really) for 24h #1 [today]")
    other = _post_directly(linkedin, li["organization_urn"], content)  # same words, no image: not ours
    linkedin.inject("posts_create", "lost_response")
    _deliver(due.id)
    post = _post(content.id)
    [urn] = [u for u in linkedin.posts if u != other]
    assert linkedin.posts[urn]["media_urn"] == post.platform_ids["media_urn"]  # saved before the create
    result = _reconcile(post)
    assert result.state == "published" and result.platform_ids == {"post_urn": urn}
    assert linkedin.count("posts_create") == 2 and linkedin.count("posts_find", 200) == 1  # looking never posts


# ---- a DUPLICATE_POST names the post ----

def test_duplicate_naming_a_post_of_this_approval_is_confirmed_with_that_urn(li, linkedin):
    content, due = _publish()
    earlier = _post_directly(linkedin, li["organization_urn"], content)  # an earlier attempt's, answer lost
    assert _deliver(due.id).status_code == 200
    post = _post(content.id)
    assert linkedin.count("posts_create", 422) == 1 and len(linkedin.posts) == 1
    assert post.status == "published" and post.platform_ids["post_urn"] == earlier
    assert post.share_url == f"https://www.linkedin.com/feed/update/{earlier}/"


def test_duplicate_of_a_post_from_before_the_approval_fails_naming_it(li, linkedin, monkeypatch):
    content = _generate()
    monkeypatch.setattr(linkedin, "_clock", lambda: time.time() - 3600)  # posted an hour before the approval
    older = _post_directly(linkedin, li["organization_urn"], content)
    monkeypatch.setattr(linkedin, "_clock", time.time)
    [due] = approve(_APPROVAL_ENV, content)
    _deliver(due.id)
    post = _post(content.id)
    assert post.status == "failed" and older in post.fail_reason
    assert "before this content was approved" in post.fail_reason
    assert "post_urn" not in post.platform_ids and post.platform_ids["duplicate_of"] == older
    assert len(linkedin.posts) == 1


# ---- absent only when the author's posts prove it ----

def test_a_5xx_that_stored_nothing_is_absent_only_after_the_wait(li, linkedin):
    from shared.platforms.linkedin.adapter import ABSENT_AFTER

    content, due = _publish()
    linkedin.inject("posts_create", "server_error")
    _deliver(due.id)
    post = _post(content.id)
    assert post.status == "processing" and post.unconfirmed  # not re-sent: a 5xx proves nothing
    assert linkedin.count("posts_create") == 1 and linkedin.posts == {}
    assert _reconcile(post).state == "pending"
    assert _reconcile(post, now=post.create_sent_at + ABSENT_AFTER - timedelta(seconds=1)).state == "pending"
    assert _reconcile(post, now=post.create_sent_at + ABSENT_AFTER).state == "absent"
    assert linkedin.count("posts_create") == 1  # reconcile never creates


def test_a_member_whose_posts_cannot_be_listed_stays_pending_never_absent(li, linkedin, monkeypatch):
    from shared import services
    from shared.platforms.linkedin.adapter import ABSENT_AFTER

    services.repository().put_account("li-member", {"platform": "linkedin", "handle": "Member A",
                                                    "secret_name": f"linkedin-account-{ACCOUNT}",
                                                    "platform_account_id": li["person_urn"]})
    content, due = _publish(targets=[{"account_id": "li-member"}])
    linkedin.inject("posts_create", "lost_response")
    _deliver(due.id)
    post = _post(content.id)
    later = post.create_sent_at + ABSENT_AFTER + timedelta(minutes=1)
    result = _reconcile(post, now=later)  # the app lacks r_member_social: nothing can be proven
    assert result.state == "pending" and "r_member_social" in result.detail
    monkeypatch.setattr(linkedin, "member_post_reads", True)
    [urn] = linkedin.posts
    assert _reconcile(post, now=later).platform_ids == {"post_urn": urn}
    assert linkedin.count("posts_create") == 1


def test_the_poll_looks_again_when_absence_becomes_provable_not_a_backoff_later(li, linkedin):
    """A late check in the backoff (5 minutes apart) would settle an unknown create up to 5 minutes
    after the margin ran out: the poll looks again right when the answer becomes conclusive."""
    from shared import services
    from shared.platforms.linkedin.adapter import ABSENT_AFTER
    from shared.publishing.status_poll import poll_once
    from shared.runtime.config import get_config

    content, due = _publish()
    linkedin.inject("posts_create", "server_error")
    _deliver(due.id)
    post = _post(content.id)
    repo = services.repository()
    repo.update_fields(post.id, check_count=12)  # deep in the backoff: the next look would be 5 minutes away
    early = post.create_sent_at + ABSENT_AFTER - timedelta(minutes=2)
    config = get_config().model_copy(update={"poll_first_check_seconds": 10.0, "poll_max_interval_seconds": 300.0})
    poll = lambda now: poll_once(repo=repo, config=config, secrets=services.secrets(),  # noqa: E731
                                 bq=services.bigquery(), now=now)
    first = poll(early)
    assert first.waiting == 1
    next_check = _post(content.id).next_check_at
    assert next_check <= post.create_sent_at + ABSENT_AFTER + timedelta(seconds=2)
    assert next_check >= early + timedelta(minutes=1)  # not sooner than needed either
    assert poll(next_check).requeued == 1  # absent, proven at the margin: published again within minutes
    assert _post(content.id).status == "queued" and linkedin.count("posts_create") == 1
