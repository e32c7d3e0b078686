"""YouTube metadata changes: request, ask, decide once, apply by read-modify-write, audit.

A change is requested against the values YouTube holds at that moment (`before`), which the
change hash binds together with the proposed values and the video id. The approver gets the same
kind of signed, single-use link as for a post (content id = change id, content hash = change hash);
approval-notify sends it. On approval the video is read again: if any of the four fields differs
from `before`, someone edited the video since, and the change is refused as a conflict instead of
overwriting their edit. Otherwise videos.update gets the whole snippet and status parts back with
only the approved fields changed (the update replaces both parts). Every decided change leaves one
audit record, in Firestore and as one row of the BigQuery table `youtube_metadata_audit`.

The recorded state stays true when a call or a process fails midway. Applying needs a lease
(status `applying`, `apply_claim`, taken in a transaction), and each videos.update is counted in
Firestore before it is sent, so two appliers never both send and a crash after sending is known.
An update that got no clear answer (timeout, 5xx) is settled by reading the video back: the
approved values -> applied; the old values -> not applied, sent again on a later run (at most
MAX_UPDATE_ATTEMPTS); anything else -> conflict. The status poll (`settle_owed_changes`) applies
approved changes whose deciding request died or whose retry is due, and writes owed audit rows.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from shared.errors import AuthError, ConfigError, PermanentError, TransientError, ValidationError
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_context, log_event
from shared.stores.posts import APPROVALS, Repository, run_with_contention_retry
from shared.youtube_sync.model import (
    AUDIT,
    CHANGES,
    FIELDS,
    FINAL_STATUSES,
    ID_PREFIX,
    MetadataChange,
    MetadataChangeRequest,
    MetadataValues,
    change_hash,
    changed_fields,
    expected_after,
    values_of,
)

log = logging.getLogger(__name__)
AUDIT_TABLE = "youtube_metadata_audit"
REASON_MAX_CHARS = 1000
LABELS = {"title": "Title", "description": "Description", "tags": "Tags", "privacy": "Privacy"}
APPLY_GRACE_SECONDS = 120  # the deciding request applies at once; after this the status poll may take over
APPLY_LEASE_SECONDS = 300  # well over a read, an update and a read-back at their HTTP timeouts
AUDIT_CLAIM_SECONDS = 300  # longer than one MERGE takes; a crashed writer's claim lapses after it
MAX_UPDATE_ATTEMPTS = 3  # videos.update calls that YouTube did not apply before the change fails
RETRY_BASE_SECONDS, RETRY_MAX_SECONDS = 60, 3600
OWED_BATCH = 20

Publish = Callable[[dict], None]


class ChangeNotFound(LookupError):
    pass


class ChangeConflict(Exception):
    """The request cannot go ahead in the state things are in (409)."""


# -- reading ------------------------------------------------------------------------------------
def get_change(repo: Repository, change_id: str) -> MetadataChange | None:
    snap = repo.db.collection(CHANGES).document(change_id).get()
    return MetadataChange.model_validate(snap.to_dict()) if snap.exists else None


def list_changes(repo: Repository, *, post_id: str | None = None, status: str | None = None, skip: int = 0,
                 limit: int = 50) -> tuple[list[MetadataChange], int]:
    """Oldest first (the order they were asked in), with the total that matches."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = repo.db.collection(CHANGES)
    if post_id:
        query = query.where(filter=FieldFilter("post_id", "==", post_id))
    if status:
        query = query.where(filter=FieldFilter("status", "==", status))
    total = int(query.count().get()[0][0].value)
    snaps = query.order_by("requested_at").offset(skip).limit(limit).stream()
    return [MetadataChange.model_validate(s.to_dict()) for s in snaps], total


def describe(change: MetadataChange) -> list[tuple[str, str, str]]:
    """(field label, before, after) for each field the change sets."""
    return [(LABELS[name], _shown(getattr(change.before, name)), _shown(value))
            for name, value in change.proposed.given().items()]


def _shown(value) -> str:
    if isinstance(value, list):
        return ", ".join(value) if value else "(none)"
    return value if value else "(empty)"


def preview_text(change: MetadataChange) -> str:
    lines = [f"YouTube video {change.video_id} ({change.account_id}, post {change.post_id}): "
             f"metadata change requested by {change.requested_by}."]
    lines += [f"{label}: {before!r} -> {after!r}" for label, before, after in describe(change)]
    return "\n".join(lines)


