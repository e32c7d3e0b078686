"""TikTok Direct Post as a platform adapter (see shared/platforms/base.py): creator_info, init,
chunked upload inside a claimed attempt; status fetch for the poll and for a publish whose last
chunk got no clear answer (reconcile); token refresh."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from shared.errors import CapReached, PermanentError, ValidationError
from shared.model.account import Account, Limit
from shared.model.analytics import MetricsRefused, PlatformMetrics
from shared.model.content import ContentItem, MediaRef, TargetSpec
from shared.model.disclosure import ai_generated
from shared.model.post import Post
from shared.platforms.base import (
    MetricsContext,
    PublishContext,
    PublishResult,
    ReviewCard,
    StatusContext,
    StatusResult,
    on_off,
)
from shared.platforms.metrics import check_batch, ids_to_fetch, in_post_order
from shared.platforms.tiktok import account_state, photo, status
from shared.platforms.tiktok.chunking import ChunkPlan, plan_chunks
from shared.platforms.tiktok.client import (
    CreatorInfo,
    RateLimited,
    TikTokClient,
    exchange_authorization_code,
    refresh_user_tokens,
    upload_all,
)
from shared.platforms.tiktok.duration import mp4_duration_seconds
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_event
from shared.stores.protocols import MediaStore

log = logging.getLogger(__name__)

CAPTION_LIMIT = 2200  # UTF-16 code units (docs/platforms.md#tiktok-limits)
VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm")
# About 15 Direct Posts per creator per 24 h across all clients (docs/platforms.md#tiktok-limits); we stay under it.
DEFAULT_LIMITS = [Limit("posts_per_day", 15, 86400)]
# POST /v2/video/query/ takes up to 20 video ids per request (docs/platforms.md#tiktok-analytics;
# developers.tiktok.com/doc/tiktok-api-v2-video-query).
METRICS_BATCH_SIZE = 20
METRICS_FIELDS = ("id", "view_count", "like_count", "comment_count", "share_count")


def validate(content: ContentItem, target: TargetSpec, account: Account) -> None:
    if photo.post_type(content, target) == "PHOTO":
        return photo.validate(content, target, account)
    if target.privacy_level is None:
        raise ValidationError("TikTok needs an explicit privacy_level (no default is allowed)",
                              field="targets.privacy_level", limit="one of the creator's privacy_level_options")
    account_state.check_privacy(target.privacy_level, account)
    if target.brand_content_toggle and target.privacy_level == "SELF_ONLY":
        raise ValidationError("branded content cannot be SELF_ONLY on TikTok", field="targets.privacy_level",
                              limit="not SELF_ONLY with brand_content_toggle")
    validate_post(content, target)


def validate_post(content: ContentItem, target: TargetSpec) -> None:
    """TikTok's rules for the post's text and media, whoever sends it and however its audience is chosen
    (also a Buffer channel's, shared/platforms/buffer, where Buffer and the channel's settings choose it)."""
    if photo.post_type(content, target) == "PHOTO":
        return photo.validate_post(content, target)
    if len(content.text().encode("utf-16-le")) // 2 > CAPTION_LIMIT:
        raise ValidationError("caption too long for TikTok", field="caption", limit=f"{CAPTION_LIMIT} UTF-16 code units")
    video = next((m for m in content.media if m.kind == "video"), None)
    if video is None:
        raise ValidationError("TikTok posts need a video", field="video", limit="a gs:// video object")
    if video.content_type not in VIDEO_TYPES:
        raise ValidationError(f"TikTok does not take {video.content_type}", field="video", limit=", ".join(VIDEO_TYPES))


def client_for(tokens, config: Config) -> TikTokClient:
    return TikTokClient(tokens, base_url=config.tiktok_base_url, timeout=config.http_timeout_seconds,
                        rate_limit_wait=config.tiktok_rate_limit_wait_seconds)


def refresh_tokens(tokens: dict, *, config: Config, http=None) -> dict:
    return refresh_user_tokens(config.tiktok_base_url.rstrip("/") + "/v2/oauth/token/", tokens,
                               timeout=config.http_timeout_seconds, http=http)


def build_post_info(content: ContentItem, post: Post, creator) -> dict:
    """post_info from the person's choices, checked against a fresh creator_info (never a default)."""
    target = post.target
    if target.privacy_level not in creator.privacy_level_options:
        raise ValidationError(
            f"privacy level {target.privacy_level!r} is not offered by @{creator.username} right now "
            f"(offered: {', '.join(creator.privacy_level_options) or 'none'})",
            field="targets.privacy_level", limit="one of creator_info.privacy_level_options",
        )
    return {
        "title": content.text(),
        "privacy_level": target.privacy_level,
        # A toggle the creator has disabled must be sent as disabled (TikTok UX guidelines).
        "disable_comment": target.disable_comment or creator.comment_disabled,
        "disable_duet": target.disable_duet or creator.duet_disabled,
        "disable_stitch": target.disable_stitch or creator.stitch_disabled,
        "brand_content_toggle": target.brand_content_toggle,
        "brand_organic_toggle": target.brand_organic_toggle,
        "is_aigc": is_aigc(content),
    }


