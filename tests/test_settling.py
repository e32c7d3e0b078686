"""Every post reaches a final, true state (issue 9, the platform-independent part): dead publishing
attempts are recovered without re-creating a post that may be live, status-check errors count
toward the deadline and permanent ones end at once, contention never leaves a post half-moved,
and publish_log holds exactly one row per published post whatever the overlap of poll runs."""

from __future__ import annotations

import threading
from datetime import timedelta

from tests.conftest import approve, brief, upload_video


def _repo():
    from shared import services

    return services.repository()


def _queued_posts(env, n: int) -> list:
    from shared import entrypoints

    video = upload_video()
    return [approve(env, entrypoints.generate(brief(video, campaign=f"Settle {i}")))[0] for i in range(n)]


def _claimed_and_abandoned(env, *, create_sent: bool):
    """A post whose publishing attempt died after its claim (its lease has run out)."""
    from shared.runtime.clock import utcnow
    from shared.stores.posts import claim_for_publishing

    [post] = _queued_posts(env, 1)
    claim = claim_for_publishing(_repo(), post.id, lease_seconds=60)
    assert claim.claimed
    changes = {"lease_until": utcnow() - timedelta(seconds=1)}
    if create_sent:
        changes.update(create_sent_at=utcnow() - timedelta(seconds=30), platform_ids={"publish_id": "v_pub_lost~1"})
    _repo().update_fields(post.id, **changes)
    return post.id


def _dispatch_tick():
    from shared import entrypoints

    return entrypoints.dispatch()


def _poll(now=None):
    from shared import services
    from shared.publishing.status_poll import poll_once
    from shared.runtime.config import get_config

    return poll_once(repo=_repo(), config=get_config(), secrets=services.secrets(), bq=services.bigquery(), now=now)


def test_an_attempt_that_died_before_the_create_call_is_queued_and_sent_again(env, sandbox):
    post_id = _claimed_and_abandoned(env, create_sent=False)
    summary = _dispatch_tick()
    assert summary.recovered == 1 and post_id in summary.post_ids
    post = _repo().get_post(post_id)
    assert post.status == "queued" and post.attempt_id is None and post.lease_until is None
    assert sandbox.count("video_init") == 0


def test_an_attempt_that_died_after_the_create_call_is_looked_up_never_created_again(env, sandbox):
    post_id = _claimed_and_abandoned(env, create_sent=True)
    assert _dispatch_tick().recovered == 1
    post = _repo().get_post(post_id)
    assert post.status == "processing" and post.unconfirmed and post.platform_ids == {"publish_id": "v_pub_lost~1"}
    assert post.poll_deadline > post.updated_at
    assert sandbox.count("video_init") == 0


def test_a_duplicate_delivery_after_a_dead_attempt_does_not_create_again(env, sandbox):
    from shared.stores.posts import claim_for_publishing

    post_id = _claimed_and_abandoned(env, create_sent=True)
    claim = claim_for_publishing(_repo(), post_id, lease_seconds=60)
    assert not claim.claimed
    assert claim.post.status == "processing" and claim.post.unconfirmed
    assert sandbox.count("video_init") == 0


def test_an_unconfirmed_post_not_found_by_the_deadline_fails_as_unconfirmed_with_one_error_line(env, sandbox, logs):
    from shared.runtime.clock import utcnow

    post_id = _claimed_and_abandoned(env, create_sent=True)
    _dispatch_tick()
    _repo().update_fields(post_id, poll_deadline=utcnow() - timedelta(seconds=1), next_check_at=utcnow() - timedelta(seconds=1))
    sandbox.inject("status", "error", count=5, http_status=500, code="internal_error")
    _poll()
    post = _repo().get_post(post_id)
    assert post.status == "failed" and post.fail_class == "unconfirmed" and "check the account" in post.fail_reason
    errors = [e for e in logs.entries if e["severity"] == "ERROR" and e["message"] == "post failed"]
    assert len(errors) == 1
    assert errors[0]["post_id"] == post_id and errors[0]["platform"] == "tiktok" and errors[0]["account_id"] == "tiktok-main"


def test_status_check_errors_count_toward_the_deadline(draft, env, sandbox):
    from shared.runtime.clock import utcnow
    from tests.test_status_poll import _publish

    post_id = _publish(draft, env)
    sandbox.inject("status", "error", count=50, http_status=500, code="internal_error")
    now = utcnow()
    _repo().update_fields(post_id, next_check_at=now - timedelta(seconds=1))
    _poll(now)
    post = _repo().get_post(post_id)
    assert post.status == "processing" and post.check_count == 1  # counted, will check again
    _repo().update_fields(post_id, next_check_at=now, poll_deadline=now)
    _poll(now + timedelta(seconds=1))
    post = _repo().get_post(post_id)
    assert post.status == "failed" and post.fail_class == "timeout" and "status checks failing" in post.fail_reason