# -- requesting ----------------------------------------------------------------------------------
def create_change(repo: Repository, config, secrets, *, post_id: str, request: MetadataChangeRequest,
                  requested_by: str, publish: Publish, now: datetime | None = None) -> MetadataChange:
    """Read the video's current values, record the change pending approval, supersede older pending
    changes of the same post (their links stop working), and ask the approvers."""
    now = now or utcnow()
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
    video = _client(repo, config, secrets, post.account_id, account, "videos.list").get_video(video_id)
    if video is None:
        raise ChangeConflict(f"YouTube no longer lists video {video_id} on this channel")
    before, proposed = values_of(video), request.values()
    if not changed_fields(proposed, before):
        first = next(iter(proposed.given()))
        raise ValidationError("nothing would change: the video already has these values", field=first,
                              limit="a value different from the current one")
    change = MetadataChange(
        id=ID_PREFIX + uuid.uuid4().hex[:20], post_id=post.id, content_id=post.content_id, campaign=post.campaign,
        account_id=post.account_id, channel_id=account.get("platform_account_id"), video_id=video_id,
        requested_by=requested_by, requested_at=now, proposed=proposed, before=before,
        change_hash=change_hash(video_id, proposed, before), status="pending_approval", created_at=now, updated_at=now)
    with log_context(correlation_id=change.id):
        repo.db.collection(CHANGES).document(change.id).create(change.model_dump(mode="python"))
        _supersede_older(repo, change, now)
        publish({"metadata_change_id": change.id, "change_hash": change.change_hash})
        log_event(log, logging.INFO, "youtube metadata change requested", post_id=post.id, video_id=video_id,
                  fields=list(proposed.given()), requested_by=requested_by)
    return change


def _supersede_older(repo: Repository, change: MetadataChange, now: datetime) -> None:
    """Only the newest pending change of a post can be decided: the older one's links become stale."""
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter

    older = (repo.db.collection(CHANGES).where(filter=FieldFilter("post_id", "==", change.post_id))
             .where(filter=FieldFilter("status", "==", "pending_approval")).stream())
    for snap in older:
        if snap.id == change.id:
            continue
        ref = snap.reference

        @firestore.transactional
        def _mark(transaction, ref=ref):
            current = ref.get(transaction=transaction)
            if current.exists and current.to_dict().get("status") == "pending_approval":
                transaction.update(ref, {"status": "superseded", "superseded_by": change.id, "updated_at": now})

        run_with_contention_retry(lambda: _mark(repo.db.transaction()))
        log_event(log, logging.INFO, "older metadata change superseded", superseded=snap.id)


# -- deciding ------------------------------------------------------------------------------------
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


def settle_decision(repo: Repository, config, secrets, bq, change: MetadataChange, *, publish: Publish,
                    now: datetime | None = None) -> MetadataChange:
    """After the decision: apply an approved change, then the audit record, then tell the requester.
    An update whose outcome is not settled yet comes back `approved`; the status poll finishes it."""
    with log_context(correlation_id=change.id):
        if change.status == "approved":
            change = apply_approved(repo, config, secrets, change.id, now=now) or get_change(repo, change.id) or change
        else:
            # _finish gives None only to an applier that lost its lease; a rejected change holds none
            change = _finish(repo, change, outcome="rejected", status="rejected") or change
        if change.status in FINAL_STATUSES:
            _audit_and_tell(repo, bq, config, change, publish)
        return change


def _audit_and_tell(repo: Repository, bq, config, change: MetadataChange, publish: Publish) -> None:
    write_audit(repo, bq, config.project, change)
    try:
        publish({"metadata_change_id": change.id, "outcome": change.outcome})
    except Exception as exc:  # noqa: BLE001 - the outcome stands; only the notice is lost
        log_event(log, logging.ERROR, "could not send the metadata change notice", error=str(exc))


def decide_via_api(repo: Repository, config, secrets, bq, change_id: str, *, action: str, change_hash_claimed: str,
                   user: str, reason: str | None, publish: Publish) -> MetadataChange:
    if get_change(repo, change_id) is None:
        raise ChangeNotFound(f"no metadata change {change_id!r}")
    decided = record_decision(repo, change_id, action=action, change_hash_claimed=change_hash_claimed,
                              decided_by=user, via="api", reason=reason)
    if isinstance(decided, str):
        raise ChangeConflict(decided)
    return settle_decision(repo, config, secrets, bq, decided, publish=publish)


