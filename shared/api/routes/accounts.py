"""Accounts: the platform accounts posts go to, their connection (OAuth connect, test) and caps.

Never answers tokens. Deleting an account leaves its token secret for the operator to destroy
(see shared/accounts/service.py)."""

from __future__ import annotations

import html
import posixpath
from datetime import datetime
from typing import Literal

import flask
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field

from shared.accounts import oauth, service
from shared.accounts.connection import test_connection as run_test
from shared.accounts.service import ACCOUNT_ID_PATTERN, AccountError, LimitSpec, effective_status
from shared.api.auth import current_principal
from shared.api.errors import ApiError
from shared.api.schemas import PageQuery, page_fields
from shared.model.account import Account as AccountRecord
from shared.model.platform import Platform
from shared.platforms.registry import default_limits
from shared.platforms.tiktok.account_state import unaudited
from shared.services import get_services
from shared.stores.posting_caps import limits_for

# Security per operation, not per blueprint: the OAuth callback is public (its `state` authenticates it).
blueprint = APIBlueprint("accounts", __name__, abp_tags=[Tag(name="accounts")])
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


class AccountPath(BaseModel):
    account_id: str = Field(pattern=ACCOUNT_ID_PATTERN, max_length=100)


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ACCOUNT_ID_PATTERN, max_length=100, description="Postgate's id for the account")
    platform: Platform
    handle: str = Field(min_length=1, max_length=100, description="the name people know the account by")
    platform_account_id: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[A-Za-z0-9:._-]+$",
                                            description="the platform's id (filled in by connect when omitted; a "
                                                        "LinkedIn organization's urn:li:organization:<id> must be given)")
    limits: list[LimitSpec] | None = Field(default=None, max_length=10,
                                           description="posting caps, each name once (default: the platform's)")
    dry_run: bool = Field(default=False, description="its posts stop before any platform call and end cancelled "
                                                     "(the post-deploy smoke check's accounts)")


class AccountPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handle: str | None = Field(default=None, min_length=1, max_length=100)
    limits: list[LimitSpec] | None = Field(default=None, max_length=10,
                                           description="each name once; [] restores the platform's defaults")


class AccountListQuery(PageQuery):
    platform: Platform | None = None


class DeleteQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(default=False, description="cancel the account's unclaimed posts instead of refusing")


class LimitOut(BaseModel):
    name: str
    max_count: int
    window_seconds: int


class Account(BaseModel):
    id: str
    platform: str
    handle: str
    platform_account_id: str | None = None
    limits: list[LimitOut] = Field(description="the caps publishing enforces (the platform's defaults unless set)")
    limits_custom: bool = False
    status: Literal["connected", "needs_reconnect", "not_connected"]
    status_reason: str | None = None
    dry_run: bool = Field(default=False, description="posts stop before any platform call")
    unaudited_app: bool = Field(default=False, description="TikTok refused a post because the app has not passed "
                                                          "TikTok's audit: only SELF_ONLY posts to a private account "
                                                          "are accepted (other privacy levels are refused at validation)")
    unaudited_app_reason: str | None = Field(default=None, description="TikTok's refusal that set unaudited_app")
    connected_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, account_id: str, record: AccountRecord) -> Account:
        limits = limits_for(record, default_limits(record))
        flag = unaudited(record)
        return cls(id=account_id, platform=record["platform"], handle=str(record.get("handle") or account_id),
                   platform_account_id=record.get("platform_account_id") or None,
                   limits=[LimitOut(name=lim.name, max_count=lim.max_count, window_seconds=lim.window_seconds) for lim in limits],
                   limits_custom=bool(record.get("limits")), status=effective_status(record),
                   status_reason=record.get("status_reason"), dry_run=record.get("dry_run") is True,
                   unaudited_app=flag is not None, unaudited_app_reason=(flag or {}).get("message"),
                   connected_at=record.get("connected_at"),
                   created_at=record.get("created_at"), updated_at=record.get("updated_at"))


class AccountPage(BaseModel):
    items: list[Account]
    total: int
    skip: int
    limit: int


class ConnectionTest(BaseModel):
    account_id: str
    platform: str
    result: Literal["ok", "needs_reconnect", "error"]
    detail: str
    identity: dict[str, str] | None = Field(default=None, description="who the platform says the tokens act for")


class ConnectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    redirect_after: str | None = Field(default=None, max_length=2000, pattern=r"^https://[^\s]+$",
                                       description="an https page the success page links back to")


class ConnectOut(BaseModel):
    authorize_url: str = Field(description="open it in a browser signed in as the account")
    state: str
    expires_at: datetime


class CallbackQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")  # platforms add their own (scope, scopes, authuser, prompt...)

    code: str | None = Field(default=None, max_length=4000)
    state: str = Field(min_length=1, max_length=200, description="the state connect issued (every answer carries it)")
    error: str | None = Field(default=None, max_length=200)
    error_description: str | None = Field(default=None, max_length=2000)


def _refused(exc: AccountError | oauth.ConnectError) -> ApiError:
    return ApiError(exc.status, str(exc), field=exc.field)


@blueprint.post("/accounts", security=BEARER, responses={201: Account})
def create_account(body: AccountCreate):
    """Add an account (not connected yet: POST /accounts/{id}/connect gets its tokens)."""
    principal = current_principal()
    principal.require("editor")
    services = get_services()
    try:
        record = service.create_account(services.repository, account_id=body.id, platform=body.platform,
                                        handle=body.handle, platform_account_id=body.platform_account_id,
                                        limits=body.limits, now=services.now(), by=principal.user, dry_run=body.dry_run)
    except AccountError as exc:
        raise _refused(exc) from None
    return Account.of(body.id, record).model_dump(mode="json"), 201


