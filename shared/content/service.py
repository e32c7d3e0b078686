"""Brief -> content draft in Firestore (pending_approval), one post per target, -> content.created."""

from __future__ import annotations

import hashlib
import json
import logging
import unicodedata
import uuid
from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.content.generation import ContentGenerator
from shared.errors import ValidationError
from shared.model.campaign import CAMPAIGN_ID_MAX, CAMPAIGN_ID_PATTERN
from shared.model.content import HASHTAG_PATTERN, Brief, ContentItem, GsUri, MediaRef, TargetSpec, content_hash
from shared.model.disclosure import carry_ai_flags
from shared.model.post import Post, post_id_for
from shared.model.schedule import PlannedTime, check_planned_time
from shared.model.state_machine import transition
from shared.platforms.registry import adapter_for
from shared.runtime.clock import as_utc, utcnow
from shared.runtime.logging import log_context, log_event
from shared.stores.media import parse_gs_uri
from shared.stores.posts import Repository, new_transaction, run_with_contention_retry

log = logging.getLogger(__name__)
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def content_id_for(brief: Brief, idempotency_key: str | None) -> str:
    """Stable id: the same brief (or the same message id) delivered twice yields one item."""
    basis = idempotency_key or json.dumps(brief.model_dump(mode="json"), sort_keys=True)
    return "c-" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:20]


def _require_media_bucket(uri: str, field: str, media_bucket: str) -> None:
    bucket, _ = parse_gs_uri(uri)
    if bucket != media_bucket:
        raise ValidationError(f"{field} is in bucket {bucket!r}; media must be in the media bucket", field=field,
                              limit=f"gs://{media_bucket}/...")


def account_or_none(repo: Repository, account_id: str) -> dict | None:
    """The account, or None, also for an id no Firestore document can have ("a/b", "..", "__x__"):
    such a target is an unknown account to its author, not a server error."""
    if ("/" in account_id or account_id in (".", "..") or (account_id.startswith("__") and account_id.endswith("__"))
            or len(account_id.encode("utf-8")) > 1500):
        return None
    return repo.get_account(account_id)


def validate_for_targets(content: ContentItem, accounts: Mapping[str, dict | None]) -> None:
    """Each target's platform rules, before anyone is asked to approve (a person never approves a refusal).
    Raises ValidationError naming the target, the field and the limit."""
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
        posts = _posts_for(content, accounts)
        created = repo.create_content(content, posts)
        log_event(log, logging.INFO, "content drafted", posts=len(posts), generator=draft.generator, created=created)
        kept = content if created else repo.get_content(content_id)
        assert kept is not None  # create_content stored nothing only because the item already exists
        return kept, created


def _posts_for(content: ContentItem, accounts: dict[str, dict]) -> list[Post]:
    """One post per target, awaiting approval. `scheduled_at` carries the planned time from the
    start, so lists and the calendar show a post on its day before it is approved."""
    return [
        Post(id=post_id_for(content.id, t.account_id), content_id=content.id, account_id=t.account_id,
             platform=accounts[t.account_id]["platform"], campaign=content.campaign, status="pending_approval",
             content_hash=content.content_hash, target=t, scheduled_at=content.publish_at,
             created_at=content.created_at, updated_at=content.updated_at)
        for t in content.targets
    ]


def clean_hashtags(tags: list[str]) -> list[str]:
    """Without the leading '#'; blank ones dropped; whitespace or a control character inside one is
    an error (ValueError)."""
    cleaned = [t.strip().lstrip("#") for t in tags if t.strip().lstrip("#")]
    for tag in cleaned:
        if any(ch.isspace() for ch in tag):
            raise ValueError(f"hashtag {tag!r} contains whitespace")
        if _control(tag):
            raise ValueError(f"hashtag {tag!r} contains a control character")
    return cleaned


# Characters that print nothing: a caption of only these (and spaces) is blank to a reader.
_INVISIBLE = {"Cf", "Zs", "Zl", "Zp", "Mn", "Me"}


