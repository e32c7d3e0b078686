"""YouTube metadata sync end to end on the emulators and the YouTube sandbox: a change to a published
video is requested through the API, the approver gets the same signed link as for a post, the
approval applies it with videos.update (read-modify-write: untouched fields survive), and every
decision leaves an audit record in Firestore and one row in BigQuery. Stale links, a video edited
on YouTube meanwhile, and bad requests are refused."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from infra.local.sandboxes.youtube import GRANULE, YouTubeSandbox
from tests.conftest import (
    PROJECT,
    approve,
    bearer,
    drain_messages,
    function_client,
    generic_brief,
    pubsub_envelope,
    register_account,
    upload_video,
)

ACCOUNT = "yt-main"
SECRET = f"youtube-account-{ACCOUNT}"
ACCESS, REFRESH = "ya29.brand-access-token", "1//brand-refresh-token"
EDITOR = "editor@example.com"
APPROVER = "lead@example.com"  # POSTGATE_APPROVERS in the test stack


@pytest.fixture(scope="module")
def yt_sandbox(stack_env):
    from shared import services

    box = YouTubeSandbox(list_requests_before_processed=1)
    box.start()
    saved = {k: os.environ.get(k) for k in ("POSTGATE_YOUTUBE_BASE_URL", "POSTGATE_YOUTUBE_OAUTH_URL",
                                            "POSTGATE_YOUTUBE_CHUNK_BYTES")}
    os.environ.update({"POSTGATE_YOUTUBE_BASE_URL": box.base_url, "POSTGATE_YOUTUBE_OAUTH_URL": box.token_url,
                       "POSTGATE_YOUTUBE_CHUNK_BYTES": str(GRANULE)})
    services.reset()
    yield box
    box.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    services.reset()


@pytest.fixture
def yt(env, yt_sandbox):
    yt_sandbox.reset()
    ids = yt_sandbox.add_account(ACCESS, REFRESH, channel_id="UCbrandchannel0000000001")
    register_account(ACCOUNT, "youtube", {"access_token": ACCESS, "refresh_token": REFRESH, "client_id": "cid",
                                          "client_secret": "csecret"},
                     handle="Brand", platform_account_id=ids["channel_id"])
    drain_messages()
    return yt_sandbox


@pytest.fixture
def published(yt, env):
    """A YouTube post published through the real pipeline: (post, video id). Private, so publishing
    made no videos.update and every update the sandbox counts is the change's."""
    from shared import entrypoints, services
    from shared.publishing.status_poll import poll_once
    from shared.runtime.config import get_config

    content = entrypoints.generate(generic_brief(
        [{"account_id": ACCOUNT, "title": "Cold all day", "tags": ["bottle", "cold drinks"], "youtube_privacy": "private",
          "youtube_category_id": "26"}], video=upload_video(2 * GRANULE + 1234, "in/yt.mp4")))
    [due] = approve(env, content)
    client = function_client("functions/publish_youtube/main.py", "publish_youtube")
    assert client.post("/", json=pubsub_envelope({"post_id": due.id})).status_code == 200
    for tick in (1, 2):
        poll_once(repo=services.repository(), config=get_config(), secrets=services.secrets(), bq=services.bigquery(),
                  now=datetime.now(UTC) + timedelta(seconds=10 * tick), owed_work=entrypoints.poll_owed_work())
    post = services.repository().get_post(due.id)
    assert post.status == "published"
    drain_messages()
    return post, post.platform_ids["video_id"]


# ---- helpers -----------------------------------------------------------------------------------


def _run_approval_notify() -> list[dict]:
    """Deliver the pending content-created messages to the approval-notify function."""
    notify = function_client("functions/approval/main.py", "notify_approvers")
    messages = drain_messages()
    for i, payload in enumerate(messages):
        assert notify.post("/", json=pubsub_envelope(payload, message_id=str(i + 100))).status_code == 200
    return messages


def _link_token(env, change_id: str, action: str = "approve") -> str:
    message = json.loads((Path(env["workdir"]) / "outbox" / f"{change_id}--{APPROVER}.json").read_text())
    return parse_qs(urlparse(message[f"{action}_url"]).fragment)["token"][0]


def _approval_http():
    return function_client("functions/approval/main.py", "approval_http", "http")


