"""Account records in Firestore `accounts/{id}`: create, read, list, change, delete.

A record names the platform, the handle people know it by, the platform's own id for it (what the
adapters publish as: TikTok open_id, IG user id, X user id, YouTube channel id, LinkedIn author
URN), optional posting caps, and the one secret holding its tokens (`<platform>-account-<id>`,
derived, never supplied). Tokens never live here.

Deleting an account that still has posts on their way is refused unless forced; forced, the posts
no publisher has claimed yet are cancelled through the state machine (with the reason recorded),
and a post a publisher holds still refuses it. The token secret is left in place for the operator
to destroy: the secret store here can add versions but not disable them, and keeping it lets an
account deleted by mistake be re-created and keep publishing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import PostgateError
from shared.model.account import Account, Limit, LimitRecord
from shared.model.platform import PLATFORMS
from shared.runtime.logging import log_event, register_secret
from shared.stores.posts import Repository
from shared.stores.protocols import SecretStore
from shared.stores.secrets import SecretNotFound

log = logging.getLogger(__name__)

# Also a Secret Manager name part (letters, digits, - and _ only), and a valid Firestore document id.
ACCOUNT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"
STATUSES = ("connected", "needs_reconnect", "not_connected")
# Posts that will reach the platform unless someone acts: an account with any of them is in use.
IN_FLIGHT = frozenset({"approved", "scheduled", "queued", "publishing", "processing"})
# A publisher holds these: cancelling is not ours to do (the post may be live in a moment).
CLAIMED = frozenset({"publishing", "processing"})
# Not yet claimed and not finished: a forced delete cancels these.
CANCELLABLE = frozenset({"draft", "pending_approval", "approved", "scheduled", "queued"})


class AccountError(PostgateError):
    """A refusal with the status an API answers it with (404 unknown, 409 state conflict)."""

    def __init__(self, status: int, message: str, *, field: str | None = None):
        super().__init__(message)
        self.status, self.field = status, field


class LimitSpec(BaseModel):
    """One posting cap, as shared/stores/posting_caps.py enforces it (a `Limit`)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9_]+$", description="e.g. posts_per_day")
    max_count: int = Field(ge=1, le=100_000, description="at most this many posts ...")
    window_seconds: int = Field(ge=1, le=31 * 86400, description="... per this many seconds (sliding)")

    def to_limit(self) -> Limit:
        return Limit(self.name, self.max_count, self.window_seconds)


def secret_name_for(platform: str, account_id: str) -> str:
    return f"{platform}-account-{account_id}"


def _limits_doc(limits: list[LimitSpec]) -> list[LimitRecord]:
    names = [spec.name for spec in limits]
    if len(names) != len(set(names)):
        raise AccountError(400, "each limit name may appear once", field="limits")
    return [LimitRecord(name=spec.name, max_count=spec.max_count, window_seconds=spec.window_seconds)
            for spec in limits]


def create_account(repo: Repository, *, account_id: str, platform: str, handle: str, platform_account_id: str | None,
                   limits: list[LimitSpec] | None, now: datetime, by: str, dry_run: bool = False,
                   route: Account | None = None) -> Account:
    """A new account, not connected yet (POST /accounts/{id}/connect gets its tokens). 409 if the id is taken.
    `dry_run`: its posts stop before any platform call (shared/publishing/publisher.py; the smoke check's).
    `route`: the fields of a routed account (a Buffer channel: shared/accounts/buffer_configs.route_fields,
    its secret the configuration's, its status as the channel is)."""
    if platform not in PLATFORMS:
        raise AccountError(400, f"platform must be one of {', '.join(PLATFORMS)}", field="platform")
    doc: Account = {"platform": platform, "handle": handle, "secret_name": secret_name_for(platform, account_id),
           "status": "not_connected", "created_at": now, "updated_at": now, "created_by": by}
    doc.update(route or {})
    if platform_account_id:
        doc["platform_account_id"] = platform_account_id
    if limits:
        doc["limits"] = _limits_doc(limits)
    if dry_run:
        doc["dry_run"] = True
    if not repo.create_account(account_id, doc):  # atomic: two creators of one id cannot both win
        raise AccountError(409, f"account {account_id!r} already exists", field="id")
    log_event(log, logging.INFO, "account created", account_id=account_id, platform=platform, by=by, dry_run=dry_run)
    return doc