@blueprint.get("/accounts", security=BEARER, responses={200: AccountPage})
def list_accounts(query: AccountListQuery):
    services = get_services()
    rows, total = service.list_accounts(services.repository, platform=query.platform, skip=query.skip,
                                        limit=query.limit)
    page = AccountPage(**page_fields([Account.of(i, r) for i, r in rows], total, query))
    return page.model_dump(mode="json")


@blueprint.get("/accounts/<account_id>", security=BEARER, responses={200: Account})
def get_account(path: AccountPath):
    services = get_services()
    try:
        record = service.require_account(services.repository, path.account_id)
        return Account.of(path.account_id, record).model_dump(mode="json")
    except AccountError as exc:
        raise _refused(exc) from None


@blueprint.patch("/accounts/<account_id>", security=BEARER, responses={200: Account})
def update_account(path: AccountPath, body: AccountPatch):
    principal = current_principal()
    principal.require("editor")
    services = get_services()
    try:
        record = service.update_account(services.repository, path.account_id, handle=body.handle, limits=body.limits,
                                        now=services.now(), by=principal.user)
    except AccountError as exc:
        raise _refused(exc) from None
    return Account.of(path.account_id, record).model_dump(mode="json")


@blueprint.delete("/accounts/<account_id>", security=BEARER, responses={204: None})
def delete_account(path: AccountPath, query: DeleteQuery):
    """409 while posts for it are approved, scheduled, queued or being published; with force=true
    its unclaimed posts are cancelled (a post a publisher holds still refuses). The token secret is
    left for the operator to destroy."""
    principal = current_principal()
    principal.require("editor")
    services = get_services()
    try:
        service.delete_account(services.repository, path.account_id, force=query.force, by=principal.user)
    except AccountError as exc:
        raise _refused(exc) from None
    return "", 204


@blueprint.post("/accounts/<account_id>/test", security=BEARER, responses={200: ConnectionTest})
def test_connection(path: AccountPath):
    """Ask the platform who the stored tokens belong to (its cheapest identity call, one refresh on 401)."""
    current_principal().require("editor")
    services = get_services()
    try:
        account = service.require_account(services.repository, path.account_id)
    except AccountError as exc:
        raise _refused(exc) from None
    outcome = run_test(path.account_id, account, secrets=services.secrets, repo=services.repository,
                       config=services.config)
    return ConnectionTest(account_id=path.account_id, platform=account["platform"], result=outcome.result,
                          detail=outcome.detail, identity={k: str(v) for k, v in outcome.identity.items()} or None
                          ).model_dump(mode="json")


@blueprint.post("/accounts/<account_id>/connect", security=BEARER, responses={200: ConnectOut})
def connect_account(path: AccountPath, body: ConnectBody):
    """Start the platform's OAuth consent: open `authorize_url` signed in as the account; the platform
    sends the browser back to /accounts/oauth/callback, which stores the tokens."""
    principal = current_principal()
    principal.require("editor")
    services = get_services()
    try:
        account = service.require_account(services.repository, path.account_id)
        started = oauth.start_connect(services.repository, services.secrets, services.config,
                                      account_id=path.account_id, account=account, user=principal.user,
                                      redirect_after=body.redirect_after, now=services.now())
    except (AccountError, oauth.ConnectError) as exc:
        raise _refused(exc) from None
    return ConnectOut(authorize_url=started.authorize_url, state=started.state,
                      expires_at=started.expires_at).model_dump(mode="json")


@blueprint.get("/accounts/oauth/callback",
               responses={200: {"description": "a small page saying the account is connected",
                                "content": {"text/html": {"schema": {"type": "string"}}}},
                          303: {"description": "a connect started from the console: back to its accounts page, "
                                               "which shows the outcome (success or refusal)"}})
def oauth_callback(query: CallbackQuery):
    """Where the platform sends the browser back (public: the single-use `state` authenticates it). A
    connect started from the console goes back to the console's accounts page instead of this answer."""

    services = get_services()
    try:
        done = oauth.finish_connect(services.repository, services.secrets, services.config, state=query.state,
                                    code=query.code, error=query.error, now=services.now())
    except oauth.ConnectError as exc:
        console_page = oauth.returning(services.repository, query.state, connected=False, detail=str(exc))
        if console_page:
            return _sent_back(console_page)
        raise _refused(exc) from None
    said = oauth.connected_text(done)
    console_page = oauth.returning(services.repository, query.state, connected=True, detail=said)
    if console_page:
        return _sent_back(console_page)
    back = f'<p><a href="{html.escape(done.redirect_after)}">Back</a></p>' if done.redirect_after else ""
    page = f"<!doctype html><meta charset=utf-8><title>Connected</title><h1>Connected</h1><p>{html.escape(said)}</p>{back}"
    return page, 200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}


def _sent_back(target: str):
    """303 to a page of this app that started the connect (the console), relative to the callback's own
    path so that it resolves behind whatever prefix the browser sees."""
    path, _, query = target.partition("?")
    response = flask.redirect(posixpath.relpath(path, posixpath.dirname(flask.request.path)) + "?" + query, 303)
    response.headers["Cache-Control"] = "no-store"
    return response
