"""What TikTok told us about an account, kept on its Firestore `accounts` document so validation, the
review page and the API can say it before anyone approves (they make no platform call).

- `tiktok_unaudited_app` {at, message}: TikTok refused a post with
  `unaudited_client_can_only_post_to_private_accounts`: the app has not passed TikTok's audit, so it
  may only post SELF_ONLY to a private account
  [https://developers.tiktok.com/doc/content-posting-api-reference-direct-post, error codes]. Set on the
  first such refusal; an operator removes the field once TikTok has audited the app.
- `tiktok_creator` {username, nickname, privacy_level_options, checked_at}: the creator's answer to
  creator_info/query at its latest publish; privacy_level must be one of those options
  [https://developers.tiktok.com/doc/content-posting-api-reference-query-creator-info].
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final

from shared.errors import PermanentError, ValidationError
from shared.model.account import Account
from shared.platforms.base import PublishContext
from shared.platforms.tiktok.client import CreatorInfo
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_event
from shared.stores.posts import Repository

log = logging.getLogger(__name__)

UNAUDITED_CODE = "unaudited_client_can_only_post_to_private_accounts"
UNAUDITED_FIELD: Final = "tiktok_unaudited_app"
CREATOR_FIELD: Final = "tiktok_creator"
FAIL_CLASS = "unaudited_app"


def unaudited(account: Account | None) -> dict | None:
    """{at, message} when TikTok refused this account's post because the app is unaudited."""
    flag = (account or {}).get(UNAUDITED_FIELD)
    return flag if isinstance(flag, dict) else None


def offered_privacy_levels(account: Account | None) -> list[str] | None:
    """The creator's privacy_level_options at its latest creator_info (None: never asked yet)."""
    creator = (account or {}).get(CREATOR_FIELD)
    options = creator.get("privacy_level_options") if isinstance(creator, dict) else None
    return [str(o) for o in options] if isinstance(options, list) else None


def check_privacy(privacy_level: str | None, account: Account | None) -> None:
    """What the account's record allows, before approval (no platform call): one of the creator's
    offered levels, and SELF_ONLY only once TikTok refused the app as unaudited. Video and photo
    posts alike (the photo post reference defers to creator_info and the same error codes)."""
    offered = offered_privacy_levels(account)
    if offered is not None and privacy_level not in offered:
        raise ValidationError(f"privacy level {privacy_level!r} is not one this TikTok creator offers "
                              f"(creator_info: {', '.join(offered) or 'none'})", field="targets.privacy_level",
                              limit="one of the creator's privacy_level_options: " + ", ".join(offered))
    if unaudited(account) and privacy_level != "SELF_ONLY":
        raise ValidationError("TikTok has not audited this app yet, so it may only post SELF_ONLY (\"Only me\") to a "
                              "private account", field="targets.privacy_level",
                              limit="SELF_ONLY until TikTok audits the app")


class UnauditedApp(PermanentError):
    """TikTok refused the post because the app has not passed its audit: never retried."""

    fail_class = FAIL_CLASS


def refused_unaudited(ctx: PublishContext, exc: PermanentError) -> None:
    """A publish TikTok refused with UNAUDITED_CODE (video or photo init): flag the account once so
    approvers see it, and fail the post with its own class. `ctx`: the PublishContext."""
    message = str(exc)
    if ctx.repo is not None and not unaudited(ctx.account):
        mark_unaudited(ctx.repo, ctx.post.account_id, message)
    raise UnauditedApp(f"{message} (TikTok has not audited this app: it may only post SELF_ONLY to a private "
                       f"account; the account is flagged so approvers see it)",
                       platform_code=exc.platform_code) from None


def mark_unaudited(repo: Repository, account_id: str, message: str, now: datetime | None = None) -> None:
    repo.merge_into_account(account_id, {UNAUDITED_FIELD: {"at": now or utcnow(), "message": message}})
    # One ERROR line a person acts on: the app needs TikTok's audit (or SELF_ONLY posts to a private account).
    log_event(log, logging.ERROR, "tiktok app not audited: only SELF_ONLY posts to private accounts",
              account_id=account_id, reason=message)


def remember_creator(repo: Repository, account_id: str, account: Account, creator: CreatorInfo, now: datetime | None = None) -> None:
    """Keep the creator's options for the review page and validation; written only when they changed."""
    known = account.get(CREATOR_FIELD)
    if not isinstance(known, dict):
        known = {}
    fresh = {"username": creator.username, "nickname": creator.nickname,
             "privacy_level_options": list(creator.privacy_level_options)}
    if {k: known.get(k) for k in fresh} == fresh:
        return
    repo.merge_into_account(account_id, {CREATOR_FIELD: {**fresh, "checked_at": now or utcnow()}})
