"""Importing and refreshing one channel's catalogue (docs/catalogue.md#a-refresh).

A refresh reads the channel (channels.list), then its uploads playlist page by page (playlistItems.list,
50 ids a page) and, for each page, those videos (videos.list, the page's ids in one call). Every call is
charged to the account's quota project before it is sent (shared/platforms/youtube/quota.py) and sent
with the etag of the answer it had last time, so an unchanged page or batch comes back 304 and nothing
is written for it. A video is written only when its own etag changed.

It is resumable and never duplicates. A page's videos, the page record and the checkpoint (the next
page and the token that reads it) are written in one transaction that first checks the run still holds
the channel's claim; a run that dies, runs out of time or of quota leaves its checkpoint, and the next
one takes it over and goes on from that page. Videos are keyed by their id, so a page read twice
writes the same documents again.

When the last page is read, the run ends: the videos of pages 0..n-1 are the channel's; one the
catalogue holds that none of them lists is asked for once more with videos.list (a page boundary can
move while a run reads, when a video is uploaded or deleted meanwhile) and marked `removed` if YouTube
no longer lists it. Then the report rows are joined (shared/catalogue/reports.py) and the channel's
`version` changes when anything did, so searches take a new snapshot.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from shared.catalogue.reports import changed_joins, latest_report_rows
from shared.errors import AuthError, CapReached, ConfigError, PermanentError, TransientError
from shared.model.account import Account
from shared.model.catalogue import derived_fields
from shared.platforms.registry import adapter_for
from shared.platforms.youtube import catalogue as youtube
from shared.platforms.youtube.adapter import client_for
from shared.platforms.youtube.client import YouTubeClient
from shared.platforms.youtube.quota import COSTS, charge, quota_key
from shared.publishing.publisher import account_tokens
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.stores import catalogue as store
from shared.stores.posts import Repository
from shared.stores.protocols import SecretStore

log = logging.getLogger(__name__)
LEASE_SECONDS = 600  # well over one page's two calls and its commit at their HTTP timeouts
PARTS = ("snippet", "contentDetails", "status", "statistics")


@dataclass
class ChannelRefresh:
    """What one invocation did for one channel."""

    account_id: str
    channel_id: str | None = None
    run_id: str | None = None
    # done | continues (time up; checkpoint kept) | waiting (quota, YouTube busy; kept) | busy | failed (a refusal:
    # the account's tokens are kept as they are, the checkpoint dropped when YouTube refused a read)
    outcome: str = "done"
    calls: Counter = field(default_factory=Counter)  # method -> calls sent
    not_modified: Counter = field(default_factory=Counter)  # method -> 304 answers
    units: int = 0
    pages: int = 0
    videos_written: int = 0
    videos_removed: int = 0
    reports_joined: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "channel_id": self.channel_id, "run_id": self.run_id,
                "outcome": self.outcome, "calls": dict(self.calls), "not_modified": dict(self.not_modified),
                "units": self.units, "pages": self.pages, "videos_written": self.videos_written,
                "videos_removed": self.videos_removed, "reports_joined": self.reports_joined, "error": self.error}


class _Calls:
    """Each YouTube call charged to the account's quota project before it is sent, and counted."""

    def __init__(self, repo: Repository, config: Config, account: Account, summary: ChannelRefresh):
        self._repo, self._config, self._key, self.summary = repo, config, quota_key(account), summary

    def charge(self, method: str) -> None:
        charge(self._repo.db, method, daily_quota=self._config.youtube_daily_quota,
               daily_uploads=self._config.youtube_daily_uploads, key=self._key)
        self.summary.calls[method] += 1
        self.summary.units += COSTS[method][1]

    def unchanged(self, method: str) -> None:
        self.summary.not_modified[method] += 1


