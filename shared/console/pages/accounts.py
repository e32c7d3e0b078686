"""The accounts page: every platform account posts go to, with its status (connected, needs reconnecting
and why, not connected; dry run), the posting caps publishing applies to it, and Connect and Test.

What each account shows is the API's own answer for it (`Account.of` in shared/api/routes/accounts.py:
status, reason, caps as shared/stores/posting_caps.py applies them). Connect and Test call what
POST /accounts/{id}/connect and POST /accounts/{id}/test call, under the API's role rule (editor).

Connect: a POST answered with 303 to the platform's consent page. The platform sends the browser to the
API's OAuth callback, which sends it back here with `?connect=<state id>`; this page then shows the
outcome noted on that state to the person who started it. Browsers hold the redirect after a form
submission to the page's form-action, so this page allows the consent pages' origins there.
Test: a POST; accounts.js shows the answer (JSON) in place; without script the page comes back with
the result under the account (kept in the session for that one view).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import flask

from shared import services
from shared.accounts import oauth, service
from shared.accounts.connection import test_connection
from shared.accounts.service import ACCOUNT_ID_PATTERN, AccountError
from shared.api.errors import ApiError
from shared.api.routes.accounts import Account
from shared.console import render
from shared.console.pages.queue import age_text
from shared.console.security import FORM_TARGETS
from shared.console.session import current_principal, require_role
from shared.console.urls import redirect_to
from shared.model.account import Account as AccountRecord
from shared.model.platform import account_platform_name
from shared.runtime.clock import as_utc, utcnow
from shared.runtime.config import get_config
from shared.stores.posts import Repository

SHOWN = 500  # accounts are tens; list_accounts reads them all in one query anyway
STATUS_TEXT = {"connected": "Connected", "needs_reconnect": "Needs reconnecting", "not_connected": "Not connected"}
# Accounts that need someone first.
STATUS_ORDER = {"needs_reconnect": 0, "not_connected": 1, "connected": 2}
TEST_TEXT = {"ok": "Works", "needs_reconnect": "Needs reconnecting", "error": "Could not check"}
TESTED = "console_account_test"  # session key: the last Test answer without script, shown once
_WINDOW_UNITS = ((7 * 86400, "week"), (86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


@dataclass(frozen=True)
class Cap:
    limit: int
    window: str  # "day", "15 minutes"
    name: str


@dataclass(frozen=True)
class Row:
    account: Account
    platform: str  # display name ("Buffer · X" for a Buffer channel)
    status_text: str
    caps: list[Cap]
    connected_ago: str | None
    connects: bool = True  # through the platform's sign-in page (a Buffer channel: its configuration's key)


@dataclass(frozen=True)
class Tested:
    account_id: str
    result: str
    result_text: str
    detail: str


def register(bp: flask.Blueprint) -> None:
    bp.add_url_rule("/accounts", "accounts", accounts_page)
    bp.add_url_rule("/accounts/<account_id>/connect", "accounts_connect", connect, methods=["POST"])
    bp.add_url_rule("/accounts/<account_id>/test", "accounts_test", test, methods=["POST"])


def accounts_page(refused: dict[str, str] | None = None, status: int = 200):
    """`refused`: {account id: why Connect was refused}, shown under that account."""
    repo, config = services.repository(), get_config()
    records, _ = service.list_accounts(repo, platform=None, skip=0, limit=SHOWN)
    rows = sorted((_row(account_id, record) for account_id, record in records),
                  key=lambda row: (STATUS_ORDER.get(row.account.status, 9), row.account.id))
    flask.g.setdefault(FORM_TARGETS, tuple(sorted({oauth.authorize_origin(config, r) for _, r in records
                                                   if oauth.connects_by_sign_in(r["platform"])})))
    tested = flask.session.pop(TESTED, None)
    return render.page("console/accounts.html", status=status, title="Accounts", rows=rows,
                       may_connect=current_principal().may("editor"), outcome=_connect_outcome(repo),
                       tested=Tested(**tested) if isinstance(tested, dict) else None, refused=refused or {})


@require_role("editor")
def connect(account_id: str):
    """What POST /accounts/{id}/connect does, then the browser goes to the platform's consent page."""
    _check_account_id(account_id)
    repo, config = services.repository(), get_config()
    try:
        account = service.require_account(repo, account_id)
        started = oauth.start_connect(repo, services.secrets(), config, account_id=account_id, account=account,
                                      user=current_principal().user, redirect_after=None, now=utcnow(),
                                      return_to=flask.url_for("console.accounts"))
    except AccountError as exc:
        raise ApiError(exc.status, str(exc), field=exc.field) from None
    except oauth.ConnectError as exc:  # not set up (503), a platform refusing (4xx): said under the account
        return accounts_page({account_id: str(exc)}, status=exc.status)
    return flask.redirect(started.authorize_url, 303)


@require_role("editor")
def test(account_id: str):
    """What POST /accounts/{id}/test does; JSON for accounts.js, else back to the page with the result."""
    _check_account_id(account_id)
    repo = services.repository()
    try:
        account = service.require_account(repo, account_id)
    except AccountError as exc:
        raise ApiError(exc.status, str(exc), field=exc.field) from None
    outcome = test_connection(account_id, account, secrets=services.secrets(), repo=repo, config=get_config())
    tested = Tested(account_id, outcome.result, TEST_TEXT.get(outcome.result, outcome.result), outcome.detail)
    if not _wants_json():
        flask.session[TESTED] = asdict(tested)
        return redirect_to("console.accounts", _anchor=f"account-{account_id}")
    after = Account.of(account_id, service.require_account(repo, account_id))  # the test may have marked it
    return flask.jsonify(account_id=account_id, result=tested.result, result_text=tested.result_text,
                         detail=tested.detail, status=after.status, status_text=STATUS_TEXT[after.status],
                         status_reason=after.status_reason)


def _row(account_id: str, record: AccountRecord) -> Row:
    account = Account.of(account_id, record)
    caps = [Cap(limit.max_count, window_text(limit.window_seconds), limit.name) for limit in account.limits]
    ago = age_text((utcnow() - as_utc(account.connected_at)).total_seconds()) if account.connected_at else None
    return Row(account, account_platform_name(account.platform, record.get("buffer_service")), STATUS_TEXT[account.status],
               caps, ago, connects=oauth.connects_by_sign_in(account.platform))


def window_text(seconds: int) -> str:
    """86400 -> "day", 900 -> "15 minutes": the cap's window in the largest unit that divides it."""
    size, unit = next((size, unit) for size, unit in _WINDOW_UNITS if seconds % size == 0)
    count = seconds // size
    return unit if count == 1 else f"{count} {unit}s"


def _connect_outcome(repo: Repository) -> oauth.ConnectOutcome | None:
    """The outcome of the connect this page was sent back from, to the person who started it."""
    state_id = flask.request.args.get("connect")
    if not state_id:
        return None
    outcome = oauth.outcome_of(repo, state_id)
    return outcome if outcome is not None and outcome.user == current_principal().user else None


def _check_account_id(account_id: str) -> None:
    if not re.fullmatch(ACCOUNT_ID_PATTERN, account_id):
        raise ApiError(404, f"no account {account_id!r}")


def _wants_json() -> bool:
    return flask.request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