def _request(api, env, post_id: str, **fields):
    return api.post(f"/youtube/videos/{post_id}/metadata-changes", json=fields, headers=bearer(env, EDITOR))


def _change(change_id: str):
    from shared import services
    from shared.youtube_sync.service import get_change

    return get_change(services.repository(), change_id)


def _audit_rows(change_id: str) -> list[dict]:
    from google.cloud import bigquery

    from shared import services

    job = services.bigquery().query(
        "SELECT change_id, post_id, video_id, requested_by, decision, decided_by, decided_via, outcome, reason, "
        "TO_JSON_STRING(`before`) AS before_json, TO_JSON_STRING(proposed) AS proposed_json, "
        "TO_JSON_STRING(`after`) AS after_json, TO_JSON_STRING(platform_response) AS response_json, failure_reason "
        "FROM `test-project.postgate.youtube_metadata_audit` WHERE change_id = @c",
        job_config=bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("c", "STRING", change_id)]))
    return [dict(r.items()) for r in job.result()]


def _firestore_audit(change_id: str) -> dict | None:
    from shared import services

    snap = services.repository().db.collection("metadata_change_audit").document(change_id).get()
    return snap.to_dict() if snap.exists else None


def _as_json(value):
    while isinstance(value, str):
        value = json.loads(value)
    return value


# ---- approve through the signed link -----------------------------------------------------------
def test_approved_link_applies_the_change_keeping_untouched_fields_and_audits_it(published, api, env, yt):
    post, video_id = published
    answer = _request(api, env, post.id, title="Cold all day, hot all night", tags=["bottle", "thermos"],
                      privacy="unlisted")
    assert answer.status_code == 202, answer.get_json()
    change = answer.get_json()
    assert change["status"] == "pending_approval" and change["requested_by"] == EDITOR
    assert change["before"] == {"title": "Cold all day", "description": yt.posts[video_id]["snippet"]["description"],
                                "tags": ["bottle", "cold drinks"], "privacy": "private"}
    assert change["proposed"] == {"title": "Cold all day, hot all night", "description": None,
                                  "tags": ["bottle", "thermos"], "privacy": "unlisted"}
    description = yt.posts[video_id]["snippet"]["description"]
    assert description  # the caption: the change must not delete it

    assert [m.get("metadata_change_id") for m in _run_approval_notify()] == [change["id"]]
    token = _link_token(env, change["id"])
    http = _approval_http()
    review = http.post("/", data={"step": "review", "token": token})
    page = review.get_data(as_text=True)
    assert review.status_code == 200 and "Cold all day, hot all night" in page and "cold drinks" in page
    assert http.get(f"/?token={token}").status_code == 200  # GET shows, never decides
    assert _change(change["id"]).status == "pending_approval" and yt.count("update") == 0

    decided = http.post("/", data={"token": token, "action": "approve"})
    assert decided.status_code == 200 and "applied" in decided.get_data(as_text=True)
    video = yt.posts[video_id]
    assert video["snippet"]["title"] == "Cold all day, hot all night"
    assert video["snippet"]["tags"] == ["bottle", "thermos"] and video["status"]["privacyStatus"] == "unlisted"
    assert video["snippet"]["description"] == description and video["snippet"]["categoryId"] == "26"
    assert video["updates"][-1]["snippet"]["categoryId"] == "26"  # sent back whole: the update replaces the part

    done = api.get(f"/youtube/metadata-changes/{change['id']}", headers=bearer(env, EDITOR)).get_json()
    assert done["status"] == "applied" and done["outcome"] == "applied" and done["decided_by"] == APPROVER
    assert done["decided_via"] == "link" and done["audit_written"] is True
    assert done["after"] == {"title": "Cold all day, hot all night", "description": description,
                             "tags": ["bottle", "thermos"], "privacy": "unlisted"}
    audit = _firestore_audit(change["id"])
    assert audit["outcome"] == "applied" and audit["decided_by"] == APPROVER and audit["requested_by"] == EDITOR
    [row] = _audit_rows(change["id"])
    assert row["requested_by"] == EDITOR and row["decided_by"] == APPROVER and row["decision"] == "approved"
    assert row["outcome"] == "applied" and row["video_id"] == video_id and row["post_id"] == post.id
    assert _as_json(row["before_json"])["title"] == "Cold all day"
    assert _as_json(row["after_json"])["privacy"] == "unlisted"
    assert _as_json(row["response_json"])["snippet"]["title"] == "Cold all day, hot all night"

    assert http.post("/", data={"token": token, "action": "approve"}).status_code == 409  # single use
    assert yt.count("update") == 1
    assert _run_approval_notify() == [{"metadata_change_id": change["id"], "outcome": "applied"}]
    notices = list((Path(env["workdir"]) / "outbox").glob(f"{change['id']}--applied--{EDITOR}.json"))
    assert notices  # the requester hears the outcome


