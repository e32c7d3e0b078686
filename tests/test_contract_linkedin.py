"""The LinkedIn contract check refuses what LinkedIn's documents refuse (so it cannot be passing
everything): made-up exchanges, each wrong in one way, against a correct one."""

from __future__ import annotations

import json
from datetime import date

import pytest

from infra.local.sandboxes.recording import Exchange
from tests.contracts.linkedin import check, version_problem

TODAY = date(2026, 12, 6)
HEADERS = {"authorization": "Bearer AQV-token", "linkedin-version": "202607", "x-restli-protocol-version": "2.0.0",
           "content-type": "application/json"}
POST = {"author": "urn:li:organization:42", "commentary": "Cold all day", "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "content": {"media": {"id": "urn:li:image:D4E10AQabc", "altText": "a bottle"}}, "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False}
CREATED = {"status": 201, "response_headers": {"x-restli-id": "urn:li:share:7012345678901234567"}}


def exchange(method: str = "POST", path: str = "/rest/posts", *, body=None, headers=None, query=(), raw_uri=None,
             status: int = 200, response=None, response_headers=None) -> Exchange:
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
    target = raw_uri if raw_uri is not None else path
    return Exchange(sandbox="linkedin", host="linkedin", method=method, path=path, query=list(query),
                    headers=dict(HEADERS if headers is None else headers), body=data, body_size=len(data),
                    status=status, response_headers=response_headers or {},
                    response_body=json.dumps(response).encode() if response is not None else b"", raw_uri=target)


def problems(x: Exchange) -> list[str]:
    verdict = check(x, today=TODAY)
    assert verdict.operation is not None
    return verdict.problems


def test_a_documented_post_create_and_its_answer_pass():
    verdict = check(exchange(body=POST, **CREATED), today=TODAY)
    assert verdict.operation == "linkedin.posts.create" and verdict.problems == [] and verdict.response_checked


@pytest.mark.parametrize("change, expected", [
    ({"visibility": "EVERYONE"}, "visibility 'EVERYONE'"),
    ({"lifecycleState": "PUBLISH_REQUESTED"}, "lifecycleState 'PUBLISH_REQUESTED'"),
    ({"distribution": {"feedDistribution": "FEED"}}, "feedDistribution"),
    ({"distribution": {"feedDistribution": "MAIN_FEED", "audience": []}}, "audience"),
    ({"content": {"media": {"id": "urn:li:digitalmediaAsset:C5"}}}, "content.media.id"),
    ({"content": {"media": {"id": "urn:li:video:D5F", "altText": "x"}}}, "altText applies to images only"),
    ({"content": {"media": {"id": "urn:li:image:D4E"}, "article": {"source": "https://a"}}}, "exactly one"),
    ({"author": "urn:li:member:1"}, "author must be"),
    ({"specificContent": {}}, "specificContent"),  # the legacy ugcPosts shape
    ({"commentary": "x" * 3001}, "at most 3000"),
])
def test_post_bodies_the_posts_api_does_not_define_are_refused(change, expected):
    found = problems(exchange(body={**POST, **change}, **CREATED))
    assert any(expected in p for p in found), found


def test_a_post_without_a_required_field_is_refused():
    body = {k: v for k, v in POST.items() if k != "distribution"}
    assert any("distribution" in p for p in problems(exchange(body=body, **CREATED)))


@pytest.mark.parametrize("drop, expected", [
    ("linkedin-version", "LinkedIn-Version: YYYYMM is required"),
    ("x-restli-protocol-version", "X-Restli-Protocol-Version: 2.0.0"),
    ("authorization", "Bearer"),
    ("content-type", "application/json"),
])
def test_each_versioned_header_is_required(drop, expected):
    headers = {k: v for k, v in HEADERS.items() if k != drop}
    assert any(expected in p for p in problems(exchange(body=POST, headers=headers, **CREATED)))


def test_versions_past_sunset_or_not_released_are_refused():
    assert version_problem("202607", TODAY) is None  # July 2026: supported until at least July 2027
    assert "sunset on 2026-11-16" in version_problem("202511", TODAY)
    assert "not released" in version_problem("202701", TODAY)
    assert "minimum 12 months" in version_problem("202607", date(2027, 7, 20))
    assert "not YYYYMM" in version_problem("2026-07", TODAY)
    assert version_problem("202609.01", TODAY) is None  # a patch release of a supported month
    assert "may be sunset any day" in version_problem("202508", TODAY)  # August 2025: past its year


