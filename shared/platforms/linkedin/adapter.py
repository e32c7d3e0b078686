"""LinkedIn Posts API as a platform adapter (see shared/platforms/base.py).

Text, image or video posts by a member (urn:li:person) or an organization (urn:li:organization).
Media are uploaded and polled until AVAILABLE before the post is created; the post exists the
moment POST /rest/posts answers 201, so publish confirms at once. A create whose outcome is
unknown is settled by reconcile (the URN we have, else the author's recent posts); a
DUPLICATE_POST answer names the existing post, which confirms it when it is ours.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

from shared.errors import AmbiguousError, AuthError, CapReached, PermanentError, TransientError, ValidationError
from shared.model.account import Account, Limit
from shared.model.analytics import MetricsRefused, PlatformMetrics
from shared.model.content import ContentItem, MediaRef, TargetSpec
from shared.model.post import Post
from shared.platforms.base import (
    MetricsContext,
    PublishContext,
    PublishResult,
    ReviewCard,
    StatusContext,
    StatusResult,
    seconds_until_conclusive,
)
from shared.platforms.linkedin.client import (
    DuplicatePost,
    LinkedInClient,
    RateLimited,
    exchange_authorization_code,
    refresh_member_tokens,
)
from shared.platforms.linkedin.commentary import COMMENTARY_LIMIT, build_commentary
from shared.platforms.linkedin.reconcile import find_sent_post
from shared.platforms.metrics import check_batch, ids_to_fetch, in_post_order
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config

AUTHOR_PATTERN = re.compile(r"^urn:li:(person|organization):[A-Za-z0-9_-]+$")
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif")
VIDEO_TYPES = ("video/mp4",)
# LinkedIn does not publish its per-member daily limit (a third-party figure says 150); stay well under.
DEFAULT_LIMITS = [Limit("posts_per_day", 100, 86400)]
# organizationalEntityShareStatistics takes a List(...) of post URNs, but LinkedIn documents no maximum
# (docs/platforms.md#linkedin-analytics). 20 is our conservative pick: the smallest batch any of the five
# platforms documents (TikTok's), and it keeps the GET URL near 1 KB (about 40 characters per encoded
# URN), far from any URL length limit; a too-large list would fail the whole call, a small one only
# costs calls.
METRICS_BATCH_SIZE = 20
MEMBER_POSTS_REFUSED = ("LinkedIn share statistics cover organization posts only; a member's post analytics "
                        "(memberCreatorPostAnalytics) take one post and one metric per call and are not fetched")
# Our clock and LinkedIn's disagree a little: "created after X" is read with this much slack.
CLOCK_SKEW = timedelta(minutes=2)
# "Not among the author's posts" proves nothing until LinkedIn has had this long to list a post
# created then. LinkedIn documents no listing delay; the margin is ours, and generous, because a
# wrong "absent" posts twice.
ABSENT_AFTER = timedelta(minutes=15)


def share_url(post_urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{post_urn}/"


def post_media(content: ContentItem) -> MediaRef | None:
    """One media item per post: the video if there is one, else the first image."""
    video = next((m for m in content.media if m.kind == "video"), None)
    return video or next((m for m in content.media if m.kind == "image"), None)


def validate(content: ContentItem, target: TargetSpec, account: Account) -> None:
    author = account.get("platform_account_id") or ""
    if not AUTHOR_PATTERN.match(author):
        raise ValidationError(f"LinkedIn account needs its author URN, got {author!r}", field="account.platform_account_id",
                              limit="urn:li:person:<id> or urn:li:organization:<id>")
    validate_post(content, target)


def validate_post(content: ContentItem, target: TargetSpec) -> None:
    """LinkedIn's rules for the post itself, whoever sends it (also a Buffer channel's, shared/platforms/buffer)."""
    commentary = build_commentary(content)
    if len(commentary) > COMMENTARY_LIMIT:
        raise ValidationError(f"text too long for LinkedIn ({len(commentary)} characters once escaped for the little "
                              f"text format)", field="caption", limit=f"{COMMENTARY_LIMIT} characters of commentary")
    media = post_media(content)
    if media is None:
        return
    allowed = VIDEO_TYPES if media.kind == "video" else IMAGE_TYPES
    if media.content_type not in allowed:
        raise ValidationError(f"LinkedIn does not take {media.kind} of type {media.content_type}", field=media.kind,
                              limit=", ".join(allowed))
    if media.kind == "video" and target.alt_text:
        raise ValidationError("LinkedIn alt text applies to images only", field="targets.alt_text",
                              limit="only with an image post")


def preview(content: ContentItem, target: TargetSpec, account: Account) -> ReviewCard:
    media = post_media(content)
    fields = [("Visibility", {"PUBLIC": "anyone", "CONNECTIONS": "connections only",
                              "LOGGED_IN": "signed-in LinkedIn members"}[target.linkedin_visibility])]
    if media is not None and media.kind == "image":
        fields.append(("Alt text", target.alt_text or "none"))
    if media is not None and media.kind == "video" and target.title:
        fields.append(("Video title", target.title))
    # The commentary is sent escaped (little text format); LinkedIn shows it as this text.
    return ReviewCard(text=content.text(), fields=fields, media=[media] if media else [])


def client_for(tokens, config: Config) -> LinkedInClient:
    return LinkedInClient(tokens, base_url=config.linkedin_base_url, version=config.linkedin_version,
                          timeout=config.http_timeout_seconds)


def refresh_tokens(tokens: dict, *, config: Config, http=None) -> dict:
    return refresh_member_tokens(config.linkedin_oauth_url, tokens, timeout=config.http_timeout_seconds, http=http)


def _wait_until_available(get_status, urn: str, config: Config) -> None:
    """Poll the media status (bounded by config). Still PROCESSING at the bound: TransientError, so
    the attempt is released and retried; PROCESSING_FAILED: the media is refused for good."""
    deadline = time.monotonic() + config.linkedin_media_wait_seconds
    while True:
        answer = get_status()
        status = answer.get("status")
        if status == "AVAILABLE":
            return
        if status == "PROCESSING_FAILED":
            reason = answer.get("processingFailureReason") or "no reason given"
            raise PermanentError(f"linkedin: {urn} PROCESSING_FAILED ({reason})", platform_code="PROCESSING_FAILED")
        if time.monotonic() >= deadline:
            raise TransientError(f"linkedin: {urn} still {status} after {config.linkedin_media_wait_seconds:g}s")
        time.sleep(config.linkedin_media_poll_seconds)


def _upload_image(ctx: PublishContext, client: LinkedInClient, author: str, media: MediaRef, ids: dict) -> str:
    upload = ctx.retry(lambda: client.initialize_image_upload(author))
    ids["media_urn"] = upload.image_urn
    ctx.save_platform_ids(dict(ids))
    data = ctx.media_store.read_range(media, 0, media.size - 1)
    ctx.retry(lambda: client.upload_image(upload.upload_url, data))
    _wait_until_available(lambda: ctx.retry(lambda: client.get_image(upload.image_urn)), upload.image_urn, ctx.config)
    return upload.image_urn


def _upload_video(ctx: PublishContext, client: LinkedInClient, author: str, media: MediaRef, ids: dict) -> str:
    upload = ctx.retry(lambda: client.initialize_video_upload(author, media.size))
    ids["media_urn"] = upload.video_urn
    ctx.save_platform_ids(dict(ids))
    ranges = [(p.first_byte, p.last_byte) for p in upload.parts]
    etags = []
    for part, data in zip(upload.parts, ctx.media_store.iter_ranges(media, ranges)):
        etags.append(ctx.retry(lambda: client.upload_video_part(part, data)))
    ctx.retry(lambda: client.finalize_video_upload(upload, etags))
    _wait_until_available(lambda: ctx.retry(lambda: client.get_video(upload.video_urn)), upload.video_urn, ctx.config)
    return upload.video_urn


def build_post(author: str, content: ContentItem, target: TargetSpec, media: MediaRef | None, media_urn: str | None) -> dict:
    post = {
        "author": author,
        "commentary": build_commentary(content),
        "visibility": target.linkedin_visibility,
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    if media is not None and media_urn:
        entry: dict = {"id": media_urn}
        if media.kind == "video" and target.title:
            entry["title"] = target.title
        if media.kind == "image" and target.alt_text:
            entry["altText"] = target.alt_text
        post["content"] = {"media": entry}
    return post


def publish(ctx: PublishContext) -> PublishResult:
    content, account, target = ctx.content, ctx.account, ctx.post.target
    validate(content, target, account)  # the account may have changed since approval
    author = account["platform_account_id"]
    client = client_for(ctx.tokens, ctx.config)
    media = post_media(content)
    ids: dict[str, str] = {}
    media_urn = None
    if media is not None:
        upload = _upload_video if media.kind == "video" else _upload_image
        media_urn = upload(ctx, client, author, media, ids)
    post = build_post(author, content, target, media, media_urn)
    ctx.mark_create_sent()
    try:
        # ctx.retry re-sends only on a 429 (a refusal); every unknown outcome is AmbiguousError.
        post_urn = ctx.retry(lambda: client.create_post(post))
    except DuplicatePost as duplicate:
        if not duplicate.post_urn:
            raise
        return _settle_duplicate(ctx, client, ids, duplicate.post_urn)
    ids["post_urn"] = post_urn
    ctx.save_platform_ids(dict(ids))
    return PublishResult(platform_ids=ids, confirmed=True, share_url=share_url(post_urn))


def _settle_duplicate(ctx: PublishContext, client: LinkedInClient, ids: dict, post_urn: str) -> PublishResult:
    """LinkedIn refused the create as a duplicate of `post_urn`: ours (a create whose answer was
    lost) unless it was published before this content was approved."""
    ctx.save_platform_ids({**ids, "post_urn": post_urn})  # named: saved before anything slow
    try:
        existing = ctx.retry(lambda: client.get_post(post_urn))
    except TransientError as exc:  # past the create now: never released to be created again
        raise AmbiguousError(f"linkedin: duplicate of {post_urn}, which could not be read ({exc})") from exc
    if existing is None:  # LinkedIn has named posts it no longer shows (deleted ones); look again later
        raise AmbiguousError(f"linkedin: duplicate of {post_urn}, which LinkedIn does not show (yet)")
    if not _created_for(existing, ctx.post):
        ctx.save_platform_ids({**ids, "duplicate_of": post_urn})
        raise PermanentError(f"linkedin: refused as a duplicate of {post_urn}, published before this content "
                             "was approved", platform_code="DUPLICATE_POST")
    confirmed = existing.get("lifecycleState", "PUBLISHED") == "PUBLISHED"
    return PublishResult(platform_ids={**ids, "post_urn": post_urn}, confirmed=confirmed,
                         share_url=share_url(post_urn) if confirmed else None)


def _created_for(found: dict, post: Post) -> bool:
    """A post created before the approval of the content cannot be this post."""
    return post.approved_at is None or int(found.get("createdAt") or 0) >= _epoch_ms(post.approved_at - CLOCK_SKEW)


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def check_status(ctx: StatusContext) -> StatusResult:
    post_urn = ctx.post.platform_ids.get("post_urn")
    if not post_urn:
        return StatusResult("failed", fail_reason="no LinkedIn post URN was recorded", fail_class="platform")
    found = client_for(ctx.tokens, ctx.config).get_post(post_urn)
    if found is None:
        return StatusResult("failed", fail_reason=f"LinkedIn has no post {post_urn} (deleted?)", fail_class="platform",
                            detail="NOT_FOUND")
    state = found.get("lifecycleState", "PUBLISHED")
    if state == "PUBLISHED":
        return StatusResult("published", share_url=share_url(post_urn), detail=state)
    return StatusResult("pending", detail=state)


def reconcile(ctx: StatusContext) -> StatusResult:
    """Find a post whose create had an unknown outcome: by the URN we hold, else among the author's
    posts created since the create was sent (less CLOCK_SKEW). Never creates. `absent` only after
    ABSENT_AFTER, with every post since then read and none matching."""
    post, ids = ctx.post, ctx.post.platform_ids
    client = client_for(ctx.tokens, ctx.config)
    if ids.get("post_urn"):
        found = client.get_post(ids["post_urn"])
        if found is not None and _created_for(found, post):
            return _reconciled(found, ids["post_urn"], detail="found by URN")
    if ctx.content is None:
        return StatusResult("pending", detail="no content to match the author's posts against")
    sent_at = post.create_sent_at
    since = (sent_at or post.approved_at or post.created_at) - CLOCK_SKEW
    try:
        search = find_sent_post(client, ctx.account.get("platform_account_id", ""), build_commentary(ctx.content),
                                ids.get("media_urn"), _epoch_ms(since))
    except AuthError:
        raise
    except PermanentError as exc:  # e.g. a member's posts need r_member_social: nothing can be proven
        return StatusResult("pending", detail=f"cannot list the author's posts: {exc}")
    if search.post is not None:
        return _reconciled(search.post, search.post["id"], detail="found among the author's posts")
    now = ctx.now or utcnow()
    if not search.complete or sent_at is None or now - sent_at < ABSENT_AFTER:
        return StatusResult("pending", detail="not among the author's posts yet",
                            conclusive_in_seconds=seconds_until_conclusive(sent_at, now, ABSENT_AFTER))
    return StatusResult("absent", detail=f"not among the author's posts {ABSENT_AFTER} after the create was sent")


def _reconciled(found: dict, post_urn: str, *, detail: str) -> StatusResult:
    state = found.get("lifecycleState", "PUBLISHED")
    if state == "PUBLISHED":
        return StatusResult("published", platform_ids={"post_urn": post_urn}, share_url=share_url(post_urn),
                            detail=detail)
    return StatusResult("pending", platform_ids={"post_urn": post_urn}, detail=state)


def fetch_metrics(ctx: MetricsContext) -> list[PlatformMetrics | MetricsRefused]:
    """One organizationalEntityShareStatistics call for the batch (shares and ugcPosts together).
    A member account's posts are refused without a call (MEMBER_POSTS_REFUSED). Lifetime organic
    numbers only; LinkedIn leaves out posts it has no statistics for (deleted, another organization's,
    older than its 12 months, or no activity yet), and those are refused. Mapping: impressionCount ->
    impressions, uniqueImpressionsCount -> reach, likeCount (reactions) -> likes, commentCount ->
    comments, shareCount (reposts) -> shares; LinkedIn counts no views or saves here. A 429 is a daily
    limit, reset at midnight UTC, so the batch waits until then."""
    check_batch("linkedin", ctx.posts, METRICS_BATCH_SIZE)
    if not _is_organization(ctx.account):
        return in_post_order(ctx.posts, "post_urn", {}, no_id=MEMBER_POSTS_REFUSED, not_answered=MEMBER_POSTS_REFUSED)
    urns = ids_to_fetch(ctx.posts, "post_urn")
    answers: dict[str, PlatformMetrics | MetricsRefused] = {
        u: MetricsRefused(platform_post_id=u, reason="share statistics take urn:li:share or urn:li:ugcPost posts only")
        for u in urns if not u.startswith(("urn:li:share:", "urn:li:ugcPost:"))}
    wanted = [u for u in urns if u not in answers]
    if wanted:
        try:
            elements = client_for(ctx.tokens, ctx.config).share_statistics(ctx.account["platform_account_id"], wanted)
        except RateLimited as exc:
            raise CapReached(str(exc), retry_after=_seconds_until_utc_midnight(ctx.now),
                             platform_code=exc.platform_code) from None
        for element in elements:
            urn = element.get("share") or element.get("ugcPost")
            if urn:
                answers[str(urn)] = _linkedin_metrics(str(urn), element.get("totalShareStatistics") or {})
    return in_post_order(ctx.posts, "post_urn", answers, no_id="no LinkedIn post URN was recorded for this post",
                         not_answered="LinkedIn returned no statistics for it (deleted, another organization's, older "
                                      "than 12 months, or no activity yet)")


def _linkedin_metrics(urn: str, stats: dict) -> PlatformMetrics:
    def count(name: str) -> int | None:
        return int(stats[name]) if stats.get(name) is not None else None

    return PlatformMetrics(platform_post_id=urn, impressions=count("impressionCount"),
                           reach=count("uniqueImpressionsCount"), likes=count("likeCount"),
                           comments=count("commentCount"), shares=count("shareCount"))


def _seconds_until_utc_midnight(now: datetime | None = None) -> float:
    now = now or utcnow()
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max((midnight - now).total_seconds(), 1.0)


# -- connecting an account (shared/accounts): the consent page, the code exchange, who it is ----------
# 3-legged OAuth for web apps (no PKCE), scopes space-delimited; openid profile for /v2/userinfo;
# an organization account also needs w_organization_social (and r_organization_social to find its
# posts) [learn.microsoft.com/linkedin/shared/authentication/authorization-code-flow;
# docs/platforms.md#linkedin-endpoints].
MEMBER_SCOPES = ("openid", "profile", "w_member_social")
ORGANIZATION_SCOPES = ("w_organization_social", "r_organization_social")


def authorization_request(config: Config, account: Account) -> dict:
    scopes = MEMBER_SCOPES + (ORGANIZATION_SCOPES if _is_organization(account) else ())
    return {"url": config.linkedin_authorize_url, "client_param": "client_id", "scope": " ".join(scopes),
            "pkce": False, "params": {}}


def exchange_code(code: str, *, client_id: str, client_secret: str, redirect_uri: str, code_verifier: str | None,
                  config: Config, http=None) -> dict:
    return exchange_authorization_code(config.linkedin_oauth_url, client_id=client_id, client_secret=client_secret,
                                       code=code, redirect_uri=redirect_uri, timeout=config.http_timeout_seconds, http=http)


def identity(tokens, config: Config, account: Account) -> dict:
    """GET /v2/userinfo: the member. An organization account keeps its organization URN as author
    (the member is who administers it); a member account's author is the member's person URN."""
    member = client_for(tokens, config).userinfo()
    person = f"urn:li:person:{member['sub']}"
    author = account.get("platform_account_id") if _is_organization(account) else person
    return {"platform_account_id": author, "person_urn": person, "name": member.get("name") or None}


def _is_organization(account: Account) -> bool:
    return str(account.get("platform_account_id") or "").startswith("urn:li:organization:")
