"""Firestore access for campaigns (`campaigns/{id}`) and the posts that name one (a post's `campaign`
field). What a campaign may be and when it may go is shared/campaigns/service.py's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from shared.model.campaign import Campaign
from shared.model.post import Post
from shared.stores.posts import POSTS, Repository, run_with_contention_retry

if TYPE_CHECKING:
    from google.cloud import firestore

CAMPAIGNS = "campaigns"
_DATE_FIELDS = ("starts_on", "ends_on")


def _to_doc(campaign: Campaign) -> dict[str, Any]:
    """Firestore stores datetimes, not dates: the days go in as ISO strings ("2025-03-01")."""
    doc = campaign.model_dump(mode="python")
    for name in _DATE_FIELDS:
        value: date | None = doc[name]
        doc[name] = value.isoformat() if value else None
    return doc


def _of_doc(data: dict[str, Any] | None) -> Campaign:
    return Campaign.model_validate(data)


def _ref(repo: Repository, campaign_id: str) -> firestore.DocumentReference:
    return repo.db.collection(CAMPAIGNS).document(campaign_id)


def _count(query: firestore.CollectionReference | firestore.Query) -> int:
    # google-cloud-firestore's stubs type AggregationQuery.get as unbound and its result as one row
    [[result]] = query.count().get()  # type: ignore[call-arg, misc]
    return int(result.value)


def create_campaign(repo: Repository, campaign: Campaign) -> bool:
    """False if the id is taken (atomic: two creators cannot both win)."""
    from google.api_core.exceptions import AlreadyExists

    try:
        _ref(repo, campaign.id).create(_to_doc(campaign))
    except AlreadyExists:
        return False
    return True


def get_campaign(repo: Repository, campaign_id: str) -> Campaign | None:
    snap = _ref(repo, campaign_id).get()
    return _of_doc(snap.to_dict()) if snap.exists else None


def campaign_exists(repo: Repository, campaign_id: str) -> bool:
    return bool(_ref(repo, campaign_id).get().exists)


def page_campaigns(repo: Repository, *, status: str | None, skip: int, limit: int) -> tuple[list[Campaign], int]:
    """A page of campaigns in id order, and how many there are in all."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query: firestore.CollectionReference | firestore.Query = repo.db.collection(CAMPAIGNS)
    if status:
        query = query.where(filter=FieldFilter("status", "==", status))
    page = query.order_by("__name__").offset(skip).limit(limit).get()
    return [_of_doc(d.to_dict()) for d in page], _count(query)


def change_campaign(repo: Repository, campaign_id: str, change: Callable[[Campaign], Campaign]) -> Campaign | None:
    """Write `change(current)` in a transaction (it may raise to refuse; Firestore may call it again
    on contention). None if there is no such campaign."""
    from google.cloud import firestore

    ref = _ref(repo, campaign_id)

    @firestore.transactional
    def _run(transaction) -> Campaign | None:
        snap = ref.get(transaction=transaction)
        if not snap.exists:
            return None
        updated = change(_of_doc(snap.to_dict()))
        transaction.set(ref, _to_doc(updated))
        return updated

    return run_with_contention_retry(lambda: _run(repo.db.transaction()))


def delete_campaign(repo: Repository, campaign_id: str) -> None:
    _ref(repo, campaign_id).delete()


def _posts_query(repo: Repository, campaign_id: str) -> firestore.Query:
    from google.cloud.firestore_v1.base_query import FieldFilter

    return repo.db.collection(POSTS).where(filter=FieldFilter("campaign", "==", campaign_id))


def campaign_post_in(repo: Repository, campaign_id: str, statuses: tuple[str, ...]) -> dict[str, Any] | None:
    """One post of the campaign in any of `statuses` (its stored fields), None if there is none."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    found = _posts_query(repo, campaign_id).where(filter=FieldFilter("status", "in", list(statuses))).limit(1).get()
    return found[0].to_dict() if found else None


def count_campaign_posts(repo: Repository, campaign_id: str) -> int:
    return _count(_posts_query(repo, campaign_id))


def page_campaign_posts(repo: Repository, campaign_id: str, *, skip: int, limit: int) -> list[Post]:
    """The campaign's posts in post id order (a content item's posts sit together)."""
    page = _posts_query(repo, campaign_id).order_by("__name__").offset(skip).limit(limit).get()
    return [Post.model_validate(d.to_dict()) for d in page]
