"""Filtering and sorting the catalogue (docs/catalogue.md#search): the one place these rules live; the
API's route and the console's page both hand a `CatalogueFilter` to shared.catalogue.service.

- q: every word (case, accents and punctuation ignored) starts a word of the title, tags or description;
- channel_id, category_id, privacy, claimed_status: equal; published_from <= published_at < published_to;
- removed: false (default) lists the videos the channel still has, true the ones gone from it;
- sort by published (snippet.publishedAt), updated (when the catalogue last saw the video's data
  change) or views (statistics.viewCount), asc or desc; a video without the value sorts last either
  way; ties by video id, so pages never overlap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from shared.model.catalogue import CatalogueRow, ClaimedStatus, Privacy, SortField, SortOrder, matches, search_words


@dataclass(frozen=True)
class CatalogueFilter:
    q: str | None = None
    channel_id: str | None = None
    category_id: str | None = None
    privacy: Privacy | None = None
    claimed_status: ClaimedStatus | None = None
    published_from: datetime | None = None
    published_to: datetime | None = None
    removed: bool = False
    sort: SortField = "published"
    order: SortOrder = "desc"


_SORT_KEY = {"published": lambda r: r.published_at, "updated": lambda r: r.changed_at, "views": lambda r: r.view_count}


def select(rows: Iterable[CatalogueRow], wanted: CatalogueFilter) -> list[CatalogueRow]:
    """The rows the filter keeps, in its order."""
    words = search_words(wanted.q or "")
    kept = [r for r in rows if _keeps(r, wanted, words)]
    key = _SORT_KEY[wanted.sort]
    with_value = [r for r in kept if key(r) is not None]
    without = sorted((r for r in kept if key(r) is None), key=lambda r: r.video_id)
    with_value.sort(key=lambda r: r.video_id)  # ties: by id, in both directions
    with_value.sort(key=key, reverse=wanted.order == "desc")
    return with_value + without


def _keeps(row: CatalogueRow, wanted: CatalogueFilter, words: list[str]) -> bool:
    if row.removed != wanted.removed:
        return False
    if wanted.channel_id is not None and row.channel_id != wanted.channel_id:
        return False
    if wanted.category_id is not None and row.category_id != wanted.category_id:
        return False
    if wanted.privacy is not None and row.privacy != wanted.privacy:
        return False
    if wanted.claimed_status is not None and row.claimed_status != wanted.claimed_status:
        return False
    if wanted.published_from is not None and (row.published_at is None or row.published_at < wanted.published_from):
        return False
    if wanted.published_to is not None and (row.published_at is None or row.published_at >= wanted.published_to):
        return False
    return matches(row.search_text, words)
