"""Publishing to TikTok: approval gate (invariant 1), one post per approval under duplicate and
concurrent delivery (invariant 2), transient vs permanent failures (invariant 3), the chunk plan
and the creator's maximum duration."""

from __future__ import annotations

import struct
import threading
import time

import pytest

from tests.conftest import ACCOUNT, approve, brief, function_client, pubsub_envelope, upload_object, upload_video

MiB = 1024 * 1024


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
    from shared.content.versions import edit_content

    [due] = approve(env, draft)
    edited = edit_content(services.repository(), draft.id, caption="New text")
    assert edited.approval is None and edited.status == "pending_approval"
    _deliver(due.id)
    assert sandbox.requests_log == []


def test_same_message_delivered_three_times_makes_one_post(draft, env, sandbox):
    [due] = approve(env, draft)
    for _attempt in range(3):
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


def test_server_error_on_a_chunk_before_the_last_resends_that_chunk(env, sandbox):
    from shared import entrypoints

    content = entrypoints.generate(brief(upload_video(12 * MiB, "in/big.mp4")))  # two chunks
    [due] = approve(env, content)
    sandbox.inject("upload", "server_error", count=1)
    _deliver(due.id)
    assert [e["status"] for e in sandbox.requests_log if e["endpoint"] == "upload"] == [500, 206, 201]
    post = _post(content.id)
    assert post.status == "processing" and not post.unconfirmed


def test_lost_answer_to_the_last_chunk_is_unconfirmed_and_the_chunk_is_never_sent_again(draft, env, sandbox):
    """TikTok may hold every byte and be posting: a re-send would be refused and a new init could be
    a second post, so the post waits for the status poll's lookup, its publish_id saved."""
    [due] = approve(env, draft)
    sandbox.inject("upload", "lost_response")  # stored, then the connection drops
    assert _deliver(due.id).status_code == 200
    post = _post(draft.id)
    assert post.status == "processing" and post.unconfirmed
    assert post.platform_ids["publish_id"] == next(iter(sandbox.posts))
    assert post.platform_ids["upload_url"].startswith(sandbox.base_url + "/upload/")  # the resume handle
    assert sandbox.count("upload") == 1 and sandbox.count("video_init") == 1


@pytest.mark.parametrize("size,preferred", [(64 * MiB + 1, 64 * MiB), (100 * MiB, 64 * MiB), (100 * MiB, 50 * MiB),
                                            (128 * MiB, 64 * MiB), (65 * MiB, 33 * MiB)])
def test_video_over_64_mb_is_always_planned_in_several_chunks(size, preferred):
    from shared.platforms.tiktok.chunking import MAX_CHUNK, MAX_LAST_CHUNK, plan_chunks

    plan = plan_chunks(size, preferred)
    sizes = [last - first + 1 for first, last in plan.ranges()]
    assert plan.total_chunk_count >= 2 and plan.total_chunk_count == size // plan.chunk_size
    assert all(s <= MAX_CHUNK for s in sizes[:-1]) and sizes[-1] <= MAX_LAST_CHUNK and sum(sizes) == size


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


def test_lost_answer_to_init_is_retried_because_no_byte_can_reach_that_publish(draft, env, sandbox, monkeypatch):
    """The upload_url travels in init's answer: a publish whose answer was lost gets no bytes and
    never becomes a post, so init is simply sent again."""
    from shared import services

    monkeypatch.setenv("POSTGATE_HTTP_TIMEOUT_SECONDS", "0.5")
    services.reset()
    [due] = approve(env, draft)
    sandbox.inject("video_init", "slow", seconds=1.5)
    assert _deliver(due.id).status_code == 200
    post = _post(draft.id)
    assert post.status == "processing" and not post.unconfirmed
    time.sleep(1.5)  # the slow init lands after the client gave up on it
    states = sandbox.posts
    assert len(states) == 2 and [pid for pid, p in states.items() if p["upload_complete"]] == [post.platform_ids["publish_id"]]
    assert [p["uploaded_bytes"] for p in states.values() if not p["upload_complete"]] == [0]


def mp4_bytes(seconds: float, size: int) -> bytes:
    """An MP4 header (ftyp, moov with mvhd saying `seconds`) padded with mdat to `size` bytes."""
    mvhd_body = struct.pack(">B3sIIII", 0, b"\0\0\0", 0, 0, 1000, int(seconds * 1000)) + bytes(80)
    mvhd = struct.pack(">I4s", 8 + len(mvhd_body), b"mvhd") + mvhd_body
    moov = struct.pack(">I4s", 8 + len(mvhd), b"moov") + mvhd
    head = struct.pack(">I4s4sI4s", 20, b"ftyp", b"isom", 512, b"isom") + moov
    return head + struct.pack(">I4s", size - len(head), b"mdat") + bytes(size - len(head) - 8)


