"""Bulk metadata changes from the catalogue (docs/console.md#catalogue-bulk-changes): the form under a
catalogue search (one operation on the videos of that search, with how many it selects), and a bulk
change's page (/console/catalogue/bulk/<id>): status, decision, progress, the videos paged, and an
approver's decision in place; /console/catalogue/bulk/<id>/progress answers the figures as JSON for
static/bulk-progress.js, which polls it while the change is being applied.

Every action calls what the API's routes call (shared/api/routes/youtube_bulk_changes.py) with the API's
own models: BulkChangeRequest for the form (the selection the API takes: channel, words, category,
privacy), shared.youtube_sync.bulk.create_bulk to ask, bulk_applying.decide_via_api to decide (bound to
the bulk hash the page showed: a changed bulk change is refused and nothing is recorded). Refusals are
shown next to the field they name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import flask
import pydantic

from shared import services
from shared.api.routes.youtube_bulk_changes import BulkChangeOut, BulkDecisionBody, BulkPath
from shared.approval.pages import when_text
from shared.console import render
from shared.console.pages.catalogue_proposal import FLAGS
from shared.console.pages.youtube import youtube_refusal
from shared.console.session import current_principal, require_role
from shared.console.urls import redirect_to
from shared.console.zone import reader_zone
from shared.errors import PermanentError, TransientError, ValidationError
from shared.model.catalogue import CATEGORY_NAMES, PRIVACIES
from shared.runtime.config import get_config
from shared.stores.posts import Repository
from shared.youtube_sync import bulk as service
from shared.youtube_sync.bulk_applying import decide_via_api
from shared.youtube_sync.bulk_model import MAX_VIDEOS, BulkChange, BulkChangeRequest, VideoSelection
from shared.youtube_sync.model import ASSIGNABLE_CATEGORY_IDS
from shared.youtube_sync.service import LABELS, ChangeConflict, ChangeNotFound, publisher, shown

SELECTION_FIELDS = ("q", "channel_id", "category_id", "privacy")  # what VideoSelection takes of a search
SELECTION_TEXT = {"q": "the search", "channel_id": "channel", "category_id": "category", "privacy": "privacy"}
OTHER_FILTERS = {"claimed_status": "claimed status", "published_from": "published from",
                 "published_to": "published to", "removed": "videos gone from the channel"}
OPERATIONS = {"add_tag": "Add a tag", "remove_tag": "Remove a tag", "privacy": "Set the privacy",
              "category_id": "Set the category", "flag": "Set a yes/no field"}
FORM_FIELDS = ("op", "tag", "to_privacy", "to_category", "flag", "flag_value")
ITEMS_PAGE = 25
CHOICES = {"operations": OPERATIONS, "bulk_privacies": PRIVACIES, "flags": FLAGS, "labels": LABELS,
           "bulk_categories": [(c, CATEGORY_NAMES.get(c, c)) for c in ASSIGNABLE_CATEGORY_IDS], "max_videos": MAX_VIDEOS}
STATUS_TEXT = {"pending_approval": "Waiting for a decision", "approved": "Approved, being applied",
               "applying": "Being applied", "done": "Done", "rejected": "Rejected"}
ITEM_TEXT = {"pending": "Not applied yet", "applied": "Applied", "conflict": "Edited on YouTube meanwhile: left as it was",
             "failed": "YouTube refused it", "rejected": "Rejected: nothing changed"}


@dataclass
class BulkForm:
    """The bulk form under a search: the selection it sends, how many videos that selects, the search's
    filters a selection cannot take (then no form), the form as typed and what was refused."""

    selection: dict[str, str]
    size: int | None
    left_out: list[str]
    values: dict[str, str] = field(default_factory=lambda: {"op": "add_tag"})
    errors: dict[str, str] = field(default_factory=dict)
    choices: dict[str, Any] = field(default_factory=lambda: CHOICES)


def register(bp: flask.Blueprint) -> None:
    bp.add_url_rule("/catalogue/bulk", "catalogue_bulk_new", request_bulk, methods=["POST"])
    bp.add_url_rule("/catalogue/bulk/<bulk_id>", "catalogue_bulk", bulk_page)
    bp.add_url_rule("/catalogue/bulk/<bulk_id>/decision", "catalogue_bulk_decide", decide, methods=["POST"])
    bp.add_url_rule("/catalogue/bulk/<bulk_id>/progress", "catalogue_bulk_progress", progress)


# -- the form under a search ----------------------------------------------------------------------
def bulk_form(repo: Repository, search: dict[str, str]) -> BulkForm | None:
    """The form for the catalogue page's search (None for a person who may not ask for changes)."""
    if not current_principal().may("editor"):
        return None
    selection = {k: v for k, v in search.items() if k in SELECTION_FIELDS}
    left_out = [label for name, label in OTHER_FILTERS.items() if search.get(name) not in (None, "", "false")]
    form = BulkForm(selection, None, left_out)
    if selection and not left_out:
        try:
            form.size = service.selection_size(repo, VideoSelection.model_validate(selection))
        except pydantic.ValidationError:
            form.size = None  # the search's own refusal is on the page already
    return form


