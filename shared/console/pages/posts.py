"""A post's page: where it stands and how it got there (its history with the reasons: who approved,
retries, an outcome being looked up, failures in the platform's words), its link on the platform,
its latest numbers with a trend chart, and cancel / reschedule / edit by the API's rules.

Changes call what the API's routes call (shared/posts/service.py, each under the same one-change-
at-a-time gate), after the API's own request models (`RescheduleIn`, `PostPatch`) read the form;
refusals are shown next to the field they name. The page follows the post live: static/post-live.js
listens on `contents/<id>/events`, the API's live-status stream served under the console's session
(the same generator, in the same per-user and per-instance stream slots)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import flask
from pydantic import ValidationError as RequestRefused

from shared import services
from shared.analytics.charts import count_text, rate_text
from shared.analytics.post_trend import TrendChart, post_snapshots, trend_chart
from shared.api.contention import one_change_at_a_time
from shared.api.errors import ApiError, loc_to_field, not_found
from shared.api.routes.events import event_stream
from shared.api.routes.posts import ContentPath, PostPatch, PostPath, RescheduleIn
from shared.console import render
from shared.console.post_text import account_label, short_when, status_label, when_text
from shared.console.session import current_principal, require_role
from shared.console.urls import redirect_to
from shared.console.zone import asked_zone, local, moment_of, reader_zone, zone_named
from shared.errors import IllegalTransition, ValidationError
from shared.handlers.messages import request_approval
from shared.model.content import ContentItem
from shared.model.platform import display_name
from shared.model.post import Post, content_id_of
from shared.posts.service import OPEN, PostEdit, cancel_post, edit_post, reschedule_post
from shared.runtime.config import get_config
from shared.runtime.logging import log_event

log = logging.getLogger("postgate.console")

METRICS = ("views", "likes", "comments", "shares", "saves", "reach", "impressions")
DONE = {"cancelled": "The post is cancelled.", "rescheduled": "The post has its new time.",
        "edited": "Saved: the new version waits for approval.", "unchanged": "Nothing changed: the text was the same."}
# What a step of the history says when its transition carries no reason.
STEP_TEXT = {
    "pending_approval": "Sent for approval",
    "approved": "Approved",
    "scheduled": "Scheduled for its planned time",
    "queued": "Queued to be published",
    "publishing": "Sending to the platform",
    "processing": "The platform is processing it",
    "published": "Published",
    "rejected": "Rejected",
    "cancelled": "Cancelled",
    "failed": "Failed",
}


@dataclass(frozen=True)
class Step:
    at: str  # ISO 8601
    when: str
    status: str  # the status it moved to
    label: str
    text: str
    note: bool  # no status change (a new time, ...)


@dataclass(frozen=True)
class Metric:
    name: str
    value: str


def register(bp: flask.Blueprint) -> None:
    bp.add_url_rule("/posts/<post_id>", "post", post_page)
    bp.add_url_rule("/posts/<post_id>/cancel", "post_cancel", cancel, methods=["POST"])
    bp.add_url_rule("/posts/<post_id>/reschedule", "post_reschedule", reschedule, methods=["POST"])
    bp.add_url_rule("/posts/<post_id>/edit", "post_edit", edit, methods=["POST"])
    bp.add_url_rule("/contents/<content_id>/events", "content_events", content_events)


def post_page(post_id: str):
    done = flask.request.args.get("done")
    return _page(_post(post_id), reader_zone(), done=DONE.get(done or ""))


# -- the page -------------------------------------------------------------------------------------

def _post(post_id: str) -> Post:
    try:
        PostPath(post_id=post_id)  # the API's rule for a post id
    except RequestRefused:
        raise not_found("post", post_id) from None
    post = services.repository().get_post(post_id)
    if post is None:
        raise not_found("post", post_id)
    return post


def _page(post: Post, zone: ZoneInfo, *, status: int = 200, done: str | None = None, errors: dict | None = None,
          form: dict | None = None):
    repo = services.repository()
    content = repo.get_content(post.content_id)
    account = repo.get_account(post.account_id)
    caption = content.caption if content else ""
    tags = " ".join(f"#{t}" for t in content.hashtags) if content else ""
    values = {"scheduled_at": _local_input(post.scheduled_at, zone), "caption": caption, "hashtags": tags,
              **(form or {})}
    return render.page(
        "console/post.html", status=status, title=f"{display_name(post.platform)} post · {status_label(post.status)}",
        post=post, content=content, media=_media(content), platform_name=display_name(post.platform),
        account=account_label(post.account_id, account), status_text=status_label(post.status),
        standing=_standing(post, zone), steps=_steps(post, content, zone), zone=zone.key, tz=asked_zone(),
        scheduled=when_text(post.scheduled_at, zone) if post.scheduled_at else None,
        published=when_text(post.published_at, zone) if post.published_at else None,
        local_day=local(post.scheduled_at or post.created_at, zone).date(),
        metrics=_metrics(post), metrics_at=when_text(post.metrics_fetched_at, zone) if post.metrics_fetched_at else None,
        trend=_trend(post, zone), open=post.status in OPEN, done=done, errors=errors or {}, values=values)


def _standing(post: Post, zone: ZoneInfo) -> str:
    """Where the post stands now, in a sentence."""
    if post.status == "processing" and post.unconfirmed:
        return ("Outcome unknown, looking it up: the platform did not confirm the upload, so the post is being "
                "looked up on the platform (it is never sent twice).")
    if post.status == "processing":
        return "The platform is processing the upload; its status is checked until it is live."
    if post.status == "queued" and post.next_attempt_at is not None:
        tries = f" after {post.attempt_count} attempt{'s' if post.attempt_count != 1 else ''}" if post.attempt_count else ""
        return f"Waiting{tries}: the next try is not before {when_text(post.next_attempt_at, zone)}."
    if post.status == "failed":
        kind = f" ({post.fail_class})" if post.fail_class else ""
        return f"Failed{kind}: {post.fail_reason or 'no reason was recorded'}"
    if post.status in ("rejected", "cancelled"):  # the reason says who (and, for a rejection, why)
        why = post.history[-1].reason if post.history and post.history[-1].reason else post.status
        return why[:1].upper() + why[1:] + "."
    if post.status == "scheduled" and post.scheduled_at:
        return f"Goes out at {when_text(post.scheduled_at, zone)}."
    if post.status == "pending_approval":
        return "Waiting for an approver."
    if post.status == "published" and post.published_at:
        return f"Published at {when_text(post.published_at, zone)}."
    return status_label(post.status) + "."


def _steps(post: Post, content: ContentItem | None, zone: ZoneInfo) -> list[Step]:
    """The post's creation, then every entry of its history (status changes and notes), oldest first."""
    by = f" by {content.requested_by}" if content else ""
    steps = [Step(at=post.created_at.isoformat(), when=when_text(post.created_at, zone), status="draft", label="Created",
                  text=f"Written{by}", note=False)]
    for t in post.history:
        note = t.from_status == t.to_status
        text = t.reason or ("Changed" if note else STEP_TEXT.get(t.to_status, status_label(t.to_status)))
        steps.append(Step(at=t.at.isoformat(), when=when_text(t.at, zone), status=t.to_status,
                          label="Note" if note else status_label(t.to_status), text=text, note=note))
    return steps


