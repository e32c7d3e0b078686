"""YouTube metadata changes: request one for a published video or any catalogue video, read them, decide
as an approver.

The change itself goes through the signed-link approval (shared/youtube_sync); these routes only
translate HTTP to that service and its refusals to statuses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal, TypeVar

from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field

from shared.api.auth import current_principal
from shared.api.errors import ApiError
from shared.api.routes.youtube_catalogue import VIDEO_ID
from shared.api.schemas import PageQuery, page_fields
from shared.errors import AuthError, CapReached, PermanentError, TransientError
from shared.services import get_services
from shared.youtube_sync import service
from shared.youtube_sync.model import ChangeStatus, MetadataChange, MetadataChangeRequest, MetadataValues, Outcome
from shared.youtube_sync.service import ChangeConflict, ChangeNotFound

blueprint = APIBlueprint("youtube_metadata", __name__, abp_tags=[Tag(name="youtube")], abp_security=[{"bearer": []}])

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$"
T = TypeVar("T")


class VideoPostPath(BaseModel):
    post_id: str = Field(min_length=1, max_length=256, pattern=_ID, description="a published YouTube post")


class CatalogueVideoPath(BaseModel):
    video_id: str = Field(pattern=VIDEO_ID, description="a video of a connected channel's catalogue")


class ChangePath(BaseModel):
    change_id: str = Field(min_length=1, max_length=128, pattern=_ID)


class ChangeListQuery(PageQuery):
    post_id: str | None = Field(default=None, min_length=1, max_length=256, pattern=_ID)
    video_id: str | None = Field(default=None, pattern=VIDEO_ID)
    status: ChangeStatus | None = None


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "reject"]
    change_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="the hash of the change you reviewed")
    reason: str | None = Field(default=None, max_length=1000)


class MetadataChangeOut(BaseModel):
    id: str
    post_id: str | None = Field(description="the post that published the video; null: a catalogue video")
    content_id: str | None
    campaign: str | None
    account_id: str
    channel_id: str | None
    video_id: str
    requested_by: str
    requested_at: datetime
    proposed: MetadataValues
    before: MetadataValues
    change_hash: str
    status: ChangeStatus
    decision: Literal["approved", "rejected"] | None
    decided_by: str | None
    decided_at: datetime | None
    decided_via: Literal["link", "api"] | None
    reason: str | None
    outcome: Outcome | None
    after: MetadataValues | None
    platform_response: dict | None
    failure_reason: str | None
    applied_at: datetime | None
    superseded_by: str | None
    audit_written: bool

    @classmethod
    def of(cls, change: MetadataChange) -> dict:
        return cls.model_validate(change.model_dump(exclude={"token_id", "created_at", "updated_at"})).model_dump(mode="json")


class MetadataChangePage(BaseModel):
    items: list[MetadataChangeOut]
    total: int
    skip: int
    limit: int


def answering(call: Callable[[], T]) -> T:
    """The service's refusals as statuses: 404 unknown, 409 state, 503 YouTube busy, 422 YouTube refused."""
    try:
        return call()
    except ChangeNotFound as exc:
        raise ApiError(404, str(exc)) from None
    except ChangeConflict as exc:
        raise ApiError(409, str(exc)) from None
    except AuthError as exc:
        raise ApiError(409, f"{exc}; reconnect the YouTube account") from None
    except (CapReached, TransientError) as exc:
        wait = int(min(max(exc.retry_after or 5, 1), 3600))
        raise ApiError(503, f"YouTube did not answer in time: {exc}", headers={"Retry-After": str(wait)}) from None
    except PermanentError as exc:
        raise ApiError(422, f"YouTube refused: {exc}") from None


@blueprint.post("/youtube/videos/<post_id>/metadata-changes", responses={202: MetadataChangeOut})
def request_metadata_change(path: VideoPostPath, body: MetadataChangeRequest):
    """Ask to change a published video's title, description, tags or privacy; approvers get a link."""
    principal = current_principal()
    principal.require("editor")
    services = get_services()
    config = services.config
    change = answering(lambda: service.create_change(
        services.repository, config, services.secrets, post_id=path.post_id, request=body,
        requested_by=principal.user, publish=service.publisher(config)))
    return MetadataChangeOut.of(change), 202


@blueprint.post("/youtube/catalogue/videos/<video_id>/metadata-changes", responses={202: MetadataChangeOut})
def request_catalogue_video_change(path: CatalogueVideoPath, body: MetadataChangeRequest):
    """Ask to change any catalogue video's metadata (not only one Postgate published); approvers get a link."""
    principal = current_principal()
    principal.require("editor")
    services = get_services()
    config = services.config
    change = answering(lambda: service.create_video_change(
        services.repository, config, services.secrets, video_id=path.video_id, request=body,
        requested_by=principal.user, publish=service.publisher(config)))
    return MetadataChangeOut.of(change), 202


@blueprint.get("/youtube/metadata-changes/<change_id>", responses={200: MetadataChangeOut})
def get_metadata_change(path: ChangePath):
    change = service.get_change(get_services().repository, path.change_id)
    if change is None:
        raise ApiError(404, f"no metadata change {path.change_id!r}")
    return MetadataChangeOut.of(change)


@blueprint.get("/youtube/metadata-changes", responses={200: MetadataChangePage})
def list_metadata_changes(query: ChangeListQuery):
    changes, total = service.list_changes(get_services().repository, post_id=query.post_id, status=query.status,
                                          video_id=query.video_id,
                                          skip=query.skip, limit=query.limit)
    return page_fields([MetadataChangeOut.of(c) for c in changes], total, query)


@blueprint.post("/youtube/metadata-changes/<change_id>/decision", responses={200: MetadataChangeOut})
def decide_metadata_change(path: ChangePath, body: DecisionBody):
    """An approver's decision, bound to the change hash as the signed link is; approval applies it."""
    principal = current_principal()
    principal.require("approver")
    services = get_services()
    config = services.config
    change = answering(lambda: service.decide_via_api(
        services.repository, config, services.secrets, services.bigquery(), path.change_id, action=body.action,
        change_hash_claimed=body.change_hash, user=principal.user, reason=body.reason,
        publish=service.publisher(config)))
    return MetadataChangeOut.of(change)
