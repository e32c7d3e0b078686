"""What a team does with posts: list and search them, cancel, reschedule, edit, delete.

Every change is one transaction on the post (re-read, check the state, one state-machine
transition), so a publisher claiming the post at the same moment and this change cannot both win.
Refusals: `IllegalTransition` (409: the post's state does not allow it), `ValidationError` (422,
naming the field). A function returns None when the post does not exist.

When a post is "on" a day (date filters, the calendar): its `scheduled_at` (the planned time; set
from the item's publish_at at creation and by reschedules), or its `created_at` when it has no
planned time (it went, or goes, out as soon as it is approved).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from shared.content.own_copy import CopyRefused, check_targets
from shared.content.targets import describe_media
from shared.content.versions import reopen_for_approval
from shared.errors import IllegalTransition, ValidationError
from shared.model.account import Account
from shared.model.content import ContentItem, MediaRef
from shared.model.disclosure import carry_ai_flags
from shared.model.post import Post, Transition
from shared.model.schedule import PAST_GRACE, PLAN_HORIZON, check_planned_time  # noqa: F401 - PAST_GRACE re-exported
from shared.model.state_machine import transition
from shared.platforms.registry import default_limits
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_context, log_event
from shared.stores.posting_caps import limits_for
from shared.stores.posts import PostEquals, Repository
from shared.stores.protocols import MediaStore

log = logging.getLogger(__name__)

# A list with a date range or a text search is assembled in memory from at most this many posts
# (per Firestore query); a wider one is refused naming the filter to narrow, never cut silently.
LIST_SCAN_LIMIT = 2000
# Not yet claimed by a publisher: may be edited, rescheduled, cancelled.
OPEN = frozenset({"draft", "pending_approval", "approved", "scheduled", "queued"})
CLAIMED = frozenset({"publishing", "processing"})
# Never reached a platform: may be deleted.
DELETABLE = OPEN | {"rejected", "cancelled"}
# Counted against an account's posts-per-day cap when planned for, or published on, that day.
COUNTED_FOR_CAP = frozenset({"approved", "scheduled", "queued", "publishing", "processing", "published"})
RESCHEDULE_HORIZON = PLAN_HORIZON  # the one rule: shared/model/schedule.py
DAY_SECONDS = 86400
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FAR = datetime(9999, 1, 1, tzinfo=UTC)


def when(post: Post) -> datetime:
    """The moment a post is listed under (see the module doc)."""
    return post.scheduled_at or post.created_at


def _refusal(post: Post, doing: str) -> IllegalTransition:
    if post.status in CLAIMED:
        return IllegalTransition(f"post {post.id} is {post.status}: claimed by a publisher, it can't be {doing} now")
    return IllegalTransition(f"post {post.id} is already {post.status}; it can't be {doing}")


def _noted(post: Post, note: str, **changes) -> Post:
    """A change that is not a status change (a new time), kept in the post's history all the same."""
    now = utcnow()
    entry = Transition(from_status=post.status, to_status=post.status, at=now, reason=note)
    return post.model_copy(update={**changes, "history": [*post.history, entry], "updated_at": now})


# -- lists and the calendar ---------------------------------------------------------------------

@dataclass(frozen=True)
class PostFilter:
    status: str | None = None
    platform: str | None = None
    account_id: str | None = None
    campaign: str | None = None
    start: datetime | None = None  # when(post) >= start
    end: datetime | None = None  # when(post) < end
    q: str | None = None  # case-insensitive substring of the text as posted (caption and hashtags)
    statuses: tuple[str, ...] = ()  # any of these (with `status` unset)
    account_ids: tuple[str, ...] | None = None  # any of these (matched in memory, like q)

    def equals(self) -> dict[str, str | list[str]]:
        found: dict[str, str | list[str]] = {k: v for k, v in (
            ("status", self.status), ("platform", self.platform), ("account_id", self.account_id),
            ("campaign", self.campaign)) if v}
        if self.statuses and not self.status:
            found["status"] = list(self.statuses)
        return found


@dataclass
class PostList:
    posts: list[Post]
    total: int
    contents: dict[str, ContentItem] = field(default_factory=dict)


