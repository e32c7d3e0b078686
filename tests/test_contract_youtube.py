"""The YouTube contract checker (tests/contracts/youtube.py) refuses requests and answers that depart
from Google's discovery document, and passes the ones that keep it: without this it might accept
everything."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from infra.local.sandboxes.recording import Exchange
from tests.contracts.youtube import check, discovery

AUTH = {"authorization": "Bearer ya29.token"}
GRANULE = 256 * 1024


def exchange(method: str, path: str, query: dict | list | None = None, *, body: dict | bytes | None = None,
             headers: dict | None = None, status: int = 200, answer: dict | None = None,
             answer_headers: dict | None = None, body_size: int | None = None) -> Exchange:
    raw = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
    head = {**AUTH, **({"content-type": "application/json; charset=UTF-8"} if isinstance(body, dict) else {}),
            **(headers or {})}
    items = list(query.items()) if isinstance(query, dict) else list(query or [])
    return Exchange(sandbox="youtube", host="www.googleapis.com", method=method, path=path, query=items,
                    headers=head, body=raw, body_size=len(raw) if body_size is None else body_size, status=status,
                    response_headers=answer_headers or {}, response_body=json.dumps(answer).encode() if answer else b"")


def problems(ex: Exchange) -> list[str]:
    return check(ex).problems


def video(**status) -> dict:
    return {"snippet": {"title": "Cold all day", "description": "Our bottle", "categoryId": "22", "tags": ["bottle"]},
            "status": {"privacyStatus": "private", "selfDeclaredMadeForKids": False, "containsSyntheticMedia": False,
                       **status}}


def insert(body=None, query=None, **headers) -> Exchange:
    h = {"x-upload-content-length": "1000", "x-upload-content-type": "video/mp4", **headers}
    return exchange("POST", "/upload/youtube/v3/videos", query or {"uploadType": "resumable", "part": "snippet,status"},
                    body=video() if body is None else body, headers=h, answer_headers={"location": "https://x/s"})


def test_the_document_is_googles_own_from_the_wheel():
    doc = discovery()
    assert doc["name"] == "youtube" and doc["version"] == "v3" and "videos" in doc["resources"]


def test_requests_our_client_sends_pass():
    assert problems(insert()) == []
    assert check(insert()).operation == "youtube.videos.insert"
    listing = exchange("GET", "/youtube/v3/videos", {"part": "status,processingDetails", "id": "a,b"},
                       answer={"kind": "youtube#videoListResponse", "etag": "e", "items": [
                           {"kind": "youtube#video", "etag": "e", "id": "a", "status": {"privacyStatus": "private",
                                                                                       "uploadStatus": "processed"},
                            "processingDetails": {"processingStatus": "succeeded"}}],
                           "pageInfo": {"totalResults": 1, "resultsPerPage": 1}})
    verdict = check(listing)
    assert verdict.problems == [] and verdict.response_checked and verdict.operation == "youtube.videos.list"
    update = exchange("PUT", "/youtube/v3/videos", {"part": "status"},
                      body={"id": "a", "status": {**video()["status"], "embeddable": False, "license": "creativeCommon",
                                                  "publicStatsViewable": False}},
                      answer={"kind": "youtube#video", "id": "a", "status": {"privacyStatus": "public"}})
    assert problems(update) == []


@pytest.mark.parametrize("query,expected", [
    ({"part": "snippet,statistcs", "id": "a"}, "part 'statistcs' is not a part of youtube.videos.list"),
    ({"id": "a"}, "required query parameter 'part' is missing"),
    ({"part": "id", "id": "a", "maxResults": "500"}, "maxResults='500': outside 1..50"),
    ({"part": "id", "chart": "trending"}, "chart='trending': not one of"),
    ({"part": "id", "id": "a", "fields.video": "x"}, "'fields.video' is not defined"),
    ({"part": "id", "id": "a", "uploadType": "resumable"}, "uploadType on youtube.videos.list"),
])
def test_wrong_query_parameters_are_refused(query, expected):
    found = problems(exchange("GET", "/youtube/v3/videos", query))
    assert any(expected in p for p in found), found


def test_a_body_part_that_part_does_not_name_is_refused():
    found = problems(insert(query={"uploadType": "resumable", "part": "snippet"}))
    assert any("the body sets 'status' but part='snippet' does not name it" in p for p in found), found


@pytest.mark.parametrize("status,expected", [
    ({"privacyStatus": "secret"}, "status.privacyStatus='secret' is not one of"),
    ({"license": "gpl"}, "status.license='gpl' is not one of"),
    ({"embeddable": "yes"}, "status.embeddable='yes' should be a boolean"),
    ({"publishAt": "tomorrow"}, "status.publishAt='tomorrow' should be an RFC 3339 date-time"),
    ({"visibility": "public"}, "status.visibility is not a field of VideoStatus"),
    ({"uploadStatus": "processed"}, "status.uploadStatus, which youtube.videos.update cannot write"),
    ({"madeForKids": True}, "status.madeForKids, which youtube.videos.update cannot write"),
])
def test_unknown_wrongly_typed_or_read_only_body_fields_are_refused(status, expected):
    body = {"id": "a", "status": {"privacyStatus": "public", **status}}
    found = problems(exchange("PUT", "/youtube/v3/videos", {"part": "status"}, body=body))
    assert any(expected in p for p in found), found


def test_read_only_snippet_fields_are_refused_on_insert():
    body = video()
    body["snippet"]["channelId"] = "UCx"
    found = problems(insert(body=body))
    assert any("snippet.channelId, which youtube.videos.insert cannot write" in p for p in found), found


def test_update_without_the_video_id_is_refused():
    found = problems(exchange("PUT", "/youtube/v3/videos", {"part": "status"}, body={"status": {"privacyStatus": "public"}}))
    assert any("needs the resource id" in p for p in found), found


def test_paths_and_upload_protocols_the_document_does_not_define_are_refused():
    assert check(exchange("GET", "/youtube/v3/vidoes", {"part": "id"})).problems
    assert check(exchange("GET", "/youtube/v3/vidoes", {"part": "id"})).operation is not None  # counted, not skipped
    assert check(exchange("DELETE", "/upload/youtube/v3/videos")).problems
    found = problems(insert(query={"uploadType": "chunked", "part": "snippet,status"}))
    assert any("uploadType='chunked'" in p for p in found), found
    found = problems(insert(**{"x-upload-content-type": "image/png"}))
    assert any("X-Upload-Content-Type 'image/png'" in p for p in found), found


def test_answers_with_unknown_fields_wrong_enums_or_parts_not_asked_for_are_refused():
    answer = {"kind": "youtube#videoListResponse", "items": [
        {"id": "a", "status": {"privacyStatus": "hidden", "uploadStatus": "processed"},
         "statistics": {"viewCount": 12}, "processingDetails": {"processingStatus": "succeeded", "eta": 3}}]}
    found = problems(exchange("GET", "/youtube/v3/videos", {"part": "status,processingDetails", "id": "a"},
                              answer=answer))
    assert any("status.privacyStatus='hidden' is not one of" in p for p in found), found
    assert any("statistics.viewCount=12 should be a string" in p for p in found), found
    assert any("processingDetails.eta is not a field" in p for p in found), found
    assert any("part 'statistics' was not asked for" in p for p in found), found


def test_error_answers_must_have_googles_shape():
    bad = exchange("GET", "/youtube/v3/videos", {"part": "id", "id": "a"}, status=403, answer={"message": "quota"})
    assert any("without Google's" in p for p in problems(bad))
    good = exchange("GET", "/youtube/v3/videos", {"part": "id", "id": "a"}, status=403, answer={"error": {
        "code": 403, "message": "quota", "errors": [{"domain": "youtube.quota", "reason": "quotaExceeded",
                                                     "message": "quota"}]}})
    assert problems(good) == []


# ---- the session URI -----------------------------------------------------------------------------
def session(content_range: str, size: int, status: int = 308, **answer_headers) -> Exchange:
    return exchange("PUT", "/upload/youtube/v3/videos", {"uploadType": "resumable", "upload_id": "u1"},
                    body=b"\0" * size, headers={"content-type": "video/mp4", "content-range": content_range},
                    status=status, answer_headers=answer_headers)


def test_session_chunks_keep_the_resumable_protocol():
    assert problems(session(f"bytes 0-{GRANULE - 1}/{GRANULE + 10}", GRANULE, range=f"bytes=0-{GRANULE - 1}")) == []
    assert problems(session(f"bytes */{GRANULE + 10}", 0)) == []
    found = problems(session("bytes 0-99999/300000", 100_000))
    assert any("not a multiple of 256 KiB" in p for p in found), found
    found = problems(session("bytes 0-9/300000", 5))
    assert any("the body has 5" in p for p in found), found
    found = problems(session("bytes */300000", 3))
    assert any("has an empty body" in p for p in found), found
    found = problems(session("bytes 0-1/2", 2, status=308, range="0-1"))
    assert any("308 Range '0-1'" in p for p in found), found


def test_the_completed_upload_answer_is_checked_against_the_video_schema():
    done = exchange("PUT", "/upload/youtube/v3/videos", {"uploadType": "resumable", "upload_id": "u1"},
                    body=b"\0" * 5, headers={"content-type": "video/mp4", "content-range": "bytes 0-4/5"},
                    status=200, answer={"kind": "youtube#video", "id": "v1", "status": {"uploadStatus": "done"}})
    verdict = check(done)
    assert verdict.response_checked and any("uploadStatus='done'" in p for p in verdict.problems), verdict.problems


# ---- Google's OAuth endpoints --------------------------------------------------------------------
def token(form: dict, status: int = 200, answer: dict | None = None) -> Exchange:
    return Exchange(sandbox="youtube", host="oauth2.googleapis.com", method="POST", path="/token", query=[],
                    headers={"content-type": "application/x-www-form-urlencoded"}, body=urlencode(form).encode(),
                    body_size=len(urlencode(form)), status=status, response_headers={},
                    response_body=json.dumps(answer or {}).encode())


def test_token_requests_and_answers_follow_googles_oauth_pages():
    refresh = {"grant_type": "refresh_token", "client_id": "c", "client_secret": "s", "refresh_token": "r"}
    fine = {"access_token": "a", "expires_in": 3599, "token_type": "Bearer",
            "scope": "https://www.googleapis.com/auth/youtube.upload"}
    assert problems(token(refresh, answer=fine)) == []
    no_refresh = {k: v for k, v in refresh.items() if k != "refresh_token"}
    assert any("'refresh_token' is required" in p for p in problems(token(no_refresh, answer=fine)))
    assert any("'scope' is not documented" in p for p in problems(token({**refresh, "scope": "x"}, answer=fine)))
    assert any("expires_in should be int" in p for p in problems(token(refresh, answer={**fine, "expires_in": "3599"})))
    assert any("documented error code" in p for p in problems(token(refresh, 400, {"error": "bad_token"})))


def test_the_consent_must_ask_for_a_scope_every_method_we_call_accepts():
    def authorize(scope: str) -> Exchange:
        query = {"client_id": "c", "redirect_uri": "https://app/cb", "response_type": "code", "scope": scope,
                 "access_type": "offline", "prompt": "consent"}
        return Exchange(sandbox="youtube", host="accounts.google.com", method="GET", path="/o/oauth2/v2/auth",
                        query=list(query.items()), headers={}, body=b"", body_size=0, status=302)

    upload_only = problems(authorize("https://www.googleapis.com/auth/youtube.upload "
                                     "https://www.googleapis.com/auth/youtube.readonly"))
    assert any("youtube.videos.update accepts" in p for p in upload_only), upload_only
    assert problems(authorize("https://www.googleapis.com/auth/youtube.upload "
                              "https://www.googleapis.com/auth/youtube.force-ssl")) == []
    assert any("is not a scope" in p for p in problems(authorize("https://www.googleapis.com/auth/youtube.everything")))
