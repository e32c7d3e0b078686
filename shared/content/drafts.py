"""A brief becomes an AI draft: the payload validated into a Brief, copy (and maybe an image)
generated, every target's rules checked, then the item and one post per target stored awaiting
approval. The same brief delivered twice makes one item."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from pydantic import ValidationError as PydanticError

from shared.content.brief_request import field_path
from shared.content.generation import ContentGenerator
from shared.content.targets import account_or_none, describe_media, posts_for, validate_for_targets
from shared.errors import ValidationError
from shared.model.content import Brief, ContentItem, MediaRef, content_hash
from shared.runtime.clock import as_utc, utcnow
from shared.runtime.logging import log_context, log_event
from shared.stores.posts import Repository
from shared.stores.protocols import MediaStore

log = logging.getLogger(__name__)
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def parse_brief(payload: dict[str, Any]) -> Brief:
    """The Brief, or ValidationError naming the first bad field and listing every problem."""
    try:
        return Brief.model_validate(payload)
    except PydanticError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        problems = "; ".join(f"{field_path(e['loc']) or 'body'}: {e['msg']}" for e in errors)
        raise ValidationError(f"invalid brief: {problems}", field=field_path(errors[0]["loc"]) or "body",
                              limit=_rule(errors[0].get("ctx") or {})) from None


def _rule(ctx: dict[str, Any]) -> str | None:
    """The rule a pydantic error broke, from its context: "max_length=500", or a custom error's `limit`."""
    if "limit" in ctx:
        return str(ctx["limit"])
    rules = [f"{name}={ctx[name]}" for name in ("min_length", "max_length", "ge", "gt", "le", "lt", "expected")
             if name in ctx]
    return ", ".join(rules) or None


def content_id_for(brief: Brief, idempotency_key: str | None) -> str:
    """Stable id: the same brief (or the same message id) delivered twice yields one item."""
    basis = idempotency_key or json.dumps(brief.model_dump(mode="json"), sort_keys=True)
    return "c-" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:20]


def create_draft(brief: Brief, *, generator: ContentGenerator, repo: Repository, media_store: MediaStore, media_bucket: str,
                 idempotency_key: str | None = None) -> tuple[ContentItem, bool]:
    """Generate, validate and store. Returns (item, created); created=False on a redelivery."""
    content_id = content_id_for(brief, idempotency_key)
    with log_context(correlation_id=content_id):
        existing = repo.get_content(content_id)
        if existing is not None:
            log_event(log, logging.INFO, "brief already turned into content; not generating again")
            return existing, False
        found = {t.account_id: account_or_none(repo, t.account_id) for t in brief.targets}
        accounts = {k: v for k, v in found.items() if v is not None}
        media: list[MediaRef] = []
        uris = ([("video", "video", brief.video)] if brief.video else []) + [
            (f"images[{i}]", "image", uri) for i, uri in enumerate(brief.images)]
        for field, kind, uri in uris:
            media.append(describe_media(uri, kind, field, media_store, media_bucket))
        draft = generator.generate(brief)
        publish_at = as_utc(brief.publish_at)
        generated = None
        if draft.image is not None:
            ext = _EXTENSIONS.get(draft.image.mime_type, "bin")
            generated = MediaRef(kind="image", bucket=media_bucket, name=f"generated/{content_id}/image.{ext}",
                                 content_type=draft.image.mime_type, size=len(draft.image.data), ai_generated=True)
        now = utcnow()

        def build(media_refs: list[MediaRef]) -> ContentItem:
            return ContentItem(
                id=content_id, campaign=brief.campaign, caption=draft.caption, hashtags=draft.hashtags, media=media_refs,
                targets=brief.targets, publish_at=publish_at, requested_by=brief.requested_by,
                generator=draft.generator,
                content_hash=content_hash(draft.caption, draft.hashtags, media_refs, brief.targets, publish_at),
                created_at=now, updated_at=now,
            )

        # Validate before anything is stored: a refused brief leaves no object and no document behind.
        validate_for_targets(build(media + ([generated] if generated else [])), accounts)
        if generated is not None and draft.image is not None:  # generated is set exactly when there is an image
            stored = media_store.put(generated.bucket, generated.name, draft.image.data, generated.content_type, "image")
            media.append(stored.model_copy(update={"ai_generated": True}))  # our AI made it: disclosed where a platform asks
        content = build(media)
        posts = posts_for(content, accounts)
        created = repo.create_content(content, posts)
        log_event(log, logging.INFO, "content drafted", posts=len(posts), generator=draft.generator, created=created)
        kept = content if created else repo.get_content(content_id)
        assert kept is not None  # create_content stored nothing only because the item already exists
        return kept, created