def test_rejected_link_changes_nothing_and_the_audit_records_the_rejection(published, api, env, yt):
    post, video_id = published
    change = _request(api, env, post.id, description="A new description").get_json()
    _run_approval_notify()
    before = json.loads(json.dumps(yt.posts[video_id]["snippet"]))
    answer = _approval_http().post("/", data={"token": _link_token(env, change["id"], "reject"), "action": "reject",
                                              "reason": "Keep the launch copy"})
    assert answer.status_code == 200 and "Rejected" in answer.get_data(as_text=True)
    assert yt.count("update") == 0 and yt.posts[video_id]["snippet"] == before
    rejected = _change(change["id"])
    assert rejected.status == "rejected" and rejected.outcome == "rejected" and rejected.reason == "Keep the launch copy"
    [row] = _audit_rows(change["id"])
    assert row["decision"] == "rejected" and row["outcome"] == "rejected" and row["decided_by"] == APPROVER
    assert row["reason"] == "Keep the launch copy" and _as_json(row["after_json"]) is None


# ---- stale links, conflicts -------------------------------------------------------------------
def test_a_newer_change_makes_the_older_link_stale_and_the_newer_one_applies(published, api, env, yt):
    from shared import services

    post, video_id = published
    first = _request(api, env, post.id, title="First idea").get_json()
    _run_approval_notify()
    stale = _link_token(env, first["id"])
    second = _request(api, env, post.id, title="Better idea").get_json()
    answer = _approval_http().post("/", data={"token": stale, "action": "approve"})
    assert answer.status_code == 409 and "newer change" in answer.get_data(as_text=True)
    assert _change(first["id"]).status == "superseded" and yt.posts[video_id]["snippet"]["title"] == "Cold all day"

    yt.expire_token(ACCESS)  # the approver's decision through the API also refreshes once on a 401
    decided = api.post(f"/youtube/metadata-changes/{second['id']}/decision",
                       json={"action": "approve", "change_hash": second["change_hash"]},
                       headers=bearer(env, APPROVER, roles=("approver",)))
    assert decided.status_code == 200, decided.get_json()
    body = decided.get_json()
    assert body["outcome"] == "applied" and body["decided_by"] == APPROVER and body["decided_via"] == "api"
    assert yt.posts[video_id]["snippet"]["title"] == "Better idea" and yt.count("token") == 1
    assert json.loads(services.secrets().access(SECRET))["access_token"] != ACCESS
    again = api.post(f"/youtube/metadata-changes/{second['id']}/decision",
                     json={"action": "approve", "change_hash": second["change_hash"]},
                     headers=bearer(env, APPROVER, roles=("approver",)))
    assert again.status_code == 409
    page = api.get(f"/youtube/metadata-changes?post_id={post.id}", headers=bearer(env, EDITOR)).get_json()
    assert page["total"] == 2 and [c["status"] for c in page["items"]] == ["superseded", "applied"]
    applied = api.get("/youtube/metadata-changes?status=applied&limit=1", headers=bearer(env, EDITOR)).get_json()
    assert applied["total"] == 1 and applied["items"][0]["id"] == second["id"]


