"""YouTube metadata changes: request, ask, decide once, then settle the decision.

A change is requested against the values YouTube holds at that moment (`before`), which the
change hash binds together with the proposed values and the video id. The approver gets the same
kind of signed, single-use link as for a post (content id = change id, content hash = change hash);
approval-notify sends it (shared.youtube_sync.notices). The decision is taken once, in one
transaction with the link's use record. An approved change is then applied by read-modify-write
under a lease (shared.youtube_sync.applying); every decided change leaves one audit record
(shared.youtube_sync.audit) and its requester is told. The status poll finishes what a deciding
request left undone (shared.youtube_sync.owed).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.catalogue import service as catalogue
from shared.errors import ValidationError
from shared.model.account import Account
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.runtime.pubsub import publish_json
from shared.stores.posts import APPROVALS, Repository, run_with_contention_retry
from shared.stores.protocols import SecretStore
from shared.topology import get_topology
from shared.youtube_sync.applying import apply_approved, record_outcome, youtube_client
from shared.youtube_sync.audit import write_audit
from shared.youtube_sync.model import (
    CHANGES,
    FINAL_STATUSES,
    ID_PREFIX,
    MetadataChange,
    MetadataChangeRequest,
    change_hash,
    changed_fields,
    values_of,
)

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger(__name__)
REASON_MAX_CHARS = 1000
LABELS = {"title": "Title", "description": "Description", "tags": "Tags", "privacy": "Privacy",
          "category_id": "Category", "embeddable": "Embeddable", "public_stats_viewable": "Public stats",
          "made_for_kids": "Made for kids", "contains_synthetic_media": "Altered or synthetic media"}
APPLY_GRACE_SECONDS = 120  # the deciding request applies at once; after this the status poll may take over

Publish = Callable[[dict], None]


class ChangeNotFound(LookupError):
    pass


class ChangeConflict(Exception):
    """The request cannot go ahead in the state things are in (409)."""


# -- reading ---------------------------------------------------------------------------------------
def get_change(repo: Repository, change_id: str) -> MetadataChange | None:
    snap = repo.db.collection(CHANGES).document(change_id).get()
    return MetadataChange.model_validate(snap.to_dict()) if snap.exists else None


def list_changes(repo: Repository, *, post_id: str | None = None, status: str | None = None, skip: int = 0,
                 limit: int = 50, newest_first: bool = False,
                 video_id: str | None = None) -> tuple[list[MetadataChange], int]:
    """Oldest first (the order they were asked in; the console asks for newest first), with the total
    that matches."""
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = repo.db.collection(CHANGES)
    if post_id:
        query = query.where(filter=FieldFilter("post_id", "==", post_id))
    if video_id:
        query = query.where(filter=FieldFilter("video_id", "==", video_id))
    if status:
        query = query.where(filter=FieldFilter("status", "==", status))
    total = int(query.count().get()[0][0].value)
    direction = firestore.Query.DESCENDING if newest_first else firestore.Query.ASCENDING
    snaps = query.order_by("requested_at", direction=direction).offset(skip).limit(limit).stream()
    return [MetadataChange.model_validate(s.to_dict()) for s in snaps], total


def describe(change: MetadataChange) -> list[tuple[str, str, str]]:
    """(field label, before, after) for each field the change sets."""
    return [(LABELS[name], shown(getattr(change.before, name)), shown(value))
            for name, value in change.proposed.given().items()]


def shown(value) -> str:
    """A field's value as the approver reads it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(value) if value else "(none)"
    if value is None:
        return "(not answered)"
    return value if value else "(empty)"


def preview_text(change: MetadataChange) -> str:
    source = f"post {change.post_id}" if change.post_id else "catalogue video"
    lines = [f"YouTube video {change.video_id} ({change.account_id}, {source}): "
             f"metadata change requested by {change.requested_by}."]
    lines += [f"{label}: {before!r} -> {after!r}" for label, before, after in describe(change)]
    return "\n".join(lines)


# -- requesting ------------------------------------------------------------------------------------
def create_change(repo: Repository, config: Config, secrets: SecretStore, *, post_id: str, request: MetadataChangeRequest,
                  requested_by: str, publish: Publish, now: datetime | None = None) -> MetadataChange:
    """Read the video's current values, record the change pending approval, supersede older pending
    changes of the same post (their links stop working), and ask the approvers."""
    post = repo.get_post(post_id)
    if post is None:
        raise ChangeNotFound(f"no post {post_id!r}")
    if post.platform != "youtube":
        raise ValidationError(f"post {post_id} is a {post.platform} post; only YouTube videos have this metadata",
                              field="post_id", limit="a YouTube post")
    video_id = post.platform_ids.get("video_id")
    if post.status != "published" or not video_id:
        raise ChangeConflict(f"post {post_id} is {post.status}; only a published video can be changed")
    account = repo.get_account(post.account_id)
    if account is None:
        raise ChangeConflict(f"account {post.account_id} of post {post_id} no longer exists")
    return _record_change(repo, config, secrets, account_id=post.account_id, account=account, video_id=video_id,
                          request=request, requested_by=requested_by, publish=publish, now=now,
                          post={"post_id": post.id, "content_id": post.content_id, "campaign": post.campaign})