def list_posts(repo: Repository, flt: PostFilter, *, skip: int, limit: int) -> PostList:
    """Newest first (created_at). Equality filters alone page in Firestore (any size); a date range
    or a text search is assembled from at most LIST_SCAN_LIMIT posts per query."""
    if flt.start is None and flt.end is None and not flt.q and flt.account_ids is None:
        posts = repo.page_posts(flt.equals(), skip, limit)
        total = repo.count_posts(flt.equals())
        return PostList(posts, total, repo.contents_by_id({p.content_id for p in posts}))
    if flt.start is not None or flt.end is not None:
        posts = posts_between(repo, flt.equals(), flt.start or _EPOCH, flt.end or _FAR)
    else:
        posts = repo.page_posts(flt.equals(), 0, LIST_SCAN_LIMIT + 1)
        if len(posts) > LIST_SCAN_LIMIT:
            searched = "text search" if flt.q else "a list of accounts"
            raise ValidationError(f"{searched} looks through at most {LIST_SCAN_LIMIT} posts and more match the "
                                  "other filters; narrow them (status, platform, account_id, campaign, from/to)",
                                  field="q" if flt.q else "platform", limit=f"{LIST_SCAN_LIMIT} posts searched")
    if flt.account_ids is not None:
        wanted = set(flt.account_ids)
        posts = [p for p in posts if p.account_id in wanted]
    contents = repo.contents_by_id({p.content_id for p in posts})
    if flt.q:
        needle = flt.q.casefold()
        posts = [p for p in posts if p.content_id in contents and needle in contents[p.content_id].text().casefold()]
    posts.sort(key=lambda p: (p.created_at, p.id), reverse=True)
    page = posts[skip:skip + limit]
    return PostList(page, len(posts), {p.content_id: contents[p.content_id] for p in page if p.content_id in contents})


def posts_between(repo: Repository, equals: PostEquals, start: datetime, end: datetime) -> list[Post]:
    """Posts whose when() is in [start, end): planned ones by scheduled_at, the rest by created_at."""
    planned = repo.posts_between(equals, "scheduled_at", start, end, LIST_SCAN_LIMIT + 1)
    unplanned = repo.posts_between(equals, "created_at", start, end, LIST_SCAN_LIMIT + 1, unset="scheduled_at")
    if len(planned) > LIST_SCAN_LIMIT or len(unplanned) > LIST_SCAN_LIMIT:
        raise ValidationError(f"more than {LIST_SCAN_LIMIT} posts fall in this date range; narrow it or add filters",
                              field="from", limit=f"{LIST_SCAN_LIMIT} posts per range")
    return planned + unplanned


# -- cancel ---------------------------------------------------------------------------------------

def cancel_post(repo: Repository, post_id: str, *, by: str) -> Post | None:
    """Any state before a publisher claims it -> cancelled, in one transaction. A post the publisher
    claimed first (publishing, processing) or that is done is left exactly as it is (409)."""
    seen: dict[str, Post] = {}

    def decide(post: Post) -> Post | None:
        seen["post"] = post
        if post.status not in OPEN:
            return None
        return transition(post, "cancelled", reason=f"cancelled by {by}", next_attempt_at=None, redispatch_at=None)

    before, after = repo.change_post(post_id, decide)
    if before is None:
        return None
    if after is None:
        raise _refusal(seen.get("post", before), "cancelled")
    with log_context(correlation_id=after.content_id, post_id=after.id, platform=after.platform):
        log_event(log, logging.INFO, "post cancelled", by=by, was=before.status)
    return after


# -- reschedule -----------------------------------------------------------------------------------

def daily_cap(account: Account | None) -> int | None:
    """The account's posts-per-day cap: its limits (account `limits`, else the platform's defaults)
    with a one-day window. None when it has none (e.g. X counts per 15 minutes)."""
    if not account:
        return None
    try:
        defaults = default_limits(account)
    except (KeyError, ValueError):
        defaults = []
    caps = [limit.max_count for limit in limits_for(account, defaults) if limit.window_seconds == DAY_SECONDS]
    return min(caps) if caps else None


def _check_daily_cap(repo: Repository, post: Post, moment: datetime) -> None:
    """422 naming scheduled_at when the account already has its cap of posts planned for, or
    published on, that UTC day. Advisory across concurrent reschedules: the publisher's slot
    reservation (shared/stores/posting_caps.py) is what finally holds the cap."""
    cap = daily_cap(repo.get_account(post.account_id))
    if cap is None:
        return
    day_start = datetime.combine(moment.astimezone(UTC).date(), time(), UTC)
    day_end = day_start + timedelta(days=1)
    equals = {"account_id": post.account_id}
    bound = cap + LIST_SCAN_LIMIT
    planned = repo.posts_between(equals, "scheduled_at", day_start, day_end, bound)
    published = repo.posts_between(equals, "published_at", day_start, day_end, bound)
    taken = {p.id for p in planned if p.status in COUNTED_FOR_CAP} | {p.id for p in published if p.status == "published"}
    taken.discard(post.id)
    if len(taken) >= cap:
        raise ValidationError(f"account {post.account_id} already has {len(taken)} posts scheduled or published on "
                              f"{day_start.date().isoformat()} (UTC) and its cap is {cap} a day; pick another day",
                              field="scheduled_at", limit=f"{cap} posts per UTC day")


def _with_new_time(post: Post, moment: datetime, by: str) -> Post:
    before = post.scheduled_at.isoformat() if post.scheduled_at else "unscheduled"
    note = f"rescheduled by {by}: {before} -> {moment.isoformat()}"
    if post.status in ("approved", "queued"):
        # The approval stands; dispatch sends the post when the new time comes.
        return transition(post, "scheduled", reason=note, scheduled_at=moment, next_attempt_at=None, redispatch_at=None)
    # pending_approval / draft: just the new time (approval then schedules it); scheduled: a new time.
    return _noted(post, note, scheduled_at=moment)


