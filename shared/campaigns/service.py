"""Create, read, change and delete campaigns; list a campaign's posts.

A post's `campaign` field holds the campaign id. Posts may name a campaign that was never created
here (briefs predate this resource): its posts are still listed, and only an id with neither a
document nor posts is unknown. Storage is shared/stores/campaigns.py.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from shared.errors import PostgateError, ValidationError
from shared.model.campaign import Campaign, slug_of
from shared.model.post import Post
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_event
from shared.stores import campaigns as stored
from shared.stores.posts import Repository

log = logging.getLogger(__name__)
# A campaign with posts on their way out can't be deleted: they would go out naming nothing.
BLOCKING_POST_STATUSES = ("approved", "scheduled", "queued", "publishing", "processing")


class CampaignNotFound(PostgateError):
    pass


class CampaignExists(PostgateError):
    pass


class CampaignInUse(PostgateError):
    pass


def _check_dates(starts_on: date | None, ends_on: date | None) -> None:
    if starts_on and ends_on and ends_on < starts_on:
        raise ValidationError(f"ends_on {ends_on.isoformat()} is before starts_on {starts_on.isoformat()}",
                              field="ends_on", limit="on or after starts_on")


def create_campaign(repo: Repository, *, name: str, created_by: str, campaign_id: str | None = None,
                    description: str | None = None, status: str = "planned", starts_on: date | None = None,
                    ends_on: date | None = None, now: datetime | None = None) -> Campaign:
    """Store a new campaign (id as given, else a slug of the name). CampaignExists if the id is taken."""
    campaign_id = campaign_id or slug_of(name)
    if not campaign_id:
        raise ValidationError("the name has no letters or digits to make an id from; give an id", field="id",
                              limit="letters, digits, '.', '_' or '-'")
    _check_dates(starts_on, ends_on)
    now = now or utcnow()
    campaign = Campaign(id=campaign_id, name=name, description=description, status=status, starts_on=starts_on,
                        ends_on=ends_on, created_by=created_by, created_at=now, updated_at=now)
    if not stored.create_campaign(repo, campaign):
        raise CampaignExists(f"campaign {campaign_id!r} already exists")
    log_event(log, logging.INFO, "campaign created", correlation_id=campaign_id, created_by=created_by)
    return campaign


def get_campaign(repo: Repository, campaign_id: str) -> Campaign | None:
    return stored.get_campaign(repo, campaign_id)


def list_campaigns(repo: Repository, *, status: str | None, skip: int, limit: int) -> tuple[list[Campaign], int]:
    """A page of campaigns in id order, and how many there are in all."""
    return stored.page_campaigns(repo, status=status, skip=skip, limit=limit)


def update_campaign(repo: Repository, campaign_id: str, changes: dict[str, Any], *,
                    now: datetime | None = None) -> Campaign:
    """Apply `changes` (fields of Campaign a person may set) in a transaction; dates are checked
    together with the stored ones. CampaignNotFound if there is no such campaign."""

    def change(current: Campaign) -> Campaign:
        updated = Campaign.model_validate({**current.model_dump(), **changes, "updated_at": now or utcnow()})
        _check_dates(updated.starts_on, updated.ends_on)
        return updated

    updated = stored.change_campaign(repo, campaign_id, change)
    if updated is None:
        raise CampaignNotFound(campaign_id)
    log_event(log, logging.INFO, "campaign changed", correlation_id=campaign_id, fields=sorted(changes))
    return updated


def delete_campaign(repo: Repository, campaign_id: str) -> None:
    """Delete, unless posts of it are approved and on their way (CampaignInUse names one)."""
    if not stored.campaign_exists(repo, campaign_id):
        raise CampaignNotFound(campaign_id)
    post = stored.campaign_post_in(repo, campaign_id, BLOCKING_POST_STATUSES)
    if post is not None:
        raise CampaignInUse(f"campaign {campaign_id!r} has posts on their way (e.g. {post['id']} is {post['status']}); "
                            "cancel them or let them publish first")
    stored.delete_campaign(repo, campaign_id)
    log_event(log, logging.INFO, "campaign deleted", correlation_id=campaign_id)


def campaign_posts(repo: Repository, campaign_id: str, *, skip: int, limit: int) -> tuple[list[Post], int]:
    """A page of the posts naming this campaign (in post id order, so a content item's posts sit
    together) and their total. CampaignNotFound when there is neither a campaign nor any post."""
    total = stored.count_campaign_posts(repo, campaign_id)
    if total == 0 and get_campaign(repo, campaign_id) is None:
        raise CampaignNotFound(campaign_id)
    return stored.page_campaign_posts(repo, campaign_id, skip=skip, limit=limit), total
