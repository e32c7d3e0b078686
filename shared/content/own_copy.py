"""The team's own copy: a post written by people (caption, hashtags, media, targets) goes out
verbatim after approval, like a draft but with no generator. Every problem in a copy is reported at
once, by field; a bulk of copies is checked whole, then written in one batch (all or nothing)."""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticError
from pydantic_core import InitErrorDetails, PydanticCustomError

from shared.content.targets import account_or_none, describe_media, posts_for
from shared.content.text import CAPTION_MAX_CHARS, CAPTION_PATTERN, check_caption, clean_hashtags
from shared.errors import ValidationError
from shared.model.account import Account
from shared.model.campaign import CAMPAIGN_ID_MAX, CAMPAIGN_ID_PATTERN
from shared.model.content import HASHTAG_PATTERN, ContentItem, GsUri, MediaRef, TargetSpec, content_hash
from shared.model.post import Post
from shared.model.schedule import PlannedTime, check_planned_time
from shared.platforms.registry import adapter_for
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_context, log_event
from shared.stores.posts import Repository, dump
from shared.stores.protocols import MediaStore

log = logging.getLogger(__name__)

OWN_COPY_GENERATOR = "own-copy"  # ContentItem.generator of text written by people, used verbatim


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


def _problem(field: str, exc: ValidationError | str, kind: str = "value_error", limit: str | None = None) -> dict:
    message = str(exc)
    limit = limit or getattr(exc, "limit", None)
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


def problems_by_target(content: ContentItem, accounts: dict[str, Account | None]) -> list[list[dict]]:
    """Each target's problems, in target order: its account exists and its platform would take this
    content (the adapter's own validate); each problem names its field."""
    found: list[list[dict]] = []
    for index, target in enumerate(content.targets):
        problems: list[dict] = []
        found.append(problems)
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
                                     "platform_rule", limit=exc.limit))  # the rule, so the author can meet it
    return found


def check_targets(content: ContentItem, accounts: dict[str, Account | None]) -> list[dict]:
    """Each target's account exists and its platform would take this content; every problem, by field."""
    return [problem for problems in problems_by_target(content, accounts) for problem in problems]


@dataclass(frozen=True)
class CopyCheck:
    """A copy judged, nothing stored: the item it makes, the problems of the whole item (media,
    publish_at) and each target's own (account, platform rules) in target order. Targets are judged
    only once every media object was found: the platforms' rules judge the media too."""

    content: ContentItem
    accounts: dict[str, Account | None]
    problems: list[dict]
    target_problems: list[list[dict]]

    @property
    def all_problems(self) -> list[dict]:
        return self.problems + [problem for problems in self.target_problems for problem in problems]


def check_copy(copy: OwnCopy, *, content_id: str, requested_by: str, repo: Repository, media_store: MediaStore,
               media_bucket: str, accounts: dict[str, Account | None] | None = None,
               now: datetime | None = None) -> CopyCheck:
    """Every check prepare_copy makes (accounts, media bucket and objects, publish_at, each target's
    platform rules), reported instead of raised: what the console's composer shows while typing.
    `now`: the caller's clock (the services' `now`), else the wall clock."""
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
    now = now or utcnow()
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
    # platform rules judge the media too: only meaningful once every object was found
    per_target = problems_by_target(content, accounts) if not problems else [[] for _ in content.targets]
    return CopyCheck(content, accounts, problems, per_target)


def prepare_copy(copy: OwnCopy, *, content_id: str, requested_by: str, repo: Repository, media_store: MediaStore,
                 media_bucket: str, accounts: dict[str, Account | None] | None = None,
                 now: datetime | None = None) -> tuple[ContentItem, list[Post]]:
    """The item and its posts for a copy, checked (accounts, media bucket and objects, each target's
    platform rules) but not stored. Raises CopyRefused listing every problem."""
    checked = check_copy(copy, content_id=content_id, requested_by=requested_by, repo=repo, media_store=media_store,
                         media_bucket=media_bucket, accounts=accounts, now=now)
    if checked.all_problems:
        raise CopyRefused(checked.all_problems)
    return checked.content, posts_for(checked.content, {k: v for k, v in checked.accounts.items() if v is not None})


def create_from_copy(copy: OwnCopy, *, requested_by: str, repo: Repository, media_store: MediaStore, media_bucket: str,
                     idempotency_key: str | None = None, now: datetime | None = None) -> tuple[ContentItem, bool]:
    """The team's own copy -> content pending approval, like create_draft but with no generator.
    Returns (item, created); created=False when the Idempotency-Key named an existing item."""
    [(content, created)] = create_copies([copy], requested_by=requested_by, repo=repo, media_store=media_store,
                                         media_bucket=media_bucket, idempotency_key=idempotency_key, now=now)
    return content, created


# One Firestore batch holds at most 500 writes; a bulk is written in one, so it lands whole or not at all.
MAX_BATCH_WRITES = 500


def create_copies(copies: list[OwnCopy], *, requested_by: str, repo: Repository, media_store: MediaStore, media_bucket: str,
                  idempotency_key: str | None = None, now: datetime | None = None) -> list[tuple[ContentItem, bool]]:
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
                                       media_store=media_store, media_bucket=media_bucket, accounts=accounts, now=now)
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

    batch = repo.db.batch()
    for content, posts in items:
        batch.create(repo.content_ref(content.id), dump(content))
        for post in posts:
            batch.create(repo.post_ref(post.id), dump(post))
    try:
        batch.commit()
    except AlreadyExists:
        # The same Idempotency-Key raced in twice: the other request stored them; nothing was written here.
        raise ValidationError("these items were created by a concurrent request with the same Idempotency-Key; "
                              "send it again to get them", field="Idempotency-Key") from None