def test_a_created_post_must_name_its_urn_in_x_restli_id():
    found = problems(exchange(body=POST, status=201, response={"id": "urn:li:share:1"}))
    assert any("x-restli-id" in p for p in found) and any("empty body" in p for p in found)


def test_urns_in_paths_and_in_rest_li_lists_must_be_url_encoded():
    urn = "urn:li:share:7012345678901234567"
    plain = exchange("GET", f"/rest/posts/{urn}", raw_uri=f"/rest/posts/{urn}",
                     response={"id": urn, "author": "urn:li:organization:42", "visibility": "PUBLIC",
                               "lifecycleState": "PUBLISHED"})
    assert any("URL-encoded" in p for p in problems(plain))
    encoded = exchange("GET", f"/rest/posts/{urn}", raw_uri="/rest/posts/urn%3Ali%3Ashare%3A7012345678901234567",
                       response={"id": urn, "author": "urn:li:organization:42", "visibility": "PUBLIC",
                                 "lifecycleState": "PUBLISHED"})
    assert problems(encoded) == []
    query = [("q", "organizationalEntity"), ("organizationalEntity", "urn:li:organization:42"), ("shares", f"List({urn})")]
    raw = f"/rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity=urn%3Ali%3Aorganization%3A42&shares=List({urn})"
    stats = exchange("GET", "/rest/organizationalEntityShareStatistics", query=query, raw_uri=raw,
                     response={"paging": {}, "elements": []})
    assert any("inside List(...)" in p for p in problems(stats))


def test_upload_bodies_and_answers_follow_the_images_and_videos_apis():
    video_init = exchange(path="/rest/videos", query=[("action", "initializeUpload")],
                          body={"initializeUploadRequest": {"owner": "urn:li:organization:42", "fileSizeBytes": 10}},
                          response={"value": {"video": "urn:li:video:D5F", "uploadToken": "",
                                              "uploadInstructions": [{"uploadUrl": "https://u", "firstByte": 1,
                                                                      "lastByte": 9}]}})
    found = problems(video_init)
    assert any("uploadCaptions" in p for p in found) and any("without gaps" in p for p in found)
    finalize = exchange(path="/rest/videos", query=[("action", "finalizeUpload")],
                        body={"finalizeUploadRequest": {"video": "urn:li:video:D5F", "uploadedPartIds": ["/e1"]}})
    assert any("uploadToken" in p for p in problems(finalize))
    part = exchange("PUT", "/dms-uploads/video/x/0", headers={"content-type": "video/mp4"}, body=b"bytes")
    found = problems(part)
    assert any("octet-stream" in p for p in found) and any("ETag" in p for p in found)
    image = exchange("GET", "/rest/images/urn%3Ali%3Aimage%3AD4E", raw_uri="/rest/images/urn%3Ali%3Aimage%3AD4E",
                     response={"id": "urn:li:image:D4E", "status": "READY"})
    assert any("status" in p for p in problems(image))


def test_token_requests_follow_the_oauth_pages_and_errors_linkedins_shape():
    form = b"grant_type=refresh_token&refresh_token=r&client_id=c"
    token = exchange(path="/oauth/v2/accessToken", headers={"content-type": "application/x-www-form-urlencoded"},
                     body=form, response={"access_token": "a", "expires_in": 5184000})
    assert any("client_secret" in p for p in problems(token))
    refused = exchange(path="/rest/posts", body=POST, status=422, response={"error": "bad"})
    assert any("serviceErrorCode" in p for p in problems(refused))


def test_paths_linkedin_does_not_document_are_refused():
    verdict = check(exchange("POST", "/v2/ugcPosts", body={}), today=TODAY)
    assert verdict.operation is not None and verdict.problems
    verdict = check(exchange("GET", "/rest/posts", query=[("q", "authors"), ("author", "urn:li:organization:42")],
                             response={"paging": {}, "elements": []}), today=TODAY)
    assert any("q=author" in p for p in verdict.problems)
