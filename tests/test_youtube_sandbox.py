"""The YouTube sandbox enforces docs/platforms.md#youtube, and our client keeps that contract (no emulators).

Raw `requests` calls prove the sandbox refuses what YouTube refuses; client calls prove the
resumable upload resumes from exactly the byte the session reports after an interrupted chunk.
"""
from __future__ import annotations

import hashlib
import json

import pytest
import requests

from infra.local.sandboxes.youtube import GRANULE, YouTubeSandbox
from shared.errors import AmbiguousError, AuthError, CapReached, PermanentError, TransientError
from shared.platforms.youtube.client import (SessionExpired, YouTubeClient, classify, refresh_user_tokens,
                                             upload_resumable)
from shared.platforms.youtube.quota import seconds_until_pacific_midnight

# Probes the sandbox with malformed requests on purpose: not contract-checked (tests/contracts).
pytestmark = pytest.mark.sandbox_probe

TOKEN, REFRESH = "ya29.alice-secret-token", "1//alice-refresh-secret"
UPLOAD = "/upload/youtube/v3/videos"
VIDEOS = "/youtube/v3/videos"
SIZE = 4 * GRANULE + 12_345  # five chunks of 256 KiB, the last short


def video_bytes(size: int = SIZE) -> bytes:
    return hashlib.sha256(b"seed").digest() * (size // 32) + b"\x07" * (size % 32)


def resource(**status) -> dict:
    return {"snippet": {"title": "Cold all day", "description": "Our bottle", "categoryId": "22", "tags": ["bottle"]},
            "status": {"privacyStatus": "private", "selfDeclaredMadeForKids": False, "containsSyntheticMedia": True,
                       **status}}


@pytest.fixture
def sb():
    box = YouTubeSandbox(list_requests_before_processed=2)
    box.start()
    box.ids = box.add_account(TOKEN, REFRESH)
    yield box
    box.stop()


@pytest.fixture
def client(sb):
    return YouTubeClient(TOKEN, base_url=sb.base_url, timeout=10)


def start(sb, body=None, token=TOKEN, size=SIZE, headers=None, params=None):
    h = {"Authorization": f"Bearer {token}", "X-Upload-Content-Length": str(size), "X-Upload-Content-Type": "video/mp4"}
    h.update(headers or {})
    return requests.post(sb.base_url + UPLOAD, params=params or {"uploadType": "resumable", "part": "snippet,status"},
                         json=resource() if body is None else body, headers={k: v for k, v in h.items() if v is not None},
                         timeout=10)


def upload(client, uri, data, **kw):
    return upload_resumable(client, uri, total=len(data), chunk_bytes=GRANULE, content_type="video/mp4",
                            read=lambda first, last: data[first:last + 1], backoff_seconds=0, **kw)


def reason(response) -> str:
    return response.json()["error"]["errors"][0]["reason"]


# ---- the resumable upload ---------------------------------------------------------------------
def test_upload_in_256k_chunks_makes_one_byte_identical_video(sb, client):
    data = video_bytes()
    uri = client.start_session(resource(), len(data), "video/mp4")
    video = upload(client, uri, data)
    assert video["id"] in sb.posts and len(sb.posts) == 1
    stored = sb.posts[video["id"]]
    assert stored["sha256"] == hashlib.sha256(data).hexdigest()
    assert stored["chunks"] == [[i, min(i + GRANULE, SIZE) - 1] for i in range(0, SIZE, GRANULE)]
    assert sb.count("upload", 308) == 4 and sb.count("upload", 200) == 1
    assert stored["status"]["privacyStatus"] == "private" and stored["status"]["containsSyntheticMedia"] is True


@pytest.mark.parametrize("respond", ["drop", "server_error"])
def test_chunk_interrupted_after_a_partial_store_resumes_from_the_reported_byte(sb, client, respond):
    data = video_bytes()
    uri = client.start_session(resource(), len(data), "video/mp4")
    sb.inject("upload", "interrupt", store_bytes=100_000, exact=True, respond=respond, skip=1)
    # First chunk goes through; the second is cut after 100,000 of its bytes.
    sb_chunks_before = GRANULE
    video = upload(client, uri, data)
    log = [e for e in sb.requests_log if e["endpoint"] == "upload"]
    assert log[1]["interrupted_after"] == 100_000
    assert log[2]["content_range"] == f"bytes */{SIZE}" and log[2]["status"] == 308
    resume_at = sb_chunks_before + 100_000
    assert log[3]["content_range"].startswith(f"bytes {resume_at}-")  # exactly the byte after the reported Range
    stored = sb.posts[video["id"]]
    assert [GRANULE, resume_at - 1] in stored["chunks"]  # the partial store counted, nothing re-sent
    assert sum(last - first + 1 for first, last in stored["chunks"]) == SIZE
    assert stored["sha256"] == hashlib.sha256(data).hexdigest()


def test_chunk_dropped_with_nothing_stored_is_sent_again_from_its_start(sb, client):
    data = video_bytes()
    uri = client.start_session(resource(), len(data), "video/mp4")
    sb.inject("upload", "interrupt", store_bytes=0, respond="drop")
    video = upload(client, uri, data)
    log = [e for e in sb.requests_log if e["endpoint"] == "upload"]
    assert log[0]["status"] is None and log[1]["content_range"] == f"bytes */{SIZE}"
    assert log[2]["content_range"] == f"bytes 0-{GRANULE - 1}/{SIZE}"
    assert sb.posts[video["id"]]["sha256"] == hashlib.sha256(data).hexdigest()


def test_lost_answer_to_the_final_chunk_is_resolved_by_querying_the_session(sb, client):
    data = video_bytes(GRANULE + 10)
    uri = client.start_session(resource(), len(data), "video/mp4")
    sb.inject("upload", "error", http_status=503, reason="backendError")  # first chunk: plain 5xx, nothing stored
    sb.inject("upload", "interrupt", store_bytes="all", respond="drop")    # then the final chunk's answer is lost
    video = upload(client, uri, data)
    assert len(sb.posts) == 1 and video["id"] in sb.posts
    assert sb.posts[video["id"]]["sha256"] == hashlib.sha256(data).hexdigest()


def test_persistent_silence_after_the_final_chunk_is_ambiguous(sb, client):
    data = video_bytes(GRANULE)
    uri = client.start_session(resource(), len(data), "video/mp4")
    sb.inject("upload", "interrupt", store_bytes="all", respond="drop")
    sb.stop()  # nobody answers the status queries either
    with pytest.raises(AmbiguousError):
        upload(client, uri, data, max_interruptions=2)


@pytest.mark.parametrize("respond,seen", [("drop", None), ("server_error", 503)])
def test_lost_response_stores_the_final_chunk_and_the_session_then_answers_with_the_video(sb, client, respond, seen):
    data = video_bytes(GRANULE + 10)
    uri = client.start_session(resource(), len(data), "video/mp4")
    client.put_chunk(uri, 0, data[:GRANULE], len(data), "video/mp4")
    sb.inject("upload", "lost_response", respond=respond)

    def put_final():
        return requests.put(uri, data=data[GRANULE:], timeout=10, headers={
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "video/mp4",
            "Content-Range": f"bytes {GRANULE}-{len(data) - 1}/{len(data)}"})

    if seen is None:
        with pytest.raises(requests.ConnectionError):
            put_final()
    else:
        assert put_final().status_code == seen
    [video_id] = sb.posts  # the video exists although its uploader never heard so
    progress = client.query_session(uri, len(data))
    assert progress.complete and progress.video["id"] == video_id


def test_session_gone_after_the_final_chunk_is_ambiguous_not_a_fresh_start(sb, client):
    data = video_bytes(GRANULE)
    uri = client.start_session(resource(), len(data), "video/mp4")
    sb.inject("upload", "lost_response")                                       # the final chunk: stored, answer lost
    sb.inject("upload", "error", http_status=404, reason="notFound")           # then the session says nothing
    with pytest.raises(AmbiguousError):
        upload(client, uri, data)
    assert len(sb.posts) == 1


def test_status_query_without_range_means_nothing_stored(sb, client):
    uri = client.start_session(resource(), SIZE, "video/mp4")
    r = requests.put(uri, data=b"", headers={"Authorization": f"Bearer {TOKEN}", "Content-Range": f"bytes */{SIZE}"})
    assert r.status_code == 308 and "Range" not in r.headers
    assert client.query_session(uri, SIZE).next_offset == 0


def test_expired_session_answers_404(sb, client):
    uri = client.start_session(resource(), SIZE, "video/mp4")
    sb.expire_session()
    with pytest.raises(SessionExpired):
        client.query_session(uri, SIZE)


# ---- the contract the sandbox enforces ---------------------------------------------------------
def test_session_start_returns_the_session_uri_in_location(sb):
    r = start(sb)
    assert r.status_code == 200 and "upload_id=" in r.headers["Location"]


@pytest.mark.parametrize("headers,expected", [
    ({"X-Upload-Content-Length": None}, "invalidUploadLength"),
    ({"X-Upload-Content-Type": "image/jpeg"}, "invalidContentType"),
])
def test_session_start_refuses_missing_or_wrong_upload_headers(sb, headers, expected):
    r = start(sb, headers=headers)
    assert r.status_code == 400 and reason(r) == expected


@pytest.mark.parametrize("body,expected", [
    ({"snippet": {"title": "x" * 101, "categoryId": "22"}, "status": {"privacyStatus": "private"}}, "invalidTitle"),
    ({"snippet": {"title": "a <b>", "categoryId": "22"}, "status": {"privacyStatus": "private"}}, "invalidTitle"),
    ({"snippet": {"title": "t", "description": "é" * 2501}, "status": {"privacyStatus": "private"}}, "invalidDescription"),
    ({"snippet": {"title": "t", "tags": ["long tag"] * 50}, "status": {"privacyStatus": "private"}}, "invalidTags"),
    ({"snippet": {"title": "t", "categoryId": "999"}, "status": {"privacyStatus": "private"}}, "invalidCategoryId"),
    ({"snippet": {"title": "t"}, "status": {}}, "invalidVideoMetadata"),  # omitted privacy would mean public
    ({"snippet": {"title": "t"}, "status": {"privacy_status": "private"}}, "invalidVideoMetadata"),
    ({"snippet": {"title": "t"}, "status": {"privacyStatus": "public", "publishAt": "2099-01-01T00:00:00Z"}},
     "invalidPublishAt"),
    ({"snippet": {"title": "t"}, "status": {"privacyStatus": "private", "publishAt": "2001-01-01T00:00:00Z"}},
     "invalidPublishAt"),
])
def test_session_start_refuses_invalid_video_resources(sb, body, expected):
    r = start(sb, body=body)
    assert r.status_code == 400 and reason(r) == expected


def test_tag_length_counts_commas_and_quotes_like_youtube(sb):
    from shared.platforms.youtube.adapter import tags_length

    tags = ["a b"] * 100  # 100 * (3 + 2 quotes) + 99 commas = 599
    assert tags_length(tags) == 599
    assert reason(start(sb, body={"snippet": {"title": "t", "tags": tags}, "status": {"privacyStatus": "private"}})) == "invalidTags"
    assert start(sb, body={"snippet": {"title": "t", "tags": ["ab"] * 166}, "status": {"privacyStatus": "private"}}).ok


def test_chunks_must_be_multiples_of_256k_and_continue_where_the_session_is(sb):
    uri = start(sb).headers["Location"]
    h = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "video/mp4"}
    data = video_bytes()
    r = requests.put(uri, data=data[:100_000], headers={**h, "Content-Range": f"bytes 0-99999/{SIZE}"})
    assert r.status_code == 400 and "multiple of 262144" in r.json()["error"]["message"]
    r = requests.put(uri, data=data[GRANULE:2 * GRANULE], headers={**h, "Content-Range": f"bytes {GRANULE}-{2 * GRANULE - 1}/{SIZE}"})
    assert r.status_code == 400 and "query the session" in r.json()["error"]["message"]
    r = requests.put(uri, data=data[:GRANULE], headers={**h, "Content-Range": f"bytes 0-{GRANULE - 1}/{SIZE + 1}"})
    assert r.status_code == 400
    r = requests.put(uri, data=data[:GRANULE], headers={**h, "Content-Range": f"bytes 0-{GRANULE - 1}/{SIZE}"})
    assert r.status_code == 308 and r.headers["Range"] == f"bytes=0-{GRANULE - 1}"


