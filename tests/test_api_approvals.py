"""Approvals through the content API: an approver's decision is recorded with their identity and
bound to the version they read, exactly as a signed link's; asking again; the decision history."""

from __future__ import annotations

from tests.conftest import approve, bearer, drain_messages, snapshot_state, upload_video

APPROVER = "approver@example.com"


def _approver(env, user: str = APPROVER) -> dict:
    return bearer(env, user=user, roles=("approver",))


def _decide(api, env, content, action: str = "approve", *, content_hash: str | None = None, headers=None, **extra):
    body = {"action": action, "content_hash": content_hash or content.content_hash, **extra}
    return api.post(f"/contents/{content.id}/decision", json=body, headers=headers or _approver(env))




def _stored(content_id: str):
    from shared import services

    repo = services.repository()
    return repo.get_content(content_id), repo.posts_for_content(content_id)


def test_api_approvers_decision_is_recorded_with_their_identity(api, env, draft):
    drain_messages("publish-tiktok")
    answer = _decide(api, env, draft)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["decision"], body["decided_by"], body["content_hash"]) == ("approved", APPROVER, draft.content_hash)
    assert [(p["status"], p["approved_by"]) for p in body["posts"]] == [("queued", APPROVER)]
    content, [post] = _stored(draft.id)
    assert content.status == "approved" and content.approval.decided_by == APPROVER
    assert content.approval.content_hash == draft.content_hash and content.approval.token_id.startswith("api:")
    assert post.status == "queued" and post.approved_by == APPROVER and post.content_hash == draft.content_hash
    from shared import services

    [used] = [d.to_dict() for d in services.repository().db.collection("approvals").stream()]
    assert used["recipient"] == APPROVER and used["content_id"] == draft.id
    # As after a link's POST, the due post was sent to its platform's publish topic.
    assert {"post_id": post.id} in drain_messages("publish-tiktok")


def test_stale_content_hash_is_409_saying_the_content_changed_and_records_nothing(api, env, draft):
    from shared import services
    from shared.content.versions import edit_content

    edited = edit_content(services.repository(), draft.id, caption="A better caption")
    before = snapshot_state()
    answer = _decide(api, env, draft)  # the hash the approver read, before the edit
    assert answer.status_code == 409
    assert "changed" in answer.get_json()["detail"] and answer.get_json()["field"] == "content_hash"
    assert edited.content_hash in answer.get_json()["detail"]
    assert snapshot_state() == before
    assert _decide(api, env, edited).status_code == 200  # the current version can be decided


def test_editor_gets_403_and_nothing_is_recorded(api, env, draft):
    before = snapshot_state()
    answer = _decide(api, env, draft, headers=bearer(env, user="editor@example.com", roles=("editor",)))
    assert answer.status_code == 403 and "approver" in answer.get_json()["detail"]
    assert snapshot_state() == before


def test_second_decision_is_409_and_the_first_stands(api, env, draft):
    assert _decide(api, env, draft).status_code == 200
    before = snapshot_state()
    answer = _decide(api, env, draft, "reject", headers=_approver(env, "second@example.com"), reason="No")
    assert answer.status_code == 409 and f"approved by {APPROVER}" in answer.get_json()["detail"]
    assert snapshot_state() == before
    # A signed link for the same version is refused too: one decision per version, whichever way it came.
    from shared.approval.link_answers import apply_decision
    from tests.conftest import issue_link

    result = apply_decision(services_repo(), env["signing_key"], issue_link(env, draft, "reject"), "reject")
    assert result.status == 409 and result.decision is None


def services_repo():
    from shared import services

    return services.repository()


def test_rejection_tells_the_requester_and_shows_in_the_history(api, env, draft):
    drain_messages("approval-notify")
    answer = _decide(api, env, draft, "reject", reason="Wrong product shot; use the blue bottle.")
    assert answer.status_code == 200 and answer.get_json()["decision"] == "rejected"
    content, [post] = _stored(draft.id)
    assert post.status == "rejected" and post.fail_reason == "Wrong product shot; use the blue bottle."
    assert {"content_id": draft.id, "content_hash": draft.content_hash, "decision": "rejected"} in drain_messages("approval-notify")
    approvals = api.get(f"/contents/{draft.id}/approvals", headers=bearer(env)).get_json()
    assert approvals["status"] == "rejected" and approvals["current"]["decided_by"] == APPROVER
    assert approvals["current"]["reason"] == "Wrong product shot; use the blue bottle." and approvals["current"]["via"] == "api"
    assert [e["event"] for e in approvals["history"]] == ["decided"]


