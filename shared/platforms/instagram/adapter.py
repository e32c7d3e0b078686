"""Instagram (Graph API content publishing) as a platform adapter (see shared/platforms/base.py).

publish: cap check -> container(s) from V4 signed Cloud Storage URLs (ids saved at once) ->
container status until FINISHED (bounded by config) -> media_publish, sent once -> permalink. A
container still IN_PROGRESS at the bound is handed to the status poll, whose check_status publishes
it. media_publish is the one call that creates the post: when its outcome is unknown (no answer,
a server error, a refusal while the container reads PUBLISHED) publish raises AmbiguousError and
reconcile settles it by looking the media up, never by publishing again.
"""

from __future__ import annotations

import functools
import re
import time
from datetime import datetime, timedelta

from shared.errors import (
    AmbiguousError,
    AuthError,
    CapReached,
    ConfigError,
    PermanentError,
    PostgateError,
    TransientError,
    ValidationError,
)
from shared.model.account import Limit
from shared.model.analytics import MetricsRefused, PlatformMetrics
from shared.model.content import ContentItem, MediaRef, TargetSpec
from shared.model.disclosure import ai_generated
from shared.platforms.base import (
    MetricsContext,
    PublishContext,
    PublishResult,
    ReviewCard,
    StatusContext,
    StatusResult,
    seconds_until_conclusive,
)
from shared.platforms.instagram import login_tokens, lookup
from shared.platforms.instagram.client import (
    CAP_RETRY_SECONDS,
    BatchAnswer,
    ContainerStatus,
    InstagramClient,
    classify,
    exchange_authorization_code,
    is_throttle,
)
from shared.platforms.metrics import check_batch, ids_to_fetch, in_post_order
from shared.platforms.tiktok.duration import mp4_duration_seconds  # an MP4 header reader, not TikTok-specific
from shared.runtime.clock import utcnow

CAPTION_LIMIT = 2200       # characters (docs/platforms.md#instagram-limits)
HASHTAG_LIMIT = 5          # CHANGED 2025-12: 5 per post; the API docs still say 30
MENTION_LIMIT = 20
CAROUSEL_MIN, CAROUSEL_MAX = 2, 10
IMAGE_MAX_BYTES = 8 * 1024 * 1024
IMAGE_TYPES = ("image/jpeg",)
VIDEO_TYPES = ("video/mp4", "video/quicktime")
MEDIA_TYPES = ("IMAGE", "REELS", "CAROUSEL", "STORIES")
# Stories [developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media]:
# media_type=STORIES with image_url (JPEG, the image rules) or video_url (MP4/MOV, 3-60 s, at most
# 100 MB); no stickers; they expire after 24 h. Instagram shows no caption on a story, so none is
# sent: the review page says so, and the caption's limits do not apply to it.
STORY_VIDEO_MAX_BYTES = 100 * 1024 * 1024
STORY_VIDEO_SECONDS = (3.0, 60.0)
# A story's insights last 24 h [developers.facebook.com/docs/instagram-platform/reference/instagram-media/
# insights]; after that Meta has none to give, so a story is not asked about again.
STORY_INSIGHTS_FOR = timedelta(hours=24)
# The docs disagree on 100 vs 50 API posts per 24 h; we keep to the lower number and also read
# content_publishing_limit live before each post.
# How long a media_publish may still be taking effect after it was sent: past this, a container
# that still reads FINISHED was never published (the same margin LinkedIn's reconcile uses).
FINISHED_PROVES_UNPUBLISHED_AFTER = timedelta(minutes=15)
DEFAULT_LIMITS = [Limit("posts_per_day", 50, 86400)]
# A Graph batch carries at most 50 operations [developers.facebook.com/docs/graph-api/batch-requests];
# each is one media's insights, so 50 media per call (each still counts as a call against the limits).
METRICS_BATCH_SIZE = 50
# The current media metrics [developers.facebook.com/docs/instagram-platform/reference/instagram-media/
# insights]: impressions, plays and video_views are gone (2025-04) and asking for them fails the request,
# so views stands for them; Instagram has no impressions now. A story has no likes, comments or saves
# (asking for a metric its media type lacks fails that operation).
INSIGHT_METRICS = ("views", "reach", "likes", "comments", "shares", "saved")
STORY_INSIGHT_METRICS = ("views", "reach", "shares")
# A throttle without X-Business-Use-Case-Usage says no wait: the platform-level window is a rolling hour.
THROTTLE_WAIT_SECONDS = 3600.0
# Long-lived tokens last 60 days and cannot be refreshed once expired: refresh a week ahead.
REFRESH_AHEAD_SECONDS = 7 * 86400
# Container status sub-reasons after which a fresh container may work (docs/platforms.md#instagram-errors).
_RENEWABLE = {2207001, 2207003, 2207008, 2207020, 2207032, 2207053}
_HASHTAG_RE = re.compile(r"(?<![\w&])#(\w+)")
_MENTION_RE = re.compile(r"(?<![\w.])@([\w.]+)")
_SUBCODE_RE = re.compile(r"\b(22\d{5})\b")


