"""approval-notify for YouTube metadata changes: the signed approve and reject links to each
approver when a change is requested, and the outcome to the requester once it is settled."""

from __future__ import annotations

import logging

from shared.approval.links import mint_requests
from shared.approval.notifiers import DecisionNotice, notifier_from_config
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.stores.posts import Repository
from shared.stores.protocols import SecretStore
from shared.youtube_sync.model import MetadataChange
from shared.youtube_sync.service import get_change, preview_text

log = logging.getLogger(__name__)
CATALOGUE_CAMPAIGN = "youtube-catalogue"  # what the approval message names as the campaign of a catalogue change


def notify(payload: dict, *, repo: Repository, config: Config, secrets: SecretStore) -> int:
    """approval-notify for a change: the signed links to each approver, or the outcome to the requester."""
    change_id = str(payload.get("metadata_change_id"))
    with log_context(correlation_id=change_id):
        change = get_change(repo, change_id)
        if payload.get("outcome"):
            if change is None or change.outcome != payload["outcome"]:
                return 0
            why = change.failure_reason or change.reason
            notice = DecisionNotice(change.id, change.campaign or CATALOGUE_CAMPAIGN, change.requested_by, _outcome_words(change),
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
                                     campaign=change.campaign or CATALOGUE_CAMPAIGN, preview=preview_text(change),
                                     targets=[f"youtube:{change.account_id}"]):
            notifier.send(request)
            sent += 1
        log_event(log, logging.INFO, "metadata change approval requested", recipients=sent)
        return sent


def _outcome_words(change: MetadataChange) -> str:
    """Fits "the post ... was <words> by <approver>" and a file name in the local outbox."""
    return {"applied": "applied", "rejected": "rejected", "conflict": "approved-not-applied-conflict",
            "failed": "approved-not-applied"}.get(change.outcome or "", str(change.outcome))
