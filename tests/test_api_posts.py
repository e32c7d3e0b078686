"""The posts resource: create (own copy, AI draft, bulk), list and search, edit, delete, cancel and
reschedule, against the real emulators and the TikTok sandbox. Nothing reaches a platform without
an approval of exactly the version that goes out, and a post a publisher claimed is never touched."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from tests.conftest import (
    ACCOUNT,
    ACCOUNT_SECRET,
    approve,
    bearer,
    brief,
    drain_messages,
    function_client,
    pubsub_envelope,
    upload_video,
)

EDITOR = "editor@example.com"


def _copy(video: str, **overrides) -> dict:
    body = {"campaign": "launch", "caption": "Cold for 24 hours. Really.", "hashtags": ["#Launch", "bottle"],
            "video": video, "targets": [{"account_id": ACCOUNT, "privacy_level": "PUBLIC_TO_EVERYONE"}]}
    body.update(overrides)
    return body


def _deliver(post_id: str):
    client = function_client("functions/publish_tiktok/main.py", "publish_tiktok")
    return client.post("/", json=pubsub_envelope({"post_id": post_id}))


def _tick():
    """One status-poll tick with every processing post's check made due."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    from shared import services
    from shared.runtime.clock import utcnow

    repo = services.repository()
    for snap in repo.db.collection("posts").where(filter=FieldFilter("status", "==", "processing")).stream():
        repo.update_fields(snap.id, next_check_at=utcnow() - timedelta(seconds=1))
    client = function_client("functions/status_poll/main.py", "poll_statuses")
    assert client.post("/", json=pubsub_envelope({"tick": "status-poll"})).status_code == 200




def _repo():
    from shared import services

    return services.repository()


def _stored(collection: str) -> int:
    return len(list(_repo().db.collection(collection).stream()))


def _later(**delta):
    from shared.runtime.clock import utcnow

    return (utcnow() + timedelta(**delta)).replace(microsecond=0)


# -- create -----------------------------------------------------------------------------------------

def test_own_copy_is_stored_verbatim_and_sent_for_approval(api, env):
    drain_messages()
    video = upload_video()
    answer = api.post("/posts", json=_copy(video), headers=bearer(env))
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["caption"] == "Cold for 24 hours. Really." and body["hashtags"] == ["Launch", "bottle"]
    assert body["generator"] == "own-copy" and body["requested_by"] == EDITOR and body["status"] == "pending_approval"
    assert body["media"][0]["uri"] == video and body["media"][0]["generation"]
    [post] = body["posts"]
    assert post["status"] == "pending_approval" and post["caption"] == "Cold for 24 hours. Really.\n\n#Launch #bottle"
    assert [m["content_hash"] for m in drain_messages()] == [body["content_hash"]]
    # Nothing skips approval: the publisher refuses it untouched.
    assert _deliver(post["id"]).status_code == 200
    assert _repo().get_post(post["id"]).status == "pending_approval"


def test_idempotency_key_returns_the_same_item(api, env):
    video = upload_video()
    headers = {**bearer(env), "Idempotency-Key": "campaign-sheet-row-7"}
    first = api.post("/posts", json=_copy(video), headers=headers).get_json()
    again = api.post("/posts", json=_copy(video), headers=headers)
    assert again.status_code == 201 and again.get_json()["id"] == first["id"]
    other = api.post("/posts", json=_copy(video), headers=bearer(env)).get_json()
    assert other["id"] != first["id"]
    assert _stored("content") == 2


def test_generate_from_a_brief_drafts_posts_awaiting_approval(api, env):
    body = brief(upload_video())
    del body["requested_by"]
    answer = api.post("/posts/generate", json=body, headers=bearer(env))
    assert answer.status_code == 201, answer.get_json()
    content = answer.get_json()
    assert content["generator"] == "offline-template-v1" and content["requested_by"] == EDITOR
    assert "drinks cold" in content["caption"] and content["posts"][0]["status"] == "pending_approval"


def test_unknown_account_is_422_naming_the_target(api, env):
    answer = api.post("/posts", json=_copy(upload_video(), targets=[{"account_id": "nobody"}]), headers=bearer(env))
    assert answer.status_code == 422
    assert answer.get_json()["field"] == "targets[0].account_id"
    assert _stored("content") == 0


