"""A change to a published YouTube video's title, description, tags or privacy (Firestore
`metadata_changes`), and the rules a change must meet before anyone is asked to approve it.

The limits are YouTube's (docs/platforms.md#youtube-endpoints; https://developers.google.com/youtube/v3/docs/videos):
title 1-100 characters without < or >, description at most 5000 UTF-8 bytes without < or >, tags at
most 500 characters in total as YouTube counts them, privacy private | unlisted | public.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.platforms.youtube.adapter import DESCRIPTION_MAX_BYTES, TAGS_MAX_CHARS, TITLE_MAX_CHARS, tags_length

CHANGES = "metadata_changes"
AUDIT = "metadata_change_audit"  # one document per decided change, the same record as the BigQuery row
ID_PREFIX = "ytm-"  # approval links of changes carry this id, so the approval page can tell them from posts
FIELDS = ("title", "description", "tags", "privacy")

Privacy = Literal["private", "unlisted", "public"]
# approved -> applying (one applier holds a lease) -> applied | failed, or back to approved when the
# update's outcome could not be settled yet (the status poll tries again at apply_due_at).
ChangeStatus = Literal["pending_approval", "approved", "applying", "applied", "failed", "rejected", "superseded"]
FINAL_STATUSES = ("applied", "failed", "rejected")  # decided for good: these get the audit record
# What happened in the end: applied; refused because the video changed on YouTube since the request
# (conflict); the platform refused or kept a value (failed); the approver said no (rejected).
Outcome = Literal["applied", "conflict", "failed", "rejected"]
Tag = Annotated[str, Field(min_length=1, max_length=500, json_schema_extra={"pattern": r"^[^<>,]*[^<>,\s][^<>,]*$"})]


class MetadataValues(BaseModel):
    """Values of the fields a change can touch; None = not part of this set."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    privacy: Privacy | None = None

    def given(self) -> dict:
        return {k: v for k, v in self.model_dump().items() if v is not None}


def _no_angle_brackets(value: str, what: str) -> str:
    if "<" in value or ">" in value:
        raise ValueError(f"{what} must not contain < or >")
    return value


class MetadataChangeRequest(BaseModel):
    """POST body: the fields to change (at least one), each within YouTube's limits."""

    # The document states the rules below as patterns, and "at least one field with a value".
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "minProperties": 1,
        "anyOf": [{"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in FIELDS]})

    title: str | None = Field(default=None, min_length=1, max_length=TITLE_MAX_CHARS,
                              description=f"1-{TITLE_MAX_CHARS} characters, not blank, no < or >",
                              json_schema_extra={"pattern": r"^[^<>]*[^<>\s][^<>]*$"})
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX_BYTES,
                                    description=f"at most {DESCRIPTION_MAX_BYTES} UTF-8 bytes, no < or >",
                                    json_schema_extra={"pattern": r"^[^<>]*$"})
    tags: list[Tag] | None = Field(default=None, max_length=100,
                                   description=f"at most {TAGS_MAX_CHARS} characters in total (commas and the quotes "
                                               "around a tag with a space count); no < > or ,")
    privacy: Privacy | None = None

    @field_validator("title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("title must not be blank")
        return _no_angle_brackets(value, "title")

    @field_validator("description")
    @classmethod
    def _description(cls, value: str | None) -> str | None:
        if value is None:
            return None
        size = len(value.encode("utf-8"))
        if size > DESCRIPTION_MAX_BYTES:
            raise ValueError(f"description is {size} UTF-8 bytes; YouTube takes at most {DESCRIPTION_MAX_BYTES}")
        return _no_angle_brackets(value, "description")

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if any(not t.strip() or "<" in t or ">" in t or "," in t for t in value):
            raise ValueError("tags must be non-empty and contain no < > or ,")
        if tags_length(value) > TAGS_MAX_CHARS:
            raise ValueError(f"tags total {tags_length(value)} characters as YouTube counts them (commas and quotes "
                             f"count); at most {TAGS_MAX_CHARS}")
        return value

    @model_validator(mode="after")
    def _at_least_one(self) -> "MetadataChangeRequest":
        if all(getattr(self, name) is None for name in FIELDS):
            raise ValueError("give at least one of title, description, tags, privacy")
        return self

    def values(self) -> MetadataValues:
        return MetadataValues(**self.model_dump(include=set(FIELDS)))


class MetadataChange(BaseModel):
    id: str
    post_id: str
    content_id: str
    campaign: str
    account_id: str
    channel_id: str | None = None
    video_id: str
    requested_by: str
    requested_at: datetime
    proposed: MetadataValues = Field(description="only the fields this change sets")
    before: MetadataValues = Field(description="all four fields as YouTube had them when the change was requested")
    change_hash: str = Field(description="binds video id, proposed and before values; approval links carry it")
    status: ChangeStatus
    decision: Literal["approved", "rejected"] | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decided_via: Literal["link", "api"] | None = None
    reason: str | None = None
    token_id: str | None = None
    outcome: Outcome | None = None
    after: MetadataValues | None = Field(default=None, description="the four fields as YouTube answered the update")
    platform_response: dict | None = None
    failure_reason: str | None = None
    applied_at: datetime | None = None
    superseded_by: str | None = None
    apply_due_at: datetime | None = Field(default=None, description="approved: when the status poll may apply it "
                                          "(the deciding request applies at once); applying: when the lease ends")
    apply_claim: str | None = Field(default=None, description="the lease holder's id while applying")
    update_attempts: int = Field(default=0, description="videos.update calls sent (recorded before each is sent)")
    apply_tries: int = Field(default=0, description="apply runs that ended without an outcome")
    last_error: str | None = Field(default=None, description="why the last apply run ended without an outcome")
    audit_written: bool = False
    audit_claim_until: datetime | None = None
    created_at: datetime
    updated_at: datetime


def change_hash(video_id: str, proposed: MetadataValues, before: MetadataValues) -> str:
    basis = json.dumps({"video_id": video_id, "proposed": proposed.given(), "before": before.model_dump()},
                       sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()


def values_of(video: dict) -> MetadataValues:
    """The four fields of a videos.list item (part=snippet,status). YouTube omits empty tags."""
    snippet, status = video.get("snippet") or {}, video.get("status") or {}
    return MetadataValues(title=snippet.get("title", ""), description=snippet.get("description", ""),
                          tags=list(snippet.get("tags") or []), privacy=status.get("privacyStatus"))


def expected_after(change: "MetadataChange") -> MetadataValues:
    """All four fields as they should read once the change is applied."""
    return change.before.model_copy(update=change.proposed.given())


def changed_fields(proposed: MetadataValues, before: MetadataValues) -> list[str]:
    return [name for name, value in proposed.given().items() if getattr(before, name) != value]
