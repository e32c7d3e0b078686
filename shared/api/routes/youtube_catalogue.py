"""The YouTube channel catalogue: list and search every video of the connected channels, one video (with
its report row), the channels, and a live stream of what refreshes change (docs/catalogue.md).

The routes translate HTTP to shared.catalogue.service, which the console's page calls with the same
query model; the rules of the search are shared/catalogue/search.py's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import flask
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from shared.api.auth import current_principal
from shared.api.errors import not_found
from shared.api.routes.events import stream_response
from shared.api.routes.posts import UtcDatetime
from shared.api.schemas import PageQuery, page_fields
from shared.catalogue import service
from shared.catalogue.search import CatalogueFilter
from shared.model.catalogue import CatalogueRow, ClaimedStatus, Privacy, SortField, SortOrder
from shared.runtime.pubsub import publish_json
from shared.services import get_services
from shared.stores.catalogue_feed import catalogue_events
from shared.topology import get_topology

blueprint = APIBlueprint("youtube_catalogue", __name__, abp_tags=[Tag(name="youtube catalogue")],
                         abp_security=[{"bearer": []}])

CHANNEL_ID = r"^UC[A-Za-z0-9_-]{22}$"  # a YouTube channel id
VIDEO_ID = r"^[A-Za-z0-9_-]{11}$"  # a YouTube video id


class CatalogueQuery(PageQuery):
    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(default=None, min_length=1, max_length=200,
                          description="words that must each start a word of the title, tags or description "
                                      "(case, accents and punctuation ignored)")
    channel_id: str | None = Field(default=None, pattern=CHANNEL_ID, description="one channel's videos")
    category_id: str | None = Field(default=None, pattern=r"^[0-9]{1,4}$", description="snippet.categoryId")
    privacy: Privacy | None = None
    claimed_status: ClaimedStatus | None = Field(
        default=None, description="from the latest CMS report naming the video; none: no report row names it")
    published_from: UtcDatetime | None = Field(default=None, description="published at or after")
    published_to: UtcDatetime | None = Field(default=None, description="published before (after published_from)")
    removed: bool = Field(default=False, description="true: the videos gone from the channel")
    sort: SortField = Field(default="published", description="published, updated (when the catalogue last saw "
                                                             "the video change) or views")
    order: SortOrder = "desc"

    @field_validator("published_to")
    @classmethod
    def _after_from(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("published_from")
        if value is not None and start is not None and value <= start:
            raise ValueError("must be after published_from")
        return value

    def catalogue_filter(self) -> CatalogueFilter:
        return CatalogueFilter(q=self.q, channel_id=self.channel_id, category_id=self.category_id, privacy=self.privacy,
                               claimed_status=self.claimed_status, published_from=self.published_from,
                               published_to=self.published_to, removed=self.removed, sort=self.sort, order=self.order)


class VideoPath(BaseModel):
    video_id: str = Field(pattern=VIDEO_ID)


class ChannelPath(BaseModel):
    channel_id: str = Field(pattern=CHANNEL_ID)


class EventsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel_id: str | None = Field(default=None, pattern=CHANNEL_ID, description="one channel's changes")


class CatalogueVideoRow(BaseModel):
    """A video as lists show it."""

    video_id: str
    channel_id: str
    title: str
    published_at: datetime | None
    updated_at: datetime | None = Field(description="when the catalogue last saw its YouTube data change")
    views: int | None
    category_id: str | None
    privacy: str | None
    claimed_status: ClaimedStatus
    policy: str | None
    duration_seconds: int | None
    removed: bool

    @classmethod
    def of(cls, row: CatalogueRow) -> dict[str, Any]:
        return cls(video_id=row.video_id, channel_id=row.channel_id, title=row.title, published_at=row.published_at,
                   updated_at=row.changed_at, views=row.view_count, category_id=row.category_id, privacy=row.privacy,
                   claimed_status=row.claimed_status, policy=row.policy, duration_seconds=row.duration_seconds,
                   removed=row.removed).model_dump(mode="json")


class CatalogueVideoPage(BaseModel):
    items: list[CatalogueVideoRow]
    total: int
    skip: int
    limit: int


class ReportRowOut(BaseModel):
    """The row of the latest CMS report naming the video."""

    claimed_status: str | None
    policy: str | None
    report_file: str | None
    line: int | None
    views: int | None
    loaded_at: datetime | None


class CatalogueVideoOut(BaseModel):
    """A video: YouTube's four parts as videos.list answered them, and what the catalogue adds."""

    video_id: str
    channel_id: str
    etag: str | None
    snippet: dict[str, Any] | None
    contentDetails: dict[str, Any] | None  # noqa: N815 - YouTube's part name
    status: dict[str, Any] | None
    statistics: dict[str, Any] | None
    title: str
    published_at: datetime | None
    views: int | None
    duration_seconds: int | None
    claimed_status: ClaimedStatus
    policy: str | None
    report: ReportRowOut | None
    removed: bool
    removed_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, doc: dict[str, Any]) -> dict[str, Any]:
        return cls(video_id=doc["video_id"], channel_id=doc["channel_id"], etag=doc.get("etag"),
                   snippet=doc.get("snippet"), contentDetails=doc.get("contentDetails"), status=doc.get("status"),
                   statistics=doc.get("statistics"), title=doc.get("title") or "", published_at=doc.get("published_at"),
                   views=doc.get("view_count"), duration_seconds=doc.get("duration_seconds"),
                   claimed_status=doc.get("claimed_status") or "none", policy=doc.get("policy"),
                   report=doc.get("report"), removed=bool(doc.get("removed")), removed_at=doc.get("removed_at"),
                   updated_at=doc.get("changed_at")).model_dump(mode="json")


