"""Publishing to YouTube through the real pipeline on the emulators and the YouTube sandbox:
resumable upload (resumed after an interruption), private first then the requested privacy once
processing succeeds, quota accounted per call, one video per approval, refresh on 401."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from infra.local.sandboxes.youtube import GRANULE, YouTubeSandbox
from tests.conftest import (
    MEDIA_BUCKET,
    PROJECT,
    approve,
    function_client,
    generic_brief,
    jpeg_bytes,
    pubsub_envelope,
    register_account,
    upload_object,
    upload_video,
)

ACCOUNT = "yt-main"
SECRET = f"youtube-account-{ACCOUNT}"
ACCESS, REFRESH = "ya29.brand-access-token", "1//brand-refresh-token"
VIDEO_SIZE = 4 * GRANULE + 54_321  # ~1 MiB: five chunks of 256 KiB, the last short


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
    """A fresh sandbox with the brand channel, and the account registered as an operator would."""
    _ENV["env"] = env
    yt_sandbox.reset()
    ids = yt_sandbox.add_account(ACCESS, REFRESH, channel_id="UCbrandchannel0000000001")
    register_account(ACCOUNT, "youtube", {"access_token": ACCESS, "refresh_token": REFRESH, "client_id": "cid",
                                          "client_secret": "csecret"},
                     handle="Brand", platform_account_id=ids["channel_id"])
    return yt_sandbox


def target(**overrides) -> dict:
    return {"account_id": ACCOUNT, "title": "Cold all day", "tags": ["bottle", "cold drinks"],
            "youtube_privacy": "public", **overrides}


def generate(video: str | None = None, **overrides):
    from shared import entrypoints

    overrides.setdefault("targets", [target()])
    return entrypoints.generate(generic_brief(overrides.pop("targets"), video=video or upload_video(VIDEO_SIZE, "in/yt.mp4"),
                                              **overrides))


def deliver(post_id: str, message_id: str = "1"):
    client = function_client("functions/publish_youtube/main.py", "publish_youtube")
    return client.post("/", json=pubsub_envelope({"post_id": post_id}, message_id))


def post_of(content_id: str):
    from shared import services

    [post] = services.repository().posts_for_content(content_id)
    return post


def poll():
    from shared import entrypoints, services
    from shared.publishing.status_poll import poll_once
    from shared.runtime.config import get_config

    _TICKS[0] += 1  # each tick a little later than the last, so the post's next check is due (no sleeping)
    return poll_once(repo=services.repository(), config=get_config(), secrets=services.secrets(), bq=services.bigquery(),
                     now=datetime.now(UTC) + timedelta(seconds=10 * _TICKS[0]), owed_work=entrypoints.poll_owed_work())


_TICKS = [0]


def publish(content):
    [due] = approve_env(content)
    assert deliver(due.id).status_code == 200
    return post_of(content.id)


_ENV: dict = {}


def approve_env(content):
    return approve(_ENV["env"], content)


def object_sha(name: str = "in/yt.mp4") -> str:
    from shared.runtime.clients import storage_client

    return hashlib.sha256(storage_client(PROJECT).bucket(MEDIA_BUCKET).blob(name).download_as_bytes()).hexdigest()


def quota_used() -> dict:
    from shared import services
    from shared.platforms.youtube.quota import usage

    return usage(services.repository().db)


# ---- happy path and privacy ------------------------------------------------------------------
def test_video_goes_up_private_then_turns_public_when_processing_succeeds(yt):
    post = publish(generate())
    assert post.status == "processing"
    video_id = post.platform_ids["video_id"]
    assert post.platform_ids["upload_session"].startswith(yt.base_url)
    video = yt.posts[video_id]
    assert video["status"]["privacyStatus"] == "private"  # private first, always explicit
    assert video["sha256"] == object_sha() and video["size"] == VIDEO_SIZE
    assert len(video["chunks"]) == 5

    first = poll()  # processing still running
    assert first.waiting == 1 and post_of(post.content_id).status == "processing"
    second = poll()
    assert second.published == 1 and second.logged == 1
    done = post_of(post.content_id)
    assert done.status == "published" and done.share_url == f"https://www.youtube.com/watch?v={video_id}"
    assert yt.posts[video_id]["status"]["privacyStatus"] == "public"
    assert yt.count("update") == 1 and yt.count("insert") == 1
    assert quota_used() == {"insert": 1, "general": 3 + 50}  # videos.list twice and once after videos.update


@pytest.mark.parametrize("privacy,updates", [("unlisted", 1), ("private", 0)])
def test_requested_privacy_is_set_after_processing_and_private_needs_no_update(yt, privacy, updates):
    post = publish(generate(targets=[target(youtube_privacy=privacy)]))
    poll(), poll()
    assert post_of(post.content_id).status == "published"
    assert yt.posts[post.platform_ids["video_id"]]["status"]["privacyStatus"] == privacy
    assert yt.count("update") == updates


def test_privacy_change_keeps_the_status_the_channel_owner_set_while_it_processed(yt):
    """videos.update part=status replaces the whole part: the privacy change reads the status and
    writes every mutable field back, so the owner's Studio edits in between are not reset."""
    post = publish(generate())
    video_id = post.platform_ids["video_id"]
    poll()  # still processing
    owner = {"embeddable": False, "license": "creativeCommon", "publicStatsViewable": False}
    yt.edit_video(video_id, status=owner)
    poll()
    assert post_of(post.content_id).status == "published"
    status = yt.posts[video_id]["status"]
    assert status["privacyStatus"] == "public" and {k: status[k] for k in owner} == owner
    [update] = yt.posts[video_id]["updates"]
    assert update["status"] == {"privacyStatus": "public", "selfDeclaredMadeForKids": False,
                                "containsSyntheticMedia": False, **owner}