def refresh_account(repo: Repository, config: Config, secrets: SecretStore, account_id: str, account: Account, *,
                    bq_factory: Callable[[], Any] | None, deadline: float, clock: Callable[[], float] = time.monotonic,
                    now: Callable[[], datetime] = utcnow) -> ChannelRefresh:
    """Import or refresh the catalogue of the account's channel until done or `deadline` (clock())."""
    summary = ChannelRefresh(account_id, channel_id=account.get("platform_account_id"))
    if not summary.channel_id:
        summary.outcome, summary.error = "failed", "the account has no channel id (connect it again)"
        return summary
    with log_context(correlation_id=f"catalogue:{summary.channel_id}"):
        run = store.claim_refresh(repo, summary.channel_id, account_id=account_id, now=now(), lease_seconds=LEASE_SECONDS)
        if run is None:
            summary.outcome = "busy"  # another invocation holds it; it goes on from the checkpoint
            return summary
        summary.run_id = run.run_id
        calls = _Calls(repo, config, account, summary)
        try:
            tokens = account_tokens(account_id, account, adapter_for("youtube"), repo=repo, config=config, secrets=secrets)
            _run(repo, config, client_for(tokens, config), calls, run, bq_factory=bq_factory, deadline=deadline,
                 clock=clock, now=now)
        except CapReached as exc:  # our count or YouTube's: nothing more today; the checkpoint stays
            summary.outcome, summary.error = "waiting", str(exc)
            store.release(repo, run, lease_until=now())
        except (AuthError, ConfigError) as exc:
            summary.outcome, summary.error = "failed", str(exc)
            store.release(repo, run, lease_until=now())
        except PermanentError as exc:  # YouTube refused a read (a stale page token, a playlist gone): start over
            summary.outcome, summary.error = "failed", str(exc)
            store.abandon(repo, run)
        except TransientError as exc:  # YouTube did not answer: the next tick goes on from the checkpoint
            summary.outcome, summary.error = "waiting", str(exc)
            store.release(repo, run, lease_until=now())
        level = logging.INFO if summary.outcome in ("done", "continues") else logging.WARNING
        log_event(log, level, "catalogue refresh", **summary.as_dict())
        return summary


def _run(repo: Repository, config: Config, client: YouTubeClient, calls: _Calls, run: store.RefreshRun, *,
         bq_factory: Callable[[], Any] | None, deadline: float, clock: Callable[[], float],
         now: Callable[[], datetime]) -> None:
    summary = calls.summary
    channel = store.get_channel(repo, run.channel_id) or {}
    if run.page_index == 0 or not channel.get("uploads_playlist_id"):
        channel = _read_channel(repo, client, calls, run.channel_id, channel)
    playlist = str(channel["uploads_playlist_id"])
    while not (run.page_index > 0 and run.page_token is None):  # (index > 0, no token): every page is read
        if clock() >= deadline:
            summary.outcome = "continues"
            store.release(repo, run, lease_until=now())
            return
        run = _read_page(repo, client, calls, run, playlist, now())
        summary.pages += 1
    _finish(repo, config, client, calls, run, bq_factory=bq_factory, now=now())


def _read_channel(repo: Repository, client: YouTubeClient, calls: _Calls, channel_id: str,
                  stored: dict[str, Any]) -> dict[str, Any]:
    calls.charge("channels.list")
    answer = youtube.channel(client, etag=stored.get("channel_etag") if stored.get("uploads_playlist_id") else None)
    if answer is None:
        calls.unchanged("channels.list")
        return stored
    etag, resource = answer
    if str(resource.get("id")) != channel_id:
        raise PermanentError(f"the account's tokens act for channel {resource.get('id')}, not {channel_id}",
                             platform_code="channelMismatch")
    fields = {"channel": {k: resource.get(k) for k in ("id", "snippet", "contentDetails", "statistics", "status")},
              "channel_etag": etag, "uploads_playlist_id": youtube.uploads_playlist(resource),
              "title": (resource.get("snippet") or {}).get("title"), "channel_read_at": utcnow()}
    store.update_channel(repo, channel_id, fields)
    return {**stored, **fields}


