"""YouTube metadata changes (/console/youtube): the list of changes (status, video, requested by, age,
outcome), proposing a change to a published video, and an approver's decision on one change with each
field before and after.

Every action calls what the API's routes call (shared/api/routes/youtube_metadata.py), with the API's own
request models: shared.youtube_sync.service creates the change (reading the video's current values from
YouTube) and decides it (decide_via_api: the decision transaction the signed link uses, bound to the change
hash the page showed). Its refusals are shown as they come, next to the field they name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import flask
import pydantic

from shared import services
from shared.api.routes.youtube_metadata import ChangeListQuery, ChangePath, DecisionBody, VideoPostPath
from shared.approval.pages import when_text, zone_or_utc
from shared.console import render
from shared.console.pages.queue import age_text
from shared.console.session import current_principal, require_role
from shared.console.urls import redirect_to
from shared.errors import AuthError, PermanentError, TransientError, ValidationError
from shared.model.post import Post
from shared.runtime.clock import as_utc, utcnow
from shared.runtime.config import get_config
from shared.youtube_sync import service
from shared.youtube_sync.model import FIELDS, MetadataChange, MetadataChangeRequest
from shared.youtube_sync.service import ChangeConflict, ChangeNotFound

PAGE = 25  # changes per page of the list
VIDEOS_OFFERED = 25  # published videos offered in the proposal form, newest first
STATUS_TEXT: dict[str, str] = {
    "pending_approval": "Waiting for a decision", "approved": "Approved, being applied", "applying": "Being applied",
    "applied": "Applied", "failed": "Not applied", "rejected": "Rejected", "superseded": "Replaced by a newer change"}
# What the outcome adds to the status (applied, not applied, rejected) it comes with.
OUTCOME_TEXT = {"applied": "YouTube holds the new values", "conflict": "the video changed on YouTube meanwhile",
                "failed": "YouTube refused it", "rejected": "nothing was changed on YouTube"}
PRIVACY = ("private", "unlisted", "public")
LIST_FIELDS = ("post_id", "status", "skip", "limit")  # the API's list query (ChangeListQuery)


@dataclass(frozen=True)
class ChangeRow:
    """One change in the list."""

    id: str
    video_title: str
    video_id: str
    status: str
    status_text: str
    requested_by: str
    requested_at: datetime
    age: str
    fields: str
    outcome_text: str | None


@dataclass
class Proposal:
    """The proposal form as typed, and what was refused (field name, or "form" for the whole)."""

    post_id: str = ""
    title: str = ""
    description: str = ""
    clear_description: bool = False
    tags: str = ""
    clear_tags: bool = False
    privacy: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def register(bp: flask.Blueprint) -> None:
    bp.add_url_rule("/youtube", "youtube", list_page)
    bp.add_url_rule("/youtube/new", "youtube_new", new_page)
    bp.add_url_rule("/youtube/new", "youtube_propose", propose, methods=["POST"])
    bp.add_url_rule("/youtube/<change_id>", "youtube_change", change_page)
    bp.add_url_rule("/youtube/<change_id>/decision", "youtube_decide", decide, methods=["POST"])


# -- the list --------------------------------------------------------------------------------------
def list_page():
    given = {k: v for k, v in flask.request.args.items() if k in LIST_FIELDS and v}
    try:
        query = ChangeListQuery.model_validate({"limit": PAGE, **given})
    except pydantic.ValidationError as exc:
        name, message = next(iter(field_errors(exc).items()))
        return render.error_page(400, "Not a list this page can show", f"{name}: {message}")
    changes, total = service.list_changes(services.repository(), post_id=query.post_id, status=query.status,
                                          skip=query.skip, limit=query.limit, newest_first=True)
    now = utcnow()
    return render.page("console/youtube.html", title="YouTube metadata changes",
                       changes=[change_row(c, now) for c in changes], total=total, query=query,
                       filters=[("", "All"), *STATUS_TEXT.items()])


def change_row(change: MetadataChange, now: datetime) -> ChangeRow:
    requested = as_utc(change.requested_at)
    labels = [service.LABELS[name] for name in change.proposed.given()]
    return ChangeRow(change.id, change.before.title or "(untitled video)", change.video_id, change.status,
                     STATUS_TEXT[change.status], change.requested_by, requested,
                     age_text((now - requested).total_seconds()), ", ".join(labels),
                     OUTCOME_TEXT[change.outcome] if change.outcome else None)


# -- proposing -------------------------------------------------------------------------------------
def new_page():
    return proposal_page(Proposal(post_id=flask.request.args.get("post", "")))


@require_role("editor")
def propose():
    proposal = proposal_of(flask.request.form)
    request = request_of(proposal)
    if request is None:
        return proposal_page(proposal, status=422)
    config = get_config()
    try:
        change = service.create_change(services.repository(), config, services.secrets(),
                                       post_id=proposal.post_id, request=request,
                                       requested_by=current_principal().user, publish=service.publisher(config))
    except ValidationError as exc:
        proposal.errors[exc.field if exc.field in (*FIELDS, "post_id") else "form"] = str(exc)
        return proposal_page(proposal, status=422)
    except (ChangeNotFound, ChangeConflict) as exc:  # about the post or its video
        proposal.errors["post_id"] = str(exc)
        return proposal_page(proposal, status=404 if isinstance(exc, ChangeNotFound) else 409)
    except (PermanentError, TransientError) as exc:
        status, message = youtube_refusal(exc)
        proposal.errors["form"] = message
        return proposal_page(proposal, status=status)
    return redirect_to("console.youtube_change", change_id=change.id)


def proposal_of(form) -> Proposal:
    return Proposal(post_id=form.get("post_id", ""), title=form.get("title", ""),
                    description=form.get("description", "").replace("\r\n", "\n"),  # browsers send CRLF
                    clear_description=form.get("clear_description") == "yes", tags=form.get("tags", ""),
                    clear_tags=form.get("clear_tags") == "yes", privacy=form.get("privacy", ""))


def request_of(proposal: Proposal) -> MetadataChangeRequest | None:
    """The API's request body from the form (an empty field is left as it is); None with
    `proposal.errors` filled when a rule refuses it. Tags are typed separated by commas, which no tag
    may contain."""
    try:
        VideoPostPath(post_id=proposal.post_id)
    except pydantic.ValidationError:
        proposal.errors["post_id"] = "Choose a published YouTube video."
    values: dict[str, object] = {}
    if proposal.title:
        values["title"] = proposal.title
    if proposal.clear_description and proposal.description:
        proposal.errors["description"] = "Either type a new description or clear it, not both."
    elif proposal.clear_description or proposal.description:
        values["description"] = proposal.description
    tags = [t.strip() for t in proposal.tags.split(",") if t.strip()]
    if proposal.clear_tags and tags:
        proposal.errors["tags"] = "Either type new tags or remove them all, not both."
    elif proposal.clear_tags or tags:
        values["tags"] = tags
    if proposal.privacy:
        values["privacy"] = proposal.privacy
    try:
        request = MetadataChangeRequest.model_validate(values)
    except pydantic.ValidationError as exc:
        for name, message in field_errors(exc).items():
            proposal.errors.setdefault(name if name in FIELDS else "form", message)
        return None
    return None if proposal.errors else request


def field_errors(exc: pydantic.ValidationError) -> dict[str, str]:
    """Pydantic's refusals by the request field they name ("form" for the whole), the first per field."""
    found: dict[str, str] = {}
    for error in exc.errors():
        loc = error.get("loc") or ()
        name = str(loc[0]) if loc else "form"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if name == "tags" and len(loc) > 1 and isinstance(loc[1], int):
            message = f"tag {loc[1] + 1}: {message}"
        found.setdefault(name, message)
    return found


