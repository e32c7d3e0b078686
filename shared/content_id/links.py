"""Approval links of Content ID changes: approval-notify sends the signed approve and reject links (and
the outcome to the requester); approval-http answers them with the same tokens, page and rules as
for a post or a metadata change (GET shows, never decides; POST approve|reject once; the same
used-token collection), reviewing each field before -> after."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from shared.approval import pages
from shared.approval.checks import token_used
from shared.approval.links import mint_requests, page_tokens, verify_link
from shared.approval.notifiers import DecisionNotice, notifier_from_config
from shared.approval.refusals import NothingToDecide, TokenRefused
from shared.approval.tokens import ACTIONS, verify_token
from shared.content_id import service
from shared.content_id.model import ID_PREFIX, ContentIdChange
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.stores.posts import Repository
from shared.stores.protocols import SecretStore

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger(__name__)
CAMPAIGN = "youtube-content-id"  # what the approval message names as the campaign

_REVIEW = pages.page_template("""
<p class="muted">YouTube Content ID · video <strong>{{ change.video_id }}</strong> ({{ change.video_title }}) ·
account {{ change.account_id }} · content owner {{ change.content_owner_id }} · requested by {{ change.requested_by }}</p>
<h2>{{ heading }}</h2>
<section class="target" data-platform="youtube" data-change="{{ change.id }}">
<dl>{% for label, before, after in rows %}<dt>{{ label }}</dt>
<dd><div class="muted">now</div><div class="text before">{{ before }}</div>
<div class="muted">after approval</div><div class="text after">{{ after }}</div></dd>{% endfor %}</dl></section>
<form method="post"><input type="hidden" name="token" value="{{ approve_token }}">
<button class="approve" type="submit" name="action" value="approve">Approve and apply</button></form>
<form method="post"><input type="hidden" name="token" value="{{ reject_token }}">
<label for="reason">Reason for rejecting (optional; {{ change.requested_by }} sees it)</label>
<textarea id="reason" name="reason" maxlength="1000"></textarea>
<button class="reject" type="submit" name="action" value="reject">Reject</button></form>
<p class="muted">Nothing happens until you press a button. This link expires {{ expires }} and works once.
If the claim changes on YouTube before you approve, the change is not applied.</p>""")


# -- approval-notify -------------------------------------------------------------------------------
def notify(payload: dict, *, repo: Repository, config: Config, secrets: SecretStore) -> int:
    """The signed links to each approver, or the outcome to the requester."""
    change_id = str(payload.get("content_id_change_id"))
    with log_context(correlation_id=change_id):
        change = service.get_change(repo, change_id)
        if payload.get("outcome"):
            if change is None or change.outcome != payload["outcome"]:
                return 0
            words = {"applied": "applied", "rejected": "rejected", "conflict": "approved-not-applied-conflict",
                     "failed": "approved-not-applied"}.get(change.outcome or "", str(change.outcome))
            notifier_from_config(config, secrets).notify(DecisionNotice(
                change.id, CAMPAIGN, change.requested_by, words, change.decided_by or "?",
                change.failure_reason or change.reason, service.preview_text(change)))
            return 1
        if change is None or change.status != "pending_approval" or change.change_hash != payload.get("change_hash"):
            log_event(log, logging.INFO, "content id change needs no approval request",
                      status=change.status if change else None)
            return 0
        key = secrets.access(config.approval_signing_secret)
        notifier = notifier_from_config(config, secrets)
        sent = 0
        for request in mint_requests(config, key, subject_id=change.id, subject_hash=change.change_hash,
                                     campaign=CAMPAIGN, preview=service.preview_text(change),
                                     targets=[f"youtube:{change.account_id}"]):
            notifier.send(request)
            sent += 1
        log_event(log, logging.INFO, "content id change approval requested", recipients=sent)
        return sent


# -- approval-http ---------------------------------------------------------------------------------
def is_change_link(signing_key: str, token: str | None) -> bool:
    """A valid link whose subject is a Content ID change (ids start with ID_PREFIX)."""
    if not token:
        return False
    try:
        claims = verify_token(signing_key, token, now=utcnow())
    except TokenRefused:
        return False  # the post flow answers it with the same refusal
    return claims.content_id.startswith(ID_PREFIX)


def answer(method: str, form: dict[str, str], token: str, *, repo: Repository, signing_key: str, config: Config,
           secrets: SecretStore, bq: bigquery.Client) -> pages.PageResult:
    if method != "POST" or (form.get("step") == "review" and not form.get("action")):
        return review(repo, signing_key, token)
    if form.get("action") not in ACTIONS:
        return pages.unknown_action()
    return decide(repo, signing_key, token, str(form["action"]), config=config, secrets=secrets, bq=bq,
                  reason=form.get("reason"))


def review(repo: Repository, signing_key: str, token: str, now: datetime | None = None) -> pages.PageResult:
    """Read-only: before -> after per field, and both buttons."""
    try:
        claims = verify_link(signing_key, token, now or utcnow())
    except TokenRefused as refused:
        return pages.refused(refused)
    with log_context(correlation_id=claims.content_id):
        change = service.get_change(repo, claims.content_id)
        problem = service.why_not_decidable(change, claims.content_hash, used=token_used(repo, claims.token_id))
        if problem:
            return pages.refused(NothingToDecide("not_decidable", problem))
        assert change is not None  # why_not_decidable refuses a missing change
        tokens = page_tokens(signing_key, token, claims)
        heading = "New claim" if change.kind == "claim" else f"New policy for claim {change.claim_id}"
        html = _REVIEW.render(title="Review YouTube Content ID change", change=change, heading=heading,
                              rows=service.describe(change), approve_token=tokens["approve"],
                              reject_token=tokens["reject"],
                              expires=pages.when_text(claims.expires_at, pages.zone_or_utc(None)))
        return pages.PageResult(200, html)


def decide(repo: Repository, signing_key: str, token: str, action: str, *, config: Config, secrets: SecretStore,
           bq: bigquery.Client, reason: str | None = None, now: datetime | None = None) -> pages.PageResult:
    try:
        claims = verify_link(signing_key, token, now or utcnow(), action)
    except TokenRefused as refused:
        return pages.refused(refused)
    with log_context(correlation_id=claims.content_id):
        decided = service.record_decision(repo, claims.content_id, action=claims.action,
                                          hash_claimed=claims.content_hash, decided_by=claims.recipient, via="link",
                                          token_id=claims.token_id, reason=reason)
        if isinstance(decided, str):
            return pages.refused(NothingToDecide("not_decidable", decided))
        done = service.settle_decision(repo, config, secrets, bq, decided, publish=service.publisher(config))
        log_event(log, logging.INFO, "content id change decided by link", outcome=done.outcome)
        return pages.PageResult(200, _outcome_page(done), decision=done.decision)


def _outcome_page(change: ContentIdChange) -> str:
    recap = [f"{label}: {before} → {after}" for label, before, after in service.describe(change)]
    if change.outcome == "rejected":
        note = f"Reason recorded for {change.requested_by}: {change.reason}" if change.reason else "No reason was given."
        return pages.result_page("Rejected", "Rejected. Nothing was changed on YouTube.", recap=recap,
                                 recap_title="Not applied", note=note)
    if change.outcome is None:
        return pages.result_page("Approved", "Approved. YouTube did not answer in time; Postgate looks the claim up "
                                 "and finishes within a few minutes, never applying it twice.", recap=recap,
                                 recap_title="To apply", note=f"{change.requested_by} hears the outcome.")
    if change.outcome == "applied":
        return pages.result_page("Approved and applied", f"Claim {change.claim_id} on video {change.video_id} is in "
                                 "place.", recap=recap, recap_title="Changed", note="You can close this page.")
    title = "Approved, not applied" if change.outcome == "failed" else "Approved, but the claim changed"
    return pages.result_page(title, f"Nothing was overwritten: {change.failure_reason}.", recap=recap,
                             recap_title="Not applied")
