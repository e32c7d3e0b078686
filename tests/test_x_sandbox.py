"""The X sandbox enforces docs/platforms.md#x over real HTTP, and the X client keeps to it.
No emulators: plain `requests` and the client against a sandbox on localhost."""
from __future__ import annotations

import base64
import time
from datetime import datetime, timezone

import pytest
import requests

from infra.local.sandboxes.x import XSandbox
from shared.errors import AmbiguousError, AuthError, CapReached, PermanentError, TransientError
from shared.platforms.x.client import DuplicateContent, XClient, refresh_user_tokens
from shared.platforms.x.rate_limits import RATE_LIMIT_FLOOR_SECONDS, rate_limited
from shared.platforms.x.reconcile import find_sent_post
from shared.platforms.x.validation import weighted_length

# Probes the sandbox with malformed requests on purpose: not contract-checked (tests/contracts).
pytestmark = pytest.mark.sandbox_probe

ALICE, BOB = "x-alice-access", "x-bob-access"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def make_sandbox(clock):
    started = []

    def make(**kwargs):
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("check_after_secs", 0)
        sb = XSandbox(**kwargs)
        sb.start()
        sb.add_account(ALICE, "alice-refresh", username="alice")
        sb.add_account(BOB, username="bob")
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


@pytest.fixture
def sb(make_sandbox):
    return make_sandbox()


def call(sb, method, path, token=ALICE, **kw):
    headers = kw.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, sb.base_url + path, headers=headers, timeout=30, **kw)


def init(sb, total=100, media_type="image/png", category="tweet_image", token=ALICE):
    return call(sb, "POST", "/2/media/upload/initialize", token,
                json={"total_bytes": total, "media_type": media_type, "media_category": category})


def append(sb, media_id, index, data, token=ALICE):
    return call(sb, "POST", f"/2/media/upload/{media_id}/append", token,
                data={"segment_index": str(index)}, files={"media": ("blob", data, "application/octet-stream")})


def uploaded_image(sb, data=b"\x89PNG" + b"i" * 96, token=ALICE) -> str:
    media_id = init(sb, len(data), token=token).json()["data"]["id"]
    assert append(sb, media_id, 0, data, token).status_code == 200
    assert call(sb, "POST", f"/2/media/upload/{media_id}/finalize", token).status_code == 200
    return media_id


def tweet(sb, body, token=ALICE):
    return call(sb, "POST", "/2/tweets", token, json=body)


# ---- auth, headers, error shapes ----

def test_missing_or_unknown_token_is_a_401_problem(sb):
    for token in (None, "nope"):
        r = tweet(sb, {"text": "hi"}, token)
        assert r.status_code == 401
        assert r.json() == {"title": "Unauthorized", "detail": "Unauthorized", "type": "about:blank", "status": 401}
    assert sb.posts == {}


def test_every_answer_carries_the_rate_limit_headers(sb, clock):
    r = tweet(sb, {"text": "hello"})
    assert r.status_code == 201
    assert r.headers["x-rate-limit-limit"] == "100"
    assert r.headers["x-rate-limit-remaining"] == "99"
    assert int(r.headers["x-rate-limit-reset"]) == int(clock.now + 900)
    bad = tweet(sb, {"text": ""})
    assert bad.status_code == 400 and bad.headers["x-rate-limit-remaining"] == "98"


def test_post_window_of_100_per_15_minutes_answers_429_until_reset(sb, clock):
    for i in range(100):
        assert tweet(sb, {"text": f"post {i}"}).status_code == 201
    r = tweet(sb, {"text": "one too many"})
    assert r.status_code == 429
    assert r.headers["x-rate-limit-remaining"] == "0" and int(r.headers["x-rate-limit-reset"]) == int(clock.now + 900)
    assert r.json()["title"] == "Too Many Requests"
    assert tweet(sb, {"text": "bob has his own window"}, BOB).status_code == 201
    clock.now += 900
    assert tweet(sb, {"text": "after the reset"}).status_code == 201
    assert len(sb.posts) == 102