def is_aigc(content: ContentItem, media: list[MediaRef] | None = None) -> bool:
    """TikTok's AI-generated content label: set when media the post carries was made by our AI
    generation (a fact on each MediaRef, not the generator's name: AI-written text is not AI media).
    `media`: what the post carries; by default its video, or its images when it has no video
    (TikTok posts one video or photos, never both)."""
    if media is None:
        videos = [m for m in content.media if m.kind == "video"][:1]
        media = videos or [m for m in content.media if m.kind == "image"]
    return ai_generated(media)


# TikTok's own words for the privacy options (its UX guidelines ask apps to show them this way).
_AUDIENCE = {"PUBLIC_TO_EVERYONE": "Everyone", "MUTUAL_FOLLOW_FRIENDS": "Friends", "FOLLOWER_OF_CREATOR": "Followers",
             "SELF_ONLY": "Only me"}


def preview(content: ContentItem, target: TargetSpec, account: Account) -> ReviewCard:
    if photo.post_type(content, target) == "PHOTO":
        card = photo.preview(content, target, audience=_AUDIENCE.get(str(target.privacy_level), str(target.privacy_level)),
                             aigc=is_aigc(content, photo.photos(content)))
        return dataclasses.replace(card, fields=[*card.fields, *_account_fields(account)])
    # The creator's own disabled toggles can only turn these off further at publish time.
    fields = [("Who can watch", _AUDIENCE.get(str(target.privacy_level), str(target.privacy_level))), ("Comments", on_off(not target.disable_comment)),
              ("Duet", on_off(not target.disable_duet)), ("Stitch", on_off(not target.disable_stitch))]
    if target.brand_content_toggle or target.brand_organic_toggle:
        fields.append(("Promotion", "branded content" if target.brand_content_toggle else "your own brand"))
    fields.extend(_account_fields(account))
    video = [m for m in content.media if m.kind == "video"][:1]
    return ReviewCard(text=content.text(), fields=fields, media=video, text_label="Caption")


def _account_fields(account: Account) -> list[tuple[str, str]]:
    """What TikTok told us about the account that bounds any post to it (video or photo)."""
    fields = []
    offered = account_state.offered_privacy_levels(account)
    if offered is not None:
        fields.append(("Audiences the creator offers", ", ".join(_AUDIENCE.get(o, o) for o in offered) or "none"))
    flag = account_state.unaudited(account)
    if flag:
        fields.append(("TikTok audit", "not audited: TikTok only takes \"Only me\" (SELF_ONLY) posts to a private "
                                       f"account from this app; it refused one with: {flag.get('message', '')}"))
    return fields


