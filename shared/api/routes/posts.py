"""Posts: create (AI draft or the team's own copy, one or in bulk), list, get, edit, delete,
cancel, reschedule, and the calendar. Routes only translate; shared/posts/service.py and
shared/content/ (drafts, own copy) decide. Every write needs the editor role and names the caller in the
post's history."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from flask_openapi3 import APIBlueprint, Tag
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from shared.api.auth import current_principal
from shared.api.contention import one_change_at_a_time
from shared.api.errors import ApiError, not_found
from shared.api.idempotency import idempotent
from shared.api.models import BulkOut, CalendarDay, CalendarOut, ContentOut, PostOut, PostPage
from shared.api.schemas import Day, PageQuery, page_fields
from shared.content.own_copy import CopyRefused, OwnCopy, create_copies, create_from_copy
from shared.content.text import CAPTION_MAX_CHARS, CAPTION_PATTERN, check_caption, clean_hashtags
from shared.errors import ValidationError
from shared.handlers.generate import generate
from shared.handlers.messages import request_approval
from shared.model.campaign import CAMPAIGN_ID_MAX, CAMPAIGN_ID_PATTERN
from shared.model.content import HASHTAG_PATTERN, Brief, ContentItem, GsUri
from shared.model.platform import Platform
from shared.model.post import Post, PostStatus, content_id_of
from shared.model.schedule import PlannedTime, check_planned_time
from shared.model.schema_rules import at_least_one_of
from shared.posts.calendar import MAX_CALENDAR_DAYS, calendar, check_calendar_range
from shared.posts.service import PostEdit, PostFilter, edit_post
from shared.posts.service import cancel_post as cancel
from shared.posts.service import delete_post as delete
from shared.posts.service import list_posts as list_matching
from shared.posts.service import reschedule_post as reschedule
from shared.runtime.clock import utc_or_refuse
from shared.services import get_services
from shared.stores.posts import Repository

blueprint = APIBlueprint("posts", __name__, abp_tags=[Tag(name="posts")], abp_security=[{"bearer": []}])

# Firestore document ids: no "/", not "." or "..", not __x__ (the leading character rules those out).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,299}$"


def _date_time_text(value):
    """Date-time text, as the document's format says; not a number pydantic would read as seconds
    since 1970 ("+0.0")."""
    if isinstance(value, str) and not re.match(r"[0-9]{4}-", value):
        raise ValueError("must be an ISO 8601 date-time text, e.g. 2030-01-31T09:00:00Z")
    return value


UtcDatetime = Annotated[datetime, BeforeValidator(_date_time_text), AfterValidator(utc_or_refuse)]  # a list's range
CampaignId = Annotated[str, Field(pattern=CAMPAIGN_ID_PATTERN, max_length=CAMPAIGN_ID_MAX, description="campaign id")]
# Canonical IANA zone names; not the tz database's placeholders that name no place.
TIME_ZONES = sorted(zoneinfo.available_timezones() - {"Factory", "posixrules", "localtime"})
_ZONE_SET = frozenset(TIME_ZONES)


# -- request models -------------------------------------------------------------------------------

class PostPath(BaseModel):
    post_id: str = Field(pattern=ID_PATTERN, max_length=300)


class ContentPath(BaseModel):
    content_id: str = Field(pattern=ID_PATTERN, max_length=300)


class IdempotencyHeader(BaseModel):
    idempotency_key: str | None = Field(default=None, alias="Idempotency-Key", min_length=1, max_length=200,
                                        description="per user and operation: the same key and body return the "
                                                    "same item(s) instead of new ones; the same key with another "
                                                    "body is a 422; while the first request with it is still "
                                                    "working the others wait for its result (409 with "
                                                    "Retry-After if it takes over 3 s)")


class GenerateIn(Brief):
    """A brief for AI drafts; `requested_by` defaults to the caller."""

    campaign: CampaignId
    # Optional here, unlike Brief's: the route fills it in from the caller before it becomes a Brief.
    requested_by: str | None = Field(default=None, min_length=3, max_length=200)  # type: ignore[assignment]
    publish_at: PlannedTime | None = Field(default=None, description="from now to 731 days ahead; none = on approval")


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[OwnCopy] = Field(min_length=1, max_length=100)


class PostListQuery(PageQuery):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    status: PostStatus | None = None
    platform: Platform | None = None
    account_id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=300)
    campaign: CampaignId | None = None
    from_: UtcDatetime | None = Field(default=None, alias="from",
                                      description="posts at or after (scheduled_at, else created_at when unscheduled)")
    to: UtcDatetime | None = Field(default=None, description="posts before this time (exclusive); not before `from`")
    q: str | None = Field(default=None, min_length=1, max_length=200,
                          description="case-insensitive text in the caption or hashtags")

    @model_validator(mode="after")
    def _ordered(self) -> PostListQuery:
        if self.from_ and self.to and self.to < self.from_:
            raise ValueError("`to` is before `from`")
        return self


class PostPatch(BaseModel):
    """Text or media edits void the approval and ask the approver again; a time change alone keeps it.
    At least one field with a value."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=at_least_one_of(
        "caption", "hashtags", "video", "images", "scheduled_at"))

    caption: str | None = Field(default=None, min_length=1, max_length=CAPTION_MAX_CHARS, pattern=CAPTION_PATTERN,
                                description="not only spaces or invisible characters")
    hashtags: list[Annotated[str, Field(min_length=1, max_length=100, json_schema_extra={"pattern": HASHTAG_PATTERN})]] | None = Field(
        default=None, max_length=30)
    video: GsUri | None = None
    images: list[GsUri] | None = Field(default=None, max_length=10)
    scheduled_at: PlannedTime | None = Field(default=None, description="from now to 731 days ahead")

    @field_validator("caption")
    @classmethod
    def _not_blank(cls, caption: str | None) -> str | None:
        return check_caption(caption) if caption is not None else None

    @field_validator("hashtags")
    @classmethod
    def _clean(cls, tags: list[str] | None) -> list[str] | None:
        return clean_hashtags(tags) if tags is not None else None


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduled_at: PlannedTime = Field(description="the new time, at most 731 days ahead; now (or a moment ago) "
                                                  "means publish soon")


class CalendarQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Day = Field(alias="from", description="first local day")
    to: Day = Field(description=f"last local day, inclusive: on or after `from`, at most {MAX_CALENDAR_DAYS} days in all")
    tz: str = Field(default="UTC", min_length=1, max_length=64, description="IANA time zone, e.g. Europe/Berlin",
                    json_schema_extra={"enum": [*TIME_ZONES]})
    platform: Platform | None = None
    account_id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=300)
    campaign: CampaignId | None = None

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, tz: str) -> str:
        if tz not in _ZONE_SET:
            raise ValueError(f"{tz!r} is not an IANA time zone name (e.g. Europe/Berlin)")
        return tz


# -- helpers --------------------------------------------------------------------------------------

def _editor() -> str:
    principal = current_principal()
    principal.require("editor")
    return principal.user


def _repo() -> Repository:
    return get_services().repository


def _one_change_at_a_time(post_id: str):
    """Changes of a post and its siblings (one content item) queue one at a time per instance;
    busy beyond that: 503 with Retry-After (shared/api/contention.py)."""
    return one_change_at_a_time(content_id_of(post_id))


def _idempotent(user: str, operation: str, header: IdempotencyHeader, body):
    """Idempotency-Key per user and operation, bound to the body (shared/api/idempotency.py)."""
    return idempotent(_repo(), user=user, operation=operation, key=header.idempotency_key, body=body)


def _content_out(content: ContentItem) -> dict:
    return ContentOut.of(content, _repo().posts_for_content(content.id)).model_dump(mode="json")


def _post_out(post: Post) -> dict:
    return PostOut.of(post, _repo().get_content(post.content_id)).model_dump(mode="json")


def _refused(refused: CopyRefused, status: int = 422):
    """Every problem at once, each naming its field (`items[3].targets[0].account_id`)."""
    return {"detail": f"{len(refused.problems)} problem(s); first: {refused}", "field": refused.field,
            "errors": refused.problems}, status


def _ask_approval(content: ContentItem) -> None:
    request_approval(get_services().config, content)


# -- create ---------------------------------------------------------------------------------------

@blueprint.post("/posts/generate", responses={201: ContentOut})
def generate_posts(body: GenerateIn, header: IdempotencyHeader):
    """AI drafts from a brief, one post per target, sent for approval."""
    user = _editor()
    if body.publish_at is not None:
        check_planned_time(body.publish_at, now=get_services().now(), field="publish_at")
    payload = body.model_dump(mode="json")
    payload["requested_by"] = body.requested_by or user
    with _idempotent(user, "posts.generate", header, body) as key:
        content = generate(payload, idempotency_key=key)
    return _content_out(content), 201


@blueprint.post("/posts", responses={201: ContentOut})
def create_post(body: OwnCopy, header: IdempotencyHeader):
    """The team's own copy: caption, hashtags and media go out verbatim, after approval like any draft."""
    user = _editor()
    services = get_services()
    try:
        with _idempotent(user, "posts.create", header, body) as key:
            content, created = create_from_copy(body, requested_by=user, repo=services.repository,
                                                media_store=services.media,
                                                media_bucket=services.config.media_bucket, idempotency_key=key,
                                                now=services.now())
    except CopyRefused as refused:
        return _refused(refused)
    if created:
        _ask_approval(content)
    return _content_out(content), 201


@blueprint.post("/posts/bulk", responses={201: BulkOut})
def create_posts_in_bulk(body: BulkIn, header: IdempotencyHeader):
    """Up to 100 posts of the team's own copy, all or nothing: any refused item and none is stored."""
    user = _editor()
    services = get_services()
    try:
        with _idempotent(user, "posts.bulk", header, body) as key:
            made = create_copies(body.items, requested_by=user, repo=services.repository, media_store=services.media,
                                 media_bucket=services.config.media_bucket, idempotency_key=key, now=services.now())
    except CopyRefused as refused:
        return _refused(refused)
    for content, created in made:
        if created:
            _ask_approval(content)
    return BulkOut(items=[ContentOut.model_validate(_content_out(c)) for c, _ in made]).model_dump(mode="json"), 201


