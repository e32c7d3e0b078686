"""Applying an approved Content ID change exactly once, settled even when YouTube's answer is lost.

Applying needs a lease (status `applying`, `apply_claim`, taken in a transaction), and each write
(claims.insert, claims.patch) is counted in Firestore before it is sent, so two appliers never both
send and a crash after sending is known. Before writing, YouTube is read again: a claim change whose
asset has claimed the video meanwhile, or a policy change whose claim's policy or status moved since
the request, is refused as a conflict instead of overwriting someone's edit.

An unanswered write (timeout, 5xx, or claims.insert's "already exists" after our own send) is
settled by reading YouTube: claims.insert by claimSearch.list on the video (the claim of our asset is
there -> applied; not yet -> look again later, up to MAX_LOOKUPS runs, then failed: nothing is
inserted a second time); claims.patch by claims.get (the approved policy -> applied; the old one ->
sent again later, which is harmless, at most MAX_WRITES times).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from shared.content_id.model import CHANGES, ContentIdChange
from shared.errors import AuthError, ConfigError, PermanentError, TransientError
from shared.model.account import Account
from shared.platforms.registry import adapter_for
from shared.platforms.youtube.content_id import ContentIdClient, policy_of
from shared.publishing.publisher import account_tokens
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.stores.change_leases import write_if_held
from shared.stores.posts import Repository, run_with_contention_retry
from shared.stores.protocols import SecretStore

log = logging.getLogger(__name__)
APPLY_GRACE_SECONDS = 120  # the deciding request applies at once; after this the status poll may take over
APPLY_LEASE_SECONDS = 300
MAX_WRITES = 3  # claims.patch calls YouTube did not apply before the change fails
MAX_LOOKUPS = 4  # runs that look for the claim of an unanswered claims.insert before calling it not applied
RETRY_BASE_SECONDS, RETRY_MAX_SECONDS = 60, 3600


def content_id_client(repo: Repository, config: Config, secrets: SecretStore, account_id: str,
                      account: Account) -> ContentIdClient:
    """The Content ID client acting with the account's tokens (refreshed once on a 401)."""
    tokens = account_tokens(account_id, account, adapter_for("youtube"), repo=repo, config=config, secrets=secrets)
    return ContentIdClient(tokens, base_url=config.youtube_partner_base_url, timeout=config.http_timeout_seconds)


def apply_approved(repo: Repository, config: Config, secrets: SecretStore, change_id: str, *,
                   now: datetime | None = None, due_only: bool = False) -> ContentIdChange | None:
    """Take the lease on an approved change (or one whose applier's lease ran out) and apply or settle
    it. None when another applier holds it or nothing is left to do. `due_only`: the status poll."""
    now = now or utcnow()
    claimed = _claim_apply(repo, change_id, now, due_only=due_only)
    if claimed is None:
        return None
    with log_context(correlation_id=change_id):
        account = repo.get_account(claimed.account_id)
        if account is None:
            return record_outcome(repo, claimed, outcome="failed", failure_reason=f"account {claimed.account_id} "
                                  "no longer exists")
        try:
            client = content_id_client(repo, config, secrets, claimed.account_id, account)
        except TransientError as exc:
            return _defer(repo, claimed, now, f"no token: {exc}")
        if claimed.kind == "claim":
            return _apply_claim(repo, client, claimed, now)
        return _apply_policy(repo, client, claimed, now)


def _claim_apply(repo: Repository, change_id: str, now: datetime, *, due_only: bool) -> ContentIdChange | None:
    from google.cloud import firestore

    ref = repo.db.collection(CHANGES).document(change_id)

    @firestore.transactional
    def _take(transaction):
        snap = ref.get(transaction=transaction)
        if not snap.exists:
            return None
        change = ContentIdChange.model_validate(snap.to_dict())
        due = change.apply_due_at is not None and change.apply_due_at <= now
        if not ((change.status == "approved" and (due or not due_only)) or (change.status == "applying" and due)):
            return None
        fields = {"status": "applying", "apply_claim": uuid.uuid4().hex,
                  "apply_due_at": now + timedelta(seconds=APPLY_LEASE_SECONDS), "updated_at": utcnow()}
        transaction.update(ref, fields)
        return change.model_copy(update=fields)

    return run_with_contention_retry(lambda: _take(repo.db.transaction()))


def _held(repo: Repository, change: ContentIdChange, fields: dict) -> ContentIdChange | None:
    """Write `fields` only while this applier still holds the lease; else None (someone took over)."""
    if write_if_held(repo, CHANGES, change.id, change.apply_claim, fields):
        return change.model_copy(update=fields)
    log_event(log, logging.WARNING, "content id change lease lost; leaving it to the new holder")
    return None


