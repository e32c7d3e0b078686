"""Instagram (Graph API content publishing) as a platform adapter (see shared/platforms/base.py).

publish: cap check -> container(s) from V4 signed Cloud Storage URLs (ids saved at once) ->
container status until FINISHED (bounded by config) -> media_publish, sent once -> permalink. A
container still IN_PROGRESS at the bound is handed to the status poll, whose check_status publishes
it. media_publish is the one call that creates the post: when its outcome is unknown (no answer,
a server error, a refusal while the container reads PUBLISHED) publish raises AmbiguousError and
reconcile settles it by looking the media up, never by publishing again.

This module is the contract (shared/platforms/base.py) and its wiring; the work is in validation.py
(what Instagram refuses), containers.py (container creation, status wait, media_publish), settle.py
(status and reconcile from the container and the account's media), insights.py (metrics answers),
login_tokens.py and lookup.py.
"""

from __future__ import annotations

from shared.errors import AmbiguousError, AuthError, CapReached, PermanentError, TransientError
from shared.model.account import Account, Limit
from shared.model.analytics import MetricsRefused, PlatformMetrics
from shared.model.content import ContentItem, TargetSpec
from shared.platforms.base import (
    MetricsContext,
    PublishContext,
    PublishResult,
    ReviewCard,
    StatusContext,
    StatusResult,
)
from shared.platforms.instagram import login_tokens
from shared.platforms.instagram.client import (
    CAP_RETRY_SECONDS,
    InstagramClient,
    exchange_authorization_code,
    is_throttle,
)
from shared.platforms.instagram.containers import (
    container_failure,
    create_containers,
    ig_user_id,
    permalink,
    publish_once,
    wait_for_container,
)
from shared.platforms.instagram.insights import (
    INSIGHT_METRICS,
    STORY_INSIGHT_METRICS,
    STORY_INSIGHTS_FOR,
    media_metrics,
    throttled,
)
from shared.platforms.instagram.settle import failed, once, record_create_sent, settle_from_container
from shared.platforms.instagram.validation import images_of, story_media, validate, video_of
from shared.platforms.metrics import check_batch, ids_to_fetch, in_post_order
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config

# The docs disagree on 100 vs 50 API posts per 24 h; we keep to the lower number and also read
# content_publishing_limit live before each post.
DEFAULT_LIMITS = [Limit("posts_per_day", 50, 86400)]
# A Graph batch carries at most 50 operations [developers.facebook.com/docs/graph-api/batch-requests];
# each is one media's insights, so 50 media per call (each still counts as a call against the limits).
METRICS_BATCH_SIZE = 50
# Long-lived tokens last 60 days and cannot be refreshed once expired: refresh a week ahead.
REFRESH_AHEAD_SECONDS = 7 * 86400


# -- wiring ----------------------------------------------------------------------------------
def preview(content: ContentItem, target: TargetSpec, account: Account) -> ReviewCard:
    kind = target.instagram_media_type or ""
    if kind == "STORIES":
        media = [m for m in [story_media(content)] if m is not None]
        kind_of = media[0].kind if media else "image"
        # Instagram shows no caption on a story and none is sent: the approver sees that instead of the text.
        return ReviewCard(text="(none: Instagram shows no caption on a story, so the caption is not posted)",
                          fields=[("Post type", f"story from the {kind_of} (visible for 24 hours)")], media=media,
                          text_label="Caption")
    media = {"IMAGE": images_of(content)[:1], "CAROUSEL": images_of(content),
             "REELS": [v for v in [video_of(content)] if v is not None]}.get(kind, [])
    fields = [("Post type", {"IMAGE": "image", "CAROUSEL": f"carousel of {len(media)} images, in this order",
                             "REELS": "reel"}.get(kind, kind))]
    if kind == "IMAGE":
        fields.append(("Alt text", target.alt_text or "none"))
    if kind == "REELS":
        fields.append(("Also in the feed", "yes" if target.share_to_feed else "no (Reels tab only)"))
    return ReviewCard(text=content.text(), fields=fields, media=media, text_label="Caption")


def client_for(tokens, config: Config, account: Account | None) -> InstagramClient:
    """A client on the host of the account's login: Instagram Login tokens are valid on
    graph.instagram.com only, Facebook Login tokens on graph.facebook.com only."""
    login = login_tokens.login_of(account, tokens, config.instagram_default_login)
    return InstagramClient(tokens, base_url=login_tokens.base_url_for(login, config),
                           timeout=config.http_timeout_seconds)