def _media(content: ContentItem | None) -> list[str]:
    return [f"{m.kind}: {m.name}" for m in content.media] if content else []


def _metrics(post: Post) -> list[Metric]:
    numbers = post.metrics or {}
    shown = [Metric(name.capitalize(), count_text(int(value))) for name in METRICS
             if (value := numbers.get(name)) is not None]
    rate = numbers.get("engagement_rate")
    if rate is not None:
        shown.append(Metric("Engagement rate", rate_text(float(rate))))
    return shown


def _trend(post: Post, zone: ZoneInfo) -> TrendChart | None:
    """The chart of the post's snapshots (one BigQuery query), for a published post with numbers."""
    if post.status != "published" or post.metrics_fetched_at is None:
        return None
    try:
        snapshots = post_snapshots(services.bigquery(), get_config().project, post.id,
                                   since=post.published_at or post.created_at)
    except Exception as exc:  # noqa: BLE001 - the page stands without its chart; the numbers above are Firestore's
        log_event(log, logging.WARNING, "post trend unavailable", post_id=post.id, error=type(exc).__name__)
        return None
    return trend_chart(snapshots, lambda at: short_when(at, zone))


def _local_input(moment: datetime | None, zone: ZoneInfo) -> str:
    """A time as <input type="datetime-local"> shows it."""
    return f"{local(moment, zone):%Y-%m-%dT%H:%M}" if moment else ""


# -- changes --------------------------------------------------------------------------------------

@require_role("editor")
def cancel(post_id: str):
    post = _post(post_id)
    try:
        with one_change_at_a_time(content_id_of(post_id)):
            cancelled = cancel_post(services.repository(), post_id, by=current_principal().user)
    except IllegalTransition as refused:
        return _refused(post, {"cancel": str(refused)}, 409)
    if cancelled is None:
        raise not_found("post", post_id)
    return _done(post_id, "cancelled")


