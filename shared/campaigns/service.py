"""Create, read, change and delete campaigns; list a campaign's posts.

A post's `campaign` field holds the campaign id. Posts may name a campaign that was never created
here (briefs predate this resource): its posts are still listed, and only an id with neither a
document nor posts is unknown.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from shared.errors import PostgateError, ValidationError
from shared.model.campaign import Campaign, slug_of
from shared.model.post import Post
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_event
from shared.stores.posts import POSTS, Repository, run_with_contention_retry

log = logging.getLogger(__name__)
CAMPAIGNS = "campaigns"
# A campaign with posts on their way out can't be deleted: they would go out naming nothing.
BLOCKING_POST_STATUSES = ("approved", "scheduled", "queued", "publishing", "processing")
_DATE_FIELDS = ("starts_on", "ends_on")


class CampaignNotFound(PostgateError):
    pass


class CampaignExists(PostgateError):
    pass


class CampaignInUse(PostgateError):
    pass


def _to_doc(campaign: Campaign) -> dict:
    """Firestore stores datetimes, not dates: the days go in as ISO strings ("2025-03-01")."""
    doc = campaign.model_dump(mode="python")
    for name in _DATE_FIELDS:
        doc[name] = doc[name].isoformat() if doc[name] else None
    return doc


def _of_doc(data: dict) -> Campaign:
    return Campaign.model_validate(data)


def _check_dates(starts_on: date | None, ends_on: date | None) -> None:
    if starts_on and ends_on and ends_on < starts_on:
        raise ValidationError(f"ends_on {ends_on.isoformat()} is before starts_on {starts_on.isoformat()}",
                              field="ends_on", limit="on or after starts_on")


def _ref(repo: Repository, campaign_id: str):
    return repo.db.collection(CAMPAIGNS).document(campaign_id)


def create_campaign(repo: Repository, *, name: str, created_by: str, campaign_id: str | None = None,
                    description: str | None = None, status: str = "planned", starts_on: date | None = None,
                    ends_on: date | None = None, now: datetime | None = None) -> Campaign:
    """Store a new campaign (id as given, else a slug of the name). CampaignExists if the id is taken."""
    from google.api_core.exceptions import AlreadyExists

    campaign_id = campaign_id or slug_of(name)
    if not campaign_id:
        raise ValidationError("the name has no letters or digits to make an id from; give an id", field="id",
                              limit="letters, digits, '.', '_' or '-'")
    _check_dates(starts_on, ends_on)
    now = now or utcnow()
    campaign = Campaign(id=campaign_id, name=name, description=description, status=status, starts_on=starts_on,
                        ends_on=ends_on, created_by=created_by, created_at=now, updated_at=now)
    try:
        _ref(repo, campaign_id).create(_to_doc(campaign))
    except AlreadyExists:
        raise CampaignExists(f"campaign {campaign_id!r} already exists") from None
    log_event(log, logging.INFO, "campaign created", correlation_id=campaign_id, created_by=created_by)
    return campaign


def get_campaign(repo: Repository, campaign_id: str) -> Campaign | None:
    snap = _ref(repo, campaign_id).get()
    return _of_doc(snap.to_dict()) if snap.exists else None


def _count(query) -> int:
    [[result]] = query.count().get()
    return int(result.value)


def list_campaigns(repo: Repository, *, status: str | None, skip: int, limit: int) -> tuple[list[Campaign], int]:
    """A page of campaigns in id order, and how many there are in all."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = repo.db.collection(CAMPAIGNS)
    if status:
        query = query.where(filter=FieldFilter("status", "==", status))
    page = query.order_by("__name__").offset(skip).limit(limit).get()
    return [_of_doc(d.to_dict()) for d in page], _count(query)


def update_campaign(repo: Repository, campaign_id: str, changes: dict, *, now: datetime | None = None) -> Campaign:
    """Apply `changes` (fields of Campaign a person may set) in a transaction; dates are checked
    together with the stored ones. CampaignNotFound if there is no such campaign."""
    from google.cloud import firestore

    ref = _ref(repo, campaign_id)

    @firestore.transactional
    def _run(transaction) -> Campaign:
        snap = ref.get(transaction=transaction)
        if not snap.exists:
            raise CampaignNotFound(campaign_id)
        current = _of_doc(snap.to_dict())
        updated = Campaign.model_validate({**current.model_dump(), **changes, "updated_at": now or utcnow()})
        _check_dates(updated.starts_on, updated.ends_on)
        transaction.set(ref, _to_doc(updated))
        return updated

    updated = run_with_contention_retry(lambda: _run(repo.db.transaction()))
    log_event(log, logging.INFO, "campaign changed", correlation_id=campaign_id, fields=sorted(changes))
    return updated


def _posts_query(repo: Repository, campaign_id: str):
    from google.cloud.firestore_v1.base_query import FieldFilter

    return repo.db.collection(POSTS).where(filter=FieldFilter("campaign", "==", campaign_id))


def delete_campaign(repo: Repository, campaign_id: str) -> None:
    """Delete, unless posts of it are approved and on their way (CampaignInUse names one)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    ref = _ref(repo, campaign_id)
    if not ref.get().exists:
        raise CampaignNotFound(campaign_id)
    blocking = (_posts_query(repo, campaign_id)
                .where(filter=FieldFilter("status", "in", list(BLOCKING_POST_STATUSES))).limit(1).get())
    if blocking:
        post = blocking[0].to_dict()
        raise CampaignInUse(f"campaign {campaign_id!r} has posts on their way (e.g. {post['id']} is {post['status']}); "
                            "cancel them or let them publish first")
    ref.delete()
    log_event(log, logging.INFO, "campaign deleted", correlation_id=campaign_id)


def campaign_posts(repo: Repository, campaign_id: str, *, skip: int, limit: int) -> tuple[list[Post], int]:
    """A page of the posts naming this campaign (in post id order, so a content item's posts sit
    together) and their total. CampaignNotFound when there is neither a campaign nor any post."""
    query = _posts_query(repo, campaign_id)
    total = _count(query)
    if total == 0 and get_campaign(repo, campaign_id) is None:
        raise CampaignNotFound(campaign_id)
    page = query.order_by("__name__").offset(skip).limit(limit).get()
    return [Post.model_validate(d.to_dict()) for d in page], total