def refresh_tokens(tokens: dict, *, config: Config, http=None) -> dict:
    # Only the secret reaches here; connect keeps the login in it (login_tokens.login_of).
    login = login_tokens.login_of(None, tokens, config.instagram_default_login)
    return login_tokens.refresh(tokens, login=login, base_url=login_tokens.base_url_for(login, config),
                                timeout=config.http_timeout_seconds, http=http)


def _poll_hint(config: Config) -> float | None:
    return config.instagram_container_poll_seconds or None


# -- the contract ----------------------------------------------------------------------------
def publish(ctx: PublishContext) -> PublishResult:
    validate(ctx.content, ctx.post.target, ctx.account)
    ig_id = ig_user_id(ctx.account)
    client = client_for(ctx.tokens, ctx.config, ctx.account)
    limit = ctx.retry(lambda: client.publishing_limit(ig_id))
    if limit.quota_total is not None and limit.quota_usage >= limit.quota_total:
        raise CapReached(f"instagram publishing cap reached ({limit.quota_usage}/{limit.quota_total} in 24 h)",
                         retry_after=CAP_RETRY_SECONDS, platform_code="content_publishing_limit")
    ids = create_containers(ctx, client, ig_id)
    status = wait_for_container(client, ids["container_id"], ctx.config, ctx.retry)
    if status.status_code == "IN_PROGRESS":
        return PublishResult(platform_ids=ids, confirmed=False, next_check_seconds=_poll_hint(ctx.config))
    if status.status_code == "PUBLISHED":
        raise AmbiguousError(f"instagram container {ids['container_id']} reads PUBLISHED before our media_publish; "
                             "its media is looked up")
    if status.status_code != "FINISHED":
        raise container_failure(status)
    ctx.mark_create_sent()
    media_id = publish_once(client, ig_id, ids["container_id"], ctx.retry)
    ids = {**ids, "media_id": media_id}
    ctx.save_platform_ids(ids)
    return PublishResult(platform_ids=ids, confirmed=True, share_url=permalink(client, media_id, ctx.retry))


def check_status(ctx: StatusContext) -> StatusResult:
    """For a container left IN_PROGRESS by publish: FINISHED -> media_publish; PUBLISHED -> its media."""
    ids = ctx.post.platform_ids
    client = client_for(ctx.tokens, ctx.config, ctx.account)
    if ids.get("media_id"):
        return StatusResult("published", share_url=permalink(client, ids["media_id"], once), detail="PUBLISHED")
    container_id = ids.get("container_id")
    if not container_id:
        return StatusResult("failed", fail_reason="no Instagram container id was saved", fail_class="platform")
    if ctx.post.create_sent_at is not None:
        return reconcile(ctx)  # an earlier check sent media_publish and lost the answer: look, never re-send
    status = client.container_status(container_id)
    if status.status_code == "IN_PROGRESS":
        return StatusResult("pending", detail=status.status_code, next_check_seconds=_poll_hint(ctx.config))
    if status.status_code == "PUBLISHED":
        return settle_from_container(ctx, client, status)
    if status.status_code != "FINISHED":
        return failed(container_failure(status), status.status_code)
    record_create_sent(ctx, utcnow())
    try:
        media_id = publish_once(client, ig_user_id(ctx.account), container_id, once)
    except AmbiguousError as exc:
        return StatusResult("pending", detail=f"media_publish outcome unknown, looking it up: {exc}")
    except (TransientError, AuthError):
        record_create_sent(ctx, None)  # refused before anything was done: publishing again stays allowed
        raise
    except PermanentError as exc:
        return failed(exc, status.status_code)
    return StatusResult("published", platform_ids={"media_id": media_id},
                        share_url=permalink(client, media_id, once), detail="PUBLISHED")


def reconcile(ctx: StatusContext) -> StatusResult:
    """Settle a media_publish whose outcome is unknown, by reading: the container's status, then the
    account's recent media for what was sent. Never publishes (see the module docstring)."""
    ids = ctx.post.platform_ids
    client = client_for(ctx.tokens, ctx.config, ctx.account)
    if ids.get("media_id"):  # the answer arrived and was saved before the attempt ended
        return StatusResult("published", share_url=permalink(client, ids["media_id"], once), detail="PUBLISHED")
    container_id = ids.get("container_id")
    status = client.container_status(container_id) if container_id else None
    return settle_from_container(ctx, client, status)