def test_session_uri_needs_the_owning_channels_token(sb):
    sb.add_account("ya29.bob")
    uri = start(sb).headers["Location"]
    r = requests.put(uri, data=b"", headers={"Authorization": "Bearer ya29.bob", "Content-Range": f"bytes */{SIZE}"})
    assert r.status_code == 403 and reason(r) == "forbidden"
    r = requests.put(uri, data=b"", headers={"Content-Range": f"bytes */{SIZE}"})
    assert r.status_code == 401


def test_processing_advances_per_list_request_and_only_the_owner_sees_details(sb, client):
    data = video_bytes(GRANULE)
    video = upload(client, client.start_session(resource(), len(data), "video/mp4"), data)
    seen = [client.list_videos([video["id"]])[0] for _ in range(3)]
    assert [s["status"]["uploadStatus"] for s in seen] == ["uploaded", "uploaded", "processed"]
    assert seen[-1]["processingDetails"]["processingStatus"] == "succeeded"
    assert client.list_videos(["does-not-exist"]) == []


def test_failed_and_rejected_processing_report_the_documented_reasons(sb, client):
    sb.inject("upload", "fail_processing", failure_reason="codec")
    sb.inject("upload", "fail_processing", rejection_reason="duplicate")
    data = video_bytes(GRANULE)
    ids = [upload(client, client.start_session(resource(), len(data), "video/mp4"), data)["id"] for _ in range(2)]
    for _ in range(3):
        items = {i["id"]: i for i in client.list_videos(ids)}
    assert items[ids[0]]["status"]["failureReason"] == "codec"
    assert items[ids[1]]["status"]["uploadStatus"] == "rejected" and items[ids[1]]["status"]["rejectionReason"] == "duplicate"


