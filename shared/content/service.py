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
        if brief.video:
            media.append(media_store.describe(brief.video, "video"))
        media.extend(media_store.describe(uri, "image") for uri in brief.images)
        draft = generator.generate(brief)
        if draft.image is not None:
            ext = _EXTENSIONS.get(draft.image.mime_type, "bin")
            media.append(media_store.put(media_bucket, f"generated/{content_id}/image.{ext}", draft.image.data,
                                         draft.image.mime_type, "image"))
        now = utcnow()
        digest = content_hash(draft.caption, draft.hashtags, media, brief.targets, brief.publish_at)
        content = ContentItem(
            id=content_id, campaign=brief.campaign, caption=draft.caption, hashtags=draft.hashtags, media=media,
            targets=brief.targets, publish_at=brief.publish_at, requested_by=brief.requested_by,
            generator=draft.generator, content_hash=digest, created_at=now, updated_at=now,
        )
        validate_for_targets(content, accounts)
        posts = [
            Post(id=post_id_for(content_id, t.account_id), content_id=content_id, account_id=t.account_id,
                 platform=accounts[t.account_id]["platform"], campaign=brief.campaign, status="pending_approval",
                 content_hash=digest, target=t, created_at=now, updated_at=now)
            for t in brief.targets
        ]
        created = repo.create_content(content, posts)
        log_event(log, logging.INFO, "content drafted", posts=len(posts), generator=draft.generator, created=created)
        return (content if created else repo.get_content(content_id)), created


def edit_content(repo: Repository, content_id: str, *, caption: str | None = None, hashtags: list[str] | None = None) -> ContentItem:
    """Edit text; the hash changes, which voids any approval (invariant 1). Posts need a new approval."""
    content = repo.get_content(content_id)
    if content is None:
        raise ValidationError(f"no content {content_id}", field="content_id")
    new_caption = caption if caption is not None else content.caption
    new_tags = hashtags if hashtags is not None else content.hashtags
    digest = content_hash(new_caption, new_tags, content.media, content.targets, content.publish_at)
    now = utcnow()
    repo.content_ref(content_id).update({
        "caption": new_caption, "hashtags": new_tags, "content_hash": digest, "version": content.version + 1,
        "status": "pending_approval", "approval": None, "updated_at": now,
    })
    return repo.get_content(content_id)
