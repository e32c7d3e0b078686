"""Campaign numbers: per UTC day and platform (JSON), the same as an HTML page with charts, and a
short-lived link that opens that page in a browser; and POST /analytics/sync, which starts a
metrics pull now, for one post or all (shared/analytics/sync.py).

A browser cannot send a bearer header, so `GET /campaigns/{id}/analytics/link` (bearer) mints a
view link: the page URL with `?view=<token>`, an HS256 JWT signed with the API key but with its own
audience (`<api audience>#view`), so it is refused as a bearer token anywhere else, and bound to the
one campaign and to read-only use of this page. It expires after VIEW_LINK_SECONDS. The query string
is in request logs, hence the short life; the page itself sends no Referer and loads nothing.

Unknown campaign: 404 when BigQuery has no numbers for it in the range and there is neither a
campaign record nor a post naming it (a typo should not look like a quiet campaign); a campaign that
exists but has no numbers in the range answers 200 with empty `days` and `totals`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from urllib.parse import quote, urlencode

import flask
import jwt
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.analytics.campaign import MAX_RANGE_DAYS, CampaignNumbers, campaign_numbers, range_refusal
from shared.analytics.fanout import pubsub_senders
from shared.analytics.manual import PostNotFound, PostNotPublished
from shared.analytics.page import campaign_page, security_headers
from shared.analytics.sync import SYNC_ALL_INTERVAL, NothingToPull, sync_all, sync_post
from shared.api.auth import ISSUER, ROLES, Principal, current_principal
from shared.api.errors import ApiError, not_found
from shared.api.routes.posts import ID_PATTERN
from shared.api.schemas import Day
from shared.campaigns import service
from shared.model.campaign import CAMPAIGN_ID_PATTERN
from shared.runtime.logging import log_context
from shared.services import get_services

log = logging.getLogger("postgate.api.analytics")
blueprint = APIBlueprint("analytics", __name__, abp_tags=[Tag(name="analytics")], abp_security=[{"bearer": []}])

VIEW_LINK_SECONDS = 15 * 60
_VIEW_AUDIENCE_SUFFIX = "#view"
_VIEW_PURPOSE = "campaign-analytics-page"
_PAGE_ENDPOINT = "analytics.campaign_analytics_page"


class AnalyticsPath(BaseModel):
    campaign_id: str = Field(pattern=CAMPAIGN_ID_PATTERN, max_length=128, description="the campaign id")


class RangeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Day = Field(alias="from", description="first UTC day (YYYY-MM-DD)")
    to: Day = Field(description=f"last UTC day, inclusive: on or after `from`, at most {MAX_RANGE_DAYS} days in all")


class PageQuery(RangeQuery):
    view: str | None = Field(default=None, min_length=1, max_length=2048,
                             description="a view token from GET /campaigns/{id}/analytics/link (instead of a bearer)")


class ViewLinkOut(BaseModel):
    url: str = Field(description="the page with a view token; open it in a browser")
    expires_at: dt.datetime


_HTML_PAGE = {"description": "the campaign page: SVG charts and tables of the same numbers",
              "content": {"text/html": {"schema": {"type": "string"}}}}


def _checked_range(query: RangeQuery) -> None:
    refused = range_refusal(query.from_, query.to)
    if refused:
        raise ApiError(400, refused, field="to")


def _numbers(campaign_id: str, query: RangeQuery) -> CampaignNumbers:
    _checked_range(query)
    services = get_services()
    with log_context(correlation_id=f"campaign:{campaign_id}"):
        numbers = campaign_numbers(services.bigquery(), services.config.project, campaign_id, query.from_, query.to)
    if not numbers.days and not numbers.totals and not _campaign_known(campaign_id):
        raise not_found("campaign", campaign_id)
    return numbers


def _campaign_known(campaign_id: str) -> bool:
    try:
        service.campaign_posts(get_services().repository, campaign_id, skip=0, limit=1)
    except service.CampaignNotFound:
        return False
    return True


@blueprint.get("/campaigns/<campaign_id>/analytics", responses={200: CampaignNumbers})
def campaign_analytics(path: AnalyticsPath, query: RangeQuery):
    """Per UTC day and platform: each post's last snapshot of the day, summed, with the engagement
    rate of those sums; and per platform over the range: each post's last snapshot in it, summed."""
    return _numbers(path.campaign_id, query).model_dump(mode="json", by_alias=True)


@blueprint.get("/campaigns/<campaign_id>/analytics/page", responses={200: _HTML_PAGE})
def campaign_analytics_page(path: AnalyticsPath, query: PageQuery):
    """The same numbers as an HTML page with charts (bearer, or `?view=` from .../analytics/link)."""
    page = campaign_page(_numbers(path.campaign_id, query))
    return flask.Response(page, status=200, headers=security_headers())


@blueprint.get("/campaigns/<campaign_id>/analytics/link", responses={200: ViewLinkOut})
def campaign_analytics_link(path: AnalyticsPath, query: RangeQuery):
    """A link to the page that a browser can open without a bearer header, for VIEW_LINK_SECONDS."""
    _checked_range(query)
    services = get_services()
    config = services.config
    principal = current_principal()
    token, expires_at = mint_view_token(services.secrets.access(config.api_jwt_secret), config.api_audience,
                                        user=principal.user, roles=sorted(principal.roles), campaign=path.campaign_id)
    base = (config.api_base_url or flask.request.host_url).rstrip("/")
    url = (f"{base}/campaigns/{quote(path.campaign_id, safe='')}/analytics/page?"
           + urlencode({"from": query.from_.isoformat(), "to": query.to.isoformat(), "view": token}))
    return ViewLinkOut(url=url, expires_at=expires_at).model_dump(mode="json")


