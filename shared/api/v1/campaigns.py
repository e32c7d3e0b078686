"""The seed's campaigns (/api/v1/campaigns), on shared/campaigns/service.py and the campaign numbers
of shared/analytics/campaign.py, the services our own /campaigns routes call.

Statuses: one rule, ours. The seed's three (active, paused, completed) are Postgate campaign statuses
as they are; Postgate also has `planned` (the default of a new campaign) and `archived`, accepted and
answered as they are. Dates are the seed's start_date / end_date (our starts_on / ends_on). A new
campaign's id is a slug of its name ("Summer Campaign 2025" -> summer-campaign-2025): a second
campaign of the same name is a 409.

GET /campaigns/{id}/analytics sums every post of the campaign, pulled and manually recorded snapshots
alike (each post's last snapshot in the range), over the campaign's dates unless start_date / end_date
are given, with the same numbers per platform and per UTC day. engagement_rate is a percent here.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, RootModel

from shared.analytics.campaign import MAX_RANGE_DAYS, CampaignNumbers, all_platforms, campaign_numbers, range_refusal
from shared.api.errors import ApiError
from shared.api.schemas import Day
from shared.api.v1.conventions import (
    SEED_PLATFORM_NAMES,
    Deleted,
    Ref,
    SeedPage,
    editor,
    now,
    number,
    numbers,
    page_answer,
    repo,
    resolve,
    seed_time,
    v1_blueprint,
)
from shared.api.v1.post_forms import SeedPostOut, seed_posts
from shared.campaigns import service
from shared.errors import ValidationError
from shared.model.campaign import DESCRIPTION_MAX, NAME_MAX, Campaign, CampaignStatus, is_campaign_id
from shared.model.schema_rules import omittable
from shared.services import get_services

blueprint = v1_blueprint("campaigns", "campaigns")

PERCENT = 100
_FIELDS = {"starts_on": "start_date", "ends_on": "end_date", "id": "name"}  # ours -> the seed's


class CampaignPathId(BaseModel):
    id: Ref


class CampaignListQuery(SeedPage):
    status: CampaignStatus | None = Field(default=None, description="active | paused | completed "
                                                                    "(also planned, archived)")


class NumbersQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_date: Day | None = Field(default=None, description="first UTC day (default: the campaign's start_date)")
    end_date: Day | None = Field(default=None, description=f"last UTC day, inclusive (default: the campaign's "
                                                           f"end_date, else today); at most {MAX_RANGE_DAYS} days")


# The id is a slug of the name (shared/model/campaign.py slug_of): it needs a letter or digit to make one.
NAME_PATTERN = "[A-Za-z0-9]"


class SeedCampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN,
                      description="with a letter or digit (A-Z, a-z, 0-9): the id is made from it")
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    start_date: Day | None = None
    end_date: Day | None = Field(default=None, description="on or after start_date")
    status: CampaignStatus = Field(default="planned", description="active | paused | completed (also planned, "
                                                                  "archived); default planned")


class SeedCampaignPatch(BaseModel):
    """Only the fields sent change; null clears description and the dates."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = omittable(min_length=1, max_length=NAME_MAX, description="not null")
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    start_date: Day | None = None
    end_date: Day | None = None
    status: CampaignStatus = omittable(description="not null")


class SeedCampaignOut(BaseModel):
    id: int = Field(description="the campaign's number")
    postgate_id: str
    name: str
    description: str | None
    start_date: dt.date | None
    end_date: dt.date | None
    status: str
    created_by: str
    created_at: str
    updated_at: str


class SeedCampaignList(RootModel[list[SeedCampaignOut]]):
    """A JSON array; the total in X-Total-Count."""


class SeedPostList(RootModel[list[SeedPostOut]]):
    """A JSON array; the total in X-Total-Count."""


class SeedNumbers(BaseModel):
    posts: int = Field(description="posts with a snapshot counted")
    manual_posts: int = Field(description="of those, counted with a manually recorded snapshot")
    views: int | None
    likes: int | None
    comments: int | None
    shares: int | None
    saves: int | None
    impressions: int | None
    reach: int | None
    engagement_rate: float | None = Field(description="a percent: (likes + comments + shares + saves) / views x 100")


