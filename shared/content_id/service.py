"""YouTube Content ID changes: see the owner's assets, request a claim or a policy change, decide once.

A change is requested against what YouTube holds at that moment (`before`), which the change hash
binds together with the proposed values and the ids. Approvers get the same signed, single-use links
as for a post or a metadata change (content id = change id, content hash = change hash; sent by
approval-notify, shared.content_id.notices); the decision is taken once, in one transaction with the
link's use record. An approved change is applied under a lease (shared.content_id.applying), leaves
one audit record (shared.content_id.audit) and its requester is told. The status poll finishes what
a deciding request left undone (shared.content_id.applying settle_owed).

Content ID needs a YouTube content owner (a CMS account): the account's Google login must act for
one, and the channel must be linked to it. A channel whose login acts for none is refused with
NoContentOwner before anything is recorded.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.content_id.applying import (
    APPLY_GRACE_SECONDS,
    apply_approved,
    content_id_client,
    record_outcome,
)
from shared.content_id.audit import write_audit
from shared.content_id.model import (
    CHANGES,
    FINAL_STATUSES,
    ID_PREFIX,
    ClaimChangeRequest,
    ContentIdChange,
    PolicyChangeRequest,
    change_hash,
    describe_policy,
)
from shared.errors import PermanentError, ValidationError
from shared.model.account import Account
from shared.platforms.youtube.content_id import ContentIdClient, policy_of
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.runtime.pubsub import publish_json
from shared.stores.posts import APPROVALS, Repository, run_with_contention_retry
from shared.stores.protocols import SecretStore
from shared.topology import get_topology
from shared.youtube_sync.applying import youtube_client

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger(__name__)
REASON_MAX_CHARS = 1000
Publish = Callable[[dict], None]


class ChangeNotFound(LookupError):
    pass


class ChangeConflict(Exception):
    """The request cannot go ahead in the state things are in (409); `field` names the request field."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class NoContentOwner(ChangeConflict):
    """The channel's account acts for no YouTube content owner: Content ID cannot be used with it."""


# -- the account's content owner ------------------------------------------------------------------
def youtube_account(repo: Repository, account_id: str) -> Account:
    account = repo.get_account(account_id)
    if account is None:
        raise ChangeNotFound(f"no account {account_id!r}")
    if account.get("platform") != "youtube":
        raise ValidationError(f"account {account_id} is a {account.get('platform')} account; Content ID works on "
                              "YouTube channels", field="account_id", limit="a YouTube account")
    return account


def content_owner_of(client: ContentIdClient, account_id: str, account: Account, wanted: str | None = None) -> str:
    """The content owner the account's login acts for (`wanted` when it acts for several)."""
    channel = account.get("platform_account_id") or account_id
    try:
        owners = client.my_content_owners()
    except PermanentError as exc:
        if exc.platform_code == "insufficientPermissions":
            raise ChangeConflict(f"account {account_id} was connected without Content ID access (the youtubepartner "
                                 "scope); set POSTGATE_YOUTUBE_CONTENT_ID=true and reconnect it", field="account_id") from None
        raise
    ids = [owner.id for owner in owners]
    if not ids:
        raise NoContentOwner(f"channel {channel} is not linked to a YouTube content owner; Content ID needs one "
                             f"(the Google account of {account_id} acts for no content owner)", field="account_id")
    if wanted is not None:
        if wanted not in ids:
            raise ChangeConflict(f"account {account_id} does not act for content owner {wanted} (it acts for "
                                 f"{', '.join(ids)})", field="content_owner_id")
        return wanted
    if len(ids) > 1:
        raise ChangeConflict(f"account {account_id} acts for several content owners ({', '.join(ids)}); name one "
                             "in content_owner_id", field="content_owner_id")
    return ids[0]


def list_assets(repo: Repository, config: Config, secrets: SecretStore, *, account_id: str, skip: int, limit: int,
                query: str | None = None, content_owner_id: str | None = None) -> tuple[str, list[dict], int]:
    """(content owner, assets skip..skip+limit newest first, total) of the account's content owner."""
    account = youtube_account(repo, account_id)
    client = content_id_client(repo, config, secrets, account_id, account)
    owner = content_owner_of(client, account_id, account, content_owner_id)
    items, total = client.assets(owner, skip=skip, limit=limit, query=query)
    return owner, items, total