# -- validation (pure) -----------------------------------------------------------------------
def hashtags_in(text: str) -> list[str]:
    """Distinct hashtags as posted (the caption's own and content.hashtags both end up in the text)."""
    return list(dict.fromkeys(tag.lower() for tag in _HASHTAG_RE.findall(text)))


def _images(content: ContentItem) -> list[MediaRef]:
    return [m for m in content.media if m.kind == "image"]


def _video(content: ContentItem) -> MediaRef | None:
    return next((m for m in content.media if m.kind == "video"), None)


def validate(content: ContentItem, target: TargetSpec, account: dict) -> None:
    kind = target.instagram_media_type
    if kind not in MEDIA_TYPES:
        raise ValidationError("Instagram needs targets.instagram_media_type", field="targets.instagram_media_type",
                              limit="one of IMAGE, REELS, CAROUSEL, STORIES")
    if kind == "STORIES":
        _validate_story(content, target)
    else:
        _validate_caption(content.text())
        _validate_post_media(content, target, kind)
    if not str(account.get("platform_account_id") or "").strip():
        raise ValidationError("the Instagram account has no IG user id", field="account.platform_account_id",
                              limit="the account's Instagram user id")


def _validate_caption(text: str) -> None:
    if len(text) > CAPTION_LIMIT:
        raise ValidationError(f"caption is {len(text)} characters, too long for Instagram", field="caption",
                              limit=f"{CAPTION_LIMIT} characters (caption + hashtags)")
    tags = hashtags_in(text)
    if len(tags) > HASHTAG_LIMIT:
        raise ValidationError(f"{len(tags)} hashtags; Instagram allows {HASHTAG_LIMIT} per post", field="hashtags",
                              limit=f"{HASHTAG_LIMIT} hashtags (caption and hashtags together)")
    mentions = _MENTION_RE.findall(text)
    if len(mentions) > MENTION_LIMIT:
        raise ValidationError(f"{len(mentions)} @-mentions; Instagram allows {MENTION_LIMIT}", field="caption",
                              limit=f"{MENTION_LIMIT} @-mentions")


def _validate_post_media(content: ContentItem, target: TargetSpec, kind: str) -> None:
    if target.alt_text and kind != "IMAGE":
        raise ValidationError("Instagram takes alt text on image posts only", field="targets.alt_text",
                              limit="instagram_media_type IMAGE")
    images = _images(content)
    if kind == "IMAGE" and len(images) != 1:
        raise ValidationError(f"an Instagram IMAGE post needs exactly one image, got {len(images)}", field="images",
                              limit="exactly 1 JPEG image")
    if kind == "CAROUSEL" and not CAROUSEL_MIN <= len(images) <= CAROUSEL_MAX:
        raise ValidationError(f"an Instagram carousel needs {CAROUSEL_MIN}-{CAROUSEL_MAX} images, got {len(images)}",
                              field="images", limit=f"{CAROUSEL_MIN}-{CAROUSEL_MAX} items")
    if kind in ("IMAGE", "CAROUSEL"):
        for image in images:
            _validate_image(image)
    if kind == "REELS":
        video = _video(content)
        if video is None:
            raise ValidationError("an Instagram reel needs the video", field="video", limit="a gs:// MP4 or MOV video")
        if video.content_type not in VIDEO_TYPES:
            raise ValidationError(f"Instagram reels take MP4 or MOV, not {video.content_type}", field="video",
                                  limit=", ".join(VIDEO_TYPES))