# -- a pull now ---------------------------------------------------------------------------------

class AnalyticsSyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    post_id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=300,
                                description="pull this published post's numbers; left out: every post's")

    @model_validator(mode="before")
    @classmethod
    def _no_body_is_every_post(cls, data):
        return {} if data is None else data  # `POST /analytics/sync` with no body at all: every post


class AnalyticsSyncOut(BaseModel):
    run_id: str = Field(description="the pull's run (analytics_runs/{run_id} counts what it fetched)")
    scope: str = Field(description='"post" or "all"')
    post_id: str | None = None
    account_id: str | None = None
    platform: str | None = None
    started_at: dt.datetime
    requested_by: str
    already_running: bool = Field(description="a pull of every post started less than "
                                              f"{int(SYNC_ALL_INTERVAL.total_seconds() // 60)} minutes ago: "
                                              "that one is the answer and no other was started")
    detail: str


def start_sync(post_id: str | None, *, user: str) -> AnalyticsSyncOut:
    """Start the pull (one post or all) as this API and /api/v1 both do; 404/409 name `post_id`."""
    services = get_services()
    senders = pubsub_senders(services.config.project)
    try:
        if post_id is not None:
            started = sync_post(services.repository, post_id=post_id, requested_by=user, now=services.now(),
                                send_work=senders.work)
        else:
            started = sync_all(services.repository, requested_by=user, now=services.now(), send_tick=senders.tick)
    except PostNotFound as exc:
        raise ApiError(404, str(exc), field="post_id") from None
    except (PostNotPublished, NothingToPull) as exc:
        raise ApiError(409, str(exc), field="post_id") from None
    what = (f"post {post_id}" if post_id is not None
            else f"every post published in the last {services.config.analytics_max_age_days} days")
    detail = (f"a pull of {what} was started; the numbers land in campaign analytics as it finishes"
              if not started.already_running else
              f"a pull of every post was started at {started.started_at.isoformat()}; no other was started")
    return AnalyticsSyncOut(run_id=started.run_id, scope=started.scope, post_id=started.post_id,
                   account_id=started.account_id, platform=started.platform, started_at=started.started_at,
                   requested_by=started.requested_by, already_running=started.already_running, detail=detail)


@blueprint.post("/analytics/sync", responses={202: AnalyticsSyncOut})
def sync_analytics(body: AnalyticsSyncIn):
    """Start a metrics pull now (editor): of one published post (`post_id`), or of every post still
    on the pull schedule, due or not. The same path as the hourly pull; answers at once."""
    principal = current_principal()
    principal.require("editor")
    return start_sync(body.post_id, user=principal.user).model_dump(mode="json"), 202


# -- view tokens ------------------------------------------------------------------------------

def mint_view_token(key: str, audience: str, *, user: str, roles: list[str], campaign: str,
                    ttl_seconds: int = VIEW_LINK_SECONDS) -> tuple[str, dt.datetime]:
    now = int(time.time())
    token = jwt.encode({"sub": user, "roles": roles, "aud": audience + _VIEW_AUDIENCE_SUFFIX, "iss": ISSUER,
                        "iat": now, "exp": now + ttl_seconds, "purpose": _VIEW_PURPOSE, "campaign": campaign},
                       key, algorithm="HS256")
    return token, dt.datetime.fromtimestamp(now + ttl_seconds, dt.UTC)


def principal_from_view_token(token: str, *, key: str, audience: str, campaign: str) -> Principal:
    """Who minted this view token, if it verifies and opens this campaign's page; else 401/403."""
    try:
        claims = jwt.decode(token, key, algorithms=["HS256"], audience=audience + _VIEW_AUDIENCE_SUFFIX, issuer=ISSUER,
                            options={"require": ["exp", "sub", "aud", "campaign", "purpose"]})
    except jwt.ExpiredSignatureError:
        raise ApiError(401, "this view link has expired; ask for a new one (GET /campaigns/{id}/analytics/link "
                            "or `postgate campaigns stats ID --link`)", field="view") from None
    except jwt.PyJWTError as exc:
        raise ApiError(401, f"view token refused: {exc}", field="view") from None
    if claims.get("purpose") != _VIEW_PURPOSE or claims.get("campaign") != campaign:
        raise ApiError(403, "this view link opens another campaign's page", field="view")
    roles = frozenset(r for r in claims.get("roles") or [] if r in ROLES)
    if not roles:
        raise ApiError(403, f"{claims['sub']} has no role in Postgate", field="view")
    return Principal(str(claims["sub"]), roles)


def authenticate_view_link(request: flask.Request) -> Principal | None:
    """The page's caller from `?view=` when it has no Authorization header; None otherwise (then
    the bearer header is required as on every route)."""
    token = request.args.get("view")
    if not token or request.headers.get("Authorization") or not request.view_args:
        return None
    services = get_services()
    config = services.config
    return principal_from_view_token(token, key=services.secrets.access(config.api_jwt_secret),
                                     audience=config.api_audience, campaign=str(request.view_args.get("campaign_id")))


# Endpoint -> how a request to it may authenticate without a bearer header (shared/api/app.py asks
# before its bearer check).
VIEW_LINK_AUTHENTICATORS = {_PAGE_ENDPOINT: authenticate_view_link}