# -- reading ---------------------------------------------------------------------------------------
def get_change(repo: Repository, change_id: str) -> ContentIdChange | None:
    snap = repo.db.collection(CHANGES).document(change_id).get()
    return ContentIdChange.model_validate(snap.to_dict()) if snap.exists else None


def list_changes(repo: Repository, *, status: str | None = None, skip: int = 0,
                 limit: int = 50) -> tuple[list[ContentIdChange], int]:
    """Newest first, with the total that matches."""
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = repo.db.collection(CHANGES)
    if status:
        query = query.where(filter=FieldFilter("status", "==", status))
    total = int(query.count().get()[0][0].value)
    snaps = query.order_by("requested_at", direction=firestore.Query.DESCENDING).offset(skip).limit(limit).stream()
    return [ContentIdChange.model_validate(s.to_dict()) for s in snaps], total


def describe(change: ContentIdChange) -> list[tuple[str, str, str]]:
    """(field, before, after) for the approver, one row per thing that changes."""
    names = change.proposed.get("policy_names") or {}
    if change.kind == "claim":
        return [("Claim", f"none: asset {change.asset_id} does not claim video {change.video_id}",
                 f"asset {change.asset_id} ({change.asset_title}) claims video {change.video_id} "
                 f"({change.video_title})"),
                ("Content type", "(none)", change.proposed["content_type"]),
                ("Policy", "(none)", describe_policy(change.proposed["policy"], names))]
    return [("Policy", describe_policy(change.before.get("policy"), names),
             describe_policy(change.proposed["policy"], names))]


def preview_text(change: ContentIdChange) -> str:
    what = "new claim" if change.kind == "claim" else f"policy change of claim {change.claim_id}"
    lines = [f"YouTube Content ID {what} on video {change.video_id} ({change.account_id}, content owner "
             f"{change.content_owner_id}), requested by {change.requested_by}."]
    lines += [f"{label}: {before!r} -> {after!r}" for label, before, after in describe(change)]
    return "\n".join(lines)


# -- requesting ------------------------------------------------------------------------------------
def _video_on_channel(repo: Repository, config: Config, secrets: SecretStore, account_id: str, account: Account,
                      video_id: str) -> dict:
    video = youtube_client(repo, config, secrets, account_id, account, "videos.list").get_video(video_id)
    channel = account.get("platform_account_id")
    if video is None:
        raise ValidationError(f"YouTube does not list video {video_id}", field="video_id", limit="a video of the channel")
    if (video.get("snippet") or {}).get("channelId") != channel:
        raise ValidationError(f"video {video_id} is not on channel {channel} of account {account_id}",
                              field="video_id", limit="a video of the account's channel")
    return video


def _policy_names(client: ContentIdClient, owner: str, *policies: dict) -> dict[str, str]:
    ids = sorted({p["id"] for p in policies if p and p.get("id")})
    if not ids:
        return {}
    return {str(p["id"]): str(p.get("name") or p["id"]) for p in client.saved_policies(owner, ids) if p.get("id")}


def create_claim_change(repo: Repository, config: Config, secrets: SecretStore, request: ClaimChangeRequest, *,
                        requested_by: str, publish: Publish, now: datetime | None = None) -> ContentIdChange:
    """Check the claim against YouTube as it is now, record it pending approval and ask the approvers."""
    account = youtube_account(repo, request.account_id)
    client = content_id_client(repo, config, secrets, request.account_id, account)
    owner = content_owner_of(client, request.account_id, account, request.content_owner_id)
    video = _video_on_channel(repo, config, secrets, request.account_id, account, request.video_id)
    asset = client.asset(owner, request.asset_id)
    if asset is None:
        raise ValidationError(f"content owner {owner} has no asset {request.asset_id}", field="asset_id",
                              limit="an asset of the content owner")
    policy = request.policy.as_google()
    names = _policy_names(client, owner, policy)
    if request.policy.saved_policy_id and request.policy.saved_policy_id not in names:
        raise ValidationError(f"content owner {owner} has no saved policy {request.policy.saved_policy_id}",
                              field="policy.saved_policy_id", limit="a saved policy of the content owner")
    existing = [c for c in client.claims_of_video(owner, request.video_id)
                if c.get("assetId") == request.asset_id and c.get("status") != "inactive"]
    if existing:
        raise ChangeConflict(f"video {request.video_id} is already claimed with asset {request.asset_id} (claim "
                             f"{existing[0].get('id')}); request a policy change of that claim instead", field="asset_id")
    proposed = {"content_type": request.content_type, "policy": policy, "policy_names": names}
    before: dict = {"claims_of_asset": []}
    ids = {"video_id": request.video_id, "asset_id": request.asset_id, "content_owner_id": owner}
    return _record(repo, ContentIdChange(
        id=ID_PREFIX + uuid.uuid4().hex[:20], kind="claim", account_id=request.account_id,
        channel_id=str(account.get("platform_account_id")), content_owner_id=owner, video_id=request.video_id,
        video_title=str((video.get("snippet") or {}).get("title", "")), asset_id=request.asset_id,
        asset_title=str((asset.get("metadataMine") or asset.get("metadata") or {}).get("title", "")),
        requested_by=requested_by, requested_at=now or utcnow(), proposed=proposed, before=before,
        change_hash=change_hash("claim", ids, proposed, before), status="pending_approval",
        created_at=now or utcnow(), updated_at=now or utcnow()), publish)


