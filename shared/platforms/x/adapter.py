"""X as a platform adapter (see shared/platforms/base.py): media upload (chunked, with processing
waits for video and GIF), then POST /2/tweets, which is synchronous, so the post is confirmed on
create; reconcile for a create whose outcome is unknown (the account's timeline); status lookup
for completeness; token refresh with rotation."""

from __future__ import annotations

import math
import time
from datetime import timedelta

from shared.errors import CapReached, PermanentError, TransientError
from shared.model.account import Account, Limit
from shared.model.analytics import MetricsRefused, PlatformMetrics
from shared.model.content import MediaRef
from shared.platforms.base import (
    MetricsContext,
    PublishContext,
    PublishResult,
    ReviewCard,
    StatusContext,
    StatusResult,
    seconds_until_conclusive,
)
from shared.platforms.metrics import check_batch, ids_to_fetch, in_post_order
from shared.platforms.x.client import (
    DuplicateContent,
    RateLimited,
    XClient,
    exchange_authorization_code,
    refresh_user_tokens,
)
from shared.platforms.x.reconcile import find_sent_post
from shared.platforms.x.validation import MAX_WEIGHTED_LENGTH, media_plan, post_text, validate, weighted_length  # noqa: F401
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config

MAX_SEGMENTS = 1000  # segment_index 0..999
_CATEGORY = {"images": "tweet_image", "gif": "tweet_gif", "video": "tweet_video"}
# POST /2/tweets: 100 per 15 minutes per user (docs/platforms.md#x-limits); X reports the live numbers in headers.
DEFAULT_LIMITS = [Limit("posts_per_15_minutes", 100, 900)]
# Our clock and X's disagree a little: the timeline is read from this much before the create was sent.
CLOCK_SKEW = timedelta(minutes=2)
# "Not on the timeline" proves nothing until X has had this long to show a post created then. X
# documents no timeline delay (posts show within seconds); this margin is ours, and generous,
# because a wrong "absent" posts twice.
ABSENT_AFTER = timedelta(minutes=15)
# platform_ids marker: X refused the create as duplicate content (see reconcile()).
REFUSED_AS_DUPLICATE = "create_refused"
# GET /2/tweets takes 1-100 ids (docs/platforms.md#x-analytics; github.com/xdevplatform/docs openapi.json).
METRICS_BATCH_SIZE = 100


def client_for(tokens, config: Config) -> XClient:
    return XClient(tokens, base_url=config.x_base_url, timeout=config.http_timeout_seconds)


def refresh_tokens(tokens: dict, *, config: Config, http=None) -> dict:
    return refresh_user_tokens(config.x_base_url.rstrip("/") + "/2/oauth2/token", tokens,
                               timeout=config.http_timeout_seconds, http=http)


def share_url(account: Account, tweet_id: str) -> str:
    handle = str(account.get("handle") or "i").lstrip("@")
    return f"https://x.com/{handle}/status/{tweet_id}"


def publish(ctx: PublishContext) -> PublishResult:
    kind, media = media_plan(ctx.content, ctx.post.target)
    text = post_text(ctx.content)
    client = client_for(ctx.tokens, ctx.config)
    media_ids = [_upload(client, ctx, m, _CATEGORY[kind]) for m in media]
    ids = {"media_ids": ",".join(media_ids)}
    ctx.save_platform_ids(dict(ids))  # reconcile matches the post on these if the create's answer is lost
    ctx.mark_create_sent()
    try:
        # ctx.retry re-sends only on a 429 (X did nothing); every unknown outcome is AmbiguousError.
        data = ctx.retry(lambda: client.create_post(text, media_ids))
    except DuplicateContent:
        ctx.save_platform_ids({**ids, REFUSED_AS_DUPLICATE: "duplicate"})
        raise
    ids = {"tweet_id": str(data["id"]), **ids}
    ctx.save_platform_ids(ids)
    return PublishResult(platform_ids=ids, confirmed=True, share_url=share_url(ctx.account, ids["tweet_id"]))


