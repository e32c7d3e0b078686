"""YouTube as a platform adapter (see shared/platforms/base.py).

publish: quota check -> resumable session (saved before any byte) -> chunked upload with resume
-> video id saved. The video goes up private; once processing succeeds the status poll sets the
requested privacy (videos.update), or a future publish time is handed to YouTube as a scheduled
release (status.publishAt, private until then).
"""

from __future__ import annotations

from datetime import datetime, timezone

from shared.content.model import ContentItem, TargetSpec
from shared.errors import ValidationError
from shared.platforms.base import Limit, PublishContext, PublishResult, ReviewCard, StatusContext, StatusResult
from shared.platforms.youtube import quota
from shared.platforms.youtube.client import SessionExpired, YouTubeClient, refresh_user_tokens, upload_resumable
from shared.runtime.clock import utcnow

TITLE_MAX_CHARS = 100
DESCRIPTION_MAX_BYTES = 5000
TAGS_MAX_CHARS = 500
OFFLINE_GENERATOR = "offline-template-v1"
# videos.insert has its own bucket of 100 calls a day per API project (platforms.md 4.2); the
# per-channel upload cap is not published, so the account cap stays well under the bucket.
DEFAULT_LIMITS = [Limit("uploads_per_day", 50, 86400)]


def tags_length(tags: list[str]) -> int:
    """As YouTube counts it: commas between tags count, and a tag with a space counts its quotes."""
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(len(tags) - 1, 0)


def _video(content: ContentItem):
    return next((m for m in content.media if m.kind == "video"), None)


def validate(content: ContentItem, target: TargetSpec, account: dict) -> None:
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


def preview(content: ContentItem, target: TargetSpec, account: dict) -> ReviewCard:
    snippet = build_resource(content, target, now=utcnow())["snippet"]
    release = _scheduled_release(content, target, utcnow())
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


def client_for(tokens, config) -> YouTubeClient:
    return YouTubeClient(tokens, base_url=config.youtube_base_url, timeout=config.http_timeout_seconds)


def refresh_tokens(tokens: dict, *, config, http=None) -> dict:
    return refresh_user_tokens(config.youtube_oauth_url, tokens, timeout=config.http_timeout_seconds, http=http)


def quota_key(account: dict) -> str:
    """Quota belongs to the API project of the account's OAuth client; accounts sharing one share it."""
    return str(account.get("quota_project") or "default")


def _charge(ctx, method: str) -> None:
    if ctx.repo is not None:
        quota.charge(ctx.repo.db, method, daily_quota=ctx.config.youtube_daily_quota, key=quota_key(ctx.account))


def _scheduled_release(content: ContentItem, target: TargetSpec, now: datetime) -> datetime | None:
    """A future publish time for a public video is YouTube's own scheduled release."""
    at = content.publish_at
    if at is None or target.youtube_privacy != "public":
        return None
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    return at if at > now else None


def status_part(privacy: str, *, made_for_kids: bool, synthetic: bool, publish_at: datetime | None = None) -> dict:
    status = {"privacyStatus": privacy, "selfDeclaredMadeForKids": made_for_kids, "containsSyntheticMedia": synthetic}
    if publish_at is not None:
        status["publishAt"] = publish_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return status


def build_resource(content: ContentItem, target: TargetSpec, *, now: datetime) -> dict:
    """Always private first (and always explicit: omitted means public since 2026-11)."""
    snippet = {"title": target.title, "description": content.text(), "categoryId": target.youtube_category_id}
    if target.tags:
        snippet["tags"] = list(target.tags)
    return {"snippet": snippet,
            "status": status_part("private", made_for_kids=target.made_for_kids,
                                  synthetic=content.generator != OFFLINE_GENERATOR,
                                  publish_at=_scheduled_release(content, target, now))}


