"""The approval binds exactly what is published (invariant 1): media generations and checksums are
in the hash, publishing reads only the approved generation, a replaced object voids the approval
and goes back to the approver; one decision per item under concurrency, each other request a
readable 409; bad requests get a 4xx; every response carries the security headers."""

from __future__ import annotations

import json
import os
import stat
import threading
from urllib.parse import parse_qs, urlparse

import pytest

from tests.conftest import (
    MEDIA_BUCKET,
    PROJECT,
    approve,
    brief,
    drain_messages,
    function_client,
    issue_link,
    pubsub_envelope,
    snapshot_state,
    upload_video,
)


def _http():
    return function_client("functions/approval/main.py", "approval_http", "http")


def _deliver(post_id: str):
    client = function_client("functions/publish_tiktok/main.py", "publish_tiktok")
    return client.post("/", json=pubsub_envelope({"post_id": post_id}))


def _overwrite(uri: str, fill: int) -> None:
    """Same name, same size, different bytes: only the generation and the checksum tell."""
    from shared.runtime.clients import storage_client

    blob = storage_client(PROJECT).bucket(MEDIA_BUCKET).get_blob(uri.split("/", 3)[3])
    blob.upload_from_string(bytes([fill]) * blob.size, content_type=blob.content_type)


def _delete(uri: str) -> None:
    from shared.runtime.clients import storage_client

    storage_client(PROJECT).bucket(MEDIA_BUCKET).blob(uri.split("/", 3)[3]).delete()




def _content(content_id: str):
    from shared import services

    return services.repository().get_content(content_id)


def _post(content_id: str):
    from shared import services

    [post] = services.repository().posts_for_content(content_id)
    return post


# -- 1. media is part of what is approved ----------------------------------------------------------

def test_the_hash_covers_each_media_objects_generation_and_checksum(env):
    from shared import entrypoints

    video = upload_video()
    first = entrypoints.generate(brief(video))
    assert first.media[0].generation and first.media[0].crc32c and first.media[0].md5_hash
    _overwrite(video, 7)
    second = entrypoints.generate(brief(video), idempotency_key="same brief, new bytes")
    assert second.media[0].size == first.media[0].size
    assert second.media[0].generation != first.media[0].generation
    assert second.media[0].crc32c != first.media[0].crc32c
    assert second.content_hash != first.content_hash


def test_video_replaced_after_the_link_went_out_cannot_be_approved_and_the_new_version_is_sent(draft, env):
    token = issue_link(env, draft, "approve")
    drain_messages()
    _overwrite(draft.media[0].uri, 7)
    response = _http().post("/", data={"token": token, "action": "approve"})
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "was replaced after it was approved" in page and "new approval request" in page
    content = _content(draft.id)
    assert content.status == "pending_approval" and content.approval is None and content.version == 2
    assert content.media[0].generation != draft.media[0].generation
    assert content.approval_history[0]["content_hash"] == draft.content_hash
    assert _post(draft.id).content_hash == content.content_hash
    assert len([m for m in drain_messages() if m["content_hash"] == content.content_hash]) == 1
    # The old link stays dead; a link for the new version works.
    assert _http().post("/", data={"token": token, "action": "approve"}).status_code == 409
    assert _http().post("/", data={"token": issue_link(env, content, "approve"), "action": "approve"}).status_code == 200


def test_video_replaced_after_approval_is_not_published_and_goes_back_to_the_approver(draft, env, sandbox):
    [due] = approve(env, draft)
    drain_messages()
    _overwrite(draft.media[0].uri, 9)
    assert _deliver(due.id).status_code == 200
    assert sandbox.requests_log == []
    post, content = _post(draft.id), _content(draft.id)
    assert post.status == "pending_approval" and post.content_hash == content.content_hash != draft.content_hash
    assert "replaced after it was approved" in post.history[-1].reason
    assert content.status == "pending_approval" and content.approval is None
    assert content.approval_history[0]["approval"]["decided_by"] == "lead@example.com"
    assert len([m for m in drain_messages() if m["content_hash"] == content.content_hash]) == 1
    # Approving the new version publishes the new bytes, once.
    [due] = approve(env, content)
    assert _deliver(due.id).status_code == 200
    assert _post(draft.id).status == "processing" and sandbox.count("video_init") == 1


def test_video_deleted_after_approval_fails_the_post_naming_the_object(draft, env, sandbox):
    [due] = approve(env, draft)
    _delete(draft.media[0].uri)
    assert _deliver(due.id).status_code == 200
    assert sandbox.requests_log == []
    post = _post(draft.id)
    assert post.status == "failed" and post.fail_class == "media_changed"
    assert draft.media[0].uri in post.fail_reason and "deleted" in post.fail_reason


def test_reads_are_pinned_to_the_approved_generation(draft, env):
    from shared import services
    from shared.errors import MediaChanged

    media = draft.media[0]
    assert services.media_store().read_range(media, 0, 9) == bytes(range(10))
    _overwrite(media.uri, 5)
    with pytest.raises(MediaChanged):
        services.media_store().read_range(media, 0, 9)
    url = services.media_store().signed_url(media, ttl_seconds=60, endpoint=os.environ["STORAGE_EMULATOR_HOST"],
                                            key_file=os.environ["POSTGATE_URL_SIGNING_KEY_FILE"])
    assert parse_qs(urlparse(url).query)["generation"] == [str(media.generation)]