def test_create_post_answers_201_with_id_and_text_and_rejects_unknown_fields(sb):
    r = tweet(sb, {"text": "Caf\u0065\u0301 time"})
    assert r.status_code == 201
    data = r.json()["data"]
    assert data["text"] == "Café time" and sb.posts[data["id"]]["text"] == "Café time"  # NFC
    r = tweet(sb, {"text": "x", "status": "v1 field name"})
    assert r.status_code == 400 and r.json()["type"].endswith("/invalid-request")


def test_weighted_length_over_280_is_refused_with_the_problem_shape(sb):
    ok = "日" * 140  # CJK weighs 2: exactly 280
    assert weighted_length(ok) == 280 and tweet(sb, {"text": ok}).status_code == 201
    assert tweet(sb, {"text": "日" * 140 + "a"}).status_code == 400
    url_text = "a" * 256 + " https://example.com/" + "p" * 200  # the URL counts 23: 256 + 1 + 23 = 280
    assert weighted_length(url_text) == 280 and tweet(sb, {"text": url_text}).status_code == 201
    r = tweet(sb, {"text": "👍" * 141})
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == 400 and body["type"].endswith("/invalid-request") and "too long" in body["errors"][0]["message"]


def test_duplicate_content_is_a_403_with_the_platform_detail(sb):
    assert tweet(sb, {"text": "same words"}).status_code == 201
    r = tweet(sb, {"text": "same words"})
    assert r.status_code == 403
    # X's problem as seen in the wild (akrherz/iembot#163, 2026): no id of the existing post in it.
    assert r.json() == {"detail": "You are not allowed to create a Tweet with duplicate content.",
                        "type": "about:blank", "title": "Forbidden", "status": 403}
    assert tweet(sb, {"text": "same words"}, BOB).status_code == 201  # another user may


def test_client_raises_duplicate_content_as_ambiguous_not_permanent(sb):
    client = XClient(ALICE, base_url=sb.base_url)
    client.create_post("said once", [])
    with pytest.raises(DuplicateContent) as info:
        client.create_post("said once", [])
    assert isinstance(info.value, AmbiguousError) and not isinstance(info.value, PermanentError)
    assert len(sb.posts) == 1


def test_get_post_returns_it_or_a_not_found_partial_error(sb):
    tid = tweet(sb, {"text": "look me up"}).json()["data"]["id"]
    assert call(sb, "GET", f"/2/tweets/{tid}").json()["data"]["text"] == "look me up"
    missing = call(sb, "GET", "/2/tweets/123")
    assert missing.status_code == 200 and missing.json()["errors"][0]["title"] == "Not Found Error"
    assert missing.json()["errors"][0]["type"] == "https://api.x.com/2/problems/resource-not-found"


# X's OpenAPI document 2.167 (xdevplatform/docs openapi.json, Aug 2026) names the post field selection
# `post.fields`, answers `edit_history_post_ids` and `public_metrics.repost_count`, and puts problem
# types on api.x.com; `tweet.fields` is no longer a parameter of these operations.
def test_post_reads_take_post_fields_and_refuse_the_retired_tweet_fields(sb):
    tid = tweet(sb, {"text": "renamed fields"}).json()["data"]["id"]
    me = call(sb, "GET", "/2/users/me").json()["data"]["id"]
    for path, params in ((f"/2/tweets/{tid}", {}), ("/2/tweets", {"ids": tid}), (f"/2/users/{me}/tweets", {})):
        ok = call(sb, "GET", path, params={**params, "post.fields": "created_at,public_metrics"})
        assert ok.status_code == 200, path
        post = ok.json()["data"] if path.endswith(tid) else ok.json()["data"][0]
        assert post["edit_history_post_ids"] == [tid] and "edit_history_tweet_ids" not in post
        assert set(post["public_metrics"]) == {"repost_count", "reply_count", "like_count", "quote_count",
                                               "bookmark_count", "impression_count"}
        old = call(sb, "GET", path, params={**params, "tweet.fields": "created_at"})
        assert old.status_code == 400 and old.json()["type"] == "https://api.x.com/2/problems/invalid-request", path
        assert old.json()["errors"][0]["parameters"] == {"tweet.fields": []}
    created = tweet(sb, {"text": "created answer"}).json()["data"]
    assert created["edit_history_post_ids"] == [created["id"]]
    by_author = call(sb, "GET", f"/2/tweets/{tid}", params={"expansions": "author_id"}).json()["data"]
    assert by_author["author_id"] == me  # author_id is an expansion, no longer a post field


