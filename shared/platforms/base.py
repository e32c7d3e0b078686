"""What every platform adapter provides, and what the publisher and status poll hand it.

One module per platform, `shared/platforms/<platform>/adapter.py`, exposing module-level
functions with these signatures (see registry.py):

    validate(content: ContentItem, target: TargetSpec, account: Account) -> None
        Raise ValidationError(field=..., limit=...) for anything the platform would refuse.
        Pure: no network. Runs at generation, on the review page and again at approval.
    publish(ctx: PublishContext) -> PublishResult
        Runs inside a claimed attempt, after the approval gate and the account's limits.
        Calls ctx.mark_create_sent() right before the call that creates the post, and
        ctx.save_platform_ids(...) the moment the platform names it (before any slow step).
    check_status(ctx: StatusContext) -> StatusResult
        For posts in `processing`: ask the platform whether the post is live.
    reconcile(ctx: StatusContext) -> StatusResult
        For posts whose create call had an unknown outcome (`post.unconfirmed`: a timeout, a dropped
        connection or a 5xx after the call was sent, a "duplicate" or "already published" refusal):
        find the post on the platform. `published` with its ids when found; `pending` when not found
        yet or still processing (the poll asks again until the deadline, then the post fails as
        `unconfirmed`); `absent` only when the platform's answer proves no post exists from this
        attempt (the post goes back to `queued` and is published again). Never creates anything.
        publish() raises AmbiguousError for an unknown outcome, after saving every id it has.
    refresh_tokens(tokens: dict, *, config: Config, http) -> dict
        Exchange tokens["refresh_token"] for new tokens; return {access_token, refresh_token?,
        expires_in?}. A rotated refresh token must be in the answer (it is written back).
    preview(content: ContentItem, target: TargetSpec, account: Account) -> ReviewCard
        What this target will carry, for the approver's review page. Pure: built from the same
        functions publish uses, so the page shows what is sent.
    DEFAULT_LIMITS: list[Limit]   posting caps per account (account doc `limits` overrides).
    METRICS_BATCH_SIZE: int   the most posts one metrics call may carry (the platform's documented maximum).
    fetch_metrics(ctx: MetricsContext) -> list[PlatformMetrics | MetricsRefused]
        Metrics of ctx.posts (at most METRICS_BATCH_SIZE, all of one account) in ONE platform HTTP call
        (plus at most one token refresh on a 401). Raises TransientError / CapReached (with
        retry_after: the platform's reset) for the whole batch, AuthError when the account must reconnect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol, TypeVar

from shared.model.account import Account
from shared.model.content import ContentItem, MediaRef
from shared.model.post import Post
from shared.runtime.config_model import Config
from shared.stores.posts import Repository
from shared.stores.protocols import MediaStore

T = TypeVar("T")


class TokenSource(Protocol):
    """An account's access token, refreshed at most once per rejection (see platforms/credentials.py)."""

    def current(self) -> str:
        """The access token to send now."""

    def refresh(self, rejected: str) -> str:
        """The platform rejected `rejected` (401 / expired): return a working token or raise AuthError."""


class Retry(Protocol):
    """In-process retry of TransientError (shared/publishing/retry.py): `retry(call)` is call()'s value."""

    def __call__(self, call: Callable[[], T], /) -> T:
        ...


@dataclass
class PublishContext:
    post: Post
    content: ContentItem
    account: Account
    tokens: TokenSource
    media_store: MediaStore
    config: Config
    retry: Retry
    mark_create_sent: Callable[[], None]
    save_platform_ids: Callable[[dict[str, str]], None]
    repo: Repository | None = None  # for platform bookkeeping (e.g. quota)


@dataclass(frozen=True)
class PublishResult:
    """`confirmed=True`: the platform says the post is live (-> published). Otherwise the
    status poll confirms it later (-> processing), first after `next_check_seconds`."""

    platform_ids: dict[str, str]
    confirmed: bool = False
    share_url: str | None = None
    next_check_seconds: float | None = None


@dataclass
class StatusContext:
    post: Post
    account: Account
    tokens: TokenSource
    config: Config
    repo: Repository | None = None
    now: datetime | None = None  # the poll's clock (tests move it)
    content: ContentItem | None = None  # what was sent (reconcile matches text and media on it)


@dataclass
class MetricsContext:
    posts: list[Post]  # published posts of one account, with their platform ids
    account: Account
    tokens: TokenSource
    config: Config
    repo: Repository | None = None  # platform bookkeeping (YouTube quota)
    now: datetime | None = None


@dataclass(frozen=True)
class StatusResult:
    state: Literal["published", "failed", "pending", "absent"]
    platform_ids: dict[str, str] = field(default_factory=dict)  # merged into the post's ids
    share_url: str | None = None
    fail_reason: str | None = None
    fail_class: str | None = None  # transient | platform | ...
    detail: str | None = None  # the platform's own status word, for logs
    next_check_seconds: float | None = None  # the platform's hint (e.g. X check_after_secs)
    # Pending only until then: in this many seconds the platform's answer can prove the post absent
    # (a reconcile's margin running out), so the poll's backoff must not look later than that.
    conclusive_in_seconds: float | None = None


@dataclass(frozen=True)
class ReviewCard:
    """One target as the approver sees it: the text as the platform carries it, the settings that
    are published (label, value) and the media it gets, in the order it gets them."""

    text: str
    fields: list[tuple[str, str]]
    media: list[MediaRef]
    text_label: str = "Text"
    # Why this post cannot carry the platform's AI disclosure field, when it cannot (disclosure.review_line).
    ai_field_unavailable: str | None = None


def seconds_until_conclusive(sent_at: datetime | None, now: datetime, margin: timedelta) -> float | None:
    """Seconds until `margin` has passed since the create was sent (None when it was never sent)."""
    if sent_at is None:
        return None
    return max((sent_at + margin - now).total_seconds(), 0.0)


def on_off(enabled: bool) -> str:
    return "on" if enabled else "off"


def loggable_ids(platform_ids: dict[str, str]) -> dict[str, str]:
    """Platform ids fit for a log line: upload handles (e.g. a YouTube session URI, which lets
    anyone holding it continue the upload) are left out."""
    return {k: v for k, v in platform_ids.items() if not k.startswith("upload_")}