# -- applying ------------------------------------------------------------------------------------
def apply_approved(repo: Repository, config, secrets, change_id: str, *, now: datetime | None = None,
                   due_only: bool = False) -> MetadataChange | None:
    """Take the lease on an approved change (or one whose applier's lease ran out) and apply or settle
    it. None when another applier holds it or nothing is left to do. `due_only`: the status poll,
    which waits for apply_due_at (the grace period, a retry time or the end of a lease)."""
    now = now or utcnow()
    claimed = _claim_apply(repo, change_id, now, due_only=due_only)
    if claimed is None:
        return None
    with log_context(correlation_id=change_id):
        return _apply(repo, config, secrets, claimed, now)


def _claim_apply(repo: Repository, change_id: str, now: datetime, *, due_only: bool) -> MetadataChange | None:
    from google.cloud import firestore

    ref = repo.db.collection(CHANGES).document(change_id)

    @firestore.transactional
    def _take(transaction):
        snap = ref.get(transaction=transaction)
        if not snap.exists:
            return None
        change = MetadataChange.model_validate(snap.to_dict())
        due = change.apply_due_at is not None and change.apply_due_at <= now
        if not ((change.status == "approved" and (due or not due_only)) or (change.status == "applying" and due)):
            return None
        fields = {"status": "applying", "apply_claim": uuid.uuid4().hex,
                  "apply_due_at": now + timedelta(seconds=APPLY_LEASE_SECONDS), "updated_at": utcnow()}
        transaction.update(ref, fields)
        if change.status == "applying":
            log_event(log, logging.WARNING, "metadata change lease ran out; taking it over",
                      update_attempts=change.update_attempts)
        return change.model_copy(update=fields)

    return run_with_contention_retry(lambda: _take(repo.db.transaction()))


def _held(repo: Repository, change: MetadataChange, fields: dict) -> MetadataChange | None:
    """Write `fields` only while this applier still holds the lease; else None (someone took over)."""
    from google.cloud import firestore

    ref = repo.db.collection(CHANGES).document(change.id)

    @firestore.transactional
    def _write(transaction):
        snap = ref.get(transaction=transaction)
        stored = snap.to_dict() if snap.exists else {}
        if stored.get("status") != "applying" or stored.get("apply_claim") != change.apply_claim:
            return None
        transaction.update(ref, fields)
        return change.model_copy(update=fields)

    held = run_with_contention_retry(lambda: _write(repo.db.transaction()))
    if held is None:
        log_event(log, logging.WARNING, "metadata change lease lost; leaving it to the new holder")
    return held


def _classify(change: MetadataChange, current: MetadataValues) -> str:
    """before: untouched; after: exactly the approved values; kept: our update with some field kept
    by YouTube; moved: anything else (someone else edited the video)."""
    if current == change.before:
        return "before"
    proposed = change.proposed.given()
    if any(getattr(current, n) != getattr(change.before, n) for n in FIELDS if n not in proposed):
        return "moved"
    if any(getattr(current, n) not in (v, getattr(change.before, n)) for n, v in proposed.items()):
        return "moved"
    return "after" if current == expected_after(change) else "kept"