def _control(text: str) -> str | None:
    """The first control character other than tab, line feed and carriage return (NUL among them)."""
    return next((ch for ch in text if ch not in "\t\n\r" and unicodedata.category(ch) == "Cc"), None)


def check_caption(caption: str) -> str:
    """A caption a person can read: no control characters (NUL...) and not blank, where zero-width
    and other invisible characters count as blank. ValueError saying which."""
    bad = _control(caption)
    if bad is not None:
        raise ValueError(f"caption contains the control character U+{ord(bad):04X}")
    if all(ch.isspace() or unicodedata.category(ch) in _INVISIBLE for ch in caption):
        raise ValueError("caption is blank (only spaces or invisible characters)")
    return caption


# -- the team's own copy ---------------------------------------------------------------------

OWN_COPY_GENERATOR = "own-copy"  # ContentItem.generator of text written by people, used verbatim
# Longest text any platform takes (YouTube's description); each platform's own rule is checked per target.
CAPTION_MAX_CHARS = 5000
# No control characters but tab, line feed and carriage return (check_caption also refuses invisible-only text).
CAPTION_PATTERN = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"


class OwnCopy(BaseModel):
    """A post the team wrote: caption, hashtags and media go out exactly as given (after approval)."""

    model_config = ConfigDict(extra="forbid")

    campaign: str = Field(pattern=CAMPAIGN_ID_PATTERN, max_length=CAMPAIGN_ID_MAX, description="campaign id")
    caption: str = Field(min_length=1, max_length=CAPTION_MAX_CHARS, pattern=CAPTION_PATTERN,
                         description="posted verbatim; not only spaces or invisible characters")
    hashtags: list[Annotated[str, Field(min_length=1, max_length=100, json_schema_extra={"pattern": HASHTAG_PATTERN})]] = Field(
        default_factory=list, max_length=30)
    video: GsUri | None = Field(default=None, description="gs://bucket/object of the video to post")
    images: list[GsUri] = Field(default_factory=list, max_length=10, description="gs:// images, in carousel order")
    targets: list[TargetSpec] = Field(min_length=1, max_length=50)
    publish_at: PlannedTime | None = Field(default=None, description="when to publish (UTC if no offset; from now to "
                                                                   "731 days ahead); none = on approval")
    requested_by: str | None = Field(default=None, min_length=3, max_length=200,
                                     description="who to tell about the decision (default: the caller)")

    @field_validator("caption")
    @classmethod
    def _not_blank(cls, caption: str) -> str:
        return check_caption(caption)

    @field_validator("hashtags")
    @classmethod
    def _clean_tags(cls, tags: list[str]) -> list[str]:
        return clean_hashtags(tags)

    @model_validator(mode="after")
    def _each_account_once(self) -> OwnCopy:
        from pydantic import ValidationError as PydanticError
        from pydantic_core import InitErrorDetails, PydanticCustomError

        seen: set[str] = set()
        for index, target in enumerate(self.targets):
            if target.account_id in seen:
                error = PydanticCustomError("duplicate_target", "account {account_id} is already a target of this post",
                                            {"account_id": target.account_id})
                raise PydanticError.from_exception_data("OwnCopy", [InitErrorDetails(
                    type=error, loc=("targets", index, "account_id"), input=target.account_id)])
            seen.add(target.account_id)
        return self


class CopyRefused(ValidationError):
    """Every problem found in a copy, each naming its field (`targets[0].account_id`, `video`)."""

    def __init__(self, problems: list[dict]):
        first = problems[0]
        super().__init__(f"{first['field']}: {first['message']}", field=first["field"], limit=first.get("limit"))
        self.problems = problems


def copy_content_id(idempotency_key: str | None) -> str:
    """With an Idempotency-Key the same request always names the same item; without one, a new item."""
    if idempotency_key:
        return "c-" + hashlib.sha256(("own-copy:" + idempotency_key).encode("utf-8")).hexdigest()[:20]
    return "c-" + uuid.uuid4().hex[:20]


