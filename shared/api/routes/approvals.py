"""Approvals through the API: ask the approvers again, read a content item's decision history,
and decide (approvers only), recorded exactly as a signed link's decision is."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.api.auth import current_principal
from shared.api.contention import one_change_at_a_time
from shared.api.errors import not_found, refusal_error
from shared.api.models import PostOut
from shared.approval import checks, decision
from shared.approval.decision import record_approval_request
from shared.approval.refusals import NothingToDecide, Refusal
from shared.approval.tokens import API_TOKEN_PREFIX
from shared.handlers.messages import after_decision, request_approval
from shared.model.content import Approval
from shared.services import get_services

blueprint = APIBlueprint("approvals", __name__, abp_tags=[Tag(name="approvals")], abp_security=[{"bearer": []}])

# A Firestore document id that is also safe in a URL path.
DOCUMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class ContentPath(BaseModel):
    content_id: str = Field(pattern=DOCUMENT_ID_PATTERN, max_length=128, description="the content item's id")


class ApprovalRequestOut(BaseModel):
    content_id: str
    content_hash: str = Field(description="the version the approvers are asked about")
    version: int


class ApprovalOut(BaseModel):
    decision: Literal["approved", "rejected"]
    decided_by: str
    decided_at: datetime
    content_hash: str = Field(description="the exact version decided on")
    reason: str | None = Field(default=None, description="a rejection's reason")
    via: Literal["link", "api"] = Field(description="a signed link or the content API")

    @classmethod
    def of(cls, approval: Approval) -> ApprovalOut:
        return cls(decision=approval.decision, decided_by=approval.decided_by, decided_at=approval.decided_at,
                   content_hash=approval.content_hash, reason=approval.reason,
                   via="api" if approval.token_id.startswith(API_TOKEN_PREFIX) else "link")


class HistoryEntry(BaseModel):
    """One event in an item's approval history, oldest first. Reads every shape stored so far:
    voided approvals (`voided_at`, `reason`, the voided `approval`) from content edits and media
    changes, and repeated approval requests (`event: approval_requested`)."""

    event: str = Field(description="voided | approval_requested | decided")
    at: datetime | None = None
    by: str | None = Field(default=None, description="who asked or decided, when known")
    version: int | None = None
    content_hash: str | None = None
    reason: str | None = Field(default=None, description="why it was voided, or a rejection's reason")
    approval: ApprovalOut | None = Field(default=None, description="the decision that was voided")

    @model_validator(mode="before")
    @classmethod
    def _from_stored(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or "event" in raw and "requested_at" not in raw and "voided_at" not in raw:
            return raw
        approval = raw.get("approval")
        if isinstance(approval, dict):
            try:
                approval = ApprovalOut.of(Approval.model_validate(approval))
            except ValueError:
                approval = None  # an older shape we can't read: the entry still says what happened
        if "voided_at" in raw:
            event, at, by = "voided", raw.get("voided_at"), None
        elif "requested_at" in raw:
            event, at, by = raw.get("event") or "approval_requested", raw.get("requested_at"), raw.get("requested_by")
        else:
            event = "unknown"
            at = next((v for k, v in raw.items() if k.endswith("_at") and isinstance(v, datetime)), None)
            by = None
        return {"event": event, "at": at, "by": by, "version": raw.get("version"),
                "content_hash": raw.get("content_hash"), "reason": raw.get("reason"),
                "approval": approval if not isinstance(approval, dict) else None}


class ApprovalsOut(BaseModel):
    content_id: str
    status: str
    content_hash: str
    version: int
    current: ApprovalOut | None = Field(description="the decision on the current version, if any")
    history: list[HistoryEntry] = Field(description="everything that happened, oldest first, the current decision last")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "reject"]
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="the version you read and decide on")
    reason: str | None = Field(default=None, max_length=1000, description="for a rejection: why, for the requester")


class DecisionOut(BaseModel):
    content_id: str
    decision: Literal["approved", "rejected"]
    decided_by: str
    decided_at: datetime
    content_hash: str
    posts: list[PostOut]


@blueprint.post("/contents/<content_id>/approval-requests", responses={202: ApprovalRequestOut})
def request_approval_again(path: ContentPath):
    """Send the approvers a fresh link for the current version (editor); 409 unless pending approval."""
    principal = current_principal()
    principal.require("editor")
    services = get_services()
    try:
        content = record_approval_request(services.repository, path.content_id, principal.user)
    except NothingToDecide as refused:
        if refused.reason == "gone":
            raise not_found("content", path.content_id) from None
        raise refusal_error(refused) from None
    request_approval(services.config, content)
    return ApprovalRequestOut(content_id=content.id, content_hash=content.content_hash,
                              version=content.version).model_dump(mode="json"), 202


@blueprint.get("/contents/<content_id>/approvals", responses={200: ApprovalsOut})
def approvals_of(path: ContentPath):
    """The decision in force and the item's approval history (voided versions, rejection reasons)."""
    content = get_services().repository.get_content(path.content_id)
    if content is None:
        raise not_found("content", path.content_id)
    current = ApprovalOut.of(content.approval) if content.approval else None
    history = [HistoryEntry.model_validate(entry) for entry in content.approval_history]
    if current is not None:
        history.append(HistoryEntry(event="decided", at=current.decided_at, by=current.decided_by,
                                    version=content.version, content_hash=current.content_hash,
                                    reason=current.reason, approval=current))
    return ApprovalsOut(content_id=content.id, status=content.status, content_hash=content.content_hash,
                        version=content.version, current=current, history=history).model_dump(mode="json")


@blueprint.post("/contents/<content_id>/decision", responses={200: DecisionOut})
def decide(path: ContentPath, body: DecisionIn):
    """Approve or reject (approver), bound to the content_hash you read: 409 if it changed since,
    or if the item was already decided. Approved posts due now go to their platforms at once."""
    principal = current_principal()
    principal.require("approver")
    services = get_services()
    repo = services.repository
    content = repo.get_content(path.content_id)
    if content is None:
        raise not_found("content", path.content_id)
    config = services.config
    env = checks.ReviewEnv(media_store=services.media, config=config,
                           request_approval=lambda c: request_approval(config, c))
    with one_change_at_a_time(content.id):  # busy: 503 with Retry-After (shared/api/contention.py)
        try:
            outcome = decision.decide_via_api(repo, content.id, body.action, body.content_hash, principal.user, env,
                                             reason=body.reason)
        except Refusal as refused:
            stale = body.content_hash != content.content_hash  # the version the caller read is not current
            raise refusal_error(refused, conflict_field="content_hash" if stale else None) from None
    after_decision(config, outcome)
    decided = repo.get_content(content.id)
    approval = decided.approval if decided is not None else None
    assert decided is not None and approval is not None, "an item just decided has its decision"
    posts = repo.posts_for_content(content.id)
    return DecisionOut(content_id=decided.id, decision=approval.decision, decided_by=approval.decided_by,
                       decided_at=approval.decided_at, content_hash=approval.content_hash,
                       posts=[PostOut.of(p, decided) for p in posts]).model_dump(mode="json")
