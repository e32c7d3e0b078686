"""Publishing to LinkedIn through the real pipeline on the emulators and the LinkedIn sandbox:
text, image and video posts by members and organizations; transient, permanent and ambiguous
failures; duplicate delivery; the version header; token refresh; validation at generation."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from infra.local.sandboxes.linkedin import LinkedInSandbox
from tests.conftest import (
    approve,
    function_client,
    generic_brief,
    jpeg_bytes,
    pubsub_envelope,
    register_account,
    upload_object,
    upload_video,
)

ACCOUNT = "li-brand"
ACCESS = "AQV-linkedin-access"
REFRESH = "AQX-linkedin-refresh"
CLIENT = {"client_id": "li-client", "client_secret": "li-secret"}


@pytest.fixture(scope="module")
def linkedin(stack_env):
    from shared import services

    box = LinkedInSandbox(status_checks_before_available=1)
    box.start()
    env = {"POSTGATE_LINKEDIN_BASE_URL": box.base_url, "POSTGATE_LINKEDIN_OAUTH_URL": box.oauth_url,
           "POSTGATE_LINKEDIN_MEDIA_POLL_SECONDS": "0.01", "POSTGATE_LINKEDIN_MEDIA_WAIT_SECONDS": "5",
           "POSTGATE_RETRY_BASE_SECONDS": "0.01"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    services.reset()
    yield box
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    services.reset()
    box.stop()


@pytest.fixture
def li(env, linkedin):
    """The sandbox emptied, a member who administers an organization, and our account for that organization."""
    linkedin.reset()
    ids = linkedin.add_account(ACCESS, REFRESH, person_id="memberA1", organization_id="1234567",
                               client_id=CLIENT["client_id"])
    register_account(ACCOUNT, "linkedin", {"access_token": ACCESS, "refresh_token": REFRESH, **CLIENT},
                     platform_account_id=ids["organization_urn"], handle="Brand Co")
    return ids


def _generate(**brief_overrides):
    from shared import entrypoints

    targets = brief_overrides.pop("targets", [{"account_id": ACCOUNT}])
    return entrypoints.generate(generic_brief(targets, **brief_overrides))


def _deliver(post_id: str, message_id: str = "1"):
    client = function_client("functions/publish_linkedin/main.py", "publish_linkedin")
    return client.post("/", json=pubsub_envelope({"post_id": post_id}, message_id))


def _post(content_id: str):
    from shared import services

    [post] = services.repository().posts_for_content(content_id)
    return post


def _publish(**brief_overrides):
    """Generated and approved content; returns (content, the post now due)."""
    content = _generate(**brief_overrides)
    [due] = approve(_APPROVAL_ENV, content)
    return content, due


_APPROVAL_ENV: dict = {}  # approve() needs the signing key the session's stack uses


@pytest.fixture(autouse=True)
def _approval_env(env):
    _APPROVAL_ENV.update(env)


def _secret(name: str) -> dict:
    from shared import services

    return json.loads(services.secrets().access(name))


# ---- happy path, each author kind and media kind -------------------------------------------
def test_text_post_by_an_organization_is_published_with_the_urn_from_x_restli_id(li, linkedin):
    from shared import services
    from shared.publishing.status_poll import poll_once
    from shared.runtime.config import get_config

    content, due = _publish()
    assert _deliver(due.id).status_code == 200
    post = _post(content.id)
    urn = post.platform_ids["post_urn"]
    assert post.status == "published" and urn in linkedin.posts
    assert post.share_url == f"https://www.linkedin.com/feed/update/{urn}/"
    created = linkedin.posts[urn]
    assert created["author"] == li["organization_urn"] and created["visibility"] == "PUBLIC"
    assert created["rendered_text"] == content.text() and created["hashtags"] == ["Launch"]
    assert created["content"] is None and linkedin.count("posts_create") == 1
    summary = poll_once(repo=services.repository(), config=get_config(), secrets=services.secrets(),
                        bq=services.bigquery())
    assert summary.logged == 1  # the publish_log row for a post confirmed on create


def test_member_post_uses_the_person_urn_and_chosen_visibility(li, linkedin):
    from shared import services

    services.repository().put_account("li-member", {"platform": "linkedin", "handle": "Member A",
                                                    "secret_name": f"linkedin-account-{ACCOUNT}",
                                                    "platform_account_id": li["person_urn"]})
    content, due = _publish(targets=[{"account_id": "li-member", "linkedin_visibility": "CONNECTIONS"}])
    _deliver(due.id)
    post = _post(content.id)
    assert post.status == "published"
    created = linkedin.posts[post.platform_ids["post_urn"]]
    assert created["author"] == li["person_urn"] and created["visibility"] == "CONNECTIONS"


def test_image_post_uploads_waits_until_available_then_posts_with_alt_text(li, linkedin):
    image = upload_object("in/bottle.jpg", jpeg_bytes(1200, 627), "image/jpeg")
    content, due = _publish(images=[image], targets=[{"account_id": ACCOUNT, "alt_text": "A steel bottle"}])
    _deliver(due.id)
    post = _post(content.id)
    assert post.status == "published", post.fail_reason
    image_urn = post.platform_ids["media_urn"]
    assert image_urn.startswith("urn:li:image:") and linkedin.images[image_urn]["status"] == "AVAILABLE"
    assert linkedin.images[image_urn]["bytes"] == len(jpeg_bytes(1200, 627))
    created = linkedin.posts[post.platform_ids["post_urn"]]
    assert created["content"] == {"media": {"id": image_urn, "altText": "A steel bottle"}}
    assert linkedin.count("images_get") == 2  # PROCESSING once, then AVAILABLE


def test_video_post_streams_each_part_collects_etags_finalizes_and_posts(li, linkedin):
    size = 9 * 1024 * 1024 + 123
    content, due = _publish(video=upload_video(size, "in/li.mp4"), targets=[{"account_id": ACCOUNT, "title": "Cold"}])
    _deliver(due.id)
    post = _post(content.id)
    assert post.status == "published", post.fail_reason
    video_urn = post.platform_ids["media_urn"]
    video = linkedin.videos[video_urn]
    assert video["status"] == "AVAILABLE" and video["fileSizeBytes"] == size and video["parts_received"] == 3
    assert linkedin.count("video_upload", 200) == 3 and linkedin.count("videos_finalize", 200) == 1
    assert linkedin.posts[post.platform_ids["post_urn"]]["content"] == {"media": {"id": video_urn, "title": "Cold"}}


# ---- contract ------------------------------------------------------------------------------
def test_every_call_carries_the_version_and_restli_headers_and_commentary_is_escaped(li, linkedin):
    topic = "Cold (really) for 24h: 50% off [today] *only* <3 a_b ~c~ @home #1 {x} | back\\slash"
    content, due = _publish(topic=topic, video=upload_video(300_000, "in/small.mp4"))
    _deliver(due.id)
    post = _post(content.id)
    assert post.status == "published", post.fail_reason
    created = linkedin.posts[post.platform_ids["post_urn"]]
    assert created["commentary_truncated"] is False  # an unescaped reserved character would cut the text here
    assert created["rendered_text"] == content.text()
    rest_calls = [e for e in linkedin.requests_log if not e["endpoint"].endswith("_upload")]
    assert rest_calls and all(e["linkedin_version"] == "202607" and e["restli_protocol"] == "2.0.0" for e in rest_calls)
    assert all(e["status"] < 400 for e in linkedin.requests_log)


@pytest.mark.sandbox_probe  # sends a sunset LinkedIn-Version on purpose: the contract check would (rightly) refuse it
def test_sunset_version_fails_the_post_naming_the_setting_to_change(li, linkedin, monkeypatch):
    from shared import services

    monkeypatch.setenv("POSTGATE_LINKEDIN_VERSION", "202511")
    services.reset()
    content, due = _publish()
    assert _deliver(due.id).status_code == 200
    post = _post(content.id)
    assert post.status == "failed" and "POSTGATE_LINKEDIN_VERSION" in post.fail_reason and "426" in post.fail_reason
    assert linkedin.count("posts_create") == 1 and linkedin.posts == {}
    monkeypatch.delenv("POSTGATE_LINKEDIN_VERSION")
    services.reset()


# ---- transient -----------------------------------------------------------------------------
def test_throttled_create_is_retried_and_succeeds(li, linkedin):
    """A 429 is the one answer on create that proves LinkedIn did nothing, so it alone is sent again."""
    content, due = _publish()
    linkedin.inject("posts_create", "rate_limit")
    assert _deliver(due.id).status_code == 200
    assert linkedin.count("posts_create", 429) == 1 and linkedin.count("posts_create", 201) == 1
    assert _post(content.id).status == "published" and len(linkedin.posts) == 1


def test_server_error_on_a_video_part_resends_that_part(li, linkedin):
    content, due = _publish(video=upload_video(5 * 1024 * 1024, "in/v5.mp4"))
    linkedin.inject("video_upload", "server_error", http_status=503)
    _deliver(due.id)
    assert _post(content.id).status == "published"
    assert linkedin.count("video_upload", 503) == 1 and linkedin.count("video_upload", 200) == 2


def test_video_part_sent_again_after_a_timeout_still_finalizes_and_posts(li, linkedin, monkeypatch):
    """Part 0's first PUT times out but lands after its retry: LinkedIn keeps both copies valid, so the
    finalize listing the retry's ETag goes through."""
    from shared import services

    monkeypatch.setenv("POSTGATE_HTTP_TIMEOUT_SECONDS", "1")
    services.reset()
    content, due = _publish(video=upload_video(5 * 1024 * 1024, "in/retried.mp4"))  # two parts
    linkedin.inject("video_upload", "slow", seconds=1.5)  # part 0, first copy: lands at ~1.5 s
    linkedin.inject("video_upload", "slow", seconds=0)  # part 0, the retry: lands at once
    linkedin.inject("video_upload", "slow", seconds=0.8)  # part 1: finalize comes after the first copy landed
    assert _deliver(due.id).status_code == 200
    post = _post(content.id)
    assert post.status == "published", post.fail_reason
    assert linkedin.count("video_upload", 200) == 3 and linkedin.count("videos_finalize", 200) == 1
    assert linkedin.count("videos_finalize") == 1 and len(linkedin.posts) == 1
    monkeypatch.delenv("POSTGATE_HTTP_TIMEOUT_SECONDS")
    services.reset()