def create_video_change(repo: Repository, config: Config, secrets: SecretStore, *, video_id: str,
                        request: MetadataChangeRequest, requested_by: str, publish: Publish,
                        now: datetime | None = None) -> MetadataChange:
    """The same for any video of a connected channel's catalogue, named by its id: the channel's account
    reads it and applies the change; older pending changes of the same video are superseded."""
    account_id, account = video_account(repo, video_id)
    return _record_change(repo, config, secrets, account_id=account_id, account=account, video_id=video_id,
                          request=request, requested_by=requested_by, publish=publish, now=now, post=None)


def video_account(repo: Repository, video_id: str) -> tuple[str, Account]:
    """The connected account of the channel a catalogue video belongs to (ChangeNotFound / ChangeConflict)."""
    video = catalogue.video(repo, video_id)
    if video is None:
        raise ChangeNotFound(f"no catalogue video {video_id!r}; refresh the channel's catalogue first")
    if video.get("removed"):
        raise ChangeConflict(f"video {video_id} is no longer on its channel (the last catalogue refresh found it removed)")
    channel_id = str(video.get("channel_id") or "")
    account_id = catalogue.account_of_channel(repo, channel_id)
    account = repo.get_account(account_id) if account_id else None
    if account_id is None or account is None:
        raise ChangeConflict(f"no connected YouTube account has channel {channel_id} of video {video_id}; "
                             "connect it to change its videos")
    return account_id, account


def _record_change(repo: Repository, config: Config, secrets: SecretStore, *, account_id: str, account: Account,
                   video_id: str, request: MetadataChangeRequest, requested_by: str, publish: Publish,
                   now: datetime | None, post: dict | None) -> MetadataChange:
    now = now or utcnow()
    video = youtube_client(repo, config, secrets, account_id, account, "videos.list").get_video(video_id)
    if video is None:
        raise ChangeConflict(f"YouTube no longer lists video {video_id} on this channel")
    proposed = request.values()
    before = values_of(video).seen_by(proposed)
    if not changed_fields(proposed, before):
        first = next(iter(proposed.given()))
        raise ValidationError("nothing would change: the video already has these values", field=first,
                              limit="a value different from the current one")
    change = MetadataChange(
        id=ID_PREFIX + uuid.uuid4().hex[:20], **(post or {}), account_id=account_id,
        channel_id=account.get("platform_account_id"), video_id=video_id,
        requested_by=requested_by, requested_at=now, proposed=proposed, before=before,
        change_hash=change_hash(video_id, proposed, before), status="pending_approval", created_at=now, updated_at=now)
    with log_context(correlation_id=change.id):
        repo.db.collection(CHANGES).document(change.id).create(change.model_dump(mode="python"))
        _supersede_older(repo, change, now)
        publish({"metadata_change_id": change.id, "change_hash": change.change_hash})
        log_event(log, logging.INFO, "youtube metadata change requested", post_id=change.post_id, video_id=video_id,
                  fields=list(proposed.given()), requested_by=requested_by)
    return change


def _supersede_older(repo: Repository, change: MetadataChange, now: datetime) -> None:
    """Only the newest pending change of a post (of a catalogue video, when no post published it) can be
    decided: the older one's links become stale."""
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter

    key = ("post_id", change.post_id) if change.post_id else ("video_id", change.video_id)
    older = (repo.db.collection(CHANGES).where(filter=FieldFilter(key[0], "==", key[1]))
             .where(filter=FieldFilter("status", "==", "pending_approval")).stream())
    for snap in older:
        if snap.id == change.id or (not change.post_id and (snap.to_dict() or {}).get("post_id")):
            continue  # a catalogue change leaves a pending change of the post that published the video
        ref = snap.reference

        @firestore.transactional
        def _mark(transaction, ref=ref):
            current = ref.get(transaction=transaction)
            if current.exists and current.to_dict().get("status") == "pending_approval":
                transaction.update(ref, {"status": "superseded", "superseded_by": change.id, "updated_at": now})

        run_with_contention_retry(lambda: _mark(repo.db.transaction()))
        log_event(log, logging.INFO, "older metadata change superseded", superseded=snap.id)


