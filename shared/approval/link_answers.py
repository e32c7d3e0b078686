"""What the approval function answers to a content item's signed link: the review (read-only) or
the decision (POST), each as a page; a refusal as the page that says why (shared/approval/pages.py).
"""

from __future__ import annotations

from datetime import datetime

from shared.approval import pages
from shared.approval.checks import ReviewEnv
from shared.approval.decision import decide_by_link
from shared.approval.refusals import Refusal
from shared.approval.review import review
from shared.stores.posts import Repository


def render_review(repo: Repository, signing_key: str, token: str, env: ReviewEnv, *, tz: str | None = None,
                  may_reask: bool = True, now: datetime | None = None) -> pages.PageResult:
    """The review page. Never records a decision. With `may_reask` (the page's own POST, not a bare
    GET a mail scanner could make), approved-media changes send the new version to the approver."""
    try:
        shown = review(repo, signing_key, token, env, may_reask=may_reask, now=now)
    except Refusal as refused:
        return pages.refused(refused)
    return pages.review_answer(shown.content, cards=shown.cards, media=shown.previews,
                               approve_token=shown.approve_token, reject_token=shown.reject_token,
                               expires_at=shown.claims.expires_at, tz=tz)


def apply_decision(repo: Repository, signing_key: str, token: str, action: str, env: ReviewEnv | None = None, *,
                   reason: str | None = None, tz: str | None = None, now: datetime | None = None) -> pages.PageResult:
    """POST: the decision recorded once (shared/approval/decision.py), then its outcome page."""
    try:
        decided = decide_by_link(repo, signing_key, token, action, env, reason=reason, now=now)
    except Refusal as refused:
        return pages.refused(refused)
    accounts = {post.account_id: repo.get_account(post.account_id) or {}
                for post in [*decided.due_posts, *decided.scheduled_posts]}
    return pages.decided_answer(decided.content, decided.decision, decided.reason, decided.due_posts,
                                decided.scheduled_posts, accounts, tz)