def test_persistent_throttling_releases_the_post_and_redelivery_publishes_it(li, linkedin):
    content, due = _publish()
    linkedin.inject("posts_create", "rate_limit", count=10)
    assert _deliver(due.id).status_code == 500  # Pub/Sub redelivers with backoff
    post = _post(content.id)
    assert post.status == "queued" and post.attempt_id is None and linkedin.posts == {}
    linkedin.reset()
    assert _deliver(due.id, message_id="2").status_code == 200
    assert _post(content.id).status == "published" and len(linkedin.posts) == 1


def test_media_still_processing_at_the_bound_releases_the_attempt(li, linkedin, monkeypatch):
    from shared import services

    monkeypatch.setenv("POSTGATE_LINKEDIN_MEDIA_WAIT_SECONDS", "0.1")
    services.reset()
    monkeypatch.setattr(linkedin, "status_checks_before_available", 10**9)
    content, due = _publish(video=upload_video(200_000, "in/slow.mp4"))
    assert _deliver(due.id).status_code == 500
    post = _post(content.id)
    assert post.status == "queued" and "still PROCESSING" in post.history[-1].reason
    assert linkedin.count("posts_create") == 0
    monkeypatch.delenv("POSTGATE_LINKEDIN_MEDIA_WAIT_SECONDS")
    services.reset()