class SeedPlatformNumbers(SeedNumbers):
    platform: str


class SeedDayNumbers(SeedPlatformNumbers):
    date: dt.date


class SeedCampaignNumbers(SeedNumbers):
    campaign_id: int
    postgate_id: str
    start_date: dt.date
    end_date: dt.date
    as_of: str | None = Field(description="the newest snapshot counted (UTC)")
    platforms: list[SeedPlatformNumbers]
    days: list[SeedDayNumbers] = Field(description="per UTC day and platform: each post's last snapshot of the day")


# -- helpers ------------------------------------------------------------------------------------------

def _answers(campaigns: list[Campaign]) -> list[dict]:
    campaign_numbers_ = numbers("campaign", [c.id for c in campaigns])
    return [SeedCampaignOut(id=campaign_numbers_[c.id], postgate_id=c.id, name=c.name, description=c.description,
                            start_date=c.starts_on, end_date=c.ends_on, status=c.status, created_by=c.created_by,
                            created_at=str(seed_time(c.created_at)), updated_at=str(seed_time(c.updated_at)))
            .model_dump(mode="json") for c in campaigns]


def _campaign_id(ref: str) -> str:
    campaign_id = resolve("campaign", ref)
    if not is_campaign_id(campaign_id):
        raise ApiError(404, f"no campaign {ref}")
    return campaign_id


def _campaign(ref: str) -> Campaign:
    found = service.get_campaign(repo(), _campaign_id(ref))
    if found is None:
        raise ApiError(404, f"no campaign {ref}")
    return found


def _invalid(exc: ValidationError) -> ApiError:
    """A refusal of the service, in the seed's field names."""
    text = str(exc).replace("starts_on", "start_date").replace("ends_on", "end_date")
    return ApiError(400, text, field=_FIELDS.get(exc.field or "", exc.field))


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * PERCENT, 4)


def _seed_numbers(numbers_: object) -> dict:
    values = {name: getattr(numbers_, name) for name in SeedNumbers.model_fields}
    values["engagement_rate"] = _percent(values["engagement_rate"])
    return values


def _range(campaign: Campaign | None, query: NumbersQuery) -> tuple[dt.date, dt.date]:
    """The days asked for, else the campaign's dates (a span over the limit: its last MAX_RANGE_DAYS)."""
    today = now().astimezone(dt.UTC).date()
    end = query.end_date or (campaign.ends_on if campaign and campaign.ends_on else today)
    start = query.start_date or (campaign.starts_on if campaign and campaign.starts_on else None)
    if start is None or (query.start_date is None and (end - start).days + 1 > MAX_RANGE_DAYS):
        start = end - dt.timedelta(days=MAX_RANGE_DAYS - 1)
    refused = range_refusal(start, end)
    if refused:
        raise ApiError(400, refused.replace("`to`", "end_date").replace("`from`", "start_date"), field="end_date")
    return start, end


# -- routes -------------------------------------------------------------------------------------------

@blueprint.post("/campaigns", responses={201: SeedCampaignOut})
def create_campaign(body: SeedCampaignIn):
    """Create a campaign (editor); its id is a slug of its name (409 if taken)."""
    user = editor()
    try:
        made = service.create_campaign(repo(), name=body.name, description=body.description, status=body.status,
                                       starts_on=body.start_date, ends_on=body.end_date, created_by=user, now=now())
    except service.CampaignExists as exc:
        raise ApiError(409, f"{exc}: a campaign of this name exists", field="name") from None
    except ValidationError as exc:
        raise _invalid(exc) from None
    return _answers([made])[0], 201


@blueprint.get("/campaigns", responses={200: SeedCampaignList})
def list_campaigns(query: CampaignListQuery):
    """Campaigns in id order, optionally of one status; a JSON array, the total in X-Total-Count."""
    items, total = service.list_campaigns(repo(), status=query.status, skip=query.skip, limit=query.limit)
    return page_answer(_answers(items), total)