class CatalogueChannelOut(BaseModel):
    """A channel: channels.list's parts, its uploads playlist, how many videos it has, its last refresh."""

    channel_id: str
    account_id: str | None
    title: str | None
    channel: dict[str, Any] | None
    uploads_playlist_id: str | None
    video_count: int | None
    last_refresh: dict[str, Any] | None
    refreshing: bool = Field(description="a refresh is under way (or stopped at its checkpoint, to go on)")

    @classmethod
    def of(cls, doc: dict[str, Any]) -> dict[str, Any]:
        return cls(channel_id=doc["channel_id"], account_id=doc.get("account_id"), title=doc.get("title"),
                   channel=doc.get("channel"), uploads_playlist_id=doc.get("uploads_playlist_id"),
                   video_count=doc.get("video_count"), last_refresh=doc.get("last_refresh"),
                   refreshing=bool(doc.get("refresh"))).model_dump(mode="json")


class CatalogueChannelList(BaseModel):
    items: list[CatalogueChannelOut]


_EVENT_STREAM = {
    "description": "Server-Sent Events: `event: videos` (data {channel_id, count, video_ids: the first 50}) each "
                   "time a refresh writes videos (changed, removed, joined with a report); comment heartbeats; "
                   "`event: end` when idle or at the time limit. The same stream bounds as /contents/{id}/events.",
    # Each Server-Sent Event (as schemathesis and OpenAPI 3.2's sequential media types read the stream).
    "content": {"text/event-stream": {"schema": {
        "type": "object", "required": ["data"],
        "properties": {"event": {"type": "string", "enum": ["videos", "end"]}, "id": {"type": "string"},
                       "data": {"type": "string", "contentMediaType": "application/json"}}}}},
}


@blueprint.get("/youtube/catalogue/videos", responses={200: CatalogueVideoPage})
def list_catalogue_videos(query: CatalogueQuery):
    """List and search the catalogue of the connected channels, with the total that matches."""
    page = service.list_videos(get_services().repository, query.catalogue_filter(), skip=query.skip, limit=query.limit)
    return page_fields([CatalogueVideoRow.of(r) for r in page.rows], page.total, query)


@blueprint.get("/youtube/catalogue/videos/<video_id>", responses={200: CatalogueVideoOut})
def get_catalogue_video(path: VideoPath):
    doc = service.video(get_services().repository, path.video_id)
    if doc is None:
        raise not_found("catalogue video", path.video_id)
    return CatalogueVideoOut.of(doc)


@blueprint.get("/youtube/catalogue/channels", responses={200: CatalogueChannelList})
def list_catalogue_channels():
    return {"items": [CatalogueChannelOut.of(c) for c in service.channels(get_services().repository)]}


@blueprint.get("/youtube/catalogue/channels/<channel_id>", responses={200: CatalogueChannelOut})
def get_catalogue_channel(path: ChannelPath):
    doc = service.channel(get_services().repository, path.channel_id)
    if doc is None:
        raise not_found("catalogue channel", path.channel_id)
    return CatalogueChannelOut.of(doc)


class RefreshRequested(BaseModel):
    channel_id: str
    account_id: str
    requested_by: str


@blueprint.post("/youtube/catalogue/channels/<channel_id>/refresh", responses={202: RefreshRequested})
def refresh_catalogue_channel(path: ChannelPath):
    """Refresh a connected channel's catalogue now (editor): catalogue-refresh takes it at once, going on
    from a stopped run's checkpoint if there is one. The changes appear on /youtube/catalogue/events."""
    principal = current_principal()
    principal.require("editor")
    services = get_services()
    project, topic = services.config.project, get_topology().trigger_topic("catalogue-refresh")
    account_id = service.request_refresh(services.repository, path.channel_id, send_tick=lambda message: publish_json(
        project, topic, message, correlation_id=f"catalogue:{path.channel_id}"))
    if account_id is None:
        raise not_found("connected YouTube channel", path.channel_id)
    return RefreshRequested(channel_id=path.channel_id, account_id=account_id,
                            requested_by=principal.user).model_dump(mode="json"), 202


@blueprint.get("/youtube/catalogue/events", responses={200: _EVENT_STREAM})
def catalogue_live(query: EventsQuery):
    """Watch refreshes change the catalogue (a Firestore listener, not polling)."""
    return catalogue_stream(query.channel_id, current_principal().user)


def catalogue_stream(channel_id: str | None, user: str) -> flask.Response:
    """The catalogue's live stream as a response in one of `user`'s stream slots (the API's route and the
    console's page serve it)."""
    config = get_services().config
    repo = get_services().repository
    return stream_response(user, lambda: catalogue_events(
        repo, channel_id, stream_seconds=config.api_stream_seconds, heartbeat_seconds=config.api_stream_heartbeat_seconds,
        idle_seconds=config.api_stream_idle_seconds))