def _validate_image(image: MediaRef) -> None:
    if image.content_type not in IMAGE_TYPES:
        raise ValidationError(f"Instagram takes JPEG images only, not {image.content_type} ({image.uri})",
                              field="images", limit="image/jpeg")
    if image.size > IMAGE_MAX_BYTES:
        raise ValidationError(f"{image.uri} is {image.size} bytes, too large for Instagram", field="images",
                              limit="8 MiB per image")


def story_media(content: ContentItem) -> MediaRef | None:
    """What a story carries: the video when the content has one, else its only image."""
    video = _video(content)
    if video is not None:
        return video
    images = _images(content)
    return images[0] if len(images) == 1 else None


def _validate_story(content: ContentItem, target: TargetSpec) -> None:
    if target.alt_text:
        raise ValidationError("Instagram takes alt text on image posts only", field="targets.alt_text",
                              limit="instagram_media_type IMAGE")
    media = story_media(content)
    if media is None:
        raise ValidationError(f"an Instagram story carries the video or exactly one image, got "
                              f"{len(_images(content))} images and no video", field="images",
                              limit="1 JPEG image or 1 MP4/MOV video")
    if media.kind == "image":
        _validate_image(media)
        return
    if media.content_type not in VIDEO_TYPES:
        raise ValidationError(f"Instagram stories take MP4 or MOV, not {media.content_type}", field="video",
                              limit=", ".join(VIDEO_TYPES))
    if media.size > STORY_VIDEO_MAX_BYTES:
        raise ValidationError(f"the video is {media.size} bytes, too large for an Instagram story", field="video",
                              limit="100 MB per story video")


def check_story_duration(video: MediaRef, media_store) -> None:
    """Meta takes story videos of 3 to 60 seconds. The duration is known only at publish time (it is
    read from the approved generation's MP4 header); unreadable: Meta's own check decides."""
    seconds = mp4_duration_seconds(lambda first, last: media_store.read_range(video, first, last), video.size)
    low, high = STORY_VIDEO_SECONDS
    if seconds is not None and not low <= seconds <= high:
        raise ValidationError(f"the video is {seconds:.1f} s long; an Instagram story video runs {low:.0f}-{high:.0f} s",
                              field="video", limit=f"{low:.0f}-{high:.0f} seconds")


# -- wiring ----------------------------------------------------------------------------------
def preview(content: ContentItem, target: TargetSpec, account: dict) -> ReviewCard:
    kind = target.instagram_media_type or ""
    if kind == "STORIES":
        media = [m for m in [story_media(content)] if m is not None]
        kind_of = media[0].kind if media else "image"
        # Instagram shows no caption on a story and none is sent: the approver sees that instead of the text.
        return ReviewCard(text="(none: Instagram shows no caption on a story, so the caption is not posted)",
                          fields=[("Post type", f"story from the {kind_of} (visible for 24 hours)")], media=media,
                          text_label="Caption")
    media = {"IMAGE": _images(content)[:1], "CAROUSEL": _images(content),
             "REELS": [v for v in [_video(content)] if v is not None]}.get(kind, [])
    fields = [("Post type", {"IMAGE": "image", "CAROUSEL": f"carousel of {len(media)} images, in this order",
                             "REELS": "reel"}.get(kind, kind))]
    if kind == "IMAGE":
        fields.append(("Alt text", target.alt_text or "none"))
    if kind == "REELS":
        fields.append(("Also in the feed", "yes" if target.share_to_feed else "no (Reels tab only)"))
    return ReviewCard(text=content.text(), fields=fields, media=media, text_label="Caption")


def client_for(tokens, config, account: dict | None) -> InstagramClient:
    """A client on the host of the account's login: Instagram Login tokens are valid on
    graph.instagram.com only, Facebook Login tokens on graph.facebook.com only."""
    login = login_tokens.login_of(account, tokens, config.instagram_default_login)
    return InstagramClient(tokens, base_url=login_tokens.base_url_for(login, config),
                           timeout=config.http_timeout_seconds)


