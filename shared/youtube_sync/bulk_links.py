"""The approval of a bulk metadata change: the same signed, single-use links and page rules as a single
change (GET shows, never decides; POST approve|reject once), with the count and a table of every
video's before -> after (REVIEW_ROWS of them on the page; the hash binds them all), and approval-notify's
messages (the links to each approver, the outcome to the requester)."""

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
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.stores.posts import Repository
from shared.stores.protocols import SecretStore
from shared.youtube_sync import bulk as service
from shared.youtube_sync.bulk_applying import settle_decision
from shared.youtube_sync.bulk_audit import AUDIT_CAMPAIGN
from shared.youtube_sync.bulk_model import BULK_PREFIX, BulkChange
from shared.youtube_sync.service import LABELS, publisher, shown

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger(__name__)
REVIEW_ROWS = 250  # rows on the review page (a bulk change holds at most 500; the API lists every one)
PREVIEW_ROWS = 5  # rows in the approval message

_REVIEW = pages.page_template("""
<p class="muted">Bulk change of <strong>{{ bulk.count }} YouTube videos</strong> · {{ operation }} ·
requested by {{ bulk.requested_by }}{% if bulk.unchanged %} · {{ bulk.unchanged|length }} selected videos already
had it and are left out{% endif %}</p>
<h2>What changes on each video</h2>
<section class="target" data-platform="youtube" data-bulk="{{ bulk.id }}" style="overflow-x:auto">
<table style="border-collapse:collapse;width:100%;font-size:.9em"><thead><tr><th>#</th><th>Video</th><th>Field</th>
<th>Now</th><th>After approval</th></tr></thead><tbody>
{% for n, video, label, before, after in rows %}<tr style="border-top:1px solid #ddd;vertical-align:top">
<td>{{ n }}</td><td>{{ video }}</td><td>{{ label }}</td><td class="before" style="overflow-wrap:anywhere">{{ before }}</td>
<td class="after" style="overflow-wrap:anywhere">{{ after }}</td></tr>{% endfor %}</tbody></table>
{% if hidden %}<p class="muted">{{ hidden }} more videos are not shown here; the approval covers them too (the API
lists every one: GET /youtube/metadata-bulk-changes/{{ bulk.id }}/items).</p>{% endif %}</section>
<form method="post"><input type="hidden" name="token" value="{{ approve_token }}">
<button class="approve" type="submit" name="action" value="approve">Approve all {{ bulk.count }} and apply</button></form>
<form method="post"><input type="hidden" name="token" value="{{ reject_token }}">
<label for="reason">Reason for rejecting (optional; {{ bulk.requested_by }} sees it)</label>
<textarea id="reason" name="reason" maxlength="1000"></textarea>
<button class="reject" type="submit" name="action" value="reject">Reject</button></form>
<p class="muted">Nothing happens until you press a button. This link expires {{ expires }} and works once.
Videos are applied within YouTube's daily quota, possibly over several days; a video edited on YouTube before
it is applied is left as it is.</p>""")


def is_bulk_link(signing_key: str, token: str | None) -> bool:
    """A valid link whose subject is a bulk change (ids start with BULK_PREFIX)."""
    if not token:
        return False
    try:
        claims = verify_token(signing_key, token, now=utcnow())
    except TokenRefused:
        return False
    return claims.content_id.startswith(BULK_PREFIX)


def review_rows(repo: Repository, bulk: BulkChange, limit: int = REVIEW_ROWS) -> list[tuple[int, str, str, str, str]]:
    """(number, video id, field, before, after) for each field each of the first `limit` videos changes."""
    return [(item.index + 1, item.video_id, LABELS[name], shown(getattr(item.before, name)), shown(value))
            for item in service.items(repo, bulk.id, limit=limit) for name, value in item.proposed.given().items()]


def answer(method: str, form: dict[str, str], token: str, *, repo: Repository, signing_key: str, config: Config,
           secrets: SecretStore, bq: bigquery.Client) -> pages.PageResult:
    if method != "POST":
        return review(repo, signing_key, token)
    action = form.get("action")
    if form.get("step") == "review" and not action:
        return review(repo, signing_key, token)
    if action not in ACTIONS:
        return pages.unknown_action()
    return decide(repo, signing_key, token, config=config, secrets=secrets, bq=bq, reason=form.get("reason"))