def describe_media(uri: str, kind: str, field: str, media_store, media_bucket: str) -> MediaRef:
    from google.api_core.exceptions import GoogleAPICallError

    _require_media_bucket(uri, field, media_bucket)
    try:
        return media_store.describe(uri, kind, field=field)
    except GoogleAPICallError as exc:  # e.g. an object name Cloud Storage refuses
        raise ValidationError(f"{uri} can't be read: {exc.message}", field=field,
                              limit="an existing Cloud Storage object") from None


def _problem(field: str, exc: ValidationError | str, kind: str = "value_error") -> dict:
    message = str(exc)
    limit = getattr(exc, "limit", None)
    return {"field": field, "message": message + (f" (limit: {limit})" if limit else ""), "type": kind}


def target_field(index: int, field: str | None) -> str:
    """A platform rule's field, placed on its target: `targets.privacy_level` -> `targets[2].privacy_level`."""
    if not field:
        return f"targets[{index}]"
    if field == "targets" or field.startswith("targets."):
        return f"targets[{index}]" + field[len("targets"):]
    if field.startswith("account."):
        return f"targets[{index}].account_id"
    return field  # content-wide: caption, hashtags, video, images


def check_targets(content: ContentItem, accounts: dict[str, dict | None]) -> list[dict]:
    """Each target's account exists and its platform would take this content; every problem, by field."""
    problems = []
    for index, target in enumerate(content.targets):
        account = accounts.get(target.account_id)
        if account is None:
            problems.append(_problem(f"targets[{index}].account_id", f"unknown account {target.account_id!r}",
                                     "unknown_account"))
            continue
        try:
            adapter_for(account.get("platform", "")).validate(content, target, account)
        except ValidationError as exc:
            problems.append(_problem(target_field(index, exc.field),
                                     f"{account.get('platform')} account {target.account_id}: {exc}",
                                     "platform_rule"))
    return problems


def prepare_copy(copy: OwnCopy, *, content_id: str, requested_by: str, repo: Repository, media_store,
                 media_bucket: str, accounts: dict[str, dict | None] | None = None) -> tuple[ContentItem, list[Post]]:
    """The item and its posts for a copy, checked (accounts, media bucket and objects, each target's
    platform rules) but not stored. Raises CopyRefused listing every problem."""
    if accounts is None:
        accounts = {t.account_id: account_or_none(repo, t.account_id) for t in copy.targets}
    problems: list[dict] = []
    media: list[MediaRef] = []
    uris = ([("video", "video", copy.video)] if copy.video else []) + [
        (f"images[{i}]", "image", uri) for i, uri in enumerate(copy.images)]
    for field, kind, uri in uris:
        try:
            media.append(describe_media(uri, kind, field, media_store, media_bucket))
        except ValidationError as exc:
            problems.append(_problem(field, exc, "media"))
    now = utcnow()
    if copy.publish_at is not None:
        try:
            check_planned_time(copy.publish_at, now=now, field="publish_at")
        except ValidationError as exc:
            problems.append(_problem("publish_at", exc, "planned_time"))
    content = ContentItem(
        id=content_id, campaign=copy.campaign, caption=copy.caption, hashtags=copy.hashtags, media=media,
        targets=copy.targets, publish_at=copy.publish_at, requested_by=copy.requested_by or requested_by,
        generator=OWN_COPY_GENERATOR,
        content_hash=content_hash(copy.caption, copy.hashtags, media, copy.targets, copy.publish_at),
        created_at=now, updated_at=now)
    if not problems:  # platform rules judge the media too: only meaningful once every object was found
        problems += check_targets(content, accounts)
    if problems:
        raise CopyRefused(problems)
    return content, _posts_for(content, {k: v for k, v in accounts.items() if v is not None})


def create_from_copy(copy: OwnCopy, *, requested_by: str, repo: Repository, media_store, media_bucket: str,
                     idempotency_key: str | None = None) -> tuple[ContentItem, bool]:
    """The team's own copy -> content pending approval, like create_draft but with no generator.
    Returns (item, created); created=False when the Idempotency-Key named an existing item."""
    [(content, created)] = create_copies([copy], requested_by=requested_by, repo=repo, media_store=media_store,
                                         media_bucket=media_bucket, idempotency_key=idempotency_key)
    return content, created


