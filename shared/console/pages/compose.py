"""The composer (/console/compose): own copy or an AI brief, the target accounts and their choices,
media uploaded from the browser straight to the media bucket, the schedule in the person's time zone;
sent for approval as POST /posts and POST /posts/generate send it (the same models, services and
Idempotency-Key handling). compose.js checks the form while it is typed (POST compose/check: each
target platform's own validate and preview) and uploads files through V4 signed URLs (POST
compose/upload); without JavaScript the form posts whole and "Check" shows the same answer.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import flask
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError
from werkzeug.datastructures import MultiDict

from shared import services
from shared.accounts.service import effective_status, list_accounts
from shared.api.errors import ApiError, loc_to_field
from shared.api.idempotency import idempotent
from shared.approval.review import target_cards
from shared.campaigns.service import list_campaigns
from shared.console import render
from shared.console.composer import (
    MODES,
    AccountChoice,
    Form,
    Problem,
    Request,
    account_choices,
    as_request,
    control_id,
    judge_schedule,
    option_label,
    place,
    read_form,
)
from shared.console.session import current_principal, require_role
from shared.console.urls import redirect_to
from shared.content.own_copy import CopyRefused, OwnCopy, check_copy, create_from_copy
from shared.content.targets import account_or_none
from shared.errors import ValidationError
from shared.handlers.generate import generate
from shared.handlers.messages import request_approval
from shared.model.account import Account
from shared.runtime.config import get_config

UPLOAD_TTL_SECONDS = 900  # long enough for a large video on a slow line; the URL names one fresh object
UPLOAD_MAX_BYTES = 1024 ** 3  # one PUT from a browser; larger files go to the bucket with gcloud storage cp
CAMPAIGNS_SHOWN = 100
ACCOUNTS_SHOWN = 500
CHECK_ID = "c-composer-check"  # the id of the never-stored item a check builds


@dataclass
class TargetCheck:
    """One chosen target as the checks panel shows it."""

    account: AccountChoice
    problems: list[Problem]
    judged: bool
    card: dict | None


@dataclass
class Checks:
    mode: str
    problems: list[Problem]
    targets: list[TargetCheck]
    scheduled: str | None
    media_pending: bool  # media problems kept the platforms from judging the targets

    def by_control(self) -> dict[str, list[str]]:
        placed: dict[str, list[str]] = {}
        for problem in self.problems:
            if problem.control:
                placed.setdefault(problem.control, []).append(problem.message)
        return placed

    def as_json(self) -> dict:
        return {"ok": not self.problems,
                "problems": [{"field": p.field, "message": p.message, "control": p.control,
                              "id": control_id(p.control) if p.control else None, "account_id": p.account}
                             for p in self.problems],
                "targets": [{"account_id": t.account.id, "platform": t.account.platform, "judged": t.judged,
                             "problems": [p.message for p in t.problems], "preview": t.card} for t in self.targets],
                "scheduled": self.scheduled}


class UploadIn(BaseModel):
    """The file a browser is about to upload."""

    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=300)
    content_type: str = Field(pattern=r"^(image|video)/[A-Za-z0-9][A-Za-z0-9.+-]{0,99}$", max_length=106,
                              description="an image or a video (the platforms judge which kinds they take)")
    size: int = Field(ge=1, le=UPLOAD_MAX_BYTES)


def register(bp: flask.Blueprint) -> None:
    bp.add_url_rule("/compose", "compose", compose_page, methods=["GET"])
    bp.add_url_rule("/compose", "compose_submit", submit, methods=["POST"])
    bp.add_url_rule("/compose/check", "compose_check", check, methods=["POST"])
    bp.add_url_rule("/compose/upload", "compose_upload", upload, methods=["POST"])


@require_role("editor")
def compose_page():
    mode = flask.request.args.get("mode", "own")
    form = read_form(MultiDict({"mode": mode if mode in MODES else "own"}), default_tz=_default_tz(), key=_new_key())
    return _page(form, _all_accounts(), checks=None)


@require_role("editor")
def submit():
    """Send for approval (or, with action=check, show the checks): 303 to the queue, or the form again
    with every problem next to its field (422)."""
    user = current_principal().user
    form = read_form(flask.request.form, default_tz=_default_tz(), key=_new_key())
    accounts = _chosen_accounts(form)
    request = as_request(form, user=user, accounts=accounts)
    if flask.request.form.get("action") == "check":
        return _page(form, _all_accounts(), checks=_judge(form, request, accounts, user))
    problems = request.problems + (judge_schedule(request, form) if form.mode == "brief" else [])
    content = None
    if request.body is not None and not problems:
        content, problems = _send(form, request.body, accounts, user)
    if content is None:
        checks = _judge(form, request, accounts, user)
        checks.problems = _merged(problems, checks.problems)
        return _page(form, _all_accounts(), checks=checks, status=422)
    return redirect_to("console.queue", _anchor=f"item-{content.id}")


@require_role("editor")
def check():
    """The form as it stands, judged: JSON with every problem (by field, control and target), each
    target's preview, the schedule in UTC, and the checks panel's HTML."""
    user = current_principal().user
    form = read_form(flask.request.form, default_tz=_default_tz(), key=_new_key())
    accounts = _chosen_accounts(form)
    checks = _judge(form, as_request(form, user=user, accounts=accounts), accounts, user)
    body = checks.as_json()
    body["html"] = flask.render_template("console/compose_checks.html", checks=checks)
    return flask.jsonify(body)


@require_role("editor")
def upload():
    """A V4 signed URL the browser PUTs one file to, in the media bucket; JSON {url, method, headers,
    uri, kind, expires_in}. 422 naming the field for a file the composer does not take."""
    try:
        wanted = UploadIn.model_validate(flask.request.get_json(silent=True) or {})
    except PydanticError as exc:
        errors = [{"field": loc_to_field(e["loc"]) or "body", "message": e["msg"]}
                  for e in exc.errors(include_url=False, include_input=False)]
        return flask.jsonify({"detail": f"{errors[0]['field']}: {errors[0]['message']}", "field": errors[0]["field"],
                              "errors": errors}), 422
    config = get_config()
    signed = services.media_store().signed_upload(
        config.media_bucket, filename=wanted.filename, content_type=wanted.content_type, size=wanted.size,
        ttl_seconds=UPLOAD_TTL_SECONDS, endpoint=config.signed_url_endpoint, key_file=config.url_signing_key_file)
    return flask.jsonify({"url": signed.url, "method": signed.method, "headers": signed.headers, "uri": signed.uri,
                          "kind": wanted.content_type.split("/", 1)[0], "expires_in": signed.expires_in_seconds})


# -- sending -----------------------------------------------------------------------------------------

def _send(form: Form, body: BaseModel, accounts: dict[str, AccountChoice], user: str):
    """(the new item, []) or (None, the problems): what POST /posts or POST /posts/generate does."""
    repo, config = services.repository(), get_config()
    operation = "posts.create" if form.mode == "own" else "posts.generate"
    try:
        with idempotent(repo, user=user, operation=operation, key=form.key, body=body) as key:
            if isinstance(body, OwnCopy):
                content, created = create_from_copy(body, requested_by=user, repo=repo,
                                                    media_store=services.media_store(),
                                                    media_bucket=config.media_bucket, idempotency_key=key)
                if created:
                    request_approval(config, content)
            else:
                payload = body.model_dump(mode="json")
                content = generate(payload, idempotency_key=key)  # asks the approvers itself
    except CopyRefused as refused:
        return None, [place(p["field"], p["message"], form, accounts) for p in refused.problems]
    except ValidationError as exc:
        return None, [place(exc.field or "body", str(exc) + (f" (limit: {exc.limit})" if exc.limit else ""), form,
                            accounts)]
    except ApiError as exc:  # the Idempotency-Key: this form was sent before with other values
        if exc.status != 422:
            raise
        return None, [Problem(exc.field or "body", f"{exc.detail} Open the composer again to send a new post.")]
    return content, []


# -- checking -----------------------------------------------------------------------------------------

def _judge(form: Form, request: Request, accounts: dict[str, AccountChoice], user: str) -> Checks:
    """Every problem of the form and each chosen target's own, with a preview of each target that
    passes its platform's rules (own copy); a brief's text is written at sending, and judged then."""
    problems = list(request.problems)
    per_target: dict[str, list[Problem]] = {}
    previews: dict[str, dict] = {}
    judged: set[str] = set()
    media_pending = False
    if form.mode == "brief":
        problems += judge_schedule(request, form)
    elif isinstance(request.judgeable, OwnCopy):
        copy = request.judgeable
        records = {t.account_id: _record_of(accounts, t.account_id) for t in copy.targets}
        checked = check_copy(copy, content_id=CHECK_ID, requested_by=user, repo=services.repository(),
                             media_store=services.media_store(), media_bucket=get_config().media_bucket,
                             accounts=records)
        ids = [t.account_id for t in copy.targets]
        problems += [place(p["field"], p["message"], form, accounts, ids) for p in checked.problems]
        media_pending = bool(checked.problems)
        for account_id, found in zip(ids, checked.target_problems):
            placed = [place(p["field"], p["message"], form, accounts, ids) for p in found]
            for problem in placed:
                problem.account = account_id
            problems += placed
            if not media_pending:
                judged.add(account_id)
        passing = [t for t in checked.content.targets if t.account_id in judged and
                   not any(p.account == t.account_id for p in problems)]
        if passing:
            try:
                cards = target_cards(services.repository(), checked.content.model_copy(update={"targets": passing}),
                                     accounts=records)
            except ValidationError:
                cards = []
            previews = {card["account_id"]: card for card in cards}
    for problem in problems:
        if problem.account:
            per_target.setdefault(problem.account, []).append(problem)
    targets = [TargetCheck(accounts[a], per_target.get(a, []), a in judged, previews.get(a))
               for a in form.targets if a in accounts]
    return Checks(form.mode, problems, targets, request.scheduled, media_pending)


def _record_of(accounts: dict[str, AccountChoice], account_id: str) -> Account | None:
    """The account record _chosen_accounts read (None: no such account)."""
    choice = accounts.get(account_id)
    return choice.record if choice is not None else None


def _merged(first: list[Problem], second: list[Problem]) -> list[Problem]:
    seen = {(p.field, p.message) for p in first}
    return first + [p for p in second if (p.field, p.message) not in seen]


# -- reading ----------------------------------------------------------------------------------------

def _all_accounts() -> list[AccountChoice]:
    """Every account (one query: accounts are tens), offered as targets."""
    rows, _ = list_accounts(services.repository(), platform=None, skip=0, limit=ACCOUNTS_SHOWN)
    return account_choices(rows, effective_status)


def _chosen_accounts(form: Form) -> dict[str, AccountChoice]:
    """The chosen targets' accounts, one document each, as the services look them up."""
    repo = services.repository()
    found = {a: account_or_none(repo, a) for a in form.targets}
    rows = [(a, record) for a, record in found.items() if record is not None]
    return {choice.id: choice for choice in account_choices(rows, effective_status)}


def _default_tz() -> str:
    """The zone a form is in until the browser says its own (compose.js): ?tz=, else UTC."""
    return flask.request.args.get("tz") or "UTC"


def _new_key() -> str:
    return secrets.token_urlsafe(24)


def _page(form: Form, accounts: list[AccountChoice], *, checks: Checks | None, status: int = 200):
    flask.g.console_media_uploads = True  # the CSP lets this page PUT to the media bucket's origin
    campaigns, _ = list_campaigns(services.repository(), status=None, skip=0, limit=CAMPAIGNS_SHOWN)
    chosen = set(form.targets)
    title = "Compose" if form.mode == "own" else "Compose from a brief"
    return render.page("console/compose.html", status=status, title=title, form=form, accounts=accounts,
                       chosen=chosen, campaigns=[c.id for c in campaigns], checks=checks,
                       errors=checks.by_control() if checks else {}, option_label=option_label,
                       control_id=control_id, upload_max_bytes=UPLOAD_MAX_BYTES)