def test_bulk_is_all_or_nothing_with_per_item_errors(api, env):
    video = upload_video()
    items = [_copy(video, caption=f"Post number {i}") for i in range(5)]
    items[3]["targets"] = [{"account_id": "no-such-account", "privacy_level": "PUBLIC_TO_EVERYONE"}]
    refused = api.post("/posts/bulk", json={"items": items}, headers=bearer(env))
    assert refused.status_code == 422
    errors = refused.get_json()["errors"]
    assert [e["field"] for e in errors] == ["items[3].targets[0].account_id"]
    assert _stored("content") == 0 and _stored("posts") == 0

    items[3] = _copy(video, caption="x" * 2300)  # over TikTok's caption limit: a platform rule, per item
    refused = api.post("/posts/bulk", json={"items": items}, headers=bearer(env))
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "items[3].caption"
    assert _stored("content") == 0

    items[3] = {**_copy(video), "caption": ""}  # schema: 400 naming the item's field
    refused = api.post("/posts/bulk", json={"items": items}, headers=bearer(env))
    assert refused.status_code == 400 and refused.get_json()["field"] == "items[3].caption"

    items[3] = _copy(video, caption="Post number 3")
    made = api.post("/posts/bulk", json={"items": items}, headers=bearer(env))
    assert made.status_code == 201
    assert [c["caption"] for c in made.get_json()["items"]] == [f"Post number {i}" for i in range(5)]
    assert _stored("content") == 5 and _stored("posts") == 5


def test_bulk_over_100_items_is_400(api, env):
    items = [_copy(upload_video())] * 101
    answer = api.post("/posts/bulk", json={"items": items}, headers=bearer(env))
    assert answer.status_code == 400 and answer.get_json()["field"] == "items"


# -- read -------------------------------------------------------------------------------------------

def test_list_filters_search_and_pagination(api, env):
    from tests.conftest import register_account

    register_account("tiktok-second", "tiktok", {"access_token": "act.second"}, handle="second")
    video = upload_video()
    headers = bearer(env)
    made = [api.post("/posts", json=_copy(video, hashtags=["Launch"], **kw), headers=headers).get_json() for kw in (
        {"caption": "Summer BOTTLE drop", "campaign": "summer"},
        {"caption": "Winter flask", "campaign": "winter", "publish_at": _later(days=3).isoformat()},
        {"caption": "Another summer bottle", "campaign": "summer",
         "targets": [{"account_id": "tiktok-second", "privacy_level": "SELF_ONLY"}]},
    )]
    assert all("id" in m for m in made), made

    def ids(**query):
        answer = api.get("/posts", query_string=query, headers=headers)
        assert answer.status_code == 200, answer.get_json()
        page = answer.get_json()
        return {p["content_id"] for p in page["items"]}, page["total"]

    assert ids() == ({m["id"] for m in made}, 3)
    assert ids(campaign="summer") == ({made[0]["id"], made[2]["id"]}, 2)
    assert ids(account_id="tiktok-second") == ({made[2]["id"]}, 1)
    assert ids(q="bottle") == ({made[0]["id"], made[2]["id"]}, 2)  # case-insensitive
    assert ids(q="bottle", campaign="summer", account_id=ACCOUNT) == ({made[0]["id"]}, 1)
    assert ids(q="#launch") == ({m["id"] for m in made}, 3)  # hashtags are part of the posted text
    assert ids(status="published") == (set(), 0)
    assert ids(platform="tiktok", status="pending_approval")[1] == 3
    # Date range: the winter post is planned 3 days out; the others count from their creation (now).
    assert ids(**{"from": _later(days=2).isoformat(), "to": _later(days=4).isoformat()}) == ({made[1]["id"]}, 1)
    assert ids(**{"from": _later(hours=-1).isoformat(), "to": _later(hours=1).isoformat()})[1] == 2
    assert ids(**{"from": _later(days=2).isoformat(), "q": "summer"}) == (set(), 0)
    # Pagination keeps the total.
    page = api.get("/posts", query_string={"limit": 2, "skip": 2}, headers=headers).get_json()
    assert page["total"] == 3 and len(page["items"]) == 1 and page["skip"] == 2
    page = api.get("/posts", query_string={"limit": 1, "q": "bottle", "skip": 1}, headers=headers).get_json()
    assert page["total"] == 2 and len(page["items"]) == 1


def test_get_post_and_content(api, env):
    made = api.post("/posts", json=_copy(upload_video()), headers=bearer(env)).get_json()
    post_id = made["posts"][0]["id"]
    post = api.get(f"/posts/{post_id}", headers=bearer(env))
    assert post.status_code == 200 and post.get_json()["content_id"] == made["id"]
    content = api.get(f"/contents/{made['id']}", headers=bearer(env))
    assert content.status_code == 200 and content.get_json()["posts"][0]["id"] == post_id


