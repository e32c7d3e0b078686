"""The approval queue: content items waiting for approval, oldest first, all of them or one campaign's
or one account's, and how many wait in all. The console's queue page shows them (deciding goes through
shared/approval/decision.py like any other decision).

Reads by design: one query of at most `limit` content items; filtered by account, one query of at most
`limit` of that account's waiting posts (one per item) and one get_all of their items instead. The
count is one aggregation (a read per 1000 items counted).
"""

from __future__ import annotations

from shared.model.content import ContentItem
from shared.stores.posts import Repository

WAITING = "pending_approval"


def waiting_items(repo: Repository, *, limit: int, campaign: str | None = None,
                  account: str | None = None) -> list[ContentItem]:
    """Items waiting for approval, oldest first, at most `limit`; only `campaign`'s and only those
    with a post for `account` waiting, when named."""
    if account is None:
        return repo.contents_with_status(WAITING, limit, campaign=campaign)
    posts = repo.oldest_posts(_post_filter(campaign, account), limit)
    found = repo.contents_by_id([post.content_id for post in posts])
    # An item decided between the two reads is not waiting any more.
    return [found[p.content_id] for p in posts if p.content_id in found and found[p.content_id].status == WAITING]


def count_waiting(repo: Repository, *, campaign: str | None = None, account: str | None = None) -> int:
    """How many items `waiting_items` would list without a limit."""
    if account is None:
        return repo.count_contents(WAITING, campaign=campaign)
    return repo.count_posts(_post_filter(campaign, account))


def _post_filter(campaign: str | None, account: str) -> dict[str, str]:
    # A post carries its item's campaign, and each item has one post per account.
    equals = {"status": WAITING, "account_id": account}
    if campaign is not None:
        equals["campaign"] = campaign
    return equals
