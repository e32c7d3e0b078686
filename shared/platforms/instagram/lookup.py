"""Finding the media a container became, among the account's recent media.

media_publish answers with the media id, and nothing else links a container to its media: a
container reads back only {id, status_code, status}. When that answer was lost, the media is found
in GET /<IG_ID>/media by what was sent: the caption, the media type it publishes as (a reel reads
back as VIDEO with media_product_type REELS, a carousel as CAROUSEL_ALBUM) and a timestamp no
earlier than the publish call.

A story carries no caption and is not in the media edge: it is looked for among the account's
stories (GET /<IG_ID>/stories, live ones only, so within 24 h) by its media type (IMAGE or VIDEO,
media_product_type STORY) and time. Without a caption a look-alike cannot be told apart, so a
story is named only when it is the one candidate (`unique`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.model.content import ContentItem, TargetSpec
from shared.platforms.instagram.client import InstagramClient, parse_timestamp

# Meta's clock and ours differ; a media stamped a little before our record of the call is still ours.
CLOCK_SLACK = timedelta(minutes=5)
# 4 pages of 25: more than an account can publish through the API in 24 h (the cap is 50-100).
MAX_PAGES = 4
FIELDS = ["id", "caption", "media_type", "media_product_type", "timestamp", "permalink"]
_READS_BACK_AS = {"IMAGE": ("IMAGE", None), "REELS": ("VIDEO", "REELS"), "CAROUSEL": ("CAROUSEL_ALBUM", None)}


@dataclass(frozen=True)
class Expected:
    caption: str | None  # None: nothing to match on (a story shows none)
    media_type: str
    product_type: str | None
    since: datetime
    edge: str = "media"
    unique: bool = False  # only a single candidate identifies it


@dataclass(frozen=True)
class Sighting:
    matches: list[dict]  # oldest first
    complete: bool       # every media since `since` was read (False: the page budget ran out)
    ambiguous: bool = False  # several candidates and nothing to tell ours (stories)


def expected_media(content: ContentItem, target: TargetSpec, sent_at: datetime) -> Expected:
    if target.instagram_media_type == "STORIES":
        # A story carries the video when there is one, else the image (validation.story_media).
        media_type = "VIDEO" if any(m.kind == "video" for m in content.media) else "IMAGE"
        return Expected(caption=None, media_type=media_type, product_type="STORY", since=sent_at - CLOCK_SLACK,
                        edge="stories", unique=True)
    media_type, product_type = _READS_BACK_AS.get(target.instagram_media_type or "", ("", None))
    return Expected(caption=content.text(), media_type=media_type, product_type=product_type,
                    since=sent_at - CLOCK_SLACK)


_UNDATED = datetime.max.replace(tzinfo=UTC)


def find(client: InstagramClient, ig_user_id: str, expected: Expected) -> Sighting:
    listing = client.media_since(ig_user_id, expected.since, FIELDS, max_pages=MAX_PAGES, edge=expected.edge)
    matches = [item for item in listing.items if _is_expected(item, expected)]
    # An item without a readable timestamp sorts last (comparing None with a datetime would raise).
    matches.sort(key=lambda item: parse_timestamp(item.get("timestamp")) or _UNDATED)
    return Sighting(matches=matches, complete=listing.complete, ambiguous=expected.unique and len(matches) > 1)


def _is_expected(item: dict, expected: Expected) -> bool:
    if expected.media_type and item.get("media_type") != expected.media_type:
        return False
    if expected.product_type and item.get("media_product_type") not in (None, expected.product_type):
        return False
    if expected.caption is None:
        return True
    return _normalized(item.get("caption")) == _normalized(expected.caption)


def _normalized(caption) -> str:
    # Browsers and Meta differ on line endings and trailing blanks; the words are what identify it.
    return "\n".join(line.rstrip() for line in str(caption or "").replace("\r\n", "\n").strip().split("\n"))