def proposal_page(proposal: Proposal, *, status: int = 200):
    videos = services.repository().page_posts({"status": "published", "platform": "youtube"}, 0, VIDEOS_OFFERED)
    if proposal.post_id and proposal.post_id not in {v.id for v in videos}:
        named = services.repository().get_post(proposal.post_id) if _valid_post_id(proposal.post_id) else None
        if named is not None and named.platform == "youtube":
            videos.append(named)
    return render.page("console/youtube_new.html", status=status, title="Propose a YouTube change",
                       proposal=proposal, videos=[(v.id, video_label(v)) for v in videos], privacy=PRIVACY,
                       labels=service.LABELS)


def video_label(post: Post) -> str:
    title = post.target.title or post.platform_ids.get("video_id") or post.id
    published = f", published {as_utc(post.published_at):%d %b %Y}" if post.published_at else ""
    return f"{title} ({post.account_id}{published})"


def _valid_post_id(post_id: str) -> bool:
    try:
        VideoPostPath(post_id=post_id)
    except pydantic.ValidationError:
        return False
    return True


# -- one change and its decision ------------------------------------------------------------------
def change_page(change_id: str):
    return change_view(_change_or_404(change_id))


@require_role("approver")
def decide(change_id: str):
    change = _change_or_404(change_id)
    form = flask.request.form
    try:
        body = DecisionBody.model_validate({"action": form.get("action", ""), "change_hash": form.get("change_hash", ""),
                                            "reason": form.get("reason", "").strip() or None})
    except pydantic.ValidationError as exc:
        name, message = next(iter(field_errors(exc).items()))
        return change_view(change, status=400, problem=f"{name}: {message}", field=name)
    config = get_config()
    try:
        service.decide_via_api(services.repository(), config, services.secrets(), services.bigquery(), change.id,
                               action=body.action, change_hash_claimed=body.change_hash,
                               user=current_principal().user, reason=body.reason, publish=service.publisher(config))
    except ChangeNotFound as exc:
        return render.error_page(404, "Not found", str(exc))
    except ChangeConflict as exc:  # stale: decided, superseded or another version; nothing was recorded
        return change_view(_change_or_404(change.id), status=409, problem=str(exc), stale=True)
    except (PermanentError, TransientError) as exc:  # decided; applying it met YouTube's refusal or silence
        status, message = youtube_refusal(exc)
        return change_view(_change_or_404(change.id), status=status, problem=message)
    return redirect_to("console.youtube_change", change_id=change.id, decided=body.action)


