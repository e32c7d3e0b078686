"""Publishing through containers: one container per post (a carousel's items first, then the
carousel) made from V4 signed Cloud Storage URLs, its status awaited, then media_publish sent once.
A refusal of media_publish is read against the container, since Meta names no "already published"
error (see adapter.py's docstring)."""

from __future__ import annotations

import functools
import re
import time

from shared.errors import (
    AmbiguousError,
    AuthError,
    ConfigError,
    PermanentError,
    PostgateError,
    TransientError,
)
from shared.model.account import Account
from shared.model.content import MediaRef
from shared.model.disclosure import ai_generated
from shared.platforms.base import PublishContext
from shared.platforms.instagram.client import ContainerStatus, InstagramClient
from shared.platforms.instagram.validation import check_story_duration, images_of, story_media, video_of
from shared.runtime.config_model import Config

# Container status sub-reasons after which a fresh container may work (docs/platforms.md#instagram-errors).
_RENEWABLE = {2207001, 2207003, 2207008, 2207020, 2207032, 2207053}
_SUBCODE_RE = re.compile(r"\b(22\d{5})\b")


def ig_user_id(account: Account) -> str:
    ig_id = str(account.get("platform_account_id") or "").strip()
    if not ig_id:
        raise ConfigError("Instagram account has no platform_account_id (the IG user id)")
    return ig_id


def container_failure(status: ContainerStatus) -> PostgateError:
    match = _SUBCODE_RE.search(status.status or "")
    subcode = int(match.group(1)) if match else None
    reason = f"instagram container {status.status_code}: {status.status or 'no detail'}"
    code = f"{status.status_code}/{subcode}" if subcode else status.status_code
    if status.status_code == "EXPIRED" or subcode in _RENEWABLE:
        return TransientError(reason + "; a new container is needed", platform_code=code)
    return PermanentError(reason, platform_code=code)


def wait_for_container(client: InstagramClient, container_id: str, config: Config, retry) -> ContainerStatus:
    """Poll until the container leaves IN_PROGRESS or the configured wait is spent."""
    poll = config.instagram_container_poll_seconds
    deadline = time.monotonic() + config.instagram_container_wait_seconds
    while True:
        status = retry(lambda: client.container_status(container_id))
        if status.status_code != "IN_PROGRESS" or time.monotonic() + poll > deadline:
            return status
        time.sleep(poll)


def publish_once(client: InstagramClient, ig_id: str, container_id: str, retry) -> str:
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
        return container_failure(status)
    return refusal


def permalink(client: InstagramClient, media_id: str | None, retry) -> str | None:
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


def create_containers(ctx: PublishContext, client: InstagramClient, ig_id: str) -> dict[str, str]:
    content, target, retry = ctx.content, ctx.post.target, ctx.retry
    caption = content.text()
    kind = target.instagram_media_type
    if kind == "IMAGE":
        image = images_of(content)[0]
        fields = {"image_url": _signed_url(ctx, image), "caption": caption, **_ai_label([image])}
        if target.alt_text:
            fields["alt_text"] = target.alt_text
        ids = {"container_id": retry(lambda: client.create_container(ig_id, fields))}
    elif kind == "REELS":
        video = video_of(content)
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
        for image in images_of(content):
            fields = {"is_carousel_item": "true", "image_url": _signed_url(ctx, image)}
            children.append(retry(functools.partial(client.create_container, ig_id, fields)))
            ctx.save_platform_ids({"children": ",".join(children)})
        # The label goes on the carousel container only, never on its items (Meta's changelog, 2026-06-22).
        parent = {"media_type": "CAROUSEL", "children": ",".join(children), "caption": caption,
                  **_ai_label(images_of(content))}
        ids = {"children": ",".join(children), "container_id": retry(lambda: client.create_container(ig_id, parent))}
    ctx.save_platform_ids(ids)
    return ids