def refresh_tokens(tokens: dict, *, config, http=None) -> dict:
    # Only the secret reaches here; connect keeps the login in it (login_tokens.login_of).
    login = login_tokens.login_of(None, tokens, config.instagram_default_login)
    return login_tokens.refresh(tokens, login=login, base_url=login_tokens.base_url_for(login, config),
                                timeout=config.http_timeout_seconds, http=http)


def _ig_user_id(account: dict) -> str:
    ig_id = str(account.get("platform_account_id") or "").strip()
    if not ig_id:
        raise ConfigError("Instagram account has no platform_account_id (the IG user id)")
    return ig_id


def _poll_hint(config) -> float | None:
    return config.instagram_container_poll_seconds or None


def _container_failure(status: ContainerStatus) -> PostgateError:
    match = _SUBCODE_RE.search(status.status or "")
    subcode = int(match.group(1)) if match else None
    reason = f"instagram container {status.status_code}: {status.status or 'no detail'}"
    code = f"{status.status_code}/{subcode}" if subcode else status.status_code
    if status.status_code == "EXPIRED" or subcode in _RENEWABLE:
        return TransientError(reason + "; a new container is needed", platform_code=code)
    return PermanentError(reason, platform_code=code)


def _wait_for_container(client: InstagramClient, container_id: str, config, retry) -> ContainerStatus:
    """Poll until the container leaves IN_PROGRESS or the configured wait is spent."""
    poll = config.instagram_container_poll_seconds
    deadline = time.monotonic() + config.instagram_container_wait_seconds
    while True:
        status = retry(lambda: client.container_status(container_id))
        if status.status_code != "IN_PROGRESS" or time.monotonic() + poll > deadline:
            return status
        time.sleep(poll)


def _publish_once(client: InstagramClient, ig_id: str, container_id: str, retry) -> str:
    """media_publish. Sent again only after an answer Meta gives before acting (a throttle, "not
    ready"); an unknown outcome raises AmbiguousError and is looked up later, never re-sent."""
    try:
        return retry(lambda: client.publish(ig_id, container_id))
    except (AmbiguousError, AuthError, TransientError):
        raise
    except PermanentError as refusal:
        raise _refusal_or_already_published(client, container_id, refusal) from None


def _refusal_or_already_published(client: InstagramClient, container_id: str, refusal: PermanentError) -> PostgateError:
    """Meta documents no error code for publishing a container twice, so a refusal is read against
    the container: PUBLISHED means the post is live (an earlier send went through)."""
    try:
        status = client.container_status(container_id)
    except PostgateError:
        return AmbiguousError(f"{refusal}; the container's status could not be read, so it may be published")
    if status.status_code == "PUBLISHED":
        return AmbiguousError(f"{refusal}; the container is already PUBLISHED, so its media is looked up")
    if status.status_code in ("ERROR", "EXPIRED"):
        return _container_failure(status)
    return refusal


def _permalink(client: InstagramClient, media_id: str | None, retry) -> str | None:
    if not media_id:
        return None
    try:
        return retry(lambda: client.media(media_id, ["id", "permalink"])).get("permalink")
    except PostgateError:
        return None  # the post is live; a missing link must not fail it


def _signed_url(ctx: PublishContext, media: MediaRef) -> str:
    config = ctx.config
    return ctx.media_store.signed_url(media, ttl_seconds=config.signed_url_ttl_seconds,
                                      endpoint=config.signed_url_endpoint, key_file=config.url_signing_key_file)


def _ai_label(media: list[MediaRef]) -> dict[str, str]:
    """is_ai_generated=true on a container whose media our AI generation made, so Instagram shows its
    AI info label (shared/model/disclosure.py); left out otherwise, Meta's default being no label."""
    return {"is_ai_generated": "true"} if ai_generated(media) else {}


