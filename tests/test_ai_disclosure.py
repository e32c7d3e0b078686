"""AI disclosure: media our AI generation made is recorded as such on its MediaRef, and TikTok
(post_info.is_aigc) and YouTube (status.containsSyntheticMedia) are told when the media a post
carries is AI-made; never because the text was AI-written or because a generated image sits beside
a video the team filmed. The review page says per target what is disclosed where. Content stored
before the flag existed loads and keeps the hash its approval is bound to."""

from __future__ import annotations

import html
import re
from datetime import UTC

from shared.model.content import GeneratedDraft, GeneratedImage
from tests.conftest import (
    ACCOUNT,
    MEDIA_BUCKET,
    approve,
    function_client,
    generic_brief,
    issue_link,
    jpeg_bytes,
    register_account,
    upload_object,
    upload_video,
)
from tests.test_publish_tiktok import _deliver as deliver_tiktok
from tests.test_publish_youtube import VIDEO_SIZE, yt, yt_sandbox  # noqa: F401 - the YouTube sandbox fixtures
from tests.test_publish_youtube import deliver as deliver_youtube
from tests.test_publish_youtube import poll as poll_youtube
from tests.test_publish_youtube import target as yt_target

YT = "yt-main"


class ImageGenerator:
    """A generator that draws: an AI-written caption and an AI-made JPEG (what Gemini returns)."""

    name = "gemini:test-image-model"

    def generate(self, brief) -> GeneratedDraft:
        return GeneratedDraft(caption=f"{brief.topic}. Pre-order now.", hashtags=["Launch"], generator=self.name,
                              image=GeneratedImage(mime_type="image/jpeg", data=jpeg_bytes()))


def _draft(targets: list[dict], *, video: str | None, images: list[str] | None = None):
    """Content from a brief through create_draft with the drawing generator."""
    from shared import services
    from shared.content.drafts import create_draft, parse_brief

    brief = parse_brief(generic_brief(targets, video=video, images=images))
    content, _ = create_draft(brief, generator=ImageGenerator(), repo=services.repository(),
                              media_store=services.media_store(), media_bucket=MEDIA_BUCKET)
    return content


def _own_copy(targets: list[dict], *, video: str, images: list[str] | None = None):
    """The team's own post: their text, their media."""
    from shared import services
    from shared.content.own_copy import OwnCopy, create_from_copy

    copy = OwnCopy(campaign="Launch", caption="Filmed in our own kitchen.", video=video, images=images or [],
                   targets=targets)
    content, _ = create_from_copy(copy, requested_by="editor@example.com", repo=services.repository(),
                                  media_store=services.media_store(), media_bucket=MEDIA_BUCKET)
    return content


def _with_ai_video(content):
    """The same item with its video recorded as made by our AI generation (a new version, as a
    generator that makes video would store it), pending approval again."""
    from shared import services
    from shared.content.versions import reopen_for_approval

    media = [m.model_copy(update={"ai_generated": True}) if m.kind == "video" else m for m in content.media]
    return reopen_for_approval(services.repository(), content.id, expected_hash=content.content_hash,
                               reason="the video is our AI's", media=media)


def _tiktok_post_info(env, sandbox, content) -> dict:
    from shared import services

    due = [p for p in approve(env, content) if p.platform == "tiktok"]
    assert due and deliver_tiktok(due[0].id).status_code == 200
    [post] = [p for p in services.repository().posts_for_content(content.id) if p.platform == "tiktok"]
    assert post.status == "processing", post.fail_reason
    return sandbox.posts[post.platform_ids["publish_id"]]["post_info"]


def _youtube_status(env, yt_box, content) -> dict:
    """Publish public, let the poll turn it public (its videos.update resends the status part), and
    return the status YouTube holds for the video."""
    from shared import services

    due = [p for p in approve(env, content) if p.platform == "youtube"]
    assert due and deliver_youtube(due[0].id).status_code == 200
    [post] = [p for p in services.repository().posts_for_content(content.id) if p.platform == "youtube"]
    video_id = post.platform_ids["video_id"]
    uploaded = dict(yt_box.posts[video_id]["status"])
    poll_youtube(), poll_youtube()
    assert yt_box.count("update") == 1
    after = yt_box.posts[video_id]["status"]
    assert after["privacyStatus"] == "public"
    assert after["containsSyntheticMedia"] == uploaded["containsSyntheticMedia"]  # the update kept the disclosure
    return after


# -- the fact, and the hash ------------------------------------------------------------------------

def test_generated_image_is_recorded_as_ai_generated_and_the_teams_media_is_not(env):
    from shared import services

    image = upload_object("in/team.jpg", jpeg_bytes(), "image/jpeg")
    content = _draft([{"account_id": ACCOUNT, "privacy_level": "SELF_ONLY"}], video=upload_video(), images=[image])
    stored = services.repository().get_content(content.id)
    flags = {m.name: m.ai_generated for m in stored.media}
    assert flags == {"in/video.mp4": False, "in/team.jpg": False, f"generated/{content.id}/image.jpg": True}
    assert stored.content_hash == stored.current_hash()
    from shared.api.models import ContentOut

    assert {m.uri: m.ai_generated for m in ContentOut.of(stored).media}[f"gs://{MEDIA_BUCKET}/generated/{content.id}/image.jpg"]
    # The flag is approved like every other byte: clearing it is a different version.
    cleared = [m.model_copy(update={"ai_generated": False}) for m in stored.media]
    assert stored.model_copy(update={"media": cleared}).current_hash() != stored.content_hash