def change_view(change: MetadataChange, *, status: int = 200, problem: str | None = None, field: str | None = None,
                stale: bool = False):
    """The change with each field before and after; the decision forms for an approver while it waits.
    A refused decision shows why, and what changed: the newer change that replaced it, or who decided."""
    newer = None
    if stale and change.superseded_by:
        newer = service.get_change(services.repository(), change.superseded_by)
    given = change.proposed.given()
    zone = zone_or_utc(flask.request.args.get("tz") or flask.request.cookies.get("tz"))
    decided = flask.request.args.get("decided") if change.decided_by == current_principal().user else None
    return render.page(
        "console/youtube_change.html", status=status, title="YouTube metadata change", change=change,
        rows=service.describe(change), unchanged=[label for name, label in service.LABELS.items() if name not in given],
        status_text=STATUS_TEXT[change.status], outcome_text=OUTCOME_TEXT.get(change.outcome or ""),
        requested=when_text(change.requested_at, zone), decided_at=when_text(change.decided_at, zone)
        if change.decided_at else None, age=age_text((utcnow() - as_utc(change.requested_at)).total_seconds()),
        may_decide=current_principal().may("approver") and change.status == "pending_approval",
        problem=problem, problem_field=field, stale=stale, newer=newer,
        newer_rows=service.describe(newer) if newer else [], just_decided=decided)


def _change_or_404(change_id: str) -> MetadataChange:
    try:
        ChangePath(change_id=change_id)
    except pydantic.ValidationError:
        flask.abort(404, f"There is no metadata change {change_id!r}.")
    change = service.get_change(services.repository(), change_id)
    if change is None:
        flask.abort(404, f"There is no metadata change {change_id!r}.")
    return change


def youtube_refusal(exc: PermanentError | TransientError) -> tuple[int, str]:
    """YouTube's answer (or silence) as the page's status and sentence, as the API answers it."""
    if isinstance(exc, AuthError):
        return 409, f"{exc}; reconnect the YouTube account on the Accounts page."
    if isinstance(exc, TransientError):
        return 503, f"YouTube did not answer in time: {exc}. Try again in a minute."
    return 422, f"YouTube refused: {exc}"