def create_policy_change(repo: Repository, config: Config, secrets: SecretStore, request: PolicyChangeRequest, *,
                         requested_by: str, publish: Publish, now: datetime | None = None) -> ContentIdChange:
    """A new policy for a claim of the account's content owner on one of the account's videos."""
    account = youtube_account(repo, request.account_id)
    client = content_id_client(repo, config, secrets, request.account_id, account)
    owner = content_owner_of(client, request.account_id, account, request.content_owner_id)
    claim = client.get_claim(owner, request.claim_id)
    if claim is None:
        raise ChangeNotFound(f"content owner {owner} has no claim {request.claim_id}")
    if claim.get("status") == "inactive":
        raise ChangeConflict(f"claim {request.claim_id} was released (inactive); its policy no longer applies",
                             field="claim_id")
    video = _video_on_channel(repo, config, secrets, request.account_id, account, str(claim.get("videoId")))
    policy = request.policy.as_google()
    current = policy_of(claim)
    if current == policy:
        raise ValidationError(f"claim {request.claim_id} already has this policy", field="policy",
                              limit="a policy different from the current one")
    names = _policy_names(client, owner, policy, current)
    if request.policy.saved_policy_id and request.policy.saved_policy_id not in names:
        raise ValidationError(f"content owner {owner} has no saved policy {request.policy.saved_policy_id}",
                              field="policy.saved_policy_id", limit="a saved policy of the content owner")
    proposed = {"policy": policy, "policy_names": names}
    before = {"policy": current, "status": claim.get("status")}
    ids = {"claim_id": request.claim_id, "content_owner_id": owner}
    return _record(repo, ContentIdChange(
        id=ID_PREFIX + uuid.uuid4().hex[:20], kind="policy", account_id=request.account_id,
        channel_id=str(account.get("platform_account_id")), content_owner_id=owner, video_id=str(claim.get("videoId")),
        video_title=str((video.get("snippet") or {}).get("title", "")), asset_id=str(claim.get("assetId")),
        claim_id=request.claim_id, requested_by=requested_by, requested_at=now or utcnow(), proposed=proposed,
        before=before, change_hash=change_hash("policy", ids, proposed, before), status="pending_approval",
        created_at=now or utcnow(), updated_at=now or utcnow()), publish)


def _record(repo: Repository, change: ContentIdChange, publish: Publish) -> ContentIdChange:
    with log_context(correlation_id=change.id):
        repo.db.collection(CHANGES).document(change.id).create(change.model_dump(mode="python"))
        publish({"content_id_change_id": change.id, "change_hash": change.change_hash})
        log_event(log, logging.INFO, f"content id {change.kind} change requested", video_id=change.video_id,
                  asset_id=change.asset_id, claim_id=change.claim_id, requested_by=change.requested_by)
    return change


# -- deciding --------------------------------------------------------------------------------------
def why_not_decidable(change: ContentIdChange | None, hash_claimed: str, *, used: bool = False) -> str | None:
    if change is None:
        return "This change no longer exists."
    if used:
        return "This link has already been used."
    if change.status != "pending_approval":
        by = f" by {change.decided_by} at {change.decided_at:%Y-%m-%d %H:%M} UTC" if change.decided_by else ""
        return f"This change was already {change.status}{by}; nothing more to do."
    if hash_claimed != change.change_hash:
        return "This link or hash is for a different version of the change."
    return None


