"""Tests of the TikTok sandbox itself, over real HTTP with plain `requests`.

They prove the sandbox enforces docs/platforms.md#tiktok, so client tests against it mean something.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from infra.local.sandboxes.tiktok import TikTokSandbox

# Probes the sandbox with malformed requests on purpose: not contract-checked (tests/contracts).
pytestmark = pytest.mark.sandbox_probe

MiB = 1024 * 1024
ALICE, BOB = "tok-alice-secret", "tok-bob-secret"
INIT = "/v2/post/publish/video/init/"
STATUS = "/v2/post/publish/status/fetch/"
CREATOR = "/v2/post/publish/creator_info/query/"
QUERY = "/v2/video/query/"
TOKEN = "/v2/oauth/token/"
REPO = Path(__file__).resolve().parents[1]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def make_sandbox(clock):
    started = []

    def make(**kwargs):
        kwargs.setdefault("creators", {ALICE: {"creator_username": "alice"}, BOB: {"creator_username": "bob"}})
        kwargs.setdefault("clock", clock)
        sb = TikTokSandbox(**kwargs)
        sb.start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


@pytest.fixture
def sb(make_sandbox):
    return make_sandbox()


def post(sb, path, token=ALICE, body=None, **kw):
    headers = kw.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        kw["json"] = body
    return requests.post(sb.base_url + path, headers=headers, timeout=30, **kw)


def file_source(size, chunk=None, count=None):
    chunk = size if chunk is None else chunk
    return {"source": "FILE_UPLOAD", "video_size": size, "chunk_size": chunk,
            "total_chunk_count": max(size // chunk, 1) if count is None else count}


def init(sb, token=ALICE, privacy="PUBLIC_TO_EVERYONE", source=None, **post_info):
    body = {"post_info": {"title": "hello #sandbox", "privacy_level": privacy, **post_info},
            "source_info": source or file_source(1000)}
    return post(sb, INIT, token, body)


def put_chunk(url, data, first, total, content_type="video/mp4", **headers):
    hdrs = {"Content-Type": content_type, "Content-Range": f"bytes {first}-{first + len(data) - 1}/{total}"}
    hdrs.update(headers)
    return requests.put(url, data=data, headers=hdrs, timeout=60)


def upload_all(url, video, chunk):
    count = max(len(video) // chunk, 1)
    statuses = []
    for i in range(count):
        start = i * chunk
        end = len(video) if i == count - 1 else start + chunk
        statuses.append(put_chunk(url, video[start:end], start, len(video)).status_code)
    return statuses


def fetch(sb, pid, token=ALICE):
    return post(sb, STATUS, token, {"publish_id": pid})


def published(sb, token=ALICE, privacy="PUBLIC_TO_EVERYONE", title="hello #sandbox"):
    """Init + upload + poll to PUBLISH_COMPLETE; returns (publish_id, status data)."""
    r = init(sb, token, privacy, title=title)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert put_chunk(data["upload_url"], b"x" * 1000, 0, 1000).status_code == 201
    for _ in range(10):
        status = fetch(sb, data["publish_id"], token).json()["data"]
        if status["status"] == "PUBLISH_COMPLETE":
            return data["publish_id"], status
    raise AssertionError("never completed")


# ---- auth, shape, routing ----

def test_creator_info_default_shape(sb):
    r = post(sb, CREATOR, ALICE)
    assert r.status_code == 200
    body = r.json()
    assert body["error"]["code"] == "ok" and body["error"]["log_id"]
    d = body["data"]
    assert d["creator_username"] == "alice" and d["creator_nickname"] and d["creator_avatar_url"]
    assert d["privacy_level_options"] == ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS",
                                          "FOLLOWER_OF_CREATOR", "SELF_ONLY"]
    assert (d["comment_disabled"], d["duet_disabled"], d["stitch_disabled"]) == (False, False, False)
    assert d["max_video_post_duration_sec"] == 600


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": ALICE}])
def test_missing_or_invalid_bearer_is_401(sb, headers):
    r = requests.post(sb.base_url + CREATOR, headers=headers, timeout=10)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "access_token_invalid"


def test_add_creator_overrides(sb):
    sb.add_creator("tok-carol", creator_username="carol", privacy_level_options=["SELF_ONLY"])
    d = post(sb, CREATOR, "tok-carol").json()["data"]
    assert d["creator_username"] == "carol" and d["privacy_level_options"] == ["SELF_ONLY"]


def test_unknown_path_is_404_with_error_shape(sb):
    r = post(sb, "/v2/nope/", ALICE)
    assert r.status_code == 404
    assert r.json()["error"]["code"] not in ("", "ok")


# ---- video init validation ----

def test_init_success_shape(sb):
    r = init(sb)
    assert r.status_code == 200 and r.json()["error"]["code"] == "ok"
    d = r.json()["data"]
    assert re.fullmatch(r"v_pub_file~v2-1\.\d+", d["publish_id"]) and len(d["publish_id"]) <= 64
    assert re.fullmatch(re.escape(sb.base_url) + r"/upload/\?upload_id=\d+&upload_token=[\w-]+", d["upload_url"])
    assert sb.posts[d["publish_id"]]["creator_username"] == "alice"


def test_init_requires_json_content_type(sb):
    body = json.dumps({"post_info": {"privacy_level": "SELF_ONLY"}, "source_info": file_source(1000)})
    r = post(sb, INIT, data=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_param"
    ok = post(sb, INIT, data=body, headers={"Content-Type": "application/json; charset=UTF-8"})
    assert ok.status_code == 200


def test_title_limit_counts_utf16_code_units(sb):
    assert init(sb, title="a" * 2200).status_code == 200
    r = init(sb, title="\U0001F600" * 1101)  # 1101 code points, 2202 UTF-16 units
    assert r.status_code == 400 and "title" in r.json()["error"]["message"]


def test_privacy_level_required_and_must_be_offered(make_sandbox):
    sb = make_sandbox(creators={ALICE: {"privacy_level_options": ["SELF_ONLY"]}})
    r = init(sb, privacy=None)
    assert r.status_code == 400 and "privacy_level" in r.json()["error"]["message"]
    r = init(sb, privacy="PUBLIC_TO_EVERYONE")
    assert r.status_code == 403 and r.json()["error"]["code"] == "privacy_level_option_mismatch"
    assert init(sb, privacy="SELF_ONLY").status_code == 200


def test_unaudited_app_may_only_post_self_only_to_private_accounts(make_sandbox):
    """Direct Post reference, error codes: 403 unaudited_client_can_only_post_to_private_accounts,
    "The publish attempt will be blocked when calling /publish/video/init/"."""
    sb = make_sandbox(audited=False)
    refused = init(sb, privacy="SELF_ONLY")  # alice's account is public
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "unaudited_client_can_only_post_to_private_accounts"
    sb.add_creator(ALICE, creator_username="alice", private_account=True)
    assert init(sb, privacy="PUBLIC_TO_EVERYONE").json()["error"]["code"] == \
        "unaudited_client_can_only_post_to_private_accounts"
    assert init(sb, privacy="SELF_ONLY").status_code == 200
    assert "private_account" not in post(sb, CREATOR).json()["data"]  # not part of creator_info's answer
    r = requests.post(sb.base_url + "/_sandbox/app", json={"audited": True}, timeout=10)
    assert r.status_code == 200 and init(sb, privacy="PUBLIC_TO_EVERYONE").status_code == 200


def test_brand_content_cannot_be_self_only(sb):
    r = init(sb, privacy="SELF_ONLY", brand_content_toggle=True)
    assert r.status_code == 400 and "brand_content_toggle" in r.json()["error"]["message"]
    assert init(sb, privacy="PUBLIC_TO_EVERYONE", brand_content_toggle=True).status_code == 200


def test_disabled_interactions_must_be_disabled_in_post(make_sandbox):
    sb = make_sandbox(creators={ALICE: {"comment_disabled": True}})
    r = init(sb)
    assert r.status_code == 400 and "disable_comment" in r.json()["error"]["message"]
    assert init(sb, disable_comment=True).status_code == 200


@pytest.mark.parametrize("source,field", [
    (file_source(5 * MiB - 1), None),                                   # small file, one chunk
    (file_source(5 * MiB), None),                                       # exactly 5 MB as one chunk
    (file_source(23 * MiB + 7, 5 * MiB), None),                         # 4 chunks, last takes remainder
    (file_source(188 * MiB, 64 * MiB), None),                           # 2 chunks, the last 124 MB
    (file_source(127 * MiB, 64 * MiB), "multiple chunks"),              # > 64 MB in one chunk
    (file_source(1000, 999, 1), "chunk_size"),                          # small file must be one whole chunk
    (file_source(1000, 1000, 2), "total_chunk_count"),
    (file_source(20 * MiB, 4 * MiB), "chunk_size"),                     # below 5 MB chunk
    (file_source(130 * MiB, 65 * MiB), "chunk_size"),                   # above 64 MB chunk
    (file_source(100 * MiB), "chunk_size"),                             # > 64 MB must be split
    (file_source(23 * MiB, 5 * MiB, 5), "total_chunk_count"),           # ceil instead of floor
    (file_source(4 * 1024 * MiB + 1, 64 * MiB), "video_size"),          # over 4 GB
    ({"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000}, "total_chunk_count"),
    ({"source": "FILE_UPLOAD", "video_size": "1000", "chunk_size": 1000, "total_chunk_count": 1}, "video_size"),
    ({"source": "BOGUS"}, "source"),
])
def test_file_upload_chunk_rules(make_sandbox, source, field):
    sb = make_sandbox(enforce_rate_limits=False, daily_post_cap=100)
    r = init(sb, source=source)
    if field is None:
        assert r.status_code == 200, r.text
    else:
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "invalid_param"
        assert field in r.json()["error"]["message"]


def test_pull_from_url_needs_verified_prefix(make_sandbox):
    sb = make_sandbox(verified_url_prefixes=["https://cdn.example.com/"], status_fetches_before_complete=1)
    r = init(sb, source={"source": "PULL_FROM_URL", "video_url": "https://evil.example.net/v.mp4"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "url_ownership_unverified"
    r = init(sb, source={"source": "PULL_FROM_URL", "video_url": "https://cdn.example.com/v.mp4"})
    assert r.status_code == 200
    d = r.json()["data"]
    assert "upload_url" not in d
    assert fetch(sb, d["publish_id"]).json()["data"]["status"] == "PROCESSING_DOWNLOAD"
    assert fetch(sb, d["publish_id"]).json()["data"]["status"] == "PUBLISH_COMPLETE"


def test_daily_post_cap_per_creator(make_sandbox, clock):
    sb = make_sandbox(daily_post_cap=2, enforce_rate_limits=False)
    assert init(sb).status_code == 200 and init(sb).status_code == 200
    r = init(sb)
    assert r.status_code == 403 and r.json()["error"]["code"] == "spam_risk_too_many_posts"
    assert init(sb, token=BOB).status_code == 200   # another creator has their own cap
    clock.advance(24 * 3600)
    assert init(sb).status_code == 200


# ---- upload ----

def test_chunked_upload_end_to_end(make_sandbox):
    sb = make_sandbox(status_fetches_before_complete=2)
    video = os.urandom(11 * MiB + 123)
    d = init(sb, source=file_source(len(video), 5 * MiB)).json()["data"]
    pid = d["publish_id"]
    assert fetch(sb, pid).json()["data"]["status"] == "PROCESSING_UPLOAD"
    assert upload_all(d["upload_url"], video, 5 * MiB) == [206, 201]
    state = sb.posts[pid]
    assert state["uploaded_bytes"] == len(video) and state["sha256"] == hashlib.sha256(video).hexdigest()
    seen = [fetch(sb, pid).json()["data"] for _ in range(3)]
    assert [s["status"] for s in seen] == ["PROCESSING_UPLOAD", "PROCESSING_UPLOAD", "PUBLISH_COMPLETE"]
    assert seen[2]["uploaded_bytes"] == len(video)
    ids = seen[2]["publicaly_available_post_id"]
    # list<int64> in the status reference: JSON numbers, 19 digits (past a double's exact range)
    assert len(ids) == 1 and isinstance(ids[0], int) and str(ids[0]) == sb.posts[pid]["video_id"]
    assert ids[0] > 2 ** 53 and f"[{ids[0]}]" in fetch(sb, pid).text
    assert sb.posts[pid]["share_url"] == f"https://www.tiktok.com/@alice/video/{ids[0]}"


def test_chunk_answers_say_how_many_bytes_tiktok_holds(make_sandbox):
    """Media transfer guide: upload answers carry `Content-Range: bytes 0-{UPLOADED_BYTES}/{TOTAL_BYTE_LENGTH}`."""
    sb = make_sandbox()
    video = os.urandom(11 * MiB + 123)
    url = init(sb, source=file_source(len(video), 5 * MiB)).json()["data"]["upload_url"]
    first = put_chunk(url, video[:5 * MiB], 0, len(video))
    assert first.status_code == 206 and first.headers["Content-Range"] == f"bytes 0-{5 * MiB}/{len(video)}"
    skipped = put_chunk(url, video[10 * MiB:], 10 * MiB, len(video))  # not where the upload stands
    assert skipped.status_code == 416 and skipped.headers["Content-Range"] == f"bytes 0-{5 * MiB}/{len(video)}"
    last = put_chunk(url, video[5 * MiB:], 5 * MiB, len(video))
    assert last.status_code == 201 and last.headers["Content-Range"] == f"bytes 0-{len(video)}/{len(video)}"


def test_a_resumed_put_of_the_missing_range_completes_the_upload(make_sandbox):
    """The last chunk's PUT failed (5xx before anything was stored): the same upload_url takes the
    missing range, starting where the upload stands, while it lives; no second init."""
    sb = make_sandbox()
    video = os.urandom(11 * MiB)
    d = init(sb, source=file_source(len(video), 5 * MiB)).json()["data"]
    assert put_chunk(d["upload_url"], video[:5 * MiB], 0, len(video)).status_code == 206
    sb.inject("upload", "server_error")
    assert put_chunk(d["upload_url"], video[5 * MiB:], 5 * MiB, len(video)).status_code == 500
    status = fetch(sb, d["publish_id"]).json()["data"]
    assert status["status"] == "PROCESSING_UPLOAD" and status["uploaded_bytes"] == 5 * MiB
    held = status["uploaded_bytes"]
    again = put_chunk(d["upload_url"], video[held:], held, len(video))
    assert again.status_code == 201 and sb.posts[d["publish_id"]]["sha256"] == hashlib.sha256(video).hexdigest()
    assert sb.count("video_init") == 1


def test_video_over_64_mb_goes_in_two_chunks_with_the_remainder_in_the_last(make_sandbox):
    sb = make_sandbox()
    video = b"\x01" * (64 * MiB + 5)
    assert init(sb, source=file_source(len(video), 64 * MiB)).status_code == 400  # one chunk: refused
    half = len(video) // 2
    d = init(sb, source=file_source(len(video), half, 2)).json()["data"]
    assert put_chunk(d["upload_url"], video[:half], 0, len(video)).status_code == 206
    assert put_chunk(d["upload_url"], video[half:], half, len(video)).status_code == 201
    assert sb.posts[d["publish_id"]]["uploaded_bytes"] == len(video)


def test_upload_needs_the_exact_url_credential(sb):
    url = init(sb).json()["data"]["upload_url"]
    # 404: "TikTok cannot find a valid upload task given the upload_url" (media transfer guide)
    assert put_chunk(re.sub(r"upload_token=[^&]+", "upload_token=wrong", url), b"x" * 1000, 0, 1000).status_code == 404
    assert put_chunk(url.split("&")[0], b"x" * 1000, 0, 1000).status_code == 404
    assert put_chunk(url, b"x" * 1000, 0, 1000).status_code == 201


def test_upload_url_expires_after_one_hour(sb, clock):
    url = init(sb).json()["data"]["upload_url"]
    clock.advance(3601)
    assert put_chunk(url, b"x" * 1000, 0, 1000).status_code == 403


@pytest.mark.parametrize("case,expected", [
    ("content_type", 400), ("no_range", 400), ("bad_total", 400), ("range_len_mismatch", 400),
    ("wrong_chunk_size", 400), ("skip_first_chunk", 416), ("beyond_end", 416), ("no_content_length", 400),
])
def test_upload_header_and_range_rules(make_sandbox, case, expected):
    sb = make_sandbox()
    size, chunk = 11 * MiB, 5 * MiB
    url = init(sb, source=file_source(size, chunk)).json()["data"]["upload_url"]
    data = b"y" * chunk
    if case == "content_type":
        r = put_chunk(url, data, 0, size, content_type="application/octet-stream")
    elif case == "no_range":
        r = requests.put(url, data=data, headers={"Content-Type": "video/mp4"}, timeout=30)
    elif case == "bad_total":
        r = put_chunk(url, data, 0, size + 1)
    elif case == "range_len_mismatch":   # range claims a full chunk, body is shorter
        r = put_chunk(url, data[:-1], 0, size, **{"Content-Range": f"bytes 0-{chunk - 1}/{size}"})
    elif case == "wrong_chunk_size":
        r = put_chunk(url, data + b"y", 0, size)
    elif case == "skip_first_chunk":
        r = put_chunk(url, data, chunk, size)
    elif case == "beyond_end":
        r = put_chunk(url, data, size, size)
    else:  # a generator body makes requests use chunked transfer with no Content-Length
        r = requests.put(url, data=iter([data]), timeout=30, headers={
            "Content-Type": "video/mp4", "Content-Range": f"bytes 0-{chunk - 1}/{size}"})
    assert r.status_code == expected, r.headers.get("X-Sandbox-Error")
    assert sb.posts[next(iter(sb.posts))]["uploaded_bytes"] == 0


def test_truncated_body_is_rejected(sb):
    d = init(sb).json()["data"]
    path = d["upload_url"][len(sb.base_url):]
    with socket.create_connection((sb.host, sb.port), timeout=10) as s:
        s.sendall((f"PUT {path} HTTP/1.1\r\nHost: {sb.host}\r\nContent-Type: video/mp4\r\n"
                   f"Content-Range: bytes 0-999/1000\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n").encode()
                  + b"z" * 600)
        s.shutdown(socket.SHUT_WR)
        reply = s.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 400"), reply[:80]
    assert sb.posts[d["publish_id"]]["uploaded_bytes"] == 0


def test_chunks_must_arrive_in_order_and_a_resent_chunk_before_the_last_counts_once(make_sandbox):
    sb = make_sandbox(status_fetches_before_complete=0)
    video = os.urandom(10 * MiB + 1)
    d = init(sb, source=file_source(len(video), 5 * MiB)).json()["data"]
    url, pid = d["upload_url"], d["publish_id"]
    sb.inject("upload", "server_error", after_accept=True)  # chunk stored, reply lost as a 500
    assert put_chunk(url, video[:5 * MiB], 0, len(video)).status_code == 500
    assert sb.posts[pid]["uploaded_bytes"] == 5 * MiB
    assert put_chunk(url, video[:5 * MiB], 0, len(video)).status_code == 206  # the client re-sends it
    assert sb.posts[pid]["uploaded_bytes"] == 5 * MiB and sb.posts[pid]["chunks_received"] == 1
    sb.inject("upload", "server_error")  # this one is rejected before storing
    assert put_chunk(url, video[5 * MiB:], 5 * MiB, len(video)).status_code == 500
    assert sb.posts[pid]["uploaded_bytes"] == 5 * MiB
    assert put_chunk(url, video[5 * MiB:], 5 * MiB, len(video)).status_code == 201
    assert sb.posts[pid]["sha256"] == hashlib.sha256(video).hexdigest()
    assert fetch(sb, pid).json()["data"]["status"] == "PUBLISH_COMPLETE"


def test_chunks_after_the_upload_completed_are_refused(make_sandbox):
    """The media transfer guide promises nothing for a chunk sent again once every byte is in:
    the sandbox refuses it, so a client that re-sends the last chunk after a lost answer fails here."""
    sb = make_sandbox(status_fetches_before_complete=0)
    video = os.urandom(10 * MiB + 1)
    d = init(sb, source=file_source(len(video), 5 * MiB)).json()["data"]
    url, pid = d["upload_url"], d["publish_id"]
    assert upload_all(url, video, 5 * MiB) == [206, 201]
    assert put_chunk(url, video[5 * MiB:], 5 * MiB, len(video)).status_code == 416  # the last, again
    assert put_chunk(url, video[:5 * MiB], 0, len(video)).status_code == 416        # any chunk, again
    assert sb.posts[pid]["chunks_received"] == 2 and sb.posts[pid]["sha256"] == hashlib.sha256(video).hexdigest()


# ---- status ----

def test_status_unknown_and_foreign_publish_ids(sb):
    r = fetch(sb, "v_pub_file~v2-1.123")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_publish_id"
    pid = init(sb).json()["data"]["publish_id"]
    r = fetch(sb, pid, token=BOB)
    assert r.status_code == 403 and r.json()["error"]["code"] == "token_not_authorized_for_specified_publish_id"


def test_self_only_never_gets_public_id(sb):
    pid, status = published(sb, privacy="SELF_ONLY")
    assert status["publicaly_available_post_id"] == []
    assert fetch(sb, pid).json()["data"]["publicaly_available_post_id"] == []


def test_public_id_can_lag_moderation(make_sandbox):
    sb = make_sandbox(status_fetches_before_public_id=1)
    pid, status = published(sb)
    assert status["publicaly_available_post_id"] == []
    assert len(fetch(sb, pid).json()["data"]["publicaly_available_post_id"]) == 1


def test_injected_fail_publish(make_sandbox):
    sb = make_sandbox(status_fetches_before_complete=0)
    sb.inject("status", "fail_publish", fail_reason="spam_risk_too_many_posts")
    d = init(sb).json()["data"]
    put_chunk(d["upload_url"], b"x" * 1000, 0, 1000)
    data = fetch(sb, d["publish_id"]).json()["data"]
    assert data["status"] == "FAILED" and data["fail_reason"] == "spam_risk_too_many_posts"
    assert data["publicaly_available_post_id"] == []
    _, ok = published(sb)  # consumed: the next publish succeeds
    assert ok["status"] == "PUBLISH_COMPLETE"


# ---- video query ----

def test_video_query_fields_and_ownership(sb):
    _, status = published(sb, title="first post")
    vid = str(status["publicaly_available_post_id"][0])  # video query ids are strings
    _, bob_status = published(sb, token=BOB)
    sb.set_video_metrics(vid, view_count=42, like_count=7)
    r = post(sb, QUERY + "?fields=id,view_count,like_count,share_url,title,bogus",
             body={"filters": {"video_ids": [vid, str(bob_status["publicaly_available_post_id"][0])]}})
    assert r.status_code == 200 and r.json()["error"]["code"] == "ok"
    assert r.json()["data"]["videos"] == [{"id": vid, "view_count": 42, "like_count": 7, "title": "first post",
                                           "share_url": f"https://www.tiktok.com/@alice/video/{vid}"}]


def test_video_query_limits(sb):
    r = post(sb, QUERY + "?fields=id", body={"filters": {"video_ids": [str(i) for i in range(21)]}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_param"
    assert post(sb, QUERY + "?fields=id", body={"filters": {"video_ids": ["1"] * 20}}).status_code == 200
    r = post(sb, QUERY, body={"filters": {"video_ids": ["1"]}})
    assert r.status_code == 400 and "fields" in r.json()["error"]["message"]


# ---- rate limits ----

@pytest.mark.parametrize("path,limit,body", [
    (CREATOR, 20, None), (INIT, 6, "init"), (STATUS, 30, {"publish_id": "x"}),
    (QUERY + "?fields=id", 600, {"filters": {"video_ids": ["1"]}}),
])
def test_rate_limits_per_token_per_endpoint(make_sandbox, clock, path, limit, body):
    sb = make_sandbox(daily_post_cap=1000)
    if body == "init":
        body = {"post_info": {"privacy_level": "SELF_ONLY"}, "source_info": file_source(1000)}
    for _ in range(limit):
        assert post(sb, path, ALICE, body).status_code != 429
    r = post(sb, path, ALICE, body)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_exceeded"
    assert "Retry-After" not in r.headers
    assert post(sb, path, BOB, body).status_code != 429   # separate window per token
    clock.advance(60)
    assert post(sb, path, ALICE, body).status_code != 429  # window slid past


def test_rate_limits_can_be_disabled(make_sandbox):
    sb = make_sandbox(enforce_rate_limits=False)
    assert all(post(sb, CREATOR).status_code == 200 for _ in range(25))


# ---- fault injection ----

def test_injected_faults_are_fifo_and_counted(sb):
    sb.inject("creator_info", "rate_limit", count=2)
    sb.inject("creator_info", "server_error")
    sb.inject("creator_info", "error", http_status=403, code="scope_not_authorized", message="nope")
    got = [post(sb, CREATOR) for _ in range(5)]
    assert [r.status_code for r in got] == [429, 429, 500, 403, 200]
    assert [r.json()["error"]["code"] for r in got] == [
        "rate_limit_exceeded", "rate_limit_exceeded", "internal_error", "scope_not_authorized", "ok"]
    assert sb.count("creator_info") == 5 and sb.count("creator_info", 429) == 2


def test_injected_slow_then_normal(sb):
    sb.inject("status", "slow", seconds=0.5)
    pid = init(sb).json()["data"]["publish_id"]
    t0 = time.monotonic()
    r = fetch(sb, pid)
    assert time.monotonic() - t0 >= 0.5 and r.status_code == 200
    with pytest.raises(requests.exceptions.ReadTimeout):
        sb.inject("status", "slow", seconds=1.0)
        requests.post(sb.base_url + STATUS, json={"publish_id": pid}, timeout=0.2,
                      headers={"Authorization": f"Bearer {ALICE}"})


def test_init_accepted_but_reply_lost(sb):
    sb.inject("video_init", "server_error", after_accept=True)
    assert init(sb).status_code == 500
    [(pid, state)] = sb.posts.items()  # the publish exists, but its upload_url went out with the lost reply:
    assert state["uploaded_bytes"] == 0 and fetch(sb, pid).json()["data"]["status"] == "PROCESSING_UPLOAD"


@pytest.mark.parametrize("respond,seen", [("drop", None), ("server_error", 500)])
def test_lost_response_stores_the_last_chunk_then_loses_the_answer(make_sandbox, respond, seen):
    sb = make_sandbox(status_fetches_before_complete=0)
    d = init(sb).json()["data"]
    sb.inject("upload", "lost_response", respond=respond)
    if seen is None:
        with pytest.raises(requests.ConnectionError):
            put_chunk(d["upload_url"], b"x" * 1000, 0, 1000)
    else:
        assert put_chunk(d["upload_url"], b"x" * 1000, 0, 1000).status_code == seen
    assert sb.posts[d["publish_id"]]["upload_complete"] is True  # TikTok has every byte: it posts
    assert fetch(sb, d["publish_id"]).json()["data"]["status"] == "PUBLISH_COMPLETE"
    assert [e["status"] for e in sb.requests_log if e["endpoint"] == "upload"] == [seen]


def test_lost_response_on_init_creates_the_publish_and_drops_the_answer(sb):
    sb.inject("video_init", "lost_response")
    with pytest.raises(requests.ConnectionError):
        init(sb)
    assert len(sb.posts) == 1


def test_status_fetch_and_video_query_need_their_scopes(make_sandbox):
    sb = make_sandbox()
    _, status = published(sb)
    vid = str(status["publicaly_available_post_id"][0])
    pid = init(sb).json()["data"]["publish_id"]
    sb.add_creator("tok-upload-only", creator_username="alice", scopes=["video.upload"])  # the same user, re-consented
    assert fetch(sb, pid, token="tok-upload-only").status_code == 200  # video.upload is enough for status
    r = post(sb, QUERY + "?fields=id", token="tok-upload-only", body={"filters": {"video_ids": [vid]}})
    assert r.status_code == 401 and r.json()["error"]["code"] == "scope_not_authorized"
    sb.add_creator("tok-list-only", creator_username="alice", scopes=["video.list"])
    r = fetch(sb, pid, token="tok-list-only")
    assert r.status_code == 401 and r.json()["error"]["code"] == "scope_not_authorized"
    assert post(sb, QUERY + "?fields=id", token="tok-list-only", body={"filters": {"video_ids": [vid]}}).status_code == 200


@pytest.mark.parametrize("args", [("nope", "rate_limit"), ("status", "nope"), ("video_init", "fail_publish"),
                                  ("status", "error"), ("status", "lost_response")])
def test_inject_rejects_bad_arguments(sb, args):
    with pytest.raises(ValueError):
        sb.inject(*args)


# ---- token refresh ----

def test_refresh_token_rotation(make_sandbox):
    sb = make_sandbox(clients={"ck": "cs"}, refresh_tokens={"rt-1": ALICE})
    form = {"client_key": "ck", "client_secret": "cs", "grant_type": "refresh_token", "refresh_token": "rt-1"}
    r = requests.post(sb.base_url + TOKEN, data=form, timeout=10)
    assert r.status_code == 200, r.text
    tok = r.json()
    assert tok["refresh_token"] != "rt-1" and tok["access_token"] != ALICE and tok["expires_in"] > 0
    assert post(sb, CREATOR, tok["access_token"]).json()["data"]["creator_username"] == "alice"
    again = requests.post(sb.base_url + TOKEN, data=form, timeout=10)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    rotated = requests.post(sb.base_url + TOKEN, data={**form, "refresh_token": tok["refresh_token"]}, timeout=10)
    assert rotated.status_code == 200
    bad_client = requests.post(sb.base_url + TOKEN, data={**form, "client_secret": "x"}, timeout=10)
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    as_json = requests.post(sb.base_url + TOKEN, json=form, timeout=10)
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"


# ---- log, reset, control surface, CLI, concurrency ----

def test_log_records_requests_without_secrets(sb):
    pid, _ = published(sb)
    post(sb, CREATOR, "wrong-token-value")
    log = sb.requests_log
    assert {e["endpoint"] for e in log} >= {"video_init", "upload", "status", "creator_info"}
    assert all(set(e) == {"endpoint", "method", "path", "status", "error_code"} for e in log)
    assert log[-1]["status"] == 401 and log[-1]["error_code"] == "access_token_invalid"
    dumped = json.dumps(log) + json.dumps(sb.posts)
    assert ALICE not in dumped and "wrong-token-value" not in dumped and "upload_token" not in dumped


def test_reset_keeps_creators(sb):
    published(sb)
    sb.inject("creator_info", "server_error")
    sb.reset()
    assert sb.posts == {} and sb.requests_log == []
    assert post(sb, CREATOR).status_code == 200


def test_http_control_surface(sb):
    u = sb.base_url
    assert requests.post(u + "/_sandbox/creators", json={"access_token": "tok-dan", "creator_username": "dan"},
                         timeout=10).json() == {"ok": True}
    assert post(sb, CREATOR, "tok-dan").json()["data"]["creator_username"] == "dan"
    assert requests.post(u + "/_sandbox/faults", json={"endpoint": "creator_info", "kind": "error", "count": 1,
                                                       "http_status": 403, "code": "reached_active_user_cap"},
                         timeout=10).status_code == 200
    assert post(sb, CREATOR).json()["error"]["code"] == "reached_active_user_cap"
    assert requests.post(u + "/_sandbox/faults", json={"endpoint": "x", "kind": "slow"}, timeout=10).status_code == 400
    state = requests.get(u + "/_sandbox/state", timeout=10).json()
    assert len(state["requests"]) == 2 and state["posts"] == {}
    assert requests.post(u + "/_sandbox/reset", timeout=10).status_code == 200
    assert requests.get(u + "/_sandbox/state", timeout=10).json()["requests"] == []


def test_cli_serves_until_sigterm():
    proc = subprocess.Popen([sys.executable, "-m", "infra.local.sandboxes.tiktok", "--port", "0",
                             "--token", "cli-token", "--status-fetches-before-complete", "0"],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        base = json.loads(proc.stdout.readline())["ready"]
        r = requests.post(base + CREATOR, headers={"Authorization": "Bearer cli-token"}, timeout=10)
        assert r.status_code == 200 and r.json()["error"]["code"] == "ok"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_concurrent_requests(make_sandbox):
    sb = make_sandbox(enforce_rate_limits=False, daily_post_cap=1000)
    results, errors = [], []

    def worker():
        try:
            pid, status = published(sb)
            results.append(status["status"])
        except Exception as e:  # surfaced by the assert below
            errors.append(e)

    sb.inject("status", "slow", seconds=0.3)  # one request stalls while others proceed
    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and results == ["PUBLISH_COMPLETE"] * 12
    assert len(sb.posts) == 12 and sb.count("upload", 201) == 12
