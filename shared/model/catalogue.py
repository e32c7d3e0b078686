"""A channel's catalogue: what is kept of each video besides YouTube's own parts, and the rules its
search follows (docs/catalogue.md). No I/O.

A catalogue video keeps the four parts exactly as videos.list answered them (snippet, contentDetails,
status, statistics) and these fields derived from them, so lists can filter and sort without reading
the parts: `title`, `published_at`, `category_id`, `privacy`, `view_count`, `duration_seconds`,
`search_text`; and from the CMS CSV reports (joined by video id) `claimed_status` and `policy`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Privacy = Literal["public", "unlisted", "private"]
ClaimedStatus = Literal["claimed", "unclaimed", "other", "none"]
SortField = Literal["published", "updated", "views"]
SortOrder = Literal["asc", "desc"]
PRIVACIES: tuple[Privacy, ...] = ("public", "unlisted", "private")
SORT_FIELDS: tuple[SortField, ...] = ("published", "updated", "views")
# YouTube's video categories by id, as people read them (developers.google.com/youtube/v3/docs/videoCategories):
# the catalogue's filter and the change forms show these names.
CATEGORY_NAMES = {"1": "Film & Animation", "2": "Autos & Vehicles", "10": "Music", "15": "Pets & Animals",
                  "17": "Sports", "19": "Travel & Events", "20": "Gaming", "22": "People & Blogs", "23": "Comedy",
                  "24": "Entertainment", "25": "News & Politics", "26": "Howto & Style", "27": "Education",
                  "28": "Science & Technology", "29": "Nonprofits & Activism"}
SEARCH_MAX_WORDS = 10  # words of a search that must all appear
_NOT_WORD = re.compile(r"[^\w]+")
_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def normalise(text: str) -> str:
    """Case and accents folded, punctuation to single spaces: "Café, LIVE!" -> "cafe live"."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", plain).split())


def search_words(query: str) -> list[str]:
    """The words a search must find, each a part of a word of the title, tags or description."""
    return normalise(query).split()[:SEARCH_MAX_WORDS]


def search_text(snippet: dict[str, Any]) -> str:
    """What a search looks through: title, tags and description, normalised, with a leading space so a
    word's start can be asked for as " word"."""
    tags = " ".join(str(t) for t in snippet.get("tags") or [])
    return " " + normalise(f"{snippet.get('title') or ''} {tags} {snippet.get('description') or ''}") + " "


def matches(text: str, words: list[str]) -> bool:
    """Every word is found at the start of a word of `text` ("launch" finds "launches", not "relaunch")."""
    return all(f" {word}" in text for word in words)


def claimed_status_of(report_value: str | None) -> ClaimedStatus:
    """The report's "Claimed status" as a filter value: claimed, unclaimed, other (any other text), or
    none (no report row names the video, or it leaves the column empty)."""
    value = normalise(report_value or "")
    if not value:
        return "none"
    if value == "claimed":
        return "claimed"
    if value in ("unclaimed", "not claimed"):
        return "unclaimed"
    return "other"


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def duration_seconds(value: Any) -> int | None:
    """contentDetails.duration (ISO 8601, e.g. PT1H2M3S) in seconds."""
    match = _ISO_DURATION.match(value) if isinstance(value, str) else None
    if not match:
        return None
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def derived_fields(video: dict[str, Any]) -> dict[str, Any]:
    """The search and sort fields of a videos.list item."""
    snippet = video.get("snippet") or {}
    statistics = video.get("statistics") or {}
    views = statistics.get("viewCount")
    return {
        "title": str(snippet.get("title") or ""),
        "published_at": parse_time(snippet.get("publishedAt")),
        "category_id": str(snippet.get("categoryId") or "") or None,
        "privacy": (video.get("status") or {}).get("privacyStatus"),
        "view_count": int(views) if isinstance(views, str) and views.isdigit() else None,
        "duration_seconds": duration_seconds((video.get("contentDetails") or {}).get("duration")),
        "search_text": search_text(snippet),
    }


@dataclass(frozen=True)
class CatalogueRow:
    """What a list needs of one video: filters, sorts and the line shown for it."""

    video_id: str
    channel_id: str
    title: str
    published_at: datetime | None
    changed_at: datetime | None
    view_count: int | None
    category_id: str | None
    privacy: str | None
    claimed_status: ClaimedStatus
    policy: str | None
    duration_seconds: int | None
    removed: bool
    search_text: str

    @classmethod
    def of(cls, doc: dict[str, Any]) -> CatalogueRow:
        return cls(video_id=str(doc["video_id"]), channel_id=str(doc.get("channel_id") or ""),
                   title=str(doc.get("title") or ""), published_at=parse_time(doc.get("published_at")),
                   changed_at=parse_time(doc.get("changed_at")), view_count=doc.get("view_count"),
                   category_id=doc.get("category_id"), privacy=doc.get("privacy"),
                   claimed_status=doc.get("claimed_status") or "none", policy=doc.get("policy"),
                   duration_seconds=doc.get("duration_seconds"), removed=bool(doc.get("removed")),
                   search_text=str(doc.get("search_text") or ""))


ROW_FIELDS = ("video_id", "channel_id", "title", "published_at", "changed_at", "view_count", "category_id", "privacy",
              "claimed_status", "policy", "duration_seconds", "removed", "search_text")
