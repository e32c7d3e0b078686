"""A YouTube Content ID change (Firestore `content_id_changes`): a claim of a video with an asset, or a
new policy for an existing claim, asked for by an editor and applied only after an approver said yes.

A claim's policy is what YouTube applies to the claimed video: monetize (ads), track (no ads,
statistics), block (not viewable) — a rule list with one worldwide action — or a saved policy of the
content owner by id (https://developers.google.com/youtube/partner/reference/rest/v1/policies;
https://support.google.com/youtube/answer/107383).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.model.schema_rules import exactly_one_of, omittable

CHANGES = "content_id_changes"
AUDIT = "content_id_change_audit"  # one document per decided change, the same record as the BigQuery row
AUDIT_TABLE = "youtube_content_id_audit"
ID_PREFIX = "cid-"  # approval links of these changes carry this id, so the approval page can tell them apart

Kind = Literal["claim", "policy"]
Action = Literal["monetize", "track", "block"]
ContentType = Literal["audio", "video", "audiovisual"]  # which part of the video the claim covers
# approved -> applying (one applier holds a lease) -> applied | failed, or back to approved when the
# outcome of a call could not be settled yet (the status poll tries again at apply_due_at).
ChangeStatus = Literal["pending_approval", "approved", "applying", "applied", "failed", "rejected"]
FINAL_STATUSES = ("applied", "failed", "rejected")
Outcome = Literal["applied", "conflict", "failed", "rejected"]

_ID = r"^[A-Za-z0-9_-]{1,64}$"
VIDEO_ID = r"^[A-Za-z0-9_-]{11}$"


class PolicyChoice(BaseModel):
    """Exactly one: a worldwide action, or a saved policy of the content owner."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=exactly_one_of("action", "saved_policy_id"))

    action: Action = omittable(description="monetize, track or block, everywhere")
    saved_policy_id: str = omittable(pattern=_ID, description="a saved policy (GET its list from YouTube "
                                                                     "Studio or policies.list)")

    @model_validator(mode="after")
    def _exactly_one(self) -> PolicyChoice:
        if (self.action is None) == (self.saved_policy_id is None):
            raise ValueError("give exactly one of action, saved_policy_id")
        return self

    def as_google(self) -> dict:
        """Google's Policy object for claims.insert / claims.patch."""
        return {"id": self.saved_policy_id} if self.saved_policy_id else {"rules": [{"action": self.action}]}


class ClaimChangeRequest(BaseModel):
    """POST body: claim one of the account's videos with one of the content owner's assets."""

    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
                            description="a connected YouTube account: its channel holds the video")
    video_id: str = Field(pattern=VIDEO_ID)
    asset_id: str = Field(pattern=_ID)
    content_type: ContentType = "audiovisual"
    policy: PolicyChoice
    content_owner_id: str | None = Field(default=None, pattern=_ID,
                                         description="only when the account's Google login acts for several")


class PolicyChangeRequest(BaseModel):
    """POST body: a new policy for an existing claim of the content owner."""

    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    claim_id: str = Field(pattern=_ID)
    policy: PolicyChoice
    content_owner_id: str | None = Field(default=None, pattern=_ID)


class ContentIdChange(BaseModel):
    id: str
    kind: Kind
    account_id: str
    channel_id: str
    content_owner_id: str
    video_id: str
    video_title: str = ""
    asset_id: str
    asset_title: str = ""
    claim_id: str | None = Field(default=None, description="the claim changed, or the one the claim change created")
    requested_by: str
    requested_at: datetime
    proposed: dict = Field(description="claim: content_type and policy; policy: the new policy (Google's Policy)")
    before: dict = Field(description="claim: the owner's claims of the asset on the video (none); policy: the claim's "
                                     "policy and status when the change was requested")
    change_hash: str = Field(description="binds kind, ids, proposed and before values; approval links carry it")
    status: ChangeStatus
    decision: Literal["approved", "rejected"] | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decided_via: Literal["link", "api"] | None = None
    reason: str | None = None
    token_id: str | None = None
    outcome: Outcome | None = None
    after: dict | None = Field(default=None, description="the claim as YouTube answered or showed it afterwards")
    platform_response: dict | None = None
    failure_reason: str | None = None
    applied_at: datetime | None = None
    apply_due_at: datetime | None = None
    apply_claim: str | None = Field(default=None, description="the lease holder's id while applying")
    write_attempts: int = Field(default=0, description="claims.insert / claims.patch calls sent (counted before each)")
    apply_tries: int = Field(default=0, description="apply runs that ended without an outcome")
    last_error: str | None = None
    audit_written: bool = False
    audit_claim_until: datetime | None = None
    created_at: datetime
    updated_at: datetime


def change_hash(kind: str, ids: dict, proposed: dict, before: dict) -> str:
    basis = json.dumps({"kind": kind, "ids": ids, "proposed": proposed, "before": before}, sort_keys=True,
                       separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()


def describe_policy(policy: dict | None, names: dict[str, str] | None = None) -> str:
    """A policy in words: "monetize", "block where US, CA", "saved policy Monetize all (S123)"."""
    if not policy:
        return "(none)"
    if policy.get("id"):
        name = (names or {}).get(policy["id"])
        return f"saved policy {name} ({policy['id']})" if name else f"saved policy {policy['id']}"
    words = []
    for rule in policy.get("rules") or []:
        territories = ((rule.get("conditions") or {}).get("requiredTerritories") or {})
        where = ""
        if territories.get("territories"):
            verb = "outside" if territories.get("type") == "exclude" else "in"
            where = f" {verb} {', '.join(territories['territories'])}"
        elif rule.get("conditions"):
            where = " (with match conditions)"
        words.append(f"{rule.get('action', '?')}{where}")
    return "; ".join(words) or "(no rules)"