# The hash of this item computed by the code before MediaRef had `ai_generated` (approvals in
# Firestore are bound to such hashes).
_OLD_DOC = {
    "id": "c-old", "campaign": "Launch", "caption": "Cold all day.", "hashtags": ["Launch"],
    "media": [{"kind": "video", "bucket": "b", "name": "in/v.mp4", "content_type": "video/mp4", "size": 6291456,
               "generation": 1700000000000001, "crc32c": "AAAAAA==", "md5_hash": "1B2M2Y8AsgTpgAmY7PhCfg=="},
              {"kind": "image", "bucket": "b", "name": "generated/c-1/image.png", "content_type": "image/png",
               "size": 68, "generation": 1700000000000002, "crc32c": "BBBBBB==", "md5_hash": None}],
    "targets": [{"account_id": "tt-main", "privacy_level": "SELF_ONLY"}],
    "requested_by": "marketing@example.com", "generator": "gemini:old-model", "version": 1,
    "content_hash": "3976075d1f57d22274f409d8dfc3bed6ece1451c9d2464c75eac3d8888179efa",
    "status": "approved",
}


def test_content_stored_before_the_flag_loads_unflagged_with_its_approved_hash(env):
    from datetime import datetime

    from shared import services

    doc = {**_OLD_DOC, "publish_at": datetime(2031, 6, 2, 14, 30, tzinfo=UTC),
           "created_at": datetime(2030, 1, 1, tzinfo=UTC), "updated_at": datetime(2030, 1, 1, tzinfo=UTC)}
    repo = services.repository()
    repo.content_ref("c-old").set(doc)
    content = repo.get_content("c-old")
    assert [m.ai_generated for m in content.media] == [False, False]
    assert content.current_hash() == _OLD_DOC["content_hash"]  # its approval still holds
    flagged = [m.model_copy(update={"ai_generated": m.kind == "image"}) for m in content.media]
    assert content.model_copy(update={"media": flagged}).current_hash() != _OLD_DOC["content_hash"]


def test_an_edit_naming_the_generated_image_again_keeps_it_ai_generated_and_the_approval(env):
    from shared import services
    from shared.posts.service import PostEdit, edit_post

    content = _draft([{"account_id": ACCOUNT, "privacy_level": "SELF_ONLY"}], video=upload_video())
    generated = next(m for m in content.media if m.ai_generated)
    repo = services.repository()
    [post] = repo.posts_for_content(content.id)
    edit_post(repo, post.id, PostEdit(images=[generated.uri]), by="editor@example.com",
              media_store=services.media_store(), media_bucket=MEDIA_BUCKET, ask_approval=lambda c: None)
    after = repo.get_content(content.id)
    assert after.version == 1 and after.content_hash == content.content_hash  # nothing changed
    assert next(m for m in after.media if m.kind == "image").ai_generated is True


# -- TikTok: post_info.is_aigc ---------------------------------------------------------------------

def test_tiktok_is_not_labelled_for_ai_text_or_an_ai_image_its_video_post_does_not_carry(env, sandbox):
    """Today's guess labelled both: a Gemini-written caption with the team's video and an image."""
    image = upload_object("in/team.jpg", jpeg_bytes(), "image/jpeg")
    content = _draft([{"account_id": ACCOUNT, "privacy_level": "SELF_ONLY"}], video=upload_video(), images=[image])
    assert _tiktok_post_info(env, sandbox, content)["is_aigc"] is False


def test_tiktok_own_copy_with_the_teams_media_is_not_labelled(env, sandbox):
    image = upload_object("in/team.jpg", jpeg_bytes(), "image/jpeg")
    content = _own_copy([{"account_id": ACCOUNT, "privacy_level": "SELF_ONLY"}], video=upload_video(), images=[image])
    assert _tiktok_post_info(env, sandbox, content)["is_aigc"] is False


def test_tiktok_post_carrying_ai_made_media_is_labelled_is_aigc(env, sandbox):
    content = _with_ai_video(_own_copy([{"account_id": ACCOUNT, "privacy_level": "SELF_ONLY"}], video=upload_video()))
    assert _tiktok_post_info(env, sandbox, content)["is_aigc"] is True


# -- YouTube: status.containsSyntheticMedia --------------------------------------------------------

def test_youtube_own_copy_is_not_declared_synthetic(yt, env):
    """Today's guess declared every video not made from the offline template synthetic."""
    content = _own_copy([yt_target()], video=upload_video(VIDEO_SIZE, "in/yt.mp4"))
    assert _youtube_status(env, yt, content)["containsSyntheticMedia"] is False