def _apply(repo: Repository, config, secrets, change: MetadataChange, now: datetime) -> MetadataChange | None:
    from shared.platforms.youtube.client import writable_parts

    account = repo.get_account(change.account_id)
    if account is None:
        return _finish(repo, change, outcome="failed", failure_reason=f"account {change.account_id} no longer exists")
    unsure = change.update_attempts > 0  # an update of ours may already be live
    try:
        client = _client(repo, config, secrets, change.account_id, account, "videos.list")
        video = client.get_video(change.video_id)
    except TransientError as exc:  # incl. our own daily quota: nothing was sent, try later
        return _defer(repo, change, now, f"could not read the video: {exc}", getattr(exc, "retry_after", None))
    except (AuthError, PermanentError, ConfigError) as exc:
        if unsure:  # cannot tell whether the last update landed: never call it failed
            return _defer(repo, change, now, f"could not read the video back: {exc}")
        suffix = "; reconnect the account and request the change again" if isinstance(exc, AuthError) else ""
        return _finish(repo, change, outcome="failed", platform_response={"error": getattr(exc, "platform_code", None)},
                       failure_reason=f"YouTube did not apply the change: {exc}{suffix}")
    if video is None:
        return _finish(repo, change, outcome="failed", failure_reason=f"YouTube no longer lists video {change.video_id}")
    current = values_of(video)
    state = _classify(change, current)
    if unsure and state in ("after", "kept"):
        return _settled_by_reading(repo, change, current, state, change.last_error)
    if state != "before":
        moved = [name for name in FIELDS if getattr(current, name) != getattr(change.before, name)]
        log_event(log, logging.WARNING, "metadata change refused: the video changed on YouTube", fields=moved)
        return _finish(repo, change, outcome="conflict", after=current,
                       failure_reason=f"the video's {', '.join(moved)} changed on YouTube after the change was "
                                      "requested; nothing was overwritten. Request the change again")
    if change.update_attempts >= MAX_UPDATE_ATTEMPTS:
        return _finish(repo, change, outcome="failed", after=current,
                       failure_reason=f"YouTube did not apply the change: {change.update_attempts} updates were "
                                      f"refused or unanswered and the video still has its old values "
                                      f"(last: {change.last_error})")
    snippet, status = _merged(*writable_parts(video), change, now)
    try:
        _charge(repo, config, account, "videos.update")
    except TransientError as exc:
        return _defer(repo, change, now, str(exc), exc.retry_after)
    sending = _held(repo, change, {"update_attempts": change.update_attempts + 1, "updated_at": utcnow()})
    if sending is None:
        return None
    change = sending
    try:
        answer = client.update_video(change.video_id, snippet=snippet, status=status)
    except AuthError as exc:  # refused (the token was refreshed once): not applied
        return _finish(repo, change, outcome="failed", platform_response={"error": exc.platform_code},
                       failure_reason=f"{exc}; reconnect the account and request the change again")
    except (PermanentError, ConfigError) as exc:  # a 4xx refusal: not applied
        return _finish(repo, change, outcome="failed", platform_response={"error": getattr(exc, "platform_code", None)},
                       failure_reason=f"YouTube did not apply the change: {exc}")
    except TransientError as exc:  # timeout or 5xx: the update may or may not have been applied
        log_event(log, logging.WARNING, "videos.update unanswered; reading the video back", error=str(exc))
        return _read_back(repo, client, change, now, f"videos.update: {exc}")
    after = values_of(answer)
    response = {"id": answer.get("id"), **dict(zip(("snippet", "status"), writable_parts(answer)))}
    kept = [name for name, value in change.proposed.given().items() if getattr(after, name) != value]
    if kept:
        return _finish(repo, change, outcome="failed", after=after, platform_response=response,
                       failure_reason=f"YouTube accepted the update but kept the old {', '.join(kept)}")
    log_event(log, logging.INFO, "youtube metadata change applied", video_id=change.video_id,
              fields=list(change.proposed.given()))
    return _finish(repo, change, outcome="applied", after=after, platform_response=response)


def _read_back(repo: Repository, client, change: MetadataChange, now: datetime, error: str) -> MetadataChange | None:
    """Settle an unanswered update by what YouTube now holds."""
    try:
        video = client.get_video(change.video_id)
    except Exception as exc:  # noqa: BLE001 - still unknown: a later run reads again
        return _defer(repo, change, now, f"{error}; reading back failed: {exc}")
    if video is None:
        return _finish(repo, change, outcome="failed", failure_reason=f"YouTube no longer lists video {change.video_id}")
    current = values_of(video)
    state = _classify(change, current)
    if state in ("after", "kept"):
        return _settled_by_reading(repo, change, current, state, error)
    if state == "before":  # not applied (yet): send it again on a later run, after reading once more
        return _defer(repo, change, now, f"{error}; the video still has its old values")
    moved = [name for name in FIELDS if getattr(current, name) not in
             (getattr(change.before, name), getattr(expected_after(change), name))]
    return _finish(repo, change, outcome="conflict", after=current,
                   failure_reason=f"videos.update got no answer and the video's {', '.join(moved)} now differ from "
                                  "both the old and the approved values: it was edited on YouTube meanwhile")