@require_role("editor")
def reschedule(post_id: str):
    post = _post(post_id)
    form = flask.request.form
    typed = form.get("scheduled_at", "")
    try:
        zone = zone_named(form.get("tz", "UTC"))
        body = RescheduleIn(scheduled_at=moment_of(typed, zone, field="scheduled_at"))  # the API's request model
    except ApiError as refused:  # the form's zone (a hidden field) is not one
        return _refused(post, {"scheduled_at": refused.detail}, 400, scheduled_at=typed)
    except ValueError as refused:
        return _refused(post, _request_errors(refused, "scheduled_at"), 400, scheduled_at=typed)
    try:
        with one_change_at_a_time(content_id_of(post_id)):
            moved = reschedule_post(services.repository(), post_id, body.scheduled_at, by=current_principal().user)
    except ValidationError as refused:
        return _refused(post, {refused.field or "scheduled_at": str(refused)}, 422, scheduled_at=typed)
    except IllegalTransition as refused:
        return _refused(post, {"scheduled_at": str(refused)}, 409, scheduled_at=typed)
    if moved is None:
        raise not_found("post", post_id)
    return _done(post_id, "rescheduled")


@require_role("editor")
def edit(post_id: str):
    post = _post(post_id)
    form = flask.request.form
    # Browsers send a textarea's line breaks as CRLF; the caption keeps the LF it was written with.
    caption = form.get("caption", "").replace("\r\n", "\n")
    tags_text = form.get("hashtags", "")
    typed = {"caption": caption, "hashtags": tags_text}
    try:
        patch = PostPatch(caption=caption, hashtags=tags_text.replace(",", " ").split())  # the API's request model
    except ValueError as refused:
        return _refused(post, _request_errors(refused, "caption"), 400, **typed)
    repo, config = services.repository(), get_config()
    before = repo.get_content(post.content_id)
    try:
        with one_change_at_a_time(content_id_of(post_id)):
            edited = edit_post(repo, post_id, PostEdit(caption=patch.caption, hashtags=patch.hashtags),
                               by=current_principal().user, media_store=services.media_store(),
                               media_bucket=config.media_bucket,
                               ask_approval=lambda content: request_approval(config, content))
    except ValidationError as refused:
        return _refused(post, _service_errors(refused), 422, **typed)
    except IllegalTransition as refused:
        return _refused(post, {"caption": str(refused)}, 409, **typed)
    if edited is None:
        raise not_found("post", post_id)
    return _done(post_id, "unchanged" if before is not None and edited.content_hash == before.content_hash else "edited")


def _done(post_id: str, what: str):
    return redirect_to("console.post", post_id=post_id, done=what, tz=asked_zone())


def _refused(post: Post, errors: dict[str, str], status: int, **typed: str):
    """The page again, the refusal next to the field it names and what was typed kept."""
    current = services.repository().get_post(post.id) or post
    zone = reader_zone()
    return _page(current, zone, status=status, errors=errors, form=typed)


def _request_errors(refused: ValueError, default: str) -> dict[str, str]:
    """A request model's or a form reader's refusal, by the field it names."""
    if isinstance(refused, RequestRefused):
        errors: dict[str, str] = {}
        for problem in refused.errors():
            field = loc_to_field(problem["loc"][:1]) or default
            errors.setdefault(field, f"{field}: {problem['msg']}")
        return errors
    return {default: str(refused)}


def _service_errors(refused: ValidationError) -> dict[str, str]:
    """A service's refusal; every problem of a refused copy (`targets[0].caption` goes by its caption)."""
    problems = getattr(refused, "problems", None) or [{"field": refused.field or "caption", "message": str(refused)}]
    errors: dict[str, str] = {}
    for problem in problems:
        field = "hashtags" if "hashtags" in problem["field"] else "caption"
        errors[field] = "; ".join(filter(None, [errors.get(field), f"{problem['field']}: {problem['message']}"]))
    return errors


# -- live status ----------------------------------------------------------------------------------

def content_events(content_id: str):
    """The API's live-status stream of a content item (GET /contents/{id}/events) for a signed-in
    person: the same generator, in the same stream slots (429 over the user's share, 503 over the
    instance's)."""
    try:
        ContentPath(content_id=content_id)
    except RequestRefused:
        raise not_found("content", content_id) from None
    repo = services.repository()
    if repo.get_content(content_id) is None:
        raise not_found("content", content_id)
    return event_stream(repo, content_id, current_principal().user)