@blueprint.get("/campaigns/<id>", responses={200: SeedCampaignOut})
def get_campaign(path: CampaignPathId):
    return _answers([_campaign(path.id)])[0]


@blueprint.put("/campaigns/<id>", responses={200: SeedCampaignOut})
def update_campaign(path: CampaignPathId, body: SeedCampaignPatch):
    """Change name, description, dates or status (editor); end_date must stay on or after start_date."""
    editor()
    campaign_id = _campaign_id(path.id)
    ours = {"start_date": "starts_on", "end_date": "ends_on"}
    changes = {ours.get(name, name): getattr(body, name) for name in body.model_fields_set}
    for required in ("name", "status"):
        if required in changes and changes[required] is None:
            raise ApiError(400, f"{required} can't be null", field=required)
    try:
        changed = (service.update_campaign(repo(), campaign_id, changes, now=now()) if changes
                   else service.get_campaign(repo(), campaign_id))
    except service.CampaignNotFound:
        changed = None
    except ValidationError as exc:
        raise _invalid(exc) from None
    if changed is None:
        raise ApiError(404, f"no campaign {path.id}")
    return _answers([changed])[0]


@blueprint.delete("/campaigns/<id>", responses={200: Deleted})
def delete_campaign(path: CampaignPathId):
    """Delete (editor); 409 while posts of it are approved, scheduled or being published."""
    editor()
    campaign_id = _campaign_id(path.id)
    try:
        service.delete_campaign(repo(), campaign_id)
    except service.CampaignNotFound:
        raise ApiError(404, f"no campaign {path.id}") from None
    except service.CampaignInUse as exc:
        raise ApiError(409, str(exc)) from None
    return Deleted(id=number("campaign", campaign_id), postgate_id=campaign_id).model_dump(mode="json")


@blueprint.get("/campaigns/<id>/analytics", responses={200: SeedCampaignNumbers})
def campaign_analytics(path: CampaignPathId, query: NumbersQuery):
    """Every post of the campaign together (pulled and manually recorded numbers), per platform and per
    day: each post's last snapshot in the range."""
    campaign_id = _campaign_id(path.id)
    campaign = service.get_campaign(repo(), campaign_id)
    if campaign is None:
        _known_by_posts(campaign_id, path.id)
    start, end = _range(campaign, query)
    services = get_services()
    found: CampaignNumbers = campaign_numbers(services.bigquery(), services.config.project, campaign_id, start, end)
    overall = all_platforms(found)
    return SeedCampaignNumbers(
        campaign_id=number("campaign", campaign_id), postgate_id=campaign_id, start_date=start, end_date=end,
        as_of=seed_time(overall.as_of), **_seed_numbers(overall),
        platforms=[SeedPlatformNumbers(platform=SEED_PLATFORM_NAMES.get(t.platform, t.platform), **_seed_numbers(t))
                   for t in found.totals],
        days=[SeedDayNumbers(date=d.date, platform=SEED_PLATFORM_NAMES.get(d.platform, d.platform),
                             **_seed_numbers(d)) for d in found.days]).model_dump(mode="json")


@blueprint.get("/campaigns/<id>/posts", responses={200: SeedPostList})
def campaign_posts(path: CampaignPathId, query: SeedPage):
    """The campaign's posts in post id order; a JSON array, the total in X-Total-Count."""
    try:
        posts, total = service.campaign_posts(repo(), _campaign_id(path.id), skip=query.skip, limit=query.limit)
    except service.CampaignNotFound:
        raise ApiError(404, f"no campaign {path.id}") from None
    return page_answer(seed_posts(posts), total)


def _known_by_posts(campaign_id: str, ref: str) -> None:
    """A campaign without a record is known when posts name it (briefs predate campaign records)."""
    try:
        service.campaign_posts(repo(), campaign_id, skip=0, limit=1)
    except service.CampaignNotFound:
        raise ApiError(404, f"no campaign {ref}") from None