def test_video_longer_than_the_creators_maximum_fails_before_init_naming_it(env, sandbox):
    from shared import entrypoints

    sandbox.add_creator(env["access_token"], creator_username="brand_main", max_video_post_duration_sec=60)
    long_one = entrypoints.generate(brief(upload_object("in/long.mp4", mp4_bytes(75.5, 6 * MiB), "video/mp4")))
    [due] = approve(env, long_one)
    _deliver(due.id)
    post = _post(long_one.id)
    assert post.status == "failed" and post.fail_class == "ValidationError"
    assert "75.5 s" in post.fail_reason and "60 s" in post.fail_reason
    assert sandbox.count("creator_info") == 1 and sandbox.count("video_init") == 0


def test_video_within_the_creators_maximum_is_published(env, sandbox):
    from shared import entrypoints

    sandbox.add_creator(env["access_token"], creator_username="brand_main", max_video_post_duration_sec=60)
    short = entrypoints.generate(brief(upload_object("in/short.mp4", mp4_bytes(59.9, 6 * MiB), "video/mp4")))
    [due] = approve(env, short)
    _deliver(due.id)
    assert _post(short.id).status == "processing" and sandbox.count("video_init") == 1


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


def test_unaudited_app_fails_the_post_once_as_unaudited_app_flags_the_account_and_then_refuses_public(draft, env, sandbox):
    """Issue 16 item 6: an app TikTok has not audited may only post SELF_ONLY to private accounts
    (Direct Post reference: 403 unaudited_client_can_only_post_to_private_accounts). The first such
    refusal fails the post with a class of its own and TikTok's message, never retried, and flags the
    account; from then on a non-SELF_ONLY privacy is refused before approval, naming the field."""
    from shared import entrypoints, services
    from shared.errors import ValidationError

    sandbox.audited = False
    try:
        [due] = approve(env, draft)  # PUBLIC_TO_EVERYONE
        assert _deliver(due.id).status_code == 200  # acked: retrying cannot help
        post = _post(draft.id)
        assert post.status == "failed" and post.fail_class == "unaudited_app"
        assert "Unaudited clients can only post to a private account" in post.fail_reason
        assert _deliver(due.id, message_id="dup").status_code == 200
        assert sandbox.count("video_init") == 1 and sandbox.posts == {}
        flag = services.repository().get_account(ACCOUNT)["tiktok_unaudited_app"]
        assert "unaudited_client_can_only_post_to_private_accounts" in flag["message"]
        with pytest.raises(ValidationError) as refused:
            entrypoints.generate(brief(upload_video(name="in/second.mp4")))
        assert refused.value.field == "targets.privacy_level" and "SELF_ONLY" in refused.value.limit
        # SELF_ONLY to a private account is what such an app may do: it goes through.
        sandbox.add_creator(env["access_token"], creator_username="brand_main", private_account=True)
        own = entrypoints.generate(brief(upload_video(name="in/third.mp4"),
                                         targets=[{"account_id": ACCOUNT, "privacy_level": "SELF_ONLY"}]))
        [mine] = approve(env, own)
        assert _deliver(mine.id, message_id="own").status_code == 200
        assert services.repository().get_post(mine.id).status == "processing"
    finally:
        sandbox.audited = True
        sandbox.add_creator(env["access_token"], creator_username="brand_main", private_account=False)


def test_privacy_level_outside_the_creators_options_is_refused_at_approval_naming_the_field(draft, env, sandbox):
    """creator_info's privacy_level_options (kept on the account at each publish) bound what may be
    approved: a level the creator does not offer is refused before approval, not after."""
    from shared import services
    from shared.approval.link_answers import apply_decision
    from tests.conftest import issue_link

    sandbox.add_creator(env["access_token"], creator_username="brand_main",
                        privacy_level_options=["FOLLOWER_OF_CREATOR", "SELF_ONLY"])
    from shared import entrypoints
    from shared.errors import ValidationError

    repo = services.repository()
    [due] = approve(env, draft)  # not known yet: the publisher's fresh creator_info refuses it
    _deliver(due.id)
    assert _post(draft.id).status == "failed" and sandbox.count("video_init") == 0
    assert repo.get_account(ACCOUNT)["tiktok_creator"]["privacy_level_options"] == ["FOLLOWER_OF_CREATOR", "SELF_ONLY"]
    with pytest.raises(ValidationError) as refused:
        entrypoints.generate(brief(upload_video(name="in/again.mp4")))
    assert refused.value.field == "targets.privacy_level" and "FOLLOWER_OF_CREATOR" in refused.value.limit
    ok = entrypoints.generate(brief(upload_video(name="in/ok.mp4"),
                                    targets=[{"account_id": ACCOUNT, "privacy_level": "FOLLOWER_OF_CREATOR"}]))
    result = apply_decision(repo, env["signing_key"], issue_link(env, ok, "approve"), "approve")
    assert result.decision == "approved"