def _settled_by_reading(repo: Repository, change: MetadataChange, current: MetadataValues, state: str,
                        error: str | None) -> MetadataChange | None:
    # The update's own answer was lost: the audit keeps what it said and how the outcome was known.
    response = {"note": "confirmed by reading back", "read_with": "videos.list", "update_error": error}
    if state == "kept":
        kept = [n for n, v in change.proposed.given().items() if getattr(current, n) != v]
        return _finish(repo, change, outcome="failed", after=current, platform_response=response,
                       failure_reason=f"YouTube accepted the update but kept the old {', '.join(kept)} "
                                      "(confirmed by reading back)")
    log_event(log, logging.INFO, "youtube metadata change applied (confirmed by reading back)",
              video_id=change.video_id, fields=list(change.proposed.given()))
    return _finish(repo, change, outcome="applied", after=current, platform_response=response)


def _defer(repo: Repository, change: MetadataChange, now: datetime, error: str,
           retry_after: float | None = None) -> MetadataChange | None:
    """No outcome yet: back to approved, for the status poll to try again at apply_due_at."""
    delay = min(max(RETRY_BASE_SECONDS * 2 ** change.apply_tries, retry_after or 0), RETRY_MAX_SECONDS)
    log_event(log, logging.WARNING, "metadata change not settled; will try again", error=error, retry_in=delay,
              update_attempts=change.update_attempts)
    return _held(repo, change, {"status": "approved", "apply_claim": None, "apply_tries": change.apply_tries + 1,
                                "apply_due_at": now + timedelta(seconds=delay), "last_error": error[:1000],
                                "updated_at": utcnow()})


def _merged(snippet: dict, status: dict, change: MetadataChange, now: datetime) -> tuple[dict, dict]:
    """The parts as read, with only the approved fields replaced (the update deletes what is left out)."""
    proposed = change.proposed
    snippet, status = dict(snippet), dict(status)
    if proposed.title is not None:
        snippet["title"] = proposed.title
    if proposed.description is not None:
        snippet["description"] = proposed.description
    if proposed.tags is not None:
        snippet["tags"] = list(proposed.tags)
    if proposed.privacy is not None:
        status["privacyStatus"] = proposed.privacy
    publish_at = status.get("publishAt")
    # A scheduled release is only valid on a private video and only in the future.
    if publish_at and (status.get("privacyStatus") != "private"
                       or datetime.fromisoformat(str(publish_at).replace("Z", "+00:00")) <= now):
        status.pop("publishAt")
    return snippet, status


def _finish(repo: Repository, change: MetadataChange, *, outcome: str, status: str | None = None,
            after: MetadataValues | None = None, platform_response: dict | None = None,
            failure_reason: str | None = None) -> MetadataChange | None:
    """Record the outcome. An applier writes it only while it holds the lease (None if it lost it)."""
    now = utcnow()
    status = status or ("applied" if outcome == "applied" else "failed")
    fields = {"status": status, "outcome": outcome, "after": after.model_dump() if after else None,
              "platform_response": platform_response, "failure_reason": failure_reason, "updated_at": now,
              "apply_due_at": None, "apply_claim": None}
    if outcome == "applied":
        fields["applied_at"] = now
    if change.status == "applying":
        if _held(repo, change, fields) is None:
            return None
    else:
        repo.db.collection(CHANGES).document(change.id).update(fields)
    if outcome != "applied" and outcome != "rejected":
        log_event(log, logging.WARNING, f"metadata change {outcome}", reason=failure_reason)
    return change.model_copy(update={**fields, "after": after})


def _client(repo: Repository, config, secrets, account_id: str, account: dict, method: str):
    """The real client for the account: its tokens (refreshed once on a 401), the call charged first."""
    from shared.platforms.registry import adapter_for
    from shared.platforms.youtube.adapter import client_for
    from shared.publishing.publisher import account_tokens

    _charge(repo, config, account, method)
    tokens = account_tokens(account_id, account, adapter_for("youtube"), repo=repo, config=config, secrets=secrets)
    return client_for(tokens, config)


def _charge(repo: Repository, config, account: dict, method: str) -> None:
    from shared.platforms.youtube.quota import charge, quota_key

    charge(repo.db, method, daily_quota=config.youtube_daily_quota, key=quota_key(account))


