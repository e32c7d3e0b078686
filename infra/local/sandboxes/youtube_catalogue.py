"""The YouTube sandbox's catalogue side: a channel's uploads playlist (playlistItems.list), its details
(channels.list with contentDetails, statistics and status) and conditional requests with ETags.

Mixed into YouTubeSandbox (infra/local/sandboxes/youtube.py), which routes the requests here.

What it follows, from Google's pages and the discovery document (youtube.v3.json):
- channels.list `part` = any of the Channel resource's parts; contentDetails.relatedPlaylists.uploads is
  the playlist of the channel's uploads [developers.google.com/youtube/v3/docs/channels].
- playlistItems.list needs `part` and one of `playlistId` / `id`; `maxResults` 0..50 (default 5);
  `pageToken` from the previous answer's nextPageToken / prevPageToken; pageInfo.totalResults
  [developers.google.com/youtube/v3/docs/playlistItems/list]. The uploads playlist lists newest first;
  a channel's private and unlisted uploads only to the channel's own token.
- ETags: every answer carries the resource's `etag` (the list answer's own, and each item's); a GET
  with `If-None-Match: <etag>` of an answer that has not changed is answered 304 Not Modified with no
  body [developers.google.com/youtube/v3/getting-started#etags]. An etag here is a digest of what the
  answer holds, so it changes exactly when the answer does.
- Quota: every request costs its method's units, a 304 included: Google documents that all requests,
  including invalid ones, cost at least one unit, and documents no exception for 304
  [developers.google.com/youtube/v3/determine_quota_cost].
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
import threading
from typing import Any

from werkzeug.wrappers import Request, Response

PLAYLIST_ITEM_PARTS = {"id", "snippet", "contentDetails", "status"}
PLAYLIST_PAGE_DEFAULT, PLAYLIST_PAGE_MAX = 5, 50
# A duration's ISO 8601 form as contentDetails.duration gives it (PT#H#M#S).
_WORDS = ("launch", "teaser", "recipe", "review", "tutorial", "behind", "scenes", "studio", "live", "session",
          "travel", "vlog", "unboxing", "interview", "trailer", "music", "cover", "guide", "tips", "update")


def etag_of(data: Any) -> str:
    """A digest of an answer or resource (without its own etag): equal content, equal etag."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(hashlib.sha1(text.encode()).digest()).decode().rstrip("=")


def iso_duration(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs or not (hours or minutes) else "")


def _page_token(offset: int) -> str:
    return "CAT" + base64.urlsafe_b64encode(f"o{offset}".encode()).decode().rstrip("=")


def _offset_of(token: str) -> int | None:
    if not token.startswith("CAT"):
        return None
    raw = token[3:]
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return int(text[1:]) if text.startswith("o") and text[1:].isdigit() else None


