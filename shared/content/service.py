"""Brief -> content draft in Firestore (pending_approval), one post per target, -> content.created."""

from __future__ import annotations

import hashlib
import json
import logging

from shared.content.generation import ContentGenerator
from shared.content.model import Brief, ContentItem, MediaRef, content_hash
from shared.errors import ValidationError
from shared.posts.model import Post, post_id_for
from shared.posts.repository import Repository
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_context, log_event

log = logging.getLogger(__name__)
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def content_id_for(brief: Brief, idempotency_key: str | None) -> str:
    """Stable id: the same brief (or the same message id) delivered twice yields one item."""
    basis = idempotency_key or json.dumps(brief.model_dump(mode="json"), sort_keys=True)
    return "c-" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:20]


def _require_media_bucket(uri: str, field: str, media_bucket: str) -> None:
    from shared.media import parse_gs_uri

    bucket, _ = parse_gs_uri(uri)
    if bucket != media_bucket:
        raise ValidationError(f"{field} is in bucket {bucket!r}; media must be in the media bucket", field=field,
                              limit=f"gs://{media_bucket}/...")


def validate_for_targets(content: ContentItem, accounts: dict[str, dict | None]) -> None:
    """Each target's platform rules, before anyone is asked to approve (a person never approves a refusal).
    Raises ValidationError naming the target, the field and the limit."""
    from shared.platforms.registry import adapter_for

    for target in content.targets:
        account = accounts.get(target.account_id)
        if account is None:
            raise ValidationError(f"unknown account {target.account_id!r}", field="targets.account_id",
                                  limit="an account registered in Firestore `accounts`")
        try:
            adapter_for(account.get("platform", "")).validate(content, target, account)
        except ValidationError as exc:
            raise ValidationError(f"{account.get('platform')} account {target.account_id}: {exc}",
                                  field=exc.field, limit=exc.limit) from None


def create_draft(brief: Brief, *, generator: ContentGenerator, repo: Repository, media_store, media_bucket: str,
                 idempotency_key: str | None = None) -> tuple[ContentItem, bool]:
    """Generate, validate and store. Returns (item, created); created=False on a redelivery."""
    content_id = content_id_for(brief, idempotency_key)
    with log_context(correlation_id=content_id):
        existing = repo.get_content(content_id)
        if existing is not None:
            log_event(log, logging.INFO, "brief already turned into content; not generating again")
            return existing, False
        accounts = {t.account_id: repo.get_account(t.account_id) for t in brief.targets}
        accounts = {k: v for k, v in accounts.items() if v is not None}
        media: list[MediaRef] = []
        uris = ([("video", "video", brief.video)] if brief.video else []) + [
            (f"images[{i}]", "image", uri) for i, uri in enumerate(brief.images)]
        for field, kind, uri in uris:
            _require_media_bucket(uri, field, media_bucket)
            media.append(media_store.describe(uri, kind, field=field))
        draft = generator.generate(brief)
        generated = None
        if draft.image is not None:
            ext = _EXTENSIONS.get(draft.image.mime_type, "bin")
            generated = MediaRef(kind="image", bucket=media_bucket, name=f"generated/{content_id}/image.{ext}",
                                 content_type=draft.image.mime_type, size=len(draft.image.data))
        now = utcnow()

        def build(media_refs: list[MediaRef]) -> ContentItem:
            return ContentItem(
                id=content_id, campaign=brief.campaign, caption=draft.caption, hashtags=draft.hashtags, media=media_refs,
                targets=brief.targets, publish_at=brief.publish_at, requested_by=brief.requested_by,
                generator=draft.generator,
                content_hash=content_hash(draft.caption, draft.hashtags, media_refs, brief.targets, brief.publish_at),
                created_at=now, updated_at=now,
            )

        # Validate before anything is stored: a refused brief leaves no object and no document behind.
        validate_for_targets(build(media + ([generated] if generated else [])), accounts)
        if generated is not None:
            media.append(media_store.put(generated.bucket, generated.name, draft.image.data, generated.content_type, "image"))
        content = build(media)
        digest = content.content_hash
        posts = [
            Post(id=post_id_for(content_id, t.account_id), content_id=content_id, account_id=t.account_id,
                 platform=accounts[t.account_id]["platform"], campaign=brief.campaign, status="pending_approval",
                 content_hash=digest, target=t, created_at=now, updated_at=now)
            for t in brief.targets
        ]
        created = repo.create_content(content, posts)
        log_event(log, logging.INFO, "content drafted", posts=len(posts), generator=draft.generator, created=created)
        return (content if created else repo.get_content(content_id)), created


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

    from shared.posts.repository import _dump
    from shared.posts.state_machine import transition

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
        voided = {"version": content.version, "content_hash": content.content_hash, "voided_at": now,
                  "reason": reason, "approval": _dump(content.approval) if content.approval else None}
        new = new.model_copy(update={"content_hash": digest, "version": content.version + 1, "status": "pending_approval",
                                     "approval": None, "approval_history": [*content.approval_history, voided],
                                     "updated_at": now})
        transaction.set(ref, _dump(new))
        for post in posts:
            if post.status in _VOIDABLE:
                post = transition(post, "pending_approval", reason=f"approval void: {reason}", content_hash=digest,
                                  approved_by=None, approved_at=None, scheduled_at=None, next_attempt_at=None,
                                  redispatch_at=None)
            elif post.status == "pending_approval":
                post = post.model_copy(update={"content_hash": digest, "updated_at": now})
            else:
                continue  # already claimed, done or closed: that version stands as it went out
            transaction.set(repo.post_ref(post.id), _dump(post))
        return new

    reopened = _run(repo.db.transaction())
    if reopened is not None:
        log_event(log, logging.WARNING, "approval voided; content goes back to its approver", reason=reason,
                  correlation_id=content_id, version=reopened.version)
    return reopened


def void_for_changed_media(repo: Repository, content: ContentItem, media_store, reason: str) -> tuple[ContentItem | None, str | None]:
    """An approved media object changed: the new version (with the objects' live generations) goes
    back to its approver. Returns (reopened content or None, why it can't be asked again): when an
    object is gone there is nothing to approve, and the caller fails the post naming it."""
    live = [media_store.current(ref) for ref in content.media]
    gone = [ref.uri for ref, now in zip(content.media, live) if now is None]
    if gone:
        return None, f"approved media {', '.join(gone)} was deleted; upload it again and request a new approval"
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