def _read_page(repo: Repository, client: YouTubeClient, calls: _Calls, run: store.RefreshRun, playlist: str,
               now: datetime) -> store.RefreshRun:
    """Read page `run.page_index` (playlist, then its videos), write what changed with the checkpoint."""
    stored = store.get_page(repo, run.channel_id, run.page_index) or {}
    same_page = bool(stored) and stored.get("playlist_id") == playlist and stored.get("page_token") == run.page_token
    calls.charge("playlistItems.list")
    page = youtube.uploads_page(client, playlist, run.page_token, etag=stored.get("playlist_etag") if same_page else None)
    if page is None:  # 304: the stored page stands
        calls.unchanged("playlistItems.list")
        ids, next_token, playlist_etag = list(stored["video_ids"]), stored.get("next_page_token"), stored["playlist_etag"]
    else:
        ids, next_token, playlist_etag = page.video_ids, page.next_page_token, page.etag
    known = dict(stored.get("video_etags") or {}) if stored and stored.get("video_ids") == ids else {}
    videos_etag = stored.get("videos_etag") if known else None
    writes: dict[str, dict[str, Any]] = {}
    etags = known
    if ids:
        calls.charge("videos.list")
        answer = youtube.videos(client, ids, etag=videos_etag)
        if answer is None:
            calls.unchanged("videos.list")
        else:
            videos_etag, items = answer
            etags = {str(item["id"]): str(item.get("etag") or "") for item in items}
            writes = {vid: _video_fields(item, run.channel_id, now) for item in items
                      if (vid := str(item["id"])) and known.get(vid) != etags[vid]}
    record = {"channel_id": run.channel_id, "index": run.page_index, "playlist_id": playlist,
              "page_token": run.page_token, "playlist_etag": playlist_etag, "next_page_token": next_token,
              "video_ids": ids, "videos_etag": videos_etag, "video_etags": etags, "run_id": run.run_id, "read_at": now}
    unchanged = bool(stored) and all(stored.get(k) == record[k] for k in record if k not in ("run_id", "read_at"))
    following = replace(run, page_index=run.page_index + 1, page_token=next_token)
    if not store.commit_page(repo, run, next_run=following, lease_until=now + timedelta(seconds=LEASE_SECONDS),
                             page=None if unchanged else record, videos=writes):
        raise TransientError("the catalogue refresh lost its claim on the channel (another run took it over)")
    calls.summary.videos_written += len(writes)
    return following


def _video_fields(item: dict[str, Any], channel_id: str, now: datetime) -> dict[str, Any]:
    """A video's document as this answer leaves it (each part replaced whole)."""
    fields = {part: item.get(part) for part in PARTS}
    return {"video_id": str(item["id"]), "channel_id": channel_id, "etag": item.get("etag"), **fields,
            **derived_fields(item), "removed": False, "removed_at": None, "changed_at": now}


