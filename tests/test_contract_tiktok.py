"""The TikTok contract checker refuses what TikTok's pages refuse (without this it might accept everything)."""

from __future__ import annotations

import json

import pytest

from infra.local.sandboxes.recording import Exchange
from tests.contracts.tiktok import check

BEARER = {"authorization": "Bearer act.x", "content-type": "application/json; charset=UTF-8"}
OK = {"code": "ok", "message": "", "log_id": "202612060000"}


def _ex(method, path, *, body=None, headers=None, status=200, answer=None, query=(), raw=None, response_headers=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    return Exchange(sandbox="tiktok", host="open.tiktokapis.com", method=method, path=path, query=list(query),
                    headers={**BEARER, **(headers or {}), "content-length": str(len(data))}, body=data,
                    body_size=len(data), status=status, response_headers=response_headers or {},
                    response_body=json.dumps(answer).encode() if answer is not None else b"")


def _init(post_info=None, source_info=None):
    post_info = {"title": "t", "privacy_level": "SELF_ONLY", "brand_content_toggle": False, **(post_info or {})}
    source_info = source_info or {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000, "total_chunk_count": 1}
    return _ex("POST", "/v2/post/publish/video/init/", body={"post_info": post_info, "source_info": source_info},
               answer={"data": {"publish_id": "v_pub_file~v2-1.1", "upload_url": "https://u/"}, "error": OK})


def test_a_documented_init_passes():
    verdict = check(_init())
    assert verdict.operation == "tiktok.video.init" and verdict.problems == [] and verdict.response_checked


@pytest.mark.parametrize("post_info,source_info,needle", [
    ({"privacy_level": "PUBLIC"}, None, "privacy_level"),
    ({"disable_duets": True}, None, "post_info.disable_duets is not a documented field"),
    ({"is_aigc": "yes"}, None, "post_info.is_aigc must be bool"),
    (None, {"source": "FILE_UPLOAD", "video_size": 20 * 2**20, "chunk_size": 6 * 2**20, "total_chunk_count": 4},
     "floor(video_size / chunk_size)"),
    (None, {"source": "FILE_UPLOAD", "video_size": 200 * 2**20, "chunk_size": 100 * 2**20, "total_chunk_count": 2},
     "outside 5-64 MB"),
])
def test_init_outside_the_direct_post_reference_is_refused(post_info, source_info, needle):
    problems = check(_init(post_info, source_info)).problems
    assert any(needle in p for p in problems), problems


def test_status_answer_with_string_post_ids_and_invalid_params_is_refused():
    strings = _ex("POST", "/v2/post/publish/status/fetch/", body={"publish_id": "p"},
                  answer={"data": {"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": ["7123456789012345678"]},
                          "error": OK})
    assert any("list<int64>" in p for p in check(strings).problems)
    ints = _ex("POST", "/v2/post/publish/status/fetch/", body={"publish_id": "p"},
               answer={"data": {"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [7123456789012345678]},
                       "error": OK})
    assert check(ints).problems == []
    plural = _ex("POST", "/v2/post/publish/status/fetch/", body={"publish_id": "p"}, status=400,
                 answer={"data": {}, "error": {"code": "invalid_params", "message": "m", "log_id": "l"}})
    assert any("'invalid_params' is not a documented code" in p for p in check(plural).problems)


def test_upload_answer_without_its_progress_header_and_a_bad_range_are_refused():
    chunk = b"x" * 1000
    put = _ex("PUT", "/upload/", raw=chunk, query=[("upload_id", "1"), ("upload_token", "t")], status=201,
              headers={"content-type": "video/mp4", "content-range": "bytes 0-999/1000"})
    assert any("Content-Range: bytes 0-{UPLOADED_BYTES}" in p for p in check(put).problems)
    good = _ex("PUT", "/upload/", raw=chunk, query=[("upload_id", "1"), ("upload_token", "t")], status=201,
               headers={"content-type": "video/mp4", "content-range": "bytes 0-999/1000"},
               response_headers={"content-range": "bytes 0-1000/1000"})
    assert check(good).problems == []
    wrong = _ex("PUT", "/upload/", raw=chunk, query=[("upload_id", "1")], status=201,
                headers={"content-type": "application/octet-stream", "content-range": "bytes 0-998/1000"},
                response_headers={"content-range": "bytes 0-1000/1000"})
    problems = check(wrong).problems
    assert any("query string included" in p for p in problems) and any("Content-Type" in p for p in problems)
    assert any("covers 999 bytes" in p for p in problems)


def test_video_query_with_numeric_ids_or_unknown_fields_and_unknown_paths_are_refused():
    query = _ex("POST", "/v2/video/query/", body={"filters": {"video_ids": [7123456789012345678]}},
                query=[("fields", "id,views")], answer={"data": {"videos": [], "cursor": 0, "has_more": False},
                                                         "error": OK})
    problems = check(query).problems
    assert any("list of strings" in p for p in problems) and any("['views']" in p for p in problems)
    unknown = check(_ex("POST", "/v2/post/publish/video/publish/", body={}))
    assert unknown.operation and unknown.problems and "not a documented TikTok endpoint" in unknown.problems[0]
    assert check(_ex("POST", "/_sandbox/reset", body={})).operation is None


def test_token_refresh_with_an_unknown_field_is_refused():
    form = b"client_key=k&client_secret=s&grant_type=refresh_token&refresh_token=r&scope=video.publish"
    ex = _ex("POST", "/v2/oauth/token/", raw=form, headers={"content-type": "application/x-www-form-urlencoded"},
             answer={"access_token": "a", "expires_in": 86400, "open_id": "o", "refresh_token": "r2",
                     "refresh_expires_in": 1, "scope": "video.publish", "token_type": "Bearer"})
    assert any("unknown form fields ['scope']" in p for p in check(ex).problems)
