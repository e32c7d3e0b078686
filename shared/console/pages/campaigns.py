"""The campaigns pages: the list (filtered by status) with a form for a new campaign, and a campaign's
page with its fields to edit and its analytics.

Creating and changing call what POST /campaigns and PATCH /campaigns/{id} call (shared/campaigns/
service.py), the form read by the API's own request models (CampaignIn, CampaignPatch): every refusal,
from those models or the service, is shown next to the field it names. Editors and approvers may both
create and edit (the API's rule: editor).

The analytics are the fragment the standalone campaign page shows (shared/analytics/charts.py: SVG
charts drawn on the server and the tables of the same numbers), for a range checked by the API's
RangeQuery and analytics.campaign.range_refusal; its stylesheet is served as a static file, so the
console's CSP (no inline style) holds.
"""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta

import flask
import pydantic

from shared import services
from shared.analytics.campaign import MAX_RANGE_DAYS, campaign_numbers, range_refusal
from shared.analytics.charts import numbers_html
from shared.api.errors import ApiError, loc_to_field
from shared.api.routes.analytics import RangeQuery
from shared.api.routes.campaigns import CampaignIn, CampaignPatch
from shared.campaigns import service
from shared.console import render
from shared.console.session import current_principal, require_role
from shared.console.urls import redirect_to
from shared.errors import ValidationError
from shared.model.campaign import CAMPAIGN_ID_PATTERN, CAMPAIGN_STATUSES, Campaign
from shared.runtime.clock import utcnow
from shared.runtime.config import get_config
from shared.runtime.logging import log_event

log = logging.getLogger("postgate.console")

PAGE_SIZE = 50
EDITABLE = ("name", "description", "status", "starts_on", "ends_on")  # the fields PATCH /campaigns/{id} takes
FIELDS = ("id", *EDITABLE)  # and POST /campaigns
DEFAULT_DAYS = 30  # the analytics range when the campaign's dates do not give one


def register(bp: flask.Blueprint) -> None:
    bp.add_url_rule("/campaigns", "campaigns", list_page)
    bp.add_url_rule("/campaigns", "campaigns_create", create, methods=["POST"])
    bp.add_url_rule("/campaigns/<campaign_id>", "campaigns_detail", detail_page)
    bp.add_url_rule("/campaigns/<campaign_id>", "campaigns_edit", edit, methods=["POST"])


def list_page(form: dict[str, str] | None = None, errors: dict[str, str] | None = None, status: int = 200):
    """One page of campaigns in id order (1 query + 1 count), and the new-campaign form."""
    wanted = flask.request.args.get("status") or None
    if wanted is not None and wanted not in CAMPAIGN_STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(CAMPAIGN_STATUSES)}", field="status")
    skip = _skip(flask.request.args.get("skip"))
    items, total = service.list_campaigns(services.repository(), status=wanted, skip=skip, limit=PAGE_SIZE)
    return render.page("console/campaigns.html", status=status, title="Campaigns", campaigns=items, total=total,
                       skip=skip, page_size=PAGE_SIZE, wanted=wanted, statuses=CAMPAIGN_STATUSES,
                       may_edit=current_principal().may("editor"), form=form or {"status": "planned"},
                       errors=errors or {})


@require_role("editor")
def create():
    """POST /campaigns's work; a refusal comes back as the list page with the form as it was sent."""
    form = _form(FIELDS)
    try:
        body = CampaignIn.model_validate({name: value for name, value in form.items() if value != ""})
    except pydantic.ValidationError as exc:
        return list_page(form, field_errors(exc), 400)
    try:
        campaign = service.create_campaign(services.repository(), name=body.name, campaign_id=body.id,
                                           description=body.description, status=body.status,
                                           starts_on=body.starts_on, ends_on=body.ends_on,
                                           created_by=current_principal().user)
    except service.CampaignExists as exc:
        return list_page(form, {"id": str(exc)}, 409)
    except ValidationError as exc:
        return list_page(form, {exc.field or "name": str(exc)}, 422)
    return redirect_to("console.campaigns_detail", campaign_id=campaign.id, saved="created")


