"""The YouTube Content ID sandbox and client: requests are held to the youtubePartner v1 discovery
document (unknown parameters and fields, enums, types refused as Google does), the API's own rules
(content owner, linked channels, scopes, claims.patch of policy or status), paging, a lost answer
to claims.insert settled by claimSearch, and the contract check finding what departs from the document."""

from __future__ import annotations

import json

import pytest
import requests

from infra.local.sandboxes.recording import Exchange
from infra.local.sandboxes.youtube_partner import PARTNER_SCOPE, YouTubePartnerSandbox
from shared.errors import PermanentError, TransientError
from shared.platforms.youtube.content_id import ContentIdClient, policy_of
from tests.contracts.youtube_partner import check

TOKEN, CHANNEL, OTHER_CHANNEL = "ya29.cms-user", "UCbrandchannel0000000001", "UCsomeoneelse00000000001"
VIDEO, STRANGER_VIDEO = "vidBrand001", "vidOther001"
MONETIZE = {"rules": [{"action": "monetize"}]}


@pytest.fixture(scope="module")
def box():
    sandbox = YouTubePartnerSandbox()
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def cms(box):
    """A content owner with the brand channel linked, its user's token, a video on each channel, an asset."""
    box.reset()
    owner = box.add_content_owner("CObrand000000001", channels=(CHANNEL,))
    box.add_user(TOKEN, content_owners=(owner,))
    box.add_video(VIDEO, channel_id=CHANNEL, title="Brand film")
    box.add_video(STRANGER_VIDEO, channel_id=OTHER_CHANNEL, title="Not ours")
    asset = box.add_asset(owner, title="Brand film master", custom_id="BF-1")
    return owner, asset, ContentIdClient(TOKEN, base_url=box.base_url, timeout=5)


def _raw(box, method: str, path: str, *, params: dict | None = None, body=None, token: str = TOKEN):
    return requests.request(method, f"{box.base_url}/youtube/partner/v1{path}", params=params or {}, json=body,
                            headers={"Authorization": f"Bearer {token}"}, timeout=5)


def test_content_owner_assets_are_paged_and_skip_limit_reads_through_the_pages(box, cms):
    owner, first, client = cms
    for n in range(59):
        box.add_asset(owner, title=f"Asset {n}")
    assert [o.id for o in client.my_content_owners()] == [owner]
    items, total = client.assets(owner, skip=30, limit=20)
    assert total == 60 and len(items) == 20
    newest_first = sorted(box.assets.values(), key=lambda a: (a["timeCreated"], a["id"]), reverse=True)
    assert {i["id"] for i in items} <= {a["id"] for a in newest_first}
    assert box.count("assetSearch.list") == 2  # pages of 25: the second holds items 25..49
    assert client.asset(owner, first)["metadataMine"]["customId"] == "BF-1"
    assert client.asset(owner, "A999999999999999") is None


def test_a_claim_is_inserted_read_and_its_policy_patched(box, cms):
    owner, asset, client = cms
    claim = client.insert_claim(owner, video_id=VIDEO, asset_id=asset, content_type="audiovisual", policy=MONETIZE)
    assert claim["status"] == "active" and policy_of(claim) == MONETIZE
    patched = client.patch_claim_policy(owner, claim["id"], {"rules": [{"action": "block"}]})
    assert policy_of(patched) == {"rules": [{"action": "block"}]}
    assert policy_of(client.get_claim(owner, claim["id"])) == {"rules": [{"action": "block"}]}
    assert [c["id"] for c in client.claims_of_video(owner, VIDEO)] == [claim["id"]]
    with pytest.raises(PermanentError) as again:  # the same asset claims the video once
        client.insert_claim(owner, video_id=VIDEO, asset_id=asset, content_type="audiovisual", policy=MONETIZE)
    assert again.value.platform_code == "alreadyExists"