def preview(content, target, account: Account) -> ReviewCard:
    text = post_text(content)
    kind, media = media_plan(content, target)
    fields = [("Length", f"{weighted_length(text)} of {MAX_WEIGHTED_LENGTH} (X's weighted count)"),
              ("Media", {"text": "none (text only)", "images": f"{len(media)} image(s)", "gif": "1 GIF",
                         "video": "1 video"}[kind])]
    return ReviewCard(text=text, fields=fields, media=media)


def _upload(client: XClient, ctx: PublishContext, media: MediaRef, category: str) -> str:
    """initialize -> append each segment -> finalize -> STATUS until processing ends. Media ids are
    not posts: an attempt abandoned here leaves nothing public, and the next one uploads again."""
    retry, config = ctx.retry, ctx.config
    media_id = retry(lambda: client.initialize_upload(media.size, media.content_type, category))
    chunk = max(config.x_chunk_bytes, math.ceil(media.size / MAX_SEGMENTS))
    for index, first in enumerate(range(0, media.size, chunk)):
        data = ctx.media_store.read_range(media, first, min(first + chunk, media.size) - 1)
        retry(lambda: client.append(media_id, index, data))  # a 5xx re-sends the same segment
    processing = retry(lambda: client.finalize(media_id))
    # Wait as X asks (check_after_secs), but never past half the publish lease we hold.
    deadline = time.monotonic() + config.publish_lease_seconds / 2
    while processing is not None and processing.state in ("pending", "in_progress"):
        wait = processing.check_after_secs
        if time.monotonic() + wait > deadline:
            raise TransientError(f"x media {media_id} still {processing.state} after "
                                 f"{config.publish_lease_seconds / 2:.0f}s; uploading again later")
        time.sleep(wait)
        processing = retry(lambda: client.upload_status(media_id))
    if processing is not None and processing.state == "failed":
        raise PermanentError(f"x media processing failed for {media.uri}: {processing.error or 'no reason given'}",
                             platform_code=processing.error_code or "media_processing_failed")
    return media_id


def check_status(ctx: StatusContext) -> StatusResult:
    """Posts are confirmed on create; this answers for a post that somehow sits in processing."""
    tweet_id = ctx.post.platform_ids.get("tweet_id")
    if not tweet_id:
        return StatusResult("failed", fail_reason="no tweet id was recorded", fail_class="platform")
    post = client_for(ctx.tokens, ctx.config).get_post(tweet_id)
    if post is None:
        return StatusResult("failed", fail_reason=f"x post {tweet_id} not found", fail_class="platform",
                            detail="not_found")
    return StatusResult("published", share_url=share_url(ctx.account, tweet_id), detail="found")


def reconcile(ctx: StatusContext) -> StatusResult:
    """Find a post whose create had an unknown outcome on the account's own timeline. Never creates.

    Read from the create (less CLOCK_SKEW); when X refused the create as a duplicate, from the
    approval instead, since the live copy may come from an earlier attempt of this approval.
    `absent` only after ABSENT_AFTER, with every post since then read and none matching."""
    post, ids = ctx.post, ctx.post.platform_ids
    client = client_for(ctx.tokens, ctx.config)
    if ids.get("tweet_id") and client.get_post(ids["tweet_id"]) is not None:
        return StatusResult("published", share_url=share_url(ctx.account, ids["tweet_id"]), detail="found by id")
    if ctx.content is None:
        return StatusResult("pending", detail="no content to match the timeline against")
    refused_as_duplicate = ids.get(REFUSED_AS_DUPLICATE) == "duplicate"
    sent_at = post.create_sent_at
    start = (post.approved_at if refused_as_duplicate else None) or sent_at or post.approved_at or post.created_at
    media_ids = [m for m in ids.get("media_ids", "").split(",") if m]
    user_id = ctx.account.get("platform_account_id") or client.me()["id"]
    search = find_sent_post(client, str(user_id), post_text(ctx.content), media_ids, start - CLOCK_SKEW,
                            same_media_ids=not refused_as_duplicate)
    if search.post is not None:
        tweet_id = str(search.post["id"])
        return StatusResult("published", platform_ids={"tweet_id": tweet_id}, detail="found on the timeline",
                            share_url=share_url(ctx.account, tweet_id))
    now = ctx.now or utcnow()
    if not search.complete or sent_at is None or now - sent_at < ABSENT_AFTER:
        return StatusResult("pending", detail="not on the account's timeline yet",
                            conclusive_in_seconds=seconds_until_conclusive(sent_at, now, ABSENT_AFTER))
    if refused_as_duplicate:
        reason = "X refused the post as duplicate content and no post from this approval is on the timeline"
        return StatusResult("failed", fail_reason=reason, fail_class="platform", detail="duplicate")
    return StatusResult("absent", detail=f"not on the account's timeline {ABSENT_AFTER} after the create was sent")


