"""What TikTok's status fetch says about one publish (docs/platforms.md#tiktok-status-and-errors), read the
same way for the poll of a known publish and for a publish whose last chunk got no clear answer. Never creates.

`settle` returns published / pending / failed, or `absent` when TikTok's answer proves nothing was
posted from this publish and posting again is the cure: TikTok failed it on its side (`internal`),
or the creator was over the daily cap (`spam_risk_too_many_posts`: the next attempt's init meets the
cap as a 403 and the publisher parks the post as CapReached until it frees). A creator who took the
app's access away is an AuthError (reconnect the account), not the post's failure.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.errors import AuthError
from shared.platforms.base import StatusContext, StatusResult
from shared.platforms.tiktok.client import (AUTH_FAIL_REASONS, CAP_FAIL_REASONS, CAP_WAIT_SECONDS,
                                            TRANSIENT_FAIL_REASONS, PublishStatus, TikTokClient)
from shared.runtime.clock import utcnow

# The upload_url lives 1 h after init (docs/platforms.md#tiktok-endpoints); init came after create_sent_at, and the
# margin covers clocks that disagree. Past this, bytes that TikTok lacks can never arrive.
UPLOAD_URL_TTL = timedelta(hours=1)
CLOCK_MARGIN = timedelta(minutes=5)
# A resume starts only with this much of the URL's hour left (clocks that disagree, and the time
# to send the missing bytes); closer to the expiry the post waits it out and then starts afresh.
RESUME_MARGIN = timedelta(minutes=5)


def settle(ctx: StatusContext, client: TikTokClient, *, unconfirmed: bool) -> StatusResult:
    publish_id = ctx.post.platform_ids.get("publish_id")
    if not publish_id:
        # Init's answer never arrived (or the attempt died before saving it): the upload_url it
        # carried was never used, and a FILE_UPLOAD publish without its bytes never becomes a post.
        if unconfirmed:
            return StatusResult("absent", detail="no_publish_id")
        return StatusResult("failed", fail_reason="no publish_id was recorded", fail_class="platform")
    status = client.fetch_status(publish_id)
    if status.status == "PUBLISH_COMPLETE":
        return _complete(ctx, client, status)
    if status.status == "FAILED":
        return _failed(status)
    if unconfirmed and _missing_bytes(ctx, status):
        ids, now = ctx.post.platform_ids, ctx.now or utcnow()
        expires = _saved_expiry(ctx)
        if ids.get("upload_url") and expires is not None and now < expires - RESUME_MARGIN:
            # The media transfer guide lets the missing bytes go to the same upload_url while it lives:
            # the post goes back to the publisher with its handle, which re-sends them (no new init,
            # so no second publish) instead of waiting out the URL's hour.
            keep = {k: ids[k] for k in ("publish_id", "upload_url", "upload_expires_at", "upload_plan") if k in ids}
            return StatusResult("absent", platform_ids=keep, detail="upload_incomplete_resumable")
        if expires is not None and now >= expires + CLOCK_MARGIN:
            return StatusResult("absent", detail="upload_incomplete")
    return StatusResult("pending", detail=status.status)


def _complete(ctx: StatusContext, client: TikTokClient, status: PublishStatus) -> StatusResult:
    post = ctx.post
    public = status.public_post_ids
    # Public posts get their id only after moderation; wait for it until the deadline.
    needs_public_id = post.target.privacy_level == "PUBLIC_TO_EVERYONE"
    past_deadline = post.poll_deadline is not None and (ctx.now or utcnow()) >= post.poll_deadline
    if not public and needs_public_id and not past_deadline:
        return StatusResult("pending", detail="awaiting_public_id")
    ids: dict[str, str] = {}
    share_url = None
    if public:
        ids["video_id"] = public[0]
        share_url = _share_url(client, public[0])
    return StatusResult("published", platform_ids=ids, share_url=share_url, detail=status.status)


def _share_url(client: TikTokClient, video_id: str) -> str | None:
    """The post is live whatever this says: an account without the video.list scope just has no link."""
    try:
        videos = client.query_videos([video_id], ["id", "share_url"])
    except AuthError:
        return None
    return next((v.get("share_url") for v in videos if str(v.get("id")) == video_id), None)


def _failed(status: PublishStatus) -> StatusResult:
    reason = status.fail_reason or "unknown"
    if reason in AUTH_FAIL_REASONS:
        raise AuthError(f"tiktok: the creator removed the app's access ({reason}); reconnect the account",
                        platform_code=reason)
    if reason in CAP_FAIL_REASONS:
        # Nothing was posted; the cap frees within a day (the hint is for a poll that honours it).
        return StatusResult("absent", detail=f"FAILED: {reason}", next_check_seconds=CAP_WAIT_SECONDS)
    if reason in TRANSIENT_FAIL_REASONS:  # TikTok failed it on its side: nothing is live, so it goes again
        return StatusResult("absent", detail=f"FAILED: {reason}")
    # The media or the text was refused (or the user cancelled): publishing again would not help.
    return StatusResult("failed", fail_reason=reason, fail_class="platform", detail=status.status)


def _missing_bytes(ctx: StatusContext, status: PublishStatus) -> bool:
    """Still PROCESSING_UPLOAD and TikTok holds fewer bytes than the file: no post yet. Once the
    upload_url has expired the missing bytes can never arrive, so this publish will never be a post."""
    video = next((m for m in ctx.content.media if m.kind == "video"), None) if ctx.content else None
    if status.status != "PROCESSING_UPLOAD" or video is None or status.uploaded_bytes is None:
        return False
    return status.uploaded_bytes < video.size


def _saved_expiry(ctx: StatusContext) -> datetime | None:
    """When the upload_url expires: saved with it at init, else (a publish saved before that was
    recorded) an hour after the create call was sent, which came before init."""
    saved = ctx.post.platform_ids.get("upload_expires_at")
    if saved:
        try:
            return datetime.fromisoformat(saved)
        except ValueError:
            pass
    sent = ctx.post.create_sent_at
    return sent + UPLOAD_URL_TTL if sent is not None else None