def publish(ctx: PublishContext) -> PublishResult:
    """creator_info -> duration check -> init -> chunked upload. The publish id is saved the moment
    init answers, before the (slow) upload; TikTok confirms asynchronously, so the poll takes it from
    here. No clear answer to the last chunk raises AmbiguousError (the publish id is already saved):
    reconcile settles it with the status fetch, and init is never called again for it."""
    if photo.post_type(ctx.content, ctx.post.target) == "PHOTO":
        return photo.publish(ctx, photo.client_for(ctx.tokens, ctx.config))
    content, config, retry = ctx.content, ctx.config, ctx.retry
    video = next((m for m in content.media if m.kind == "video"), None)
    if video is None:
        raise ValidationError("TikTok posts need a video", field="video", limit="a gs:// video object")
    client = client_for(ctx.tokens, config)
    resumed = _resume_upload(ctx, client, video)
    if resumed is not None:
        return resumed
    creator = retry(client.creator_info)
    if ctx.repo is not None:
        account_state.remember_creator(ctx.repo, ctx.post.account_id, ctx.account, creator)
    post_info = build_post_info(content, ctx.post, creator)
    check_duration(video, creator, ctx.media_store)
    plan = plan_chunks(video.size, config.tiktok_chunk_bytes)
    ctx.mark_create_sent()
    issued = utcnow()  # before the call: TikTok's hour starts when it issues the URL
    try:
        init = retry(lambda: client.init_video(post_info, plan))
    except PermanentError as exc:
        if exc.platform_code == account_state.UNAUDITED_CODE:
            account_state.refused_unaudited(ctx, exc)
        raise
    # The upload handle goes with the publish id: a last chunk without a clear answer is resumed on
    # it while it lives (upload_* ids are never logged).
    ctx.save_platform_ids({"publish_id": init.publish_id, "upload_url": init.upload_url or "",
                           "upload_expires_at": (issued + status.UPLOAD_URL_TTL).isoformat(),
                           "upload_plan": f"{plan.video_size}/{plan.chunk_size}/{plan.total_chunk_count}"})
    chunks = ctx.media_store.iter_ranges(video, plan.ranges())
    assert init.upload_url is not None  # a FILE_UPLOAD init always answers one
    upload_all(client, init.upload_url, plan, chunks, video.content_type, retry)
    return PublishResult(platform_ids={"publish_id": init.publish_id})


def _resume_upload(ctx: PublishContext, client: TikTokClient, video: MediaRef) -> PublishResult | None:
    """An earlier attempt's publish that TikTok holds only part of (reconcile found it so and kept its
    upload handle): send the missing bytes on the same upload_url, as the media transfer guide allows,
    instead of a new init (which would be a second publish). None: nothing to resume, start afresh."""
    ids = ctx.post.platform_ids
    publish_id, upload_url = ids.get("publish_id"), ids.get("upload_url")
    plan = _saved_plan(ids.get("upload_plan"), video)
    expires = _parse_time(ids.get("upload_expires_at"))
    if not (publish_id and upload_url and plan and expires):
        return None
    if utcnow() >= expires - status.RESUME_MARGIN:
        return None  # too close to its expiry to finish: that publish stays incomplete, never a post
    found = ctx.retry(lambda: client.fetch_status(publish_id))
    held = found.uploaded_bytes
    if found.status == "PROCESSING_UPLOAD" and held is not None and held < video.size:
        ranges = plan.ranges_from(held)
        ctx.mark_create_sent()  # the bytes that follow can complete the post
        log_event(log, logging.INFO, "tiktok upload resumed", held=held, total=video.size, chunks=len(ranges))
        chunks = ctx.media_store.iter_ranges(video, ranges)
        upload_all(client, upload_url, plan, chunks, video.content_type, ctx.retry, ranges=ranges)
        return PublishResult(platform_ids={"publish_id": publish_id})
    if found.status in ("PROCESSING_UPLOAD", "PUBLISH_COMPLETE"):  # every byte arrived after all: the poll settles it
        ctx.mark_create_sent()
        return PublishResult(platform_ids={"publish_id": publish_id})
    return None  # FAILED (or an unknown word): nothing live from it, so a new publish


def _saved_plan(value: str | None, video: MediaRef) -> ChunkPlan | None:
    try:
        size, chunk, count = (int(part) for part in (value or "").split("/"))
    except ValueError:
        return None
    return ChunkPlan(size, chunk, count) if size == video.size else None


def _parse_time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def check_duration(video: MediaRef, creator: CreatorInfo, media_store: MediaStore) -> None:
    """Refuse a video longer than this creator may post, before init (TikTok's UX guidelines). The
    duration is known only here: nothing records it at generation, and validate() makes no network
    call, so it cannot read the file or the creator's limit."""
    seconds = mp4_duration_seconds(lambda first, last: media_store.read_range(video, first, last), video.size)
    limit = creator.max_video_post_duration_sec
    if seconds is None:
        log_event(log, logging.INFO, "video duration unreadable; TikTok checks it", video=video.uri, max_seconds=limit)
        return
    if seconds > limit:
        raise ValidationError(f"video is {seconds:.1f} s long; @{creator.username} can post at most {limit} s on TikTok",
                              field="video", limit=f"{limit} seconds (the creator's max_video_post_duration_sec)")