def test_media_outside_the_media_bucket_is_refused_naming_the_field(env):
    from shared import entrypoints
    from shared.errors import ValidationError
    from shared.runtime.clients import storage_client

    storage_client(PROJECT).create_bucket("someone-elses-bucket")
    storage_client(PROJECT).bucket("someone-elses-bucket").blob("v.mp4").upload_from_string(b"x" * 100, content_type="video/mp4")
    before = snapshot_state()
    with pytest.raises(ValidationError) as refused:
        entrypoints.generate(brief("gs://someone-elses-bucket/v.mp4"))
    assert refused.value.field == "video"
    assert snapshot_state() == before


# -- 2. one decision, every other request a clear answer ---------------------------------------------

def _press_at_once(requests: list[dict]) -> list[tuple[int, str]]:
    barrier = threading.Barrier(len(requests), timeout=60)
    answers: list[tuple[int, str] | None] = [None] * len(requests)
    # Built here, one after another: building Flask apps in many threads at once meets a CPython 3.11
    # bug in compiling werkzeug's URL rules ("AST constructor recursion depth mismatch").
    clients = [_http() for _ in requests]

    def press(i: int) -> None:
        client = clients[i]
        barrier.wait()
        response = client.post("/", data=requests[i])
        answers[i] = (response.status_code, response.get_data(as_text=True))

    threads = [threading.Thread(target=press, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return answers


def test_twenty_concurrent_posts_of_one_link_record_one_decision_and_answer_409(draft, env):
    from shared import services

    token = issue_link(env, draft, "approve")
    answers = _press_at_once([{"token": token, "action": "approve"}] * 20)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [409] * 19, statuses
    assert all("<h1>" in page for _, page in answers)
    assert len(list(services.repository().db.collection("approvals").stream())) == 1
    assert _content(draft.id).status == "approved" and _post(draft.id).status == "queued"


def test_ten_approves_racing_ten_rejects_resolve_to_one_decision(draft, env):
    from shared import services

    presses = [{"token": issue_link(env, draft, "approve"), "action": "approve"} for _ in range(10)]
    presses += [{"token": issue_link(env, draft, "reject"), "action": "reject"} for _ in range(10)]
    answers = _press_at_once(presses)
    statuses = [status for status, _ in answers]
    assert sorted(statuses) == [200] + [409] * 19, statuses
    winner = presses[statuses.index(200)]["action"]
    assert _content(draft.id).status == {"approve": "approved", "reject": "rejected"}[winner]
    assert len(list(services.repository().db.collection("approvals").stream())) == 1
    losers = [page for status, page in answers if status == 409]
    assert all("already" in page for page in losers)


def test_decisions_on_twenty_different_items_at_once_all_succeed(env):
    from shared import entrypoints

    video = upload_video()
    items = [entrypoints.generate(brief(video, campaign=f"Campaign {i}")) for i in range(20)]
    answers = _press_at_once([{"token": issue_link(env, c, "approve"), "action": "approve"} for c in items])
    assert [status for status, _ in answers] == [200] * 20
    assert all(_content(c.id).status == "approved" and _post(c.id).status == "queued" for c in items)


# -- 3. bad input gets a clear 4xx ---------------------------------------------------------------------

def test_a_10_mb_body_is_refused_with_413_before_it_is_parsed(draft, env):
    token = issue_link(env, draft, "approve")
    before = snapshot_state()
    body = f"token={token}&action=approve&reason=" + "x" * (10 * 1024 * 1024)
    response = _http().post("/", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413 and "too large" in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert snapshot_state() == before


# -- 4. tokens ---------------------------------------------------------------------------------------

def test_only_the_canonical_encoding_of_a_token_is_accepted(draft, env):
    import string

    token = issue_link(env, draft, "approve")
    before = snapshot_state()
    alphabet = string.ascii_letters + string.digits + "-_"
    variants = [token[:-1] + c for c in alphabet if c != token[-1]]
    accepted = [v for v in variants if _http().post("/", data={"token": v, "step": "review"}).status_code != 403]
    assert accepted == []
    assert snapshot_state() == before
    assert _http().post("/", data={"token": token, "step": "review"}).status_code == 200


def test_links_carry_the_token_in_the_fragment_and_the_outbox_is_private(draft, env):
    from shared import entrypoints

    entrypoints.notify_approvers({"content_id": draft.id, "content_hash": draft.content_hash})
    [outbox] = list((env["workdir"] / "outbox").glob(f"{draft.id}--*.json"))
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o600
    message = json.loads(outbox.read_text())
    for action in ("approve", "reject"):
        link = urlparse(message[f"{action}_url"])
        assert link.query == "" and "token" not in link.path
        assert parse_qs(link.fragment)["token"]


def test_opening_a_link_serves_a_page_that_never_sees_the_token(draft, env):
    response = _http().get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "location.hash" in page and 'name="step" value="review"' in page
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'sha256-" in csp and "unsafe-inline" not in csp


# -- 5. headers on every response ----------------------------------------------------------------------

@pytest.mark.parametrize("method, path, data, status", [
    ("GET", "/", None, 200),
    ("POST", "/", {"token": "garbage", "step": "review"}, 403),
    ("POST", "/", {"step": "review"}, 400),
    ("PUT", "/", None, 405),
    ("GET", "/favicon.ico", None, 404),
])
def test_every_response_carries_the_security_headers(env, method, path, data, status):
    response = _http().open(path, method=method, data=data)
    assert response.status_code == status
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"


def test_decision_and_conflict_pages_carry_the_headers(draft, env):
    token = issue_link(env, draft, "approve")
    for expected in (200, 409):
        response = _http().post("/", data={"token": token, "action": "approve"})
        assert response.status_code == expected
        assert "script-src 'sha256-" in response.headers["Content-Security-Policy"]
        assert response.headers["Referrer-Policy"] == "no-referrer"
