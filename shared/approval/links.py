"""Approval links: minting the approve/reject pair for each approver, the pair a review page
offers, and verifying a link when it comes back. Used for content items and, with the same
tokens and rules, for YouTube metadata changes (shared/youtube_sync/links.py).

A link carries its token in the URL fragment (`.../#token=...`): browsers never send the fragment,
so unused tokens stay out of request logs, proxies and Referer headers. The page's script POSTs
the token; the review and the decision both answer POSTs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from shared.approval.notifiers import ApprovalRequest
from shared.approval.refusals import TokenRefused
from shared.approval.tokens import ACTIONS, Action, LinkClaims, issue_token, verify_token
from shared.model.account import Account
from shared.model.content import ContentItem
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_event, register_secret

if TYPE_CHECKING:  # annotations only: importing the config module at runtime costs cold start
    from shared.runtime.config import Config

log = logging.getLogger(__name__)
DEFAULT_APPROVER = "marketing-lead"


def link_for(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/#{urlencode({'token': token})}"


def mint_requests(config: Config, signing_key: str, *, subject_id: str, subject_hash: str, campaign: str,
                  preview: str, targets: list[str], now: datetime | None = None) -> list[ApprovalRequest]:
    """One pair of approve/reject links per approver, bound to this exact version of the subject
    (a content item or a metadata change: its id and hash)."""
    expires = (now or utcnow()) + timedelta(seconds=config.approval_link_ttl_seconds)
    requests_out = []
    for recipient in config.approver_list or [DEFAULT_APPROVER]:
        urls = {}
        for action in ACTIONS:
            token, _ = issue_token(signing_key, content_id=subject_id, content_hash=subject_hash, action=action,
                                   expires_at=expires, recipient=recipient)
            register_secret(token)
            urls[action] = link_for(config.approval_base_url, token)
        requests_out.append(ApprovalRequest(subject_id, campaign, recipient, preview, targets,
                                            urls["approve"], urls["reject"]))
    return requests_out


def approval_requests(config: Config, signing_key: str, content: ContentItem, accounts: Mapping[str, Account],
                      now: datetime | None = None) -> list[ApprovalRequest]:
    """The links for this exact content version, naming each target as platform:account."""
    targets = [f"{accounts.get(t.account_id, {}).get('platform', '?')}:{t.account_id}" for t in content.targets]
    return mint_requests(config, signing_key, subject_id=content.id, subject_hash=content.content_hash,
                         campaign=content.campaign, preview=content.text(), targets=targets, now=now)


def page_tokens(signing_key: str, token: str, claims: LinkClaims) -> dict[Action, str]:
    """Both buttons' tokens for a review page opened with `token`: the page offers the other
    choice too, minted for the same person, version and expiry."""
    register_secret(token)
    other: Action = "reject" if claims.action == "approve" else "approve"
    other_token, _ = issue_token(signing_key, content_id=claims.content_id, content_hash=claims.content_hash,
                                 action=other, expires_at=claims.expires_at, recipient=claims.recipient)
    register_secret(other_token)
    return {claims.action: token, other: other_token}


def verify_link(signing_key: str, token: str, now: datetime, action: str | None = None) -> LinkClaims:
    """The link's claims; raises TokenRefused (logged) when it is forged, expired or for another action."""
    try:
        return verify_token(signing_key, token, now=now, action=action)
    except TokenRefused as refused:
        log_event(log, logging.WARNING, "approval link refused", reason=refused.reason)
        raise