@pytest.mark.parametrize("method,path", [
    ("get", "/posts/c-unknown--tiktok-main"), ("get", "/contents/c-unknown"), ("patch", "/posts/c-unknown"),
    ("delete", "/posts/c-unknown"), ("post", "/posts/c-unknown/cancel"), ("post", "/posts/c-unknown/reschedule"),
])
def test_unknown_ids_are_404(api, env, method, path):
    body = {"patch": {"caption": "x"}, "post": {"scheduled_at": _later(hours=1).isoformat()}}.get(method)
    if path.endswith("/cancel"):
        body = None
    answer = getattr(api, method)(path, json=body, headers=bearer(env))
    assert answer.status_code == 404, answer.get_json()
    assert "c-unknown" in answer.get_json()["detail"]


@pytest.mark.parametrize("method,path,body,field", [
    ("get", "/posts/..", None, None),
    ("get", "/posts/__x__", None, "post_id"),
    ("get", "/posts?status=sideways", None, "status"),
    ("get", "/posts?from=yesterday", None, "from"),
    ("get", "/posts?limit=1000", None, "limit"),
    ("get", "/posts?colour=red", None, "colour"),
    ("post", "/posts", {"campaign": "x", "caption": "hi", "targets": []}, "targets"),
    ("post", "/posts", {"campaign": "x", "caption": "hi", "video": "http://x/y", "targets": [{"account_id": "a"}]}, "video"),
    ("patch", "/posts/c-1--a", {"caption": "hi", "colour": "red"}, "colour"),
    ("patch", "/posts/c-1--a", {}, "body"),
    ("post", "/posts/c-1--a/reschedule", {"scheduled_at": "2030-13-01T10:00:00Z"}, "scheduled_at"),
])
def test_bad_input_is_400_naming_the_field(api, env, method, path, body, field):
    answer = getattr(api, method)(path, json=body, headers=bearer(env))
    assert answer.status_code in (400, 404), answer.get_json()
    if field:
        assert answer.status_code == 400 and answer.get_json()["field"] == field, answer.get_json()


# -- edit -------------------------------------------------------------------------------------------

def test_editing_approved_text_voids_the_approval_and_nothing_goes_out_until_approved_again(api, env, draft, sandbox):
    [due] = approve(env, draft)
    drain_messages()
    answer = api.patch(f"/posts/{due.id}", json={"caption": "Rewritten after approval"}, headers=bearer(env))
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "pending_approval"

    assert _deliver(due.id).status_code == 200  # the publish message sent on approval arrives now
    assert sandbox.requests_log == []
    content, post = _repo().get_content(draft.id), _repo().get_post(due.id)
    assert post.status == "pending_approval" and post.content_hash == content.content_hash != draft.content_hash
    assert content.caption == "Rewritten after approval" and content.version == 2 and content.approval is None
    assert content.approval_history[0]["reason"] == f"edited by {EDITOR}"
    assert f"edited by {EDITOR}" in post.history[-1].reason
    assert [m["content_hash"] for m in drain_messages()] == [content.content_hash]

    [due_again] = approve(env, content)
    assert _deliver(due_again.id).status_code == 200
    _tick()
    _tick()
    assert _repo().get_post(due.id).status == "published"
    assert _deliver(due.id).status_code == 200  # a late duplicate changes nothing
    assert sandbox.count("video_init") == 1


def test_time_only_change_keeps_the_approval_and_is_recorded(api, env, sandbox):
    from shared import entrypoints

    content = entrypoints.generate(brief(upload_video(), publish_at=_later(days=1).isoformat()))
    approve(env, content)
    [post] = _repo().posts_for_content(content.id)
    assert post.status == "scheduled"
    new_time = _later(days=2)
    answer = api.patch(f"/posts/{post.id}", json={"scheduled_at": new_time.isoformat()}, headers=bearer(env))
    assert answer.status_code == 200, answer.get_json()
    after = _repo().get_post(post.id)
    assert after.status == "scheduled" and after.scheduled_at == new_time
    assert after.content_hash == content.content_hash and after.approved_by == "lead@example.com"
    stored = _repo().get_content(content.id)
    assert stored.status == "approved" and stored.content_hash == content.content_hash
    note = after.history[-1]
    assert note.from_status == note.to_status == "scheduled"
    assert EDITOR in note.reason and post.scheduled_at.isoformat() in note.reason and new_time.isoformat() in note.reason
    assert sandbox.requests_log == []


