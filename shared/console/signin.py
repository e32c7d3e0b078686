"""Signing in and out of the console.

Deployed: Sign in with Google. Google's button (its client library, loaded from accounts.google.com as
Google requires) hands the page an ID token; the page POSTs it with the CSRF token, and it is verified
exactly as the API verifies Google ID tokens (shared/api/auth.py: Google's signature, expiry, issuer,
`aud` = the console's OAuth client id, a verified e-mail), through the same per-instance certificate
cache and failure throttle. Roles come from `api_users`; no role, no session.

Locally: a page listing the local stack's users (the `api_users` documents), one button each, no
password. Only when POSTGATE_CONSOLE_LOCAL_SIGN_IN is on AND secrets come from a local backend: Terraform
deploys with Secret Manager, so a deployment cannot have it even if the variable were set by mistake.
"""

from __future__ import annotations

import logging

import flask
import jwt

from shared import services
from shared.api.auth import ROLES, Principal, authenticate, identity
from shared.api.errors import ApiError
from shared.api.google_certs import GoogleCerts
from shared.api.throttle import client_address
from shared.console import render
from shared.console.session import principal_of, roles_of, sign_in, sign_out, signed_in_user
from shared.console.urls import redirect_to, relative, safe_next
from shared.runtime.config import get_config
from shared.runtime.logging import log_event, register_secret
from shared.stores.api_records import API_USERS

log = logging.getLogger("postgate.console")
LOCAL_USERS_SHOWN = 50
CREDENTIAL_MAX_CHARS = 8192  # a Google ID token is ~1 KB


def register(bp: flask.Blueprint) -> None:
    bp.add_url_rule("/sign-in", "sign_in", sign_in_page, methods=["GET"])
    bp.add_url_rule("/sign-in/google", "sign_in_google", sign_in_google, methods=["POST"])
    bp.add_url_rule("/sign-in/local", "sign_in_local", sign_in_local, methods=["POST"])
    bp.add_url_rule("/sign-out", "sign_out", sign_out_now, methods=["POST"])


def local_sign_in_enabled(config=None) -> bool:
    config = config or get_config()
    return bool(config.console_local_sign_in) and config.secret_backend != "secret-manager"


def google_client_id() -> str | None:
    return get_config().console_oauth_client_id or None


def sign_in_page():
    target = _next_target(flask.request.args.get("next"))
    if signed_in_user() is not None:
        return flask.redirect(relative(target, _here()), 303)
    return _sign_in_answer(200, target)


def sign_in_google():
    client_id = google_client_id()
    if client_id is None:
        return _sign_in_answer(404, _next_target(None), "Sign in with Google is not set up for this console.")
    target = _next_target(flask.request.form.get("next"))
    credential = flask.request.form.get("credential", "")
    register_secret(credential)  # never in a log line, whatever happens next
    app = flask.current_app
    client = client_address(flask.request)
    throttle = app.extensions["postgate_auth_failures"]
    held = throttle.retry_after(client)
    try:
        principal = verify_google_credential(credential, client_id=client_id, certs=google_certs(app),
                                             may_fetch=held is None)
    except ApiError as exc:
        if exc.status == 401:
            throttle.failed(client)
            log_event(log, logging.WARNING, "console sign-in refused", via="google", reason=exc.detail)
            if held is not None:
                return _sign_in_answer(429, target, f"Too many failed sign-ins; try again in {held} s.")
        return _sign_in_answer(exc.status, target, f"Google sign-in refused: {exc.detail}")
    return _signed_in(principal, "google", target)


def sign_in_local():
    if not local_sign_in_enabled():
        return render.error_page(403, "Local sign-in is off", "This console signs people in with Google only.")
    target = _next_target(flask.request.form.get("next"))
    user = identity(flask.request.form.get("user", ""))
    if user not in {u for u, _roles in local_users()}:
        return _sign_in_answer(403, target, f"{user or 'That user'} is not one of this stack's users.")
    return _signed_in(principal_of(user), "local", target)


def sign_out_now():
    sign_out()
    return redirect_to("console.sign_in")


def verify_google_credential(credential: str, *, client_id: str, certs: GoogleCerts, may_fetch: bool = True) -> Principal:
    """The person a Google ID token names, with their roles; ApiError 401 when it does not verify for
    this client id, 403 when their api_users record is malformed. Only Google's (RS256) tokens: the
    API's own HS256 tokens are for programs, not for signing in here."""
    if not credential or len(credential) > CREDENTIAL_MAX_CHARS:
        raise ApiError(401, "no Google credential was sent")
    try:
        algorithm = jwt.get_unverified_header(credential).get("alg")
    except jwt.PyJWTError:
        raise ApiError(401, "the credential is not a Google ID token") from None
    if algorithm != "RS256":
        raise ApiError(401, "the credential is not a Google ID token")
    return authenticate(f"Bearer {credential}", key_loader=_no_key, audience=client_id,
                        roles_of=roles_of,
                        google_certs=certs, may_fetch_certs=may_fetch)


def google_certs(app) -> GoogleCerts:
    """The instance's cache of Google's certificates, the one the API's bearer check uses (same URL)."""
    url = get_config().api_google_certs_url
    sets = app.extensions["postgate_google_certs"]
    return sets.get(url) or sets.setdefault(url, GoogleCerts(url))


def local_users() -> list[tuple[str, list[str]]]:
    """The users the local sign-in page offers: `api_users` documents with a role, by e-mail."""
    users = []
    for snap in services.repository().db.collection(API_USERS).limit(LOCAL_USERS_SHOWN).stream():
        roles = (snap.to_dict() or {}).get("roles")
        if isinstance(roles, list) and any(r in ROLES for r in roles):
            users.append((snap.id, [r for r in roles if r in ROLES]))
    return sorted(users)


def _no_key() -> str:
    raise ApiError(401, "the credential is not a Google ID token")


def _signed_in(principal: Principal, via: str, target: str):
    if not principal.roles:
        return _sign_in_answer(403, target, f"{principal.user} has no role in Postgate (editor or approver); "
                                            "ask an administrator to add one.")
    sign_in(principal.user, via)
    return flask.redirect(relative(target, _here()), 303)


def _sign_in_answer(status: int, target: str, problem: str | None = None):
    google = google_client_id()
    local = local_sign_in_enabled()
    flask.g.console_google_sign_in = google is not None
    return render.page("console/sign_in.html", status=status, title="Sign in", next=target, problem=problem,
                       google_client_id=google, local_users=local_users() if local else None)


def _next_target(value: object) -> str:
    prefix = flask.current_app.config["POSTGATE_CONSOLE_PREFIX"]
    return safe_next(value, prefix) or flask.url_for("console.queue")


def _here() -> str:
    return flask.request.script_root + flask.request.path
