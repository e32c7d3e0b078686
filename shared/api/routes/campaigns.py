"""Campaigns: create, list (status filter), get, change, delete, and the posts of a campaign.

A post's `campaign` field holds the campaign id. `GET /campaigns/{id}/posts` also lists the posts
of a campaign named by briefs but never created here; it is 404 only when there is neither a
campaign nor a post naming it. `GET /campaigns/{id}` is 404 for such an id (there is no record).
"""

from __future__ import annotations

from datetime import date

from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field

from shared.api.auth import current_principal
from shared.api.errors import ApiError, conflict, not_found
from shared.api.models import PostOut, PostPage
from shared.api.schemas import PageQuery, page_fields
from shared.campaigns import service
from shared.model.campaign import CAMPAIGN_ID_PATTERN, DESCRIPTION_MAX, NAME_MAX, Campaign, CampaignStatus
from shared.model.schema_rules import omittable
from shared.services import get_services

blueprint = APIBlueprint("campaigns", __name__, abp_tags=[Tag(name="campaigns")], abp_security=[{"bearer": []}])


class CampaignPath(BaseModel):
    campaign_id: str = Field(pattern=CAMPAIGN_ID_PATTERN, max_length=128, description="the campaign id")


class CampaignQuery(PageQuery):
    status: CampaignStatus | None = Field(default=None, description="only campaigns in this status")


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str | None = Field(default=None, pattern=CAMPAIGN_ID_PATTERN, max_length=128,
                           description="the id posts will name; default: a slug of the name")
    name: str = Field(min_length=1, max_length=NAME_MAX)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    status: CampaignStatus = "planned"
    starts_on: date | None = None
    ends_on: date | None = Field(default=None, description="on or after starts_on")


class CampaignPatch(BaseModel):
    """Only the fields sent change; null clears description and the dates."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = omittable(min_length=1, max_length=NAME_MAX, description="not null")
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    status: CampaignStatus = omittable(description="not null")
    starts_on: date | None = None
    ends_on: date | None = Field(default=None, description="on or after starts_on (the one sent or the stored one)")


class CampaignPage(BaseModel):
    items: list[Campaign]
    total: int
    skip: int
    limit: int


@blueprint.post("/campaigns", responses={201: Campaign})
def create_campaign(body: CampaignIn):
    """Create a campaign (editor). 409 if the id exists."""
    principal = current_principal()
    principal.require("editor")
    try:
        campaign = service.create_campaign(get_services().repository, name=body.name, campaign_id=body.id, description=body.description,
                                           status=body.status, starts_on=body.starts_on, ends_on=body.ends_on,
                                           created_by=principal.user)
    except service.CampaignExists as exc:
        raise conflict(str(exc), field="id") from None
    return campaign.model_dump(mode="json"), 201


@blueprint.get("/campaigns", responses={200: CampaignPage})
def list_campaigns(query: CampaignQuery):
    """Campaigns in id order, optionally only those in one status."""
    items, total = service.list_campaigns(get_services().repository, status=query.status, skip=query.skip, limit=query.limit)
    return CampaignPage(**page_fields(items, total, query)).model_dump(mode="json")


@blueprint.get("/campaigns/<campaign_id>", responses={200: Campaign})
def get_campaign(path: CampaignPath):
    campaign = service.get_campaign(get_services().repository, path.campaign_id)
    if campaign is None:
        raise not_found("campaign", path.campaign_id)
    return campaign.model_dump(mode="json")


@blueprint.patch("/campaigns/<campaign_id>", responses={200: Campaign})
def update_campaign(path: CampaignPath, body: CampaignPatch):
    """Change name, description, status or dates (editor); ends_on must stay on or after starts_on."""
    current_principal().require("editor")
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    for required in ("name", "status"):
        if required in changes and changes[required] is None:
            raise ApiError(400, f"{required} can't be null", field=required)
    repo = get_services().repository
    try:
        if not changes:
            campaign = service.get_campaign(repo, path.campaign_id)
            if campaign is None:
                raise service.CampaignNotFound(path.campaign_id)
        else:
            campaign = service.update_campaign(repo, path.campaign_id, changes)
    except service.CampaignNotFound:
        raise not_found("campaign", path.campaign_id) from None
    return campaign.model_dump(mode="json")


@blueprint.delete("/campaigns/<campaign_id>", responses={204: None})
def delete_campaign(path: CampaignPath):
    """Delete (editor); 409 while posts of it are approved, scheduled or being published."""
    current_principal().require("editor")
    try:
        service.delete_campaign(get_services().repository, path.campaign_id)
    except service.CampaignNotFound:
        raise not_found("campaign", path.campaign_id) from None
    except service.CampaignInUse as exc:
        raise conflict(str(exc)) from None
    return "", 204


@blueprint.get("/campaigns/<campaign_id>/posts", responses={200: PostPage})
def campaign_posts(path: CampaignPath, query: PageQuery):
    """Posts naming this campaign, in post id order (a content item's posts together)."""
    repo = get_services().repository
    try:
        posts, total = service.campaign_posts(repo, path.campaign_id, skip=query.skip, limit=query.limit)
    except service.CampaignNotFound:
        raise not_found("campaign", path.campaign_id) from None
    contents = repo.contents_by_id({p.content_id for p in posts})
    items = [PostOut.of(p, contents.get(p.content_id)) for p in posts]
    return PostPage(**page_fields(items, total, query)).model_dump(mode="json")