# -- audit ---------------------------------------------------------------------------------------
def audit_row(change: MetadataChange, recorded_at: datetime | None = None) -> dict:
    def as_json(value) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)

    return {
        "change_id": change.id, "post_id": change.post_id, "content_id": change.content_id,
        "video_id": change.video_id, "account_id": change.account_id, "campaign": change.campaign,
        "requested_by": change.requested_by, "requested_at": change.requested_at,
        "decision": change.decision, "decided_by": change.decided_by, "decided_at": change.decided_at,
        "decided_via": change.decided_via, "reason": change.reason, "outcome": change.outcome,
        "before": as_json(change.before.model_dump()), "proposed": as_json(change.proposed.given()),
        "after": as_json(change.after.model_dump() if change.after else None),
        "platform_response": as_json(change.platform_response), "failure_reason": change.failure_reason,
        "recorded_at": recorded_at or change.updated_at,
    }


def write_audit(repo: Repository, bq, project: str, change: MetadataChange, now: datetime | None = None) -> bool:
    """Firestore `metadata_change_audit/{change id}` and one BigQuery row keyed by the change id.
    One writer at a time (a short claim, as publish_log), and the row goes in by a MERGE on the
    change id, so a writer that died after the insert leaves nothing to double. False when the row
    is already written, another writer holds it, or BigQuery failed (the status poll retries)."""
    claimed = _claim_audit(repo, change.id, now or utcnow())
    if claimed is None:
        return False
    ref = repo.db.collection(CHANGES).document(change.id)
    row = audit_row(claimed)
    repo.db.collection(AUDIT).document(change.id).set(row)
    try:
        _merge_row(bq, project, row)
    except Exception as exc:  # noqa: BLE001 - the change stands; the Firestore record says the row is missing
        log_event(log, logging.ERROR, "audit row not written to BigQuery; the status poll retries",
                  error=f"{type(exc).__name__}: {exc}")
        ref.update({"audit_claim_until": None})
        return False
    ref.update({"audit_written": True, "audit_claim_until": None})
    return True


def _claim_audit(repo: Repository, change_id: str, now: datetime) -> MetadataChange | None:
    from google.cloud import firestore

    ref = repo.db.collection(CHANGES).document(change_id)

    @firestore.transactional
    def _take(transaction):
        snap = ref.get(transaction=transaction)
        if not snap.exists:
            return None
        change = MetadataChange.model_validate(snap.to_dict())
        if change.status not in FINAL_STATUSES or change.audit_written:
            return None
        if change.audit_claim_until and change.audit_claim_until > now:
            return None
        transaction.update(ref, {"audit_claim_until": now + timedelta(seconds=AUDIT_CLAIM_SECONDS)})
        return change

    return run_with_contention_retry(lambda: _take(repo.db.transaction()))