def test_update_replaces_the_status_part_and_requires_privacy(sb, client):
    data = video_bytes(GRANULE)
    vid = upload(client, client.start_session(resource(), len(data), "video/mp4"), data)["id"]
    with pytest.raises(PermanentError) as info:
        client.update_status(vid, {"selfDeclaredMadeForKids": False})
    assert info.value.platform_code == "invalidVideoMetadata"
    sb.edit_video(vid, status={"embeddable": False, "license": "creativeCommon", "publicStatsViewable": False})
    client.update_status(vid, {"privacyStatus": "unlisted", "selfDeclaredMadeForKids": False, "containsSyntheticMedia": True})
    status = sb.posts[vid]["status"]
    assert status["privacyStatus"] == "unlisted"
    assert status["uploadStatus"] == "uploaded"  # server-owned fields survive
    # mutable fields the body left out revert to their defaults, as YouTube documents
    assert (status["embeddable"], status["license"], status["publicStatsViewable"]) == (True, "youtube", True)
    with pytest.raises(PermanentError):
        client.update_status(vid, {"privacyStatus": "unlisted", "license": "gpl"})


def test_update_needs_a_scope_that_can_edit_videos_not_just_upload(sb, client):
    """videos.update accepts youtube, youtube.force-ssl or youtubepartner (its discovery `scopes`):
    a token granted youtube.upload and youtube.readonly uploads and lists but cannot update."""
    narrow = "ya29.upload-and-read-only"
    sb.add_account(narrow, channel_id=sb.ids["channel_id"], scopes=(
        "https://www.googleapis.com/auth/youtube.upload", "https://www.googleapis.com/auth/youtube.readonly"))
    yt = YouTubeClient(narrow, base_url=sb.base_url, timeout=10)
    data = video_bytes(GRANULE)
    vid = upload(yt, yt.start_session(resource(), len(data), "video/mp4"), data)["id"]
    assert yt.list_videos([vid], parts="status")
    with pytest.raises(PermanentError) as info:
        yt.update_status(vid, {"privacyStatus": "public"})
    assert info.value.platform_code == "insufficientPermissions"
    client.update_status(vid, {"privacyStatus": "public"})  # the default token also carries youtube.force-ssl


