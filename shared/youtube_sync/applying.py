"""Applying an approved YouTube metadata change: read-modify-write under a lease, settled even when unanswered.

On approval the video is read again: if any field the approver saw differs from `before`, someone
edited the video since, and the change is refused as a conflict instead of overwriting their edit.
Otherwise videos.update gets the whole snippet and status parts back with only the approved fields
changed (the update replaces both parts).

The recorded state stays true when a call or a process fails midway. Applying needs a lease
(status `applying`, `apply_claim`, taken in a transaction), and each videos.update is counted in
Firestore before it is sent, so two appliers never both send and a crash after sending is known.
An update that got no clear answer (timeout, 5xx) is settled by reading the video back: the
approved values -> applied; the old values -> not applied, sent again on a later run (at most
MAX_UPDATE_ATTEMPTS); anything else -> conflict.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from shared.errors import AuthError, ConfigError, PermanentError, TransientError
from shared.model.account import Account
from shared.platforms.registry import adapter_for
from shared.platforms.youtube.adapter import client_for
from shared.platforms.youtube.client import writable_parts
from shared.platforms.youtube.quota import charge, quota_key
from shared.publishing.publisher import account_tokens
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.stores.change_leases import write_if_held
from shared.stores.posts import Repository, run_with_contention_retry
from shared.stores.protocols import SecretStore
from shared.youtube_sync.model import (
    CHANGES,
    MetadataChange,
    MetadataValues,
    classify,
    compared_fields,
    moved_fields,
    to_parts,
    values_of,
)

log = logging.getLogger(__name__)
APPLY_LEASE_SECONDS = 300  # well over a read, an update and a read-back at their HTTP timeouts
MAX_UPDATE_ATTEMPTS = 3  # videos.update calls that YouTube did not apply before the change fails
RETRY_BASE_SECONDS, RETRY_MAX_SECONDS = 60, 3600


def apply_approved(repo: Repository, config: Config, secrets: SecretStore, change_id: str, *, now: datetime | None = None,
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
    if write_if_held(repo, CHANGES, change.id, change.apply_claim, fields):
        return change.model_copy(update=fields)
    log_event(log, logging.WARNING, "metadata change lease lost; leaving it to the new holder")
    return None


def _classify(change: MetadataChange, current: MetadataValues) -> str:
    return classify(change.before, change.proposed, current)


def _apply(repo: Repository, config: Config, secrets: SecretStore, change: MetadataChange, now: datetime) -> MetadataChange | None:
    account = repo.get_account(change.account_id)
    if account is None:
        return record_outcome(repo, change, outcome="failed", failure_reason=f"account {change.account_id} no longer exists")
    unsure = change.update_attempts > 0  # an update of ours may already be live
    try:
        client = youtube_client(repo, config, secrets, change.account_id, account, "videos.list")
        video = client.get_video(change.video_id)
    except TransientError as exc:  # incl. our own daily quota: nothing was sent, try later
        return _defer(repo, change, now, f"could not read the video: {exc}", getattr(exc, "retry_after", None))
    except (AuthError, PermanentError, ConfigError) as exc:
        if unsure:  # cannot tell whether the last update landed: never call it failed
            return _defer(repo, change, now, f"could not read the video back: {exc}")
        suffix = "; reconnect the account and request the change again" if isinstance(exc, AuthError) else ""
        return record_outcome(repo, change, outcome="failed", platform_response={"error": getattr(exc, "platform_code", None)},
                       failure_reason=f"YouTube did not apply the change: {exc}{suffix}")
    if video is None:
        return record_outcome(repo, change, outcome="failed", failure_reason=f"YouTube no longer lists video {change.video_id}")
    current = values_of(video)
    state = _classify(change, current)
    if unsure and state in ("after", "kept"):
        return _settled_by_reading(repo, change, current, state, change.last_error)
    if state != "before":
        moved = [n for n in compared_fields(change.before, change.proposed)
                 if getattr(current, n) != getattr(change.before, n)]
        log_event(log, logging.WARNING, "metadata change refused: the video changed on YouTube", fields=moved)
        return record_outcome(repo, change, outcome="conflict", after=current,
                       failure_reason=f"the video's {', '.join(moved)} changed on YouTube after the change was "
                                      "requested; nothing was overwritten. Request the change again")
    if change.update_attempts >= MAX_UPDATE_ATTEMPTS:
        return record_outcome(repo, change, outcome="failed", after=current,
                       failure_reason=f"YouTube did not apply the change: {change.update_attempts} updates were "
                                      f"refused or unanswered and the video still has its old values "
                                      f"(last: {change.last_error})")
    snippet, status = _merged(*writable_parts(video), change, now)
    try:
        charge_account(repo, config, account, "videos.update")
    except TransientError as exc:
        return _defer(repo, change, now, str(exc), exc.retry_after)
    sending = _held(repo, change, {"update_attempts": change.update_attempts + 1, "updated_at": utcnow()})
    if sending is None:
        return None
    change = sending
    try:
        answer = client.update_video(change.video_id, snippet=snippet, status=status)
    except AuthError as exc:  # refused (the token was refreshed once): not applied
        return record_outcome(repo, change, outcome="failed", platform_response={"error": exc.platform_code},
                       failure_reason=f"{exc}; reconnect the account and request the change again")
    except (PermanentError, ConfigError) as exc:  # a 4xx refusal: not applied
        return record_outcome(repo, change, outcome="failed", platform_response={"error": getattr(exc, "platform_code", None)},
                       failure_reason=f"YouTube did not apply the change: {exc}")
    except TransientError as exc:  # timeout or 5xx: the update may or may not have been applied
        log_event(log, logging.WARNING, "videos.update unanswered; reading the video back", error=str(exc))
        return _read_back(repo, client, change, now, f"videos.update: {exc}")
    after = values_of(answer)
    response = {"id": answer.get("id"), **dict(zip(("snippet", "status"), writable_parts(answer)))}
    kept = [name for name, value in change.proposed.given().items() if getattr(after, name) != value]
    if kept:
        return record_outcome(repo, change, outcome="failed", after=after, platform_response=response,
                       failure_reason=f"YouTube accepted the update but kept the old {', '.join(kept)}")
    log_event(log, logging.INFO, "youtube metadata change applied", video_id=change.video_id,
              fields=list(change.proposed.given()))
    return record_outcome(repo, change, outcome="applied", after=after, platform_response=response)


def _read_back(repo: Repository, client, change: MetadataChange, now: datetime, error: str) -> MetadataChange | None:
    """Settle an unanswered update by what YouTube now holds."""
    try:
        video = client.get_video(change.video_id)
    except Exception as exc:  # noqa: BLE001 - still unknown: a later run reads again
        return _defer(repo, change, now, f"{error}; reading back failed: {exc}")
    if video is None:
        return record_outcome(repo, change, outcome="failed", failure_reason=f"YouTube no longer lists video {change.video_id}")
    current = values_of(video)
    state = _classify(change, current)
    if state in ("after", "kept"):
        return _settled_by_reading(repo, change, current, state, error)
    if state == "before":  # not applied (yet): send it again on a later run, after reading once more
        return _defer(repo, change, now, f"{error}; the video still has its old values")
    moved = moved_fields(change.before, change.proposed, current)
    return record_outcome(repo, change, outcome="conflict", after=current,
                   failure_reason=f"videos.update got no answer and the video's {', '.join(moved)} now differ from "
                                  "both the old and the approved values: it was edited on YouTube meanwhile")


def _settled_by_reading(repo: Repository, change: MetadataChange, current: MetadataValues, state: str,
                        error: str | None) -> MetadataChange | None:
    # The update's own answer was lost: the audit keeps what it said and how the outcome was known.
    response = {"note": "confirmed by reading back", "read_with": "videos.list", "update_error": error}
    if state == "kept":
        kept = [n for n, v in change.proposed.given().items() if getattr(current, n) != v]
        return record_outcome(repo, change, outcome="failed", after=current, platform_response=response,
                       failure_reason=f"YouTube accepted the update but kept the old {', '.join(kept)} "
                                      "(confirmed by reading back)")
    log_event(log, logging.INFO, "youtube metadata change applied (confirmed by reading back)",
              video_id=change.video_id, fields=list(change.proposed.given()))
    return record_outcome(repo, change, outcome="applied", after=current, platform_response=response)


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
    return merged_parts(snippet, status, change.proposed, now)


def merged_parts(snippet: dict, status: dict, proposed: MetadataValues, now: datetime) -> tuple[dict, dict]:
    """A video's writable parts as read with the proposed fields set, ready for videos.update."""
    snippet, status = to_parts(proposed, snippet, status)
    publish_at = status.get("publishAt")
    # A scheduled release is only valid on a private video and only in the future.
    if publish_at and (status.get("privacyStatus") != "private"
                       or datetime.fromisoformat(str(publish_at).replace("Z", "+00:00")) <= now):
        status.pop("publishAt")
    return snippet, status


