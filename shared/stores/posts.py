"""Firestore access for content items and posts. Every status change is a transaction that
re-reads the document, checks the expected state and applies one state-machine transition."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.model.content import ContentItem
from shared.model.post import Post, PostStatus, post_id_for
from shared.model.state_machine import TERMINAL, transition
from shared.runtime.clock import utcnow
from shared.stores.accounts import AccountRecords

if TYPE_CHECKING:
    from google.cloud import firestore

CONTENT = "content"
POSTS = "posts"
APPROVALS = "approvals"
# Field -> value (==) or list of values (any of them), of the posts a list or calendar asks for.
PostEquals = Mapping[str, str | list[str]]


def dump(model) -> dict:
    """A model as the document Firestore stores (datetimes stay datetimes)."""
    return model.model_dump(mode="python")


class Repository(AccountRecords):
    """Content, posts and accounts (shared/stores/accounts.py) in one Firestore database."""

    def __init__(self, db: firestore.Client):  # kept as `db` (typed Any: see AccountRecords.db)
        self.db = db

    # -- content ---------------------------------------------------------------------------
    def create_content(self, content: ContentItem, posts: list[Post]) -> bool:
        """Write the item and its posts atomically. False if the id exists already (redelivery)."""
        from google.api_core.exceptions import AlreadyExists

        batch = self.db.batch()
        batch.create(self.db.collection(CONTENT).document(content.id), dump(content))
        for post in posts:
            batch.create(self.db.collection(POSTS).document(post.id), dump(post))
        try:
            batch.commit()
        except AlreadyExists:
            return False
        return True

    def get_content(self, content_id: str, transaction=None) -> ContentItem | None:
        snap = self.db.collection(CONTENT).document(content_id).get(transaction=transaction)
        return ContentItem.model_validate(snap.to_dict()) if snap.exists else None

    def content_ref(self, content_id: str):
        return self.db.collection(CONTENT).document(content_id)

    def _contents_where(self, status: str, campaign: str | None):
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self.db.collection(CONTENT).where(filter=FieldFilter("status", "==", status))
        if campaign is not None:
            query = query.where(filter=FieldFilter("campaign", "==", campaign))
        return query

    def count_contents(self, status: str, campaign: str | None = None) -> int:
        """How many content items have this status (the console's "waiting for approval" count), in
        `campaign` when named: one aggregation query, billed as one read per 1000 items counted."""
        [[result]] = self._contents_where(status, campaign).count().get()
        return int(result.value)

    def contents_with_status(self, status: str, limit: int, campaign: str | None = None) -> list[ContentItem]:
        """Content items with this status (in `campaign` when named), oldest first, at most `limit`."""
        query = self._contents_where(status, campaign).order_by("created_at").limit(limit)
        return [ContentItem.model_validate(d.to_dict()) for d in query.get()]

    # -- posts -----------------------------------------------------------------------------
    def post_ref(self, post_id: str):
        return self.db.collection(POSTS).document(post_id)

    def get_post(self, post_id: str, transaction=None) -> Post | None:
        snap = self.post_ref(post_id).get(transaction=transaction)
        return Post.model_validate(snap.to_dict()) if snap.exists else None

    def posts_for_content(self, content_id: str, transaction=None) -> list[Post]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self.db.collection(POSTS).where(filter=FieldFilter("content_id", "==", content_id))
        docs = query.get(transaction=transaction) if transaction is not None else query.get()
        return sorted((Post.model_validate(d.to_dict()) for d in docs), key=lambda p: p.id)

    def change_post(
        self,
        post_id: str,
        decide: Callable[[Post], Post | None],
    ) -> tuple[Post | None, Post | None]:
        """Run `decide(current)` in a transaction; write what it returns (None = leave as is).

        Returns (before, after). `decide` must be pure: Firestore may call it again on contention.
        Contention (the emulator's lock timeouts included) is retried with backoff; a change is
        either applied whole or not at all, never half.
        """
        from google.cloud import firestore

        ref = self.post_ref(post_id)

        @firestore.transactional
        def _run(transaction):
            snap = ref.get(transaction=transaction)
            if not snap.exists:
                return None, None
            before = Post.model_validate(snap.to_dict())
            after = decide(before)
            if after is not None:
                transaction.set(ref, dump(after))
            return before, after

        return run_with_contention_retry(lambda: _run(new_transaction(self.db)))

    def delete_post(self, post_id: str, check: Callable[[Post], None]) -> Post | None:
        """In one transaction: `check(post)` (it raises to refuse), then delete the post, and its
        content item too when no sibling post is left. The deleted post; None if there is none."""
        from google.cloud import firestore

        ref = self.post_ref(post_id)

        @firestore.transactional
        def _run(transaction) -> Post | None:
            snap = ref.get(transaction=transaction)
            if not snap.exists:
                return None
            post = Post.model_validate(snap.to_dict())
            check(post)
            content = self.get_content(post.content_id, transaction=transaction)
            siblings = []
            if content is not None:
                refs = [self.post_ref(post_id_for(content.id, t.account_id)) for t in content.targets]
                siblings = [s for s in self.db.get_all(refs, transaction=transaction) if s.exists and s.id != post_id]
            transaction.delete(ref)
            if content is not None and not siblings:
                transaction.delete(self.content_ref(content.id))
            return post

        return run_with_contention_retry(lambda: _run(new_transaction(self.db)))

    def move_post(self, post_id: str, expected: set[str], to: PostStatus, *, reason: str | None = None, **changes) -> Post | None:
        """Transition only if the post is still in one of `expected`; None if it moved on meanwhile."""

        def decide(post: Post) -> Post | None:
            if post.status not in expected:
                return None
            return transition(post, to, reason=reason, **changes)

        _, after = self.change_post(post_id, decide)
        return after

    def update_fields(self, post_id: str, expected_attempt: str | None = None, **changes) -> Post | None:
        """Set fields without a status change (e.g. platform ids), guarded by the attempt id."""

        def decide(post: Post) -> Post | None:
            if expected_attempt is not None and post.attempt_id != expected_attempt:
                return None
            return post.model_copy(update={**changes, "updated_at": utcnow()})

        _, after = self.change_post(post_id, decide)
        return after

    def posts_due_for_check(self, now: datetime, limit: int) -> list[Post]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            self.db.collection(POSTS)
            .where(filter=FieldFilter("status", "==", "processing"))
            .where(filter=FieldFilter("next_check_at", "<=", now))
            .order_by("next_check_at")
            .limit(limit)
        )
        return [Post.model_validate(d.to_dict()) for d in query.get()]

    def posts_due_for_dispatch(self, now: datetime, limit: int) -> list[Post]:
        """Scheduled posts whose time has come, and queued posts whose wait (cap, retry) is over."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        found: dict[str, Post] = {}
        for status, field in (("scheduled", "scheduled_at"), ("queued", "next_attempt_at"), ("queued", "redispatch_at")):
            query = (
                self.db.collection(POSTS)
                .where(filter=FieldFilter("status", "==", status))
                .where(filter=FieldFilter(field, "<=", now))
                .order_by(field)
                .limit(limit)
            )
            found.update((d.id, Post.model_validate(d.to_dict())) for d in query.get())
        return list(found.values())

    def posts_with_expired_lease(self, now: datetime, limit: int) -> list[Post]:
        """Publishing attempts that died (crash, timeout) without moving their post on."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            self.db.collection(POSTS)
            .where(filter=FieldFilter("status", "==", "publishing"))
            .where(filter=FieldFilter("lease_until", "<", now))
            .order_by("lease_until")
            .limit(limit)
        )
        return [Post.model_validate(d.to_dict()) for d in query.get()]

    def posts_missing_publish_log(self, limit: int) -> list[Post]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            self.db.collection(POSTS)
            .where(filter=FieldFilter("status", "==", "published"))
            .where(filter=FieldFilter("publish_log_written", "==", False))
            .limit(limit)
        )
        return [Post.model_validate(d.to_dict()) for d in query.get()]

    # -- lists and the calendar -----------------------------------------------------------
    # Equality filters (status, platform, account_id, campaign) run in Firestore; deployed, each
    # combination with an order or a range needs a composite index (Firestore names it on first use).
    def _posts_where(self, equals: PostEquals):
        """A list value is "any of these" (Firestore `in`: at most 30 values, one such field per query)."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self.db.collection(POSTS)
        for field, value in equals.items():
            query = query.where(filter=FieldFilter(field, "in", value) if isinstance(value, list)
                                else FieldFilter(field, "==", value))
        return query

    def posts_of_account(self, account_id: str) -> list[Post]:
        """Every post that goes to this account, in any state."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self.db.collection(POSTS).where(filter=FieldFilter("account_id", "==", account_id))
        return [Post.model_validate(d.to_dict()) for d in query.stream()]

    def count_posts(self, equals: PostEquals) -> int:
        [[result]] = self._posts_where(equals).count().get()
        return int(result.value)

    def oldest_posts(self, equals: PostEquals, limit: int) -> list[Post]:
        """Oldest first (created_at), at most `limit`."""
        return [Post.model_validate(d.to_dict()) for d in self._posts_where(equals).order_by("created_at").limit(limit).get()]

    def page_posts(self, equals: PostEquals, skip: int, limit: int) -> list[Post]:
        """Newest first (created_at), one page."""
        from google.cloud import firestore

        query = self._posts_where(equals).order_by("created_at", direction=firestore.Query.DESCENDING)
        return [Post.model_validate(d.to_dict()) for d in query.offset(skip).limit(limit).get()]

    def posts_between(self, equals: PostEquals, field: str, start: datetime, end: datetime, limit: int, *,
                      unset: str | None = None) -> list[Post]:
        """Posts with start <= `field` < end (and `unset` null, when named), at most `limit`."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._posts_where(equals)
        if unset:
            query = query.where(filter=FieldFilter(unset, "==", None))
        query = (query.where(filter=FieldFilter(field, ">=", start)).where(filter=FieldFilter(field, "<", end))
                 .order_by(field).limit(limit))
        return [Post.model_validate(d.to_dict()) for d in query.get()]

    def contents_by_id(self, content_ids: set[str] | list[str]) -> dict[str, ContentItem]:
        """Many content items, read in batches of 100."""
        ids = sorted(set(content_ids))
        found: dict[str, ContentItem] = {}
        for start in range(0, len(ids), 100):
            refs = [self.content_ref(i) for i in ids[start:start + 100]]
            found.update((s.id, ContentItem.model_validate(s.to_dict())) for s in self.db.get_all(refs) if s.exists)
        return found


# Many instances move posts at once (publishers, the poll, dispatch): a transaction that keeps
# losing is retried this many times over a few seconds before the error reaches the caller.
CONTENTION_ATTEMPTS = 8


class ContentionBudget:
    """A caller that must answer fast (an API request) caps its transactions' retries: at most
    `attempts` runs per transaction, each run one Firestore attempt, and no retry starts once
    `seconds` have passed since its first transaction began (the emulator alone holds a waiting
    lock about 2 s). Background functions keep the longer default."""

    def __init__(self, attempts: int, seconds: float):
        self.attempts = attempts
        self.seconds = seconds
        self._deadline: float | None = None

    def time_left(self) -> bool:
        if self._deadline is None:
            self._deadline = time.monotonic() + self.seconds
        return time.monotonic() < self._deadline


_BUDGET: ContextVar[ContentionBudget | None] = ContextVar("contention_budget", default=None)


@contextmanager
def contention_budget(attempts: int, seconds: float) -> Iterator[ContentionBudget]:
    """Transactions run inside (this thread or context) retry within this budget."""
    budget = ContentionBudget(attempts, seconds)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def new_transaction(db: firestore.Client) -> firestore.Transaction:
    """A new transaction; under a budget Firestore's own commit retry is off (the budget's loop,
    run_with_contention_retry, decides whether another attempt fits)."""
    return db.transaction(max_attempts=1) if _BUDGET.get() is not None else db.transaction()


def _contention_errors() -> tuple[type[Exception], ...]:
    try:
        from google.api_core import exceptions as gexc
    except ImportError:  # shared/ imports without the Google clients installed
        return (ValueError,)
    # ValueError: firestore.transactional's "Failed to commit transaction in N attempts".
    return (gexc.Aborted, gexc.DeadlineExceeded, gexc.ServiceUnavailable, ValueError)


CONTENTION_ERRORS = _contention_errors()


def is_contention(exc: BaseException) -> bool:
    """A ValueError is contention only as firestore.transactional's give-up; any other is a bug."""
    return isinstance(exc, CONTENTION_ERRORS) and (not isinstance(exc, ValueError) or "commit transaction" in str(exc))


def run_with_contention_retry(run: Callable[[], object]):
    """Run a Firestore transaction, retrying contention with backoff (within the caller's
    ContentionBudget, if any); the last error is raised."""
    budget = _BUDGET.get()
    attempts = budget.attempts if budget is not None else CONTENTION_ATTEMPTS
    if budget is not None:
        budget.time_left()  # the budget's clock starts with its first transaction
    for attempt in range(attempts):
        try:
            return run()
        except CONTENTION_ERRORS as exc:
            if not is_contention(exc):
                raise  # not contention: a real bug
            if attempt == attempts - 1 or (budget is not None and not budget.time_left()):
                raise
            time.sleep(min(2.0, 0.05 * 2 ** attempt) * random.uniform(0.5, 1.0))


@dataclass(frozen=True)
class Claim:
    """Outcome of trying to claim a post for publishing."""

    post: Post | None
    claimed: bool
    reason: str


def claim_for_publishing(repo: Repository, post_id: str, lease_seconds: int, now: datetime | None = None) -> Claim:
    """queued -> publishing with a fresh attempt id and lease, in one transaction (invariant 2).

    A duplicate or concurrent delivery finds the post already publishing (lease alive), processing
    or terminal, and gets claimed=False. A lease that ran out is taken over only when the create
    call was never sent; otherwise a retry could post twice, so the post goes to the status poll,
    which looks it up on the platform (see recover_expired_lease).
    """
    attempt_id = uuid.uuid4().hex
    now = now or utcnow()
    outcome: dict[str, str] = {}

    def decide(post: Post) -> Post | None:
        lease_until = now + timedelta(seconds=lease_seconds)
        lease = {"attempt_id": attempt_id, "lease_until": lease_until}
        if post.status == "queued":
            if post.next_attempt_at and post.next_attempt_at > now:
                outcome["reason"] = f"not due until {post.next_attempt_at.isoformat()}"
                return None
            outcome["reason"] = "claimed"
            return transition(post, "publishing", attempt_count=post.attempt_count + 1, next_attempt_at=None,
                              redispatch_at=None, attempt_id=attempt_id, lease_until=lease_until)
        if post.status == "publishing" and post.lease_until and post.lease_until < now:
            if post.create_sent_at is None:
                outcome["reason"] = "claimed after expired lease"
                return post.model_copy(update={**lease, "attempt_count": post.attempt_count + 1, "updated_at": now})
            outcome["reason"] = "expired lease after the create call: handing to status poll to look it up"
            return unconfirmed(post, now, "the publisher stopped after sending the create call")
        if post.status == "publishing":
            outcome["reason"] = "already being published by another attempt"
        elif post.status in TERMINAL or post.status == "processing":
            outcome["reason"] = f"already {post.status}"
        else:
            outcome["reason"] = f"not publishable in status {post.status}"
        return None

    before, after = repo.change_post(post_id, decide)
    if before is None:
        return Claim(None, False, "no such post")
    claimed = after is not None and after.status == "publishing" and after.attempt_id == attempt_id
    return Claim(after or before, claimed, outcome.get("reason", "unknown"))



# How long the status poll keeps looking for a post whose create outcome is unknown, before it
# ends `failed` as `unconfirmed` for a person to check.
UNCONFIRMED_GIVE_UP_SECONDS = 6 * 3600


def unconfirmed(post: Post, now: datetime, why: str, *, deadline_seconds: float = UNCONFIRMED_GIVE_UP_SECONDS) -> Post:
    """publishing -> processing, to be settled by looking the post up on the platform (never by
    creating it again: it may be live). Every platform id saved so far is kept."""
    return transition(post, "processing", reason=f"outcome unknown: {why}; the status poll will look it up",
                      unconfirmed=True, attempt_id=None, lease_until=None, check_count=0, next_check_at=now,
                      poll_deadline=now + timedelta(seconds=deadline_seconds))


def recover_expired_lease(repo: Repository, post_id: str, now: datetime | None = None) -> Post | None:
    """A publishing post whose attempt died (its lease ran out): back to `queued` when the create
    call was never sent, else to the status poll to be looked up. None if it moved on meanwhile."""
    now = now or utcnow()

    def decide(post: Post) -> Post | None:
        if post.status != "publishing" or not post.lease_until or post.lease_until >= now:
            return None
        if post.create_sent_at is None:
            return transition(post, "queued", reason="publishing attempt died before the create call",
                              attempt_id=None, lease_until=None, platform_ids={}, redispatch_at=now)
        return unconfirmed(post, now, "the publishing attempt died after sending the create call")

    _, after = repo.change_post(post_id, decide)
    return after
