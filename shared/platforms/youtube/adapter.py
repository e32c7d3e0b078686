"""YouTube as a platform adapter (see shared/platforms/base.py).

publish: quota check -> resumable session (saved before any byte) -> chunked upload with resume
-> video id saved. A session saved by an earlier attempt (one that YouTube reported incomplete) is
resumed, not started again. The video goes up private; once processing succeeds the status poll
sets the requested privacy (videos.update, settle.py), or a future publish time is handed to
YouTube as a scheduled release (status.publishAt, private until then).
"""

from __future__ import annotations

from shared.errors import CapReached, TransientError, ValidationError
from shared.model.account import Account, Limit
from shared.model.analytics import MetricsRefused, PlatformMetrics
from shared.model.content import ContentItem, MediaRef, TargetSpec
from shared.platforms.base import (
    MetricsContext,
    PublishContext,
    PublishResult,
    ReviewCard,
    StatusContext,
    StatusResult,
)
from shared.platforms.metrics import check_batch, ids_to_fetch, in_post_order
from shared.platforms.youtube import settle
from shared.platforms.youtube.client import (
    SessionExpired,
    UploadProgress,
    YouTubeClient,
    exchange_authorization_code,
    refresh_user_tokens,
    upload_resumable,
)
from shared.platforms.youtube.content_id import PARTNER_SCOPE
from shared.platforms.youtube.quota import charge_call
from shared.platforms.youtube.resource import build_resource, scheduled_release
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config

TITLE_MAX_CHARS = 100
DESCRIPTION_MAX_BYTES = 5000
TAGS_MAX_CHARS = 500
# videos.insert has its own bucket of 100 calls a day per API project (docs/platforms.md#youtube-quota); the
# per-channel upload cap is not published, so the account cap stays well under the bucket.
DEFAULT_LIMITS = [Limit("uploads_per_day", 50, 86400)]
# videos.list takes at most 50 ids in `id` (maxResults 0-50) for 1 quota unit (docs/platforms.md#youtube-analytics;
# developers.google.com/youtube/v3/docs/videos/list).
METRICS_BATCH_SIZE = 50
# rateLimitExceeded / userRateLimitExceeded come with no reset time (docs/platforms.md#youtube-errors):
# look again after this.
RATE_LIMIT_WAIT_SECONDS = 60.0
_RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}


def tags_length(tags: list[str]) -> int:
    """As YouTube counts it: commas between tags count, and a tag with a space counts its quotes."""
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(len(tags) - 1, 0)


def _video(content: ContentItem):
    return next((m for m in content.media if m.kind == "video"), None)


def validate(content: ContentItem, target: TargetSpec, account: Account) -> None:
    title = target.title or ""
    if not title.strip():
        raise ValidationError("YouTube needs a title", field="targets.title", limit="required, 1-100 characters")
    if len(title) > TITLE_MAX_CHARS:
        raise ValidationError(f"title is {len(title)} characters", field="targets.title", limit=f"{TITLE_MAX_CHARS} characters")
    if "<" in title or ">" in title:
        raise ValidationError("title contains < or >", field="targets.title", limit="no < or >")
    description = content.text()
    size = len(description.encode("utf-8"))
    if size > DESCRIPTION_MAX_BYTES:
        raise ValidationError(f"description (caption + hashtags) is {size} bytes", field="caption",
                              limit=f"{DESCRIPTION_MAX_BYTES} UTF-8 bytes")
    if "<" in description or ">" in description:
        raise ValidationError("description (caption + hashtags) contains < or >", field="caption", limit="no < or >")
    if any(not t.strip() or "<" in t or ">" in t or "," in t for t in target.tags):
        raise ValidationError("tags must be non-empty and contain no < > or ,", field="targets.tags",
                              limit="no empty tags, no < > ,")
    if tags_length(target.tags) > TAGS_MAX_CHARS:
        raise ValidationError(f"tags total {tags_length(target.tags)} characters (commas and quotes count)",
                              field="targets.tags", limit=f"{TAGS_MAX_CHARS} characters in total")
    if target.youtube_privacy is None:
        raise ValidationError("YouTube needs an explicit privacy (the API now defaults to public)",
                              field="targets.youtube_privacy", limit="one of private, unlisted, public")
    if not target.youtube_category_id.isdigit():
        raise ValidationError("category id must be a YouTube video category number", field="targets.youtube_category_id",
                              limit="a numeric videoCategory id")
    video = _video(content)
    if video is None:
        raise ValidationError("YouTube posts need a video", field="video", limit="a gs:// video object")
    if not (video.content_type.startswith("video/") or video.content_type == "application/octet-stream"):
        raise ValidationError(f"YouTube does not take {video.content_type}", field="video",
                              limit="video/* or application/octet-stream")
    if video.size <= 0:
        raise ValidationError("video is empty", field="video", limit="size > 0")


