"""After the upload (docs/platforms.md#youtube-unknown-outcomes, docs/platforms.md#youtube-endpoints): the
poll of a post in `processing`, and the lookup of an upload whose final chunk got no clear answer
(reconcile). Nothing here uploads or starts a session.

Without a video id, the saved session URI answers whether the upload finished: `bytes */N` on it
gives the video (200/201) or how much was stored (308). A video counts as published once YouTube
has processed it and it carries the privacy the person chose; the privacy is set with
videos.update and read back, because YouTube can keep a video private whatever the update asked
(uploads from unverified API projects until 2026-11-02; channels whose uploads default to private).
"""

from __future__ import annotations

from shared.platforms.base import StatusContext, StatusResult
from shared.platforms.youtube.client import WRITABLE_STATUS, SessionExpired, YouTubeClient
from shared.platforms.youtube.quota import charge_call
from shared.platforms.youtube.resource import contains_synthetic_media, status_part


def settle(ctx: StatusContext, client: YouTubeClient, *, unconfirmed: bool) -> StatusResult:
    ids = ctx.post.platform_ids
    if ids.get("video_id"):
        return _check_video(ctx, client, ids["video_id"], found={})
    session, size = ids.get("upload_session"), ids.get("upload_size")
    if not session or not size:
        if unconfirmed:  # stopped before YouTube named a session: no byte went anywhere, no video exists
            return StatusResult("absent", detail="no_upload_session")
        return StatusResult("failed", fail_reason="no video id and no upload session recorded", fail_class="platform")
    try:
        progress = client.query_session(session, int(size))
    except SessionExpired:
        if unconfirmed:  # gone: it cannot say whether its last chunk made a video, so wait for the deadline
            return StatusResult("pending", detail="upload_session_expired")
        progress = None
    if progress is None or not progress.complete:
        if unconfirmed:
            # 308: YouTube holds part of the file and no video. The session stays with the post, so
            # the next attempt sends only the missing bytes.
            return StatusResult("absent", platform_ids={"upload_session": session, "upload_size": size},
                                detail="upload_incomplete")
        stored = progress.next_offset if progress else 0
        return StatusResult("failed", fail_class="transient", detail="upload_incomplete",
                            fail_reason=f"upload interrupted at {stored} of {size} bytes; no video was created, "
                                        f"publish again")
    video_id = str(progress.video["id"])
    return _check_video(ctx, client, video_id, found={"video_id": video_id})


def _check_video(ctx: StatusContext, client: YouTubeClient, video_id: str, *, found: dict[str, str]) -> StatusResult:
    charge_call(ctx, "videos.list")
    items = client.list_videos([video_id])
    if not items:
        return StatusResult("pending", platform_ids=found, detail="not_listed_yet")
    status = items[0].get("status") or {}
    processing = items[0].get("processingDetails") or {}
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
    target = ctx.post.target
    wanted = target.youtube_privacy or "private"
    scheduled = ctx.post.platform_ids.get("scheduled_release")
    if not scheduled and wanted != "private" and status.get("privacyStatus") != wanted:
        charge_call(ctx, "videos.update")
        client.update_status(video_id, _status_with_privacy(ctx, status, wanted))
        kept = _privacy_now(ctx, client, video_id)
        if kept != wanted:
            return StatusResult("failed", platform_ids=found, detail=f"kept_{kept}", fail_class="platform",
                                fail_reason=f"YouTube kept video {video_id} {kept} when it was set {wanted}: it is on "
                                            f"the channel but viewers cannot see it. Make it {wanted} in YouTube "
                                            f"Studio once YouTube allows it; do not publish it again")
    return StatusResult("published", platform_ids=found, share_url=f"https://www.youtube.com/watch?v={video_id}",
                        detail="scheduled" if scheduled else wanted)


def _status_with_privacy(ctx: StatusContext, status: dict, wanted: str) -> dict:
    """The status part as just read with only the privacy changed: videos.update replaces the whole
    part, so every mutable field the channel owner may have set since the upload (embeddable,
    license, publicStatsViewable, ...) is sent back as it is, or it would revert to its default."""
    current = {k: v for k, v in status.items() if k in WRITABLE_STATUS}
    if wanted != "private":
        current.pop("publishAt", None)  # a release time is only valid on a private video
    made_for_kids = current.get("selfDeclaredMadeForKids", ctx.post.target.made_for_kids)
    return {**current, **status_part(wanted, made_for_kids=bool(made_for_kids), synthetic=_synthetic(ctx, status))}


def _privacy_now(ctx: StatusContext, client: YouTubeClient, video_id: str) -> str:
    """The privacy YouTube holds after the update, read back rather than taken from what was sent."""
    charge_call(ctx, "videos.list")
    items = client.list_videos([video_id], parts="status")
    return str(((items[0] if items else {}).get("status") or {}).get("privacyStatus") or "unknown")


def _synthetic(ctx: StatusContext, status: dict) -> bool:
    """videos.update replaces the whole status part: resend the disclosure made at upload."""
    if "containsSyntheticMedia" in status:
        return bool(status["containsSyntheticMedia"])
    content = ctx.content or (ctx.repo.get_content(ctx.post.content_id) if ctx.repo is not None else None)
    return bool(content and contains_synthetic_media(content))