def test_platform_refusal_at_decision_time_is_422_and_records_nothing(api, env, draft):
    from shared import services

    services.repository().db.collection("accounts").document("tiktok-main").delete()  # the account went away
    before = snapshot_state()
    answer = _decide(api, env, draft)
    assert answer.status_code == 422 and "tiktok-main" in answer.get_json()["detail"]
    assert snapshot_state() == before


def test_replaced_media_is_409_and_the_new_version_goes_to_the_approvers(api, env, draft):
    drain_messages("approval-notify")
    upload_video(name="in/video.mp4")  # same name, new generation: not what the approver saw
    answer = _decide(api, env, draft)
    assert answer.status_code == 409 and "media changed" in answer.get_json()["detail"].lower()
    content, [post] = _stored(draft.id)
    assert content.status == "pending_approval" and content.version == 2 and post.status == "pending_approval"
    assert any(m.get("content_hash") == content.content_hash for m in drain_messages("approval-notify"))


def test_bad_decision_requests_are_400_or_404(api, env, draft):
    assert _decide(api, env, draft, "maybe").get_json()["field"] == "action"
    assert _decide(api, env, draft, content_hash="abc").get_json()["field"] == "content_hash"
    assert _decide(api, env, draft, reason="x" * 1001).get_json()["field"] == "reason"
    missing = api.post("/contents/c-nothing/decision", json={"action": "approve", "content_hash": "0" * 64},
                       headers=_approver(env))
    assert missing.status_code == 404
    assert api.get("/contents/__x__/approvals", headers=bearer(env)).status_code in (400, 404)
    assert _stored(draft.id)[0].status == "pending_approval"


def test_asking_again_sends_a_fresh_request_and_is_recorded(api, env, draft):
    drain_messages("approval-notify")
    answer = api.post(f"/contents/{draft.id}/approval-requests", headers=bearer(env))
    assert answer.status_code == 202
    assert answer.get_json() == {"content_id": draft.id, "content_hash": draft.content_hash, "version": 1}
    assert {"content_id": draft.id, "content_hash": draft.content_hash} in drain_messages("approval-notify")
    history = api.get(f"/contents/{draft.id}/approvals", headers=bearer(env)).get_json()["history"]
    assert [(e["event"], e["by"], e["version"]) for e in history] == [("approval_requested", "editor@example.com", 1)]
    # Once decided there is nothing to ask about.
    assert _decide(api, env, draft).status_code == 200
    assert api.post(f"/contents/{draft.id}/approval-requests", headers=bearer(env)).status_code == 409
    assert api.post("/contents/c-nothing/approval-requests", headers=bearer(env)).status_code == 404


def test_history_shows_voided_versions_and_tolerates_unknown_entries(api, env, draft):
    from shared import services
    from shared.content.versions import edit_content

    approve(env, draft)  # through a signed link, by lead@example.com
    edited = edit_content(services.repository(), draft.id, caption="A better caption")
    answer = _decide(api, env, edited, "reject", reason="Too long")
    assert answer.status_code == 200
    # An entry in a shape this API does not know still reads as an event.
    ref = services.repository().content_ref(draft.id)
    ref.update({"approval_history": [*ref.get().to_dict()["approval_history"], {"note": "migrated"}]})
    approvals = api.get(f"/contents/{draft.id}/approvals", headers=bearer(env)).get_json()
    assert (approvals["version"], approvals["content_hash"]) == (2, edited.content_hash)
    voided, unknown, decided = approvals["history"]
    assert (voided["event"], voided["version"], voided["reason"]) == ("voided", 1, "content edited")
    assert voided["approval"]["decided_by"] == "lead@example.com" and voided["approval"]["via"] == "link"
    assert voided["content_hash"] == draft.content_hash
    assert unknown["event"] == "unknown"
    assert (decided["event"], decided["by"], decided["reason"], decided["version"]) == ("decided", APPROVER, "Too long", 2)