def test_problem_types_are_on_api_x_com(make_sandbox):
    sb = make_sandbox(user_daily_cap=1)
    assert tweet(sb, {"text": "x" * 300}).json()["type"] == "https://api.x.com/2/problems/invalid-request"
    tweet(sb, {"text": "one"})
    capped = tweet(sb, {"text": "two"})
    assert capped.status_code == 429 and capped.json()["type"] == "https://api.x.com/2/problems/usage-capped"


# ---- media upload ----

def test_image_upload_initialize_append_finalize_then_post(sb):
    media_id = uploaded_image(sb)
    assert sb.media[media_id]["state"] == "succeeded"
    r = tweet(sb, {"text": "with a picture", "media": {"media_ids": [media_id]}})
    assert r.status_code == 201
    assert sb.posts[r.json()["data"]["id"]]["media_categories"] == ["tweet_image"]


def test_initialize_enforces_type_category_and_size(sb):
    assert init(sb, 6 * 1024 * 1024).status_code == 400  # images are at most 5 MB
    assert init(sb, 100, "video/mp4", "tweet_image").status_code == 400
    assert init(sb, 100, "image/png", "tweet_photo").status_code == 400
    r = call(sb, "POST", "/2/media/upload/initialize", data={"total_bytes": "100", "media_type": "image/png"})
    assert r.status_code == 415  # the v2 initialize body is JSON
    r = init(sb, 100)
    assert r.status_code == 200 and set(r.json()["data"]) == {"id", "media_key", "expires_after_secs"}


def test_command_style_upload_is_refused(sb):
    r = call(sb, "POST", "/2/media/upload", data={"command": "INIT", "total_bytes": "10", "media_type": "image/png"})
    assert r.status_code == 400 and "initialize" in r.json()["errors"][0]["message"]


def test_append_needs_multipart_media_and_a_segment_index(sb):
    media_id = init(sb, 10).json()["data"]["id"]
    no_media = call(sb, "POST", f"/2/media/upload/{media_id}/append", files={"segment_index": (None, "0")})
    assert no_media.status_code == 400 and no_media.json()["errors"][0]["parameters"] == {"media": []}
    form_urlencoded = call(sb, "POST", f"/2/media/upload/{media_id}/append", data={"segment_index": "0"})
    assert form_urlencoded.status_code == 415
    no_index = call(sb, "POST", f"/2/media/upload/{media_id}/append", files={"media": ("b", b"0123456789")})
    assert no_index.status_code == 400
    assert append(sb, media_id, 1000, b"0123456789").status_code == 400
    raw = call(sb, "POST", f"/2/media/upload/{media_id}/append", data=b"0123456789",
               headers={"Content-Type": "application/octet-stream"})
    assert raw.status_code == 415
    as_json = call(sb, "POST", f"/2/media/upload/{media_id}/append",
                   json={"segment_index": 0, "media": base64.b64encode(b"0123456789").decode()})
    assert as_json.status_code == 200
    assert call(sb, "POST", f"/2/media/upload/{media_id}/finalize").status_code == 200


def test_segment_over_the_limit_is_413(make_sandbox):
    sb = make_sandbox(max_segment_bytes=1024)
    media_id = init(sb, 2000).json()["data"]["id"]
    assert append(sb, media_id, 0, b"x" * 1025).status_code == 413


def test_finalize_checks_the_bytes_add_up_and_segments_have_no_gaps(sb):
    media_id = init(sb, 30).json()["data"]["id"]
    append(sb, media_id, 0, b"a" * 10)
    append(sb, media_id, 2, b"c" * 10)
    r = call(sb, "POST", f"/2/media/upload/{media_id}/finalize")
    assert r.status_code == 400 and "without gaps" in r.json()["errors"][0]["message"]
    append(sb, media_id, 1, b"b" * 9)
    r = call(sb, "POST", f"/2/media/upload/{media_id}/finalize")
    assert r.status_code == 400 and "File size mismatch" in r.json()["errors"][0]["message"]


