"""The review page shows exactly what will be posted, per target (what each adapter sends), the
media of the approved generation, the schedule in the approver's zone, and a recap after deciding."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime

from tests.conftest import (
    ACCOUNT,
    function_client,
    generic_brief,
    issue_link,
    jpeg_bytes,
    register_account,
    snapshot_state,
    upload_object,
    upload_video,
)

PUBLISH_AT = datetime(2031, 6, 2, 14, 30, tzinfo=UTC)


def _http():
    return function_client("functions/approval/main.py", "approval_http", "http")


def _five_platform_content(env):
    from shared import entrypoints

    register_account("ig-main", "instagram", {"access_token": "a"}, platform_account_id="17841400000000001", handle="brand.ig")
    register_account("x-main", "x", {"access_token": "a"}, handle="brand_x")
    register_account("yt-main", "youtube", {"access_token": "a"}, handle="BrandTube")
    register_account("li-main", "linkedin", {"access_token": "a"}, platform_account_id="urn:li:organization:42", handle="brand-li")
    video = upload_video()
    image = upload_object("in/cover.jpg", jpeg_bytes(), "image/jpeg")
    targets = [
        {"account_id": ACCOUNT, "privacy_level": "MUTUAL_FOLLOW_FRIENDS", "disable_duet": True},
        {"account_id": "ig-main", "instagram_media_type": "REELS", "share_to_feed": False},
        {"account_id": "x-main"},
        {"account_id": "yt-main", "title": "Cold for 24 hours", "tags": ["bottle", "steel"], "youtube_privacy": "public",
         "made_for_kids": False},
        {"account_id": "li-main", "linkedin_visibility": "LOGGED_IN"},
    ]
    return entrypoints.generate(generic_brief(targets, video=video, images=[image], publish_at=PUBLISH_AT.isoformat()))


def _cards(page: str) -> dict[str, str]:
    return {m.group(1): html.unescape(m.group(0)) for m in
            re.finditer(r'<section class="target" data-platform="(\w+)".*?</section>', page, re.S)}


def test_review_shows_each_target_as_its_platform_will_carry_it(env):
    content = _five_platform_content(env)
    before = snapshot_state()
    response = _http().post("/", data={"token": issue_link(env, content, "approve"), "step": "review",
                                       "tz": "America/New_York"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert snapshot_state() == before
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    cards = _cards(page)
    assert set(cards) == {"tiktok", "instagram", "x", "youtube", "linkedin"}
    assert re.search(r"Who can watch</dt><dd>Friends", cards["tiktok"]) and re.search(r"Duet</dt><dd>off", cards["tiktok"])
    assert re.search(r"Comments</dt><dd>on", cards["tiktok"]) and "AI-generated media" in cards["tiktok"]
    assert "reel" in cards["instagram"] and "Reels tab only" in cards["instagram"]
    assert re.search(r"Length</dt><dd>\d+ of 280", cards["x"])
    assert "Cold for 24 hours" in cards["youtube"] and "bottle, steel" in cards["youtube"]
    assert "public" in cards["youtube"] and re.search(r"Made for kids</dt><dd>no", cards["youtube"])
    assert "signed-in LinkedIn members" in cards["linkedin"]
    assert all(content.caption.splitlines()[0] in card for card in cards.values())
    # The schedule in the approver's zone with UTC beside it (10:30 in New York is 14:30 UTC in June).
    assert "Mon 02 Jun 2031, 10:30 America/New_York (Mon 02 Jun 14:30 UTC)" in page


def test_review_previews_the_approved_generations_through_short_lived_signed_urls(env):
    content = _five_platform_content(env)
    response = _http().post("/", data={"token": issue_link(env, content, "approve"), "step": "review"})
    page = response.get_data(as_text=True)
    sources = re.findall(r'class="media-preview"[^>]*src="([^"]+)"', page) + re.findall(r'<img class="media-preview" src="([^"]+)"', page)
    urls = {html.unescape(u) for u in sources}
    assert len(urls) == 2
    generations = {str(m.generation) for m in content.media}
    for url in urls:
        assert "X-Goog-Signature=" in url and "X-Goog-Expires=1800" in url
        assert re.search(r"generation=(\d+)", url).group(1) in generations
        origin = "/".join(url.split("/")[:3])
        assert f"img-src {origin}" in response.headers["Content-Security-Policy"]
    import requests

    for url in urls:  # what the browser will fetch: the approved bytes
        fetched = requests.get(url, timeout=10)
        assert fetched.status_code == 200 and len(fetched.content) in {m.size for m in content.media}


def test_reject_reason_is_stored_and_recapped(env):
    from shared import services

    content = _five_platform_content(env)
    response = _http().post("/", data={"token": issue_link(env, content, "reject"), "action": "reject",
                                       "reason": "Wrong product shot; use the blue bottle."})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Rejected" in page and "use the blue bottle" in page
    stored = services.repository().get_content(content.id)
    assert stored.status == "rejected" and stored.approval.reason == "Wrong product shot; use the blue bottle."
    posts = services.repository().posts_for_content(content.id)
    assert all(p.status == "rejected" and "use the blue bottle" in p.history[-1].reason for p in posts)
    # approval-notify tells the requester, reason included.
    from shared import entrypoints
    from tests.conftest import drain_messages

    [notice_request] = [m for m in drain_messages() if m.get("decision") == "rejected" and m["content_hash"] == content.content_hash]
    assert entrypoints.notify_approvers(notice_request) == 1
    [notice] = list((env["workdir"] / "outbox").glob(f"{content.id}--rejected--*.json"))
    told = json.loads(notice.read_text())
    assert told["recipient"] == "marketing@example.com" and told["reason"] == "Wrong product shot; use the blue bottle."
    assert told["decided_by"] == "lead@example.com"


def test_approval_recaps_where_and_when_each_post_goes(env):
    content = _five_platform_content(env)
    response = _http().post("/", data={"token": issue_link(env, content, "approve"), "action": "approve",
                                       "tz": "Europe/Berlin"})
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200 and "<h1>Approved</h1>" in page
    recap = re.search(r'<ul class="recap">(.*?)</ul>', page, re.S).group(1)
    for line in ("TikTok · @brand_main", "Instagram · @brand.ig", "X · @brand_x", "YouTube · @BrandTube", "LinkedIn · @brand-li"):
        assert line in recap
    assert recap.count("scheduled for Mon 02 Jun 2031, 16:30 Europe/Berlin (Mon 02 Jun 14:30 UTC)") == 5


def test_approver_is_told_before_approving_that_tiktok_has_not_audited_the_app(env, api):
    """Issue 16 item 6: once TikTok refused a post because the app is unaudited, the account carries
    the flag. Opening a non-SELF_ONLY post for review already says it can't be approved, naming the
    field; a SELF_ONLY post's card tells the approver what TikTok takes from this app; the API's
    account view shows the flag."""
    from shared import entrypoints, services
    from shared.platforms.tiktok.account_state import mark_unaudited
    from tests.conftest import bearer, brief

    public = entrypoints.generate(brief(upload_video()))  # PUBLIC_TO_EVERYONE, before TikTok refused anything
    mark_unaudited(services.repository(), ACCOUNT, "tiktok video_init: unaudited_client_can_only_post_to_private_"
                                                      "accounts: Unaudited clients can only post to a private account.")
    refused = _http().post("/", data={"token": issue_link(env, public, "approve"), "step": "review"})
    text = html.unescape(refused.get_data(as_text=True))
    assert refused.status_code == 422 and "targets.privacy_level" in text and "SELF_ONLY" in text
    assert services.repository().get_content(public.id).status == "pending_approval"
    own = entrypoints.generate(brief(upload_video(name="in/own.mp4"),
                                     targets=[{"account_id": ACCOUNT, "privacy_level": "SELF_ONLY"}]))
    review = _http().post("/", data={"token": issue_link(env, own, "approve"), "step": "review"})
    page = review.get_data(as_text=True)
    assert review.status_code == 200, page
    card = _cards(page)["tiktok"]
    assert re.search(r"TikTok audit</dt><dd>not audited", card) and "private account" in card
    assert "Unaudited clients can only post to a private account" in card
    view = api.get(f"/accounts/{ACCOUNT}", headers=bearer(env)).get_json()
    assert view["unaudited_app"] is True and "private account" in view["unaudited_app_reason"]