def test_uploads_can_stay_private_whatever_the_update_asks():
    box = YouTubeSandbox(uploads_stay_private=True)
    with box:
        box.add_account(TOKEN)
        yt = YouTubeClient(TOKEN, base_url=box.base_url, timeout=10)
        data = video_bytes(GRANULE)
        vid = upload(yt, yt.start_session(resource(), len(data), "video/mp4"), data)["id"]
        yt.update_status(vid, {"privacyStatus": "public", "selfDeclaredMadeForKids": False, "containsSyntheticMedia": True})
        [item] = yt.list_videos([vid], parts="status")
        assert item["status"]["privacyStatus"] == "private"


# ---- errors, quota, tokens ---------------------------------------------------------------------
@pytest.mark.parametrize("kind,params,error,code", [
    ("quota", {}, CapReached, "quotaExceeded"),
    ("error", {"http_status": 400, "reason": "uploadLimitExceeded"}, CapReached, "uploadLimitExceeded"),
    ("rate_limit", {}, TransientError, "rateLimitExceeded"),
    ("rate_limit", {"http_status": 429, "reason": "userRateLimitExceeded"}, TransientError, "userRateLimitExceeded"),
    ("server_error", {}, TransientError, "backendError"),
    ("error", {"http_status": 403, "reason": "forbidden"}, PermanentError, "forbidden"),
    ("error", {"http_status": 400, "reason": "invalidTitle", "message": "bad title"}, PermanentError, "invalidTitle"),
])
def test_google_errors_are_classified(sb, client, kind, params, error, code):
    sb.inject("insert", kind, **params)
    with pytest.raises(error) as info:
        client.start_session(resource(), SIZE, "video/mp4")
    assert info.value.platform_code == code and code in str(info.value)
    if code == "quotaExceeded":
        assert abs(info.value.retry_after - seconds_until_pacific_midnight()) < 5
    if code == "uploadLimitExceeded":
        assert info.value.retry_after == 24 * 3600
    if error is PermanentError:
        assert not isinstance(info.value, TransientError)