def check_status(ctx: StatusContext) -> StatusResult:
    return status.settle(ctx, client_for(ctx.tokens, ctx.config), unconfirmed=False)


def reconcile(ctx: StatusContext) -> StatusResult:
    """A publish whose last chunk got no clear answer: TikTok's status of its publish_id says whether
    it posted (published), is still working (pending) or provably posted nothing (absent). A photo
    post's init can post by itself, so photo.reconcile reads a missing publish_id differently."""
    if photo.post_type(ctx.content, ctx.post.target) == "PHOTO":
        return photo.reconcile(ctx, client_for(ctx.tokens, ctx.config))
    return status.settle(ctx, client_for(ctx.tokens, ctx.config), unconfirmed=True)


def fetch_metrics(ctx: MetricsContext) -> list[PlatformMetrics | MetricsRefused]:
    """One video query for the batch. It takes the public video id (status fetch's
    publicaly_available_post_id, kept as platform_ids["video_id"]); a post without one (SELF_ONLY
    posts never get one) is refused without a call. TikTok leaves out of its answer any id that is
    not one of this creator's videos (deleted, or never theirs). TikTok has no saves, reach or
    impressions in this API (docs/platforms.md#tiktok-analytics), so those stay None."""
    check_batch("tiktok", ctx.posts, METRICS_BATCH_SIZE)
    ids = ids_to_fetch(ctx.posts, "video_id")
    answers: dict[str, PlatformMetrics] = {}
    if ids:
        try:
            videos = client_for(ctx.tokens, ctx.config).query_videos(ids, METRICS_FIELDS)
        except RateLimited as exc:  # a one-minute window per token and endpoint: the batch waits it out
            raise CapReached(str(exc), retry_after=exc.retry_after, platform_code=exc.platform_code) from None
        for video in videos:
            vid = str(video.get("id"))
            answers[vid] = PlatformMetrics(platform_post_id=vid, views=_count(video, "view_count"),
                                           likes=_count(video, "like_count"), comments=_count(video, "comment_count"),
                                           shares=_count(video, "share_count"))
    return in_post_order(ctx.posts, "video_id", answers, fallback_key="publish_id",
                         no_id=lambda post: "no public video id: TikTok gives one only to a public post, after "
                                            f"moderation (privacy {post.target.privacy_level})",
                         not_answered="TikTok's video query did not return it (deleted, not this creator's video, or a "
                                      "photo post: TikTok documents the query for videos only)")


def _count(item: dict, field: str) -> int | None:
    value = item.get(field)
    return int(value) if value is not None else None


# -- connecting an account (shared/accounts): the consent page, the code exchange, who it is ----------
# Login Kit for Web: scopes comma-separated; no PKCE for web apps (code_verifier is for mobile and
# desktop) [developers.tiktok.com/doc/login-kit-web; .../oauth-user-access-token-management].
OAUTH_SCOPES = ("user.info.basic", "video.publish", "video.upload", "video.list")


def authorization_request(config: Config, account: Account) -> dict:
    return {"url": config.tiktok_authorize_url, "client_param": "client_key", "scope": ",".join(OAUTH_SCOPES),
            "pkce": False, "params": {}}


def exchange_code(code: str, *, client_id: str, client_secret: str, redirect_uri: str, code_verifier: str | None,
                  config: Config, http=None) -> dict:
    return exchange_authorization_code(config.tiktok_base_url.rstrip("/") + "/v2/oauth/token/", client_key=client_id,
                                       client_secret=client_secret, code=code, redirect_uri=redirect_uri,
                                       timeout=config.http_timeout_seconds, http=http)


def identity(tokens, config: Config, account: Account) -> dict:
    """GET /v2/user/info/ (the cheapest call that names the creator): {platform_account_id: open_id, name}."""
    user = client_for(tokens, config).user_info()
    return {"platform_account_id": str(user["open_id"]), "name": user.get("display_name") or None}
