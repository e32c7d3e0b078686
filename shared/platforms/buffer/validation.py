"""What a post to a Buffer channel must meet before anyone approves it: the rules of the network behind
the channel (networks.py) and Buffer's own (developers.buffer.com/types/CreatePostInput.md,
guides/hosting-media.html): text or at least one asset, each asset an image or a video, one alt text
for one image. The account must name its channel and the channel's network."""

from __future__ import annotations

from shared.errors import ValidationError
from shared.model.account import Account
from shared.model.content import ContentItem, TargetSpec
from shared.platforms.buffer.networks import NetworkPost, plan

ASSET_KINDS = {"image": "image/", "video": "video/"}


def channel_id(account: Account) -> str:
    value = str(account.get("platform_account_id") or "").strip()
    if not value:
        raise ValidationError("the Buffer account names no channel", field="account.platform_account_id",
                              limit="the Buffer channel id (buffer_profile_id)")
    return value


def network_of(account: Account) -> str:
    value = str(account.get("buffer_service") or "").strip()
    if not value:
        raise ValidationError("the Buffer account does not say which network its channel posts to",
                              field="account.buffer_service", limit="the channel's service as Buffer names it")
    return value


def planned_post(content: ContentItem, target: TargetSpec, account: Account) -> NetworkPost:
    """The post Buffer gets for this account, checked against every rule (what validate, preview and publish use)."""
    channel_id(account)
    post = plan(content, target, network_of(account))
    check_buffer_rules(post, target)
    return post


def check_buffer_rules(post: NetworkPost, target: TargetSpec) -> None:
    if not post.text.strip() and not post.media:
        raise ValidationError("a Buffer post needs text or at least one image or video", field="caption",
                              limit="text, or at least one asset")
    for media in post.media:
        prefix = ASSET_KINDS.get(media.kind)
        if prefix is None or not media.content_type.startswith(prefix):
            raise ValidationError(f"Buffer takes images and videos by URL, not {media.content_type} ({media.uri})",
                                  field="images" if media.kind == "image" else "video", limit="image/* or video/*")
    if target.alt_text and post.alt_text is None:
        raise ValidationError("Buffer carries alt text on a post of one image only", field="targets.alt_text",
                              limit="a post of exactly one image")


def validate(content: ContentItem, target: TargetSpec, account: Account) -> None:
    planned_post(content, target, account)
