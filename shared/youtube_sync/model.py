"""A change to a YouTube video's metadata (Firestore `metadata_changes`): a video Postgate published
(named by its post) or any video of a connected channel's catalogue (named by its video id), and the
rules a change must meet before anyone is asked to approve it.

The fields and their limits are YouTube's (docs/platforms.md#youtube-endpoints;
https://developers.google.com/youtube/v3/docs/videos): title 1-100 characters without < or >,
description at most 5000 UTF-8 bytes without < or >, tags at most 500 characters in total as YouTube
counts them, privacy private | unlisted | public, snippet.categoryId an assignable video category,
status.embeddable, status.publicStatsViewable, status.selfDeclaredMadeForKids ("made for kids": what
the owner declares; YouTube's own `madeForKids` is read only) and status.containsSyntheticMedia, booleans.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from shared.platforms.youtube.adapter import DESCRIPTION_MAX_BYTES, TAGS_MAX_CHARS, TITLE_MAX_CHARS, tags_length

CHANGES = "metadata_changes"
AUDIT = "metadata_change_audit"  # one document per decided change, the same record as the BigQuery row
ID_PREFIX = "ytm-"  # approval links of changes carry this id, so the approval page can tell them from posts
FIELDS = ("title", "description", "tags", "privacy", "category_id", "embeddable", "public_stats_viewable",
          "made_for_kids", "contains_synthetic_media")
ORIGINAL_FIELDS = FIELDS[:4]  # what every change's `before` always held (its hash keeps them even when empty)
# Categories videos.update accepts (videoCategories.list `snippet.assignable`, regionCode US:
# https://developers.google.com/youtube/v3/docs/videoCategories/list); 18, 21 and 30-44 exist but are not assignable.
ASSIGNABLE_CATEGORY_IDS = ("1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29")
CategoryId = Literal["1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29"]

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
    category_id: str | None = None
    embeddable: bool | None = None
    public_stats_viewable: bool | None = None
    made_for_kids: bool | None = None
    contains_synthetic_media: bool | None = None

    def given(self) -> dict:
        return {k: v for k, v in self.model_dump().items() if v is not None}

    def seen_by(self, proposed: MetadataValues) -> MetadataValues:
        """Only what a change records of a video: the four original fields and those the change sets."""
        keep = set(ORIGINAL_FIELDS) | set(proposed.given())
        return MetadataValues(**{k: v for k, v in self.model_dump().items() if k in keep})

    @model_serializer(mode="wrap")
    def _without_unset_newer_fields(self, handler):
        # The four original fields are always written (None included), as before the others existed; the
        # others only with a value, so a change that does not touch them reads (and hashes) as it did.
        return {k: v for k, v in handler(self).items() if k in ORIGINAL_FIELDS or v is not None}


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
    category_id: CategoryId | None = Field(default=None, description="snippet.categoryId: an assignable category")
    embeddable: bool | None = Field(default=None, description="status.embeddable")
    public_stats_viewable: bool | None = Field(default=None, description="status.publicStatsViewable")
    made_for_kids: bool | None = Field(default=None, description="status.selfDeclaredMadeForKids")
    contains_synthetic_media: bool | None = Field(default=None, description="status.containsSyntheticMedia")

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
    def _at_least_one(self) -> MetadataChangeRequest:
        if all(getattr(self, name) is None for name in FIELDS):
            raise ValueError(f"give at least one of {', '.join(FIELDS)}")
        return self

    def values(self) -> MetadataValues:
        return MetadataValues(**self.model_dump(include=set(FIELDS)))


class MetadataChange(BaseModel):
    id: str
    post_id: str | None = Field(default=None, description="the post that published the video; None: a catalogue video")
    content_id: str | None = None
    campaign: str | None = None
    account_id: str
    channel_id: str | None = None
    video_id: str
    requested_by: str
    requested_at: datetime
    proposed: MetadataValues = Field(description="only the fields this change sets")
    before: MetadataValues = Field(description="every field as YouTube had it when the change was requested")
    change_hash: str = Field(description="binds video id, proposed and before values; approval links carry it")
    status: ChangeStatus
    decision: Literal["approved", "rejected"] | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decided_via: Literal["link", "api"] | None = None
    reason: str | None = None
    token_id: str | None = None
    outcome: Outcome | None = None
    after: MetadataValues | None = Field(default=None, description="every field as YouTube answered the update")
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


def hash_basis(video_id: str, proposed: MetadataValues, before: MetadataValues) -> dict:
    """What a change's hash binds: the video, the proposed values and the values seen before (a change
    recorded before the newer fields existed keeps its hash: they are left out when unset)."""
    return {"video_id": video_id, "proposed": proposed.given(), "before": before.model_dump()}


def change_hash(video_id: str, proposed: MetadataValues, before: MetadataValues) -> str:
    basis = json.dumps(hash_basis(video_id, proposed, before), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()


def values_of(video: dict) -> MetadataValues:
    """The fields of a videos.list item (part=snippet,status). YouTube omits empty tags; a status flag
    it does not answer stays None (selfDeclaredMadeForKids is answered only to the channel's owner)."""
    snippet, status = video.get("snippet") or {}, video.get("status") or {}
    return MetadataValues(title=snippet.get("title", ""), description=snippet.get("description", ""),
                          tags=list(snippet.get("tags") or []), privacy=status.get("privacyStatus"),
                          category_id=snippet.get("categoryId"), embeddable=status.get("embeddable"),
                          public_stats_viewable=status.get("publicStatsViewable"),
                          made_for_kids=status.get("selfDeclaredMadeForKids"),
                          contains_synthetic_media=status.get("containsSyntheticMedia"))


def compared_fields(before: MetadataValues, proposed: MetadataValues) -> list[str]:
    """The fields whose YouTube value decides a conflict: the four original ones and each the change sets."""
    given = proposed.given()
    return [n for n in FIELDS if n in given or n in ORIGINAL_FIELDS]


def expected_after(change: MetadataChange) -> MetadataValues:
    """Every field as it should read once the change is applied."""
    return change.before.model_copy(update=change.proposed.given())


def to_parts(proposed: MetadataValues, snippet: dict, status: dict) -> tuple[dict, dict]:
    """A video's writable parts as read (shared.platforms.youtube.client.writable_parts) with the proposed
    fields set in YouTube's names."""
    snippet, status = dict(snippet), dict(status)
    for name, value in proposed.given().items():
        part, key = YOUTUBE_NAMES[name]
        (snippet if part == "snippet" else status)[key] = list(value) if isinstance(value, list) else value
    return snippet, status


YOUTUBE_NAMES = {"title": ("snippet", "title"), "description": ("snippet", "description"), "tags": ("snippet", "tags"),
                 "privacy": ("status", "privacyStatus"), "category_id": ("snippet", "categoryId"),
                 "embeddable": ("status", "embeddable"), "public_stats_viewable": ("status", "publicStatsViewable"),
                 "made_for_kids": ("status", "selfDeclaredMadeForKids"),
                 "contains_synthetic_media": ("status", "containsSyntheticMedia")}


def changed_fields(proposed: MetadataValues, before: MetadataValues) -> list[str]:
    return [name for name, value in proposed.given().items() if getattr(before, name) != value]


def classify(before: MetadataValues, proposed: MetadataValues, current: MetadataValues) -> str:
    """Where a video stands against a change (the conflict rule, for one change and each video of a bulk one):
    before: untouched; after: exactly the approved values; kept: our update with some field kept by
    YouTube; moved: anything else (someone else edited the video)."""
    given = proposed.given()
    fields = compared_fields(before, proposed)
    if all(getattr(current, n) == getattr(before, n) for n in fields):
        return "before"
    if any(getattr(current, n) != getattr(before, n) for n in fields if n not in given):
        return "moved"
    if any(getattr(current, n) not in (v, getattr(before, n)) for n, v in given.items()):
        return "moved"
    return "after" if all(getattr(current, n) == v for n, v in given.items()) else "kept"


def moved_fields(before: MetadataValues, proposed: MetadataValues, current: MetadataValues) -> list[str]:
    """The compared fields whose value on YouTube is neither the one seen before nor the approved one."""
    after = before.model_copy(update=proposed.given())
    return [n for n in compared_fields(before, proposed) if getattr(current, n) not in (getattr(before, n), getattr(after, n))]