def _create_containers(ctx: PublishContext, client: InstagramClient, ig_id: str) -> dict[str, str]:
    content, target, retry = ctx.content, ctx.post.target, ctx.retry
    caption = content.text()
    kind = target.instagram_media_type
    if kind == "IMAGE":
        image = _images(content)[0]
        fields = {"image_url": _signed_url(ctx, image), "caption": caption, **_ai_label([image])}
        if target.alt_text:
            fields["alt_text"] = target.alt_text
        ids = {"container_id": retry(lambda: client.create_container(ig_id, fields))}
    elif kind == "REELS":
        video = _video(content)
        assert video is not None  # validate() refused a reel without a video
        fields = {"media_type": "REELS", "video_url": _signed_url(ctx, video), "caption": caption,
                  "share_to_feed": "true" if target.share_to_feed else "false", **_ai_label([video])}
        ids = {"container_id": retry(lambda: client.create_container(ig_id, fields))}
    elif kind == "STORIES":
        media = story_media(content)
        assert media is not None  # validate() refused a story with neither one video nor one image
        if media.kind == "video":
            check_story_duration(media, ctx.media_store)
        fields = {"media_type": "STORIES", f"{media.kind}_url": _signed_url(ctx, media),  # no caption: not shown
                  **_ai_label([media])}
        ids = {"container_id": retry(lambda: client.create_container(ig_id, fields))}
    else:
        children: list[str] = []
        for image in _images(content):
            fields = {"is_carousel_item": "true", "image_url": _signed_url(ctx, image)}
            children.append(retry(functools.partial(client.create_container, ig_id, fields)))
            ctx.save_platform_ids({"children": ",".join(children)})
        # The label goes on the carousel container only, never on its items (Meta's changelog, 2026-06-22).
        parent = {"media_type": "CAROUSEL", "children": ",".join(children), "caption": caption,
                  **_ai_label(_images(content))}
        ids = {"children": ",".join(children), "container_id": retry(lambda: client.create_container(ig_id, parent))}
    ctx.save_platform_ids(ids)
    return ids


# -- the contract ----------------------------------------------------------------------------
def publish(ctx: PublishContext) -> PublishResult:
    validate(ctx.content, ctx.post.target, ctx.account)
    ig_id = _ig_user_id(ctx.account)
    client = client_for(ctx.tokens, ctx.config, ctx.account)
    limit = ctx.retry(lambda: client.publishing_limit(ig_id))
    if limit.quota_total is not None and limit.quota_usage >= limit.quota_total:
        raise CapReached(f"instagram publishing cap reached ({limit.quota_usage}/{limit.quota_total} in 24 h)",
                         retry_after=CAP_RETRY_SECONDS, platform_code="content_publishing_limit")
    ids = _create_containers(ctx, client, ig_id)
    status = _wait_for_container(client, ids["container_id"], ctx.config, ctx.retry)
    if status.status_code == "IN_PROGRESS":
        return PublishResult(platform_ids=ids, confirmed=False, next_check_seconds=_poll_hint(ctx.config))
    if status.status_code == "PUBLISHED":
        raise AmbiguousError(f"instagram container {ids['container_id']} reads PUBLISHED before our media_publish; "
                             "its media is looked up")
    if status.status_code != "FINISHED":
        raise _container_failure(status)
    ctx.mark_create_sent()
    media_id = _publish_once(client, ig_id, ids["container_id"], ctx.retry)
    ids = {**ids, "media_id": media_id}
    ctx.save_platform_ids(ids)
    return PublishResult(platform_ids=ids, confirmed=True, share_url=_permalink(client, media_id, ctx.retry))


def check_status(ctx: StatusContext) -> StatusResult:
    """For a container left IN_PROGRESS by publish: FINISHED -> media_publish; PUBLISHED -> its media."""
    ids = ctx.post.platform_ids
    client = client_for(ctx.tokens, ctx.config, ctx.account)
    if ids.get("media_id"):
        return StatusResult("published", share_url=_permalink(client, ids["media_id"], _once), detail="PUBLISHED")
    container_id = ids.get("container_id")
    if not container_id:
        return StatusResult("failed", fail_reason="no Instagram container id was saved", fail_class="platform")
    if ctx.post.create_sent_at is not None:
        return reconcile(ctx)  # an earlier check sent media_publish and lost the answer: look, never re-send
    status = client.container_status(container_id)
    if status.status_code == "IN_PROGRESS":
        return StatusResult("pending", detail=status.status_code, next_check_seconds=_poll_hint(ctx.config))
    if status.status_code == "PUBLISHED":
        return _settle_from_container(ctx, client, status)
    if status.status_code != "FINISHED":
        return _failed(_container_failure(status), status.status_code)
    _record_create_sent(ctx, utcnow())
    try:
        media_id = _publish_once(client, _ig_user_id(ctx.account), container_id, _once)
    except AmbiguousError as exc:
        return StatusResult("pending", detail=f"media_publish outcome unknown, looking it up: {exc}")
    except (TransientError, AuthError):
        _record_create_sent(ctx, None)  # refused before anything was done: publishing again stays allowed
        raise
    except PermanentError as exc:
        return _failed(exc, status.status_code)
    return StatusResult("published", platform_ids={"media_id": media_id},
                        share_url=_permalink(client, media_id, _once), detail="PUBLISHED")