def store_access_token(repo: Repository, secrets: SecretStore, account_id: str, access_token: str, *, now: datetime,
                       by: str) -> Account:
    """An access token a person pasted (no OAuth consent here): a new version of the account's token
    secret, `{"access_token": ...}` as connect stores tokens, and the account connected by hand (a
    token with no refresh token: when the platform refuses it the account needs reconnecting)."""
    register_secret(access_token)
    account = require_account(repo, account_id)
    secret_name = str(account.get("secret_name") or secret_name_for(str(account.get("platform")), account_id))
    try:
        secrets.add_version(secret_name, json.dumps({"access_token": access_token}))
    except SecretNotFound:
        raise AccountError(409, f"the secret {secret_name!r} for this account's token does not exist: create it "
                                "(Terraform `accounts`) and send the token again", field="access_token") from None
    repo.update_account(account_id, {"status": "connected", "status_at": now, "connected_at": now, "connected_by": by,
                                     "updated_at": now, "secret_name": secret_name}, remove=("status_reason",))
    log_event(log, logging.INFO, "account token stored", account_id=account_id, by=by)
    return require_account(repo, account_id)


def require_account(repo: Repository, account_id: str) -> Account:
    account = repo.get_account(account_id)
    if account is None:
        raise AccountError(404, f"no account {account_id!r}")
    return account


def list_accounts(repo: Repository, *, platform: str | None, skip: int,
                  limit: int) -> tuple[list[tuple[str, Account]], int]:
    """(page of (id, record) ordered by id, total). Accounts are tens, not thousands: one read."""
    rows = sorted(repo.accounts(platform), key=lambda row: row[0])
    return rows[skip:skip + limit], len(rows)


def update_account(repo: Repository, account_id: str, *, handle: str | None, limits: list[LimitSpec] | None,
                   now: datetime, by: str) -> Account:
    """Change the handle and/or the caps; `limits=[]` goes back to the platform's defaults."""
    require_account(repo, account_id)
    changes: dict[str, object] = {"updated_at": now}
    removed: list[str] = []
    if handle is not None:
        changes["handle"] = handle
    if limits is not None:
        if limits:
            changes["limits"] = _limits_doc(limits)
        else:
            removed.append("limits")
    repo.update_account(account_id, changes, remove=removed)
    log_event(log, logging.INFO, "account updated", account_id=account_id, by=by,
              fields=",".join(sorted(k for k in [*changes, *removed] if k != "updated_at")))
    return require_account(repo, account_id)


@dataclass(frozen=True)
class Deleted:
    account_id: str
    secret_name: str
    cancelled_posts: list[str]


def delete_account(repo: Repository, account_id: str, *, force: bool, by: str) -> Deleted:
    """Refuse (409) while posts are on their way, unless `force`: then cancel the unclaimed ones;
    a post a publisher has claimed refuses even a forced delete."""
    account = require_account(repo, account_id)
    posts = repo.posts_of_account(account_id)
    claimed = sorted(p.id for p in posts if p.status in CLAIMED)
    if claimed:
        raise AccountError(409, f"account {account_id!r} has posts a publisher is working on ({', '.join(claimed[:5])}); "
                                "wait until they are published or failed")
    in_flight = sorted(p.id for p in posts if p.status in IN_FLIGHT)
    if in_flight and not force:
        raise AccountError(409, f"account {account_id!r} has {len(in_flight)} post(s) approved, scheduled or queued "
                                f"({', '.join(in_flight[:5])}); cancel them or delete with force=true")
    cancelled: list[str] = []
    if force:
        reason = f"account {account_id} deleted by {by}"
        for post in sorted((p for p in posts if p.status in CANCELLABLE), key=lambda p: p.id):
            moved = repo.move_post(post.id, set(CANCELLABLE), "cancelled", reason=reason)
            if moved is None:  # claimed (or finished) since we looked
                current = repo.get_post(post.id)
                if current is not None and current.status in CLAIMED:
                    raise AccountError(409, f"post {post.id} was claimed by a publisher while deleting; "
                                            f"{len(cancelled)} post(s) were cancelled, the account was kept")
                continue
            cancelled.append(post.id)
    repo.delete_account_record(account_id)
    log_event(log, logging.INFO, "account deleted", account_id=account_id, by=by, forced=force,
              cancelled_posts=len(cancelled), secret_left_for_operator=account.get("secret_name"))
    return Deleted(account_id, str(account.get("secret_name") or ""), cancelled)


def effective_status(account: Account) -> str:
    """Records written before accounts had a status were connected by hand (tokens pasted in)."""
    status = account.get("status") or "connected"
    return status if status in STATUSES else "connected"
