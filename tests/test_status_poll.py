"""status-poll: processing posts become published (with a publish_log row) or failed."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import approve, function_client, pubsub_envelope


def _publish(draft, env):
    [due] = approve(env, draft)
    client = function_client("functions/publish_tiktok/main.py", "publish_tiktok")
    assert client.post("/", json=pubsub_envelope({"post_id": due.id})).status_code == 200
    return due.id


def _tick():
    """One scheduler tick, with every processing post's next check made due (no sleeping)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    from shared import services
    from shared.runtime.clock import utcnow

    repo = services.repository()
    for snap in repo.db.collection("posts").where(filter=FieldFilter("status", "==", "processing")).stream():
        repo.update_fields(snap.id, next_check_at=utcnow() - timedelta(seconds=1))
    client = function_client("functions/status_poll/main.py", "poll_statuses")
    assert client.post("/", json=pubsub_envelope({"tick": "status-poll"})).status_code == 200


def _rows(post_id: str):
    from google.cloud import bigquery

    from shared import services

    job = services.bigquery().query(
        "SELECT post_id, platform, account_id, campaign, approved_by, approved_at, published_at, attempts, "
        "JSON_VALUE(platform_ids, '$.publish_id') AS publish_id, JSON_VALUE(platform_ids, '$.video_id') AS video_id "
        "FROM `test-project.postgate.publish_log` WHERE post_id = @p",
        job_config=bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("p", "STRING", post_id)]))
    return [dict(r.items()) for r in job.result()]


def test_processing_post_is_confirmed_and_logged_once(draft, env, sandbox):
    from shared import services

    post_id = _publish(draft, env)
    _tick()  # first check: sandbox still PROCESSING_UPLOAD
    assert services.repository().get_post(post_id).status == "processing"
    _tick()
    post = services.repository().get_post(post_id)
    assert post.status == "published"
    assert post.platform_ids["video_id"] and post.share_url.endswith(post.platform_ids["video_id"])
    assert post.publish_log_written
    _tick()  # nothing left to do: no second row
    [row] = _rows(post_id)
    assert row["platform"] == "tiktok" and row["approved_by"] == "lead@example.com" and row["campaign"] == "Launch"
    assert row["publish_id"] == post.platform_ids["publish_id"] and row["video_id"] == post.platform_ids["video_id"]
    assert row["attempts"] == 1 and row["published_at"] is not None and row["approved_at"] is not None


def test_failed_publish_ends_failed_with_platform_reason(draft, env, sandbox):
    from shared import services

    sandbox.inject("status", "fail_publish", fail_reason="duration_check_failed")
    post_id = _publish(draft, env)
    _tick()
    _tick()
    post = services.repository().get_post(post_id)
    assert post.status == "failed" and post.fail_reason == "duration_check_failed"
    assert _rows(post_id) == []


def test_transient_status_error_is_checked_again_later(draft, env, sandbox):
    from shared import services

    post_id = _publish(draft, env)
    sandbox.inject("status", "server_error", count=10)
    _tick()
    post = services.repository().get_post(post_id)
    assert post.status == "processing" and post.check_count == 1


def test_post_still_processing_at_the_deadline_fails_as_timed_out(draft, env, sandbox):
    from shared import services
    from shared.runtime.clock import utcnow

    post_id = _publish(draft, env)
    services.repository().update_fields(post_id, poll_deadline=utcnow() - timedelta(seconds=1))
    _tick()
    post = services.repository().get_post(post_id)
    assert post.status == "failed" and post.fail_class == "timeout"


def test_checks_back_off_between_polls(draft, env, sandbox, monkeypatch):
    from shared.publishing.status_poll import next_check_delay
    from shared.runtime.config import load_config

    config = load_config({**env, "POSTGATE_POLL_FIRST_CHECK_SECONDS": "10", "POSTGATE_POLL_MAX_INTERVAL_SECONDS": "60"})
    assert [next_check_delay(config, n) for n in range(5)] == [10, 20, 40, 60, 60]