def test_youtube_video_beside_an_ai_image_and_ai_text_is_not_declared_synthetic(yt, env):
    content = _draft([yt_target()], video=upload_video(VIDEO_SIZE, "in/yt.mp4"))
    assert any(m.ai_generated for m in content.media)  # the generated image, which YouTube never gets
    assert _youtube_status(env, yt, content)["containsSyntheticMedia"] is False


def test_youtube_ai_made_video_is_declared_synthetic_at_upload_and_after_the_privacy_update(yt, env):
    content = _with_ai_video(_own_copy([yt_target()], video=upload_video(VIDEO_SIZE, "in/yt.mp4")))
    assert _youtube_status(env, yt, content)["containsSyntheticMedia"] is True


# -- the review page ---------------------------------------------------------------------------------

def _cards(page: str) -> dict[str, str]:
    return {m.group(1): html.unescape(m.group(0)) for m in
            re.finditer(r'<section class="target" data-platform="(\w+)".*?</section>', page, re.S)}


def _disclosure(card: str) -> str:
    return re.search(r"<dt>AI-generated media</dt><dd>(.*?)</dd>", card, re.S).group(1)


def _review(env, content) -> dict[str, str]:
    client = function_client("functions/approval/main.py", "approval_http", "http")
    response = client.post("/", data={"token": issue_link(env, content, "approve"), "step": "review"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    return {platform: _disclosure(card) for platform, card in _cards(page).items()}


def _register_others():
    register_account("ig-main", "instagram", {"access_token": "a"}, platform_account_id="17841400000000001",
                     handle="brand.ig")
    register_account("x-main", "x", {"access_token": "a"}, handle="brand_x")
    register_account(YT, "youtube", {"access_token": "a"}, handle="BrandTube")
    register_account("li-main", "linkedin", {"access_token": "a"}, platform_account_id="urn:li:organization:42")


def test_review_page_says_per_target_whether_ai_media_is_published_and_how_it_is_disclosed(env):
    _register_others()
    # The team's video and the generator's image: only Instagram's image post carries the image
    # (TikTok, YouTube, X and LinkedIn take the video).
    content = _draft([{"account_id": ACCOUNT, "privacy_level": "SELF_ONLY"},
                      {"account_id": "ig-main", "instagram_media_type": "IMAGE"},
                      {"account_id": "x-main"},
                      {"account_id": YT, "title": "Cold", "youtube_privacy": "private"},
                      {"account_id": "li-main"}], video=upload_video())
    lines = _review(env, content)
    assert lines["tiktok"] == "none in this post (is_aigc false)"
    assert lines["youtube"] == "none in this post (containsSyntheticMedia false)"
    assert lines["x"] == "none in this post" and lines["linkedin"] == "none in this post"  # both carry the video
    assert lines["instagram"].startswith("yes: disclosed to Instagram (is_ai_generated)")


def test_review_page_shows_the_disclosure_to_tiktok_and_youtube_for_ai_made_media(env):
    _register_others()
    content = _with_ai_video(_own_copy([{"account_id": ACCOUNT, "privacy_level": "SELF_ONLY"},
                                        {"account_id": "x-main"},
                                        {"account_id": YT, "title": "Cold", "youtube_privacy": "private"},
                                        {"account_id": "li-main"}], video=upload_video()))
    lines = _review(env, content)
    assert lines["tiktok"].startswith("yes: disclosed to TikTok (is_aigc)")
    assert lines["youtube"].startswith("yes: YouTube: contains synthetic media (containsSyntheticMedia)")
    assert lines["x"].startswith("yes: not disclosed by a platform field (X has none)")
    assert lines["linkedin"].startswith("yes: not disclosed by a platform field (LinkedIn has none)")


def test_tiktok_photo_post_is_judged_by_its_images_and_says_tiktok_has_no_field_for_it(env):
    """A photo post carries the images, not the content's video: the generator's image makes it AI
    media, the team's video beside it does not, and the other way round. The photo post's post_info
    has no is_aigc (developers.tiktok.com/doc/content-posting-api-reference-photo-post), so the card
    says it cannot be disclosed there instead of claiming TikTok labels it."""
    photo = {"account_id": ACCOUNT, "privacy_level": "SELF_ONLY", "tiktok_post_type": "PHOTO"}
    ai_image = _draft([photo], video=upload_video())  # the generator's image, the team's video
    [card] = _cards(_review_page(env, ai_image)).values()
    assert _disclosure(card).startswith("yes: not disclosed by a platform field (TikTok photo posts have no is_aigc "
                                        "field)")
    assert "<dt>AI-generated label</dt><dd>not available for TikTok photo posts</dd>" in card
    team_image = upload_object("in/team.jpg", jpeg_bytes(), "image/jpeg")
    ai_video = _with_ai_video(_own_copy([photo], video=upload_video(name="in/ai.mp4"), images=[team_image]))
    [card] = _cards(_review_page(env, ai_video)).values()
    assert _disclosure(card) == "none in this post"
    assert "<dt>AI-generated label</dt><dd>no</dd>" in card


def _review_page(env, content) -> str:
    client = function_client("functions/approval/main.py", "approval_http", "http")
    response = client.post("/", data={"token": issue_link(env, content, "approve"), "step": "review"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)
