"""Approval links (invariant 5): signed, expiring, single use, bound to content + hash + action;
GET never changes state; approve racing reject resolves to exactly one decision."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlparse

from tests.conftest import function_client, issue_link, snapshot_state


def _http():
    return function_client("functions/approval/main.py", "approval_http", "http")


def test_confirm_page_shows_preview_targets_and_both_buttons_without_changing_state(draft, env):
    token = issue_link(env, draft, "approve")
    before = snapshot_state()
    response = _http().get("/", query_string={"token": token})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Pre-order now." in page and "tiktok-main" in page and "Everyone" in page
    assert 'value="approve"' in page and 'value="reject"' in page
    assert snapshot_state() == before


def test_get_never_changes_state_even_when_opened_repeatedly(draft, env):
    token = issue_link(env, draft, "approve")
    before = snapshot_state()
    for _ in range(3):
        assert _http().get("/", query_string={"token": token}).status_code == 200
    assert snapshot_state() == before
    from shared import services

    assert services.repository().get_content(draft.id).status == "pending_approval"


def test_approve_records_decision_and_queues_the_post(draft, env):
    from google.cloud import pubsub_v1

    from shared import services

    response = _http().post("/", data={"token": issue_link(env, draft, "approve"), "action": "approve"})
    assert response.status_code == 200, response.get_data(as_text=True)
    content = services.repository().get_content(draft.id)
    assert content.status == "approved" and content.approval.decided_by == "lead@example.com"
    assert content.approval.content_hash == draft.content_hash
    [post] = services.repository().posts_for_content(draft.id)
    assert post.status == "queued" and post.approved_by == "lead@example.com"
    sub = pubsub_v1.SubscriberClient()
    pulled = sub.pull(subscription=sub.subscription_path("test-project", "publish-tiktok"), max_messages=10, timeout=10)
    bodies = [m.message.data.decode() for m in pulled.received_messages]
    sub.acknowledge(subscription=sub.subscription_path("test-project", "publish-tiktok"),
                    ack_ids=[m.ack_id for m in pulled.received_messages])
    assert any(post.id in b for b in bodies)


def test_forged_signature_is_refused_with_no_state_change(draft, env):
    token = issue_link(env, draft, "approve")
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    before = snapshot_state()
    response = _http().post("/", data={"token": forged, "action": "approve"})
    assert response.status_code == 403
    assert "not valid" in response.get_data(as_text=True)
    assert snapshot_state() == before


def test_link_signed_with_another_key_is_refused(draft, env):
    other_env = {**env, "signing_key": "0" * 64}
    before = snapshot_state()
    response = _http().post("/", data={"token": issue_link(other_env, draft, "approve"), "action": "approve"})
    assert response.status_code == 403
    assert snapshot_state() == before


def test_expired_link_is_refused(draft, env):
    token = issue_link(env, draft, "approve", expires_in=-1)
    before = snapshot_state()
    for response in (_http().get("/", query_string={"token": token}),
                     _http().post("/", data={"token": token, "action": "approve"})):
        assert response.status_code == 410
        assert "expired" in response.get_data(as_text=True)
    assert snapshot_state() == before


def test_replayed_link_is_refused(draft, env):
    token = issue_link(env, draft, "approve")
    assert _http().post("/", data={"token": token, "action": "approve"}).status_code == 200
    after_first = snapshot_state()
    replay = _http().post("/", data={"token": token, "action": "approve"})
    assert replay.status_code == 409
    assert "already been used" in replay.get_data(as_text=True)
    assert snapshot_state() == after_first


def test_wrong_action_is_refused(draft, env):
    token = issue_link(env, draft, "approve")
    before = snapshot_state()
    response = _http().post("/", data={"token": token, "action": "reject"})
    assert response.status_code == 403
    assert "can only approve" in response.get_data(as_text=True)
    assert snapshot_state() == before


def test_link_for_content_edited_after_it_was_issued_is_refused(draft, env):
    from shared import services
    from shared.content.versions import edit_content

    token = issue_link(env, draft, "approve")
    edit_content(services.repository(), draft.id, caption="Edited after the link went out")
    before = snapshot_state()
    for response in (_http().get("/", query_string={"token": token}),
                     _http().post("/", data={"token": token, "action": "approve"})):
        assert response.status_code == 409
        assert "edited" in response.get_data(as_text=True)
    assert snapshot_state() == before


def test_approve_racing_reject_resolves_to_exactly_one_decision(draft, env):
    from shared import services

    approve_token = issue_link(env, draft, "approve")
    reject_token = issue_link(env, draft, "reject")
    statuses: dict[str, int] = {}
    barrier = threading.Barrier(2)

    def press(action: str, token: str) -> None:
        client = _http()
        barrier.wait()
        statuses[action] = client.post("/", data={"token": token, "action": action}).status_code

    threads = [threading.Thread(target=press, args=a) for a in (("approve", approve_token), ("reject", reject_token))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(statuses.values()) == [200, 409]
    content = services.repository().get_content(draft.id)
    winner = "approve" if statuses["approve"] == 200 else "reject"
    assert content.status == {"approve": "approved", "reject": "rejected"}[winner]
    [post] = services.repository().posts_for_content(draft.id)
    assert post.status == ("queued" if winner == "approve" else "rejected")
    assert len(list(services.repository().db.collection("approvals").stream())) == 1


def test_notify_sends_approve_and_reject_links_that_verify(draft, env):
    from shared import entrypoints
    from shared.approval.tokens import verify_token
    from shared.runtime.clock import utcnow

    assert entrypoints.notify_approvers({"content_id": draft.id, "content_hash": draft.content_hash}) == 1
    import json

    [outbox] = list((env["workdir"] / "outbox").glob(f"{draft.id}--*.json"))
    message = json.loads(outbox.read_text())
    for action in ("approve", "reject"):
        token = parse_qs(urlparse(message[f"{action}_url"]).fragment)["token"][0]
        claims = verify_token(env["signing_key"], token, now=utcnow())
        assert (claims.action, claims.content_id, claims.content_hash) == (action, draft.id, draft.content_hash)
