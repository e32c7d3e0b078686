"""Issue links, render the confirm page (GET: read-only), record a decision (POST: one transaction)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from shared.approval import pages
from shared.approval.notifiers import ApprovalRequest
from shared.approval.tokens import LinkClaims, TokenRefused, issue_token, verify_token
from shared.content.model import Approval, ContentItem
from shared.errors import ValidationError
from shared.posts.model import Post
from shared.posts.repository import APPROVALS, Repository, _dump
from shared.posts.state_machine import transition
from shared.publishing.dispatch import LOST_MESSAGE_RESEND_SECONDS
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_event, register_secret

log = logging.getLogger(__name__)
DEFAULT_APPROVER = "marketing-lead"


def link_for(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/?{urlencode({'token': token})}"


def approval_requests(config, signing_key: str, content: ContentItem, accounts: dict[str, dict],
                      now: datetime | None = None) -> list[ApprovalRequest]:
    """One pair of approve/reject links per approver, bound to this exact content version."""
    now = now or utcnow()
    expires = now + timedelta(seconds=config.approval_link_ttl_seconds)
    requests_out = []
    for recipient in config.approver_list or [DEFAULT_APPROVER]:
        urls = {}
        for action in ("approve", "reject"):
            token, _ = issue_token(signing_key, content_id=content.id, content_hash=content.content_hash,
                                   action=action, expires_at=expires, recipient=recipient)
            register_secret(token)
            urls[action] = link_for(config.approval_base_url, token)
        targets = [f"{accounts.get(t.account_id, {}).get('platform', '?')}:{t.account_id}" for t in content.targets]
        requests_out.append(ApprovalRequest(content.id, content.campaign, recipient, content.text(), targets,
                                            urls["approve"], urls["reject"]))
    return requests_out


@dataclass
class PageResult:
    status: int
    html: str
    decision: str | None = None
    due_posts: list[Post] = field(default_factory=list)


def _refused(status: int, title: str, message: str) -> PageResult:
    return PageResult(status, pages.result_page(title, message))


def render_confirm(repo: Repository, signing_key: str, token: str, now: datetime | None = None) -> PageResult:
    """GET: never writes (mail scanners and chat unfurlers open links)."""
    now = now or utcnow()
    try:
        claims = verify_token(signing_key, token, now=now)
    except TokenRefused as refused:
        return _refused(403 if refused.reason != "expired" else 410, "Link not usable", str(refused))
    content = repo.get_content(claims.content_id)
    problem = _why_not_decidable(repo, claims, content)
    if problem:
        return _refused(409, "Nothing to decide", problem)
    if claims.action == "approve":
        refusal = _platform_refusal(repo, content)
        if refusal:
            return refusal
    register_secret(token)
    other_action = "reject" if claims.action == "approve" else "approve"
    # The page offers the other choice too; its token is minted for the same person and expiry.
    other_token, _ = issue_token(signing_key, content_id=claims.content_id, content_hash=claims.content_hash,
                                 action=other_action, expires_at=claims.expires_at, recipient=claims.recipient)
    register_secret(other_token)
    targets = []
    for t in content.targets:
        account = repo.get_account(t.account_id) or {}
        targets.append({"account_id": t.account_id, "platform": account.get("platform", "?"),
                        "handle": account.get("handle"), "privacy_level": t.privacy_level})
    labels = {"approve": "Approve and publish", "reject": "Reject"}
    html = pages.confirm_page(
        content, targets,
        primary={"token": token, "action": claims.action, "label": labels[claims.action]},
        other={"token": other_token, "action": other_action, "label": labels[other_action]},
        expires_at=f"{claims.expires_at:%Y-%m-%d %H:%M}",
    )
    return PageResult(200, html)


def _platform_refusal(repo: Repository, content: ContentItem) -> PageResult | None:
    """Platform rules again at approval time (accounts or rules may have changed since generation)."""
    from shared.content.service import validate_for_targets

    accounts = {t.account_id: repo.get_account(t.account_id) for t in content.targets}
    try:
        validate_for_targets(content, accounts)
    except ValidationError as exc:
        detail = f" ({exc.field}: {exc.limit})" if exc.field else ""
        return _refused(422, "Can't be approved as it is", f"{exc}{detail}. Fix the post and request approval again.")
    return None


def _why_not_decidable(repo: Repository, claims: LinkClaims, content: ContentItem | None, transaction=None) -> str | None:
    if content is None:
        return "This post no longer exists."
    used = repo.db.collection(APPROVALS).document(claims.token_id).get(transaction=transaction)
    if used.exists:
        return "This link has already been used."
    if content.status != "pending_approval":
        return f"This post was already {content.status}; nothing more to do."
    if claims.content_hash != content.content_hash or content.current_hash() != content.content_hash:
        return "The post was edited after this link was sent, so this link no longer applies. A new approval request is needed."
    return None


def apply_decision(repo: Repository, signing_key: str, token: str, action: str, now: datetime | None = None) -> PageResult:
    """POST: verify, then record the decision once, in a transaction with the posts' transitions."""
    from google.cloud import firestore

    now = now or utcnow()
    try:
        claims = verify_token(signing_key, token, now=now, action=action)
    except TokenRefused as refused:
        log_event(log, logging.WARNING, "approval link refused", reason=refused.reason)
        return _refused(403 if refused.reason != "expired" else 410, "Link not usable", str(refused))

    content_ref = repo.content_ref(claims.content_id)
    if claims.action == "approve":
        content = repo.get_content(claims.content_id)
        refusal = _platform_refusal(repo, content) if content is not None else None
        if refusal:
            log_event(log, logging.WARNING, "approval refused: a platform would refuse this content",
                      content_id=claims.content_id)
            return refusal

    @firestore.transactional
    def _decide(transaction) -> tuple[str | None, list[Post]]:
        content = repo.get_content(claims.content_id, transaction=transaction)
        problem = _why_not_decidable(repo, claims, content, transaction=transaction)
        if problem:
            return problem, []
        posts = repo.posts_for_content(claims.content_id, transaction=transaction)
        decision = "approved" if claims.action == "approve" else "rejected"
        approval = Approval(decision=decision, decided_by=claims.recipient, decided_at=now,
                            content_hash=content.content_hash, token_id=claims.token_id)
        transaction.set(repo.db.collection(APPROVALS).document(claims.token_id), {
            "content_id": content.id, "action": claims.action, "recipient": claims.recipient, "used_at": now,
        })
        transaction.update(content_ref, {"status": decision, "approval": _dump(approval), "updated_at": now})
        due = []
        for post in posts:
            if post.status != "pending_approval":
                continue
            if decision == "rejected":
                updated = transition(post, "rejected", reason=f"rejected by {claims.recipient}")
            else:
                updated = transition(post, "approved", reason=f"approved by {claims.recipient}",
                                     approved_by=claims.recipient, approved_at=now)
                if content.publish_at and content.publish_at > now:
                    updated = transition(updated, "scheduled", scheduled_at=content.publish_at)
                else:
                    updated = transition(updated, "queued", redispatch_at=now + timedelta(seconds=LOST_MESSAGE_RESEND_SECONDS))
                    due.append(updated)
            transaction.set(repo.post_ref(post.id), _dump(updated))
        return None, due

    problem, due = _decide(repo.db.transaction())
    if problem:
        log_event(log, logging.WARNING, "approval decision refused", content_id=claims.content_id, reason=problem)
        return _refused(409, "Nothing to decide", problem)
    decision = "approved" if claims.action == "approve" else "rejected"
    log_event(log, logging.INFO, f"content {decision}", decided_by=claims.recipient, posts_due=len(due))
    message = (f"Approved. {len(due)} post(s) are on their way; you can close this page." if decision == "approved"
               else "Rejected. Nothing will be published.")
    return PageResult(200, pages.result_page(decision.capitalize(), message), decision=decision, due_posts=due)
