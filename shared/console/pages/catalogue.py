"""The YouTube catalogue (/console/catalogue): every video of the connected channels, searched, filtered,
sorted and paged as the API's GET /youtube/catalogue/videos does it; one video with its report row; and
live updates while a refresh changes what the page shows (docs/console.md#catalogue).

The page reads its form with the API's own query model (CatalogueQuery) and asks shared.catalogue.service
what the API's route asks, so a search answers the same here and there. A refused filter comes back on
the form with the message next to the field it names. static/catalogue-live.js follows the catalogue's
live stream (the API's, served under the console's session) and fetches the page again when videos
changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import flask
import pydantic

from shared import services
from shared.api.errors import not_found
from shared.api.routes.youtube_catalogue import CatalogueQuery, ChannelPath, EventsQuery, VideoPath, catalogue_stream
from shared.catalogue import service
from shared.console import render
from shared.console.pages import catalogue_bulk, catalogue_proposal
from shared.console.pages.youtube import field_errors
from shared.console.session import current_principal
from shared.model.catalogue import CATEGORY_NAMES, PRIVACIES, SORT_FIELDS, CatalogueRow

PAGE = 25  # videos per page
FORM_FIELDS = ("q", "channel_id", "category_id", "privacy", "claimed_status", "published_from", "published_to",
               "removed", "sort", "order", "skip")
CLAIMED_TEXT = {"claimed": "Claimed", "unclaimed": "Unclaimed", "other": "Other (see the report)",
                "none": "No report row"}
SORT_TEXT = {"published": "Published", "updated": "Last changed", "views": "Views"}
CATEGORIES = CATEGORY_NAMES  # the filter's choices


@dataclass
class Search:
    """The search form as typed (days as YYYY-MM-DD, read as UTC days) and what was refused."""

    values: dict[str, str]
    errors: dict[str, str]


def register(bp: flask.Blueprint) -> None:
    bp.add_url_rule("/catalogue", "catalogue", list_page)
    bp.add_url_rule("/catalogue/videos/<video_id>", "catalogue_video", video_page)
    bp.add_url_rule("/catalogue/events", "catalogue_events", catalogue_events)


def list_page() -> flask.Response:
    search = Search({k: v.strip() for k, v in flask.request.args.items() if k in FORM_FIELDS and v.strip()}, {})
    query = query_of(search)
    repo = services.repository()
    channels = service.channels(repo)
    rows: list[CatalogueRow] = []
    total = 0
    if query is not None:
        page = service.list_videos(repo, query.catalogue_filter(), skip=query.skip, limit=query.limit)
        rows, total = page.rows, page.total
    titles = {c["channel_id"]: c.get("title") or c["channel_id"] for c in channels}
    return render.page("console/catalogue.html", status=200 if query is not None else 400,
                       title="YouTube catalogue", search=search, query=query, rows=rows, total=total,
                       channels=channels, titles=titles, privacies=PRIVACIES, claimed=CLAIMED_TEXT,
                       sorts=[(s, SORT_TEXT[s]) for s in SORT_FIELDS], categories=CATEGORIES, page_size=PAGE,
                       paging=paging_links(search, query, total),
                       bulk=catalogue_bulk.bulk_form(repo, search.values) if query is not None else None)


def query_of(search: Search) -> CatalogueQuery | None:
    """The API's query from the form; None with `search.errors` filled when a rule refuses it."""
    given: dict[str, object] = {k: v for k, v in search.values.items() if k not in ("published_from", "published_to")}
    given["limit"] = PAGE
    given["removed"] = search.values.get("removed") == "true"
    for name, shift in (("published_from", 0), ("published_to", 1)):  # the last day is included
        if name in search.values:
            try:
                day = date.fromisoformat(search.values[name])
            except ValueError:
                search.errors[name] = "a day as YYYY-MM-DD"
                continue
            given[name] = (datetime.combine(day, datetime.min.time(), UTC) + timedelta(days=shift)).isoformat()
    try:
        query = CatalogueQuery.model_validate(given)
    except pydantic.ValidationError as exc:
        for name, message in field_errors(exc).items():
            search.errors.setdefault(name if name in FORM_FIELDS else "form", message)
        return None
    return None if search.errors else query


def paging_links(search: Search, query: CatalogueQuery | None, total: int) -> dict[str, dict[str, str]]:
    """The query strings of the previous and next pages (the same search, another skip)."""
    if query is None:
        return {}
    base = {k: v for k, v in search.values.items() if k != "skip"}
    links = {}
    if query.skip > 0:
        links["previous"] = {**base, **({"skip": str(max(query.skip - PAGE, 0))} if query.skip > PAGE else {})}
    if query.skip + PAGE < total:
        links["next"] = {**base, "skip": str(query.skip + PAGE)}
    return links


def video_page(video_id: str):
    try:
        VideoPath(video_id=video_id)
    except pydantic.ValidationError:
        raise not_found("catalogue video", video_id) from None
    repo = services.repository()
    doc = service.video(repo, video_id)
    if doc is None:
        raise not_found("catalogue video", video_id)
    channel = service.channel(repo, doc["channel_id"]) or {}
    return render.page("console/catalogue_video.html", title=doc.get("title") or video_id, video=doc,
                       channel_title=channel.get("title") or doc["channel_id"], claimed=CLAIMED_TEXT,
                       category=CATEGORIES.get(str(doc.get("category_id")), doc.get("category_id")),
                       **catalogue_proposal.form_context(repo, doc))


def catalogue_events():
    """The API's catalogue stream (GET /youtube/catalogue/events) for a signed-in person, in the same
    stream slots."""
    try:
        query = EventsQuery.model_validate({k: v for k, v in flask.request.args.items() if k == "channel_id" and v})
        if query.channel_id:
            ChannelPath(channel_id=query.channel_id)
    except pydantic.ValidationError:
        flask.abort(400, "channel_id is not a YouTube channel id")
    return catalogue_stream(query.channel_id, current_principal().user)