# ---- permanent -----------------------------------------------------------------------------
def test_permanent_error_fails_once_with_linkedins_reason_and_no_retry_storm(li, linkedin, logs):
    content, due = _publish()
    linkedin.inject("posts_create", "error", http_status=403, code="ACCESS_DENIED",
                    message="Not enough permissions to access: partnerApiPostsExternal.CREATE", service_error_code=100)
    assert _deliver(due.id).status_code == 200  # acked: retrying cannot help
    post = _post(content.id)
    assert post.status == "failed" and "ACCESS_DENIED" in post.fail_reason
    assert "Not enough permissions" in post.fail_reason
    assert linkedin.count("posts_create") == 1
    assert _deliver(due.id, message_id="dup").status_code == 200
    assert linkedin.count("posts_create") == 1
    assert any(e["severity"] == "ERROR" and e["message"] == "post failed" for e in logs.entries)


def test_video_processing_failure_fails_the_post_without_creating_it(li, linkedin):
    content, due = _publish(video=upload_video(200_000, "in/bad.mp4"))
    linkedin.inject("videos_get", "fail_processing")
    _deliver(due.id)
    post = _post(content.id)
    assert post.status == "failed" and "PROCESSING_FAILED" in post.fail_reason
    assert linkedin.count("posts_create") == 0


