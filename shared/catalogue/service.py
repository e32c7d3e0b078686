"""The catalogue as the front doors read it: lists and searches, one video, one channel
(docs/catalogue.md#search). The API's routes (shared/api/routes/youtube_catalogue.py) and the console's
page (shared/console/pages/catalogue.py) call these, so they answer the same.

How a search reads Firestore. Firestore has no text search, and the filters combine freely (any of five,
a range, three sorts both ways), which would take a composite index per combination; an `offset` is
billed a read per skipped document, and a total needs another query. So a list is answered from a
snapshot of each channel's rows (the fields a list filters, sorts and shows: shared/model/catalogue.py
ROW_FIELDS) kept in the instance's memory, keyed by the channel's `version`, which a refresh changes
whenever it changed a video. Reads per list: 1 per channel document (the version; one channel when
`channel_id` is given); on a version the instance has not seen, that channel's videos once (a
projection query, one read each); then nothing: filter, sort, total and skip/limit are in memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.catalogue.search import CatalogueFilter, select
from shared.model.catalogue import CatalogueRow
from shared.stores import catalogue as store
from shared.stores.posts import Repository

SNAPSHOTS_KEPT = 32  # channels whose rows an instance keeps (least recently used dropped first)


@dataclass(frozen=True)
class CataloguePage:
    rows: list[CatalogueRow]
    total: int


class _Snapshots:
    """Each channel's rows at a version, for this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[int, str], tuple[str, list[CatalogueRow]]] = OrderedDict()

    def rows(self, repo: Repository, channel_id: str, version: str) -> list[CatalogueRow]:
        key = (id(repo.db), channel_id)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept[0] == version:
                self._kept.move_to_end(key)
                return kept[1]
        rows = [CatalogueRow.of(doc) for doc in store.snapshot_rows(repo, channel_id)]
        with self._lock:
            self._kept[key] = (version, rows)
            self._kept.move_to_end(key)
            while len(self._kept) > SNAPSHOTS_KEPT:
                self._kept.popitem(last=False)
        return rows


SNAPSHOTS = _Snapshots()


def list_videos(repo: Repository, wanted: CatalogueFilter, *, skip: int, limit: int) -> CataloguePage:
    """The videos the filter keeps, in its order: `limit` of them from `skip`, and how many in all."""
    if wanted.channel_id is not None:
        channel = store.get_channel(repo, wanted.channel_id)
        channels = [channel] if channel else []
    else:
        channels = store.list_channels(repo)
    rows: list[CatalogueRow] = []
    for channel in channels:
        if channel.get("version"):
            rows.extend(SNAPSHOTS.rows(repo, channel["channel_id"], channel["version"]))
    selected = select(rows, wanted)
    return CataloguePage(selected[skip:skip + limit], len(selected))


def video(repo: Repository, video_id: str) -> dict[str, Any] | None:
    """A video's document: YouTube's four parts, the derived fields and its report row (joined at refresh)."""
    return store.get_video(repo, video_id)


def channel(repo: Repository, channel_id: str) -> dict[str, Any] | None:
    """A channel's document: channels.list's parts, the uploads playlist, counts, the last refresh."""
    return store.get_channel(repo, channel_id)


def channels(repo: Repository) -> list[dict[str, Any]]:
    return sorted(store.list_channels(repo), key=lambda c: (str(c.get("title") or ""), c["channel_id"]))


def account_of_channel(repo: Repository, channel_id: str) -> str | None:
    """The connected YouTube account whose channel this is (the one a refresh reads it with)."""
    return next((aid for aid, account in repo.accounts("youtube") if account.get("platform_account_id") == channel_id),
                None)


def request_refresh(repo: Repository, channel_id: str, *, send_tick: Callable[[dict], object]) -> str | None:
    """Ask catalogue-refresh to refresh one channel now (a tick naming its account). The account's id, or
    None when no connected YouTube account has this channel."""
    account_id = account_of_channel(repo, channel_id)
    if account_id is not None:
        send_tick({"accounts": [account_id], "requested": True})
    return account_id