def test_video_edited_on_youtube_meanwhile_is_not_overwritten(published, api, env, yt):
    post, video_id = published
    change = _request(api, env, post.id, title="Our title", privacy="public").get_json()
    yt.edit_video(video_id, snippet={"title": "Edited in Studio"})  # the channel owner, after the request
    decided = api.post(f"/youtube/metadata-changes/{change['id']}/decision",
                       json={"action": "approve", "change_hash": change["change_hash"]},
                       headers=bearer(env, APPROVER, roles=("approver",)))
    assert decided.status_code == 200
    body = decided.get_json()
    assert body["outcome"] == "conflict" and body["status"] == "failed" and "title" in body["failure_reason"]
    assert yt.count("update") == 0
    assert yt.posts[video_id]["snippet"]["title"] == "Edited in Studio"
    assert yt.posts[video_id]["status"]["privacyStatus"] == "private"
    [row] = _audit_rows(change["id"])
    assert row["outcome"] == "conflict" and row["decided_by"] == APPROVER and "title" in row["failure_reason"]


def test_wrong_hash_and_missing_role_are_refused_through_the_api(published, api, env, yt):
    post, _ = published
    change = _request(api, env, post.id, tags=["bottle"]).get_json()
    url = f"/youtube/metadata-changes/{change['id']}/decision"
    assert api.post(url, json={"action": "approve", "change_hash": change["change_hash"]},
                    headers=bearer(env, EDITOR)).status_code == 403
    wrong = api.post(url, json={"action": "approve", "change_hash": "0" * 64},
                     headers=bearer(env, APPROVER, roles=("approver",)))
    assert wrong.status_code == 409 and _change(change["id"]).status == "pending_approval"
    assert api.post("/youtube/metadata-changes/ytm-nope/decision", json={"action": "reject", "change_hash": "0" * 64},
                    headers=bearer(env, APPROVER, roles=("approver",))).status_code == 404
    assert yt.count("update") == 0


# ---- refusals before anyone is asked ----------------------------------------------------------
@pytest.mark.parametrize("body,field", [
    ({}, "body"),
    ({"title": "x" * 101}, "title"),
    ({"title": "a <b> title"}, "title"),
    ({"title": "   "}, "title"),
    ({"description": "é" * 2501}, "description"),  # 2501 characters, 5002 UTF-8 bytes
    ({"tags": ["word"] * 101}, "tags"),
    ({"tags": ["ab cd"] * 80}, "tags"),  # 80 x (5 + 2 quotes) + 79 commas = 639 characters as YouTube counts
    ({"tags": ["a,b"]}, "tags"),
    ({"privacy": "secret"}, "privacy"),
    ({"title": "ok", "category": "22"}, "category"),
])
def test_invalid_requests_are_400_naming_the_field(api, env, body, field):
    from shared import services
    from shared.youtube_sync.model import CHANGES

    answer = _request(api, env, "c-0123456789abcdef0123--yt-main", **body)
    assert answer.status_code == 400 and answer.get_json()["field"] == field, answer.get_json()
    assert list(services.repository().db.collection(CHANGES).stream()) == []


def test_only_a_published_youtube_post_can_be_changed(yt, api, env, draft):
    from shared import entrypoints

    assert _request(api, env, "c-nope--yt-main", title="x").status_code == 404
    tiktok = _request(api, env, f"{draft.id}--tiktok-main", title="x")
    assert tiktok.status_code == 422 and tiktok.get_json()["field"] == "post_id"
    pending = entrypoints.generate(generic_brief(
        [{"account_id": ACCOUNT, "title": "T", "youtube_privacy": "public"}], video=upload_video(GRANULE, "in/p.mp4")))
    answer = _request(api, env, f"{pending.id}--{ACCOUNT}", title="x")
    assert answer.status_code == 409 and "pending_approval" in answer.get_json()["detail"]
    assert api.get("/youtube/metadata-changes/bad%2Fid", headers=bearer(env, EDITOR)).status_code in (400, 404)


def test_a_change_that_changes_nothing_is_refused(published, api, env, yt):
    post, _ = published
    answer = _request(api, env, post.id, title="Cold all day", privacy="private")
    assert answer.status_code == 422 and answer.get_json()["field"] == "title"


def test_the_audit_row_is_written_once_when_the_write_is_retried(published, api, env, yt):
    from shared import services
    from shared.youtube_sync.audit import write_audit

    post, _ = published
    change = _request(api, env, post.id, privacy="unlisted").get_json()
    api.post(f"/youtube/metadata-changes/{change['id']}/decision",
             json={"action": "reject", "change_hash": change["change_hash"]},
             headers=bearer(env, APPROVER, roles=("approver",)))
    write_audit(services.repository(), services.bigquery(), PROJECT, _change(change["id"]))
    assert len(_audit_rows(change["id"])) == 1


