"""Proposing a metadata change to one catalogue video, from the video's page
(/console/catalogue/videos/<id>): the form prefilled with the video's values as the last refresh read
them, and the video's changes (docs/console.md#catalogue-changes).

Only the fields the person changed on the form are sent, as the body of the API's POST
/youtube/catalogue/videos/{id}/metadata-changes (its MetadataChangeRequest) to the service that route
calls (shared.youtube_sync.service.create_video_change), which reads the video fresh from YouTube. The
rules are the model's and the service's; their refusals come back next to the field they name. On
success the browser goes to the change's page (/console/youtube/<change id>); approvers get their link
as for any change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import flask
import pydantic

from shared import services
from shared.api.errors import not_found
from shared.api.routes.youtube_metadata import CatalogueVideoPath
from shared.catalogue import service as catalogue
from shared.console import render
from shared.console.pages.youtube import STATUS_TEXT, change_row, field_errors, youtube_refusal
from shared.console.session import current_principal, require_role
from shared.console.urls import redirect_to
from shared.errors import PermanentError, TransientError, ValidationError
from shared.model.catalogue import CATEGORY_NAMES, PRIVACIES
from shared.runtime.clock import utcnow
from shared.runtime.config import get_config
from shared.stores.posts import Repository
from shared.youtube_sync import service
from shared.youtube_sync.model import ASSIGNABLE_CATEGORY_IDS, FIELDS, MetadataChangeRequest, values_of
from shared.youtube_sync.service import ChangeConflict, ChangeNotFound

FLAGS = ("embeddable", "public_stats_viewable", "made_for_kids", "contains_synthetic_media")
CHANGES_SHOWN = 10  # the video's newest changes on its page
HINTS = {"embeddable": "Others may embed the video on their sites.",
         "public_stats_viewable": "The watch page shows the video's statistics.",
         "made_for_kids": "What the channel declares (YouTube decides the final value).",
         "contains_synthetic_media": "Realistic altered or synthetic content is disclosed."}


@dataclass
class VideoProposal:
    """The form as typed (tags as one comma-separated text, booleans "yes"/"no", "" when YouTube did not
    say) and what was refused (a field's name, or "form" for the whole)."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


def register(bp: flask.Blueprint) -> None:
    bp.add_url_rule("/catalogue/videos/<video_id>/changes", "catalogue_propose", propose, methods=["POST"])


def shown_values(doc: dict[str, Any]) -> dict[str, str]:
    """The video's values as the form shows them, read from the catalogue's copy of YouTube's parts the
    way the service reads videos.list (values_of)."""
    current = values_of({"snippet": doc.get("snippet") or {}, "status": doc.get("status") or {}})
    shown = {"title": current.title or "", "description": current.description or "",
             "tags": ", ".join(current.tags or []), "privacy": current.privacy or "",
             "category_id": current.category_id or ""}
    for name in FLAGS:
        value = getattr(current, name)
        shown[name] = "" if value is None else ("yes" if value else "no")
    return shown


def form_context(repo: Repository, doc: dict[str, Any], proposal: VideoProposal | None = None) -> dict[str, Any]:
    """What the video's page needs for the form and the list of the video's changes."""
    changes, total = service.list_changes(repo, video_id=doc["video_id"], limit=CHANGES_SHOWN, newest_first=True)
    shown = shown_values(doc)
    categories = [(c, CATEGORY_NAMES.get(c, c)) for c in ASSIGNABLE_CATEGORY_IDS]
    if shown["category_id"] and shown["category_id"] not in ASSIGNABLE_CATEGORY_IDS:  # kept unless changed
        categories.insert(0, (shown["category_id"], f"{CATEGORY_NAMES.get(shown['category_id'], shown['category_id'])}"
                                                    " (current; not assignable)"))
    now = utcnow()
    return {"proposal": proposal or VideoProposal(shown), "may_propose": current_principal().may("editor"),
            "changes": [change_row(c, now) for c in changes], "changes_total": total, "change_privacies": PRIVACIES,
            "change_categories": categories, "labels": service.LABELS, "flags": FLAGS, "hints": HINTS,
            "status_text": STATUS_TEXT}


@require_role("editor")
def propose(video_id: str):
    try:
        CatalogueVideoPath(video_id=video_id)
    except pydantic.ValidationError:
        raise not_found("catalogue video", video_id) from None
    repo = services.repository()
    doc = catalogue.video(repo, video_id)
    if doc is None:
        raise not_found("catalogue video", video_id)
    form = flask.request.form
    proposal = VideoProposal({name: form.get(name, "").replace("\r\n", "\n") for name in FIELDS})  # browsers send CRLF
    request = request_of(proposal, shown_values(doc))
    if request is None:
        return proposal_page(repo, doc, proposal, status=422)
    config = get_config()
    try:
        change = service.create_video_change(repo, config, services.secrets(), video_id=video_id, request=request,
                                             requested_by=current_principal().user, publish=service.publisher(config))
    except ValidationError as exc:
        proposal.errors[exc.field if exc.field in FIELDS else "form"] = str(exc)
        return proposal_page(repo, doc, proposal, status=422)
    except (ChangeNotFound, ChangeConflict) as exc:  # the video or its channel's account
        proposal.errors["form"] = str(exc)
        return proposal_page(repo, doc, proposal, status=404 if isinstance(exc, ChangeNotFound) else 409)
    except (PermanentError, TransientError) as exc:
        status, message = youtube_refusal(exc)
        proposal.errors["form"] = message
        return proposal_page(repo, doc, proposal, status=status)
    return redirect_to("console.youtube_change", change_id=change.id)


def request_of(proposal: VideoProposal, shown: dict[str, str]) -> MetadataChangeRequest | None:
    """The API's request body with the fields typed differently from what the form showed; None with
    `proposal.errors` filled when nothing changed or the model refuses it."""
    given: dict[str, Any] = {}
    for name in FIELDS:
        typed = proposal.values.get(name, "")
        if name == "tags":
            tags = [t.strip() for t in typed.split(",") if t.strip()]
            if tags != [t.strip() for t in shown["tags"].split(",") if t.strip()]:
                given["tags"] = tags
        elif typed != shown.get(name, ""):
            given[name] = typed  # booleans as "yes"/"no": the model reads them
    if not given:
        proposal.errors["form"] = "Nothing to propose: every field still has the video's current value."
        return None
    try:
        return MetadataChangeRequest.model_validate(given)
    except pydantic.ValidationError as exc:
        for name, message in field_errors(exc).items():
            proposal.errors.setdefault(name if name in FIELDS else "form", message)
        return None


def proposal_page(repo: Repository, doc: dict[str, Any], proposal: VideoProposal, *, status: int):
    """The form again with what was refused (the video's facts are on its own page)."""
    return render.page("console/catalogue_proposal.html", status=status, title="Propose a change", video=doc,
                       **form_context(repo, doc, proposal))
