"""The review of a content item behind an approval link: what each target platform will carry,
previews of the exact media, and both buttons' tokens. Read-only: never records a decision.

Returns a Review (shared/approval/pages.py renders it) or raises the refusal that says why there
is nothing to review. The cards and media previews are built here for the console's approval queue
too (target_cards, media_previews): one description of what a post will look like, two front doors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from shared.approval import pages
from shared.approval.checks import ReviewEnv, check_decidable, check_media, check_platforms, token_used
from shared.approval.links import page_tokens, verify_link
from shared.approval.tokens import LinkClaims
from shared.model.account import Account
from shared.model.content import ContentItem, MediaRef
from shared.model.disclosure import review_line
from shared.model.platform import account_platform_name, display_name
from shared.platforms.registry import adapter_for
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_context
from shared.stores.posts import Repository

if TYPE_CHECKING:  # annotations only
    from shared.runtime.config import Config
    from shared.stores.protocols import MediaStore

# Previews are fetched while the page is open; a short life keeps a forwarded page from leaking media.
PREVIEW_URL_TTL_SECONDS = 1800


@dataclass(frozen=True)
class Review:
    """Everything the review page shows: the item, a card per target, media previews, and the
    approve and reject tokens (one of them the link's own)."""

    content: ContentItem
    claims: LinkClaims
    cards: list[dict]
    previews: list[dict]
    approve_token: str
    reject_token: str


def review(repo: Repository, signing_key: str, token: str, env: ReviewEnv, *, may_reask: bool = True,
           now: datetime | None = None) -> Review:
    """The review of the item `token` is for. With `may_reask` (the page's own POST, not a bare
    GET a mail scanner could make), approved-media changes send the new version to the approver."""
    claims = verify_link(signing_key, token, now or utcnow())
    with log_context(correlation_id=claims.content_id):
        content = check_decidable(claims, repo.get_content(claims.content_id),
                                  used=token_used(repo, claims.token_id))
        check_media(repo, content, env, may_reask=may_reask)
        if claims.action == "approve":
            check_platforms(repo, content)
        tokens = page_tokens(signing_key, token, claims)
        previews = media_previews(content, lambda _, media: preview_url(media, env.media_store, env.config))
        return Review(content=content, claims=claims, cards=target_cards(repo, content), previews=previews,
                      approve_token=tokens["approve"], reject_token=tokens["reject"])


def target_cards(repo: Repository, content: ContentItem, accounts: Mapping[str, Account | None] | None = None) -> list[dict]:
    """Per target, what that platform will carry, built by its adapter from what publish sends. The
    targets' accounts are read unless given (the console's composer and queue have them already)."""
    position = {id(m): i for i, m in enumerate(content.media)}
    labels = _media_labels(content)
    cards = []
    for target in content.targets:
        account = (accounts.get(target.account_id) if accounts is not None else repo.get_account(target.account_id)) or {}
        platform = account.get("platform", "?")
        card = adapter_for(platform).preview(content, target, account)
        handle = account.get("handle")
        # The media this target carries decides the disclosure, as at publish (shared/model/disclosure.py).
        disclosure = ("AI-generated media", review_line(platform, display_name(platform), card.media,
                                                            unavailable=card.ai_field_unavailable))
        cards.append({
            "platform": platform, "platform_name": account_platform_name(platform, account.get("buffer_service")),
            "account_id": target.account_id,
            "handle": f"@{str(handle).lstrip('@')}" if handle else target.account_id,
            "text": card.text, "text_label": card.text_label, "fields": [*card.fields, disclosure],
            "media": ", ".join(labels[position[id(m)]] for m in card.media if id(m) in position),
        })
    return cards


def _media_labels(content: ContentItem) -> list[str]:
    counts: dict[str, int] = {}
    labels = []
    for media in content.media:
        counts[media.kind] = counts.get(media.kind, 0) + 1
        labels.append(f"{media.kind.capitalize()} {counts[media.kind]}")
    return labels


def media_previews(content: ContentItem, url_of: Callable[[int, MediaRef], str]) -> list[dict]:
    """What the page shows of each media file under review; `url_of(index, media)` is where the
    browser loads it from (a signed URL of exactly that generation, or a page that redirects to one)."""
    return [{"kind": media.kind, "url": url_of(index, media), "label": label, "name": media.name.rsplit("/", 1)[-1],
             "size": pages.size_text(media.size), "content_type": media.content_type}
            for index, (label, media) in enumerate(zip(_media_labels(content), content.media))]


def preview_url(media: MediaRef, media_store: MediaStore, config: Config) -> str:
    """A short-lived signed URL of exactly this generation, for a browser to show."""
    return media_store.signed_url(media, ttl_seconds=PREVIEW_URL_TTL_SECONDS, endpoint=config.signed_url_endpoint,
                                  key_file=config.url_signing_key_file)