def reconcile(ctx: StatusContext) -> StatusResult:
    """Settle a media_publish whose outcome is unknown, by reading: the container's status, then the
    account's recent media for what was sent. Never publishes (see the module docstring)."""
    ids = ctx.post.platform_ids
    client = client_for(ctx.tokens, ctx.config, ctx.account)
    if ids.get("media_id"):  # the answer arrived and was saved before the attempt ended
        return StatusResult("published", share_url=_permalink(client, ids["media_id"], _once), detail="PUBLISHED")
    container_id = ids.get("container_id")
    status = client.container_status(container_id) if container_id else None
    return _settle_from_container(ctx, client, status)


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
                raise _throttled(exc) from None
            raise
        for media_id, result in zip(ids, results):
            answers[media_id] = _insights(media_id, result)
    return in_post_order(ctx.posts, "media_id", answers, no_id="no Instagram media id was recorded for this post",
                         not_answered="Meta's batch answer has no entry for it")


def _throttled(exc: TransientError) -> CapReached:
    return CapReached(str(exc), retry_after=exc.retry_after or THROTTLE_WAIT_SECONDS, platform_code=exc.platform_code)


def _insights(media_id: str, answer: BatchAnswer | None) -> PlatformMetrics | MetricsRefused:
    if answer is None:
        return MetricsRefused(platform_post_id=media_id, reason="Meta did not complete this request within the batch")
    if not answer.ok:
        error = classify(answer.code, answer.body, answer.headers, "insights")
        if is_throttle(error):
            raise _throttled(error)
        return MetricsRefused(platform_post_id=media_id, reason=str(error))
    values: dict[str, int] = {}
    for row in answer.body.get("data") or []:
        # Lifetime media metrics come as values[0].value; newer versions may send total_value.value.
        listed = row.get("values") or []
        value = (listed[0] or {}).get("value") if listed else (row.get("total_value") or {}).get("value")
        if row.get("name") and value is not None:
            values[str(row["name"])] = int(value)
    # "An empty data set instead of 0" when a metric is not available (yet): those stay None.
    return PlatformMetrics(platform_post_id=media_id, views=values.get("views"), reach=values.get("reach"),
                           likes=values.get("likes"), comments=values.get("comments"), shares=values.get("shares"),
                           saves=values.get("saved"))