def record_decision(repo: Repository, change_id: str, *, action: str, hash_claimed: str, decided_by: str, via: str,
                    token_id: str | None = None, reason: str | None = None,
                    now: datetime | None = None) -> ContentIdChange | str:
    """Once per change, in one transaction with the link's use record: the updated change, or why not."""
    from google.cloud import firestore

    now = now or utcnow()
    ref = repo.db.collection(CHANGES).document(change_id)
    used_ref = repo.db.collection(APPROVALS).document(token_id) if token_id else None
    decision = "approved" if action == "approve" else "rejected"
    reason = (reason or "").strip()[:REASON_MAX_CHARS] or None

    @firestore.transactional
    def _decide(transaction):
        refs = [ref, used_ref] if used_ref is not None else [ref]
        snaps = {s.reference.path: s for s in transaction.get_all(refs)}
        snap = snaps[ref.path]
        current = ContentIdChange.model_validate(snap.to_dict()) if snap.exists else None
        problem = why_not_decidable(current, hash_claimed, used=used_ref is not None and snaps[used_ref.path].exists)
        if problem:
            return problem
        assert current is not None
        if used_ref is not None:
            transaction.set(used_ref, {"content_id": change_id, "kind": "youtube_content_id_change", "action": action,
                                       "recipient": decided_by, "used_at": now})
        fields = {"status": decision, "decision": decision, "decided_by": decided_by, "decided_at": now,
                  "decided_via": via, "reason": reason, "token_id": token_id, "updated_at": now}
        if decision == "approved":  # if this request dies before applying, the status poll applies it after this
            fields["apply_due_at"] = now + timedelta(seconds=APPLY_GRACE_SECONDS)
        transaction.update(ref, fields)
        return current.model_copy(update=fields)

    outcome = run_with_contention_retry(lambda: _decide(repo.db.transaction()))
    if isinstance(outcome, str):
        log_event(log, logging.WARNING, "content id change decision refused", change_id=change_id, reason=outcome)
    else:
        log_event(log, logging.INFO, f"content id change {decision}", change_id=change_id, decided_by=decided_by, via=via)
    return outcome


def settle_decision(repo: Repository, config: Config, secrets: SecretStore, bq: bigquery.Client,
                    change: ContentIdChange, *, publish: Publish, now: datetime | None = None) -> ContentIdChange:
    """After the decision: apply an approved change, then the audit record, then tell the requester.
    A call whose outcome is not settled yet leaves the change `approved`; the status poll finishes it."""
    with log_context(correlation_id=change.id):
        if change.status == "approved":
            change = apply_approved(repo, config, secrets, change.id, now=now) or get_change(repo, change.id) or change
        else:
            change = record_outcome(repo, change, outcome="rejected", status="rejected") or change
        if change.status in FINAL_STATUSES:
            audit_and_tell(repo, bq, config, change, publish)
        return change


def audit_and_tell(repo: Repository, bq: bigquery.Client, config: Config, change: ContentIdChange,
                   publish: Publish) -> None:
    write_audit(repo, bq, config.project, change)
    try:
        publish({"content_id_change_id": change.id, "outcome": change.outcome})
    except Exception as exc:  # noqa: BLE001 - the outcome stands; only the notice is lost
        log_event(log, logging.ERROR, "could not send the content id change notice", error=str(exc))


def decide_via_api(repo: Repository, config: Config, secrets: SecretStore, bq: bigquery.Client, change_id: str, *,
                   action: str, hash_claimed: str, user: str, reason: str | None, publish: Publish) -> ContentIdChange:
    if get_change(repo, change_id) is None:
        raise ChangeNotFound(f"no content id change {change_id!r}")
    decided = record_decision(repo, change_id, action=action, hash_claimed=hash_claimed, decided_by=user, via="api",
                              reason=reason)
    if isinstance(decided, str):
        raise ChangeConflict(decided, field="change_hash")
    return settle_decision(repo, config, secrets, bq, decided, publish=publish)


def publisher(config: Config) -> Publish:
    """Messages about changes go where content-created messages go: approval-notify sends them."""
    topic = get_topology().trigger_topic("approval-notify")

    def publish(payload: dict) -> None:
        publish_json(config.project, topic, payload, correlation_id=payload["content_id_change_id"])

    return publish
