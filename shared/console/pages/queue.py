"""The approval queue (/console/queue): every content item waiting for approval, oldest first with its
age, all of them or one campaign's or one account's, each shown as the review page shows it (the same
cards, media and schedule: shared/approval/templates/approval/post_preview.html, built by
shared/approval/review.py). Editors read it; approvers also approve, or reject with a reason, in place.

A decision is recorded exactly as the API's (shared/api/routes/approvals.py `decide`): the same
checks, lock and transaction (shared/approval/decision.py `decide_via_api`), bound to the content hash
the page showed, then the due posts go to their platforms (`handlers.messages.after_decision`). A refusal
is rendered from its type (shared/approval/refusals.py): a changed item names what changed.

A form POST is answered 303 back to the queue with a status message (flashed); a script
(static/queue.js, through postgate.send) gets JSON with the item's new HTML to put in its place.
Reads per request: docs/console.md#the-approval-queue.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo

import flask
from pydantic import ValidationError as ModelError
from werkzeug.exceptions import NotFound

from shared import services
from shared.accounts.service import list_accounts
from shared.api.contention import one_change_at_a_time
from shared.api.errors import ApiError, loc_to_field, refusal_error
from shared.api.routes.approvals import DOCUMENT_ID_PATTERN, DecisionIn
from shared.approval import checks, decision, pages, queue, review
from shared.approval.refusals import ContentChanged, Refusal
from shared.campaigns.service import list_campaigns
from shared.console import render
from shared.console.session import current_principal, require_role
from shared.console.urls import redirect_to, url
from shared.console.zone import reader_zone
from shared.errors import ConfigError
from shared.handlers.messages import after_decision, request_approval
from shared.model.account import Account
from shared.model.content import ContentItem
from shared.model.platform import account_platform_name
from shared.runtime.clock import as_utc, utcnow
from shared.runtime.config import get_config

SHOWN = 100  # items on the page; the count says how many more wait
TITLE_CHARS = 80
ACCOUNTS_LISTED = 1000  # all of a team's accounts (tens): the filter's choices and the cards' records
CAMPAIGNS_LISTED = 500
# The browser may reuse a media redirect this long; the signed URL it points to lives 30 minutes.
MEDIA_REDIRECT_MAX_AGE = 600
REASON_NEEDED = "A rejection needs a reason: the person who asked for approval reads it."


@dataclass(frozen=True)
class Filters:
    campaign: str | None = None
    account: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.campaign or self.account)

    def query(self) -> dict[str, str]:
        return {k: v for k, v in (("campaign", self.campaign), ("account", self.account)) if v}


@dataclass(frozen=True)
class QueueItem:
    """One item as the page shows it: waiting (cards, media, schedule) or, once decided here, the outcome."""

    content: ContentItem
    title: str
    age: str
    created_at: datetime
    when: str = ""
    cards: list[dict] = field(default_factory=list)
    media: list[dict] = field(default_factory=list)
    problem: str | None = None  # why its cards can't be shown (an account gone)
    notice: dict | None = None  # a refused decision: title, message, lines
    outcome: dict | None = None  # a decision recorded: title, message, lines


def register(bp: flask.Blueprint) -> None:
    # The review page's own template files (approval/post_preview.html), found by the console's templates.
    bp.register_blueprint(flask.Blueprint("approval_templates", __name__, template_folder=str(pages.TEMPLATES_DIR)))
    bp.add_url_rule("/queue", "queue", queue_page, methods=["GET"])
    bp.add_url_rule("/queue", "queue_decide", decide, methods=["POST"])
    bp.add_url_rule("/queue/media/<content_id>/<int:index>", "queue_media", media_preview)


def queue_page():
    return _queue_answer(_filters(flask.request.args))


def _queue_answer(filters: Filters, *, status: int = 200, invalid: dict | None = None):
    repo = services.repository()
    contents = queue.waiting_items(repo, limit=SHOWN, campaign=filters.campaign, account=filters.account)
    # Unfiltered, the layout's count of waiting items is the total (one aggregation for both).
    total = (queue.count_waiting(repo, campaign=filters.campaign, account=filters.account) if filters.active
             else render.waiting_count())
    accounts = dict(list_accounts(repo, platform=None, skip=0, limit=ACCOUNTS_LISTED)[0])
    zone, now = reader_zone(), utcnow()
    items = [_item(content, accounts, zone, now) for content in contents]
    flashed = cast("list[tuple[str, str]]", flask.get_flashed_messages(with_categories=True))
    statuses = [(kind, json.loads(said)) for kind, said in flashed]  # what the last decision answered
    summary = summary_text(total, len(items), filtered=filters.active)
    return render.page("console/queue.html", status=status, title="Approval queue", items=items, summary=summary,
                       statuses=statuses,
                       filters=filters, account_choices=_account_choices(accounts),
                       campaign_choices=_campaign_choices(repo, contents, filters), **_item_context(invalid))


def _item_context(invalid: dict | None = None) -> dict:
    """What the item template needs beyond the item (the page and the JSON answers alike)."""
    return {"may_decide": current_principal().may("approver"), "reason_max": decision.REASON_MAX_CHARS,
            "invalid": invalid or {}, "filters_query": _filters(_form()).query()}


def _item(content: ContentItem, accounts: Mapping[str, Account | None], zone: ZoneInfo, now: datetime) -> QueueItem:
    created = as_utc(content.created_at)
    item = QueueItem(content, title_of(content), age_text((now - created).total_seconds()), created,
                     when=pages.when_text(content.publish_at, zone))
    try:
        cards = review.target_cards(services.repository(), content, accounts)
    except ConfigError as exc:  # a target's account was deleted: the item stays listed, saying so
        return replace(item, problem=f"Its cards can't be shown: {exc}.")
    media = review.media_previews(content, lambda index, _: url("console.queue_media", content_id=content.id,
                                                               index=index))
    return replace(item, cards=cards, media=media)


def summary_text(total: int, shown: int, *, filtered: bool) -> str:
    """The line above the list: how many wait (in the selection), and how many more than are shown."""
    where = " in this selection" if filtered else ""
    if total == 0:
        return f"Nothing is waiting for approval{where}."
    text = f"{total} item{'s' if total != 1 else ''} waiting for approval{where}, oldest first."
    if total > shown:
        text += f" Showing the oldest {shown}; {total - shown} more wait after them."
    return text


def title_of(content: ContentItem) -> str:
    first_line = (content.caption.strip().splitlines() or [""])[0]
    title = first_line if len(first_line) <= TITLE_CHARS else first_line[: TITLE_CHARS - 1].rstrip() + "…"
    return title or "(no caption)"


def age_text(seconds: float) -> str:
    """How long an item has waited, in the largest unit that fits: "45 min", "3 h", "2 d"."""
    minutes = max(0, int(seconds // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


def _filters(source: Mapping) -> Filters:
    def value(name: str) -> str | None:
        raw = source.get(name)
        return raw.strip() or None if isinstance(raw, str) else None

    return Filters(campaign=value("campaign"), account=value("account"))


def _account_choices(accounts: Mapping[str, Account]) -> list[tuple[str, str]]:
    def label(account_id: str, account: Account) -> str:
        handle = account.get("handle")
        who = f"@{str(handle).lstrip('@')}" if handle else account_id
        return f"{account_platform_name(str(account.get('platform', '?')), account.get('buffer_service'))} · {who}"

    return sorted(((i, label(i, a)) for i, a in accounts.items()), key=lambda choice: choice[1].lower())


def _campaign_choices(repo, contents: list[ContentItem], filters: Filters) -> list[tuple[str, str]]:
    """The campaigns created here, and any an item shown (or the filter) names without a document."""
    campaigns, _ = list_campaigns(repo, status=None, skip=0, limit=CAMPAIGNS_LISTED)
    choices = {c.id: c.name if c.name == c.id else f"{c.name} ({c.id})" for c in campaigns}
    for name in [c.campaign for c in contents] + ([filters.campaign] if filters.campaign else []):
        choices.setdefault(name, name)
    return sorted(choices.items(), key=lambda choice: choice[1].lower())


# -- deciding ------------------------------------------------------------------------------------------

def _form() -> Mapping:
    request = flask.request
    if request.method != "POST":
        return request.args
    body = request.get_json(silent=True) if request.is_json else request.form
    return body if isinstance(body, Mapping) else {}


@require_role("approver")
def decide():
    form, principal = _form(), current_principal()
    content_id = form.get("content_id")
    if not isinstance(content_id, str) or not re.fullmatch(DOCUMENT_ID_PATTERN, content_id):
        return _invalid(None, "content_id", "content_id: the item's id is missing or malformed.")
    try:  # the API's own model of a decision: action, content_hash, reason and their limits
        asked = DecisionIn.model_validate({"action": form.get("action"), "content_hash": form.get("content_hash"),
                                           "reason": form.get("reason") or None})
    except ModelError as exc:
        problem = exc.errors()[0]
        name = loc_to_field(problem["loc"])
        return _invalid(content_id, name, f"{name}: {problem['msg']}")
    if asked.action == "reject" and not (asked.reason or "").strip():
        return _invalid(content_id, "reason", REASON_NEEDED)
    repo = services.repository()
    content = repo.get_content(content_id)
    if content is None:
        raise NotFound(f"There is no content item {content_id}; nothing was recorded.")
    config = get_config()
    env = checks.ReviewEnv(media_store=services.media_store(), config=config,
                           request_approval=lambda c: request_approval(config, c))
    try:
        with one_change_at_a_time(content.id):  # busy: ApiError 503, as the API answers
            outcome = decision.decide_via_api(repo, content.id, asked.action, asked.content_hash, principal.user, env,
                                              reason=asked.reason)
    except Refusal as refused:
        return _refused(content_id, refused, refusal_error(refused).status)
    except ApiError as busy:
        if busy.status != 503:
            raise
        return _answer(busy.status, content_id, {"title": "Busy, nothing recorded", "message": busy.detail, "lines": []},
                       kind="refused", still=content)
    after_decision(config, outcome)
    return _decided(outcome)


def _decided(outcome: decision.Decided):
    content, zone = outcome.content, reader_zone()
    if outcome.decision == "rejected":
        said = {"title": "Rejected", "message": pages.REJECTED_MESSAGE,
                "lines": [pages.rejected_note(content, outcome.reason)]}
    else:
        repo = services.repository()
        accounts = {p.account_id: repo.get_account(p.account_id) or {}
                    for p in [*outcome.due_posts, *outcome.scheduled_posts]}
        said = {"title": "Approved", "message": pages.approved_message(content, outcome.due_posts,
                                                                       outcome.scheduled_posts),
                "lines": pages.decision_recap(outcome.due_posts, outcome.scheduled_posts, accounts, zone)}
    return _answer(200, content.id, said, kind=outcome.decision, decided=content)


def _refused(content_id: str, refused: Refusal, status: int):
    if isinstance(refused, ContentChanged):
        said = {"title": "Not recorded: the post changed",
                "message": f"It changed after this page showed it and is now version {refused.current_version}. "
                           "Nothing was recorded: read the new version and decide again.",
                "lines": list(refused.changes)}
    else:
        said = {"title": "Not recorded", "message": refused.message, "lines": []}
    return _answer(status, content_id, said, kind="refused", still=services.repository().get_content(content_id))


def _answer(status: int, content_id: str, said: dict, *, kind: str, decided: ContentItem | None = None,
            still: ContentItem | None = None):
    """JSON for a script (the item's new HTML in `item_html`), else a status message and 303 to the queue."""
    said = {**said, "kind": kind}
    if not flask.request.is_json:
        flask.flash(json.dumps({**said, "content_id": content_id}), kind)  # shown once, by the next queue page
        return redirect_to("console.queue", **_filters(_form()).query())
    filters = _filters(_form())
    total = (queue.count_waiting(services.repository(), campaign=filters.campaign, account=filters.account)
             if filters.active else render.waiting_count())
    # The page keeps the items it listed, this one decided now unless refused: that many fewer still wait there.
    listed = min(total, SHOWN - (decided is not None))
    body: dict = {"outcome": kind, **said, "waiting": render.waiting_count(),
                  "summary": summary_text(total, listed, filtered=filters.active)}
    item = None
    if decided is not None:
        item = QueueItem(decided, title_of(decided), "", as_utc(decided.created_at), outcome=said)
    elif still is not None and still.status == queue.WAITING:  # shown again as it is now, with why
        accounts = {t.account_id: services.repository().get_account(t.account_id) for t in still.targets}
        item = replace(_item(still, accounts, reader_zone(), utcnow()), notice=said)
    elif still is not None:  # decided meanwhile (by someone else)
        item = QueueItem(still, title_of(still), "", as_utc(still.created_at), outcome=said)
    if item is not None:
        body["item_html"] = flask.render_template("console/queue_item.html", item=item, **_item_context())
    return flask.jsonify(body), status


def _invalid(content_id: str | None, name: str, message: str):
    """A field the form got wrong: 422 naming it (JSON for a script; the queue with the message beside the
    reason field, or the error page for a hidden field, for a form)."""
    if flask.request.is_json:
        return flask.jsonify({"outcome": "invalid", "field": name, "message": message}), 422
    if name == "reason" and content_id:
        return _queue_answer(_filters(_form()), status=422,
                             invalid={"content_id": content_id, "field": name, "message": message})
    return render.error_page(422, "Form not accepted", f"{message} Nothing was recorded.")


# -- media ---------------------------------------------------------------------------------------------

def media_preview(content_id: str, index: int):
    """A media file of an item, as the review page shows it: a redirect to a short-lived signed URL of
    exactly the generation under review, signed only when the browser asks (the list signs nothing)."""
    content = services.repository().get_content(content_id) if re.fullmatch(DOCUMENT_ID_PATTERN, content_id) else None
    if content is None or index >= len(content.media):
        raise NotFound("There is no such media file.")
    response = flask.redirect(review.preview_url(content.media[index], services.media_store(), get_config()), 302)
    response.headers["Cache-Control"] = f"private, max-age={MEDIA_REDIRECT_MAX_AGE}"
    return response
