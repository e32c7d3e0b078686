"""The seed's scheduled posts (/api/v1/posts), on the services our own /posts routes call.

Postgate's promise wins over the seed's "create a scheduled post": a post created here WAITS FOR
APPROVAL (status draft, postgate_status pending_approval, and a `note` saying so) and is scheduled for
its scheduled_time only once an approver has approved exactly its content. Media URLs are fetched once
into the media bucket when the post is created (shared/content/media_import.py), so what is approved
is what is published. Editing text or media sends the post back for approval; a time change keeps it.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from shared.api.contention import one_change_at_a_time
from shared.api.errors import ApiError
from shared.api.idempotency import idempotent
from shared.api.routes.posts import IdempotencyHeader
from shared.api.schemas import Day
from shared.api.v1.conventions import (
    BUFFER,
    Deleted,
    SeedPage,
    accounts_on,
    editor,
    now,
    page_answer,
    repo,
    resolve,
    seed_platform,
    seed_time,
    v1_blueprint,
)
from shared.api.v1.post_forms import (
    SEED_STATUSES,
    SeedPostIn,
    SeedPostList,
    SeedPostOut,
    SeedPostPath,
    fetch_media,
    own_copy,
    refused,
    resolve_campaign,
    seed_post,
    seed_posts,
)
from shared.content.own_copy import CopyRefused, copy_content_id, create_copies
from shared.content.text import CAPTION_MAX_CHARS, CAPTION_PATTERN
from shared.errors import ValidationError
from shared.handlers.messages import request_approval
from shared.model.content import ContentItem
from shared.model.post import Post, content_id_of
from shared.model.schedule import PlannedTime
from shared.posts.calendar import calendar, check_calendar_range
from shared.posts.service import PostEdit, PostFilter, cancel_post, delete_post, edit_post, list_posts, reschedule_post
from shared.services import get_services

blueprint = v1_blueprint("posts", "scheduled posts")


class SeedPostQuery(SeedPage):
    status: str | None = Field(default=None, pattern="^(" + "|".join(SEED_STATUSES) + ")$",
                               description="draft | scheduled | published (also failed, cancelled)")
    platform: str | None = Field(default=None, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_ -]+$")
    campaign_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", max_length=128)


class SeedPostPatch(BaseModel):
    """Only the fields sent change. content or media_urls: a new version, approval asked again."""

    model_config = ConfigDict(extra="forbid")

    content: str | None = Field(default=None, min_length=1, max_length=CAPTION_MAX_CHARS, pattern=CAPTION_PATTERN)
    scheduled_time: PlannedTime | None = None
    media_urls: list[str] | None = Field(default=None, max_length=10, description="replaces the images (and the "
                                                                                  "video, when one is given)")
    platform: str | None = Field(default=None, max_length=40, description="must stay the account's")
    social_account_id: int | str | None = Field(default=None, description="must stay the post's")
    campaign_id: int | str | None = Field(default=None, description="must stay the post's")


class SeedBulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    posts: list[SeedPostIn] = Field(min_length=1, max_length=100)


class SeedRescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduled_time: PlannedTime = Field(description="the new time (UTC when it has no offset)")


class SeedCalendarQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_date: Day
    end_date: Day = Field(description="inclusive; at most 92 days after start_date")
    platform: str | None = Field(default=None, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_ -]+$")


class SeedCalendarDay(BaseModel):
    date: dt.date
    posts: list[SeedPostOut]


class SeedCalendarOut(BaseModel):
    start_date: dt.date
    end_date: dt.date
    days: list[SeedCalendarDay]


class SeedScheduleOut(BaseModel):
    post: SeedPostOut
    handed_to_buffer: bool = Field(description="Buffer already has the post (createPost was sent)")
    due_at: str | None = Field(description="when Postgate hands it to Buffer (UTC); null: already handed over")
    buffer_channel_id: str | None
    buffer_post_id: str | None = None
    detail: str


# -- helpers ------------------------------------------------------------------------------------------

def _post(ref: str) -> Post:
    post_id = resolve("post", ref)
    post = repo().get_post(post_id) if "/" not in post_id else None
    if post is None:
        raise ApiError(404, f"no post {ref}")
    return post


def _ask_approval(content: ContentItem) -> None:
    request_approval(get_services().config, content)


# -- create -------------------------------------------------------------------------------------------

@blueprint.post("/posts", responses={201: SeedPostOut})
def create_post(body: SeedPostIn, header: IdempotencyHeader):
    """Create a post. It waits for approval (Postgate's promise) and is scheduled for scheduled_time once
    approved; the answer says so (status draft, postgate_status pending_approval, note)."""
    user = editor()
    services = get_services()
    with idempotent(services.repository, user=user, operation="v1.posts.create", key=header.idempotency_key,
                    body=body) as key:
        made = _stored_already([key]) or _create([body], user, key)
    return seed_post(made[0]), 201


@blueprint.post("/posts/bulk", responses={201: SeedPostList})
def create_posts_in_bulk(body: SeedBulkIn, header: IdempotencyHeader):
    """Up to 100 posts, all or nothing; each waits for approval. Answers the posts, in order."""
    user = editor()
    services = get_services()
    with idempotent(services.repository, user=user, operation="v1.posts.bulk", key=header.idempotency_key,
                    body=body) as key:
        keys = [f"{key}#{i}" if key and len(body.posts) > 1 else key for i in range(len(body.posts))]
        made = _stored_already(keys) or _create(body.posts, user, key, bulk=True)
    return page_answer(seed_posts(made), len(made)), 201


def _stored_already(keys: list[str | None]) -> list[Post] | None:
    """The posts an Idempotency-Key made before (no media fetched again), None when it made none."""
    if not all(keys):
        return None
    contents = [repo().get_content(copy_content_id(k)) for k in keys]
    if any(c is None for c in contents):
        return None
    return [p for c in contents if c is not None for p in repo().posts_for_content(c.id)]


def _create(bodies: list[SeedPostIn], user: str, key: str | None, *, bulk: bool = False) -> list[Post]:
    services = get_services()
    copies, per_item = [], []
    for index, body in enumerate(bodies):
        copy, fields = own_copy(body, field=f"posts[{index}]" if bulk else "")
        copies.append(copy)
        per_item.append(fields)
    try:
        made = create_copies(copies, requested_by=user, repo=services.repository, media_store=services.media,
                             media_bucket=services.config.media_bucket, idempotency_key=key, now=now())
    except CopyRefused as exc:
        answer, status = refused(exc.problems, per_item)
        raise _Refused(answer, status) from None
    except ValidationError as exc:
        raise ApiError(400, str(exc), field=exc.field) from None
    for content, created in made:
        if created:
            _ask_approval(content)
    return [p for content, _ in made for p in services.repository.posts_for_content(content.id)]


class _Refused(ApiError):
    """Every problem of a refused copy (the answer carries `errors`)."""

    def __init__(self, body: dict, status: int):
        super().__init__(status, body["detail"], field=body["field"])
        self.body = body


@blueprint.errorhandler(_Refused)
def _refused_answer(exc: _Refused):
    return exc.body, exc.status


# -- read ---------------------------------------------------------------------------------------------

@blueprint.get("/posts", responses={200: SeedPostList})
def list_seed_posts(query: SeedPostQuery):
    """Newest first; a JSON array, the total in X-Total-Count."""
    account_ids = tuple(accounts_on(query.platform)) if query.platform else None
    campaign = resolve_campaign(query.campaign_id, "campaign_id") if query.campaign_id else None
    flt = PostFilter(statuses=SEED_STATUSES[query.status] if query.status else (), campaign=campaign,
                     account_ids=account_ids)
    try:
        found = list_posts(repo(), flt, skip=query.skip, limit=query.limit)
    except ValidationError as exc:
        raise ApiError(400, str(exc), field=exc.field) from None
    return page_answer(seed_posts(found.posts, found.contents), found.total)


@blueprint.get("/posts/calendar", responses={200: SeedCalendarOut})
def get_calendar(query: SeedCalendarQuery):
    """Posts from start_date to end_date (inclusive, UTC days, at most 92), grouped by day."""
    try:
        check_calendar_range(query.start_date, query.end_date, last_field="end_date")
    except ValidationError as exc:
        raise ApiError(400, str(exc), field="end_date") from None
    days, contents = calendar(repo(), query.start_date, query.end_date, dt.UTC, {})
    wanted = set(accounts_on(query.platform)) if query.platform else None
    out = []
    for day, posts in days:
        shown = [p for p in posts if wanted is None or p.account_id in wanted]
        out.append({"date": day.isoformat(), "posts": seed_posts(shown, contents) if shown else []})
    return {"start_date": query.start_date.isoformat(), "end_date": query.end_date.isoformat(), "days": out}


@blueprint.get("/posts/<id>", responses={200: SeedPostOut})
def get_post(path: SeedPostPath):
    return seed_post(_post(path.id))


# -- change -------------------------------------------------------------------------------------------

@blueprint.put("/posts/<id>", responses={200: SeedPostOut})
def update_post(path: SeedPostPath, body: SeedPostPatch):
    """Our edit rules: content or media_urls make a new version and ask for approval again (an approved
    post goes back to waiting); scheduled_time alone keeps the approval. Claimed or finished posts: 409."""
    user = editor()
    services = get_services()
    post = _post(path.id)
    account = repo().get_account(post.account_id) or {}
    if body.platform is not None and body.platform.strip().lower() not in (seed_platform(account), post.platform):
        raise ApiError(400, f"a post's platform can't change (it posts to {seed_platform(account)})", field="platform")
    if body.social_account_id is not None and resolve("social_account", body.social_account_id,
                                                      field="social_account_id") != post.account_id:
        raise ApiError(400, "a post's account can't change: create a post for the other account",
                       field="social_account_id")
    if body.campaign_id is not None and resolve_campaign(body.campaign_id, "campaign_id") != post.campaign:
        raise ApiError(400, "a post's campaign can't change", field="campaign_id")
    video, images, fields = fetch_media(body.media_urls, "") if body.media_urls is not None else (None, None, {})
    edit = PostEdit(caption=body.content, video=video, images=images, scheduled_at=body.scheduled_time)
    try:
        with one_change_at_a_time(content_id_of(post.id)):
            edited = edit_post(services.repository, post.id, edit, by=user, media_store=services.media,
                               media_bucket=services.config.media_bucket, ask_approval=_ask_approval, now=now())
    except CopyRefused as exc:
        return refused(exc.problems, [{"caption": "content", **fields}])
    except ValidationError as exc:
        field = {"scheduled_at": "scheduled_time", "caption": "content"}.get(exc.field or "", exc.field)
        raise ApiError(400, str(exc).replace("scheduled_at", "scheduled_time"), field=field) from None
    if edited is None:
        raise ApiError(404, f"no post {path.id}")
    return seed_post(edited)


@blueprint.delete("/posts/<id>", responses={200: Deleted})
def delete_seed_post(path: SeedPostPath):
    """Only a post that never reached a platform (409 otherwise). Answers the deleted post's id."""
    user = editor()
    post = _post(path.id)
    number = seed_post(post)["id"]
    with one_change_at_a_time(content_id_of(post.id)):
        if not delete_post(repo(), post.id, by=user):
            raise ApiError(404, f"no post {path.id}")
    return Deleted(id=number, postgate_id=post.id).model_dump(mode="json")


@blueprint.post("/posts/<id>/cancel", responses={200: SeedPostOut})
def cancel_seed_post(path: SeedPostPath):
    """Any state before a publisher claims it; claimed or finished: 409."""
    user = editor()
    post = _post(path.id)
    with one_change_at_a_time(content_id_of(post.id)):
        cancelled = cancel_post(repo(), post.id, by=user)
    if cancelled is None:
        raise ApiError(404, f"no post {path.id}")
    return seed_post(cancelled)


@blueprint.post("/posts/<id>/reschedule", responses={200: SeedPostOut})
def reschedule_seed_post(path: SeedPostPath, body: SeedRescheduleIn):
    """A new scheduled_time; the approval is kept. In the past or over the account's daily cap: 400."""
    user = editor()
    post = _post(path.id)
    try:
        with one_change_at_a_time(content_id_of(post.id)):
            moved = reschedule_post(repo(), post.id, body.scheduled_time, by=user, now=now())
    except ValidationError as exc:
        raise ApiError(400, str(exc).replace("scheduled_at", "scheduled_time"), field="scheduled_time") from None
    if moved is None:
        raise ApiError(404, f"no post {path.id}")
    return seed_post(moved)


@blueprint.post("/posts/<id>/schedule", responses={200: SeedScheduleOut})
def schedule_via_buffer(path: SeedPostPath):
    """What happens with the post through Buffer, and when: an approved post of a Buffer account is handed
    to Buffer (createPost, once) by the publisher when it is due. Nothing is sent early (media URLs
    must stay valid until Buffer sends the post). Refused (409) while it waits for approval, for an
    account that does not post through Buffer, and for a cancelled, rejected or failed post."""
    editor()
    post = _post(path.id)
    account = repo().get_account(post.account_id) or {}
    answer = seed_post(post)
    if account.get("platform") != BUFFER:
        raise ApiError(409, f"post {answer['id']} goes to {seed_platform(account)} directly, not through Buffer: "
                            "Postgate's own publisher sends it when it is approved and due", field="id")
    if post.status in ("draft", "pending_approval"):
        raise ApiError(409, f"post {answer['id']} is waiting for approval: it is handed to Buffer only after an "
                            "approver has approved exactly its content", field="id")
    if post.status in ("rejected", "cancelled", "failed"):
        raise ApiError(409, f"post {answer['id']} is {post.status}; it will not be sent to Buffer", field="id")
    buffer_post = post.platform_ids.get("post_id")  # what the Buffer publisher records (createPost's id)
    channel = account.get("platform_account_id")
    if post.status in ("publishing", "processing", "published"):
        detail = f"Buffer has the post (status {post.status})" + (f": {post.share_url}" if post.share_url else "")
        return SeedScheduleOut(post=SeedPostOut(**answer), handed_to_buffer=True, due_at=None, buffer_channel_id=channel,
                           buffer_post_id=buffer_post, detail=detail).model_dump(mode="json")
    due = max(post.scheduled_at or now(), now())
    return SeedScheduleOut(post=SeedPostOut(**answer), handed_to_buffer=False, due_at=seed_time(due),
                       buffer_channel_id=channel,
                       detail=f"approved: Postgate hands it to Buffer (createPost, once) at {seed_time(due)} UTC; "
                              "Buffer then sends it to the network").model_dump(mode="json")