class CatalogueSandbox:
    """The catalogue endpoints of YouTubeSandbox (state lives on the sandbox: `_videos`, `_channels`)."""

    _lock: threading.RLock
    _videos: dict[str, dict]
    _channels: dict[str, dict]
    _published: dict[str, float]

    # ---- Python control API ----
    def add_catalogue_video(self, access_token: str, *, title: str, description: str = "", tags: list[str] | None = None,
                            category_id: str = "22", privacy: str = "public", age_seconds: float = 0.0,
                            duration_seconds: int = 60, video_id: str | None = None) -> str:
        """A processed video of the token's channel with this metadata, uploaded `age_seconds` ago."""
        vid = self.add_video(access_token, age_seconds=age_seconds, title=title, privacy=privacy)  # type: ignore[attr-defined]
        with self._lock:
            video = self._videos.pop(vid)
            if video_id:
                self._published[video_id] = self._published.pop(vid)
                vid = video["id"] = video_id
            video["snippet"] = {"title": title, "description": description, "categoryId": category_id,
                                **({"tags": list(tags)} if tags else {})}
            video["duration_seconds"] = int(duration_seconds)
            self._videos[vid] = video
        return vid

    def add_catalogue_videos(self, access_token: str, count: int, *, seed: int = 7,
                             oldest_age_seconds: float = 3 * 365 * 86400.0) -> list[str]:
        """`count` plausible videos (titles, descriptions, tags, categories, privacy, durations drawn
        from `seed`), spread over the last `oldest_age_seconds`, newest last. Returns their ids."""
        rng = random.Random(seed)
        ids = []
        for n in range(count):
            words = rng.sample(_WORDS, 3)
            ids.append(self.add_catalogue_video(
                access_token, title=f"{words[0].title()} {words[1]} #{n + 1}",
                description=f"Episode {n + 1}: {' '.join(rng.sample(_WORDS, 6))}.", tags=rng.sample(_WORDS, 2),
                category_id=rng.choice(("10", "22", "24", "26", "27")),
                privacy=rng.choices(("public", "unlisted", "private"), (8, 1, 1))[0],
                age_seconds=oldest_age_seconds * (count - n) / max(count, 1), duration_seconds=rng.randint(15, 3600)))
        return ids

    def set_channel(self, channel_id: str, **snippet: Any) -> None:
        """Change the channel's snippet (title, description, country, ...) as its owner would."""
        with self._lock:
            self._channels[channel_id].update(copy.deepcopy(snippet))

    # ---- answers ----
    def _conditional(self, request: Request, answer: dict) -> Response:
        """The answer with its etag, or 304 Not Modified (no body) when If-None-Match names it."""
        etag = etag_of(answer)
        sent = [t.strip().strip('"') for t in request.headers.get("If-None-Match", "").split(",") if t.strip()]
        if etag in sent:
            response = Response(b"", status=304, headers={"ETag": etag})
            response.sandbox_code = "not_modified"  # type: ignore[attr-defined]
            return response
        return self._json({**answer, "etag": etag}, headers={"ETag": etag})  # type: ignore[attr-defined]

    def _uploads(self, channel_id: str, *, owner: bool) -> list[dict]:
        """The channel's uploads, newest first (private and unlisted ones only for the owner)."""
        videos = [v for v in self._videos.values() if v["channel_id"] == channel_id
                  and (owner or v["status"].get("privacyStatus") == "public")]
        return sorted(videos, key=lambda v: (-self._published.get(v["id"], 0.0), v["id"]))

    def channel_resource(self, channel_id: str, parts: set[str]) -> dict:
        """The Channel resource with the parts asked for (under the sandbox lock)."""
        channel = self._channels[channel_id]
        uploads = self._uploads(channel_id, owner=False)
        item: dict[str, Any] = {"kind": "youtube#channel", "id": channel_id}
        if "snippet" in parts:
            item["snippet"] = {"title": channel["title"], "description": channel.get("description", ""),
                               "customUrl": "@" + channel["title"].lower().replace(" ", ""),
                               "publishedAt": "2020-01-01T00:00:00Z", **({"country": channel["country"]}
                                                                         if channel.get("country") else {})}
        if "contentDetails" in parts:
            item["contentDetails"] = {"relatedPlaylists": {"likes": "LL", "uploads": "UU" + channel_id[2:]}}
        if "statistics" in parts:
            item["statistics"] = {"viewCount": str(sum(int(self._metrics_now(v["id"])["viewCount"]) for v in uploads)),  # type: ignore[attr-defined]
                                  "subscriberCount": "0", "hiddenSubscriberCount": False, "videoCount": str(len(uploads))}
        if "status" in parts:
            item["status"] = {"privacyStatus": "public", "isLinked": True, "longUploadsStatus": "allowed",
                              "madeForKids": False}
        item["etag"] = etag_of(item)
        return item

    def video_content_details(self, video: dict) -> dict:
        return {"duration": iso_duration(video.get("duration_seconds", 60)), "dimension": "2d", "definition": "hd",
                "caption": "false", "licensedContent": False, "projection": "rectangular"}

    # ---- playlistItems.list ----
    def _h_playlist_items(self, request: Request, body: bytes, truncated: bool, entry: dict) -> Response:
        channel = self._auth(request)  # type: ignore[attr-defined]
        self._charge("list")  # type: ignore[attr-defined]
        error = self.error_type  # type: ignore[attr-defined]
        parts = {p.strip() for p in request.args.get("part", "").split(",") if p.strip()}
        if not parts:
            raise error(400, "required", "Required parameter: part", "global")
        if parts - PLAYLIST_ITEM_PARTS:
            raise error(400, "unknownPart", f"unknown part {sorted(parts - PLAYLIST_ITEM_PARTS)[0]!r}", "youtube.part")
        playlist_id = request.args.get("playlistId", "")
        if not playlist_id:
            raise error(400, "missingRequiredParameter", "No filter selected. Expected one of: playlistId, id",
                        "youtube.parameter")
        raw_max = request.args.get("maxResults", str(PLAYLIST_PAGE_DEFAULT))
        if not raw_max.isdigit() or int(raw_max) > PLAYLIST_PAGE_MAX:
            raise error(400, "invalidValue", f"maxResults must be 0..{PLAYLIST_PAGE_MAX}", "youtube.parameter")
        size = int(raw_max)
        token = request.args.get("pageToken", "")
        offset = _offset_of(token) if token else 0
        if offset is None:
            raise error(400, "invalidPageToken", "The request specifies an invalid page token.", "youtube.parameter")
        entry["page"] = offset // max(size, 1)
        with self._lock:
            owner_channel = next((c for c in self._channels if "UU" + c[2:] == playlist_id), None)
            if owner_channel is None:
                raise error(404, "playlistNotFound", "The playlist identified with the request's playlistId "
                            "parameter cannot be found.", "youtube.playlistItem")
            uploads = self._uploads(owner_channel, owner=owner_channel == channel)
            items = []
            for position, video in enumerate(uploads[offset:offset + size], start=offset):
                item: dict[str, Any] = {"kind": "youtube#playlistItem", "id": f"{playlist_id}.{video['id']}"}
                published = self._iso(self._published.get(video["id"], 0.0))  # type: ignore[attr-defined]
                if "snippet" in parts:
                    item["snippet"] = {"title": video["snippet"].get("title", ""), "playlistId": playlist_id,
                                       "position": position, "channelId": owner_channel, "publishedAt": published,
                                       "description": video["snippet"].get("description", ""),
                                       "resourceId": {"kind": "youtube#video", "videoId": video["id"]}}
                if "contentDetails" in parts:
                    item["contentDetails"] = {"videoId": video["id"], "videoPublishedAt": published}
                if "status" in parts:
                    item["status"] = {"privacyStatus": video["status"].get("privacyStatus", "public")}
                item["etag"] = etag_of(item)
                items.append(item)
            total = len(uploads)
        answer: dict[str, Any] = {"kind": "youtube#playlistItemListResponse", "items": items,
                                  "pageInfo": {"totalResults": total, "resultsPerPage": size}}
        if offset + size < total and size:
            answer["nextPageToken"] = _page_token(offset + size)
        if offset > 0:
            answer["prevPageToken"] = _page_token(max(offset - size, 0))
        return self._conditional(request, answer)