# One Firestore batch holds at most 500 writes; a bulk is written in one, so it lands whole or not at all.
MAX_BATCH_WRITES = 500


def create_copies(copies: list[OwnCopy], *, requested_by: str, repo: Repository, media_store, media_bucket: str,
                  idempotency_key: str | None = None) -> list[tuple[ContentItem, bool]]:
    """All or nothing: every copy is checked first (CopyRefused lists every problem, fields prefixed
    `items[i].` when there is more than one copy), then all are written in one batch.

    With an Idempotency-Key, copy i is named by (key, i): a replayed request returns the items it made.
    """
    many = len(copies) > 1
    keyed = [(f"{idempotency_key}#{i}" if many else idempotency_key) if idempotency_key else None
             for i in range(len(copies))]
    ids = [copy_content_id(k) for k in keyed]
    existing = {i: repo.get_content(cid) for i, cid in enumerate(ids) if keyed[i]}
    account_ids = {t.account_id for copy in copies for t in copy.targets}
    accounts = {a: account_or_none(repo, a) for a in sorted(account_ids)}
    problems: list[dict] = []
    prepared: dict[int, tuple[ContentItem, list[Post]]] = {}
    for i, copy in enumerate(copies):
        if existing.get(i) is not None:
            continue
        try:
            prepared[i] = prepare_copy(copy, content_id=ids[i], requested_by=requested_by, repo=repo,
                                       media_store=media_store, media_bucket=media_bucket, accounts=accounts)
        except CopyRefused as refused:
            prefix = f"items[{i}]." if many else ""
            problems += [{**p, "field": prefix + p["field"]} for p in refused.problems]
    if problems:
        raise CopyRefused(problems)
    writes = sum(1 + len(posts) for _, posts in prepared.values())
    if writes > MAX_BATCH_WRITES:
        raise ValidationError(f"these items make {writes} documents (an item and one post per target); one request "
                              f"creates at most {MAX_BATCH_WRITES}", field="items", limit=f"{MAX_BATCH_WRITES} documents")
    if prepared:
        _write_all(repo, list(prepared.values()))
    out = []
    for i in range(len(copies)):
        if i in prepared:
            content = prepared[i][0]
            with log_context(correlation_id=content.id):
                log_event(log, logging.INFO, "own copy stored for approval", posts=len(prepared[i][1]),
                          requested_by=content.requested_by)
            out.append((content, True))
        else:
            stored_before = existing[i]
            assert stored_before is not None  # not prepared above: it was stored already
            out.append((stored_before, False))
    return out


def _write_all(repo: Repository, items: list[tuple[ContentItem, list[Post]]]) -> None:
    from google.api_core.exceptions import AlreadyExists

    from shared.stores.posts import _dump

    batch = repo.db.batch()
    for content, posts in items:
        batch.create(repo.content_ref(content.id), _dump(content))
        for post in posts:
            batch.create(repo.post_ref(post.id), _dump(post))
    try:
        batch.commit()
    except AlreadyExists:
        # The same Idempotency-Key raced in twice: the other request stored them; nothing was written here.
        raise ValidationError("these items were created by a concurrent request with the same Idempotency-Key; "
                              "send it again to get them", field="Idempotency-Key") from None


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

    from shared.stores.posts import _dump

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
                # scheduled_at stays: the post keeps its planned time (it shows on its day and, once
                # approved again, goes out then), only the approval is gone.
                post = transition(post, "pending_approval", reason=f"approval void: {reason}", content_hash=digest,
                                  approved_by=None, approved_at=None, next_attempt_at=None, redispatch_at=None)
            elif post.status == "pending_approval":
                post = post.model_copy(update={"content_hash": digest, "updated_at": now})
            else:
                continue  # already claimed, done or closed: that version stands as it went out
            transaction.set(repo.post_ref(post.id), _dump(post))
        return new

    reopened = run_with_contention_retry(lambda: _run(new_transaction(repo.db)))
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
    live = carry_ai_flags(live, content.media)
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