def test_a_video_of_a_channel_not_linked_to_the_owner_cannot_be_claimed(box, cms):
    owner, asset, client = cms
    with pytest.raises(PermanentError) as refused:
        client.insert_claim(owner, video_id=STRANGER_VIDEO, asset_id=asset, content_type="audio", policy=MONETIZE)
    assert refused.value.platform_code == "forbidden" and "same content owner" in str(refused.value)
    assert box.claims == {}


def test_an_account_without_a_content_owner_lists_none_and_is_refused_elsewhere(box, cms):
    box.add_user("ya29.plain-creator", content_owners=())
    client = ContentIdClient("ya29.plain-creator", base_url=box.base_url, timeout=5)
    assert client.my_content_owners() == []
    with pytest.raises(PermanentError) as refused:
        client.insert_claim("CObrand000000001", video_id=VIDEO, asset_id="A1", content_type="audio", policy=MONETIZE)
    assert refused.value.platform_code == "forbidden"


def test_a_token_without_the_youtubepartner_scope_is_refused(box, cms):
    owner, _, _ = cms
    box.add_user("ya29.upload-only", content_owners=(owner,), scopes=("https://www.googleapis.com/auth/youtube.upload",))
    with pytest.raises(PermanentError) as refused:
        ContentIdClient("ya29.upload-only", base_url=box.base_url, timeout=5).my_content_owners()
    assert refused.value.platform_code == "insufficientPermissions"


def test_a_lost_answer_to_claims_insert_leaves_one_claim_that_claim_search_finds(box, cms):
    owner, asset, client = cms
    box.inject("claims.insert", "lost_response")
    with pytest.raises(TransientError):
        client.insert_claim(owner, video_id=VIDEO, asset_id=asset, content_type="audiovisual", policy=MONETIZE)
    [found] = client.claims_of_video(owner, VIDEO)
    assert found["assetId"] == asset and len(box.claims) == 1


@pytest.mark.sandbox_probe
def test_what_the_discovery_document_does_not_allow_is_refused(box, cms):
    owner, asset, _ = cms
    unknown = _raw(box, "GET", "/assetSearch", params={"onBehalfOfContentOwner": owner, "pageSize": "10"})
    assert unknown.status_code == 400 and "'pageSize' is not defined" in unknown.json()["error"]["message"]
    enum = _raw(box, "GET", "/assetSearch", params={"onBehalfOfContentOwner": owner, "ownershipRestriction": "ALL"})
    assert enum.status_code == 400
    body = {"videoId": VIDEO, "assetId": asset, "contentType": "audiovisual", "policy": MONETIZE, "priority": 1}
    field = _raw(box, "POST", "/claims", params={"onBehalfOfContentOwner": owner}, body=body)
    assert field.status_code == 400 and "priority is not a field of Claim" in field.json()["error"]["message"]
    film = _raw(box, "POST", "/claims", params={"onBehalfOfContentOwner": owner},
                body={k: v for k, v in body.items() if k != "priority"} | {"contentType": "film"})
    assert film.status_code == 400
    boolean = _raw(box, "GET", "/contentOwners", params={"fetchMine": "yes"})
    assert boolean.status_code == 400
    assert _raw(box, "DELETE", "/claims/abc").status_code == 405
    assert _raw(box, "GET", "/references", params={"onBehalfOfContentOwner": owner}).status_code == 404
    assert box.claims == {}


@pytest.mark.sandbox_probe
def test_claims_patch_changes_the_policy_or_the_status_only(box, cms):
    owner, asset, client = cms
    claim = client.insert_claim(owner, video_id=VIDEO, asset_id=asset, content_type="audiovisual", policy=MONETIZE)
    moved = _raw(box, "PATCH", f"/claims/{claim['id']}", params={"onBehalfOfContentOwner": owner},
                 body={"assetId": "A000000000000009"})
    assert moved.status_code == 400
    released = _raw(box, "PATCH", f"/claims/{claim['id']}", params={"onBehalfOfContentOwner": owner},
                    body={"status": "inactive"})
    assert released.status_code == 200 and released.json()["status"] == "inactive"
    stranger = _raw(box, "GET", f"/claims/{claim['id']}", params={"onBehalfOfContentOwner": "COother0000000001"})
    assert stranger.status_code == 403