def preview(content: ContentItem, target: TargetSpec, account: Account) -> ReviewCard:
    snippet = build_resource(content, target, now=utcnow())["snippet"]
    release = scheduled_release(content, target, utcnow())
    privacy = str(target.youtube_privacy)
    if release is not None:
        privacy += " at the scheduled time (YouTube releases it; private until then)"
    elif target.youtube_privacy != "private":
        privacy += " once YouTube has processed it (uploaded private first)"
    fields = [("Title", snippet["title"] or ""), ("Tags", ", ".join(snippet.get("tags", [])) or "none"),
              ("Privacy", privacy), ("Made for kids", "yes" if target.made_for_kids else "no"),
              ("Category", snippet["categoryId"])]
    return ReviewCard(text=snippet["description"], fields=fields, media=[v for v in [_video(content)] if v],
                      text_label="Description")


def client_for(tokens, config: Config) -> YouTubeClient:
    return YouTubeClient(tokens, base_url=config.youtube_base_url, timeout=config.http_timeout_seconds)


def refresh_tokens(tokens: dict, *, config: Config, http=None) -> dict:
    return refresh_user_tokens(config.youtube_oauth_url, tokens, timeout=config.http_timeout_seconds, http=http)


def publish(ctx: PublishContext) -> PublishResult:
    """The final chunk is the create call: with no clear answer to it (and none from the session
    afterwards) upload_resumable raises AmbiguousError, the session URI already saved for reconcile."""
    content, post, config = ctx.content, ctx.post, ctx.config
    validate(content, post.target, ctx.account)
    video = _video(content)
    client = client_for(ctx.tokens, config)
    ids, progress = _saved_session(ctx, client, video)
    if ids is not None and progress is not None and progress.video is not None:
        return _uploaded(ctx, ids, progress.video)  # complete: the earlier attempt's video exists after all
    for attempt in range(2):  # a second session only after a 404 before any video id existed
        if ids is None:
            ids = _start_session(ctx, client, video)
            start = 0
        else:
            ctx.mark_create_sent()  # resuming: the bytes that follow can complete the video
            assert progress is not None  # _saved_session gives both or neither
            start = progress.next_offset
        try:
            uploaded = upload_resumable(client, ids["upload_session"], total=video.size, start=start,
                                        chunk_bytes=config.youtube_chunk_bytes, content_type=video.content_type,
                                        read=lambda first, last: ctx.media_store.read_range(video, first, last),
                                        max_interruptions=config.retry_attempts, backoff_seconds=config.retry_base_seconds)
            break
        except SessionExpired:  # a chunk answered 404: that session is gone and took no final chunk
            if attempt:
                raise
            ids = None
    assert ids is not None  # the loop breaks only after an upload through a session
    return _uploaded(ctx, ids, uploaded)


def _start_session(ctx: PublishContext, client: YouTubeClient, video: MediaRef) -> dict[str, str]:
    resource = build_resource(ctx.content, ctx.post.target, now=utcnow())

    def start() -> str:
        charge_call(ctx, "videos.insert")  # each attempt costs, so each is charged
        return client.start_session(resource, video.size, video.content_type)

    ctx.mark_create_sent()
    ids = {"upload_session": ctx.retry(start), "upload_size": str(video.size)}
    release = resource["status"].get("publishAt")
    if release:
        ids["scheduled_release"] = release
    ctx.save_platform_ids(ids)  # the resume handle, before any byte is sent
    return ids


def _saved_session(ctx: PublishContext, client: YouTubeClient,
                   video: MediaRef) -> tuple[dict[str, str] | None, UploadProgress | None]:
    """The session an earlier attempt of this post left (reconcile found it incomplete and kept it)
    and where it stands now; (None, None) when there is none to go on with."""
    ids = dict(ctx.post.platform_ids)
    session = ids.get("upload_session")
    if not session or ids.get("upload_size") != str(video.size):
        return None, None
    try:
        return ids, ctx.retry(lambda: client.query_session(session, video.size))
    except SessionExpired:
        # It was incomplete when reconcile asked and no byte has gone to it since: its expiry left
        # no video behind, so a new session is safe.
        return None, None