def fetch_metrics(ctx: MetricsContext) -> list[PlatformMetrics | MetricsRefused]:
    """One posts lookup with public_metrics for the batch (any token may read them; the author-only
    non_public_metrics stop at 30 days, so they are not asked for). Ids X cannot return come back as
    `errors` beside `data`: each is refused with X's own words. Mapping: impression_count is what
    X shows as a post's views, so it is both views and impressions; replies are comments; reposts
    and quotes are both shares; bookmarks are saves. X counts no reach."""
    check_batch("x", ctx.posts, METRICS_BATCH_SIZE)
    ids = ids_to_fetch(ctx.posts, "tweet_id")
    answers: dict[str, PlatformMetrics | MetricsRefused] = {}
    if ids:
        try:
            payload = client_for(ctx.tokens, ctx.config).posts_public_metrics(ids)
        except RateLimited as exc:  # the 15-minute window is used up: the batch waits until x-rate-limit-reset
            raise CapReached(str(exc), retry_after=exc.retry_after, platform_code=exc.platform_code) from None
        for error in payload.get("errors") or []:
            missing = str(error.get("resource_id") or error.get("value") or "")
            if missing:
                answers[missing] = MetricsRefused(platform_post_id=missing, reason=f"X: {error.get('title') or 'error'}: "
                                                  f"{error.get('detail') or ''}".rstrip(": "))
        for item in payload.get("data") or []:
            answers[str(item["id"])] = _x_metrics(item)
    return in_post_order(ctx.posts, "tweet_id", answers, no_id="no tweet id was recorded for this post",
                         not_answered="X's lookup answered neither data nor an error for it")


def _x_metrics(item: dict) -> PlatformMetrics:
    m = item.get("public_metrics") or {}

    def count(*names: str) -> int | None:
        return next((int(m[n]) for n in names if m.get(n) is not None), None)

    # X's OpenAPI 2.167 names reposts repost_count; answers shaped by the earlier documents say retweet_count.
    reposts, quotes = count("repost_count", "retweet_count"), count("quote_count")
    shares = None if reposts is None and quotes is None else (reposts or 0) + (quotes or 0)
    impressions = count("impression_count")
    return PlatformMetrics(platform_post_id=str(item["id"]), views=impressions, impressions=impressions,
                           likes=count("like_count"), comments=count("reply_count"), shares=shares,
                           saves=count("bookmark_count"))


# -- connecting an account (shared/accounts): the consent page, the code exchange, who it is ----------
# OAuth 2.0 with PKCE (required); a refresh token only with offline.access (docs/platforms.md#x-tokens).
OAUTH_SCOPES = ("tweet.read", "tweet.write", "users.read", "media.write", "offline.access")


def authorization_request(config: Config, account: Account) -> dict:
    return {"url": config.x_authorize_url, "client_param": "client_id", "scope": " ".join(OAUTH_SCOPES),
            "pkce": True, "params": {}}


def exchange_code(code: str, *, client_id: str, client_secret: str, redirect_uri: str, code_verifier: str | None,
                  config: Config, http=None) -> dict:
    return exchange_authorization_code(config.x_base_url.rstrip("/") + "/2/oauth2/token", client_id=client_id,
                                       client_secret=client_secret, code=code, redirect_uri=redirect_uri,
                                       code_verifier=code_verifier or "", timeout=config.http_timeout_seconds, http=http)


def identity(tokens, config: Config, account: Account) -> dict:
    """GET /2/users/me: {platform_account_id: user id, handle: @username, name}."""
    user = client_for(tokens, config).me()
    return {"platform_account_id": str(user["id"]), "handle": user.get("username") or None, "name": user.get("name") or None}