# -- deciding --------------------------------------------------------------------------------------
def why_not_decidable(change: MetadataChange | None, change_hash_claimed: str, *, used: bool = False) -> str | None:
    if change is None:
        return "This change no longer exists."
    if used:
        return "This link has already been used."
    if change.status == "superseded":
        return (f"A newer change for this video ({change.superseded_by}) replaced this one, so this link no longer "
                "applies. Decide on the newer change.")
    if change.status != "pending_approval":
        by = f" by {change.decided_by} at {change.decided_at:%Y-%m-%d %H:%M} UTC" if change.decided_by else ""
        return f"This change was already {change.status}{by}; nothing more to do."
    if change_hash_claimed != change.change_hash:
        return "This link or hash is for a different version of the change."
    return None


def record_decision(repo: Repository, change_id: str, *, action: str, change_hash_claimed: str, decided_by: str,
                    via: str, token_id: str | None = None, reason: str | None = None,
                    now: datetime | None = None) -> MetadataChange | str:
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
        current = MetadataChange.model_validate(snap.to_dict()) if snap.exists else None
        used = used_ref is not None and snaps[used_ref.path].exists
        problem = why_not_decidable(current, change_hash_claimed, used=used)
        if problem:
            return problem
        if used_ref is not None:
            transaction.set(used_ref, {"content_id": change_id, "kind": "youtube_metadata_change", "action": action,
                                       "recipient": decided_by, "used_at": now})
        fields = {"status": decision, "decision": decision, "decided_by": decided_by, "decided_at": now,
                  "decided_via": via, "reason": reason, "token_id": token_id, "updated_at": now}
        if decision == "approved":  # if this request dies before applying, the status poll applies it after this
            fields["apply_due_at"] = now + timedelta(seconds=APPLY_GRACE_SECONDS)
        transaction.update(ref, fields)
        return current.model_copy(update=fields)

    outcome = run_with_contention_retry(lambda: _decide(repo.db.transaction()))
    if isinstance(outcome, str):
        log_event(log, logging.WARNING, "metadata change decision refused", change_id=change_id, reason=outcome)
    else:
        log_event(log, logging.INFO, f"metadata change {decision}", change_id=change_id, decided_by=decided_by, via=via)
    return outcome


def settle_decision(repo: Repository, config: Config, secrets: SecretStore, bq: bigquery.Client, change: MetadataChange, *, publish: Publish,
                    now: datetime | None = None) -> MetadataChange:
    """After the decision: apply an approved change, then the audit record, then tell the requester.
    An update whose outcome is not settled yet comes back `approved`; the status poll finishes it."""
    with log_context(correlation_id=change.id):
        if change.status == "approved":
            change = apply_approved(repo, config, secrets, change.id, now=now) or get_change(repo, change.id) or change
        else:
            # record_outcome gives None only to an applier that lost its lease; a rejected change holds none
            change = record_outcome(repo, change, outcome="rejected", status="rejected") or change
        if change.status in FINAL_STATUSES:
            audit_and_tell(repo, bq, config, change, publish)
        return change


def audit_and_tell(repo: Repository, bq: bigquery.Client, config: Config, change: MetadataChange, publish: Publish) -> None:
    """A final change's audit record, then the outcome to the requester (also the status poll's last step)."""
    write_audit(repo, bq, config.project, change)
    try:
        publish({"metadata_change_id": change.id, "outcome": change.outcome})
    except Exception as exc:  # noqa: BLE001 - the outcome stands; only the notice is lost
        log_event(log, logging.ERROR, "could not send the metadata change notice", error=str(exc))


def decide_via_api(repo: Repository, config: Config, secrets: SecretStore, bq: bigquery.Client, change_id: str, *, action: str, change_hash_claimed: str,
                   user: str, reason: str | None, publish: Publish) -> MetadataChange:
    if get_change(repo, change_id) is None:
        raise ChangeNotFound(f"no metadata change {change_id!r}")
    decided = record_decision(repo, change_id, action=action, change_hash_claimed=change_hash_claimed,
                              decided_by=user, via="api", reason=reason)
    if isinstance(decided, str):
        raise ChangeConflict(decided)
    return settle_decision(repo, config, secrets, bq, decided, publish=publish)


# -- asking and telling (approval-notify sends the messages) ---------------------------------------
def publisher(config: Config) -> Publish:
    """Messages about changes go where content-created messages go: approval-notify sends them."""
    topic = get_topology().trigger_topic("approval-notify")

    def publish(payload: dict) -> None:
        publish_json(config.project, topic, payload,
                     correlation_id=str(payload.get("metadata_change_id") or payload.get("metadata_bulk_id")))

    return publish
