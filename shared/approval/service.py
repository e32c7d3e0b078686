"""Issue links, show the review page (read-only), record a decision (POST: one transaction).

A link carries its token in the URL fragment (`.../#token=...`): browsers never send the fragment,
so unused tokens stay out of request logs, proxies and Referer headers. The page's script POSTs
the token; the review and the decision both answer POSTs.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from shared.approval import pages
from shared.approval.notifiers import ApprovalRequest
from shared.approval.tokens import Action, LinkClaims, TokenRefused, issue_token, verify_token
from shared.errors import MediaChanged, ValidationError
from shared.model.content import Approval, ContentItem
from shared.model.disclosure import review_line
from shared.model.post import Post, post_id_for
from shared.model.state_machine import transition
from shared.publishing.dispatch import LOST_MESSAGE_RESEND_SECONDS
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_context, log_event, register_secret
from shared.stores.posts import (
    APPROVALS,
    CONTENTION_ERRORS,
    Repository,
    is_contention,
    run_with_contention_retry,
)
from shared.stores.posts import dump as _dump  # the calls below keep their old name until this file is split

if TYPE_CHECKING:  # annotations only: importing the config module at runtime costs cold start
    from shared.runtime.config import Config
    from shared.stores.media import MediaStore

log = logging.getLogger(__name__)
DEFAULT_APPROVER = "marketing-lead"
# Previews are fetched while the page is open; a short life keeps a forwarded page from leaking media.
PREVIEW_URL_TTL_SECONDS = 1800
# Concurrent decisions on one item: one holds the item's lock, the others wait up to this long for
# its outcome. Then an answer, never a 500.
DECISION_WAIT_SECONDS = 20.0
DECISION_LOCK_SECONDS = 30
DECISION_LOCKS = "decision_locks"
REASON_MAX_CHARS = 1000
API_TOKEN_PREFIX = "api:"  # token id of a decision made through the content API


def link_for(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/#{urlencode({'token': token})}"


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
    media_origins: tuple[str, ...] = ()
    retry_after: int | None = None
    content: ContentItem | None = None  # the item decided on
    message: str | None = None  # a refusal's sentence, plain text (what the API answers)


@dataclass(frozen=True)
class ReviewEnv:
    """What showing or deciding needs beyond Firestore: media (previews, the generation check),
    the runtime config, and how to ask the approver again when approved media changed."""

    media_store: MediaStore
    config: Config
    request_approval: Callable[[ContentItem], None]


def _refused(status: int, title: str, message: str, **kwargs) -> PageResult:
    return PageResult(status, pages.result_page(title, message), message=message, **kwargs)


def _verify(signing_key: str, token: str, now: datetime, action: str | None = None) -> LinkClaims | PageResult:
    try:
        return verify_token(signing_key, token, now=now, action=action)
    except TokenRefused as refused:
        log_event(log, logging.WARNING, "approval link refused", reason=refused.reason)
        return _refused(403 if refused.reason != "expired" else 410, "Link not usable", str(refused))


def shell() -> PageResult:
    """GET without a token: the page whose script reads the token from the fragment and POSTs it."""
    return PageResult(200, pages.shell_page().html)


def render_review(repo: Repository, signing_key: str, token: str, env: ReviewEnv, *, tz: str | None = None,
                  may_reask: bool = True, now: datetime | None = None) -> PageResult:
    """The review page. Never records a decision. With `may_reask` (the page's own POST, not a bare
    GET a mail scanner could make), approved-media changes send the new version to the approver."""
    now = now or utcnow()
    claims = _verify(signing_key, token, now)
    if isinstance(claims, PageResult):
        return claims
    with log_context(correlation_id=claims.content_id):
        content = repo.get_content(claims.content_id)
        problem = _why_not_decidable(claims, content, used=_token_used(repo, claims))
        if problem:
            return _refused(409, "Nothing to decide", problem)
        assert content is not None  # _why_not_decidable refuses a missing content item
        media_problem = _media_problem(repo, content, env, may_reask=may_reask)
        if media_problem:
            return media_problem
        if claims.action == "approve":
            refusal = _platform_refusal(repo, content)
            if refusal:
                return refusal
        register_secret(token)
        # The page offers the other choice too; its token is minted for the same person and expiry.
        other_action: Action = "reject" if claims.action == "approve" else "approve"
        other_token, _ = issue_token(signing_key, content_id=claims.content_id, content_hash=claims.content_hash,
                                     action=other_action, expires_at=claims.expires_at, recipient=claims.recipient)
        register_secret(other_token)
        tokens = {claims.action: token, other_action: other_token}
        zone = pages.zone_or_utc(tz)
        page = pages.review_page(
            content=content, cards=_cards(repo, content), media=_previews(content, env),
            when=pages.when_text(content.publish_at, zone), tz=zone.key,
            approve_token=tokens["approve"], reject_token=tokens["reject"],
            expires=pages.when_text(claims.expires_at, zone),
        )
        return PageResult(200, page.html, media_origins=page.media_origins)


def _cards(repo: Repository, content: ContentItem) -> list[dict]:
    """Per target, what that platform will carry, built by its adapter from what publish sends."""
    from shared.platforms.registry import adapter_for

    position = {id(m): i for i, m in enumerate(content.media)}
    labels = _media_labels(content)
    cards = []
    for target in content.targets:
        account = repo.get_account(target.account_id) or {}
        platform = account.get("platform", "?")
        card = adapter_for(platform).preview(content, target, account)
        handle = account.get("handle")
        # The media this target carries decides the disclosure, as at publish (shared/model/disclosure.py).
        disclosure = ("AI-generated media", review_line(platform, pages.platform_name(platform), card.media,
                                                            unavailable=card.ai_field_unavailable))
        cards.append({
            "platform": platform, "platform_name": pages.platform_name(platform), "account_id": target.account_id,
            "handle": f"@{str(handle).lstrip('@')}" if handle else target.account_id,
            "text": card.text, "text_label": card.text_label, "fields": [*card.fields, disclosure],
            "media": ", ".join(labels[position[id(m)]] for m in card.media if id(m) in position),
        })
    return cards


def _media_labels(content: ContentItem) -> list[str]:
    counts: dict[str, int] = {}
    labels = []
    for media in content.media:
        counts[media.kind] = counts.get(media.kind, 0) + 1
        labels.append(f"{media.kind.capitalize()} {counts[media.kind]}")
    return labels


def _previews(content: ContentItem, env: ReviewEnv) -> list[dict]:
    """Short-lived signed URLs of exactly the generations under review."""
    config = env.config
    previews = []
    for label, media in zip(_media_labels(content), content.media):
        url = env.media_store.signed_url(media, ttl_seconds=PREVIEW_URL_TTL_SECONDS, endpoint=config.signed_url_endpoint,
                                         key_file=config.url_signing_key_file)
        previews.append({"kind": media.kind, "url": url, "label": label, "name": media.name.rsplit("/", 1)[-1],
                         "size": pages.size_text(media.size), "content_type": media.content_type})
    return previews


def _media_problem(repo: Repository, content: ContentItem, env: ReviewEnv, *, may_reask: bool,
                   via_api: bool = False) -> PageResult | None:
    """The media under review must still be the generations this link was issued for."""
    from shared.content.versions import void_for_changed_media

    try:
        env.media_store.verify(content.media)
        return None
    except MediaChanged as changed:
        reason = str(changed)
    if not may_reask:
        return _refused(409, "The media changed", f"{reason}. This link no longer applies; open it in a browser to "
                                                  "have the new version sent for approval.")
    reopened, cannot = void_for_changed_media(repo, content, env.media_store, reason)
    if cannot:
        return _refused(409, "The media is gone", f"{cannot}. Nothing can be approved from this link.")
    if reopened is not None:
        env.request_approval(reopened)
    what = "the version you read can't be decided on any more" if via_api else "this link no longer applies"
    return _refused(409, "The media changed", f"The media changed: {reason}, so {what}. Nothing was recorded; a new "
                                              "approval request for the current version has been sent.")


def _platform_refusal(repo: Repository, content: ContentItem) -> PageResult | None:
    """Platform rules again at approval time (accounts or rules may have changed since generation)."""
    from shared.content.targets import validate_for_targets

    accounts = {t.account_id: repo.get_account(t.account_id) for t in content.targets}
    try:
        validate_for_targets(content, accounts)
    except ValidationError as exc:
        detail = f" ({exc.field}: {exc.limit})" if exc.field else ""
        return _refused(422, "Can't be approved as it is", f"{exc}{detail}. Fix the post and request approval again.")
    return None


def _token_used(repo: Repository, claims: LinkClaims) -> bool:
    return repo.db.collection(APPROVALS).document(claims.token_id).get().exists


def _via_api(claims: LinkClaims) -> bool:
    return claims.token_id.startswith(API_TOKEN_PREFIX)


def _why_not_decidable(claims: LinkClaims, content: ContentItem | None, *, used: bool) -> str | None:
    if content is None:
        return "This post no longer exists."
    if used:
        return "This link has already been used."
    if content.status != "pending_approval":
        decided = content.approval
        by = f" by {decided.decided_by} at {decided.decided_at:%Y-%m-%d %H:%M} UTC" if decided else ""
        return f"This post was already {content.status}{by}; nothing more to do."
    if claims.content_hash != content.content_hash or content.current_hash() != content.content_hash:
        if _via_api(claims):
            return (f"The content changed since the version you decided on (content_hash {claims.content_hash}); it is "
                    f"now version {content.version}, content_hash {content.content_hash}. Nothing was recorded: "
                    "read it again and decide on the current version.")
        return "The post was edited after this link was sent, so this link no longer applies. A new approval request is needed."
    return None


def apply_decision(repo: Repository, signing_key: str, token: str, action: str, env: ReviewEnv | None = None, *,
                   reason: str | None = None, tz: str | None = None, now: datetime | None = None) -> PageResult:
    """POST: verify, then record the decision once, in a transaction with the posts' transitions.

    The transaction reads and writes only this item's documents (content, the token's use record,
    its posts by id), so decisions on different items never contend. Concurrent decisions on one
    item: one commits; the others find it decided and get 409.
    """
    now = now or utcnow()
    claims = _verify(signing_key, token, now, action)
    if isinstance(claims, PageResult):
        return claims
    return _decide(repo, claims, env, reason=reason, tz=tz, now=now)


def decide_via_api(repo: Repository, content_id: str, action: Action, content_hash: str, decided_by: str,
                   env: ReviewEnv | None = None, *, reason: str | None = None, now: datetime | None = None) -> PageResult:
    """An approver's decision through the content API: recorded exactly as a link's (same checks,
    same lock, same transaction), by the authenticated caller, bound to the `content_hash` they
    read. The decision's token id is "api:<uuid>" (its use record sits with the links')."""
    now = now or utcnow()
    claims = LinkClaims(content_id=content_id, content_hash=content_hash, action=action, expires_at=now,
                        token_id=f"{API_TOKEN_PREFIX}{uuid.uuid4()}", recipient=decided_by)
    return _decide(repo, claims, env, reason=reason, tz=None, now=now)


def _decide(repo: Repository, claims: LinkClaims, env: ReviewEnv | None, *, reason: str | None, tz: str | None,
            now: datetime) -> PageResult:
    """The decision once its maker is known (a verified link or an authenticated API caller)."""
    reason = (reason or "").strip()[:REASON_MAX_CHARS] or None
    with log_context(correlation_id=claims.content_id):
        content = repo.get_content(claims.content_id)
        problem = _why_not_decidable(claims, content, used=_token_used(repo, claims))
        if problem:
            log_event(log, logging.WARNING, "approval decision refused", reason=problem)
            return _refused(409, "Nothing to decide", problem)
        assert content is not None  # _why_not_decidable refuses a missing content item
        if claims.action == "approve":
            refusal = _platform_refusal(repo, content)
            if refusal:
                log_event(log, logging.WARNING, "approval refused: a platform would refuse this content")
                return refusal
            if env is not None:
                media_problem = _media_problem(repo, content, env, may_reask=True, via_api=_via_api(claims))
                if media_problem:
                    return media_problem
        outcome = _record_decision(repo, claims, content, reason, now)
        if isinstance(outcome, PageResult):
            return outcome
        decision, due, scheduled = outcome
        log_event(log, logging.INFO, f"content {decision}", decided_by=claims.recipient, posts_due=len(due),
                  posts_scheduled=len(scheduled), via="api" if _via_api(claims) else "link")
        return PageResult(200, _decision_page(repo, content, decision, reason, due, scheduled, pages.zone_or_utc(tz)),
                          decision=decision, due_posts=due, content=content)


def _record_decision(repo: Repository, claims: LinkClaims, content: ContentItem, reason: str | None, now: datetime):
    from google.cloud import firestore

    content_ref = repo.content_ref(claims.content_id)
    used_ref = repo.db.collection(APPROVALS).document(claims.token_id)
    post_refs = [repo.post_ref(post_id_for(content.id, t.account_id)) for t in content.targets]
    decision = "approved" if claims.action == "approve" else "rejected"

    @firestore.transactional
    def _decide(transaction):
        snaps = {s.reference.path: s for s in transaction.get_all([content_ref, used_ref, *post_refs])}
        current = snaps[content_ref.path]
        current = ContentItem.model_validate(current.to_dict()) if current.exists else None
        problem = _why_not_decidable(claims, current, used=snaps[used_ref.path].exists)
        if problem:
            return problem
        approval = Approval(decision=decision, decided_by=claims.recipient, decided_at=now,
                            content_hash=current.content_hash, token_id=claims.token_id, reason=reason)
        transaction.set(used_ref, {"content_id": current.id, "action": claims.action, "recipient": claims.recipient,
                                   "used_at": now})
        transaction.update(content_ref, {"status": decision, "approval": _dump(approval), "updated_at": now})
        due, scheduled = [], []
        for ref in post_refs:
            snap = snaps[ref.path]
            post = Post.model_validate(snap.to_dict()) if snap.exists else None
            if post is None or post.status != "pending_approval":
                continue
            if decision == "rejected":
                note = f"rejected by {claims.recipient}" + (f": {reason}" if reason else "")
                updated = transition(post, "rejected", reason=note, fail_reason=reason)
            else:
                updated = transition(post, "approved", reason=f"approved by {claims.recipient}",
                                     approved_by=claims.recipient, approved_at=now)
                planned = post.scheduled_at or current.publish_at  # a post rescheduled while pending keeps its time
                if planned and planned > now:
                    updated = transition(updated, "scheduled", scheduled_at=planned)
                    scheduled.append(updated)
                else:
                    updated = transition(updated, "queued", redispatch_at=now + timedelta(seconds=LOST_MESSAGE_RESEND_SECONDS))
                    due.append(updated)
            transaction.set(ref, _dump(updated))
        return decision, due, scheduled

    holder = _DecisionLock(repo, claims.content_id)
    deadline = time.monotonic() + DECISION_WAIT_SECONDS
    while not holder.acquire():
        # Another decision on this item is being recorded: wait for it, then say what it was.
        problem = _why_not_decidable(claims, repo.get_content(claims.content_id), used=_token_used(repo, claims))
        if problem:
            return _refused(409, "Nothing to decide", problem)
        if time.monotonic() > deadline:
            log_event(log, logging.ERROR, "decision not recorded: another decision held the item too long")
            return _refused(503, "Busy, nothing recorded", "Another decision on this post is being recorded. "
                            "Open the link again in a few seconds to see the outcome.", retry_after=5)
        time.sleep(random.uniform(0.05, 0.2))
    try:
        # Contention can still come from writers that take no decision lock (a publisher voiding an approval).
        outcome = run_with_contention_retry(lambda: _decide(repo.db.transaction()))
    except CONTENTION_ERRORS as exc:
        if not is_contention(exc):
            raise
        log_event(log, logging.ERROR, "decision not recorded: the item stayed contended", error=type(exc).__name__)
        return _refused(503, "Busy, nothing recorded", "Many changes arrived for this post at once and your decision "
                        "was not recorded. Press the button again in a few seconds.", retry_after=5)
    finally:
        holder.release()
    if isinstance(outcome, str):
        log_event(log, logging.WARNING, "approval decision refused", reason=outcome)
        return _refused(409, "Nothing to decide", outcome)
    return outcome


class _DecisionLock:
    """One decision at a time per content item. Concurrent presses would otherwise all open a
    transaction on the same documents and abort one another (the emulator's pessimistic locks turn
    that into timeouts); a create-only document admits exactly one, and the rest wait and read the
    outcome. It expires, so a crashed holder cannot block the item for long."""

    def __init__(self, repo: Repository, content_id: str):
        self._db = repo.db
        self._ref = repo.db.collection(DECISION_LOCKS).document(content_id)
        self._token = uuid.uuid4().hex

    def acquire(self) -> bool:
        from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound

        expires = utcnow() + timedelta(seconds=DECISION_LOCK_SECONDS)
        try:
            self._ref.create({"holder": self._token, "expires_at": expires})
            return True
        except AlreadyExists:
            pass
        snap = self._ref.get()
        if snap.exists and snap.to_dict()["expires_at"] < utcnow():
            try:  # a holder that died: remove its lock only if nobody renewed it meanwhile
                self._ref.delete(option=self._db.write_option(last_update_time=snap.update_time))
            except (FailedPrecondition, NotFound):
                pass
        return False

    def release(self) -> None:
        from google.api_core.exceptions import FailedPrecondition, NotFound

        snap = self._ref.get()
        if snap.exists and snap.to_dict().get("holder") == self._token:
            try:
                self._ref.delete(option=self._db.write_option(last_update_time=snap.update_time))
            except (FailedPrecondition, NotFound):
                pass


def _decision_page(repo: Repository, content: ContentItem, decision: str, reason: str | None, due: list[Post],
                   scheduled: list[Post], zone) -> str:
    """What was decided, and for an approval where and when each post goes."""
    if decision == "rejected":
        note = f"Reason recorded for {content.requested_by}: {reason}" if reason else "No reason was given."
        return pages.result_page("Rejected", "Rejected. Nothing will be published.", note=note)
    recap = []
    for post in [*due, *scheduled]:
        account = repo.get_account(post.account_id) or {}
        handle = account.get("handle")
        where = f"{pages.platform_name(post.platform)} · {'@' + str(handle).lstrip('@') if handle else post.account_id}"
        when = "publishing now" if post.status == "queued" else f"scheduled for {pages.when_text(post.scheduled_at, zone)}"
        recap.append(f"{where}: {when}")
    message = (f"Approved version {content.version} of the post for campaign “{content.campaign}”. "
               f"{len(due)} post(s) are on their way now" + (f", {len(scheduled)} scheduled" if scheduled else "") + ".")
    return pages.result_page("Approved", message, recap=recap, recap_title="Where and when",
                             note="Platforms may take a few minutes to process a video. You can close this page.")


def record_approval_request(repo: Repository, content_id: str, requested_by: str,
                            now: datetime | None = None) -> tuple[ContentItem | None, str | None]:
    """Note in the item's approval history that `requested_by` asked its approvers again (the
    caller then sends the fresh links). Returns (content, None), or (content or None, why not):
    only an item still pending approval can be asked about."""
    from google.cloud import firestore

    ref = repo.content_ref(content_id)
    now = now or utcnow()

    @firestore.transactional
    def _run(transaction):
        content = repo.get_content(content_id, transaction=transaction)
        if content is None:
            return None, f"no content {content_id!r}"
        if content.status != "pending_approval":
            decided = content.approval
            by = f" by {decided.decided_by}" if decided else ""
            return content, f"content {content_id} is {content.status}{by}; only content pending approval can be asked about again"
        entry = {"event": "approval_requested", "requested_by": requested_by, "requested_at": now,
                 "version": content.version, "content_hash": content.content_hash}
        history = [*content.approval_history, entry]
        transaction.update(ref, {"approval_history": history, "updated_at": now})
        return content.model_copy(update={"approval_history": history, "updated_at": now}), None

    content, problem = run_with_contention_retry(lambda: _run(repo.db.transaction()))
    if problem is None:
        log_event(log, logging.INFO, "approval requested again", correlation_id=content_id, version=content.version)
    return content, problem
