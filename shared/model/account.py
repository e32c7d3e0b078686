"""An account record: Firestore `accounts/{id}`, the platform account posts go to.

A `TypedDict`, not a class: the record is a Firestore document that several writers change field by
field (create and update, OAuth connect with whatever identity the platform answers, the
needs-reconnect mark, TikTok's creator and audit fields), and readers use `.get` on fields that older
records lack. A class would have to round-trip fields it does not know and would change what is
stored; the TypedDict keeps every record as it is and gives the type checker the field names.
Tokens never live here: `secret_name` names the secret that holds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypedDict, cast

AccountStatus = Literal["connected", "needs_reconnect", "not_connected"]


@dataclass(frozen=True)
class Limit:
    """At most `max_count` posts per `window_seconds` (sliding) for one account: a platform's default
    (its adapter's DEFAULT_LIMITS) or the account's own (`limits`), enforced by
    shared/stores/posting_caps.py."""

    name: str
    max_count: int
    window_seconds: int


class LimitRecord(TypedDict):
    """One posting cap as stored on the account (read back as a `Limit`)."""

    name: str
    max_count: int
    window_seconds: int


BufferPlan = Literal["free", "essentials", "team"]
# A Buffer configuration's API key lives in the secret `buffer-config-<config id>` as {"access_token": key};
# every account of a channel it reaches names that secret (its `secret_name`).
BUFFER_CONFIG_SECRET_PREFIX = "buffer-config-"


def buffer_config_secret_name(config_id: str) -> str:
    return f"{BUFFER_CONFIG_SECRET_PREFIX}{config_id}"


class Account(TypedDict, total=False):
    platform: str  # a shared.model.platform.Platform
    handle: str  # the name people know it by
    # what adapters publish as: TikTok open_id, IG user id, X user id, channel id, author URN, Buffer channel id
    platform_account_id: str
    platform_name: str  # the platform's display name for it, from connect
    secret_name: str  # the secret holding its tokens (`<platform>-account-<id>`)
    status: str  # an AccountStatus; records from before statuses have none (connected by hand)
    status_reason: str
    status_at: datetime
    limits: list[LimitRecord]  # posting caps; absent: the platform's defaults
    dry_run: bool  # its posts stop before any platform call (the smoke check's accounts)
    created_at: datetime
    created_by: str
    updated_at: datetime
    connected_at: datetime
    connected_by: str | None
    person_urn: str  # LinkedIn: the member who administers an organization account
    quota_project: str  # YouTube: the Google Cloud project whose API quota it spends
    tiktok_creator: dict[str, Any]  # creator_info at the latest publish (platforms/tiktok/account_state.py)
    tiktok_unaudited_app: dict[str, Any]  # {at, message}: TikTok refused the app as unaudited
    # Buffer (platform "buffer"): platform_account_id is the Buffer channel id (the seed API's buffer_profile_id)
    # and secret_name the Buffer configuration's secret (`buffer-config-<config id>`, {"access_token": key}).
    buffer_service: str  # the network behind the channel, as Buffer names it: twitter, instagram, linkedin, ...
    buffer_organization_id: str  # the Buffer organization the channel belongs to
    buffer_config_id: str  # the Buffer configuration whose API key posts to it
    buffer_plan: str  # a BufferPlan: the organization's plan, which sets the request limits (caps)


def account_of(record: dict[str, Any] | None) -> Account | None:
    """A Firestore document's fields as an Account (the same dict)."""
    return cast("Account | None", record)  # the document is the record: nothing is converted