def test_a_permanent_status_check_refusal_ends_the_post_at_once(draft, env, sandbox):
    from shared.runtime.clock import utcnow
    from tests.test_status_poll import _publish

    post_id = _publish(draft, env)
    sandbox.inject("status", "error", count=50, http_status=400, code="invalid_param")
    _repo().update_fields(post_id, next_check_at=utcnow() - timedelta(seconds=1))
    _poll()
    post = _repo().get_post(post_id)
    assert post.status == "failed" and post.fail_class == "status_check" and "refused the status check" in post.fail_reason


def test_revoked_access_during_a_status_check_ends_the_post_asking_to_reconnect(draft, env, sandbox):
    from shared.runtime.clock import utcnow
    from tests.test_status_poll import _publish

    post_id = _publish(draft, env)
    sandbox.inject("status", "error", count=50, http_status=401, code="scope_not_authorized")  # video.list revoked
    _repo().update_fields(post_id, next_check_at=utcnow() - timedelta(seconds=1))
    _poll()
    post = _repo().get_post(post_id)
    assert post.status == "failed" and post.fail_class == "auth" and "reconnect the account" in post.fail_reason
    account = _repo().get_account("tiktok-main")
    assert account["status"] == "needs_reconnect" and "scope_not_authorized" in account["status_reason"]


def test_concurrent_changes_to_one_post_all_apply(env):
    [post] = _queued_posts(env, 1)
    errors: list[Exception] = []
    barrier = threading.Barrier(6)  # the emulator resolves each lock conflict by a timeout: keep it small

    def bump() -> None:
        barrier.wait()
        try:
            _repo().change_post(post.id, lambda p: p.model_copy(update={"check_count": p.check_count + 1}))
        except Exception as exc:  # noqa: BLE001 - the test counts them
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == [] and _repo().get_post(post.id).check_count == 6


def _published(env, n: int) -> list[str]:
    from shared.runtime.clock import utcnow

    ids = []
    for post in _queued_posts(env, n):
        _repo().change_post(post.id, lambda p: p.model_copy(update={
            "status": "published", "published_at": utcnow(), "platform_ids": {"publish_id": f"v_pub~{p.id[-6:]}"}}))
        ids.append(post.id)
    return ids


def _row_counts(post_ids: list[str]) -> dict[str, int]:
    from google.cloud import bigquery

    from shared import services

    job = services.bigquery().query(
        "SELECT post_id, COUNT(*) AS n FROM `test-project.postgate.publish_log` WHERE post_id IN UNNEST(@ids) GROUP BY post_id",
        job_config=bigquery.QueryJobConfig(query_parameters=[bigquery.ArrayQueryParameter("ids", "STRING", post_ids)]))
    return {r["post_id"]: r["n"] for r in job.result()}


def test_overlapping_poll_runs_write_exactly_one_publish_log_row_per_post(env):
    post_ids = _published(env, 8)
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        _poll()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert _row_counts(post_ids) == {post_id: 1 for post_id in post_ids}
    assert all(_repo().get_post(p).publish_log_written for p in post_ids)


def test_a_writer_that_died_after_inserting_leaves_no_duplicate_row(env):
    from shared import services
    from shared.publishing.publish_log import write_publish_log

    [post_id] = _published(env, 1)
    write_publish_log(services.bigquery(), "test-project", [_repo().get_post(post_id)])  # ...then it died
    _poll()
    _poll()
    assert _row_counts([post_id]) == {post_id: 1}
    assert _repo().get_post(post_id).publish_log_written


def test_an_attempt_that_crashes_after_the_create_call_goes_to_the_poll_not_stuck_publishing(env, sandbox, draft):
    from shared import services
    from shared.publishing.publisher import publish_post
    from shared.runtime.config import get_config

    [due] = approve(env, draft)
    # A crash the publisher does not classify, right after TikTok accepted the post (init answered).

    class CrashingStore:
        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            return getattr(self._inner, name)

        def iter_ranges(self, media, ranges):
            raise RuntimeError("disk on fire")

    outcome = publish_post(due.id, repo=_repo(), config=get_config(), secrets=services.secrets(),
                           media_store=CrashingStore(services.media_store()))
    post = _repo().get_post(due.id)
    assert outcome.status == "processing" and post.status == "processing" and post.unconfirmed
    assert post.platform_ids.get("publish_id") and sandbox.count("video_init") == 1
