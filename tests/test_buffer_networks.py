"""What a post to a Buffer channel carries for the network behind it, built from the network's own
platform rules (no emulators): the networks Postgate publishes to itself each have their rules, a choice
Buffer cannot carry is refused, and createPost's input is Buffer's shape (an array of assets, each
exactly one of image / video)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.errors import ValidationError
from shared.model.content import ContentItem, MediaRef, TargetSpec
from shared.model.platform import BUFFER_NETWORK_PLATFORMS, account_platform_name
from shared.platforms.buffer.networks import known_networks
from shared.platforms.buffer.publish import post_input
from shared.platforms.buffer.validation import planned_post


def content(*media: MediaRef, caption: str = "Cold all day.") -> ContentItem:
    now = datetime.now(UTC)
    return ContentItem(id="c1", campaign="Launch", caption=caption, media=list(media),
                       targets=[TargetSpec(account_id="b")], requested_by="m@example.com", generator="test",
                       content_hash="h", created_at=now, updated_at=now)


def image(name: str = "a.jpg", **extra) -> MediaRef:
    return MediaRef(kind="image", bucket="media", name=name, content_type="image/jpeg", size=1000, generation=1, **extra)


def account(service: str) -> dict:
    return {"platform": "buffer", "platform_account_id": "chan1", "buffer_service": service}


def test_every_network_postgate_publishes_to_itself_has_its_rules_applied():
    assert known_networks() == set(BUFFER_NETWORK_PLATFORMS)


def test_names_say_buffer_and_the_network_behind_it():
    assert account_platform_name("buffer", "twitter") == "Buffer · X"
    assert account_platform_name("buffer", "googlebusiness") == "Buffer · Google Business Profile"
    assert account_platform_name("buffer", "newnetwork") == "Buffer · newnetwork"
    assert account_platform_name("x", None) == "X"


def test_create_input_is_an_array_of_assets_each_exactly_one_kind_with_the_images_alt_text():
    post = planned_post(content(image(ai_generated=True)), TargetSpec(account_id="b", instagram_media_type="IMAGE",
                                                                      alt_text="A bottle"), account("instagram"))
    body = post_input(post, "chan1", ["https://media.example/a.jpg?sig"])
    assert body == {"channelId": "chan1", "schedulingType": "automatic", "mode": "shareNow", "text": "Cold all day.",
                    "assets": [{"image": {"url": "https://media.example/a.jpg?sig", "metadata": {"altText": "A bottle"}}}],
                    "metadata": {"instagram": {"type": "post", "shouldShareToFeed": True, "isAiGenerated": True}}}


def test_an_x_channel_gets_at_most_four_images_as_x_would():
    with pytest.raises(ValidationError) as info:
        planned_post(content(*(image(f"{i}.jpg") for i in range(5))), TargetSpec(account_id="b"), account("twitter"))
    assert info.value.field == "images" and "4 photos" in info.value.limit


def test_alt_text_on_more_than_one_image_is_refused_where_buffer_would_drop_it():
    with pytest.raises(ValidationError) as info:
        planned_post(content(image("a.jpg"), image("b.jpg")), TargetSpec(account_id="b", alt_text="x"),
                     account("mastodon"))
    assert info.value.field == "targets.alt_text"


def test_an_account_without_its_network_or_channel_is_refused_naming_the_field():
    with pytest.raises(ValidationError) as info:
        planned_post(content(), TargetSpec(account_id="b"), {"platform": "buffer", "platform_account_id": "chan1"})
    assert info.value.field == "account.buffer_service"
    with pytest.raises(ValidationError) as info:
        planned_post(content(), TargetSpec(account_id="b"), {"platform": "buffer", "buffer_service": "twitter"})
    assert info.value.field == "account.platform_account_id"