# -- read -----------------------------------------------------------------------------------------

@blueprint.get("/posts", responses={200: PostPage})
def list_posts(query: PostListQuery):
    """Newest first. from/to compare a post's scheduled_at, or its created_at when it has no planned
    time; with from/to or q at most 2000 posts per query are searched (a wider search is a 422)."""
    flt = PostFilter(status=query.status, platform=query.platform, account_id=query.account_id,
                     campaign=query.campaign, start=query.from_, end=query.to, q=query.q)
    found = list_matching(_repo(), flt, skip=query.skip, limit=query.limit)
    items = [PostOut.of(p, found.contents.get(p.content_id)) for p in found.posts]
    return PostPage(**page_fields(items, found.total, query)).model_dump(mode="json")


@blueprint.get("/posts/<post_id>", responses={200: PostOut})
def get_post(path: PostPath):
    post = _repo().get_post(path.post_id)
    if post is None:
        raise not_found("post", path.post_id)
    return _post_out(post)


@blueprint.get("/contents/<content_id>", responses={200: ContentOut})
def get_content(path: ContentPath):
    content = _repo().get_content(path.content_id)
    if content is None:
        raise not_found("content", path.content_id)
    return _content_out(content)


@blueprint.get("/calendar", responses={200: CalendarOut})
def get_calendar(query: CalendarQuery):
    """Posts from `from` to `to` (inclusive, at most 92 days) grouped by local date in `tz`."""
    try:
        zone = ZoneInfo(query.tz)
    except Exception:  # noqa: BLE001 - unknown name, a path, odd characters: all the caller's to fix
        raise ApiError(400, f"tz {query.tz!r} is not an IANA time zone name (e.g. Europe/Berlin)", field="tz") from None
    try:
        check_calendar_range(query.from_, query.to, last_field="to")
    except ValidationError as exc:
        raise ApiError(400, "`to` is before `from`" if query.to < query.from_ else str(exc), field="to") from None
    equals = {k: v for k, v in (("platform", query.platform), ("account_id", query.account_id),
                                ("campaign", query.campaign)) if v}
    days, contents = calendar(_repo(), query.from_, query.to, zone, equals)
    out = CalendarOut(tz=zone.key, from_=query.from_, to=query.to,
                      days=[CalendarDay(date=day, posts=[PostOut.of(p, contents.get(p.content_id)) for p in posts])
                            for day, posts in days])
    return out.model_dump(mode="json", by_alias=True)


# -- change ---------------------------------------------------------------------------------------

@blueprint.patch("/posts/<post_id>", responses={200: PostOut})
def update_post(path: PostPath, body: PostPatch):
    """Caption, hashtags or media: a new version of the content (all its posts), approval asked
    again. scheduled_at alone: this post's new time, approval kept. Claimed or done posts: 409."""
    user = _editor()
    services = get_services()
    if all(value is None for value in body.model_dump().values()):
        raise ApiError(400, "nothing to change: send caption, hashtags, video, images or scheduled_at", field="body")
    edit = PostEdit(caption=body.caption, hashtags=body.hashtags, video=body.video, images=body.images,
                    scheduled_at=body.scheduled_at)
    try:
        with _one_change_at_a_time(path.post_id):
            post = edit_post(services.repository, path.post_id, edit, by=user, media_store=services.media,
                             media_bucket=services.config.media_bucket, ask_approval=_ask_approval, now=services.now())
    except CopyRefused as refused:
        return _refused(refused)
    if post is None:
        raise not_found("post", path.post_id)
    return _post_out(post)


@blueprint.delete("/posts/<post_id>", responses={204: None})
def delete_post(path: PostPath):
    """Posts that never reached a platform only; the content item goes with its last post."""
    user = _editor()
    with _one_change_at_a_time(path.post_id):
        deleted = delete(_repo(), path.post_id, by=user)
    if not deleted:
        raise not_found("post", path.post_id)
    return "", 204


@blueprint.post("/posts/<post_id>/cancel", responses={200: PostOut})
def cancel_post(path: PostPath):
    """Any state before a publisher claims the post; claimed (publishing, processing) or done: 409."""
    user = _editor()
    with _one_change_at_a_time(path.post_id):
        post = cancel(_repo(), path.post_id, by=user)
    if post is None:
        raise not_found("post", path.post_id)
    return _post_out(post)


@blueprint.post("/posts/<post_id>/reschedule", responses={200: PostOut})
def reschedule_post(path: PostPath, body: RescheduleIn):
    """A new time; approval kept. Refused (422, scheduled_at) in the past or when the account's
    posts-per-day cap is full that UTC day."""
    user = _editor()
    with _one_change_at_a_time(path.post_id):
        post = reschedule(_repo(), path.post_id, body.scheduled_at, by=user, now=get_services().now())
    if post is None:
        raise not_found("post", path.post_id)
    return _post_out(post)