def test_video_processing_advances_per_status_request(make_sandbox):
    sb = make_sandbox(status_checks_before_succeeded=3, check_after_secs=5)
    media_id = init(sb, 20, "video/mp4", "tweet_video").json()["data"]["id"]
    append(sb, media_id, 0, b"v" * 20)
    fin = call(sb, "POST", f"/2/media/upload/{media_id}/finalize").json()["data"]
    assert fin["processing_info"] == {"state": "pending", "check_after_secs": 5, "progress_percent": 0}
    assert tweet(sb, {"text": "too early", "media": {"media_ids": [media_id]}}).status_code == 400
    states = [call(sb, "GET", "/2/media/upload", params={"command": "STATUS", "media_id": media_id})
              .json()["data"]["processing_info"]["state"] for _ in range(3)]
    assert states == ["in_progress", "in_progress", "succeeded"]
    assert tweet(sb, {"text": "now", "media": {"media_ids": [media_id]}}).status_code == 201


def test_injected_processing_failure_reports_the_error(sb):
    sb.inject("media_finalize", "fail_processing", message="Unsupported video format")
    media_id = init(sb, 20, "video/mp4", "tweet_video").json()["data"]["id"]
    append(sb, media_id, 0, b"v" * 20)
    call(sb, "POST", f"/2/media/upload/{media_id}/finalize")
    info = call(sb, "GET", "/2/media/upload", params={"command": "STATUS", "media_id": media_id}).json()["data"]["processing_info"]
    assert info == {"state": "failed", "progress_percent": 12}  # OpenAPI 2.167: processing_info has no error object


def test_a_post_takes_four_images_or_one_video(sb):
    images = [uploaded_image(sb, b"\x89PNG" + bytes([i]) * 20) for i in range(5)]
    assert tweet(sb, {"text": "five", "media": {"media_ids": images}}).status_code == 400
    assert tweet(sb, {"text": "four", "media": {"media_ids": images[:4]}}).status_code == 201
    video = init(sb, 5, "video/mp4", "tweet_video").json()["data"]["id"]
    append(sb, video, 0, b"v" * 5)
    call(sb, "POST", f"/2/media/upload/{video}/finalize")
    call(sb, "GET", "/2/media/upload", params={"command": "STATUS", "media_id": video})
    assert tweet(sb, {"text": "mixed", "media": {"media_ids": [video, images[4]]}}).status_code == 400


def test_media_of_another_user_is_refused(sb):
    media_id = uploaded_image(sb, token=BOB)
    assert tweet(sb, {"text": "not mine", "media": {"media_ids": [media_id]}}).status_code == 400


# ---- tokens ----

