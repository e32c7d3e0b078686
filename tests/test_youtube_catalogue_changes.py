"""Metadata changes of catalogue videos (not published by Postgate) and bulk changes, on the emulators and
the YouTube sandbox: every field a change can set, the conflict rule, one approval bound to every
before/after of a 200-video bulk change, applied once through a crash and across the quota's day, with
progress figures and one audit row per video."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests import catalogue_support as support
from tests.catalogue_support import ACCESS, CHANNEL, refresh
from tests.conftest import bearer, drain_messages, function_client, pubsub_envelope

catalogue_sandbox, channel = support.catalogue_sandbox, support.channel
EDITOR, APPROVER = "editor@example.com", "lead@example.com"


def _approver(env):
    return bearer(env, APPROVER, roles=("approver",))


def _updates(box, video_id: str) -> list[dict]:
    return box.posts[video_id]["updates"]


def _audit_rows(prefix: str) -> list[dict]:
    from google.cloud import bigquery

    from shared import services

    job = services.bigquery().query(
        "SELECT change_id, post_id, video_id, outcome, decided_by, TO_JSON_STRING(`before`) AS before_json, "
        "TO_JSON_STRING(`after`) AS after_json FROM `test-project.postgate.youtube_metadata_audit` "
        "WHERE STARTS_WITH(change_id, @p)",
        job_config=bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("p", "STRING", prefix)]))
    return [dict(r.items()) for r in job.result()]


def _as_json(value):
    while isinstance(value, str):
        value = json.loads(value)
    return value


def _poll(now: datetime) -> None:
    from shared import entrypoints, services
    from shared.publishing.status_poll import poll_once
    from shared.runtime.config import get_config

    poll_once(repo=services.repository(), config=get_config(), secrets=services.secrets(), bq=services.bigquery(),
              now=now, owed_work=entrypoints.poll_owed_work())


# ---- one catalogue video ------------------------------------------------------------------------


def test_a_catalogue_video_gets_every_field_changed_after_approval_and_audited(api, env, channel):
    vid = channel.add_catalogue_video(ACCESS, title="Old upload", tags=["old"], category_id="22", privacy="public")
    assert refresh().outcome == "done"
    body = {"title": "Old upload, renamed", "category_id": "27", "embeddable": False, "public_stats_viewable": False,
            "made_for_kids": True, "contains_synthetic_media": True, "privacy": "unlisted"}
    answer = api.post(f"/youtube/catalogue/videos/{vid}/metadata-changes", json=body, headers=bearer(env))
    assert answer.status_code == 202, answer.get_json()
    change = answer.get_json()
    assert change["post_id"] is None and change["video_id"] == vid
    assert change["before"]["category_id"] == "22" and change["before"]["embeddable"] is True
    assert change["before"]["public_stats_viewable"] is True and change["before"]["contains_synthetic_media"] is False
    assert channel.count("update") == 0

    decided = api.post(f"/youtube/metadata-changes/{change['id']}/decision", headers=_approver(env),
                       json={"action": "approve", "change_hash": change["change_hash"]})
    assert decided.status_code == 200, decided.get_json()
    assert decided.get_json()["outcome"] == "applied"
    video = channel.posts[vid]
    assert video["snippet"]["title"] == "Old upload, renamed" and video["snippet"]["categoryId"] == "27"
    assert video["snippet"]["tags"] == ["old"]  # untouched, sent back whole
    assert video["status"]["embeddable"] is False and video["status"]["publicStatsViewable"] is False
    assert video["status"]["selfDeclaredMadeForKids"] is True and video["status"]["containsSyntheticMedia"] is True
    assert video["status"]["privacyStatus"] == "unlisted" and len(_updates(channel, vid)) == 1
    [row] = _audit_rows(change["id"])
    assert row["post_id"] is None and row["outcome"] == "applied" and row["video_id"] == vid
    assert _as_json(row["after_json"])["made_for_kids"] is True


@pytest.mark.parametrize("body,field", [({"category_id": "18"}, "category_id"), ({"embeddable": "maybe"}, "embeddable"),
                                        ({"made_for_kids": None}, None)])
def test_a_bad_field_is_refused_naming_it(api, env, channel, body, field):
    vid = channel.add_catalogue_video(ACCESS, title="Any")
    answer = api.post(f"/youtube/catalogue/videos/{vid}/metadata-changes", json=body, headers=bearer(env))
    assert answer.status_code in (400, 422), answer.get_json()
    if field:
        assert field in json.dumps(answer.get_json())


def test_a_catalogue_video_edited_on_youtube_meanwhile_is_refused_as_conflict(api, env, channel):
    vid = channel.add_catalogue_video(ACCESS, title="Studio edit")
    assert refresh().outcome == "done"
    change = api.post(f"/youtube/catalogue/videos/{vid}/metadata-changes", json={"embeddable": False},
                      headers=bearer(env)).get_json()
    channel.edit_video(vid, status={"embeddable": False, "publicStatsViewable": False})  # the owner, in Studio
    channel.edit_video(vid, status={"embeddable": True})
    decided = api.post(f"/youtube/metadata-changes/{change['id']}/decision", headers=_approver(env),
                       json={"action": "approve", "change_hash": change["change_hash"]}).get_json()
    assert decided["outcome"] in ("applied", "conflict")  # public stats is not a field of this change: applied
    channel.edit_video(vid, status={"embeddable": True})
    again = api.post(f"/youtube/catalogue/videos/{vid}/metadata-changes", json={"embeddable": False},
                     headers=bearer(env)).get_json()
    channel.edit_video(vid, status={"embeddable": False})  # the changed field moved: the approver's before is stale
    updates = len(_updates(channel, vid))
    refused = api.post(f"/youtube/metadata-changes/{again['id']}/decision", headers=_approver(env),
                       json={"action": "approve", "change_hash": again["change_hash"]}).get_json()
    assert refused["outcome"] == "conflict" and "embeddable" in refused["failure_reason"]
    assert len(_updates(channel, vid)) == updates


# ---- bulk ---------------------------------------------------------------------------------------


def test_a_bulk_change_of_200_is_approved_once_and_applied_once_through_a_crash_and_the_quota(
        api, env, channel, monkeypatch, capsys):
    from shared import services
    from shared.youtube_sync import bulk_applying
    from shared.youtube_sync.bulk import record_decision

    ids = channel.add_catalogue_videos(ACCESS, 200)
    assert refresh(seconds=120).outcome == "done"
    drain_messages()
    answer = api.post("/youtube/metadata-bulk-changes", headers=bearer(env),
                      json={"videos": {"channel_id": CHANNEL}, "operation": {"add_tag": "summer sale"}})
    assert answer.status_code == 202, answer.get_json()
    bulk = answer.get_json()
    assert bulk["count"] == 200 and bulk["status"] == "pending_approval" and bulk["progress"]["remaining"] == 200
    items = api.get(f"/youtube/metadata-bulk-changes/{bulk['id']}/items?limit=500", headers=bearer(env)).get_json()["items"]
    assert {i["video_id"] for i in items} == set(ids)
    assert all(i["proposed"]["tags"][-1] == "summer sale" for i in items)

    # ONE approval request, its page shows the count and the rows
    notify = function_client("functions/approval/main.py", "notify_approvers")
    messages = drain_messages()
    assert [m.get("metadata_bulk_id") for m in messages] == [bulk["id"]]
    assert notify.post("/", json=pubsub_envelope(messages[0], message_id="900")).status_code == 200
    message = json.loads((Path(env["workdir"]) / "outbox" / f"{bulk['id']}--{APPROVER}.json").read_text())
    token = parse_qs(urlparse(message["approve_url"]).fragment)["token"][0]
    page = function_client("functions/approval/main.py", "approval_http", "http").post(
        "/", data={"step": "review", "token": token}).get_data(as_text=True)
    assert "200 YouTube videos" in page and page.count("summer sale") >= 200 and ids[0] in page

    # a wrong hash is refused; the approval binds every before value
    wrong = api.post(f"/youtube/metadata-bulk-changes/{bulk['id']}/decision", headers=_approver(env),
                     json={"action": "approve", "bulk_hash": "0" * 64})
    assert wrong.status_code == 409
    repo = services.repository()
    decided = record_decision(repo, bulk["id"], action="approve", hash_claimed=bulk["bulk_hash"],
                              decided_by=APPROVER, via="api")
    assert not isinstance(decided, str)
    moved = items[7]["video_id"]
    channel.edit_video(moved, snippet={"tags": ["edited in studio"]})  # after approval, before it is applied

    # a crash after the 60th update was sent, before its outcome was written
    real_record, calls = bulk_applying._record, []

    def crashing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 60:
            raise RuntimeError("the worker died here")
        return real_record(*args, **kwargs)

    monkeypatch.setattr(bulk_applying, "_record", crashing)
    from shared.platforms.youtube.quota import QUOTA_COLLECTION, pacific_day
    from shared.runtime.config import get_config

    now = datetime.now(UTC)
    # the project has spent all but 7,600 units today: 150 updates and their reads fit, the rest wait a day
    limit = get_config().youtube_daily_quota
    repo.db.collection(QUOTA_COLLECTION).document(f"brand-project--{pacific_day(now)}").set(
        {"general": limit - 7_600, "day": pacific_day(now), "key": "brand-project"})
    with pytest.raises(RuntimeError):
        bulk_applying.run_bulk(repo, get_config(), services.secrets(), bulk["id"], seconds=120, now=now)
    monkeypatch.setattr(bulk_applying, "_record", real_record)
    sent_before_resume = sum(len(_updates(channel, v)) for v in ids)
    assert sent_before_resume == 59  # 58 recorded + the one whose outcome was lost (one was a conflict)
    _poll(now + timedelta(seconds=60))  # the lease still runs: nobody takes it over
    assert sum(len(_updates(channel, v)) for v in ids) == sent_before_resume

    # the lease ran out: the poll goes on from what is recorded, until the day's quota is spent
    _poll(now + timedelta(seconds=bulk_applying.LEASE_SECONDS + 5))
    state = api.get(f"/youtube/metadata-bulk-changes/{bulk['id']}", headers=bearer(env)).get_json()
    assert state["status"] == "approved" and state["waiting_for"].startswith("quota")
    sent = sum(len(_updates(channel, v)) for v in ids)
    assert 7_600 - 50 * 4 < sent * 50 + 4 <= 7_600  # the day's units: as many updates as fit, then a stop
    assert state["progress"] == {"applied": sent, "conflict": 1, "failed": 0, "rejected": 0, "remaining": 199 - sent}
    _poll(now + timedelta(seconds=bulk_applying.LEASE_SECONDS + 60))  # the same day: nothing more is sent
    assert sum(len(_updates(channel, v)) for v in ids) == sent

    # the next day: the rest
    channel.set_quota_used(general=0)
    _poll(now + timedelta(days=1))
    done = api.get(f"/youtube/metadata-bulk-changes/{bulk['id']}", headers=bearer(env)).get_json()
    assert done["status"] == "done" and done["audited"] is True
    assert done["progress"] == {"applied": 199, "conflict": 1, "failed": 0, "rejected": 0, "remaining": 0}
    assert [len(_updates(channel, v)) for v in ids if v != moved] == [1] * 199  # never twice, the crashed one too
    assert _updates(channel, moved) == [] and channel.posts[moved]["snippet"]["tags"] == ["edited in studio"]
    assert all(channel.posts[v]["snippet"]["tags"][-1] == "summer sale" for v in ids if v != moved)
    rows = _audit_rows(bulk["id"])
    assert len(rows) == 200 and sorted(r["outcome"] for r in rows).count("applied") == 199
    assert {r["outcome"] for r in rows if r["video_id"] == moved} == {"conflict"}
    _poll(now + timedelta(days=1, minutes=5))
    assert len(_audit_rows(bulk["id"])) == 200
    with capsys.disabled():
        print("\n--- bulk change approved and applied (GET /youtube/metadata-bulk-changes/{id}) ---")
        print(json.dumps(done, indent=1))


def test_a_small_bulk_approved_by_link_applies_at_once_and_a_rejected_one_changes_nothing(api, env, channel):
    a = channel.add_catalogue_video(ACCESS, title="One", privacy="public")
    b = channel.add_catalogue_video(ACCESS, title="Two", privacy="public")
    c = channel.add_catalogue_video(ACCESS, title="Three", privacy="unlisted")
    assert refresh().outcome == "done"
    drain_messages()
    bulk = api.post("/youtube/metadata-bulk-changes", headers=bearer(env), json={
        "videos": {"video_ids": [a, b, c]}, "operation": {"set": {"privacy": "unlisted"}}}).get_json()
    assert bulk["count"] == 2 and bulk["unchanged"] == [c]
    notify = function_client("functions/approval/main.py", "notify_approvers")
    for n, message in enumerate(drain_messages()):
        notify.post("/", json=pubsub_envelope(message, message_id=str(950 + n)))
    message = json.loads((Path(env["workdir"]) / "outbox" / f"{bulk['id']}--{APPROVER}.json").read_text())
    token = parse_qs(urlparse(message["approve_url"]).fragment)["token"][0]
    http = function_client("functions/approval/main.py", "approval_http", "http")
    decided = http.post("/", data={"token": token, "action": "approve"})
    assert decided.status_code == 200 and "Approved and applied" in decided.get_data(as_text=True)
    assert http.post("/", data={"token": token, "action": "approve"}).status_code == 409  # single use
    assert channel.posts[a]["status"]["privacyStatus"] == "unlisted" == channel.posts[b]["status"]["privacyStatus"]
    assert len(_updates(channel, a)) == len(_updates(channel, b)) == 1 and _updates(channel, c) == []

    other = api.post("/youtube/metadata-bulk-changes", headers=bearer(env), json={
        "videos": {"video_ids": [a, b]}, "operation": {"remove_tag": "nothing-to-remove"}})
    assert other.status_code == 422 and other.get_json()["field"] == "operation"
    rejected = api.post("/youtube/metadata-bulk-changes", headers=bearer(env), json={
        "videos": {"video_ids": [a, b]}, "operation": {"add_tag": "never"}}).get_json()
    answer = api.post(f"/youtube/metadata-bulk-changes/{rejected['id']}/decision", headers=_approver(env),
                      json={"action": "reject", "bulk_hash": rejected["bulk_hash"], "reason": "not now"}).get_json()
    assert answer["status"] == "rejected" and answer["progress"]["rejected"] == 2 and answer["audited"] is True
    assert len(_updates(channel, a)) == 1
    assert {r["outcome"] for r in _audit_rows(rejected["id"])} == {"rejected"}


def test_a_bulk_request_is_refused_naming_the_field(api, env, channel):
    both = api.post("/youtube/metadata-bulk-changes", headers=bearer(env), json={
        "videos": {"video_ids": ["abcdefghijk"], "channel_id": CHANNEL}, "operation": {"add_tag": "x"}})
    assert both.status_code in (400, 422) and "videos" in json.dumps(both.get_json())
    two_ops = api.post("/youtube/metadata-bulk-changes", headers=bearer(env), json={
        "videos": {"video_ids": ["abcdefghijk"]}, "operation": {"add_tag": "x", "remove_tag": "y"}})
    assert two_ops.status_code in (400, 422) and "operation" in json.dumps(two_ops.get_json())