# -- metrics ---------------------------------------------------------------------------------
def fetch_metrics(ctx: MetricsContext) -> list[PlatformMetrics | MetricsRefused]:
    """Every media's insights in ONE Graph batch request. An operation's own error (a deleted
    media, "not enough viewers", a metric its media type lacks) refuses that media only, with Meta's
    words; a throttle, on the batch or on any operation in it, parks the whole batch until Meta's
    estimated_time_to_regain_access (further calls would only deepen it)."""
    check_batch("instagram", ctx.posts, METRICS_BATCH_SIZE)
    answers: dict[str, PlatformMetrics | MetricsRefused] = {}
    now = ctx.now or utcnow()
    stories = {p.platform_ids["media_id"]: p for p in ctx.posts
               if p.target.instagram_media_type == "STORIES" and p.platform_ids.get("media_id")}
    for media_id, post in stories.items():
        if post.published_at is not None and now - post.published_at > STORY_INSIGHTS_FOR:
            # Meta keeps a story's insights for 24 h: nothing to ask, and the last numbers stay.
            answers[media_id] = MetricsRefused(platform_post_id=media_id, reason="an Instagram story's insights are "
                                               "kept for 24 hours only; the numbers from while it was up stay")
    ids = [media_id for media_id in ids_to_fetch(ctx.posts, "media_id") if media_id not in answers]
    if ids:
        try:
            results = client_for(ctx.tokens, ctx.config, ctx.account).insights_batch(
                ids, INSIGHT_METRICS, per_media={media_id: STORY_INSIGHT_METRICS for media_id in stories})
        except TransientError as exc:
            if is_throttle(exc):
                raise throttled(exc) from None
            raise
        for media_id, result in zip(ids, results):
            answers[media_id] = media_metrics(media_id, result)
    return in_post_order(ctx.posts, "media_id", answers, no_id="no Instagram media id was recorded for this post",
                         not_answered="Meta's batch answer has no entry for it")


# -- connecting an account (shared/accounts): the consent page, the code exchange, who it is ----------
# Business Login for Instagram: scopes comma-separated (the instagram_business_* names since 2025-01-27);
# no PKCE documented. The account's token is then an Instagram User token for graph.instagram.com.
OAUTH_SCOPES = ("instagram_business_basic", "instagram_business_content_publish")


def authorization_request(config: Config, account: Account) -> dict:
    return {"url": config.instagram_authorize_url, "client_param": "client_id", "scope": ",".join(OAUTH_SCOPES),
            "pkce": False, "params": {}}


def exchange_code(code: str, *, client_id: str, client_secret: str, redirect_uri: str, code_verifier: str | None,
                  config: Config, http=None) -> dict:
    return exchange_authorization_code(config.instagram_token_url, config.instagram_exchange_url, client_id=client_id,
                                       client_secret=client_secret, code=code, redirect_uri=redirect_uri,
                                       timeout=config.http_timeout_seconds, http=http)


def identity(tokens, config: Config, account: Account) -> dict:
    """{platform_account_id: IG user id, handle: username, instagram_login}, asked the way each login
    documents it. Instagram Login: GET /me?fields=user_id,username on graph.instagram.com (/me is the
    professional account there). Facebook Login: /me on graph.facebook.com is the Facebook user, with no
    user_id, so the account's own IG user id is read: GET /{ig-user-id}?fields=id,username
    [developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user]. Connect
    writes these onto the account, so the login is recorded there."""
    login = login_tokens.login_of(account, tokens, config.instagram_default_login)
    client = InstagramClient(tokens, base_url=login_tokens.base_url_for(login, config),
                             timeout=config.http_timeout_seconds)
    if login == "facebook":
        user = client.ig_user(ig_user_id(account))
        return {"platform_account_id": str(user["id"]), "handle": user.get("username") or None,
                login_tokens.ACCOUNT_FIELD: login}
    me = client.me()
    return {"platform_account_id": str(me.get("user_id") or me["id"]), "handle": me.get("username") or None,
            login_tokens.ACCOUNT_FIELD: login}
