"""Who is signed in to the console: Flask's signed session cookie, with the key from the secret store.

The cookie carries the user's e-mail, when they signed in, how (google | local), a random session id
and the CSRF token's seed; nothing else, and no token of Google's. It is HttpOnly, Secure, SameSite=Lax,
named `__Host-...` (so no subdomain or plain-HTTP page can set it) and lasts 8 hours from sign-in,
whatever happens in between. Sign-in clears the session and issues a new one, so nothing from before
sign-in (a planted cookie, an old CSRF seed) is kept. Roles are read from `api_users` on every request,
as the API reads them for Google identities: removing someone takes effect at their next click.

The key signs both the cookie and the CSRF tokens (Flask-WTF, salted apart). It is loaded at the first
console request of an instance, not at the API's first request: a deployment whose operator has not
added the secret yet still serves the API, and the console answers 503 saying which secret is missing.
"""

from __future__ import annotations

import functools
import logging
import secrets as pysecrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from shared import services
from shared.api.auth import ROLES, Principal, identity, roles_from_record
from shared.errors import ConfigError
from shared.runtime.config import get_config
from shared.runtime.logging import log_event, register_secret
from shared.stores.api_records import API_USERS

log = logging.getLogger("postgate.console")

SESSION_LIFETIME = timedelta(hours=8)
COOKIE_NAME = "__Host-postgate-console"
MIN_KEY_CHARS = 32
KEY_RETRY_SECONDS = 60.0  # an unreadable key is tried again after this long, not on every request
_KEY = "postgate_console_key"  # app.extensions: the loaded key, or why there is none (_KeyState)
_key_lock = threading.Lock()


class ConsoleSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, on console paths only (the API never opens one), signed with the
    console's key instead of the app's SECRET_KEY."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def open_session(self, app, request):
        if not (request.path == self.prefix or request.path.startswith(self.prefix + "/")):
            return None  # Flask's null session: nothing read, nothing written
        if session_key(app) is None:
            return None  # the console's guard answers 503 (see why_no_key)
        return super().open_session(app, request)

    def get_signing_serializer(self, app) -> URLSafeTimedSerializer | None:
        key = session_key(app)
        if key is None:
            return None
        return URLSafeTimedSerializer(key, salt=self.salt, serializer=self.serializer,
                                      signer_kwargs={"key_derivation": self.key_derivation,
                                                     "digest_method": self.digest_method})


def configure(app, prefix: str) -> None:
    """Cookie settings and the session interface on `app` (the API's app: only the console uses them)."""
    app.config.update(SESSION_COOKIE_NAME=COOKIE_NAME, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SECURE=True,
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_PATH="/", SESSION_COOKIE_DOMAIN=None,
                      PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME, SESSION_REFRESH_EACH_REQUEST=False)
    app.session_interface = ConsoleSessions(prefix)


@dataclass(frozen=True)
class _KeyState:
    key: str | None
    problem: str | None = None
    at: float = 0.0  # when it was read (time.monotonic)


def session_key(app) -> str | None:
    """The console's signing key, read from the secret store once per instance; None when it cannot be."""
    return _key_state(app).key


def why_no_key(app) -> str | None:
    """The sentence for the 503 page when the key is unavailable, else None."""
    return _key_state(app).problem


def _key_state(app) -> _KeyState:
    state = app.extensions.get(_KEY)
    if _stale(state):
        with _key_lock:
            state = app.extensions.get(_KEY)
            if _stale(state):
                state = app.extensions[_KEY] = _load_key()
                if state.key is not None:
                    app.config["WTF_CSRF_SECRET_KEY"] = state.key
    return state


def _stale(state: _KeyState | None) -> bool:
    """Never read, or unavailable when last tried long enough ago (an operator may have added it since)."""
    return state is None or (state.key is None and time.monotonic() - state.at >= KEY_RETRY_SECONDS)


def _load_key() -> _KeyState:
    name, now = get_config().console_session_secret, time.monotonic()
    try:
        key = services.secrets().access(name).strip()
    except Exception as exc:  # noqa: BLE001 - missing, denied or unreachable: the console says so, the API serves on
        log_event(log, logging.ERROR, "console session key unavailable", secret=name, error=type(exc).__name__)
        reason = str(exc) if isinstance(exc, ConfigError) else type(exc).__name__
        return _KeyState(None, f"The console is not set up yet: secret {name} could not be read ({reason}).", now)
    if len(key) < MIN_KEY_CHARS:
        log_event(log, logging.ERROR, "console session key too short", secret=name)
        return _KeyState(None, f"The console is not set up yet: secret {name} must hold at least {MIN_KEY_CHARS} "
                               "random characters.", now)
    register_secret(key)
    return _KeyState(key, None, now)


# -- the signed-in user -----------------------------------------------------------------------------

def sign_in(user: str, via: str) -> None:
    """A new session for `user`: everything from before is dropped (a fresh cookie, a fresh CSRF seed)."""
    session = flask.session
    session.clear()
    flask.g.pop("csrf_token", None)  # Flask-WTF caches the request's token; it belonged to the old seed
    session.permanent = True
    session.update(user=identity(user), via=via, signed_in_at=int(time.time()), sid=pysecrets.token_urlsafe(16))
    log_event(log, logging.INFO, "console sign-in", user=identity(user), via=via)


def sign_out() -> None:
    user = flask.session.get("user")
    flask.session.clear()
    if user:
        log_event(log, logging.INFO, "console sign-out", user=user)


def signed_in_user(now: float | None = None) -> str | None:
    """The session's user while the session is less than 8 hours old, else None."""
    session = flask.session
    user, at = session.get("user"), session.get("signed_in_at")
    if not isinstance(user, str) or not isinstance(at, int):
        return None
    age = (time.time() if now is None else now) - at
    return user if 0 <= age < SESSION_LIFETIME.total_seconds() else None


def roles_of(user: str) -> list[str]:
    """The user's roles in `api_users` (one document read), by the API's own rules."""
    snap = services.repository().db.collection(API_USERS).document(identity(user)).get()
    return roles_from_record(user, snap.to_dict() if snap.exists else None)


def principal_of(user: str) -> Principal:
    return Principal(identity(user), frozenset(r for r in roles_of(user) if r in ROLES))


def current_principal() -> Principal:
    """The signed-in user of this request, with their roles (the console's guard sets it)."""
    return flask.g.console_principal


def role_name(principal: Principal) -> str:
    """What the header shows: the role that allows the most."""
    return "approver" if principal.may("approver") else "editor"


def require_role(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view decorator: the signed-in user must hold `role` ("editor" or "approver"), by the API's rules
    (an approver may do everything an editor may). Otherwise a 403 page naming the role."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            current_principal().require(role)  # ApiError(403), shown as the console's error page
            return view(*args, **kwargs)

        return checked

    return decorate
