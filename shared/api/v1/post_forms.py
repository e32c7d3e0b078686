"""The seed's scheduled post, both ways: its body made into our own copy (shared/content/own_copy.py),
and our post answered as the seed's post.

Statuses: the seed knows draft, scheduled and published; a post's own state is `postgate_status`.

| seed `status` | Postgate states |
|---|---|
| draft | draft, pending_approval (waiting for approval), rejected |
| scheduled | approved, scheduled, queued, publishing, processing |
| published | published |
| failed | failed (beyond the seed's three) |
| cancelled | cancelled (beyond the seed's three) |
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator
from pydantic import ValidationError as PydanticError

from shared.api.errors import ApiError, loc_to_field
from shared.api.v1.conventions import (
    BodyRef,
    numbers,
    repo,
    resolve,
    same_network,
    seed_platform,
    seed_time,
)
from shared.content.media_import import FetchRules, import_media
from shared.content.own_copy import OwnCopy
from shared.content.text import CAPTION_MAX_CHARS, CAPTION_PATTERN, check_caption
from shared.errors import ValidationError
from shared.model.account import Account
from shared.model.campaign import CAMPAIGN_ID_PATTERN
from shared.model.content import ContentItem, MediaRef, TargetSpec
from shared.model.post import Post
from shared.model.schedule import PlannedTime
from shared.services import get_services
from shared.stores.campaigns import campaign_exists

SEED_STATUSES: dict[str, tuple[str, ...]] = {
    "draft": ("draft", "pending_approval", "rejected"),
    "scheduled": ("approved", "scheduled", "queued", "publishing", "processing"),
    "published": ("published",),
    "failed": ("failed",),
    "cancelled": ("cancelled",),
}
STATUS_OF = {state: seed for seed, states in SEED_STATUSES.items() for state in states}
# A seed post without campaign_id goes in this campaign (our posts always name one).
NO_CAMPAIGN = "uncategorized"
MEDIA_URL_PATTERN = r"^https?://[^\s]+$"
WAITING_NOTE = ("Postgate's promise: nothing is published without a recorded human approval of exactly this "
                "content. The post waits for approval (postgate_status pending_approval; the approvers have been "
                "asked) and is scheduled for scheduled_time once approved.")


class SeedPostIn(BaseModel):
    """The seed's post body. `target` (ours): a platform's own choices (e.g. TikTok's privacy_level)."""

    model_config = ConfigDict(extra="forbid")

    social_account_id: BodyRef
    campaign_id: BodyRef | None = None
    content: str = Field(min_length=1, max_length=CAPTION_MAX_CHARS, pattern=CAPTION_PATTERN,
                         description="posted verbatim (hashtags included)")
    scheduled_time: PlannedTime | None = Field(default=None, description="UTC when it has no offset; none = as "
                                                                         "soon as it is approved")
    platform: str | None = Field(default=None, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_ -]+$",
                                 description="the account's network as the seed names it (twitter, instagram ...); "
                                             "must be the account's")
    media_urls: list[str] = Field(default_factory=list, max_length=10,
                                  json_schema_extra={"items": {"type": "string", "pattern": MEDIA_URL_PATTERN}})
    target: dict[str, Any] | None = Field(default=None, description="the platform's own choices for this post (our "
                                                                    "TargetSpec fields, account_id aside)")

    @field_validator("content")
    @classmethod
    def _not_blank(cls, content: str) -> str:
        return check_caption(content)

    @field_validator("media_urls")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if len(url) > 2000 or not re.match(MEDIA_URL_PATTERN, url):
                raise ValueError("each media URL is an https URL of at most 2000 characters")
        return urls


class SeedPostPath(BaseModel):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,299}$", max_length=300,
                    description="the post's number, or its postgate_id")


# -- body -> our own copy -------------------------------------------------------------------------

def resolve_account(ref: int | str, field: str) -> tuple[str, Account]:
    account_id = resolve("social_account", ref, field=field)
    account = repo().get_account(account_id) if "/" not in account_id else None
    if account is None:
        raise ApiError(404, f"no social account {ref}", field=field)
    return account_id, account


def resolve_campaign(ref: int | str | None, field: str) -> str:
    if ref is None:
        return NO_CAMPAIGN
    campaign_id = resolve("campaign", ref, field=field)
    if not re.fullmatch(CAMPAIGN_ID_PATTERN, campaign_id) or not campaign_exists(repo(), campaign_id):
        raise ApiError(404, f"no campaign {ref}", field=field)
    return campaign_id


def check_platform(name: str | None, account: Account, field: str) -> None:
    if name is not None and not same_network(name, account):
        raise ApiError(400, f"platform {name!r} is not the account's: it posts to {seed_platform(account)}",
                       field=field)


def fetch_media(urls: list[str], field: str) -> tuple[str | None, list[str], dict[str, str]]:
    """(video gs URI, image gs URIs, our media field -> the seed's) of the URLs, fetched into the media bucket."""
    services = get_services()
    config = services.config
    rules = FetchRules(max_bytes=config.media_fetch_max_bytes, timeout_seconds=config.media_fetch_timeout_seconds,
                       overrides=config.media_fetch_overrides or {})
    try:
        refs: list[MediaRef] = import_media(urls, media_store=services.media, media_bucket=config.media_bucket,
                                            rules=rules)
    except ValidationError as exc:
        raise ApiError(400, str(exc), field=f"{field}.{exc.field}" if field else exc.field) from None
    video: str | None = None
    images: list[str] = []
    fields: dict[str, str] = {}
    for index, ref in enumerate(refs):
        seed_field = f"{field}.media_urls[{index}]" if field else f"media_urls[{index}]"
        if ref.kind == "video":
            if video is not None:
                raise ApiError(400, "a post carries at most one video", field=seed_field)
            video = ref.uri
            fields["video"] = seed_field
        else:
            fields[f"images[{len(images)}]"] = seed_field
            images.append(ref.uri)
    return video, images, fields