@require_role("editor")
def request_bulk():
    posted = flask.request.form
    selection = {k: posted[k].strip() for k in SELECTION_FIELDS if posted.get(k, "").strip()}
    form = BulkForm(selection, None, [], values={k: posted.get(k, "").strip() for k in FORM_FIELDS})
    repo = services.repository()
    body = {"videos": selection, "operation": operation_of(form.values)}
    try:
        request = BulkChangeRequest.model_validate(body)
    except pydantic.ValidationError as exc:
        for error in exc.errors():
            form.errors.setdefault(form_field(tuple(error.get("loc") or ()), form.values),
                                   str(error.get("msg", "invalid")).removeprefix("Value error, "))
        return form_page(repo, form, status=422)
    config = get_config()
    try:
        bulk = service.create_bulk(repo, config, services.secrets(), request=request,
                                   requested_by=current_principal().user, publish=publisher(config))
    except ValidationError as exc:
        named = "op" if exc.field == "operation" else form_field(tuple((exc.field or "form").split(".")), form.values)
        form.errors[named] = str(exc)  # "operation": what it does to these videos, not how it is typed
        return form_page(repo, form, status=422)
    except (ChangeNotFound, ChangeConflict) as exc:
        form.errors["videos"] = str(exc)
        return form_page(repo, form, status=404 if isinstance(exc, ChangeNotFound) else 409)
    except (PermanentError, TransientError) as exc:
        status, message = youtube_refusal(exc)
        form.errors["form"] = message
        return form_page(repo, form, status=status)
    return redirect_to("console.catalogue_bulk", bulk_id=bulk.id)


def operation_of(values: dict[str, str]) -> dict[str, Any]:
    """The API's operation from the form: the chosen operation with its own input."""
    op = values.get("op", "")
    if op in ("add_tag", "remove_tag"):
        return {op: values.get("tag", "")}
    if op == "privacy":
        return {"set": {"privacy": values.get("to_privacy", "")}}
    if op == "category_id":
        return {"set": {"category_id": values.get("to_category", "")}}
    if op == "flag":
        return {"set": {values.get("flag") or "flag": values.get("flag_value", "")}}
    return {}  # the model refuses it: "give exactly one of ..."


def form_field(loc: tuple, values: dict[str, str]) -> str:
    """The form's field a refusal names (its location in the API's body)."""
    if not loc or loc[0] == "form":
        return "form"
    if loc[0] == "videos":
        return "videos"
    rest = [str(part) for part in loc[1:]]
    if not rest:  # the operation as a whole: with one tag operation chosen, only its tag can be wrong
        return "tag" if values.get("op") in ("add_tag", "remove_tag") and values.get("tag") else "op"
    if rest[0] in ("add_tag", "remove_tag"):
        return "tag"
    if rest[0] == "set" and len(rest) > 1:
        name = rest[1]
        return {"privacy": "to_privacy", "category_id": "to_category"}.get(name, "flag_value" if name in FLAGS else "flag")
    return "op"


def form_page(repo: Repository, form: BulkForm, *, status: int):
    """The form alone with what was refused, and how many videos its selection names."""
    try:
        form.size = service.selection_size(repo, VideoSelection.model_validate(form.selection))
    except pydantic.ValidationError:
        form.size = None
    return render.page("console/catalogue_bulk_new.html", status=status, title="Change many videos at once",
                       bulk=form)


# -- a bulk change's page -------------------------------------------------------------------------
def bulk_page(bulk_id: str):
    return bulk_view(bulk_or_404(bulk_id))