def _claim_view(claim: dict) -> dict:
    return {"claim_id": claim.get("id"), "asset_id": claim.get("assetId"), "video_id": claim.get("videoId"),
            "content_type": claim.get("contentType"), "status": claim.get("status"), "policy": policy_of(claim)}


# -- a new claim -----------------------------------------------------------------------------------
def _apply_claim(repo: Repository, client: ContentIdClient, change: ContentIdChange, now: datetime):
    owner, unsure = change.content_owner_id, change.write_attempts > 0
    try:
        ours = _claims_of_asset(client, change)
    except TransientError as exc:
        return _defer(repo, change, now, f"claimSearch.list: {exc}", exc.retry_after)
    except (AuthError, PermanentError, ConfigError) as exc:
        if unsure:  # cannot tell whether our insert landed: never call it failed
            return _defer(repo, change, now, f"could not look the claim up: {exc}")
        return _refused(repo, change, exc)
    if unsure:
        return _settle_insert(repo, client, change, ours, now)
    if ours:
        return record_outcome(repo, change, outcome="conflict", after=_claim_view(ours[0]),
                              failure_reason=f"video {change.video_id} was claimed with asset {change.asset_id} (claim "
                                             f"{ours[0].get('id')}) after the change was requested; nothing was inserted")
    sending = _held(repo, change, {"write_attempts": 1, "updated_at": utcnow()})
    if sending is None:
        return None
    try:
        claim = client.insert_claim(owner, video_id=change.video_id, asset_id=change.asset_id,
                                    content_type=change.proposed["content_type"], policy=change.proposed["policy"])
    except PermanentError as exc:
        if exc.platform_code != "alreadyExists":  # a clear refusal: nothing was created
            return _refused(repo, sending, exc)
        error: Exception = exc
    except TransientError as exc:
        error = exc
    else:
        log_event(log, logging.INFO, "content id claim created", claim_id=claim.get("id"), video_id=change.video_id)
        return record_outcome(repo, sending, outcome="applied", after=_claim_view(claim), claim_id=claim.get("id"),
                              platform_response={"claim": _claim_view(claim)})
    log_event(log, logging.WARNING, "claims.insert unanswered; looking the claim up", error=str(error))
    try:
        ours = _claims_of_asset(client, sending)
    except Exception as exc:  # noqa: BLE001 - still unknown: a later run looks again
        return _defer(repo, sending, now, f"claims.insert: {error}; claimSearch.list failed: {exc}")
    return _settle_insert(repo, client, sending.model_copy(update={"last_error": f"claims.insert: {error}"}), ours, now)


def _claims_of_asset(client: ContentIdClient, change: ContentIdChange) -> list[dict]:
    return [c for c in client.claims_of_video(change.content_owner_id, change.video_id)
            if c.get("assetId") == change.asset_id and c.get("status") != "inactive"]


def _settle_insert(repo: Repository, client: ContentIdClient, change: ContentIdChange, ours: list[dict], now: datetime):
    """An insert of ours may have landed: the claim search says. Never inserted again."""
    if ours:
        claim = client.get_claim(change.content_owner_id, str(ours[0]["id"])) or ours[0]
        log_event(log, logging.INFO, "content id claim created (found by claimSearch)", claim_id=ours[0].get("id"))
        return record_outcome(repo, change, outcome="applied", after=_claim_view(claim), claim_id=str(ours[0]["id"]),
                              platform_response={"note": "found by claimSearch.list after claims.insert got no answer",
                                                 "insert_error": change.last_error})
    if change.apply_tries + 1 >= MAX_LOOKUPS:
        return record_outcome(repo, change, outcome="failed", failure_reason=(
            f"claims.insert got no answer and after {MAX_LOOKUPS} lookups YouTube shows no claim of asset "
            f"{change.asset_id} on video {change.video_id}: not applied, and not inserted a second time; request it "
            f"again (last: {change.last_error})"))
    return _defer(repo, change, now, f"{change.last_error or 'claims.insert unanswered'}; no claim found yet")