def own_copy(body: SeedPostIn, *, field: str = "") -> tuple[OwnCopy, dict[str, str]]:
    """The body as our own copy, checked as far as the front door can (account, platform, campaign, media);
    the rest is create_copies'. Also our field names -> the seed's, for its refusals."""
    prefix = f"{field}." if field else ""
    account_id, account = resolve_account(body.social_account_id, prefix + "social_account_id")
    check_platform(body.platform, account, prefix + "platform")
    campaign = resolve_campaign(body.campaign_id, prefix + "campaign_id")
    try:
        target = TargetSpec.model_validate({**(body.target or {}), "account_id": account_id})
    except PydanticError as exc:
        first = exc.errors()[0]
        raise ApiError(400, first.get("msg", "invalid"), field=prefix + "target." + loc_to_field(first["loc"])) from None
    video, images, media_fields = fetch_media(body.media_urls, field)
    copy = OwnCopy(campaign=campaign, caption=body.content, video=video, images=images, targets=[target],
                   publish_at=body.scheduled_time)
    fields = {"caption": prefix + "content", "hashtags": prefix + "content", "publish_at": prefix + "scheduled_time",
              "campaign": prefix + "campaign_id", "targets[0].account_id": prefix + "social_account_id",
              "targets[0]": prefix + "social_account_id", "video": prefix + "media_urls",
              **media_fields}
    return copy, fields


def seed_field(field: str | None, per_item: list[dict[str, str]]) -> str:
    """Our field name as the seed's: `targets[0].privacy_level` -> `target.privacy_level`, and in a bulk
    (`per_item` holds each item's names) `items[2].caption` -> `posts[2].content`."""
    if not field:
        return "body"
    match = re.match(r"^items\[(\d+)\]\.(.*)$", field)
    if match is None and len(per_item) != 1:
        return field  # the request's own (Idempotency-Key, items)
    index, rest = (int(match.group(1)), match.group(2)) if match else (0, field)
    fields = per_item[index] if index < len(per_item) else {}
    if rest in fields:
        return fields[rest]
    prefix = fields.get("targets[0].account_id", "social_account_id")[: -len("social_account_id")]
    if rest.startswith("targets[0]."):
        return prefix + "target." + rest[len("targets[0]."):]
    return prefix + rest


def refused(problems: list[dict], per_item: list[dict[str, str]]) -> tuple[dict, int]:
    """A CopyRefused as the seed's 400: every problem, each named by the seed's field."""
    translated = [{**p, "field": seed_field(p.get("field"), per_item)} for p in problems]
    first = translated[0]
    return {"detail": f"{len(translated)} problem(s); first: {first['field']}: {first['message']}",
            "field": first["field"], "errors": translated}, 400


# -- our post -> the seed's -------------------------------------------------------------------------

class SeedPostOut(BaseModel):
    id: int = Field(description="the post's number")
    postgate_id: str
    content_id: str = Field(description="the content item (its text and media; approval is of the item's version)")
    social_account_id: int | None
    campaign_id: int | None
    content: str | None
    scheduled_time: str | None
    platform: str
    media_urls: list[str] = Field(description="where the fetched media are kept (gs://, the approved bytes)")
    status: str = Field(description="draft | scheduled | published | failed | cancelled (module table)")
    postgate_status: str
    approved_by: str | None = None
    approved_at: str | None = None
    published_at: str | None = None
    share_url: str | None = None
    fail_reason: str | None = None
    note: str | None = None
    created_at: str | None
    updated_at: str | None


class SeedPostList(RootModel[list[SeedPostOut]]):
    """A list of posts (the total in X-Total-Count)."""


def seed_posts(posts: list[Post], contents: dict[str, ContentItem] | None = None) -> list[dict]:
    """The seed's answers for `posts` (numbers allocated for posts, accounts and campaigns seen)."""
    store = repo()
    contents = contents if contents is not None else store.contents_by_id({p.content_id for p in posts})
    accounts = store.accounts_by_id({p.account_id for p in posts})
    post_numbers = numbers("post", [p.id for p in posts])
    account_numbers = numbers("social_account", [p.account_id for p in posts if p.account_id in accounts])
    campaign_numbers = numbers("campaign", [p.campaign for p in posts if p.campaign != NO_CAMPAIGN])
    out = []
    for post in posts:
        content = contents.get(post.content_id)
        account = accounts.get(post.account_id)
        waiting = post.status == "pending_approval"
        out.append(SeedPostOut(
            id=post_numbers[post.id], postgate_id=post.id, content_id=post.content_id,
            social_account_id=account_numbers.get(post.account_id), campaign_id=campaign_numbers.get(post.campaign),
            content=content.text() if content else None, scheduled_time=seed_time(post.scheduled_at),
            platform=seed_platform(account) if account else post.platform,
            media_urls=[m.uri for m in content.media] if content else [],
            status=STATUS_OF.get(post.status, post.status), postgate_status=post.status,
            approved_by=post.approved_by, approved_at=seed_time(post.approved_at),
            published_at=seed_time(post.published_at), share_url=post.share_url, fail_reason=post.fail_reason,
            note=WAITING_NOTE if waiting else None,
            created_at=seed_time(post.created_at), updated_at=seed_time(post.updated_at)).model_dump(mode="json"))
    return out


def seed_post(post: Post) -> dict:
    return seed_posts([post])[0]