def test_edit_of_a_claimed_post_is_409_and_changes_nothing(api, env, draft):
    [due] = approve(env, draft)
    _deliver(due.id)
    assert _repo().get_post(due.id).status == "processing"
    answer = api.patch(f"/posts/{due.id}", json={"caption": "Too late"}, headers=bearer(env))
    assert answer.status_code == 409 and "claimed by a publisher" in answer.get_json()["detail"]
    assert _repo().get_content(draft.id).caption == draft.caption


# -- reschedule -------------------------------------------------------------------------------------

def _one_a_day_account(account_id: str) -> None:
    _repo().put_account(account_id, {"platform": "tiktok", "handle": account_id, "secret_name": ACCOUNT_SECRET,
                                     "limits": [{"name": "posts_per_day", "max_count": 1, "window_seconds": 86400}]})


def test_reschedule_over_the_accounts_daily_cap_is_422(api, env):
    from shared import entrypoints

    _one_a_day_account("tiktok-capped")
    day = _later(days=5).replace(hour=9, minute=0, second=0)
    target = [{"account_id": "tiktok-capped", "privacy_level": "PUBLIC_TO_EVERYONE"}]
    video = upload_video()
    first = entrypoints.generate(brief(video, targets=target, publish_at=day.isoformat()))
    approve(env, first)
    second = entrypoints.generate(brief(video, targets=target, topic="Another bottle story"))
    [due] = approve(env, second)
    assert due.status == "queued"
    answer = api.post(f"/posts/{due.id}/reschedule", json={"scheduled_at": (day + timedelta(hours=5)).isoformat()},
                      headers=bearer(env))
    assert answer.status_code == 422 and answer.get_json()["field"] == "scheduled_at"
    assert "cap is 1" in answer.get_json()["detail"]
    assert _repo().get_post(due.id).status == "queued"
    # The next day has room; the queued post waits for it, approval kept.
    answer = api.post(f"/posts/{due.id}/reschedule", json={"scheduled_at": (day + timedelta(days=1)).isoformat()},
                      headers=bearer(env))
    assert answer.status_code == 200, answer.get_json()
    post = _repo().get_post(due.id)
    assert post.status == "scheduled" and post.scheduled_at == day + timedelta(days=1) and post.redispatch_at is None
    assert post.approved_by == "lead@example.com"


def test_rescheduled_queued_post_is_sent_by_dispatch_when_due_and_not_before(api, env, draft):
    from shared.publishing.dispatch import dispatch_due

    [due] = approve(env, draft)
    new_time = _later(hours=3)
    answer = api.post(f"/posts/{due.id}/reschedule", json={"scheduled_at": new_time.isoformat()}, headers=bearer(env))
    assert answer.status_code == 200 and answer.get_json()["status"] == "scheduled"
    assert _deliver(due.id).status_code == 200  # the message sent on approval: no longer queued, left alone
    assert _repo().get_post(due.id).status == "scheduled"
    sent = []
    dispatch_due(repo=_repo(), send=sent.append, batch_size=50, redispatch_seconds=900)
    assert sent == []
    dispatch_due(repo=_repo(), send=sent.append, batch_size=50, redispatch_seconds=900,
                 now=new_time + timedelta(seconds=1))
    assert [p.id for p in sent] == [due.id] and _repo().get_post(due.id).status == "queued"


def test_pending_post_just_gets_the_new_time(api, env, draft):
    [post] = _repo().posts_for_content(draft.id)
    new_time = _later(days=1)
    answer = api.post(f"/posts/{post.id}/reschedule", json={"scheduled_at": new_time.isoformat()}, headers=bearer(env))
    assert answer.status_code == 200
    after = _repo().get_post(post.id)
    assert after.status == "pending_approval" and after.scheduled_at == new_time
    assert after.content_hash == draft.content_hash


def test_reschedule_into_the_past_is_422_and_now_is_accepted(api, env, draft):
    [post] = _repo().posts_for_content(draft.id)
    past = api.post(f"/posts/{post.id}/reschedule", json={"scheduled_at": _later(hours=-2).isoformat()},
                    headers=bearer(env))
    assert past.status_code == 422 and past.get_json()["field"] == "scheduled_at"
    now = api.post(f"/posts/{post.id}/reschedule", json={"scheduled_at": _later().isoformat()}, headers=bearer(env))
    assert now.status_code == 200


# -- delete and cancel ------------------------------------------------------------------------------