def test_rejected_token_is_an_auth_error_and_errors_have_googles_shape(sb):
    r = start(sb, token="ya29.wrong")
    body = r.json()["error"]
    assert r.status_code == 401 and body["code"] == 401 and body["errors"][0]["reason"] == "authError"
    assert isinstance(classify(r, "videos.insert"), AuthError)


def test_sandbox_charges_quota_and_refuses_past_it(sb, client):
    sb.insert_daily_calls = 2
    client.start_session(resource(), SIZE, "video/mp4")
    client.start_session(resource(), SIZE, "video/mp4")
    with pytest.raises(CapReached):
        client.start_session(resource(), SIZE, "video/mp4")
    assert sb.quota_used == {"insert": 2, "general": 0}  # uploads no longer spend general units
    client.list_videos(["x"])  # the general bucket is untouched by the uploads
    assert sb.quota_used == {"insert": 2, "general": 1}
    sb.daily_quota = 50
    with pytest.raises(CapReached):
        client.update_status("x", {"privacyStatus": "public"})  # 50 units: 1 + 50 > 50


def test_token_refresh_does_not_rotate_the_refresh_token(sb):
    fresh = refresh_user_tokens(sb.token_url, {"refresh_token": REFRESH, "client_id": "cid", "client_secret": "cs"})
    assert fresh["access_token"].startswith("ya29.") and fresh["refresh_token"] is None and fresh["expires_in"] == 3599
    again = refresh_user_tokens(sb.token_url, {"refresh_token": REFRESH, "client_id": "cid", "client_secret": "cs"})
    assert again["access_token"] != fresh["access_token"]  # the same refresh token still works
    YouTubeClient(fresh["access_token"], base_url=sb.base_url).list_videos(["x"])


def test_revoked_refresh_token_is_an_auth_error(sb):
    with pytest.raises(AuthError) as info:
        refresh_user_tokens(sb.token_url, {"refresh_token": "1//revoked", "client_id": "cid", "client_secret": "cs"})
    assert info.value.platform_code == "invalid_grant"


def test_tokens_never_appear_in_the_request_log(sb, client):
    data = video_bytes(GRANULE)
    upload(client, client.start_session(resource(), len(data), "video/mp4"), data)
    refresh_user_tokens(sb.token_url, {"refresh_token": REFRESH, "client_id": "cid", "client_secret": "cs"})
    text = json.dumps(sb.requests_log)
    assert TOKEN not in text and REFRESH not in text and "ya29." not in text


def test_reset_keeps_accounts(sb, client):
    client.start_session(resource(), SIZE, "video/mp4")
    sb.reset()
    assert sb.requests_log == [] and sb.sessions == {}
    client.start_session(resource(), SIZE, "video/mp4")
