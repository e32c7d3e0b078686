"""The console's blueprint on the API's app: its guard (session, CSRF, roles), its headers, its error
pages, the home redirect, the fingerprinted static files and the pages.

Every request to a console path, in order:
1. The session key must be readable (else 503 saying which secret is missing).
2. Pages other than sign-in and static files need a session less than 8 hours old; without one a GET
   goes to the sign-in page with `next` (a console path only), anything else to the sign-in page.
3. POST, PUT, PATCH and DELETE need the CSRF token (form field `csrf_token` or header `X-CSRFToken`),
   checked by Flask-WTF: without it, 400 saying so and nothing changes. The sign-in forms too.
4. The user's roles are read from `api_users`; none left means the session ends (403).
A page is a module under shared/console/pages/ with `register(bp)` (see docs/console.md#adding-a-page).
"""

from __future__ import annotations

import functools
import importlib
import logging

import flask
from flask_wtf.csrf import CSRFError, CSRFProtect  # type: ignore[import-untyped]  # no py.typed
from werkzeug.exceptions import HTTPException, NotFound

from shared.api.errors import ApiError
from shared.console import render, signin
from shared.console.assets import digest_of, serve
from shared.console.security import CLOUD_STORAGE, FORM_TARGETS, origin_of, security_headers
from shared.console.session import (
    SESSION_LIFETIME,
    configure,
    principal_of,
    session_key,
    sign_out,
    signed_in_user,
    why_no_key,
)
from shared.console.urls import current_target, redirect_to, url
from shared.errors import IllegalTransition, ValidationError
from shared.runtime.config import get_config
from shared.runtime.logging import log_event
from shared.stores.posts import is_contention