def test_refresh_rotates_and_the_old_refresh_token_is_single_use(make_sandbox):
    sb = make_sandbox(clients={"postgate-client": "s3cret"})
    url = sb.base_url + "/2/oauth2/token"
    form = {"grant_type": "refresh_token", "refresh_token": "alice-refresh", "client_id": "postgate-client"}
    no_basic = requests.post(url, data=form, timeout=10)
    assert no_basic.status_code == 401 and no_basic.json()["error"] == "unauthorized_client"
    r = requests.post(url, data=form, auth=("postgate-client", "s3cret"), timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["refresh_token"] != "alice-refresh" and body["expires_in"] == 7200
    assert tweet(sb, {"text": "with the new token"}, body["access_token"]).status_code == 201
    again = requests.post(url, data=form, auth=("postgate-client", "s3cret"), timeout=10)
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"
    as_json = requests.post(url, json=form, auth=("postgate-client", "s3cret"), timeout=10)
    assert as_json.status_code == 400
    sb.add_account("carol-access", "carol-refresh", client_id="another-app")
    other = requests.post(url, data={**form, "refresh_token": "carol-refresh"}, auth=("postgate-client", "s3cret"), timeout=10)
    assert other.status_code == 400  # issued to another app


def test_client_refresh_sends_basic_auth_and_returns_the_rotated_token(make_sandbox):
    sb = make_sandbox(clients={"postgate-client": "s3cret"})
    fresh = refresh_user_tokens(sb.base_url + "/2/oauth2/token",
                                {"refresh_token": "alice-refresh", "client_id": "postgate-client", "client_secret": "s3cret"})
    assert fresh["access_token"] and fresh["refresh_token"] not in (None, "alice-refresh")
    with pytest.raises(AuthError, match="reconnect"):
        refresh_user_tokens(sb.base_url + "/2/oauth2/token",
                            {"refresh_token": "alice-refresh", "client_id": "postgate-client", "client_secret": "s3cret"})


def test_tokens_never_appear_in_the_sandbox_log(sb):
    tweet(sb, {"text": "secret-free log"})
    requests.post(sb.base_url + "/2/oauth2/token", timeout=10,
                  data={"grant_type": "refresh_token", "refresh_token": "alice-refresh", "client_id": "postgate-client"})
    text = repr(sb.requests_log) + repr(sb.posts) + repr(sb.media)
    assert ALICE not in text and "alice-refresh" not in text


# ---- the client's error classification ----

def test_client_classifies_429_as_transient_until_the_reset(sb, clock):
    client = XClient(ALICE, base_url=sb.base_url, clock=clock)
    sb.inject("create_post", "rate_limit", reset_in=42)
    with pytest.raises(TransientError) as info:
        client.create_post("hello", [])
    assert not isinstance(info.value, CapReached) and info.value.retry_after == pytest.approx(42, abs=1)


def test_client_classifies_the_24h_user_cap_as_cap_reached(make_sandbox, clock):
    sb = make_sandbox(user_daily_cap=2)
    client = XClient(ALICE, base_url=sb.base_url, clock=clock)
    client.create_post("one", [])
    client.create_post("two", [])
    with pytest.raises(CapReached) as info:
        client.create_post("three", [])
    assert info.value.retry_after == pytest.approx(86400, abs=1) and info.value.platform_code == "usage-capped"


@pytest.mark.parametrize("host", ["api.x.com", "api.twitter.com"])
def test_client_maps_problem_types_on_either_host(sb, clock, host):
    """X moved its problem types to api.x.com (OpenAPI 2.167); answers may still carry api.twitter.com."""
    client = XClient(ALICE, base_url=sb.base_url, clock=clock)
    sb.inject("create_post", "error", http_status=429, title="UsageCapExceeded", detail="Usage cap exceeded",
              type=f"https://{host}/2/problems/usage-capped")
    with pytest.raises(CapReached) as capped:
        client.create_post("capped", [])
    assert capped.value.platform_code == "usage-capped"
    sb.inject("get_post", "error", http_status=400, title="Invalid Request", detail="bad id",
              type=f"https://{host}/2/problems/invalid-request")
    with pytest.raises(PermanentError) as invalid:
        client.get_post("1")
    assert invalid.value.platform_code == "invalid-request"


def test_client_classifies_5xx_401_and_403(sb):
    client = XClient(ALICE, base_url=sb.base_url)
    sb.inject("media_initialize", "server_error")
    with pytest.raises(TransientError):
        client.initialize_upload(10, "image/png", "tweet_image")
    sb.inject("create_post", "server_error")  # no idempotency key: a 5xx on create proves nothing
    with pytest.raises(AmbiguousError):
        client.create_post("a", [])
    with pytest.raises(AuthError):
        XClient("wrong", base_url=sb.base_url).create_post("a", [])
    sb.inject("create_post", "error", http_status=403, title="Forbidden",
              detail="You are not permitted to perform this action.")
    with pytest.raises(PermanentError) as info:
        client.create_post("a", [])
    assert "You are not permitted to perform this action." in str(info.value) and info.value.platform_code == "Forbidden"


def test_client_timeout_after_create_was_sent_is_ambiguous(sb):
    sb.inject("create_post", "slow", seconds=1.0)
    with pytest.raises(AmbiguousError):
        XClient(ALICE, base_url=sb.base_url, timeout=0.3).create_post("slow one", [])
    sb.inject("media_initialize", "slow", seconds=1.0)
    with pytest.raises(TransientError):
        XClient(ALICE, base_url=sb.base_url, timeout=0.3).initialize_upload(10, "image/png", "tweet_image")


# ---- a create whose answer is lost ----

def test_lost_response_stores_the_post_then_answers_xs_503(sb):
    sb.inject("create_post", "lost_response")
    r = tweet(sb, {"text": "stored, answer lost"})
    assert r.status_code == 503
    assert r.json() == {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank",
                        "status": 503}
    [post] = sb.posts.values()
    assert post["text"] == "stored, answer lost"


def test_lost_response_can_drop_the_connection_and_the_client_calls_it_ambiguous(sb):
    sb.inject("create_post", "lost_response", how="drop")
    with pytest.raises(AmbiguousError):
        XClient(ALICE, base_url=sb.base_url).create_post("stored, connection dropped", [])
    assert [p["text"] for p in sb.posts.values()] == ["stored, connection dropped"]
    assert sb.requests_log[-1]["error"] == "connection dropped"


# ---- 24-hour caps and rate-limit waits ----

def test_app_daily_cap_counts_every_user_and_only_the_app_headers_say_so(make_sandbox, clock):
    sb = make_sandbox(app_daily_cap=2)
    first = tweet(sb, {"text": "alice posts"})
    assert first.headers["x-app-limit-24hour-limit"] == "2" and first.headers["x-app-limit-24hour-remaining"] == "1"
    assert tweet(sb, {"text": "bob posts"}, BOB).status_code == 201
    r = tweet(sb, {"text": "over the app cap"})
    assert r.status_code == 429
    assert r.headers["x-rate-limit-remaining"] != "0"  # the 15-minute window looks healthy
    assert r.headers["x-app-limit-24hour-remaining"] == "0"
    assert int(r.headers["x-app-limit-24hour-reset"]) == int(clock.now + 86400)
    clock.now += 86400
    assert tweet(sb, {"text": "a day later"}).status_code == 201


def test_client_turns_the_app_daily_cap_into_cap_reached_until_its_reset(make_sandbox, clock):
    sb = make_sandbox(app_daily_cap=1)
    client = XClient(ALICE, base_url=sb.base_url, clock=clock)
    client.create_post("the one", [])
    clock.now += 3600
    with pytest.raises(CapReached) as info:
        client.create_post("one too many", [])
    assert info.value.retry_after == pytest.approx(86400 - 3600, abs=1)


def test_with_both_daily_caps_used_up_the_post_waits_for_the_later_reset(make_sandbox, clock):
    sb = make_sandbox(user_daily_cap=1, app_daily_cap=5)
    client = XClient(ALICE, base_url=sb.base_url, clock=clock)
    client.create_post("user cap used", [])  # the user's day resets 24 h from now
    sb.inject("create_post", "rate_limit", daily="app", reset_in=30 * 3600)  # the app's later still
    with pytest.raises(CapReached) as info:
        client.create_post("capped twice", [])
    assert info.value.retry_after == pytest.approx(30 * 3600, abs=1)


def test_a_429_whose_reset_is_already_past_waits_the_floor_never_zero(sb, clock):
    sb.inject("create_post", "rate_limit", reset_in=-30)
    with pytest.raises(TransientError) as info:
        XClient(ALICE, base_url=sb.base_url, clock=clock).create_post("hello", [])
    assert info.value.retry_after == RATE_LIMIT_FLOOR_SECONDS > 0
    assert sb.posts == {}


@pytest.mark.parametrize("headers", [{}, {"x-rate-limit-reset": "soon"}, {"x-rate-limit-reset": "1700000000"}])
def test_a_429_without_a_usable_future_reset_waits_the_floor(headers):
    error = rate_limited(headers, {}, "x create_post: HTTP 429", "429", now=1_800_000_000.0)
    assert type(error) is TransientError and error.retry_after == RATE_LIMIT_FLOOR_SECONDS


# ---- the user's post timeline ----

def _timeline(sb, user_id, token=ALICE, **params):
    return call(sb, "GET", f"/2/users/{user_id}/tweets", token, params=params)


def test_users_me_names_the_tokens_user(sb):
    me = call(sb, "GET", "/2/users/me").json()["data"]
    assert me["username"] == "alice" and me["id"].isdigit()
    assert call(sb, "GET", "/2/users/me", token=None).status_code == 401


def test_timeline_is_newest_first_paged_and_bounded_by_start_time(sb, clock):
    me = call(sb, "GET", "/2/users/me").json()["data"]["id"]
    tweet(sb, {"text": "before the window"})
    clock.now += 60
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.now))
    ids = [tweet(sb, {"text": f"in the window {i}"}).json()["data"]["id"] for i in range(7)]
    tweet(sb, {"text": "bob's, not alice's"}, BOB)
    first = _timeline(sb, me, start_time=start, max_results=5, **{"post.fields": "created_at"})
    assert first.status_code == 200 and first.headers["x-rate-limit-limit"] == "900"
    body = first.json()
    assert [p["id"] for p in body["data"]] == ids[::-1][:5] and body["meta"]["result_count"] == 5
    assert body["data"][0]["created_at"].endswith(".000Z") and body["meta"]["newest_id"] == ids[-1]
    rest = _timeline(sb, me, start_time=start, max_results=5, pagination_token=body["meta"]["next_token"]).json()
    assert [p["id"] for p in rest["data"]] == ids[::-1][5:] and "next_token" not in rest["meta"]
    clock.now += 60
    empty = _timeline(sb, me, start_time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.now))).json()
    assert empty == {"meta": {"result_count": 0}}  # no `data` on an empty page