# ---- unknown outcomes, crashed appliers and owed audit rows (settled by the status poll) ----------
def _poll(minutes: float = 0.0):
    """One status-poll tick as if `minutes` had passed (retry times and leases are read against it)."""
    from shared import entrypoints, services
    from shared.publishing.status_poll import poll_once
    from shared.runtime.config import get_config

    return poll_once(repo=services.repository(), config=get_config(), secrets=services.secrets(),
                     bq=services.bigquery(), now=datetime.now(UTC) + timedelta(minutes=minutes),
                     owed_work=entrypoints.poll_owed_work())


def _approved_without_applying(change: dict):
    """The decision recorded and nothing after it: what a request that died right then leaves behind."""
    from shared import services
    from shared.youtube_sync.service import record_decision

    decided = record_decision(services.repository(), change["id"], action="approve",
                              change_hash_claimed=change["change_hash"], decided_by=APPROVER, via="api")
    assert decided.status == "approved"
    return decided


def _wait_for(condition, seconds: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_an_update_whose_answer_is_lost_is_confirmed_by_reading_back_and_never_sent_twice(published, api, env, yt):
    from shared import services
    from shared.runtime.config import get_config
    from shared.youtube_sync import service

    post, video_id = published
    change = _request(api, env, post.id, title="Hot all night").get_json()
    impatient = get_config().model_copy(update={"http_timeout_seconds": 0.5})
    yt.inject("update", "slow", seconds=2)  # YouTube applies it, but only after our client gave up waiting
    decided = service.decide_via_api(services.repository(), impatient, services.secrets(), services.bigquery(),
                                     change["id"], action="approve", change_hash_claimed=change["change_hash"],
                                     user=APPROVER, reason=None, publish=service.publisher(impatient))
    # The read-back right after the timeout still saw the old title: not failed, not applied, try later.
    assert decided.status == "approved" and decided.outcome is None and decided.update_attempts == 1
    assert "old values" in decided.last_error and _audit_rows(change["id"]) == []
    _wait_for(lambda: yt.posts[video_id]["snippet"]["title"] == "Hot all night")  # the late update lands

    _poll()  # the retry is not due yet
    assert _change(change["id"]).status == "approved"
    _poll(minutes=10)
    done = _change(change["id"])
    assert done.status == "applied" and done.outcome == "applied" and done.audit_written
    assert done.platform_response["note"] == "confirmed by reading back" and done.after.title == "Hot all night"
    assert yt.count("update") == 1 and len(yt.posts[video_id]["updates"]) == 1
    [row] = _audit_rows(change["id"])
    assert row["outcome"] == "applied" and _as_json(row["response_json"])["note"] == "confirmed by reading back"
    _poll(minutes=20)
    assert yt.count("update") == 1 and len(_audit_rows(change["id"])) == 1


def test_an_update_answered_5xx_that_did_not_land_is_sent_again_by_the_next_poll(published, api, env, yt):
    post, video_id = published
    change = _request(api, env, post.id, privacy="unlisted").get_json()
    _run_approval_notify()
    yt.inject("update", "server_error")
    answer = _approval_http().post("/", data={"token": _link_token(env, change["id"]), "action": "approve"})
    assert answer.status_code == 200 and "within a few minutes" in answer.get_data(as_text=True)
    waiting = _change(change["id"])
    assert waiting.status == "approved" and waiting.outcome is None and waiting.update_attempts == 1
    assert yt.posts[video_id]["status"]["privacyStatus"] == "private" and yt.count("update", 503) == 1

    _poll(minutes=10)
    done = _change(change["id"])
    assert done.status == "applied" and done.update_attempts == 2 and done.audit_written
    assert yt.posts[video_id]["status"]["privacyStatus"] == "unlisted"
    assert yt.count("update") == 2 and len(yt.posts[video_id]["updates"]) == 1
    [row] = _audit_rows(change["id"])
    assert row["outcome"] == "applied" and row["decided_via"] == "link"
    assert {"metadata_change_id": change["id"], "outcome": "applied"} in drain_messages()


def test_updates_youtube_never_applies_fail_after_the_bounded_attempts(published, api, env, yt):
    from shared.youtube_sync.applying import MAX_UPDATE_ATTEMPTS

    post, video_id = published
    change = _request(api, env, post.id, title="Never lands").get_json()
    yt.inject("update", "server_error", count=10)
    decided = api.post(f"/youtube/metadata-changes/{change['id']}/decision",
                       json={"action": "approve", "change_hash": change["change_hash"]},
                       headers=bearer(env, APPROVER, roles=("approver",)))
    assert decided.status_code == 200 and decided.get_json()["status"] == "approved"
    for tick in range(1, MAX_UPDATE_ATTEMPTS + 1):
        _poll(minutes=120 * tick)  # past each retry time
    failed = _change(change["id"])
    assert failed.status == "failed" and failed.outcome == "failed" and "old values" in failed.failure_reason
    assert yt.count("update") == MAX_UPDATE_ATTEMPTS and yt.posts[video_id]["snippet"]["title"] == "Cold all day"
    [row] = _audit_rows(change["id"])
    assert row["outcome"] == "failed"


def test_an_approval_whose_request_died_is_applied_once_by_the_poll(published, api, env, yt):
    from concurrent.futures import ThreadPoolExecutor

    from shared.youtube_sync.service import APPLY_GRACE_SECONDS

    post, video_id = published
    change = _request(api, env, post.id, title="Applied by the poll", tags=["bottle"]).get_json()
    _approved_without_applying(change)
    _poll()  # within the grace period the deciding request may still be applying it
    assert _change(change["id"]).status == "approved" and yt.count("update") == 0

    later = APPLY_GRACE_SECONDS / 60 + 1
    with ThreadPoolExecutor(max_workers=3) as pool:  # overlapping ticks: one lease, one update
        list(pool.map(lambda _: _poll(minutes=later), range(3)))
    done = _change(change["id"])
    assert done.status == "applied" and done.update_attempts == 1 and done.audit_written
    assert yt.count("update") == 1 and yt.posts[video_id]["snippet"]["title"] == "Applied by the poll"
    assert yt.posts[video_id]["snippet"]["tags"] == ["bottle"]
    assert len(_audit_rows(change["id"])) == 1
    _poll(minutes=later + 10)
    assert yt.count("update") == 1 and len(_audit_rows(change["id"])) == 1


def test_a_dead_appliers_lease_is_taken_over_only_once_it_runs_out(published, api, env, yt):
    from shared import services
    from shared.youtube_sync.model import CHANGES

    post, video_id = published
    change = _request(api, env, post.id, description="Sent just before the crash").get_json()
    _approved_without_applying(change)
    # It died holding the lease right after sending the update, which YouTube applied.
    yt.edit_video(video_id, snippet={"description": "Sent just before the crash"})
    services.repository().db.collection(CHANGES).document(change["id"]).update({
        "status": "applying", "apply_claim": "dead-applier", "update_attempts": 1,
        "apply_due_at": datetime.now(UTC) + timedelta(minutes=5)})
    _poll()
    assert _change(change["id"]).status == "applying"  # the lease is still live
    _poll(minutes=6)
    done = _change(change["id"])
    assert done.status == "applied" and done.platform_response["note"] == "confirmed by reading back"
    assert yt.count("update") == 0 and len(_audit_rows(change["id"])) == 1


def test_an_owed_audit_row_is_written_by_the_poll_once(published, api, env, yt):
    from shared import services
    from shared.runtime.config import get_config
    from shared.youtube_sync.applying import apply_approved

    post, _ = published
    change = _request(api, env, post.id, title="Audited later").get_json()
    _approved_without_applying(change)
    applied = apply_approved(services.repository(), get_config(), services.secrets(), change["id"])
    # Applied, and the process died before the audit (or BigQuery refused it).
    assert applied.status == "applied" and not _change(change["id"]).audit_written
    assert _audit_rows(change["id"]) == [] and _firestore_audit(change["id"]) is None
    _poll()
    assert _change(change["id"]).audit_written and _firestore_audit(change["id"])["outcome"] == "applied"
    [row] = _audit_rows(change["id"])
    assert row["outcome"] == "applied" and row["decided_by"] == APPROVER
    _poll(minutes=10)
    assert len(_audit_rows(change["id"])) == 1 and yt.count("update") == 1