def test_timeout_after_create_was_sent_is_looked_up_instead_of_posting_twice(li, linkedin, monkeypatch):
    from shared import services
    from shared.publishing.status_poll import poll_once
    from shared.runtime.config import get_config

    monkeypatch.setenv("POSTGATE_HTTP_TIMEOUT_SECONDS", "0.5")
    services.reset()
    content, due = _publish()
    linkedin.inject("posts_create", "slow", seconds=1.5)
    _deliver(due.id)
    post = _post(content.id)
    assert post.status == "processing" and post.unconfirmed  # outcome unknown: never `failed`
    _deliver(due.id, message_id="again")
    deadline = time.monotonic() + 5
    while linkedin.count("posts_create") == 0 and time.monotonic() < deadline:  # the slow answer lands late
        time.sleep(0.05)
    assert linkedin.count("posts_create") == 1 and len(linkedin.posts) == 1  # only the one LinkedIn did create
    monkeypatch.delenv("POSTGATE_HTTP_TIMEOUT_SECONDS")
    services.reset()
    poll_once(repo=services.repository(), config=get_config(), secrets=services.secrets(), bq=services.bigquery())
    [urn] = linkedin.posts
    post = _post(content.id)
    assert post.status == "published" and post.platform_ids["post_urn"] == urn


# ---- duplicates ----------------------------------------------------------------------------
def test_same_message_three_times_makes_one_post(li, linkedin):
    content, due = _publish(images=[upload_object("in/d.jpg", jpeg_bytes(), "image/jpeg")])
    for _ in range(3):
        assert _deliver(due.id, message_id="same").status_code == 200
    assert linkedin.count("posts_create") == 1 and len(linkedin.posts) == 1
    assert linkedin.count("images_init") == 1
    assert _post(content.id).attempt_count == 1