def record_outcome(repo: Repository, change: MetadataChange, *, outcome: str, status: str | None = None,
                   after: MetadataValues | None = None, platform_response: dict | None = None,
                   failure_reason: str | None = None) -> MetadataChange | None:
    """Record the outcome. An applier writes it only while it holds the lease (None if it lost it)."""
    now = utcnow()
    status = status or ("applied" if outcome == "applied" else "failed")
    after = after.seen_by(change.proposed) if after else None
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


def youtube_client(repo: Repository, config: Config, secrets: SecretStore, account_id: str, account: Account, method: str):
    """The real client for the account: its tokens (refreshed once on a 401), the call charged first."""
    charge_account(repo, config, account, method)
    return uncharged_client(repo, config, secrets, account_id, account)


def uncharged_client(repo: Repository, config: Config, secrets: SecretStore, account_id: str, account: Account):
    """The client for a caller that charges each call itself (charge_account) before sending it."""
    tokens = account_tokens(account_id, account, adapter_for("youtube"), repo=repo, config=config, secrets=secrets)
    return client_for(tokens, config)


def charge_account(repo: Repository, config: Config, account: Account, method: str, now: datetime | None = None) -> None:
    """Spend `method`'s quota units of the account's API project before the call (CapReached when spent)."""
    charge(repo.db, method, daily_quota=config.youtube_daily_quota, key=quota_key(account), now=now)