def reschedule_post(repo: Repository, post_id: str, scheduled_at: datetime, *, by: str,
                    now: datetime | None = None) -> Post | None:
    """A new time for a post not yet claimed by a publisher; the approval is kept (time is not part
    of what is approved per post). Refused in the past (422), over the account's daily cap (422),
    once claimed or done (409)."""
    now = now or utcnow()
    post = repo.get_post(post_id)
    if post is None:
        return None
    moment = max(check_planned_time(scheduled_at, now=now, field="scheduled_at"), now)
    if post.status not in OPEN:
        raise _refusal(post, "rescheduled")
    _check_daily_cap(repo, post, moment)
    seen: dict[str, Post] = {}

    def decide(current: Post) -> Post | None:
        seen["post"] = current
        return _with_new_time(current, moment, by) if current.status in OPEN else None

    before, after = repo.change_post(post_id, decide)
    if before is None:
        return None
    if after is None:
        raise _refusal(seen.get("post", before), "rescheduled")
    with log_context(correlation_id=after.content_id, post_id=after.id, platform=after.platform):
        log_event(log, logging.INFO, "post rescheduled", by=by, status=after.status,
                  scheduled_at=moment.isoformat())
    return after


# -- edit -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PostEdit:
    """None = leave as is."""

    caption: str | None = None
    hashtags: list[str] | None = None
    video: str | None = None
    images: list[str] | None = None
    scheduled_at: datetime | None = None


def edit_post(repo: Repository, post_id: str, edit: PostEdit, *, by: str, media_store: MediaStore, media_bucket: str,
              ask_approval: Callable[[ContentItem], None], now: datetime | None = None) -> Post | None:
    """Text and media belong to the content item, so an edit changes every post of it: a new
    version, the approval voided, its unclaimed posts back to pending_approval, and the approver
    asked again (`ask_approval`). A time change alone is this post's reschedule: approval kept."""
    if edit.scheduled_at is not None:  # judged before anything changes
        check_planned_time(edit.scheduled_at, now=now or utcnow(), field="scheduled_at")
    post = repo.get_post(post_id)
    if post is None:
        return None
    if post.status not in OPEN:
        raise _refusal(post, "edited")
    content = repo.get_content(post.content_id)
    if content is None:
        return None
    media = _edited_media(content, edit, media_store, media_bucket, describe_media)
    caption = edit.caption if edit.caption is not None else content.caption
    hashtags = edit.hashtags if edit.hashtags is not None else content.hashtags
    if (caption, hashtags, media) != (content.caption, content.hashtags, content.media):
        candidate = content.model_copy(update={"caption": caption, "hashtags": hashtags, "media": media})
        accounts = {t.account_id: repo.get_account(t.account_id) for t in content.targets}
        problems = check_targets(candidate, accounts)
        if problems:
            raise CopyRefused(problems)
        reopened = reopen_for_approval(repo, content.id, expected_hash=content.content_hash,
                                       reason=f"edited by {by}", caption=caption, hashtags=hashtags, media=media)
        if reopened is None:
            raise IllegalTransition(f"content {content.id} changed while it was being edited; reload it and try again")
        with log_context(correlation_id=content.id, post_id=post.id):
            log_event(log, logging.INFO, "content edited; approval asked again", by=by, version=reopened.version)
        ask_approval(reopened)
    if edit.scheduled_at is not None:
        reschedule_post(repo, post_id, edit.scheduled_at, by=by, now=now)
    return repo.get_post(post_id)


def _edited_media(content: ContentItem, edit: PostEdit, media_store: MediaStore, media_bucket: str, describe) -> list[MediaRef]:
    """The item's media with the video and/or the images replaced by the live generation of each
    named object (naming the same unchanged object again changes nothing: the refs are equal)."""
    videos = [m for m in content.media if m.kind == "video"]
    images = [m for m in content.media if m.kind == "image"]
    if edit.video is not None:
        videos = [describe(edit.video, "video", "video", media_store, media_bucket)]
    if edit.images is not None:
        images = [describe(uri, "image", f"images[{i}]", media_store, media_bucket) for i, uri in enumerate(edit.images)]
    return carry_ai_flags(videos + images, content.media)


# -- delete ---------------------------------------------------------------------------------------

def delete_post(repo: Repository, post_id: str, *, by: str) -> bool:
    """Remove a post that never reached a platform, in one transaction; the content item goes too
    when this was its last post. False if there is no such post; IllegalTransition (409) otherwise."""

    def never_reached_a_platform(post: Post) -> None:
        never_sent = post.status == "failed" and post.create_sent_at is None and not post.platform_ids
        if post.status not in DELETABLE and not never_sent:
            raise _refusal(post, "deleted")

    deleted = repo.delete_post(post_id, never_reached_a_platform)
    if deleted is None:
        return False
    with log_context(correlation_id=deleted.content_id, post_id=deleted.id, platform=deleted.platform):
        log_event(log, logging.INFO, "post deleted", by=by, was=deleted.status)
    return True