def publish(ctx: PublishContext) -> PublishResult:
    content, post, config = ctx.content, ctx.post, ctx.config
    validate(content, post.target, ctx.account)
    video = _video(content)
    now = utcnow()
    resource = build_resource(content, post.target, now=now)
    client = client_for(ctx.tokens, config)
    ids: dict[str, str] = {}
    release = resource["status"].get("publishAt")
    for attempt in range(2):  # a second session only after a 404 before any video id existed
        def start() -> str:
            _charge(ctx, "videos.insert")  # each attempt costs, so each is charged
            return client.start_session(resource, video.size, video.content_type)

        ctx.mark_create_sent()
        session_uri = ctx.retry(start)
        ids = {"upload_session": session_uri, "upload_size": str(video.size)}
        if release:
            ids["scheduled_release"] = release
        ctx.save_platform_ids(ids)  # the resume handle, before any byte is sent
        try:
            uploaded = upload_resumable(client, session_uri, total=video.size, chunk_bytes=config.youtube_chunk_bytes,
                                        content_type=video.content_type,
                                        read=lambda first, last: ctx.media_store.read_range(video, first, last),
                                        max_interruptions=config.retry_attempts, backoff_seconds=config.retry_base_seconds)
            break
        except SessionExpired:
            if attempt:
                raise
    ids = {**ids, "video_id": str(uploaded["id"])}
    ctx.save_platform_ids(ids)
    return PublishResult(platform_ids=ids)


def check_status(ctx: StatusContext) -> StatusResult:
    post, config = ctx.post, ctx.config
    client = client_for(ctx.tokens, config)
    found: dict[str, str] = {}
    video_id = post.platform_ids.get("video_id")
    if not video_id:  # the publisher stopped mid-upload: only the session knows whether a video exists
        session, size = post.platform_ids.get("upload_session"), post.platform_ids.get("upload_size")
        if not session or not size:
            return StatusResult("failed", fail_reason="no video id and no upload session recorded", fail_class="platform")
        try:
            progress = client.query_session(session, int(size))
        except SessionExpired:
            progress = None
        if progress is None or not progress.complete:
            stored = progress.next_offset if progress else 0
            return StatusResult("failed", fail_class="transient", detail="upload_incomplete",
                                fail_reason=f"upload interrupted at {stored} of {size} bytes; no video was created, "
                                            f"publish again")
        video_id = found["video_id"] = str(progress.video["id"])
    _charge(ctx, "videos.list")
    items = client.list_videos([video_id])
    if not items:
        return StatusResult("pending", platform_ids=found, detail="not_listed_yet")
    item = items[0]
    status = item.get("status") or {}
    processing = item.get("processingDetails") or {}
    upload_status = status.get("uploadStatus", "")
    processing_status = processing.get("processingStatus", "")
    if upload_status == "failed":
        return StatusResult("failed", platform_ids=found, detail=upload_status,
                            fail_reason=f"upload failed: {status.get('failureReason', 'unknown')}")
    if upload_status == "rejected":
        return StatusResult("failed", platform_ids=found, detail=upload_status,
                            fail_reason=f"rejected: {status.get('rejectionReason', 'unknown')}")
    if upload_status == "deleted":
        return StatusResult("failed", platform_ids=found, detail=upload_status, fail_reason="the video was deleted")
    if processing_status in ("failed", "terminated"):
        return StatusResult("failed", platform_ids=found, detail=processing_status,
                            fail_reason=f"processing {processing_status}: "
                                        f"{processing.get('processingFailureReason', 'unknown')}")
    if upload_status != "processed":
        return StatusResult("pending", platform_ids=found, detail=processing_status or upload_status)
    wanted = post.target.youtube_privacy or "private"
    scheduled = post.platform_ids.get("scheduled_release")
    if not scheduled and wanted != "private" and status.get("privacyStatus") != wanted:
        _charge(ctx, "videos.update")
        client.update_status(video_id, status_part(wanted, made_for_kids=post.target.made_for_kids,
                                                   synthetic=_synthetic(ctx, status)))
    return StatusResult("published", platform_ids=found, share_url=f"https://www.youtube.com/watch?v={video_id}",
                        detail="scheduled" if scheduled else wanted)


def _synthetic(ctx: StatusContext, status: dict) -> bool:
    """videos.update replaces the whole status part: resend the disclosure made at upload."""
    if "containsSyntheticMedia" in status:
        return bool(status["containsSyntheticMedia"])
    content = ctx.repo.get_content(ctx.post.content_id) if ctx.repo is not None else None
    return bool(content and content.generator != OFFLINE_GENERATOR)