def test_two_concurrent_deliveries_make_one_post(li, linkedin):
    content, due = _publish(video=upload_video(300_000, "in/c.mp4"))
    barrier = threading.Barrier(2)
    codes = []

    def deliver(message_id):
        barrier.wait()
        codes.append(_deliver(due.id, message_id=message_id).status_code)

    threads = [threading.Thread(target=deliver, args=(str(i),)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert codes == [200, 200]
    assert linkedin.count("posts_create") == 1 and linkedin.count("videos_init") == 1 and len(linkedin.posts) == 1
    assert _post(content.id).status == "published"


# ---- tokens --------------------------------------------------------------------------------
def test_expired_token_is_refreshed_once_and_written_back_as_a_new_secret_version(li, linkedin):
    secret = f"linkedin-account-{ACCOUNT}"
    content, due = _publish()
    linkedin.revoke_access_token(ACCESS)
    assert _deliver(due.id).status_code == 200
    post = _post(content.id)
    assert post.status == "published", post.fail_reason
    stored = _secret(secret)
    assert stored["access_token"] != ACCESS and stored["refresh_token"] == REFRESH
    assert stored["expires_at"] and stored["refresh_token_expires_at"]  # the fixed refresh lifetime is kept
    assert linkedin.count("token") == 1 and linkedin.count("posts_create", 401) == 1
    assert linkedin.count("posts_create", 201) == 1


def test_rotated_refresh_token_is_written_back(li, linkedin, monkeypatch):
    monkeypatch.setattr(linkedin, "rotate_refresh_tokens", True)
    content, due = _publish()
    linkedin.revoke_access_token(ACCESS)
    _deliver(due.id)
    assert _post(content.id).status == "published"
    stored = _secret(f"linkedin-account-{ACCOUNT}")
    assert stored["refresh_token"] != REFRESH and stored["access_token"] != ACCESS


def test_refused_refresh_fails_the_post_asking_to_reconnect(li, linkedin):
    register_account(ACCOUNT, "linkedin", {"access_token": "stale", "refresh_token": "revoked", **CLIENT},
                     platform_account_id=li["organization_urn"])
    content, due = _publish()
    _deliver(due.id)
    post = _post(content.id)
    assert post.status == "failed" and "reconnect" in post.fail_reason and linkedin.posts == {}


# ---- status --------------------------------------------------------------------------------
def test_check_status_confirms_a_live_post_and_fails_a_deleted_one(li, linkedin):
    import requests

    from shared import services
    from shared.platforms.base import StatusContext
    from shared.platforms.linkedin import adapter
    from shared.publishing.publisher import account_tokens
    from shared.runtime.config import get_config

    content, due = _publish()
    _deliver(due.id)
    post = _post(content.id)
    repo = services.repository()
    account = repo.get_account(ACCOUNT)
    ctx = StatusContext(post=post, account=account, config=get_config(), repo=repo,
                        tokens=account_tokens(ACCOUNT, account, adapter, repo=repo, config=get_config(),
                                              secrets=services.secrets()))
    assert adapter.check_status(ctx).state == "published"
    from urllib.parse import quote

    requests.delete(f"{linkedin.base_url}/rest/posts/{quote(post.platform_ids['post_urn'], safe='')}",
                    headers={"Authorization": f"Bearer {ACCESS}", "LinkedIn-Version": "202607",
                             "X-Restli-Protocol-Version": "2.0.0"})
    assert adapter.check_status(ctx).state == "failed"


# ---- validation ----------------------------------------------------------------------------
def test_commentary_over_3000_characters_is_refused_at_generation(li, linkedin):
    from shared.errors import ValidationError

    tags = [f"Tag{i}" + "x" * 120 for i in range(25)]
    with pytest.raises(ValidationError) as err:
        _generate(hashtags=tags)
    assert err.value.field == "caption" and "3000" in err.value.limit
    assert linkedin.requests_log == []


def test_account_without_an_author_urn_is_refused_at_generation(li, linkedin):
    from shared.errors import ValidationError

    register_account("li-broken", "linkedin", {"access_token": ACCESS}, platform_account_id="1234567")
    with pytest.raises(ValidationError) as err:
        _generate(targets=[{"account_id": "li-broken"}])
    assert err.value.field == "account.platform_account_id" and "urn:li:organization" in err.value.limit


def test_unsupported_video_type_is_refused_at_generation(li, linkedin):
    from shared.errors import ValidationError

    video = upload_object("in/clip.webm", b"\x1a\x45\xdf\xa3" + b"0" * 1000, "video/webm")
    with pytest.raises(ValidationError) as err:
        _generate(video=video)
    assert err.value.field == "video" and "video/mp4" in err.value.limit