# -- a claim's policy ------------------------------------------------------------------------------
def _apply_policy(repo: Repository, client: ContentIdClient, change: ContentIdChange, now: datetime):
    owner, claim_id, unsure = change.content_owner_id, str(change.claim_id), change.write_attempts > 0
    wanted = change.proposed["policy"]
    try:
        claim = client.get_claim(owner, claim_id)
    except TransientError as exc:
        return _defer(repo, change, now, f"claims.get: {exc}", exc.retry_after)
    except (AuthError, PermanentError, ConfigError) as exc:
        if unsure:
            return _defer(repo, change, now, f"could not read the claim back: {exc}")
        return _refused(repo, change, exc)
    if claim is None:
        return record_outcome(repo, change, outcome="failed", failure_reason=f"claim {claim_id} no longer exists")
    if unsure and policy_of(claim) == wanted:
        return _patched(repo, change, claim, read_back=True)
    moved = [name for name, now_value in (("policy", policy_of(claim)), ("status", claim.get("status")))
             if now_value != change.before.get(name)]
    if moved:
        return record_outcome(repo, change, outcome="conflict", after=_claim_view(claim),
                              failure_reason=f"the claim's {' and '.join(moved)} changed on YouTube after the change "
                                             "was requested; nothing was overwritten. Request the change again")
    if change.write_attempts >= MAX_WRITES:
        return record_outcome(repo, change, outcome="failed", after=_claim_view(claim), failure_reason=(
            f"YouTube did not apply the policy: {change.write_attempts} claims.patch calls were unanswered and the "
            f"claim still has its old policy (last: {change.last_error})"))
    sending = _held(repo, change, {"write_attempts": change.write_attempts + 1, "updated_at": utcnow()})
    if sending is None:
        return None
    try:
        answer = client.patch_claim_policy(owner, claim_id, wanted)
    except (AuthError, PermanentError, ConfigError) as exc:
        return _refused(repo, sending, exc)
    except TransientError as exc:
        log_event(log, logging.WARNING, "claims.patch unanswered; reading the claim back", error=str(exc))
        try:
            claim = client.get_claim(owner, claim_id)
        except Exception as read_exc:  # noqa: BLE001 - still unknown: a later run reads again
            return _defer(repo, sending, now, f"claims.patch: {exc}; claims.get failed: {read_exc}")
        if claim is not None and policy_of(claim) == wanted:
            return _patched(repo, sending.model_copy(update={"last_error": f"claims.patch: {exc}"}), claim,
                            read_back=True)
        return _defer(repo, sending, now, f"claims.patch: {exc}; the claim still has its old policy")
    if policy_of(answer) != wanted:
        return record_outcome(repo, sending, outcome="failed", after=_claim_view(answer),
                              platform_response={"claim": _claim_view(answer)},
                              failure_reason="YouTube accepted claims.patch but kept another policy")
    return _patched(repo, sending, answer, read_back=False)


def _patched(repo: Repository, change: ContentIdChange, claim: dict, *, read_back: bool):
    log_event(log, logging.INFO, "content id claim policy changed", claim_id=change.claim_id, read_back=read_back)
    response = ({"note": "confirmed by claims.get after claims.patch got no answer", "patch_error": change.last_error}
                if read_back else {"claim": _claim_view(claim)})
    return record_outcome(repo, change, outcome="applied", after=_claim_view(claim), platform_response=response)


# -- outcomes --------------------------------------------------------------------------------------
def _refused(repo: Repository, change: ContentIdChange, exc: Exception):
    suffix = "; reconnect the account and request the change again" if isinstance(exc, AuthError) else ""
    return record_outcome(repo, change, outcome="failed", platform_response={"error": getattr(exc, "platform_code", None)},
                          failure_reason=f"YouTube did not apply the change: {exc}{suffix}")


def _defer(repo: Repository, change: ContentIdChange, now: datetime, error: str,
           retry_after: float | None = None) -> ContentIdChange | None:
    """No outcome yet: back to approved, for the status poll to try again at apply_due_at."""
    delay = min(max(RETRY_BASE_SECONDS * 2 ** change.apply_tries, retry_after or 0), RETRY_MAX_SECONDS)
    log_event(log, logging.WARNING, "content id change not settled; will try again", error=error, retry_in=delay,
              write_attempts=change.write_attempts)
    return _held(repo, change, {"status": "approved", "apply_claim": None, "apply_tries": change.apply_tries + 1,
                                "apply_due_at": now + timedelta(seconds=delay), "last_error": error[:1000],
                                "updated_at": utcnow()})


def record_outcome(repo: Repository, change: ContentIdChange, *, outcome: str, status: str | None = None,
                   after: dict | None = None, platform_response: dict | None = None, failure_reason: str | None = None,
                   claim_id: str | None = None) -> ContentIdChange | None:
    """Record the outcome. An applier writes it only while it holds the lease (None if it lost it)."""
    now = utcnow()
    status = status or ("applied" if outcome == "applied" else "failed")
    fields = {"status": status, "outcome": outcome, "after": after, "platform_response": platform_response,
              "failure_reason": failure_reason, "updated_at": now, "apply_due_at": None, "apply_claim": None}
    if claim_id:
        fields["claim_id"] = claim_id
    if outcome == "applied":
        fields["applied_at"] = now
    if change.status == "applying":
        if _held(repo, change, fields) is None:
            return None
    else:
        repo.db.collection(CHANGES).document(change.id).update(fields)
    if outcome not in ("applied", "rejected"):
        log_event(log, logging.WARNING, f"content id change {outcome}", reason=failure_reason)
    return change.model_copy(update=fields)