def test_video_youtube_keeps_private_after_the_update_fails_saying_so_and_keeps_its_id(yt, monkeypatch):
    """The update is answered 200 but the privacy read back is still private (YouTube restricts some
    uploads to private): the post is not live for its audience, so it is not recorded as published."""
    monkeypatch.setattr(yt, "uploads_stay_private", True)
    post = publish(generate())
    poll(), poll()
    done = post_of(post.content_id)
    video_id = post.platform_ids["video_id"]
    assert done.status == "failed" and done.platform_ids["video_id"] == video_id
    assert f"kept video {video_id} private when it was set public" in done.fail_reason
    assert "do not publish it again" in done.fail_reason
    assert yt.count("update") == 1 and yt.count("list") == 3 and len(yt.posts) == 1


def test_video_sent_before_its_publish_time_is_a_youtube_scheduled_release(yt):
    from shared import services

    at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    content = generate(publish_at=at.isoformat())
    assert approve_env(content) == []  # scheduled, not due yet
    post = post_of(content.id)
    services.repository().move_post(post.id, {"scheduled"}, "queued", reason="dispatched early")
    assert deliver(post.id).status_code == 200
    post = post_of(content.id)
    status = yt.posts[post.platform_ids["video_id"]]["status"]
    assert status["privacyStatus"] == "private" and status["publishAt"] == at.strftime("%Y-%m-%dT%H:%M:%SZ")
    poll(), poll()
    assert post_of(content.id).status == "published" and yt.count("update") == 0  # YouTube releases it itself