def _exchange(method: str, path: str, query: list, *, body: dict | None = None, status: int = 200,
              answer: dict | None = None, auth: bool = True) -> Exchange:
    raw = json.dumps(body).encode() if body is not None else b""
    headers = {"authorization": "Bearer t"} if auth else {}
    if body is not None:
        headers["content-type"] = "application/json"
    return Exchange(sandbox="youtube_partner", host="youtubepartner.googleapis.com", method=method, path=path,
                    query=query, headers=headers, body=raw, body_size=len(raw), status=status,
                    response_body=json.dumps(answer or {}).encode())


def test_the_contract_check_finds_departures_from_the_document():
    ok = check(_exchange("GET", "/youtube/partner/v1/claimSearch", [("onBehalfOfContentOwner", "CO1"), ("videoId", "v")],
                         answer={"kind": "youtubePartner#claimSnippetList", "items": [{"id": "c", "videoId": "v"}]}))
    assert ok.operation == "youtubePartner.claimSearch.list" and ok.problems == [] and ok.response_checked
    no_owner = check(_exchange("GET", "/youtube/partner/v1/claims/c1", [], answer={"id": "c1"}))
    assert any("onBehalfOfContentOwner" in p for p in no_owner.problems)
    extra = check(_exchange("GET", "/youtube/partner/v1/claims/c1", [("onBehalfOfContentOwner", "CO1")],
                            answer={"id": "c1", "rating": 5}))
    assert any("rating is not a field of Claim" in p for p in extra.problems)
    half = check(_exchange("POST", "/youtube/partner/v1/claims", [("onBehalfOfContentOwner", "CO1")],
                           body={"videoId": "v", "assetId": "a", "contentType": "audiovisual",
                                 "policy": {"id": "p", "rules": [{"action": "track"}]}}, answer={"id": "c"}))
    assert any("exactly one" in p for p in half.problems)
    patch = check(_exchange("PATCH", "/youtube/partner/v1/claims/c1", [("onBehalfOfContentOwner", "CO1")],
                            body={"videoId": "v2"}, answer={"id": "c1"}))
    assert any("only the policy or the status" in p for p in patch.problems)
    keyless = check(_exchange("GET", "/youtube/partner/v1/contentOwners", [("fetchMine", "true")], auth=False))
    assert any("bearer" in p for p in keyless.problems)
    assert check(_exchange("GET", "/youtube/partner/v1/references", [])).problems


def test_the_contract_check_holds_the_sandbox_s_answers_to_the_document(box, cms):
    """What the sandbox answers is checked too (the autouse contract fixture fails this test otherwise)."""
    owner, asset, client = cms
    box.add_policy(owner, name="Monetize worldwide", rules=[{"action": "monetize"}])
    assert len(client.saved_policies(owner)) == 1
    client.insert_claim(owner, video_id=VIDEO, asset_id=asset, content_type="video", policy={"rules": [
        {"action": "track", "conditions": {"requiredTerritories": {"type": "include", "territories": ["US"]}}}]})
    assert box.count("claims.insert", 200) == 1
    assert PARTNER_SCOPE.endswith("youtubepartner")


def test_connecting_a_youtube_account_asks_for_content_id_access_only_when_it_is_on():
    from shared.platforms.youtube.adapter import authorization_request
    from shared.runtime.config_model import Config

    base = {"project": "p", "media_bucket": "media", "approval_base_url": "https://a.example"}
    assert PARTNER_SCOPE not in authorization_request(Config(**base), {"platform": "youtube"})["scope"].split()
    scopes = authorization_request(Config(**base, youtube_content_id=True), {"platform": "youtube"})["scope"].split()
    assert PARTNER_SCOPE in scopes and "https://www.googleapis.com/auth/youtube.upload" in scopes
