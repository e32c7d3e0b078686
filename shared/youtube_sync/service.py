"""YouTube metadata changes: request, ask, decide once, apply by read-modify-write, audit.

A change is requested against the values YouTube holds at that moment (`before`), which the
change hash binds together with the proposed values and the video id. The approver gets the same
kind of signed, single-use link as for a post (content id = change id, content hash = change hash);
approval-notify sends it. On approval the video is read again: if any of the four fields differs
from `before`, someone edited the video since, and the change is refused as a conflict instead of
overwriting their edit. Otherwise videos.update gets the whole snippet and status parts back with
only the approved fields changed (the update replaces both parts). Every decided change leaves one
audit record, in Firestore and as one row of the BigQuery table `youtube_metadata_audit`.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Callable

from shared.errors import AuthError, ConfigError, PermanentError, TransientError, ValidationError
from shared.posts.repository import APPROVALS, Repository, run_with_contention_retry
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_context, log_event, register_secret
from shared.youtube_sync.model import (AUDIT, CHANGES, FIELDS, ID_PREFIX, MetadataChange, MetadataChangeRequest,
                                       MetadataValues, change_hash, changed_fields, values_of)

log = logging.getLogger(__name__)
AUDIT_TABLE = "youtube_metadata_audit"
REASON_MAX_CHARS = 1000
LABELS = {"title": "Title", "description": "Description", "tags": "Tags", "privacy": "Privacy"}

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
    """After the decision: apply an approved change, then the audit record, then tell the requester."""
    with log_context(correlation_id=change.id):
        if change.status == "approved":
            change = _apply(repo, config, secrets, change, now=now)
        else:
            change = _finish(repo, change, outcome="rejected", status="rejected")
        write_audit(repo, bq, config.project, change)
        try:
            publish({"metadata_change_id": change.id, "outcome": change.outcome})
        except Exception as exc:  # noqa: BLE001 - the outcome stands; only the notice is lost
            log_event(log, logging.ERROR, "could not send the metadata change notice", error=str(exc))
        return change


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
def _apply(repo: Repository, config, secrets, change: MetadataChange, now: datetime | None = None) -> MetadataChange:
    from shared.platforms.youtube.client import writable_parts

    account = repo.get_account(change.account_id)
    if account is None:
        return _finish(repo, change, outcome="failed", failure_reason=f"account {change.account_id} no longer exists")
    try:
        client = _client(repo, config, secrets, change.account_id, account, "videos.list")
        video = client.get_video(change.video_id)
        if video is None:
            return _finish(repo, change, outcome="failed",
                           failure_reason=f"YouTube no longer lists video {change.video_id}")
        current = values_of(video)
        moved = [name for name in FIELDS if getattr(current, name) != getattr(change.before, name)]
        if moved:
            log_event(log, logging.WARNING, "metadata change refused: the video changed on YouTube", fields=moved)
            return _finish(repo, change, outcome="conflict", after=current,
                           failure_reason=f"the video's {', '.join(moved)} changed on YouTube after the change was "
                                          "requested; nothing was overwritten. Request the change again")
        snippet, status = writable_parts(video)
        snippet, status = _merged(snippet, status, change, now or utcnow())
        _charge(repo, config, account, "videos.update")
        answer = client.update_video(change.video_id, snippet=snippet, status=status)
    except AuthError as exc:
        return _finish(repo, change, outcome="failed", platform_response={"error": exc.platform_code},
                       failure_reason=f"{exc}; reconnect the account and request the change again")
    except (PermanentError, TransientError, ConfigError) as exc:
        # A transient error on the update itself leaves its effect unknown; the audit says so.
        return _finish(repo, change, outcome="failed", platform_response={"error": getattr(exc, "platform_code", None)},
                       failure_reason=f"YouTube did not apply the change: {exc}")
    after = values_of(answer)
    response = {"id": answer.get("id"), **dict(zip(("snippet", "status"), writable_parts(answer)))}
    kept = [name for name, value in change.proposed.given().items() if getattr(after, name) != value]
    if kept:
        return _finish(repo, change, outcome="failed", after=after, platform_response=response,
                       failure_reason=f"YouTube accepted the update but kept the old {', '.join(kept)}")
    log_event(log, logging.INFO, "youtube metadata change applied", video_id=change.video_id,
              fields=list(change.proposed.given()))
    return _finish(repo, change, outcome="applied", after=after, platform_response=response)


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
            failure_reason: str | None = None) -> MetadataChange:
    now = utcnow()
    status = status or ("applied" if outcome == "applied" else "failed")
    fields = {"status": status, "outcome": outcome, "after": after.model_dump() if after else None,
              "platform_response": platform_response, "failure_reason": failure_reason, "updated_at": now}
    if outcome == "applied":
        fields["applied_at"] = now
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


def write_audit(repo: Repository, bq, project: str, change: MetadataChange) -> None:
    """Firestore `metadata_change_audit/{change id}` and one BigQuery row keyed by the change id: a
    retry rewrites the same document and finds the row already there (MERGE), so nothing doubles."""
    row = audit_row(change)
    repo.db.collection(AUDIT).document(change.id).set(row)
    try:
        _merge_row(bq, project, row)
    except Exception as exc:  # noqa: BLE001 - the change stands; the Firestore record says the row is missing
        log_event(log, logging.ERROR, "audit row not written to BigQuery", error=f"{type(exc).__name__}: {exc}")
        return
    repo.db.collection(CHANGES).document(change.id).update({"audit_written": True})


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
    from shared.pubsub import publish_json
    from shared.topology import get_topology

    topic = get_topology().functions["approval-notify"].trigger.topic

    def publish(payload: dict) -> None:
        publish_json(config.project, topic, payload, correlation_id=payload["metadata_change_id"])

    return publish


def notify(payload: dict, *, repo: Repository, config, secrets) -> int:
    """approval-notify for a change: the signed links to each approver, or the outcome to the requester."""
    from shared.approval.notifiers import ApprovalRequest, DecisionNotice, notifier_from_config
    from shared.approval.service import DEFAULT_APPROVER, link_for
    from shared.approval.tokens import issue_token

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
        expires = utcnow() + timedelta(seconds=config.approval_link_ttl_seconds)
        notifier = notifier_from_config(config, secrets)
        sent = 0
        for recipient in config.approver_list or [DEFAULT_APPROVER]:
            urls = {}
            for action in ("approve", "reject"):
                token, _ = issue_token(key, content_id=change.id, content_hash=change.change_hash, action=action,
                                       expires_at=expires, recipient=recipient)
                register_secret(token)
                urls[action] = link_for(config.approval_base_url, token)
            notifier.send(ApprovalRequest(change.id, change.campaign, recipient, preview_text(change),
                                          [f"youtube:{change.account_id}"], urls["approve"], urls["reject"]))
            sent += 1
        log_event(log, logging.INFO, "metadata change approval requested", recipients=sent)
        return sent


def _outcome_words(change: MetadataChange) -> str:
    """Fits "the post ... was <words> by <approver>" and a file name in the local outbox."""
    return {"applied": "applied", "rejected": "rejected", "conflict": "approved-not-applied-conflict",
            "failed": "approved-not-applied"}.get(change.outcome or "", str(change.outcome))