def test_delete_removes_an_unpublished_post_and_refuses_a_published_one(api, env, draft, sandbox):
    from shared import entrypoints

    [post] = _repo().posts_for_content(draft.id)
    assert api.delete(f"/posts/{post.id}", headers=bearer(env)).status_code == 204
    assert _repo().get_post(post.id) is None and _repo().get_content(draft.id) is None
    assert api.delete(f"/posts/{post.id}", headers=bearer(env)).status_code == 404

    content = entrypoints.generate(brief(upload_video(), topic="A post that goes out"))
    [due] = approve(env, content)
    _deliver(due.id)
    _tick()
    _tick()
    assert _repo().get_post(due.id).status == "published"
    answer = api.delete(f"/posts/{due.id}", headers=bearer(env))
    assert answer.status_code == 409 and "published" in answer.get_json()["detail"]
    assert _repo().get_post(due.id).status == "published"


def test_cancel_before_publishing_and_409_once_done(api, env, draft, sandbox):
    [post] = _repo().posts_for_content(draft.id)
    answer = api.post(f"/posts/{post.id}/cancel", headers=bearer(env))
    assert answer.status_code == 200 and answer.get_json()["status"] == "cancelled"
    assert _repo().get_post(post.id).history[-1].reason == f"cancelled by {EDITOR}"
    again = api.post(f"/posts/{post.id}/cancel", headers=bearer(env))
    assert again.status_code == 409 and "already cancelled" in again.get_json()["detail"]
    approve_attempt = _deliver(post.id)
    assert approve_attempt.status_code == 200 and sandbox.requests_log == []


def test_cancel_racing_a_publisher_has_exactly_one_winner(api, env, sandbox):
    """The real publish path and the API cancel, released together, five rounds: each round either
    the cancel wins (no video_init, the publisher skips) or the publisher does (409, post untouched)."""
    from shared import entrypoints

    video = upload_video()
    headers = bearer(env, user="racer@example.com")
    winners = []
    for round_no in range(5):
        content = entrypoints.generate(brief(video, topic=f"Race round {round_no}: bottles stay cold"))
        [due] = approve(env, content)
        inits_before = sandbox.count("video_init")
        barrier = threading.Barrier(2)
        results: dict[str, object] = {}

        def publish():
            barrier.wait()
            time.sleep(0.03 * (round_no % 3))  # vary who gets there first
            try:
                results["publish"] = entrypoints.publish({"post_id": due.id})
            except Exception as exc:  # noqa: BLE001 - recorded and asserted on below
                results["publish"] = exc

        def cancel():
            barrier.wait()
            results["cancel"] = api.post(f"/posts/{due.id}/cancel", headers=headers)

        threads = [threading.Thread(target=publish), threading.Thread(target=cancel)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        cancel_answer, published = results["cancel"], results["publish"]
        for _ in range(3):
            # A cancel that met the publisher's claim mid-transaction may be told "busy, nothing changed,
            # try again" (503 with Retry-After): as a client does, ask again; the answer must then be one of
            # the two outcomes below.
            if cancel_answer.status_code != 503:
                break
            assert cancel_answer.headers.get("Retry-After"), cancel_answer.get_json()
            assert _repo().get_post(due.id).status != "cancelled"  # nothing was changed
            time.sleep(0.2)
            cancel_answer = api.post(f"/posts/{due.id}/cancel", headers=headers)
        post = _repo().get_post(due.id)
        inits = sandbox.count("video_init") - inits_before
        if cancel_answer.status_code == 200:
            winners.append("cancel")
            assert post.status == "cancelled" and inits == 0
            assert getattr(published, "status", None) == "skipped", published
        else:
            winners.append("publisher")
            assert cancel_answer.status_code == 409, cancel_answer.get_json()
            assert "claimed by a publisher" in cancel_answer.get_json()["detail"]
            assert post.status in ("processing", "published") and inits == 1
            assert getattr(published, "status", None) == "processing", published
            assert all(t.to_status != "cancelled" for t in post.history)
    assert len(winners) == 5
    print("race winners:", winners)


def test_writes_need_a_role_that_may_edit(api, env, draft):
    [post] = _repo().posts_for_content(draft.id)
    answer = api.post(f"/posts/{post.id}/cancel", headers=bearer(env, roles=()))
    assert answer.status_code == 403
    assert _repo().get_post(post.id).status == "pending_approval"


def test_pending_post_rescheduled_goes_out_at_its_new_time_once_approved(api, env, draft):
    """Needs approval/decision.py's decision to schedule by the post's own time (see the report)."""
    [post] = _repo().posts_for_content(draft.id)
    new_time = _later(days=1)
    assert api.post(f"/posts/{post.id}/reschedule", json={"scheduled_at": new_time.isoformat()},
                    headers=bearer(env)).status_code == 200
    assert approve(env, draft) == []  # nothing due now
    after = _repo().get_post(post.id)
    assert after.status == "scheduled" and after.scheduled_at == new_time