def detail_page(campaign_id: str, form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                status: int = 200):
    """The campaign (1 read), its edit form and its numbers (2 BigQuery queries, no Firestore read)."""
    campaign = _campaign(campaign_id)
    start, end, range_errors = _range(campaign)
    numbers, unavailable = None, False
    if not range_errors:
        try:
            numbers = numbers_html(campaign_numbers(services.bigquery(), get_config().project, campaign.id, start,
                                                    end), heading_level=3)
        except Exception as exc:  # noqa: BLE001 - the numbers are one part of the page: the rest stays usable
            log_event(log, logging.ERROR, "console campaign numbers unavailable", campaign=campaign.id,
                      error=type(exc).__name__)
            unavailable = True
    return render.page("console/campaign.html", status=status if not range_errors else 400, title=campaign.name,
                       campaign=campaign, statuses=CAMPAIGN_STATUSES, may_edit=current_principal().may("editor"),
                       form=form or _form_of(campaign), errors=errors or {}, saved=flask.request.args.get("saved"),
                       range={"from": _day_or(flask.request.args.get("from"), start),
                              "to": _day_or(flask.request.args.get("to"), end)},
                       range_errors=range_errors, numbers=numbers, unavailable=unavailable)


@require_role("editor")
def edit(campaign_id: str):
    """PATCH /campaigns/{id}'s work with every editable field sent (a blank description or date clears it)."""
    _campaign_id(campaign_id)
    form = _form(EDITABLE)
    try:
        body = CampaignPatch.model_validate({name: (value if value != "" or name == "name" else None)
                                             for name, value in form.items()})
    except pydantic.ValidationError as exc:
        return detail_page(campaign_id, form, field_errors(exc), 400)
    try:
        service.update_campaign(services.repository(), campaign_id,
                                {name: getattr(body, name) for name in body.model_fields_set})
    except service.CampaignNotFound:
        raise ApiError(404, f"no campaign {campaign_id!r}") from None
    except ValidationError as exc:
        return detail_page(campaign_id, form, {exc.field or "name": str(exc)}, 422)
    return redirect_to("console.campaigns_detail", campaign_id=campaign_id, saved="changed")


def field_errors(exc: pydantic.ValidationError) -> dict[str, str]:
    """{field: its first problem} from a request model's refusal, named as the API names them."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        errors.setdefault(loc_to_field(tuple(error.get("loc") or ())) or "form", error.get("msg", "invalid"))
    return errors


def default_range(campaign: Campaign, today: date) -> tuple[date, date]:
    """The campaign's own dates as far as they have happened; else the last DEFAULT_DAYS days."""
    end = campaign.ends_on if campaign.ends_on and campaign.ends_on < today else today
    start = campaign.starts_on if campaign.starts_on and campaign.starts_on <= end else end - timedelta(DEFAULT_DAYS - 1)
    return max(start, end - timedelta(MAX_RANGE_DAYS - 1)), end


def _range(campaign: Campaign) -> tuple[date, date, dict[str, str]]:
    """The range asked for (`from`, `to`; either left out comes from default_range) and its refusals by field."""
    start, end = default_range(campaign, utcnow().date())
    args = flask.request.args
    try:
        asked = RangeQuery.model_validate({"from": args.get("from") or start.isoformat(),
                                           "to": args.get("to") or end.isoformat()})
    except pydantic.ValidationError as exc:
        return start, end, field_errors(exc)
    refused = range_refusal(asked.from_, asked.to)
    return asked.from_, asked.to, ({"to": refused} if refused else {})


def _campaign(campaign_id: str) -> Campaign:
    _campaign_id(campaign_id)
    campaign = service.get_campaign(services.repository(), campaign_id)
    if campaign is None:
        raise ApiError(404, f"no campaign {campaign_id!r}")
    return campaign


def _campaign_id(campaign_id: str) -> None:
    if not re.fullmatch(CAMPAIGN_ID_PATTERN, campaign_id):
        raise ApiError(404, f"no campaign {campaign_id!r}")


def _form(names: tuple[str, ...]) -> dict[str, str]:
    return {name: flask.request.form.get(name, "").strip() for name in names}


def _form_of(campaign: Campaign) -> dict[str, str]:
    values = campaign.model_dump(include=set(EDITABLE))
    return {name: "" if value is None else str(value) for name, value in values.items()}


def _day_or(value: str | None, default: date) -> str:
    return value if value else default.isoformat()


def _skip(value: str | None) -> int:
    return int(value) if value and value.isdigit() and int(value) < 100_000 else 0