def _finish(repo: Repository, config: Config, client: YouTubeClient, calls: _Calls, run: store.RefreshRun, *,
            bq_factory: Callable[[], Any] | None, now: datetime) -> None:
    """Every page is read: mark what is gone, drop page records past the end, join the reports, end the run."""
    summary = calls.summary
    count = run.page_index
    pages = store.get_pages(repo, run.channel_id, count)
    seen = {vid for page in pages if page for vid in page.get("video_etags") or {}}  # the ids videos.list answered
    store.delete_pages_from(repo, run.channel_id, count)
    live = store.live_videos(repo, run.channel_id, ("claimed_status", "policy", "report"))
    missing = sorted(set(live) - seen)
    still_listed = _still_listed(client, calls, run.channel_id, missing, now)
    if still_listed:
        store.update_videos(repo, still_listed)
        summary.videos_written += len(still_listed)
    gone = [vid for vid in missing if vid not in still_listed]
    store.update_videos(repo, {vid: {"removed": True, "removed_at": now, "changed_at": now} for vid in gone})
    summary.videos_removed = len(gone)
    if gone:
        log_event(log, logging.INFO, "videos gone from the channel marked removed", video_ids=gone[:50], count=len(gone))
    current = seen | set(still_listed)
    summary.reports_joined = _join_reports(repo, config, bq_factory, live, current, now)
    changed = summary.videos_written or summary.videos_removed or summary.reports_joined
    fields: dict[str, Any] = {"video_count": len(current), "last_refresh": {**summary.as_dict(), "finished_at": now,
                                                                            "started_at": run.started_at}}
    if changed or not (store.get_channel(repo, run.channel_id) or {}).get("version"):
        fields["version"] = store.new_version()
    if not store.commit_page(repo, run, next_run=None, lease_until=now, page=None, videos={}, channel_fields=fields):
        raise TransientError("the catalogue refresh lost its claim on the channel before it ended")
    summary.outcome = "done"


def _still_listed(client: YouTubeClient, calls: _Calls, channel_id: str, missing: list[str],
                  now: datetime) -> dict[str, dict[str, Any]]:
    """Of videos no page listed, those YouTube still lists for this channel (a page boundary moved while
    the run read), with their fields as now answered."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(missing), youtube.VIDEOS_PER_CALL):
        calls.charge("videos.list")
        answer = youtube.videos(client, missing[start:start + youtube.VIDEOS_PER_CALL])
        for item in (answer or (None, []))[1]:
            if (item.get("snippet") or {}).get("channelId") == channel_id:
                found[str(item["id"])] = _video_fields(item, channel_id, now)
    return found


def _join_reports(repo: Repository, config: Config, bq_factory: Callable[[], Any] | None,
                  stored: dict[str, dict[str, Any]], video_ids: set[str], now: datetime) -> int:
    """Join the latest report row of each video; a BigQuery failure leaves the join to the next refresh."""
    if bq_factory is None:
        return 0
    try:
        rows = latest_report_rows(bq_factory(), config.project, sorted(video_ids))
    except Exception as exc:  # noqa: BLE001 - the catalogue stands without the join; the next refresh tries again
        log_event(log, logging.ERROR, "report rows could not be read for the catalogue",
                  error=f"{type(exc).__name__}: {exc}")
        return 0
    updates = changed_joins(stored, rows, video_ids)
    store.update_videos(repo, {vid: {**fields, "changed_at": now} for vid, fields in updates.items()})
    return len(updates)


def refresh_channels(repo: Repository, config: Config, secrets: SecretStore, *, account_ids: list[str] | None,
                     bq_factory: Callable[[], Any] | None, deadline: float, send_tick: Callable[[dict], object],
                     clock: Callable[[], float] = time.monotonic) -> list[ChannelRefresh]:
    """A tick of the catalogue-refresh schedule: each connected YouTube account's channel (or those of
    `account_ids`, a continuation) in turn until `deadline`; what is left goes on in a new tick."""
    accounts = [(aid, acc) for aid, acc in repo.accounts("youtube")
                if (account_ids is None or aid in account_ids) and acc.get("status") != "needs_reconnect"]
    summaries: list[ChannelRefresh] = []
    left: list[str] = []
    for n, (account_id, account) in enumerate(accounts):
        if clock() >= deadline:
            left.extend(aid for aid, _ in accounts[n:])
            break
        summary = refresh_account(repo, config, secrets, account_id, account, bq_factory=bq_factory,
                                  deadline=deadline, clock=clock)
        summaries.append(summary)
        if summary.outcome == "continues":
            left.append(account_id)
    if left:
        send_tick({"accounts": left, "continues": True})
        log_event(log, logging.INFO, "catalogue refresh continues in a new tick", accounts=left)
    return summaries
