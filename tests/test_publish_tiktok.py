"""Publishing to TikTok: approval gate (invariant 1), one post per approval under duplicate and
concurrent delivery (invariant 2), transient vs permanent failures (invariant 3)."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import ACCOUNT, approve, brief, function_client, pubsub_envelope, upload_video


def _deliver(post_id: str, message_id: str = "1"):
    client = function_client("functions/publish_tiktok/main.py", "publish_tiktok")
    return client.post("/", json=pubsub_envelope({"post_id": post_id}, message_id))


def _post(content_id: str):
    from shared import services

    [post] = services.repository().posts_for_content(content_id)
    return post


def test_approved_post_is_uploaded_in_chunks_and_handed_to_status_poll(draft, env, sandbox):
    [due] = approve(env, draft)
    assert _deliver(due.id).status_code == 200
    post = _post(draft.id)
    assert post.status == "processing"
    assert post.platform_ids["publish_id"] in sandbox.posts
    state = sandbox.posts[post.platform_ids["publish_id"]]
    assert state["upload_complete"] is True
    assert state["source_info"]["total_chunk_count"] == 1  # 6 MiB with 5 MiB chunks: floor -> 1, remainder rides along
    assert sandbox.count("upload") == 1 and sandbox.count("creator_info") == 1


def test_large_video_uses_documented_chunk_count(env, sandbox):
    from shared import entrypoints

    content = entrypoints.generate(brief(upload_video(12 * 1024 * 1024, "in/big.mp4")))
    [due] = approve(env, content)
    _deliver(due.id)
    state = sandbox.posts[_post(content.id).platform_ids["publish_id"]]
    assert state["source_info"]["chunk_size"] == 5 * 1024 * 1024
    assert state["source_info"]["total_chunk_count"] == 2
    assert sandbox.count("upload", 206) == 1 and sandbox.count("upload", 201) == 1


def test_unapproved_post_makes_zero_platform_calls(draft, env, sandbox):
    post = _post(draft.id)
    assert _deliver(post.id).status_code == 200
    assert sandbox.requests_log == []
    assert _post(draft.id).status == "pending_approval"


def test_post_edited_after_approval_makes_zero_platform_calls(draft, env, sandbox):
    from shared import services

    [due] = approve(env, draft)
    # Someone edits the stored text directly, bypassing the app: the hash no longer matches.
    services.repository().content_ref(draft.id).update({"caption": "Sneaky edit after approval"})
    assert _deliver(due.id).status_code == 200
    assert sandbox.requests_log == []
    post = _post(draft.id)
    assert post.status == "failed" and "approval" in post.fail_reason


def test_edit_through_the_app_voids_the_approval(draft, env, sandbox):
    from shared import services
    from shared.content.service import edit_content

    [due] = approve(env, draft)
    edited = edit_content(services.repository(), draft.id, caption="New text")
    assert edited.approval is None and edited.status == "pending_approval"
    _deliver(due.id)
    assert sandbox.requests_log == []


def test_same_message_delivered_three_times_makes_one_post(draft, env, sandbox):
    [due] = approve(env, draft)
    for attempt in range(3):
        assert _deliver(due.id, message_id="same").status_code == 200
    assert sandbox.count("video_init") == 1
    assert len(sandbox.posts) == 1
    assert _post(draft.id).attempt_count == 1


def test_two_concurrent_deliveries_make_one_post(draft, env, sandbox):
    [due] = approve(env, draft)
    barrier = threading.Barrier(2)
    codes = []

    def deliver():
        barrier.wait()
        codes.append(_deliver(due.id).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert codes == [200, 200]
    assert sandbox.count("video_init") == 1 and len(sandbox.posts) == 1
    assert _post(draft.id).status == "processing"


@pytest.mark.parametrize("kind", ["rate_limit", "server_error"])
def test_transient_fault_on_init_is_retried_and_succeeds(draft, env, sandbox, kind):
    [due] = approve(env, draft)
    sandbox.inject("video_init", kind, count=1)
    assert _deliver(due.id).status_code == 200
    assert sandbox.count("video_init", 429 if kind == "rate_limit" else 500) == 1
    assert sandbox.count("video_init", 200) == 1
    assert _post(draft.id).status == "processing"


def test_chunk_server_error_resends_the_same_chunk(draft, env, sandbox):
    [due] = approve(env, draft)
    sandbox.inject("upload", "server_error", count=1)
    _deliver(due.id)
    assert sandbox.count("upload", 500) == 1 and sandbox.count("upload", 201) == 1
    assert _post(draft.id).status == "processing"


def test_persistent_transient_failure_releases_the_post_and_asks_for_redelivery(draft, env, sandbox):
    [due] = approve(env, draft)
    sandbox.inject("video_init", "server_error", count=10)
    response = _deliver(due.id)
    assert response.status_code == 500  # Pub/Sub will redeliver with backoff
    post = _post(draft.id)
    assert post.status == "queued" and post.attempt_id is None
    sandbox.reset()
    sandbox.add_creator(env["access_token"], creator_username="brand_main")
    assert _deliver(due.id, message_id="2").status_code == 200
    assert _post(draft.id).status == "processing" and sandbox.count("video_init", 200) == 1


def test_permanent_error_fails_once_with_platform_reason_and_no_retry_storm(draft, env, sandbox, logs):
    [due] = approve(env, draft)
    sandbox.inject("video_init", "error", http_status=403, code="spam_risk_user_banned_from_posting",
                   message="user is banned from posting")
    assert _deliver(due.id).status_code == 200  # acked: retrying cannot help
    post = _post(draft.id)
    assert post.status == "failed" and "spam_risk_user_banned_from_posting" in post.fail_reason
    assert sandbox.count("video_init") == 1
    assert _deliver(due.id, message_id="dup").status_code == 200
    assert sandbox.count("video_init") == 1
    assert any(e["severity"] == "ERROR" and e["message"] == "post failed" for e in logs.entries)


def test_privacy_level_not_offered_by_creator_is_a_clear_validation_failure(draft, env, sandbox):
    sandbox.add_creator(env["access_token"], creator_username="brand_main", privacy_level_options=["SELF_ONLY"])
    [due] = approve(env, draft)
    _deliver(due.id)
    post = _post(draft.id)
    assert post.status == "failed" and "PUBLIC_TO_EVERYONE" in post.fail_reason and "SELF_ONLY" in post.fail_reason
    assert sandbox.count("video_init") == 0


def test_timeout_after_init_was_sent_fails_as_ambiguous_instead_of_posting_twice(draft, env, sandbox, monkeypatch):
    from shared import services

    monkeypatch.setenv("POSTGATE_HTTP_TIMEOUT_SECONDS", "0.5")
    services.reset()
    [due] = approve(env, draft)
    sandbox.inject("video_init", "slow", seconds=2)
    _deliver(due.id)
    post = _post(draft.id)
    assert post.status == "failed" and post.fail_class == "ambiguous"
    _deliver(due.id, message_id="again")
    assert sandbox.count("video_init") <= 1


def test_unparseable_message_is_acked_and_logged(env, sandbox, logs):
    client = function_client("functions/publish_tiktok/main.py", "publish_tiktok")
    response = client.post("/", json=pubsub_envelope(b"\xff not json"))
    assert response.status_code == 200
    assert any(e["severity"] == "ERROR" and "unparseable" in e["message"] for e in logs.entries)
    assert sandbox.requests_log == []


def test_message_without_post_id_is_acked(env, sandbox, logs):
    client = function_client("functions/publish_tiktok/main.py", "publish_tiktok")
    assert client.post("/", json=pubsub_envelope({"hello": "world"})).status_code == 200
    assert any("post_id" in e.get("error", "") for e in logs.entries)
