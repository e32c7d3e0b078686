"""A bulk metadata change (Firestore `metadata_bulk_changes`, one document per video in
`metadata_bulk_items`): one operation on many catalogue videos, expanded when it is requested into each
video's before -> after values, decided by ONE approval whose hash binds every (video, before, after).

The operation is one of: add a tag, remove a tag, or set fields (the same fields and limits as a single
change, shared.youtube_sync.model). The videos are named by id, or by a catalogue search (the same filter
the catalogue's list takes, shared.catalogue.search). A video the operation would not change is left out.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.errors import ValidationError
from shared.model.schema_rules import either_or, exactly_one_of, omittable
from shared.platforms.youtube.adapter import TAGS_MAX_CHARS, tags_length
from shared.youtube_sync.model import (
    MetadataChangeRequest,
    MetadataValues,
    Privacy,
    Tag,
    changed_fields,
    hash_basis,
)

BULKS = "metadata_bulk_changes"
ITEMS = "metadata_bulk_items"  # {bulk id}--{video id}
BULK_PREFIX = "ytmb-"  # approval links of bulk changes carry this id (single changes: ytm-)
MAX_VIDEOS = 500  # one approval, one review page: a bigger job is split in several requests

VideoId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{11}$")]
BulkStatus = Literal["pending_approval", "approved", "applying", "done", "rejected"]
# pending: not applied yet (an update may have been sent: update_attempts); the rest are final
ItemStatus = Literal["pending", "applied", "conflict", "failed", "rejected"]
FINAL_ITEM_STATUSES = ("applied", "conflict", "failed", "rejected")


SEARCH_FIELDS = ("channel_id", "q", "category_id", "privacy")


class VideoSelection(BaseModel):
    """Which videos: `video_ids`, or a catalogue search (every video it finds, at most MAX_VIDEOS)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=either_or("video_ids", SEARCH_FIELDS))

    video_ids: list[VideoId] = omittable(min_length=1, max_length=MAX_VIDEOS, schema={"uniqueItems": True})
    channel_id: str = omittable(pattern=r"^UC[A-Za-z0-9_-]{22}$")
    q: str = omittable(min_length=1, max_length=200, description="catalogue text search")
    category_id: str = omittable(pattern=r"^[0-9]{1,4}$")
    privacy: Privacy = omittable()

    @model_validator(mode="after")
    def _one_way(self) -> VideoSelection:
        search = any(v is not None for v in (self.channel_id, self.q, self.category_id, self.privacy))
        if self.video_ids is not None and search:
            raise ValueError("give video_ids or a catalogue search (channel_id, q, category_id, privacy), not both")
        if self.video_ids is None and not search:
            raise ValueError("give video_ids or a catalogue search (channel_id, q, category_id, privacy)")
        if self.video_ids is not None and len(set(self.video_ids)) != len(self.video_ids):
            raise ValueError("video_ids names a video twice")
        return self


class BulkOperation(BaseModel):
    """Exactly one of add_tag, remove_tag, set."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=exactly_one_of("add_tag", "remove_tag", "set"))

    add_tag: Tag | None = None  # exactly_one_of states "not null" in the schema
    remove_tag: Tag | None = None
    set: MetadataChangeRequest = omittable(description="fields set to the same value on every video")

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data):
        nulls = [name for name, value in data.items() if value is None] if isinstance(data, dict) else []
        if nulls:  # as the schema says: leave a field out, don't send it null
            raise ValueError(f"{nulls[0]} may be left out but not null")
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> BulkOperation:
        if sum(v is not None for v in (self.add_tag, self.remove_tag, self.set)) != 1:
            raise ValueError("give exactly one of add_tag, remove_tag, set")
        for tag in (self.add_tag, self.remove_tag):
            if tag is not None and (not tag.strip() or any(c in tag for c in "<>,")):
                raise ValueError("a tag must be non-empty and contain no < > or ,")
        return self

    def proposed_for(self, video_id: str, before: MetadataValues) -> MetadataValues | None:
        """What this operation sets on a video that has `before`; None when it would change nothing."""
        tags = list(before.tags or [])
        if self.add_tag is not None:
            if any(t.casefold() == self.add_tag.casefold() for t in tags):
                return None
            tags.append(self.add_tag)
            if tags_length(tags) > TAGS_MAX_CHARS:
                raise ValidationError(f"video {video_id}: with {self.add_tag!r} its tags would total "
                                      f"{tags_length(tags)} characters as YouTube counts them",
                                      field="operation.add_tag", limit=f"at most {TAGS_MAX_CHARS} per video")
            return MetadataValues(tags=tags)
        if self.remove_tag is not None:
            kept = [t for t in tags if t.casefold() != self.remove_tag.casefold()]
            return MetadataValues(tags=kept) if len(kept) != len(tags) else None
        assert self.set is not None
        proposed = self.set.values()
        return proposed if changed_fields(proposed, before) else None


class BulkChangeRequest(BaseModel):
    """POST body of a bulk change."""

    model_config = ConfigDict(extra="forbid")

    videos: VideoSelection
    operation: BulkOperation


class Progress(BaseModel):
    applied: int = 0
    conflict: int = 0
    failed: int = 0
    rejected: int = 0
    remaining: int = 0


class BulkChange(BaseModel):
    id: str
    requested_by: str
    requested_at: datetime
    selection: dict = Field(description="the videos as the request named them")
    operation: dict
    account_ids: list[str]
    count: int = Field(description="videos the change sets something on (each an item)")
    unchanged: list[str] = Field(default_factory=list, description="videos selected that already had the values")
    bulk_hash: str = Field(description="binds every item's video id, before and proposed values")
    status: BulkStatus
    decision: Literal["approved", "rejected"] | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decided_via: Literal["link", "api"] | None = None
    reason: str | None = None
    token_id: str | None = None
    progress: Progress
    apply_due_at: datetime | None = Field(default=None, description="approved: when a worker may go on; "
                                          "applying: when the holder's lease ends")
    apply_claim: str | None = None
    runs: int = 0
    waiting_for: str | None = Field(default=None, description="why the last run stopped before the end (quota, ...)")
    finished_at: datetime | None = None
    notice_sent: bool = False
    audited: bool = Field(default=False, description="every item's audit row is written (done or rejected)")
    created_at: datetime
    updated_at: datetime


class BulkItem(BaseModel):
    bulk_id: str
    video_id: str
    index: int
    account_id: str
    before: MetadataValues
    proposed: MetadataValues
    status: ItemStatus = "pending"
    update_attempts: int = Field(default=0, description="videos.update calls sent (recorded before each is sent)")
    after: MetadataValues | None = None
    platform_response: dict | None = None
    failure_reason: str | None = None
    applied_at: datetime | None = None
    audit_written: bool = False


def item_id(bulk_id: str, video_id: str) -> str:
    return f"{bulk_id}--{video_id}"


def bulk_hash(items: list[BulkItem]) -> str:
    """One hash over every item in order: approving it approves exactly these before -> after values."""
    basis = json.dumps([hash_basis(i.video_id, i.proposed, i.before) | {"account_id": i.account_id} for i in items],
                       sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()
