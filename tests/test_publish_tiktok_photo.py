"""TikTok photo posts through the real pipeline: generate -> approve -> publish_tiktok function ->
POST /v2/post/publish/content/init/ with V4 signed URLs of the approved images, which the sandbox
pulls from the storage emulator as TikTok pulls them -> status poll (PROCESSING_DOWNLOAD ->
PUBLISH_COMPLETE) -> metrics. A photo init's lost answer is settled without a second init: TikTok
offers no lookup without the publish_id, so the post waits and ends unconfirmed, never posted twice."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import (
    ACCOUNT,
    MEDIA_BUCKET,
    approve,
    generic_brief,
    jpeg_bytes,
    reconcile,
    upload_object,
    upload_video,
)
from tests.test_reconcile_tiktok import _deliver, _poll, _post  # the same publish delivery, post read and poll tick


@pytest.fixture
def photos_verified(env, sandbox):
    """The media bucket's URL prefix verified for the app, as an operator does in TikTok's portal."""
    saved = sandbox.verified_url_prefixes
    sandbox.verified_url_prefixes = (env["POSTGATE_SIGNED_URL_ENDPOINT"].rstrip("/") + f"/{MEDIA_BUCKET}/",)
    yield sandbox
    sandbox.verified_url_prefixes = saved
    sandbox.video_query_lists_photos = False


def _images(count: int = 3, width: int = 1080, height: int = 1350) -> tuple[list[str], list[bytes]]:
    blobs = [jpeg_bytes(width, height) + bytes([i]) * 16 for i in range(count)]  # distinct bytes per image
    return [upload_object(f"in/photo-{i}.jpg", b, "image/jpeg") for i, b in enumerate(blobs)], blobs


def _target(**extra) -> dict:
    return {"account_id": ACCOUNT, "privacy_level": "PUBLIC_TO_EVERYONE", **extra}


def _generate(images: list[str], target: dict | None = None, video: str | None = None):
    from shared import entrypoints

    return entrypoints.generate(generic_brief([target or _target()], images=images, video=video))


def _metrics(post):
    from shared import services
    from shared.platforms.base import MetricsContext
    from shared.platforms.registry import adapter_for
    from shared.publishing.status_poll import status_context
    from shared.runtime.config import get_config

    ctx = status_context(post, repo=services.repository(), config=get_config(), secrets=services.secrets(),
                         now=datetime.now(UTC))
    return adapter_for("tiktok").fetch_metrics(MetricsContext(posts=[post], account=ctx.account, tokens=ctx.tokens,
                                                              config=ctx.config))


def test_content_with_images_and_no_video_is_published_as_a_photo_post(env, photos_verified):
    sandbox = photos_verified
    uris, blobs = _images(3)
    content = _generate(uris)
    [due] = approve(env, content)
    assert _deliver(due.id).status_code == 200
    post = _post(content.id)
    assert post.status == "processing" and not post.unconfirmed
    pid = post.platform_ids["publish_id"]
    state = sandbox.posts[pid]
    assert (state["media_type"], state["post_mode"]) == ("PHOTO", "DIRECT_POST")
    assert state["source_info"]["source"] == "PULL_FROM_URL" and state["source_info"]["photo_cover_index"] == 0
    assert [u.split("?")[0].rsplit("/", 1)[-1] for u in state["source_info"]["photo_images"]] == \
           ["photo-0.jpg", "photo-1.jpg", "photo-2.jpg"]  # the approved order
    assert all("X-Goog-Signature=" in u for u in state["source_info"]["photo_images"])
    assert state["post_info"] == {"description": content.text(), "privacy_level": "PUBLIC_TO_EVERYONE",
                                  "disable_comment": False, "auto_add_music": False,
                                  "brand_content_toggle": False, "brand_organic_toggle": False}
    # TikTok pulled the exact approved bytes of every image.
    assert [p["http_status"] for p in state["photos"]] == [200, 200, 200]
    assert state["sha256"] == hashlib.sha256(b"".join(blobs)).hexdigest()
    assert (sandbox.count("content_init"), sandbox.count("video_init"), sandbox.count("upload")) == (1, 0, 0)

    _poll()
    assert _post(content.id).status == "processing"  # PROCESSING_DOWNLOAD
    _poll()
    done = _post(content.id)
    live = sandbox.posts[pid]
    assert live["status"] == "PUBLISH_COMPLETE"
    assert done.status == "published" and done.platform_ids == {"publish_id": pid, "video_id": live["video_id"]}
    assert sandbox.count("content_init") == 1


def test_a_target_can_ask_for_a_photo_post_when_the_content_also_has_a_video(env, photos_verified):
    uris, _ = _images(2)
    content = _generate(uris, _target(tiktok_post_type="PHOTO", title="Cold all day"), video=upload_video())
    [due] = approve(env, content)
    _deliver(due.id)
    state = photos_verified.posts[_post(content.id).platform_ids["publish_id"]]
    assert len(state["source_info"]["photo_images"]) == 2 and state["post_info"]["title"] == "Cold all day"
    assert photos_verified.count("video_init") == 0


def test_post_type_is_covered_by_the_approval_and_old_hashes_still_match():
    from shared.model.content import TargetSpec, content_hash

    plain = TargetSpec(account_id=ACCOUNT, privacy_level="SELF_ONLY")
    before = content_hash("c", [], [], [plain], None)
    # Content stored before the field existed dumped the target without it: its hash is unchanged.
    legacy = plain.model_dump(mode="json")
    legacy.pop("tiktok_post_type")
    assert content_hash("c", [], [], [TargetSpec(**legacy)], None) == before
    photo = plain.model_copy(update={"tiktok_post_type": "PHOTO"})
    assert content_hash("c", [], [], [photo], None) != before


def test_review_card_shows_the_photo_post_as_it_will_be_sent(env):
    from shared.platforms.registry import adapter_for

    uris, _ = _images(2)
    content = _generate(uris, _target(disable_comment=True))
    card = adapter_for("tiktok").preview(content, content.targets[0], {})
    fields = dict(card.fields)
    assert fields["Post type"].startswith("photo post of 2 images") and fields["Comments"] == "off"
    assert fields["Who can see it"] == "Everyone" and card.text_label == "Description"
    assert [m.name for m in card.media] == ["in/photo-0.jpg", "in/photo-1.jpg"]


def test_png_images_and_too_many_images_are_refused_before_approval(env):
    from shared.errors import ValidationError

    png = upload_object("in/p.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")
    with pytest.raises(ValidationError, match="JPEG or WebP"):
        _generate([png])
    from shared import services
    from shared.platforms.registry import adapter_for

    uris, _ = _images(1)
    content = _generate(uris)
    many = content.model_copy(update={"media": content.media * 36})
    with pytest.raises(ValidationError, match="1-35 images"):
        adapter_for("tiktok").validate(many, content.targets[0], services.repository().get_account(ACCOUNT))


def test_picture_over_1080p_fails_before_init(env, photos_verified):
    uris, _ = _images(1, width=2160, height=3840)
    content = _generate(uris)
    [due] = approve(env, content)
    _deliver(due.id)
    post = _post(content.id)
    assert post.status == "failed" and "1080p" in post.fail_reason
    assert photos_verified.count("content_init") == 0


def test_unverified_url_prefix_fails_the_post_naming_the_fix(env, sandbox):
    uris, _ = _images(1)
    content = _generate(uris)
    [due] = approve(env, content)
    assert _deliver(due.id).status_code == 200
    post = _post(content.id)
    assert post.status == "failed" and "url_ownership_unverified" in post.fail_reason
    assert "developer portal" in post.fail_reason and sandbox.count("content_init", 403) == 1


def test_image_tiktok_cannot_pull_fails_the_post_with_tiktoks_reason(env, photos_verified):
    """The image is gone by the time TikTok pulls it: FAILED photo_pull_failed. Nothing was posted,
    so the post goes back to the queue (the status poll's 'absent')."""
    uris, _ = _images(1)
    content = _generate(uris)
    [due] = approve(env, content)
    photos_verified.inject("status", "fail_publish", fail_reason="photo_pull_failed")
    _deliver(due.id)
    _poll(), _poll()
    post = _post(content.id)
    assert post.status == "queued" and post.platform_ids == {}


def test_rate_limited_init_is_sent_again_and_makes_one_post(env, photos_verified):
    uris, _ = _images(1)
    content = _generate(uris)
    [due] = approve(env, content)
    photos_verified.inject("content_init", "rate_limit")
    _deliver(due.id)
    post = _post(content.id)
    assert post.status == "processing" and not post.unconfirmed
    assert photos_verified.count("content_init", 429) == 1 and len(photos_verified.posts) == 1


@pytest.mark.parametrize("fault", [{"kind": "server_error", "after_accept": True}, {"kind": "server_error"}])
def test_lost_init_answer_is_never_sent_again_and_ends_unconfirmed(env, photos_verified, fault):
    """A 5xx (after or before TikTok acted: the client cannot tell) leaves no publish_id. TikTok can
    look a post up by publish_id only, so reconcile cannot prove it absent: the post waits, no second
    init ever goes out, and at the deadline it fails as unconfirmed for a person to check."""
    sandbox = photos_verified
    uris, _ = _images(1)
    content = _generate(uris)
    [due] = approve(env, content)
    sandbox.inject("content_init", fault.pop("kind"), **fault)
    assert _deliver(due.id).status_code == 200
    post = _post(content.id)
    assert post.status == "processing" and post.unconfirmed and post.platform_ids == {}
    result = reconcile(post)
    assert result.state == "pending" and "publish_id" in result.detail
    _poll(), _poll()
    _deliver(due.id, "again")
    assert _post(content.id).status == "processing" and sandbox.count("content_init") == 1
    _poll(at=_post(content.id).poll_deadline + timedelta(seconds=1))
    post = _post(content.id)
    assert post.status == "failed" and post.fail_class == "unconfirmed"
    assert sandbox.count("content_init") == 1


def test_reconcile_with_a_saved_publish_id_reads_the_status(env, photos_verified):
    uris, _ = _images(1)
    content = _generate(uris)
    [due] = approve(env, content)
    _deliver(due.id)
    post = _post(content.id).model_copy(update={"unconfirmed": True})
    assert reconcile(post).detail == "PROCESSING_DOWNLOAD"
    found = reconcile(post)
    assert found.state == "published" and found.platform_ids["video_id"]
    assert photos_verified.count("content_init") == 1


def test_metrics_of_a_photo_post_follow_what_the_video_query_answers(env, photos_verified):
    uris, _ = _images(1)
    content = _generate(uris)
    [due] = approve(env, content)
    _deliver(due.id)
    _poll(), _poll()
    post = _post(content.id)
    assert post.status == "published"
    [refused] = _metrics(post)  # TikTok documents the video query for videos only
    assert "photo post" in refused.reason
    photos_verified.video_query_lists_photos = True
    [counted] = _metrics(post)
    assert counted.platform_post_id == post.platform_ids["video_id"] and counted.views is not None


def test_unaudited_app_fails_a_photo_post_once_flags_the_account_and_then_refuses_public(env, photos_verified):
    """Photo posts follow the unaudited-app rule as video posts do: TikTok's refusal
    (unaudited_client_can_only_post_to_private_accounts) fails the post once with its own class and
    flags the account; a non-SELF_ONLY photo post is then refused before approval, and the review
    card tells the approver."""
    from shared import services
    from shared.errors import ValidationError
    from shared.platforms.registry import adapter_for

    sandbox = photos_verified
    sandbox.audited = False
    try:
        uris, _ = _images(1)
        content = _generate(uris)  # PUBLIC_TO_EVERYONE
        [due] = approve(env, content)
        assert _deliver(due.id).status_code == 200  # acked: retrying cannot help
        post = _post(content.id)
        assert post.status == "failed" and post.fail_class == "unaudited_app"
        assert "Unaudited clients can only post to a private account" in post.fail_reason
        assert _deliver(due.id, message_id="dup").status_code == 200
        assert sandbox.count("content_init") == 1 and sandbox.posts == {}
        account = services.repository().get_account(ACCOUNT)
        assert "unaudited_client_can_only_post_to_private_accounts" in account["tiktok_unaudited_app"]["message"]
        with pytest.raises(ValidationError) as refused:
            _generate(uris[:1] * 2)
        assert refused.value.field == "targets.privacy_level" and "SELF_ONLY" in refused.value.limit
        # SELF_ONLY to a private account is what such an app may do: the card says why, and it posts.
        sandbox.add_creator(env["access_token"], creator_username="brand_main", private_account=True)
        own = _generate(uris, _target(privacy_level="SELF_ONLY"))
        card = dict(adapter_for("tiktok").preview(own, own.targets[0], account).fields)
        assert card["TikTok audit"].startswith("not audited") and "Unaudited clients" in card["TikTok audit"]
        [mine] = approve(env, own)
        assert _deliver(mine.id, message_id="own").status_code == 200
        assert services.repository().get_post(mine.id).status == "processing"
        assert sandbox.count("content_init", 200) == 1
    finally:
        sandbox.audited = True
        sandbox.add_creator(env["access_token"], creator_username="brand_main", private_account=False)


def test_photo_post_remembers_the_creators_privacy_options_and_they_bound_the_next_approval(env, photos_verified):
    """creator_info's privacy_level_options, kept on the account at a photo post's publish as at a
    video's, refuse a level the creator does not offer before approval, naming the field."""
    from shared import services
    from shared.errors import ValidationError

    sandbox = photos_verified
    sandbox.add_creator(env["access_token"], creator_username="brand_main",
                        privacy_level_options=["FOLLOWER_OF_CREATOR", "SELF_ONLY"])
    uris, _ = _images(1)
    content = _generate(uris)  # PUBLIC_TO_EVERYONE: not known yet, the fresh creator_info refuses it
    [due] = approve(env, content)
    _deliver(due.id)
    assert _post(content.id).status == "failed" and sandbox.count("content_init") == 0
    creator = services.repository().get_account(ACCOUNT)["tiktok_creator"]
    assert creator["privacy_level_options"] == ["FOLLOWER_OF_CREATOR", "SELF_ONLY"]
    with pytest.raises(ValidationError) as refused:
        _generate(uris * 2)
    assert refused.value.field == "targets.privacy_level" and "FOLLOWER_OF_CREATOR" in refused.value.limit
    ok = _generate(uris, _target(privacy_level="FOLLOWER_OF_CREATOR"))
    [approved] = approve(env, ok)
    _deliver(approved.id, message_id="ok")
    assert _post(ok.id).status == "processing" and sandbox.count("content_init") == 1