# -- the status poll's share ------------------------------------------------------------------------
def settle_owed_changes(*, repo: Repository, config, secrets, bq, now: datetime | None = None) -> dict:
    """Each status-poll tick: apply approved changes whose deciding request died (after the grace
    period), whose retry is due or whose applier's lease ran out; then write owed audit rows.
    Never raises: a failure here must not stop the tick, and the next tick tries again."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    now = now or utcnow()
    done = {"applied": 0, "failed": 0, "waiting": 0, "audited": 0, "errors": 0}
    publish: Publish | None = None
    changes = repo.db.collection(CHANGES)
    try:
        due = [s.id for s in changes.where(filter=FieldFilter("status", "in", ["approved", "applying"]))
               .where(filter=FieldFilter("apply_due_at", "<=", now)).order_by("apply_due_at").limit(OWED_BATCH).stream()]
    except Exception as exc:  # noqa: BLE001
        log_event(log, logging.ERROR, "could not list metadata changes to apply", error=str(exc))
        due, done["errors"] = [], done["errors"] + 1
    for change_id in due:
        with log_context(correlation_id=change_id):
            try:
                change = apply_approved(repo, config, secrets, change_id, now=now, due_only=True)
                if change is None:
                    continue
                if change.status in FINAL_STATUSES:
                    done["applied" if change.outcome == "applied" else "failed"] += 1
                    publish = publish or publisher(config)
                    _audit_and_tell(repo, bq, config, change, publish)
                else:
                    done["waiting"] += 1
            except Exception as exc:  # noqa: BLE001 - the lease lapses and a later tick settles it
                done["errors"] += 1
                log_event(log, logging.ERROR, "metadata change apply failed; a later tick retries",
                          error=f"{type(exc).__name__}: {exc}")
    try:
        owed = [MetadataChange.model_validate(s.to_dict()) for s in
                changes.where(filter=FieldFilter("status", "in", list(FINAL_STATUSES)))
                .where(filter=FieldFilter("audit_written", "==", False)).limit(OWED_BATCH).stream()]
        for change in owed:
            with log_context(correlation_id=change.id):
                done["audited"] += write_audit(repo, bq, config.project, change, now)
    except Exception as exc:  # noqa: BLE001
        done["errors"] += 1
        log_event(log, logging.ERROR, "owed metadata audit rows not written", error=f"{type(exc).__name__}: {exc}")
    if any(done.values()):
        log_event(log, logging.INFO, "metadata changes settled by the status poll", **done)
    return done


def _merge_row(bq, project: str, row: dict) -> None:
    """The BigQuery emulator ignores insertIds (and BigQuery dedupes them only best effort), so the
    row is inserted by a MERGE on change_id, the way publish_log does it."""
    from google.cloud import bigquery

    from shared.topology import get_topology

    topology = get_topology()
    schema = topology.bigquery.tables[AUDIT_TABLE].schema_
    exprs, params = [], []
    for column in schema:
        if column.type == "JSON":
            exprs.append(f"PARSE_JSON(@{column.name}) AS {column.name}")
            params.append(bigquery.ScalarQueryParameter(column.name, "STRING", row[column.name]))
        else:
            exprs.append(f"@{column.name} AS {column.name}")
            params.append(bigquery.ScalarQueryParameter(column.name, column.type, row[column.name]))
    names = [c.name for c in schema]
    table = f"{project}.{topology.bigquery.dataset}.{AUDIT_TABLE}"
    sql = (f"MERGE `{table}` AS logged USING (SELECT {', '.join(exprs)}) AS decided "
           f"ON logged.change_id = decided.change_id "
           f"WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) VALUES ({', '.join('decided.' + n for n in names)})")
    job = bq.query(sql, job_config=bigquery.QueryJobConfig(query_parameters=params),
                   retry=bigquery.DEFAULT_RETRY.with_deadline(30))
    job.result(timeout=60)


# -- asking and telling (approval-notify) --------------------------------------------------------
def publisher(config) -> Publish:
    """Messages about changes go where content-created messages go: approval-notify sends them."""
    from shared.runtime.pubsub import publish_json
    from shared.topology import get_topology

    topic = get_topology().trigger_topic("approval-notify")

    def publish(payload: dict) -> None:
        publish_json(config.project, topic, payload, correlation_id=payload["metadata_change_id"])

    return publish


def notify(payload: dict, *, repo: Repository, config, secrets) -> int:
    """approval-notify for a change: the signed links to each approver, or the outcome to the requester."""
    from shared.approval.links import mint_requests
    from shared.approval.notifiers import DecisionNotice, notifier_from_config

    change_id = str(payload.get("metadata_change_id"))
    with log_context(correlation_id=change_id):
        change = get_change(repo, change_id)
        if payload.get("outcome"):
            if change is None or change.outcome != payload["outcome"]:
                return 0
            why = change.failure_reason or change.reason
            notice = DecisionNotice(change.id, change.campaign, change.requested_by, _outcome_words(change),
                                    change.decided_by or "?", why, preview_text(change))
            notifier_from_config(config, secrets).notify(notice)
            return 1
        if change is None or change.status != "pending_approval" or change.change_hash != payload.get("change_hash"):
            log_event(log, logging.INFO, "metadata change needs no approval request",
                      status=change.status if change else None)
            return 0
        key = secrets.access(config.approval_signing_secret)
        notifier = notifier_from_config(config, secrets)
        sent = 0
        for request in mint_requests(config, key, subject_id=change.id, subject_hash=change.change_hash,
                                     campaign=change.campaign, preview=preview_text(change),
                                     targets=[f"youtube:{change.account_id}"]):
            notifier.send(request)
            sent += 1
        log_event(log, logging.INFO, "metadata change approval requested", recipients=sent)
        return sent


def _outcome_words(change: MetadataChange) -> str:
    """Fits "the post ... was <words> by <approver>" and a file name in the local outbox."""
    return {"applied": "applied", "rejected": "rejected", "conflict": "approved-not-applied-conflict",
            "failed": "approved-not-applied"}.get(change.outcome or "", str(change.outcome))