def review(repo: Repository, signing_key: str, token: str, now: datetime | None = None) -> pages.PageResult:
    try:
        claims = verify_link(signing_key, token, now or utcnow())
    except TokenRefused as refused:
        return pages.refused(refused)
    with log_context(correlation_id=claims.content_id):
        bulk = service.get_bulk(repo, claims.content_id)
        problem = service.why_not_decidable(bulk, claims.content_hash, used=token_used(repo, claims.token_id))
        if problem:
            return pages.refused(NothingToDecide("not_decidable", problem))
        assert bulk is not None
        tokens = page_tokens(signing_key, token, claims)
        html = _REVIEW.render(title="Review YouTube bulk change", bulk=bulk, rows=review_rows(repo, bulk),
                              operation=service.describe_operation(bulk.operation),
                              hidden=max(bulk.count - REVIEW_ROWS, 0), approve_token=tokens["approve"],
                              reject_token=tokens["reject"],
                              expires=pages.when_text(claims.expires_at, pages.zone_or_utc(None)))
        return pages.PageResult(200, html)


def decide(repo: Repository, signing_key: str, token: str, *, config: Config, secrets: SecretStore,
           bq: bigquery.Client, reason: str | None = None, now: datetime | None = None) -> pages.PageResult:
    try:
        claims = verify_link(signing_key, token, now or utcnow())
    except TokenRefused as refused:
        return pages.refused(refused)
    with log_context(correlation_id=claims.content_id):
        decided = service.record_decision(repo, claims.content_id, action=claims.action, hash_claimed=claims.content_hash,
                                          decided_by=claims.recipient, via="link", token_id=claims.token_id,
                                          reason=reason)
        if isinstance(decided, str):
            return pages.refused(NothingToDecide("not_decidable", decided))
        done = settle_decision(repo, config, secrets, bq, decided, publish=publisher(config))
        return pages.PageResult(200, _outcome_page(done), decision=done.decision)


def _outcome_page(bulk: BulkChange) -> str:
    p = bulk.progress
    figures = [f"Applied: {p.applied}", f"Conflict (edited on YouTube meanwhile, left as is): {p.conflict}",
               f"Failed: {p.failed}", f"Remaining: {p.remaining}"]
    if bulk.status == "rejected":
        return pages.result_page("Rejected", f"Rejected. Nothing was changed on any of the {bulk.count} videos.",
                                 note=f"Reason recorded for {bulk.requested_by}: {bulk.reason}" if bulk.reason
                                 else "No reason was given.")
    if bulk.status == "done":
        return pages.result_page("Approved and applied", f"All {bulk.count} videos are settled.", recap=figures,
                                 recap_title="Outcome", note="You can close this page.")
    return pages.result_page("Approved", f"Approved. Postgate applies the {bulk.count} videos within YouTube's daily "
                             "quota, without applying any twice; the progress is on the API and in the console.",
                             recap=figures, recap_title="So far", note=f"{bulk.requested_by} hears the outcome.")


def notify(payload: dict, *, repo: Repository, config: Config, secrets: SecretStore) -> int:
    """approval-notify for a bulk change: the signed links to each approver, or the outcome to the requester."""
    bulk_id = str(payload.get("metadata_bulk_id"))
    with log_context(correlation_id=bulk_id):
        bulk = service.get_bulk(repo, bulk_id)
        if payload.get("outcome"):
            if bulk is None or bulk.status != payload["outcome"]:
                return 0
            p = bulk.progress
            words = "rejected" if bulk.status == "rejected" else (
                "applied" if p.applied == bulk.count else "partly-applied")
            why = bulk.reason if bulk.status == "rejected" else (
                f"{p.applied} applied, {p.conflict} conflict, {p.failed} failed of {bulk.count}")
            preview = service.preview_text(bulk, service.items(repo, bulk.id, limit=PREVIEW_ROWS))
            notifier_from_config(config, secrets).notify(DecisionNotice(
                bulk.id, AUDIT_CAMPAIGN, bulk.requested_by, words, bulk.decided_by or "?", why, preview))
            return 1
        if bulk is None or bulk.status != "pending_approval" or bulk.bulk_hash != payload.get("bulk_hash"):
            log_event(log, logging.INFO, "bulk change needs no approval request", status=bulk.status if bulk else None)
            return 0
        key = secrets.access(config.approval_signing_secret)
        notifier = notifier_from_config(config, secrets)
        preview = service.preview_text(bulk, service.items(repo, bulk.id, limit=PREVIEW_ROWS))
        sent = 0
        for request in mint_requests(config, key, subject_id=bulk.id, subject_hash=bulk.bulk_hash,
                                     campaign=AUDIT_CAMPAIGN, preview=preview,
                                     targets=[f"youtube:{a}" for a in bulk.account_ids]):
            notifier.send(request)
            sent += 1
        log_event(log, logging.INFO, "bulk change approval requested", recipients=sent)
        return sent