@require_role("approver")
def decide(bulk_id: str):
    bulk = bulk_or_404(bulk_id)
    form = flask.request.form
    try:
        body = BulkDecisionBody.model_validate({"action": form.get("action", ""), "bulk_hash": form.get("bulk_hash", ""),
                                                "reason": form.get("reason", "").strip() or None})
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        name = str((error.get("loc") or ("form",))[0])
        return bulk_view(bulk, status=400, problem=f"{name}: {error.get('msg', 'invalid')}", problem_field=name)
    config = get_config()
    try:
        decide_via_api(services.repository(), config, services.secrets(), services.bigquery(), bulk.id,
                       action=body.action, hash_claimed=body.bulk_hash, user=current_principal().user,
                       reason=body.reason, publish=publisher(config))
    except ChangeNotFound as exc:
        return render.error_page(404, "Not found", str(exc))
    except ChangeConflict as exc:  # decided already or another version of the change: nothing was recorded
        return bulk_view(bulk_or_404(bulk.id), status=409, problem=str(exc), stale=True)
    except (PermanentError, TransientError) as exc:  # decided; applying met YouTube's refusal or silence
        status, message = youtube_refusal(exc)
        return bulk_view(bulk_or_404(bulk.id), status=status, problem=message)
    return redirect_to("console.catalogue_bulk", bulk_id=bulk.id, decided=body.action)


def progress(bulk_id: str):
    """The figures the page shows, for its poll: the API's answer for the change, without the lists."""
    bulk = bulk_or_404(bulk_id)
    out = BulkChangeOut.of(bulk)
    zone = reader_zone()
    return flask.jsonify({"status": out["status"], "status_text": STATUS_TEXT[bulk.status],
                          "progress": out["progress"], "waiting_for": out["waiting_for"],
                          "next_run": when_text(out_time(bulk), zone) if out_time(bulk) else None,
                          "final": bulk.status in ("done", "rejected")})


def out_time(bulk: BulkChange):
    """When the next run may go on: only an approved change has one (as the API answers next_run_at)."""
    return bulk.apply_due_at if bulk.status == "approved" else None


def bulk_view(bulk: BulkChange, *, status: int = 200, problem: str | None = None, problem_field: str | None = None,
              stale: bool = False):
    try:
        skip = max(0, min(int(flask.request.args.get("skip", "0")), MAX_VIDEOS))
    except ValueError:
        skip = 0
    repo = services.repository()
    shown_items = service.items(repo, bulk.id, skip=skip, limit=ITEMS_PAGE)
    zone = reader_zone()
    rows = [{"video_id": i.video_id, "title": i.before.title or i.video_id, "status": i.status,
             "status_text": ITEM_TEXT[i.status], "failure_reason": i.failure_reason,
             "fields": [(LABELS[name], shown(getattr(i.before, name)), shown(value))
                        for name, value in i.proposed.given().items()]} for i in shown_items]
    decided = flask.request.args.get("decided") if bulk.decided_by == current_principal().user else None
    return render.page(
        "console/catalogue_bulk.html", status=status, title="Bulk metadata change", bulk=bulk,
        status_text=STATUS_TEXT[bulk.status], operation=service.describe_operation(bulk.operation),
        selection=", ".join(f"{SELECTION_TEXT[k]} “{v}”" for k, v in bulk.selection.items() if k in SELECTION_TEXT)
        or f"{len(bulk.selection.get('video_ids') or [])} videos named by id",
        requested=when_text(bulk.requested_at, zone), decided_at=when_text(bulk.decided_at, zone) if bulk.decided_at
        else None, next_run=when_text(out_time(bulk), zone) if out_time(bulk) else None, rows=rows, skip=skip,
        page_size=ITEMS_PAGE, previous=max(skip - ITEMS_PAGE, 0) if skip else None,
        following=skip + ITEMS_PAGE if skip + ITEMS_PAGE < bulk.count else None,
        may_decide=current_principal().may("approver") and bulk.status == "pending_approval",
        live=bulk.status not in ("done", "rejected"), problem=problem, problem_field=problem_field, stale=stale,
        just_decided=decided)


def bulk_or_404(bulk_id: str) -> BulkChange:
    try:
        BulkPath(bulk_id=bulk_id)
    except pydantic.ValidationError:
        flask.abort(404, f"There is no bulk metadata change {bulk_id!r}.")
    bulk = service.get_bulk(services.repository(), bulk_id)
    if bulk is None:
        flask.abort(404, f"There is no bulk metadata change {bulk_id!r}.")
    return bulk
