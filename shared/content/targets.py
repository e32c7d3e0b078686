"""Where a new content item goes and what it carries, checked the same way for AI drafts and own
copy: the target accounts looked up, each media object in the media bucket and readable, each
target platform's rules; and the posts it makes, one per target."""

from __future__ import annotations

from collections.abc import Mapping

from shared.errors import ValidationError
from shared.model.account import Account
from shared.model.content import ContentItem, MediaRef
from shared.model.post import Post, post_id_for
from shared.platforms.registry import adapter_for
from shared.stores.media import parse_gs_uri
from shared.stores.posts import Repository
from shared.stores.protocols import MediaStore


def _require_media_bucket(uri: str, field: str, media_bucket: str) -> None:
    bucket, _ = parse_gs_uri(uri)
    if bucket != media_bucket:
        raise ValidationError(f"{field} is in bucket {bucket!r}; media must be in the media bucket", field=field,
                              limit=f"gs://{media_bucket}/...")


def account_or_none(repo: Repository, account_id: str) -> Account | None:
    """The account, or None, also for an id no Firestore document can have ("a/b", "..", "__x__"):
    such a target is an unknown account to its author, not a server error."""
    if ("/" in account_id or account_id in (".", "..") or (account_id.startswith("__") and account_id.endswith("__"))
            or len(account_id.encode("utf-8")) > 1500):
        return None
    return repo.get_account(account_id)


def validate_for_targets(content: ContentItem, accounts: Mapping[str, Account | None]) -> None:
    """Each target's platform rules, before anyone is asked to approve (a person never approves a refusal).
    Raises ValidationError naming the target, the field and the limit."""
    for target in content.targets:
        account = accounts.get(target.account_id)
        if account is None:
            raise ValidationError(f"unknown account {target.account_id!r}", field="targets.account_id",
                                  limit="an account registered in Firestore `accounts`")
        try:
            adapter_for(account.get("platform", "")).validate(content, target, account)
        except ValidationError as exc:
            raise ValidationError(f"{account.get('platform')} account {target.account_id}: {exc}",
                                  field=exc.field, limit=exc.limit) from None


def posts_for(content: ContentItem, accounts: dict[str, Account]) -> list[Post]:
    """One post per target, awaiting approval. `scheduled_at` carries the planned time from the
    start, so lists and the calendar show a post on its day before it is approved."""
    return [
        Post(id=post_id_for(content.id, t.account_id), content_id=content.id, account_id=t.account_id,
             platform=accounts[t.account_id]["platform"], campaign=content.campaign, status="pending_approval",
             content_hash=content.content_hash, target=t, scheduled_at=content.publish_at,
             created_at=content.created_at, updated_at=content.updated_at)
        for t in content.targets
    ]


def describe_media(uri: str, kind: str, field: str, media_store: MediaStore, media_bucket: str) -> MediaRef:
    """The object at `uri` with its live generation; ValidationError naming `field` when it is outside
    the media bucket, missing or unreadable."""
    from google.api_core.exceptions import GoogleAPICallError

    _require_media_bucket(uri, field, media_bucket)
    try:
        return media_store.describe(uri, kind, field=field)
    except GoogleAPICallError as exc:  # e.g. an object name Cloud Storage refuses
        raise ValidationError(f"{uri} can't be read: {exc.message}", field=field,
                              limit="an existing Cloud Storage object") from None