def test_timeline_refuses_what_x_refuses(sb):
    me = call(sb, "GET", "/2/users/me").json()["data"]["id"]
    for params in ({"max_results": 4}, {"max_results": 101}, {"start_time": "2026-01-01T00:00:00.000Z"},
                   {"start_time": "2026-01-01"}, {"post.fields": "text,colour"}, {"count": 10},
                   {"tweet.fields": "created_at"}, {"post.fields": "author_id"}, {"expansions": "edit_history_tweet_ids"},
                   {"pagination_token": "not-a-token"}):
        r = _timeline(sb, me, **params)
        assert r.status_code == 400 and r.json()["type"].endswith("/invalid-request"), params
    assert _timeline(sb, me, token=None).status_code == 401
    missing = _timeline(sb, "42").json()
    assert missing["errors"][0]["resource_type"] == "user" and "data" not in missing


def test_timeline_gives_the_text_back_rewritten_as_x_does(sb):
    me = call(sb, "GET", "/2/users/me").json()["data"]["id"]
    media_id = uploaded_image(sb)
    sent = "Salt & <pepper> at https://example.com/menu and example.org"
    tweet(sb, {"text": sent, "media": {"media_ids": [media_id]}})
    [post] = _timeline(sb, me, **{"post.fields": "attachments,entities"}).json()["data"]
    assert "&amp;" in post["text"] and "&lt;pepper&gt;" in post["text"] and "https://example.com" not in post["text"]
    urls = post["entities"]["urls"]
    assert [u["expanded_url"] for u in urls[:2]] == ["https://example.com/menu", "http://example.org"]
    assert urls[2]["media_key"] == f"3_{media_id}" and post["text"].endswith(urls[2]["url"])
    assert all(post["text"][u["start"]:u["end"]] == u["url"] for u in urls)
    assert post["attachments"] == {"media_keys": [f"3_{media_id}"]}


def test_reconcile_search_matches_the_exact_text_and_media_through_xs_rewriting(sb, clock):
    client = XClient(ALICE, base_url=sb.base_url, clock=clock)
    me = client.me()["id"]
    start = datetime.fromtimestamp(clock.now - 120, timezone.utc)
    media_id = uploaded_image(sb)
    sent = "Salt & <pepper> at https://example.com/menu and example.org #Launch"
    tweet(sb, {"text": sent, "media": {"media_ids": [media_id]}})
    tweet(sb, {"text": sent.replace("Salt", "Sugar")})
    found = find_sent_post(client, me, sent, [media_id], start)
    assert found.complete and found.post["text"] != sent and found.post["attachments"]["media_keys"] == [f"3_{media_id}"]
    assert find_sent_post(client, me, sent, ["999"], start).post is None  # other media: not ours
    assert find_sent_post(client, me, sent + "!", [media_id], start).post is None
    assert find_sent_post(client, me, sent.replace("Salt", "Sugar"), [], start).post is not None
    assert sb.count("create_post") == 2  # looking never posts
