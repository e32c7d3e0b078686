"""The three reads a channel's catalogue is imported with, at the maxima YouTube documents
(docs/catalogue.md#how-a-channel-is-read):

- channels.list part=snippet,contentDetails,statistics,status (mine=true, or id=): the channel, and in
  contentDetails.relatedPlaylists.uploads the playlist holding every video it uploaded
  [developers.google.com/youtube/v3/docs/channels/list];
- playlistItems.list part=contentDetails playlistId=<uploads> maxResults=50 (the most it takes), paged
  with pageToken: the video ids, 50 a call [developers.google.com/youtube/v3/docs/playlistItems/list];
- videos.list part=snippet,contentDetails,status,statistics id=<at most 50 ids> [.../docs/videos/list].

Each costs 1 unit of the general quota bucket (developers.google.com/youtube/v3/determine_quota_cost).
Each can be sent with the etag of the answer it had last time: YouTube answers 304 Not Modified when
nothing in it changed (None here), so nothing needs writing. The caller charges each call before
sending it (shared/platforms/youtube/quota.py): a 304 is charged too, since Google documents that every
request costs at least one unit and names no exception for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import PermanentError
from shared.platforms.youtube.client import YouTubeClient

CHANNEL_PARTS = "snippet,contentDetails,statistics,status"
VIDEO_PARTS = "snippet,contentDetails,status,statistics"
PLAYLIST_PAGE_SIZE = 50  # playlistItems.list maxResults: 0..50
VIDEOS_PER_CALL = 50  # videos.list takes at most 50 ids in `id`
CHANNELS_PATH = "/youtube/v3/channels"
PLAYLIST_ITEMS_PATH = "/youtube/v3/playlistItems"
VIDEOS_PATH = "/youtube/v3/videos"


@dataclass(frozen=True)
class UploadsPage:
    """One page of the uploads playlist: its video ids in playlist order, the token of the next page."""

    etag: str | None
    video_ids: list[str]
    next_page_token: str | None
    total: int | None  # pageInfo.totalResults


def channel(client: YouTubeClient, *, channel_id: str | None = None, etag: str | None = None) -> tuple[str | None, dict] | None:
    """(the answer's etag, the channel resource: the token's own channel unless `channel_id`), or None:
    unchanged since `etag`."""
    params = {"part": CHANNEL_PARTS, **({"id": channel_id} if channel_id else {"mine": "true"})}
    data = client.get_if_changed(CHANNELS_PATH, endpoint="channels.list", params=params, etag=etag)
    if data is None:
        return None
    items = list(data.get("items") or [])
    if not items:
        raise PermanentError("youtube channels.list: no such channel for this account", platform_code="channelNotFound")
    return data.get("etag"), items[0]


def uploads_playlist(channel_resource: dict) -> str:
    uploads = ((channel_resource.get("contentDetails") or {}).get("relatedPlaylists") or {}).get("uploads")
    if not uploads:
        raise PermanentError("youtube channels.list: the channel names no uploads playlist", platform_code="noUploads")
    return str(uploads)


def uploads_page(client: YouTubeClient, playlist_id: str, page_token: str | None, *,
                 etag: str | None = None) -> UploadsPage | None:
    """One page of the uploads playlist, or None: unchanged since `etag`."""
    params = {"part": "contentDetails", "playlistId": playlist_id, "maxResults": str(PLAYLIST_PAGE_SIZE)}
    if page_token:
        params["pageToken"] = page_token
    data = client.get_if_changed(PLAYLIST_ITEMS_PATH, endpoint="playlistItems.list", params=params, etag=etag)
    if data is None:
        return None
    ids = [str((item.get("contentDetails") or {}).get("videoId")) for item in data.get("items") or []
           if (item.get("contentDetails") or {}).get("videoId")]
    total = (data.get("pageInfo") or {}).get("totalResults")
    return UploadsPage(etag=data.get("etag"), video_ids=ids, next_page_token=data.get("nextPageToken") or None,
                       total=int(total) if total is not None else None)


def videos(client: YouTubeClient, video_ids: list[str], *, etag: str | None = None) -> tuple[str | None, list[dict]] | None:
    """(the answer's etag, the videos YouTube lists of `video_ids`), or None: unchanged since `etag`.
    Ids YouTube does not list (deleted since) are absent from the answer."""
    if not 1 <= len(video_ids) <= VIDEOS_PER_CALL:
        raise ValueError(f"videos.list takes 1..{VIDEOS_PER_CALL} ids")
    data = client.get_if_changed(VIDEOS_PATH, endpoint="videos.list", etag=etag,
                                 params={"part": VIDEO_PARTS, "id": ",".join(video_ids)})
    if data is None:
        return None
    return data.get("etag"), list(data.get("items") or [])