# -- settling from what Meta says ------------------------------------------------------------
def _settle_from_container(ctx: StatusContext, client: InstagramClient, status: ContainerStatus | None) -> StatusResult:
    if status is None:
        # Nothing ties this post to a media: a same-caption media could be anybody's.
        return _pending("no container id was saved; a person should check the account")
    code = status.status_code
    sent_at = ctx.post.create_sent_at
    now = ctx.now or utcnow()
    if code == "FINISHED" and sent_at is not None and now - sent_at > FINISHED_PROVES_UNPUBLISHED_AFTER:
        # A container is published at most once and then reads PUBLISHED; still FINISHED long after
        # the call means the call never took effect (e.g. a 500 before acting): publish it again.
        return StatusResult("absent", detail=f"container still FINISHED {now - sent_at} after media_publish was sent")
    if code in ("IN_PROGRESS", "FINISHED"):
        # Not published (yet). A media with the same caption would be somebody else's.
        return StatusResult("pending", detail=f"container {code}: not published",
                            conclusive_in_seconds=seconds_until_conclusive(sent_at, now, FINISHED_PROVES_UNPUBLISHED_AFTER)
                            if code == "FINISHED" else None)
    sighting = _sighting(ctx, client)
    if code == "PUBLISHED":
        if sighting.ambiguous:
            # Live for sure (the container says so), but several stories since the call could be it.
            return StatusResult("published", detail=f"container PUBLISHED; {len(sighting.matches)} stories since the "
                                                    "publish call, so its media id is not known")
        if sighting.matches:
            media = sighting.matches[0]  # the first one after our call; later look-alikes are not ours
            return StatusResult("published", platform_ids={"media_id": str(media["id"])},
                                share_url=media.get("permalink") or _permalink(client, str(media["id"]), _once),
                                detail=f"container {code}; media found in the account's recent media")
        if _last_look(ctx):
            # Known to be live: recorded as published without its id rather than failed.
            return StatusResult("published", detail="container PUBLISHED; its media was not found in recent media")
        return _pending(f"container {code}; its media is not listed yet")
    # EXPIRED or ERROR: the container never became a post.
    if not sighting.matches and sighting.complete:
        return StatusResult("absent", detail=f"container {code} and no media like it since the publish call")
    return _pending(f"container {code}, but {len(sighting.matches)} media with the same caption "
                         f"{'' if sighting.complete else 'or more unread '}since the publish call: a person should check")


def _sighting(ctx: StatusContext, client: InstagramClient) -> lookup.Sighting:
    if ctx.content is None:
        return lookup.Sighting(matches=[], complete=False)
    post = ctx.post
    sent_at = post.create_sent_at or post.approved_at or post.created_at
    expected = lookup.expected_media(ctx.content, post.target, sent_at)
    return lookup.find(client, _ig_user_id(ctx.account), expected)


def _last_look(ctx: StatusContext) -> bool:
    """True when the poll will not look again before its deadline."""
    deadline = ctx.post.poll_deadline
    now = ctx.now or utcnow()
    margin = float(getattr(ctx.config, "poll_max_interval_seconds", 300.0))
    return deadline is not None and (deadline - now).total_seconds() <= margin


def _pending(detail: str) -> StatusResult:
    return StatusResult("pending", detail=detail)  # the poll's own backoff decides when to look again


def _failed(exc: PostgateError, detail: str) -> StatusResult:
    return StatusResult("failed", fail_reason=str(exc), detail=detail,
                        fail_class="transient" if isinstance(exc, TransientError) else "platform")


def _record_create_sent(ctx: StatusContext, at: datetime | None) -> None:
    """Written before media_publish goes out from the poll, so a lost answer is looked up, not re-sent."""
    if ctx.repo is not None:
        ctx.repo.update_fields(ctx.post.id, create_sent_at=at)


def _once(fn):
    return fn()  # the status poll reschedules transient errors itself


# -- connecting an account (shared/accounts): the consent page, the code exchange, who it is ----------
# Business Login for Instagram: scopes comma-separated (the instagram_business_* names since 2025-01-27);
# no PKCE documented. The account's token is then an Instagram User token for graph.instagram.com.
OAUTH_SCOPES = ("instagram_business_basic", "instagram_business_content_publish")


def authorization_request(config, account: dict) -> dict:
    return {"url": config.instagram_authorize_url, "client_param": "client_id", "scope": ",".join(OAUTH_SCOPES),
            "pkce": False, "params": {}}


def exchange_code(code: str, *, client_id: str, client_secret: str, redirect_uri: str, code_verifier: str | None,
                  config, http=None) -> dict:
    return exchange_authorization_code(config.instagram_token_url, config.instagram_exchange_url, client_id=client_id,
                                       client_secret=client_secret, code=code, redirect_uri=redirect_uri,
                                       timeout=config.http_timeout_seconds, http=http)


def identity(tokens, config, account: dict) -> dict:
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
        user = client.ig_user(_ig_user_id(account))
        return {"platform_account_id": str(user["id"]), "handle": user.get("username") or None,
                login_tokens.ACCOUNT_FIELD: login}
    me = client.me()
    return {"platform_account_id": str(me.get("user_id") or me["id"]), "handle": me.get("username") or None,
            login_tokens.ACCOUNT_FIELD: login}
