"""Content versions: a change to an item's text or media makes a new version with a new hash,
voids its approval (kept in the history, with what changed) and sends its unclaimed posts back for
approval, in one transaction (invariant 1). `changes_since` reads that history back as sentences: what
an approver who was shown an older version needs to hear."""

from __future__ import annotations

import logging
from datetime import datetime

from shared.errors import ValidationError
from shared.model.content import ContentItem, MediaRef
from shared.model.disclosure import carry_ai_flags
from shared.model.post import Post, post_id_for
from shared.model.state_machine import transition
from shared.runtime.clock import as_utc, utcnow
from shared.runtime.logging import log_event
from shared.stores.posts import Repository, dump, new_transaction, run_with_contention_retry
from shared.stores.protocols import MediaStore

log = logging.getLogger(__name__)

# Posts a voided approval sends back to the approver: approved but not yet claimed by a publisher.
_VOIDABLE = {"approved", "scheduled", "queued"}


def reopen_for_approval(repo: Repository, content_id: str, *, expected_hash: str, reason: str,
                        caption: str | None = None, hashtags: list[str] | None = None,
                        media: list[MediaRef] | None = None) -> ContentItem | None:
    """A new version of the content: new hash, approval voided and kept in the history, and its
    not-yet-claimed posts back to pending_approval, all in one transaction (invariant 1).

    Returns the new version, or None when the content is no longer at `expected_hash` (another
    instance reopened it first; one new approval request is enough). The caller asks the approver.
    """
    from google.cloud import firestore

    ref = repo.content_ref(content_id)

    @firestore.transactional
    def _run(transaction) -> ContentItem | None:
        content = repo.get_content(content_id, transaction=transaction)
        if content is None or content.content_hash != expected_hash:
            return None
        if content.status in ("rejected", "cancelled"):
            raise ValidationError(f"content {content_id} was {content.status}; it can't be changed, draft a new one",
                                  field="content_id", limit="content pending approval or approved")
        post_refs = [repo.post_ref(post_id_for(content_id, t.account_id)) for t in content.targets]
        posts = [Post.model_validate(s.to_dict()) for s in repo.db.get_all(post_refs, transaction=transaction) if s.exists]
        now = utcnow()
        new = content.model_copy(update={
            "caption": caption if caption is not None else content.caption,
            "hashtags": hashtags if hashtags is not None else content.hashtags,
            "media": media if media is not None else content.media,
        })
        digest = new.current_hash()
        changed = [name for name in ("caption", "hashtags", "media") if getattr(new, name) != getattr(content, name)]
        voided = {"version": content.version, "content_hash": content.content_hash, "voided_at": now,
                  "reason": reason, "changed": changed, "approval": dump(content.approval) if content.approval else None}
        new = new.model_copy(update={"content_hash": digest, "version": content.version + 1, "status": "pending_approval",
                                     "approval": None, "approval_history": [*content.approval_history, voided],
                                     "updated_at": now})
        transaction.set(ref, dump(new))
        for post in posts:
            if post.status in _VOIDABLE:
                # scheduled_at stays: the post keeps its planned time (it shows on its day and, once
                # approved again, goes out then), only the approval is gone.
                post = transition(post, "pending_approval", reason=f"approval void: {reason}", content_hash=digest,
                                  approved_by=None, approved_at=None, next_attempt_at=None, redispatch_at=None)
            elif post.status == "pending_approval":
                post = post.model_copy(update={"content_hash": digest, "updated_at": now})
            else:
                continue  # already claimed, done or closed: that version stands as it went out
            transaction.set(repo.post_ref(post.id), dump(post))
        return new

    reopened = run_with_contention_retry(lambda: _run(new_transaction(repo.db)))
    if reopened is not None:
        log_event(log, logging.WARNING, "approval voided; content goes back to its approver", reason=reason,
                  correlation_id=content_id, version=reopened.version)
    return reopened


def void_for_changed_media(repo: Repository, content: ContentItem, media_store: MediaStore, reason: str) -> tuple[ContentItem | None, str | None]:
    """An approved media object changed: the new version (with the objects' live generations) goes
    back to its approver. Returns (reopened content or None, why it can't be asked again): when an
    object is gone there is nothing to approve, and the caller fails the post naming it."""
    current = [media_store.current(ref) for ref in content.media]
    gone = [ref.uri for ref, now in zip(content.media, current) if now is None]
    if gone:
        return None, f"approved media {', '.join(gone)} was deleted; upload it again and request a new approval"
    live = carry_ai_flags([ref for ref in current if ref is not None], content.media)
    return reopen_for_approval(repo, content.id, expected_hash=content.content_hash, reason=reason, media=live), None


def edit_content(repo: Repository, content_id: str, *, caption: str | None = None, hashtags: list[str] | None = None) -> ContentItem:
    """Edit text; the hash changes, which voids any approval (invariant 1). Posts need a new approval."""
    content = repo.get_content(content_id)
    if content is None:
        raise ValidationError(f"no content {content_id}", field="content_id")
    reopened = reopen_for_approval(repo, content_id, expected_hash=content.content_hash, reason="content edited",
                                   caption=caption, hashtags=hashtags)
    if reopened is None:
        raise ValidationError(f"content {content_id} changed while it was being edited; try again", field="content_id")
    return reopened


def changes_since(content: ContentItem, shown_hash: str) -> tuple[str, ...]:
    """Each version made since the one whose hash is `shown_hash`, oldest first, as a sentence: what
    changed, why and when ("Version 1 → 2 on 2031-06-02 14:03 UTC: caption changed (edited by ...)").
    Empty when that version is not in the item's history (never one of its versions)."""
    voided = [entry for entry in content.approval_history if "voided_at" in entry]
    start = next((i for i, entry in enumerate(voided) if entry.get("content_hash") == shown_hash), None)
    if start is None:
        return ()
    sentences = []
    for entry in voided[start:]:
        version, at = entry.get("version"), entry.get("voided_at")
        what = " and ".join(entry.get("changed") or []) or "content"
        when = f" on {as_utc(at):%Y-%m-%d %H:%M} UTC" if isinstance(at, datetime) else ""
        step = f"Version {version} → {version + 1}" if isinstance(version, int) else "A new version"
        why = f" ({entry['reason']})" if entry.get("reason") else ""
        sentences.append(f"{step}{when}: {what} changed{why}.")
    return tuple(sentences)