# ---- media kinds -------------------------------------------------------------------------------
def test_octet_stream_video_is_accepted_and_images_alone_are_refused(yt):
    from shared.errors import ValidationError

    name = "in/raw.bin"
    data = (bytes(range(256)) * (GRANULE // 256 + 1))[:GRANULE + 7]
    uri = upload_object(name, data, "application/octet-stream")
    post = publish(generate(video=uri))
    assert yt.posts[post.platform_ids["video_id"]]["sha256"] == hashlib.sha256(data).hexdigest()
    image = upload_object("in/only.jpg", jpeg_bytes(), "image/jpeg")
    with pytest.raises(ValidationError) as info:
        from shared import entrypoints

        entrypoints.generate(generic_brief([target()], images=[image]))
    assert info.value.field == "video"


# ---- transient failures ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["server_error", "rate_limit"])
def test_transient_error_starting_the_session_is_retried(yt, kind):
    yt.inject("insert", kind)
    post = publish(generate())
    assert post.status == "processing" and yt.count("insert") == 2 and len(yt.posts) == 1
    assert quota_used()["insert"] == 2  # a failed call still costs


@pytest.mark.parametrize("respond", ["drop", "server_error"])
def test_interrupted_chunk_resumes_from_the_byte_youtube_reports(yt, respond):
    yt.inject("upload", "interrupt", store_bytes=70_000, exact=True, respond=respond, skip=2)
    post = publish(generate())
    assert post.status == "processing"
    log = [e for e in yt.requests_log if e["endpoint"] == "upload"]
    cut = next(i for i, e in enumerate(log) if "interrupted_after" in e)
    assert log[cut]["content_range"].startswith(f"bytes {2 * GRANULE}-")
    assert log[cut + 1]["content_range"] == f"bytes */{VIDEO_SIZE}"
    assert log[cut + 2]["content_range"].startswith(f"bytes {2 * GRANULE + 70_000}-")
    video = yt.posts[post.platform_ids["video_id"]]
    assert video["sha256"] == object_sha() and sum(b - a + 1 for a, b in video["chunks"]) == VIDEO_SIZE


def test_rate_limited_status_check_is_retried_on_a_later_tick(yt):
    post = publish(generate())
    yt.inject("list", "rate_limit")
    assert poll().errors == 1
    poll(), poll()
    assert post_of(post.content_id).status == "published"


# ---- permanent failures ------------------------------------------------------------------------
def test_forbidden_fails_once_with_youtubes_reason_and_no_retry_storm(yt):
    yt.inject("insert", "error", http_status=403, reason="forbidden", message="The channel cannot upload videos.")
    content = generate()
    [due] = approve_env(content)
    assert deliver(due.id).status_code == 200  # acked: retrying cannot help
    post = post_of(content.id)
    assert post.status == "failed" and "forbidden" in post.fail_reason and "cannot upload" in post.fail_reason
    assert deliver(due.id, "again").status_code == 200
    assert yt.count("insert") == 1 and yt.posts == {}


@pytest.mark.parametrize("fault,reason", [({"rejection_reason": "duplicate"}, "rejected: duplicate"),
                                          ({"failure_reason": "codec"}, "upload failed: codec")])
def test_rejected_or_failed_processing_fails_the_post_with_the_reason(yt, fault, reason):
    yt.inject("upload", "fail_processing", **fault)
    post = publish(generate())
    poll(), poll()
    done = post_of(post.content_id)
    assert done.status == "failed" and done.fail_reason == reason and yt.count("update") == 0


def test_exhausted_quota_parks_the_post_until_midnight_pacific_without_calling_youtube(yt):
    from shared import services
    from shared.platforms.youtube.quota import INSERT_DAILY_CALLS, charge
    from shared.runtime.config import get_config

    for _ in range(INSERT_DAILY_CALLS):
        charge(services.repository().db, "videos.insert", daily_quota=get_config().youtube_daily_quota)
    content = generate()
    [due] = approve_env(content)
    assert deliver(due.id).status_code == 200
    post = post_of(content.id)
    assert post.status == "queued" and post.next_attempt_at is not None
    assert yt.requests_log == []
    pacific = ZoneInfo("America/Los_Angeles")
    midnight = datetime.combine(datetime.now(pacific).date() + timedelta(days=1), datetime.min.time(), tzinfo=pacific)
    assert abs((post.next_attempt_at - midnight).total_seconds()) < 30  # the quota resets at midnight PT


def test_uploads_draw_on_their_own_daily_bucket_whose_size_is_a_setting(yt, monkeypatch):
    """Since 2026-06-01 videos.insert has a quota bucket of its own (by default 100 calls a day, 1
    per call, raised by Google bucket by bucket) and no longer spends 1,600 general units each
    (developers.google.com/youtube/v3/revision_history): three uploads leave a 200-unit general
    bucket to the status polls, and the upload past the upload bucket waits for midnight Pacific
    without calling YouTube while the polls (videos.list, videos.update) go on."""
    from shared import services

    monkeypatch.setenv("POSTGATE_YOUTUBE_DAILY_UPLOADS", "3")
    monkeypatch.setenv("POSTGATE_YOUTUBE_DAILY_QUOTA", "200")  # not even one upload at the old 1,600 units
    monkeypatch.setattr(yt, "insert_daily_calls", 3)
    monkeypatch.setattr(yt, "daily_quota", 200)
    services.reset()
    posts = [publish(generate(targets=[target(title=f"Launch {i}")])) for i in range(3)]
    assert [p.status for p in posts] == ["processing"] * 3 and quota_used() == {"insert": 3, "general": 0}
    content = generate(targets=[target(title="One too many")])
    [due] = approve_env(content)
    assert deliver(due.id).status_code == 200
    parked = post_of(content.id)
    assert parked.status == "queued" and parked.next_attempt_at is not None
    assert yt.count("insert") == 3  # refused by our own count: YouTube was not asked
    poll(), poll()
    assert [post_of(p.content_id).status for p in posts] == ["published"] * 3
    assert quota_used() == {"insert": 3, "general": 3 * (2 + 50 + 1)}  # list, list, update, list-back per post


def test_upload_bucket_is_charged_apart_from_the_general_units(env):
    from shared import services
    from shared.errors import CapReached
    from shared.platforms.youtube.quota import charge, usage

    db = services.repository().db
    for _ in range(150):  # a project Google granted 150 uploads a day
        charge(db, "videos.insert", daily_quota=10_000, daily_uploads=150, key="granted")
    with pytest.raises(CapReached) as info:
        charge(db, "videos.insert", daily_quota=10_000, daily_uploads=150, key="granted")
    assert info.value.platform_code == "quotaExceeded" and "insert bucket (150/day)" in str(info.value)
    assert charge(db, "videos.update", daily_quota=10_000, daily_uploads=150, key="granted") == 50
    assert charge(db, "videos.list", daily_quota=10_000, daily_uploads=150, key="granted") == 51
    assert usage(db, key="granted") == {"insert": 150, "general": 51}


def test_quota_exceeded_answer_from_youtube_parks_the_post(yt):
    yt.inject("insert", "quota")
    post = publish(generate())
    assert post.status == "queued" and post.next_attempt_at is not None and yt.posts == {}


def test_concurrent_quota_charges_never_exceed_the_daily_quota(env):
    from shared import services
    from shared.errors import CapReached
    from shared.platforms.youtube.quota import charge, usage

    db = services.repository().db
    granted, refused = [], []
    barrier = threading.Barrier(12)

    def worker():
        barrier.wait()
        for _ in range(3):
            try:
                charge(db, "videos.update", daily_quota=500, key="burst")
                granted.append(1)
            except CapReached:
                refused.append(1)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(granted) == 10 and len(refused) == 26
    assert usage(db, key="burst")["general"] == 500


# ---- duplicates ------------------------------------------------------------------------------
def test_three_sequential_and_two_concurrent_deliveries_make_one_video(yt):
    content = generate()
    [due] = approve_env(content)
    for _ in range(3):
        assert deliver(due.id, "same").status_code == 200
    barrier = threading.Barrier(2)
    codes = []

    def concurrent():
        barrier.wait()
        codes.append(deliver(due.id, "other").status_code)

    threads = [threading.Thread(target=concurrent) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert codes == [200, 200]
    assert yt.count("insert") == 1 and len(yt.posts) == 1
    assert post_of(content.id).attempt_count == 1


def test_concurrent_first_deliveries_make_one_video(yt):
    content = generate()
    [due] = approve_env(content)
    barrier = threading.Barrier(2)

    def concurrent(i):
        barrier.wait()
        deliver(due.id, f"m{i}")

    threads = [threading.Thread(target=concurrent, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert yt.count("insert") == 1 and len(yt.posts) == 1 and post_of(content.id).status == "processing"


def test_publisher_stopped_mid_upload_is_resolved_from_the_session(yt):
    """A lease that ran out after the session started hands the post to the poll with only the
    session URI: the poll asks the session whether the video exists instead of uploading again."""
    from shared import services

    post = publish(generate())
    ids = {k: v for k, v in post.platform_ids.items() if k != "video_id"}
    services.repository().update_fields(post.id, platform_ids=ids)
    poll(), poll()
    done = post_of(post.content_id)
    assert done.status == "published" and done.platform_ids["video_id"] in yt.posts and yt.count("insert") == 1


# ---- contract ----------------------------------------------------------------------------------
def test_upload_keeps_the_documented_contract(yt):
    """The sandbox refuses any wrong header, chunk size or field; here we also check what it recorded."""
    post = publish(generate())
    [session] = yt.sessions.values()
    assert session["total"] == VIDEO_SIZE and session["content_type"] == "video/mp4"  # X-Upload-Content-*
    sizes = [b - a + 1 for a, b in session["chunks"]]
    assert all(s % GRANULE == 0 for s in sizes[:-1]) and sizes[-1] == VIDEO_SIZE - 4 * GRANULE
    resource = session["resource"]
    assert resource["status"] == {"privacyStatus": "private", "selfDeclaredMadeForKids": False,
                                  "containsSyntheticMedia": False}  # offline template: no AI media
    assert resource["snippet"]["title"] == "Cold all day" and resource["snippet"]["categoryId"] == "22"
    assert resource["snippet"]["tags"] == ["bottle", "cold drinks"]
    content = services_content(post.content_id)
    assert resource["snippet"]["description"] == content.text()
    assert all(e["status"] in (200, 308) for e in yt.requests_log)


def services_content(content_id: str):
    from shared import services

    return services.repository().get_content(content_id)


# ---- tokens ------------------------------------------------------------------------------------
def test_expired_access_token_is_refreshed_once_and_written_back(yt):
    from shared import services

    yt.expire_token(ACCESS)
    post = publish(generate())
    assert post.status == "processing"
    assert yt.count("insert", 401) == 1 and yt.count("token") == 1
    stored = json.loads(services.secrets().access(SECRET))
    assert stored["access_token"] != ACCESS and stored["access_token"].startswith("ya29.")
    assert stored["refresh_token"] == REFRESH  # Google does not rotate it: the old one is kept
    assert stored["expires_at"] > datetime.now(UTC).timestamp()
    poll(), poll()
    assert post_of(post.content_id).status == "published" and yt.count("token") == 1


def test_revoked_refresh_token_fails_the_post_asking_to_reconnect(yt):
    from shared import services

    yt.expire_token(ACCESS)
    services.secrets().add_version(SECRET, json.dumps({"access_token": ACCESS, "refresh_token": "1//revoked",
                                                       "client_id": "cid", "client_secret": "csecret"}))
    content = generate()
    [due] = approve_env(content)
    deliver(due.id)
    post = post_of(content.id)
    assert post.status == "failed" and "invalid_grant" in post.fail_reason and "reconnect" in post.fail_reason


# ---- validation at generation ------------------------------------------------------------------
@pytest.mark.parametrize("overrides,field,limit", [
    ({"title": None}, "targets.title", "required"),
    ({"title": "x" * 101}, "targets.title", "100 characters"),
    ({"title": "Cold <b>all</b> day"}, "targets.title", "no < or >"),
    ({"tags": ["a b c d"] * 60}, "targets.tags", "500 characters"),
    ({"youtube_privacy": None}, "targets.youtube_privacy", "private, unlisted, public"),
])
def test_invalid_target_is_refused_at_generation_naming_field_and_limit(yt, overrides, field, limit):
    from shared.errors import ValidationError

    with pytest.raises(ValidationError) as info:
        generate(targets=[target(**overrides)])
    assert info.value.field == field and limit in info.value.limit
    assert yt.requests_log == []


def test_description_over_5000_bytes_is_refused_at_generation(yt):
    from shared.errors import ValidationError

    with pytest.raises(ValidationError) as info:
        generate(topic="Cold bottle " + "é" * 900, hashtags=[f"tag{i}" + "é" * 100 for i in range(30)])
    assert info.value.field == "caption" and "5000 UTF-8 bytes" in info.value.limit
