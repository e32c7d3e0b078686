"""YouTube Content ID end to end on the emulators, the YouTube sandbox and the Content ID sandbox: the
content owner's assets through the API; a claim change and a policy change requested through the
API, approved through the same signed link (or the API) as a metadata change, applied exactly once
and audited in Firestore and BigQuery; a lost answer to claims.insert settled by claimSearch, never
by inserting again; conflicts when the claim changed meanwhile; and a channel without a content
owner refused with a 409 naming why."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

import pytest

from infra.local.sandboxes.youtube import YouTubeSandbox
from infra.local.sandboxes.youtube_partner import YouTubePartnerSandbox
from tests.conftest import PROJECT, bearer, drain_messages, function_client, pubsub_envelope, register_account

ACCOUNT, CHANNEL = "yt-cms", "UCbrandcms00000000000001"
ACCESS, REFRESH = "ya29.cms-access-token", "1//cms-refresh-token"
OWNER = "CObrandowner0001"
EDITOR, APPROVER = "editor@example.com", "lead@example.com"
ENV_KEYS = ("POSTGATE_YOUTUBE_BASE_URL", "POSTGATE_YOUTUBE_OAUTH_URL", "POSTGATE_YOUTUBE_PARTNER_BASE_URL")


@pytest.fixture(scope="module")
def boxes(stack_env):
    from shared import services

    yt, partner = YouTubeSandbox(), YouTubePartnerSandbox()
    yt.start()
    partner.start()
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    os.environ.update({"POSTGATE_YOUTUBE_BASE_URL": yt.base_url, "POSTGATE_YOUTUBE_OAUTH_URL": yt.token_url,
                       "POSTGATE_YOUTUBE_PARTNER_BASE_URL": partner.base_url})
    services.reset()
    yield yt, partner
    yt.stop()
    partner.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    services.reset()


@pytest.fixture
def cms(env, boxes):
    """A YouTube account whose Google login acts for a content owner the channel is linked to, one of
    its videos (known to both APIs), and an asset of the owner."""
    yt, partner = boxes
    yt.reset()
    partner.reset()
    yt.add_account(ACCESS, REFRESH, channel_id=CHANNEL, scopes=("https://www.googleapis.com/auth/youtube.force-ssl",
                                                              "https://www.googleapis.com/auth/youtubepartner"))
    register_account(ACCOUNT, "youtube", {"access_token": ACCESS, "refresh_token": REFRESH, "client_id": "cid",
                                          "client_secret": "csecret"}, handle="Brand", platform_account_id=CHANNEL)
    partner.add_content_owner(OWNER, display_name="Brand Music CMS", channels=(CHANNEL,))
    partner.add_user(ACCESS, content_owners=(OWNER,))
    video = yt.add_video(ACCESS, title="Brand anthem (official video)")
    partner.add_video(video, channel_id=CHANNEL, title="Brand anthem (official video)")
    asset = partner.add_asset(OWNER, title="Brand anthem master", asset_type="music_video", custom_id="BA-001")
    drain_messages()
    return SimpleNamespace(yt=yt, partner=partner, video=video, asset=asset)


def _claim_change(api, env, cms, **fields):
    body = {"account_id": ACCOUNT, "video_id": cms.video, "asset_id": cms.asset, "content_type": "audiovisual",
            "policy": {"action": "monetize"}, **fields}
    return api.post("/youtube/content-id/claim-changes", json=body, headers=bearer(env, EDITOR))


def _decide(api, env, change: dict, action: str = "approve"):
    return api.post(f"/youtube/content-id/changes/{change['id']}/decision",
                    json={"action": action, "change_hash": change["change_hash"]},
                    headers=bearer(env, APPROVER, roles=("approver",)))


def _notify() -> list[dict]:
    notify = function_client("functions/approval/main.py", "notify_approvers")
    messages = drain_messages()
    for i, payload in enumerate(messages):
        assert notify.post("/", json=pubsub_envelope(payload, message_id=str(i + 300))).status_code == 200
    return messages


def _link_token(env, change_id: str, action: str = "approve") -> str:
    message = json.loads((Path(env["workdir"]) / "outbox" / f"{change_id}--{APPROVER}.json").read_text())
    return parse_qs(urlparse(message[f"{action}_url"]).fragment)["token"][0]


def _audit_rows(change_id: str) -> list[dict]:
    from google.cloud import bigquery

    from shared import services

    job = services.bigquery().query(
        "SELECT change_id, kind, video_id, asset_id, claim_id, requested_by, decision, decided_by, decided_via, "
        "outcome, TO_JSON_STRING(`after`) AS after_json, failure_reason "
        f"FROM `{PROJECT}.postgate.youtube_content_id_audit` WHERE change_id = @c",
        job_config=bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("c", "STRING", change_id)]))
    return [dict(r.items()) for r in job.result()]


def _as_json(value):
    while isinstance(value, str):
        value = json.loads(value)
    return value


def _tick(minutes: float):
    from shared import services
    from shared.content_id.owed import settle_owed
    from shared.runtime.config import get_config

    return settle_owed(repo=services.repository(), config=get_config(), secrets=services.secrets(),
                       bq=services.bigquery(), now=datetime.now(UTC) + timedelta(minutes=minutes))


# ---- a claim, approved through the signed link -------------------------------------------------
def test_a_claim_approved_by_link_is_created_once_and_audited_with_who_approved(api, env, cms):
    requested = _claim_change(api, env, cms)
    assert requested.status_code == 202, requested.get_json()
    change = requested.get_json()
    assert change["kind"] == "claim" and change["status"] == "pending_approval"
    assert change["content_owner_id"] == OWNER and change["asset_title"] == "Brand anthem master"
    assert change["proposed"]["policy"] == {"rules": [{"action": "monetize"}]}
    assert cms.partner.claims == {}  # nothing reaches YouTube before approval

    assert [m.get("content_id_change_id") for m in _notify()] == [change["id"]]
    token = _link_token(env, change["id"])
    http = function_client("functions/approval/main.py", "approval_http", "http")
    review = http.post("/", data={"step": "review", "token": token})
    page = review.get_data(as_text=True)
    assert review.status_code == 200 and "Brand anthem master" in page and "monetize" in page
    assert "does not claim video" in page  # before -> after
    assert http.get(f"/?token={token}").status_code == 200 and cms.partner.claims == {}  # GET never decides

    decided = http.post("/", data={"token": token, "action": "approve"})
    assert decided.status_code == 200 and "Approved and applied" in decided.get_data(as_text=True)
    [claim] = cms.partner.claims.values()
    assert claim["videoId"] == cms.video and claim["assetId"] == cms.asset and claim["owner"] == OWNER
    assert claim["policy"] == {"rules": [{"action": "monetize"}]} and claim["contentType"] == "audiovisual"
    assert http.post("/", data={"token": token, "action": "approve"}).status_code == 409  # single use
    assert cms.partner.count("claims.insert") == 1

    done = api.get(f"/youtube/content-id/changes/{change['id']}", headers=bearer(env, EDITOR)).get_json()
    assert done["status"] == "applied" and done["claim_id"] == claim["id"] and done["decided_by"] == APPROVER
    assert done["decided_via"] == "link" and done["audit_written"] is True
    [row] = _audit_rows(change["id"])
    assert row["decided_by"] == APPROVER and row["requested_by"] == EDITOR and row["outcome"] == "applied"
    assert row["claim_id"] == claim["id"] and _as_json(row["after_json"])["policy"] == claim["policy"]
    assert _notify() == [{"content_id_change_id": change["id"], "outcome": "applied"}]
    print("\nclaim change as the API shows it after approval:\n" + json.dumps(
        {k: done[k] for k in ("id", "kind", "video_id", "asset_id", "content_owner_id", "review", "status", "outcome",
                              "claim_id", "requested_by", "decided_by", "decided_via", "after")}, indent=1))


def test_a_channel_without_a_content_owner_is_refused_with_409_naming_why(api, env, cms):
    cms.partner.add_user(ACCESS, content_owners=())
    answer = _claim_change(api, env, cms)
    assert answer.status_code == 409
    body = answer.get_json()
    assert body["field"] == "account_id"
    assert f"channel {CHANNEL} is not linked to a YouTube content owner; Content ID needs one" in body["detail"]
    assets = api.get(f"/youtube/content-id/assets?account_id={ACCOUNT}", headers=bearer(env, EDITOR))
    assert assets.status_code == 409 and "Content ID needs one" in assets.get_json()["detail"]
    assert drain_messages() == []  # nothing recorded, nobody asked


def test_the_owner_s_assets_are_listed_with_skip_and_limit(api, env, cms):
    for n in range(29):
        cms.partner.add_asset(OWNER, title=f"Catalogue track {n:02d}")
    page = api.get(f"/youtube/content-id/assets?account_id={ACCOUNT}&skip=20&limit=5", headers=bearer(env, EDITOR))
    assert page.status_code == 200, page.get_json()
    body = page.get_json()
    assert body["content_owner_id"] == OWNER and body["total"] == 30 and len(body["items"]) == 5
    assert body["skip"] == 20 and body["limit"] == 5 and all(item["id"].startswith("A") for item in body["items"])


# ---- exactly once -----------------------------------------------------------------------------
def test_a_lost_answer_to_claims_insert_is_settled_by_claim_search_not_a_second_insert(api, env, cms):
    change = _claim_change(api, env, cms).get_json()
    cms.partner.inject("claims.insert", "lost_response")  # the claim is made, the answer never arrives
    decided = _decide(api, env, change)
    assert decided.status_code == 200, decided.get_json()
    body = decided.get_json()
    assert body["outcome"] == "applied" and body["platform_response"]["note"].startswith("found by claimSearch")
    [claim] = cms.partner.claims.values()
    assert body["claim_id"] == claim["id"] and cms.partner.count("claims.insert") == 1


def test_an_insert_that_never_landed_fails_after_the_lookups_without_inserting_again(api, env, cms):
    from shared.content_id.applying import MAX_LOOKUPS

    change = _claim_change(api, env, cms).get_json()
    cms.partner.inject("claims.insert", "server_error")  # refused before anything was made: a 503
    body = _decide(api, env, change).get_json()
    assert body["status"] == "approved" and body["outcome"] is None  # unknown yet: the status poll settles it
    for tick in range(1, MAX_LOOKUPS + 1):
        _tick(minutes=70 * tick)
    from shared import services
    from shared.content_id.service import get_change

    settled = get_change(services.repository(), change["id"])
    assert settled.status == "failed" and "not inserted a second time" in settled.failure_reason
    assert cms.partner.count("claims.insert") == 1 and cms.partner.claims == {}
    assert settled.audit_written and _audit_rows(change["id"])[0]["outcome"] == "failed"


def test_a_claim_made_elsewhere_since_the_request_is_a_conflict_and_nothing_is_inserted(api, env, cms):
    change = _claim_change(api, env, cms).get_json()
    cms.partner.add_claim(OWNER, video_id=cms.video, asset_id=cms.asset)  # someone claimed it in Studio meanwhile
    body = _decide(api, env, change).get_json()
    assert body["outcome"] == "conflict" and "after the change was requested" in body["failure_reason"]
    assert cms.partner.count("claims.insert") == 0 and len(cms.partner.claims) == 1


# ---- a claim's policy -------------------------------------------------------------------------
def test_a_policy_change_applies_and_one_whose_claim_changed_meanwhile_is_refused(api, env, cms):
    claim_id = cms.partner.add_claim(OWNER, video_id=cms.video, asset_id=cms.asset,
                                     policy={"rules": [{"action": "track"}]})
    ask = {"account_id": ACCOUNT, "claim_id": claim_id}
    first = api.post("/youtube/content-id/policy-changes", json={**ask, "policy": {"action": "block"}},
                     headers=bearer(env, EDITOR))
    assert first.status_code == 202, first.get_json()
    change = first.get_json()
    assert change["review"] == [{"field": "Policy", "before": "track", "after": "block"}]
    cms.partner.inject("claims.patch", "lost_response")  # applied, answer lost: read back, not sent twice
    body = _decide(api, env, change).get_json()
    assert body["outcome"] == "applied" and cms.partner.claims[claim_id]["policy"] == {"rules": [{"action": "block"}]}
    assert cms.partner.count("claims.patch") == 1 and body["platform_response"]["note"].startswith("confirmed by")

    second = api.post("/youtube/content-id/policy-changes", json={**ask, "policy": {"action": "monetize"}},
                      headers=bearer(env, EDITOR)).get_json()
    cms.partner.edit_claim(claim_id, policy={"rules": [{"action": "track"}]})  # edited in Studio meanwhile
    refused = _decide(api, env, second).get_json()
    assert refused["outcome"] == "conflict" and "policy changed on YouTube" in refused["failure_reason"]
    assert cms.partner.claims[claim_id]["policy"] == {"rules": [{"action": "track"}]}  # not overwritten
    [row] = _audit_rows(second["id"])
    assert row["outcome"] == "conflict" and row["decided_by"] == APPROVER and row["kind"] == "policy"


def test_a_rejected_change_touches_nothing_and_is_audited(api, env, cms):
    change = _claim_change(api, env, cms, policy={"action": "track"}).get_json()
    body = _decide(api, env, change, "reject").get_json()
    assert body["status"] == "rejected" and cms.partner.claims == {} and cms.partner.count("claims.insert") == 0
    assert _audit_rows(change["id"])[0]["decision"] == "rejected"
    assert _decide(api, env, change).status_code == 409


# ---- refused before anything is recorded ------------------------------------------------------
def test_requests_youtube_would_refuse_are_refused_naming_the_field(api, env, cms):
    stranger = cms.yt.add_account("ya29.other", channel_id="UCsomeoneelse00000000001")
    other_video = cms.yt.add_video("ya29.other", title="Not ours")
    assert stranger["channel_id"] != CHANNEL
    wrong_video = _claim_change(api, env, cms, video_id=other_video)
    assert wrong_video.status_code == 422 and wrong_video.get_json()["field"] == "video_id"
    no_asset = _claim_change(api, env, cms, asset_id="A000000000000999")
    assert no_asset.status_code == 422 and no_asset.get_json()["field"] == "asset_id"
    both = _claim_change(api, env, cms, policy={"action": "monetize", "saved_policy_id": "S1"})
    assert both.status_code == 400 and both.get_json()["field"].startswith("policy")  # the body's own rule
    no_policy = _claim_change(api, env, cms, policy={"saved_policy_id": "S000000000000999"})
    assert no_policy.status_code == 422 and no_policy.get_json()["field"] == "policy.saved_policy_id"
    cms.partner.add_claim(OWNER, video_id=cms.video, asset_id=cms.asset)
    claimed = _claim_change(api, env, cms)
    assert claimed.status_code == 409 and "already claimed" in claimed.get_json()["detail"]
    assert drain_messages() == []
