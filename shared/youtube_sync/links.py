"""The approval page for a YouTube metadata change: the same signed link, page and rules as for a
post (GET shows, never decides; POST approve|reject once; the same used-token collection), with a
review of each field before -> after instead of the post preview."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from shared.approval import pages
from shared.approval.checks import token_used
from shared.approval.links import page_tokens, verify_link
from shared.approval.refusals import NothingToDecide, TokenRefused
from shared.approval.tokens import ACTIONS, verify_token
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.stores.posts import Repository
from shared.stores.protocols import SecretStore
from shared.youtube_sync import service
from shared.youtube_sync.model import ID_PREFIX, MetadataChange

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger(__name__)

_REVIEW = pages.page_template("""
<p class="muted">YouTube video <strong>{{ change.video_id }}</strong> · account {{ change.account_id }} ·
requested by {{ change.requested_by }}</p>
<h2>What changes</h2>
<section class="target" data-platform="youtube" data-change="{{ change.id }}">
<dl>{% for label, before, after in rows %}<dt>{{ label }}</dt>
<dd><div class="muted">now</div><div class="text before">{{ before }}</div>
<div class="muted">after approval</div><div class="text after">{{ after }}</div></dd>{% endfor %}</dl>
{% if unchanged %}<p class="muted">Unchanged: {{ unchanged }}.</p>{% endif %}</section>
<form method="post"><input type="hidden" name="token" value="{{ approve_token }}">
<button class="approve" type="submit" name="action" value="approve">Approve and apply</button></form>
<form method="post"><input type="hidden" name="token" value="{{ reject_token }}">
<label for="reason">Reason for rejecting (optional; {{ change.requested_by }} sees it)</label>
<textarea id="reason" name="reason" maxlength="1000"></textarea>
<button class="reject" type="submit" name="action" value="reject">Reject</button></form>
<p class="muted">Nothing happens until you press a button. This link expires {{ expires }} and works once.
If the video is edited on YouTube before you approve, the change is not applied.</p>""")


def is_change_link(signing_key: str, token: str | None) -> bool:
    """A valid link whose subject is a metadata change (ids start with ID_PREFIX, content ids never do)."""
    if not token:
        return False
    try:
        claims = verify_token(signing_key, token, now=utcnow())
    except TokenRefused:
        return False  # the post flow answers it with the same refusal
    return claims.content_id.startswith(ID_PREFIX)


def answer(method: str, form: dict[str, str], token: str, *, repo: Repository, signing_key: str, config: Config, secrets: SecretStore,
           bq: bigquery.Client) -> pages.PageResult:
    if method != "POST":
        return review(repo, signing_key, token)
    action = form.get("action")
    if form.get("step") == "review" and not action:
        return review(repo, signing_key, token)
    if action not in ACTIONS:
        return pages.unknown_action()
    return decide(repo, signing_key, token, action, config=config, secrets=secrets, bq=bq, reason=form.get("reason"))


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
        html = _REVIEW.render(title="Review YouTube change", change=change, rows=service.describe(change),
                              unchanged=_unchanged(change), approve_token=tokens["approve"],
                              reject_token=tokens["reject"], expires=pages.when_text(claims.expires_at, pages.zone_or_utc(None)))
        return pages.PageResult(200, html)


def decide(repo: Repository, signing_key: str, token: str, action: str, *, config: Config, secrets: SecretStore, bq: bigquery.Client,
           reason: str | None = None, now: datetime | None = None) -> pages.PageResult:
    try:
        claims = verify_link(signing_key, token, now or utcnow(), action)
    except TokenRefused as refused:
        return pages.refused(refused)
    with log_context(correlation_id=claims.content_id):
        decided = service.record_decision(repo, claims.content_id, action=claims.action,
                                          change_hash_claimed=claims.content_hash, decided_by=claims.recipient,
                                          via="link", token_id=claims.token_id, reason=reason)
        if isinstance(decided, str):
            return pages.refused(NothingToDecide("not_decidable", decided))
        done = service.settle_decision(repo, config, secrets, bq, decided, publish=service.publisher(config))
        log_event(log, logging.INFO, "metadata change decided by link", outcome=done.outcome)
        return pages.PageResult(200, _outcome_page(done), decision=done.decision)


def _outcome_page(change: MetadataChange) -> str:
    recap = [f"{label}: {before} → {after}" for label, before, after in service.describe(change)]
    if change.outcome == "rejected":
        note = f"Reason recorded for {change.requested_by}: {change.reason}" if change.reason else "No reason was given."
        return pages.result_page("Rejected", "Rejected. Nothing was changed on YouTube.", recap=recap,
                                 recap_title="Not applied", note=note)
    if change.outcome is None:  # approved, but YouTube's answer to the update is not settled yet
        return pages.result_page("Approved", "Approved. YouTube did not answer in time; Postgate checks the video and "
                                 "applies the change within a few minutes, without applying it twice.", recap=recap,
                                 recap_title="To apply", note=f"{change.requested_by} hears the outcome.")
    if change.outcome == "applied":
        return pages.result_page("Approved and applied", f"YouTube video {change.video_id} now has the new values.",
                                 recap=recap, recap_title="Changed", note="You can close this page.")
    title = "Approved, not applied" if change.outcome == "failed" else "Approved, but the video changed"
    return pages.result_page(title, f"Nothing was overwritten: {change.failure_reason}.", recap=recap,
                             recap_title="Not applied")


def _unchanged(change: MetadataChange) -> str:
    given = change.proposed.given()
    return ", ".join(label for name, label in service.LABELS.items() if name not in given)
