"""What must hold before a review is shown or a decision recorded; each check raises the refusal
(shared/approval/refusals.py) that says why not.

The same checks run for a signed link and for an API caller (whose claims are made up from the
request, shared/approval/decision.py): the item still pending and unchanged, the link unused, the
media still the generations under review, and the platforms' rules still met.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.approval.refusals import (
    AlreadyDecided,
    ContentChanged,
    MediaChangedSinceShown,
    MediaGone,
    NothingToDecide,
    PlatformWouldRefuse,
)
from shared.approval.tokens import LinkClaims
from shared.content.targets import validate_for_targets
from shared.content.versions import changes_since, void_for_changed_media
from shared.errors import MediaChanged, ValidationError
from shared.model.content import ContentItem
from shared.stores.posts import APPROVALS, Repository

if TYPE_CHECKING:  # annotations only: importing the config module at runtime costs cold start
    from shared.runtime.config import Config
    from shared.stores.protocols import MediaStore


@dataclass(frozen=True)
class ReviewEnv:
    """What showing or deciding needs beyond Firestore: media (previews, the generation check),
    the runtime config, and how to ask the approver again when approved media changed."""

    media_store: MediaStore
    config: Config
    request_approval: Callable[[ContentItem], None]


def token_used(repo: Repository, token_id: str) -> bool:
    """A link (or an API decision) is single use: its use is recorded under its token id."""
    return repo.db.collection(APPROVALS).document(token_id).get().exists


def check_decidable(claims: LinkClaims, content: ContentItem | None, *, used: bool) -> ContentItem:
    """The item the claims are about, if it can still be decided on the version they name."""
    if content is None:
        raise NothingToDecide("gone", "This post no longer exists.")
    if used:
        raise NothingToDecide("link_used", "This link has already been used.")
    if content.status != "pending_approval":
        decided = content.approval
        by = f" by {decided.decided_by} at {decided.decided_at:%Y-%m-%d %H:%M} UTC" if decided else ""
        raise AlreadyDecided(f"This post was already {content.status}{by}; nothing more to do.", status=content.status,
                             decided_by=decided.decided_by if decided else None,
                             decided_at=decided.decided_at if decided else None)
    if claims.content_hash != content.content_hash or content.current_hash() != content.content_hash:
        if claims.via_api:
            message = (f"The content changed since the version you decided on (content_hash {claims.content_hash}); "
                       f"it is now version {content.version}, content_hash {content.content_hash}. Nothing was "
                       "recorded: read it again and decide on the current version.")
        else:
            message = ("The post was edited after this link was sent, so this link no longer applies. A new approval "
                       "request is needed.")
        raise ContentChanged(message, shown_hash=claims.content_hash, current_hash=content.content_hash,
                             current_version=content.version, changes=changes_since(content, claims.content_hash))
    return content


def check_media(repo: Repository, content: ContentItem, env: ReviewEnv, *, may_reask: bool,
                via_api: bool = False) -> None:
    """The media under review must still be the generations this link was issued for. When not,
    and `may_reask`, the new version goes to the approvers before the refusal is raised."""
    try:
        env.media_store.verify(content.media)
        return
    except MediaChanged as changed:
        reason = str(changed)
    if not may_reask:
        raise MediaChangedSinceShown(f"{reason}. This link no longer applies; open it in a browser to have the new "
                                     "version sent for approval.", change=reason, reasked=False)
    reopened, cannot = void_for_changed_media(repo, content, env.media_store, reason)
    if cannot:
        raise MediaGone(f"{cannot}. Nothing can be approved from this link.", change=cannot)
    if reopened is not None:
        env.request_approval(reopened)
    what = "the version you read can't be decided on any more" if via_api else "this link no longer applies"
    raise MediaChangedSinceShown(f"The media changed: {reason}, so {what}. Nothing was recorded; a new approval "
                                 "request for the current version has been sent.", change=reason,
                                 reasked=reopened is not None)


def check_platforms(repo: Repository, content: ContentItem) -> None:
    """Platform rules again at approval time (accounts or rules may have changed since generation)."""
    accounts = {t.account_id: repo.get_account(t.account_id) for t in content.targets}
    try:
        validate_for_targets(content, accounts)
    except ValidationError as exc:
        detail = f" ({exc.field}: {exc.limit})" if exc.field else ""
        raise PlatformWouldRefuse(f"{exc}{detail}. Fix the post and request approval again.", field=exc.field,
                                  limit=exc.limit) from None