def _uploaded(ctx: PublishContext, ids: dict[str, str], video: dict) -> PublishResult:
    ids = {**ids, "video_id": str(video["id"])}
    ctx.save_platform_ids(ids)
    return PublishResult(platform_ids=ids)


def check_status(ctx: StatusContext) -> StatusResult:
    return settle.settle(ctx, client_for(ctx.tokens, ctx.config), unconfirmed=False)


def reconcile(ctx: StatusContext) -> StatusResult:
    """An upload whose final chunk got no clear answer: the saved session says whether the video
    exists (then it is checked like any other), is incomplete (absent; the session is kept so the
    next attempt resumes it) or cannot say (pending)."""
    return settle.settle(ctx, client_for(ctx.tokens, ctx.config), unconfirmed=True)


def fetch_metrics(ctx: MetricsContext) -> list[PlatformMetrics | MetricsRefused]:
    """One videos.list part=statistics for the batch, charged 1 unit of the general quota bucket
    before it is sent (quota.py; over quota: CapReached until midnight Pacific, no call). YouTube
    leaves out ids it does not list (deleted, or private and not this channel's): each is refused.
    A channel can hide its likes and turn comments off; those counts are then absent (None). YouTube
    has no shares, saves, reach or impressions in the Data API."""
    check_batch("youtube", ctx.posts, METRICS_BATCH_SIZE)
    ids = ids_to_fetch(ctx.posts, "video_id")
    answers: dict[str, PlatformMetrics] = {}
    if ids:
        charge_call(ctx, "videos.list")
        try:
            items = client_for(ctx.tokens, ctx.config).video_statistics(ids)
        except CapReached:
            raise  # quotaExceeded: until midnight Pacific Time
        except TransientError as exc:
            if exc.platform_code not in _RATE_REASONS:
                raise
            raise CapReached(str(exc), retry_after=exc.retry_after or RATE_LIMIT_WAIT_SECONDS,
                             platform_code=exc.platform_code) from None
        for item in items:
            stats = item.get("statistics") or {}
            vid = str(item["id"])
            answers[vid] = PlatformMetrics(platform_post_id=vid, views=_count(stats, "viewCount"),
                                           likes=_count(stats, "likeCount"), comments=_count(stats, "commentCount"))
    return in_post_order(ctx.posts, "video_id", answers, no_id="no YouTube video id was recorded for this post",
                         not_answered="YouTube did not list it (deleted, or private and not this channel's)")


def _count(stats: dict, field: str) -> int | None:
    value = stats.get(field)
    return int(value) if value is not None else None


# -- connecting an account (shared/accounts): the consent page, the code exchange, who it is ----------
# Google's web server flow: access_type=offline (and prompt=consent, so a reconnect gets a new refresh
# token too), PKCE S256 supported [developers.google.com/identity/protocols/oauth2/web-server].
# youtube.upload covers videos.insert only; videos.update (the privacy set after processing, the
# metadata sync) accepts youtube, youtube.force-ssl or youtubepartner, and youtube.force-ssl also
# covers videos.list and channels.list (the `scopes` of each method in Google's discovery document;
# developers.google.com/youtube/v3/docs/videos/update, "Authorization").
OAUTH_SCOPES = ("https://www.googleapis.com/auth/youtube.upload", "https://www.googleapis.com/auth/youtube.force-ssl")


def authorization_request(config: Config, account: Account) -> dict:
    # Content ID (docs/platforms.md#youtube-content-id) needs youtubepartner: asked for only where it is used.
    scopes = OAUTH_SCOPES + ((PARTNER_SCOPE,) if config.youtube_content_id else ())
    return {"url": config.youtube_authorize_url, "client_param": "client_id", "scope": " ".join(scopes),
            "pkce": True, "params": {"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"}}


def exchange_code(code: str, *, client_id: str, client_secret: str, redirect_uri: str, code_verifier: str | None,
                  config: Config, http=None) -> dict:
    return exchange_authorization_code(config.youtube_oauth_url, client_id=client_id, client_secret=client_secret,
                                       code=code, redirect_uri=redirect_uri, code_verifier=code_verifier,
                                       timeout=config.http_timeout_seconds, http=http)


def identity(tokens, config: Config, account: Account) -> dict:
    """channels.list part=id,snippet mine=true (1 quota unit): {platform_account_id: channel id, name}."""
    channel = client_for(tokens, config).my_channel()
    return {"platform_account_id": str(channel["id"]), "name": (channel.get("snippet") or {}).get("title") or None}