log = logging.getLogger("postgate.console")
NAME = "console"
# The console's page modules (shared/console/pages/<name>.py, each with `register(bp)`). A section of the
# navigation whose module does not exist yet shows a "not built yet" page instead.
PAGE_MODULES = (
    *(item.page for item in render.NAV),
    "posts",  # a post's page, its changes and its live status (shared/console/pages/posts.py)
    "catalogue_proposal",  # a catalogue video's proposed change (shared/console/pages/catalogue_proposal.py)
    "catalogue_bulk",  # bulk changes from a catalogue search and their pages (shared/console/pages/catalogue_bulk.py)
)
# Reached without a session (their POSTs still need the CSRF token).
PUBLIC_ENDPOINTS = frozenset({"console.sign_in", "console.sign_in_google", "console.sign_in_local", "console.asset"})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def install(app, prefix: str) -> str:
    """Add the console to `app` under `prefix` ("/console"); the blueprint's name."""
    configure(app, prefix)
    app.config.update(POSTGATE_CONSOLE_PREFIX=prefix,
                      WTF_CSRF_CHECK_DEFAULT=False,  # only the console's requests: the guard calls protect()
                      WTF_CSRF_TIME_LIMIT=int(SESSION_LIFETIME.total_seconds()),
                      # The token is bound to the session, whose __Host- cookie no other site or subdomain can
                      # set; the Referer check would also depend on the Host the platform's front end passes.
                      WTF_CSRF_SSL_STRICT=False)
    CSRFProtect(app)
    bp = flask.Blueprint(NAME, __name__, url_prefix=prefix, template_folder="templates")
    bp.before_request(_guard)
    bp.after_request(add_headers)
    bp.context_processor(template_helpers)
    bp.register_error_handler(CSRFError, _csrf_refused)
    bp.register_error_handler(ApiError, _api_error)
    bp.register_error_handler(HTTPException, _http_error)
    bp.register_error_handler(Exception, _crash)
    bp.add_url_rule("/", "home", home)
    bp.add_url_rule("", "home", home)  # /console without the slash (no absolute redirect from the router)
    bp.add_url_rule("/static/<digest>/<path:name>", "asset", serve)
    signin.register(bp)
    for name in PAGE_MODULES:
        try:
            module = importlib.import_module(f"shared.console.pages.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"shared.console.pages.{name}":
                raise
            bp.add_url_rule(f"/{name}", name, functools.partial(_not_built, name))
            continue
        module.register(bp)
    bp.add_url_rule("/<path:rest>", "not_found", _not_found, methods=sorted(STATE_CHANGING | {"GET"}))
    app.register_blueprint(bp)
    return NAME


def template_helpers() -> dict:
    """What console templates call: url(endpoint), asset(name), waiting_count()."""
    return {"url": url, "asset": asset_url, "waiting_count": render.waiting_count}


def asset_url(name: str) -> str:
    """The fingerprinted URL of a static file (e.g. asset('console.css')), relative to the page."""
    return url("console.asset", digest=digest_of(name), name=name)


def home():
    return redirect_to("console.queue")


def _guard():
    request, app = flask.request, flask.current_app
    if request.endpoint == "console.asset":
        return None
    if session_key(app) is None:
        return render.error_page(503, "Console not set up", why_no_key(app) or "The session key is unavailable.")
    user = signed_in_user()
    if request.endpoint not in PUBLIC_ENDPOINTS:
        if user is None:
            flask.session.clear()  # an expired session goes entirely
            if request.method in ("GET", "HEAD"):
                return redirect_to("console.sign_in", next=current_target())
            return redirect_to("console.sign_in")
    if request.method in STATE_CHANGING:
        app.extensions["csrf"].protect()
    if user is not None and request.endpoint not in PUBLIC_ENDPOINTS:
        principal = principal_of(user)
        if not principal.roles:
            sign_out()
            return render.error_page(403, "No role", f"{user} has no role in Postgate (editor or approver) any "
                                                     "more, so the session has ended.")
        flask.g.console_principal = principal
    return None


def add_headers(response):
    """The CSP and the other headers of every console answer (shared/console/security.py)."""
    config = get_config()
    media = origin_of(config.signed_url_endpoint) if config.signed_url_endpoint else CLOUD_STORAGE
    headers = security_headers(media_origin=media, google_sign_in=flask.g.get("console_google_sign_in", False),
                               media_uploads=flask.g.get("console_media_uploads", False),
                               form_targets=flask.g.get(FORM_TARGETS, ()))
    response.headers.update(headers)
    response.headers.setdefault("Cache-Control", "no-store")  # pages hold people's work; assets set their own
    return response


def _not_built(name: str):
    label = next(item.label for item in render.NAV if item.page == name)
    return render.page("console/not_built.html", title=label, label=label)


def _not_found(rest: str):
    raise NotFound("There is no console page at this address.")


def _csrf_refused(exc: CSRFError):
    return render.error_page(400, "Form not accepted", f"{exc.description} The form may have been open since before "
                                                       "you last signed in: reload the page and try again. "
                                                       "Nothing was changed.")


def _api_error(exc: ApiError):
    titles = {401: "Not signed in", 403: "Not allowed", 404: "Not found", 409: "Conflict", 429: "Too many requests"}
    response = render.error_page(exc.status, titles.get(exc.status, "Refused"), exc.detail)
    response.headers.update(exc.headers)  # Retry-After on a 429 or 503
    return response


def _http_error(exc: HTTPException):
    return render.error_page(exc.code or 500, exc.name, exc.description or exc.name)


def _crash(exc: Exception):
    if isinstance(exc, ValidationError):
        return render.error_page(422, "Refused by a rule", str(exc))
    if isinstance(exc, IllegalTransition):
        return render.error_page(409, "Conflict", str(exc))
    if is_contention(exc):
        return render.error_page(503, "Busy", "Too many changes to this item at once; nothing was changed, try again.")
    log.exception("console request failed")
    log_event(log, logging.ERROR, "console answered 500", path=flask.request.path)
    return render.error_page(500, "Something went wrong", "Our bug: it is logged. Nothing was changed.")
