"""The API app: flask-openapi3 routes validated by pydantic models that also make `/openapi.json`.

Every request but the public ones is authenticated, then counted against the caller's rate limit.
Errors are `{"detail", "field"}` JSON; an unexpected exception is logged and answered 500.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import threading

import flask
from flask.json.provider import DefaultJSONProvider
from flask_openapi3 import Info, OpenAPI
from werkzeug.exceptions import HTTPException

from shared.api.auth import authenticate, roles_from_record
from shared.api.body import MAX_BODY_BYTES, BodyTooLarge, read_bounded, strict_loads
from shared.api.contention import request_budget
from shared.api.error_body import COMMON_ERRORS, ErrorBody
from shared.api.errors import ApiError, error_response, loc_to_field
from shared.api.google_certs import GoogleCerts
from shared.api.mounts import MOUNTS, OWN_AUTH_BLUEPRINTS
from shared.api.routes import (
    accounts,
    analytics,
    approvals,
    campaigns,
    events,
    manual_analytics,
    posts,
    youtube_bulk_changes,
    youtube_catalogue,
    youtube_content_id,
    youtube_metadata,
)
from shared.api.throttle import FailureThrottle, client_address
from shared.api.v1 import V1_MODULES
from shared.errors import IllegalTransition, ValidationError
from shared.runtime.logging import log_event
from shared.runtime.web import api_headers, unread_body_answer
from shared.services import get_services
from shared.stores.api_records import api_user_record, count_request
from shared.stores.posts import is_contention

log = logging.getLogger("postgate.api")
ROUTE_MODULES = (accounts, posts, campaigns, approvals, events, youtube_metadata, youtube_bulk_changes, youtube_catalogue,
                 youtube_content_id, analytics, manual_analytics, *V1_MODULES)
# Reached without a bearer token: the API's description, and the OAuth callback (the platform
# redirects a browser there; the `state` it carries is what authenticates it).
PUBLIC_PATHS = {"/openapi.json", "/health", "/accounts/oauth/callback"}


def create_app() -> OpenAPI:
    app = OpenAPI(
        "postgate-api",
        info=Info(title="Postgate content API", version="1.0.0",
                  description="Accounts, posts, calendar, campaigns, approvals and live status. "
                              "Errors are {\"detail\": ...}; lists paginate with skip/limit and report total."),
        security_schemes={"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        responses={status: body for status, body in COMMON_ERRORS.items()},  # the type flask-openapi3 takes
        validation_error_status=400,
        validation_error_callback=_validation_error,
        doc_ui=False,
    )
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json = _strict_json(app)  # every route's body goes through shared.api.body.strict_loads

    @app.get("/openapi.json", doc_ui=False)
    def openapi_document():
        return flask.jsonify(_document(app))

    @app.get("/health", doc_ui=False)
    def health():
        return {"ok": True}

    for module in ROUTE_MODULES:
        app.register_api(module.blueprint)
        # Routes a browser opens from a short-lived signed link (no Authorization header possible).
        app.config.setdefault("VIEW_LINK_AUTH", {}).update(getattr(module, "VIEW_LINK_AUTHENTICATORS", {}))

    app.extensions["postgate_auth_failures"] = FailureThrottle()
    app.extensions["postgate_google_certs"] = {}
    app.before_request(_authenticate_and_count)
    app.extensions[OWN_AUTH_BLUEPRINTS] = frozenset(name for mount in MOUNTS.values() for name in mount(app))

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.detail, field=exc.field, headers=exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc):
        return error_response(exc.code or 500, exc.description or exc.name,
                              headers={"Allow": ", ".join(exc.valid_methods)} if getattr(exc, "valid_methods", None) else None)

    @app.errorhandler(Exception)
    def _crash(exc):
        if isinstance(exc, ValidationError):
            return error_response(422, str(exc), field=exc.field)
        if isinstance(exc, IllegalTransition):
            return error_response(409, str(exc))
        if is_contention(exc):
            return error_response(503, "too many changes to this item at once; nothing was changed, try again",
                                  headers={"Retry-After": "2"})
        log.exception("api request failed")
        log_event(log, logging.ERROR, "answered 500", path=flask.request.path)
        return error_response(500, "internal error; nothing was changed")

    @app.after_request
    def _headers(response):
        for name, value in api_headers().items():
            response.headers.setdefault(name, value)
        if "Allow" in response.headers:  # OPTIONS and 405: Werkzeug's list mixes in /posts/{post_id}'s methods
            methods = documented_methods(_document(app), flask.request.path)
            if methods is not None:
                response.headers["Allow"] = ", ".join(methods)
        return response

    return app


def _strict_json(app):
    """The app's JSON provider: answers unsorted; request bodies parsed by strict_loads."""

    class StrictJson(DefaultJSONProvider):
        sort_keys = False

        def loads(self, s, **kwargs):
            return strict_loads(s)

    return StrictJson(app)


_documents: dict[int, dict] = {}


def _document(app) -> dict:
    """The OpenAPI document, with every operation declaring the error answers it can give
    (ErrorBody for each status in COMMON_ERRORS; flask-openapi3 would otherwise describe a 400 as
    its own list of pydantic errors and leave the rest out), and the bearer scheme on each operation
    that needs it."""
    if id(app) in _documents:
        return _documents[id(app)]
    doc = copy.deepcopy(app.api_doc)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs", {}).items():
        schemas.setdefault(name, schema)
    schemas["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas["ErrorBody"].pop("$defs", None)
    schemas.pop("ValidationErrorModel", None)
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    for path, item in doc.get("paths", {}).items():
        for _method, operation in item.items():
            responses = operation.setdefault("responses", {})
            for status in COMMON_ERRORS:
                if path in PUBLIC_PATHS and status in (401, 403, 429):
                    continue
                responses[str(status)] = {"description": _REASONS.get(status, "error"), **error}
            responses.setdefault("500", {"description": "our bug (logged)", **error})
    _add_links(doc)
    _documents[id(app)] = doc
    return doc


# OpenAPI links: what a create answers names the item the next calls take (stateful testing chains
# them; a reader sees where an id goes). (path, method, status) -> {link: (target path, method, {param: where})}.
_CONTENT = "$response.body#/id"
_FIRST_POST = "$response.body#/posts/0/id"
_CONTENT_LINKS = {
    "GetContent": ("/contents/{content_id}", "get", {"content_id": _CONTENT}),
    "GetApprovals": ("/contents/{content_id}/approvals", "get", {"content_id": _CONTENT}),
    "RequestApprovalAgain": ("/contents/{content_id}/approval-requests", "post", {"content_id": _CONTENT}),
    "Decide": ("/contents/{content_id}/decision", "post", {"content_id": _CONTENT}),
    "WatchEvents": ("/contents/{content_id}/events", "get", {"content_id": _CONTENT}),
    "GetPost": ("/posts/{post_id}", "get", {"post_id": _FIRST_POST}),
    "UpdatePost": ("/posts/{post_id}", "patch", {"post_id": _FIRST_POST}),
    "ReschedulePost": ("/posts/{post_id}/reschedule", "post", {"post_id": _FIRST_POST}),
    "CancelPost": ("/posts/{post_id}/cancel", "post", {"post_id": _FIRST_POST}),
    "DeletePost": ("/posts/{post_id}", "delete", {"post_id": _FIRST_POST}),
}


def _first_item(links: dict) -> dict:
    return {name: (path, method, {k: v.replace("#/", "#/items/0/") for k, v in params.items()})
            for name, (path, method, params) in links.items()}


def _by_id(prefix: str, param: str, operations: list[tuple[str, str, str]]) -> dict:
    return {name: (prefix + suffix, method, {param: "$response.body#/id"}) for name, suffix, method in operations}


LINKS = {
    ("/posts", "post", "201"): _CONTENT_LINKS,
    ("/posts/generate", "post", "201"): _CONTENT_LINKS,
    ("/posts/bulk", "post", "201"): _first_item(_CONTENT_LINKS),
    ("/campaigns", "post", "201"): _by_id("/campaigns/{campaign_id}", "campaign_id", [
        ("GetCampaign", "", "get"), ("UpdateCampaign", "", "patch"), ("DeleteCampaign", "", "delete"),
        ("CampaignPosts", "/posts", "get"), ("CampaignAnalytics", "/analytics", "get")]),
    ("/accounts", "post", "201"): _by_id("/accounts/{account_id}", "account_id", [
        ("GetAccount", "", "get"), ("UpdateAccount", "", "patch"), ("DeleteAccount", "", "delete"),
        ("TestConnection", "/test", "post"), ("Connect", "/connect", "post")]),
    ("/youtube/videos/{post_id}/metadata-changes", "post", "202"): _by_id(
        "/youtube/metadata-changes/{change_id}", "change_id", [("GetChange", "", "get"), ("DecideChange", "/decision", "post")]),
}


def _add_links(doc: dict) -> None:
    paths = doc.get("paths", {})
    for (path, method, status), links in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        response["links"] = {name: {"operationId": paths[target][target_method]["operationId"], "parameters": params}
                             for name, (target, target_method, params) in links.items()
                             if target_method in paths.get(target, {})}


def documented_methods(doc: dict, path: str) -> list[str] | None:
    """The methods the document gives `path` (a concrete request path), upper case with HEAD beside
    GET and OPTIONS; None when no documented path matches. A concrete segment wins over a template,
    as OpenAPI matches (`/posts/bulk` is not `/posts/{post_id}`)."""
    segments = path.strip("/").split("/")
    best = None
    for template, item in doc.get("paths", {}).items():
        parts = template.strip("/").split("/")
        if len(parts) != len(segments):
            continue
        rank = []
        for part, segment in zip(parts, segments):
            if part.startswith("{") and part.endswith("}"):
                if not segment:
                    break
                rank.append(1)
            elif part == segment:
                rank.append(0)
            else:
                break
        else:
            if best is None or rank < best[0]:
                best = (rank, item)
    if best is None:
        return None
    methods = [m.upper() for m in best[1] if m in ("get", "put", "post", "delete", "patch")]
    if "GET" in methods:
        methods.append("HEAD")
    return methods + ["OPTIONS"]


_REASONS = {400: "bad input (the field is named)", 401: "no or invalid bearer token", 403: "not allowed for this role",
            404: "not found", 409: "state conflict", 413: "request too large", 422: "refused by a rule (the field is named)",
            429: "too many requests (see Retry-After)", 503: "busy; nothing changed (see Retry-After)"}


def _validation_error(exc):
    """A request that does not match its model: 400 naming each field."""
    errors = []
    for err in exc.errors():
        loc = tuple(err.get("loc") or ())
        errors.append({"field": loc_to_field(loc) or "body", "message": err.get("msg", "invalid"),
                       "type": err.get("type", "value_error")})
    first = errors[0] if errors else {"field": "body", "message": "invalid"}
    return error_response(400, f"{first['field']}: {first['message']}", field=first["field"], errors=errors)


def _authenticate_and_count():
    if flask.request.path in PUBLIC_PATHS or flask.request.method == "OPTIONS":
        return None
    if flask.request.blueprint in flask.current_app.extensions.get(OWN_AUTH_BLUEPRINTS, ()):
        return None  # a mounted front door (the console: its session cookie) authenticates its own requests
    services = get_services()
    config = services.config
    repo = services.repository
    app = flask.current_app

    def roles_of(email: str) -> list[str]:
        return roles_from_record(email, api_user_record(repo, email))

    view_link = app.config.get("VIEW_LINK_AUTH", {}).get(flask.request.endpoint)
    principal = view_link(flask.request) if view_link else None
    if principal is None:
        client = client_address(flask.request)
        throttle = app.extensions["postgate_auth_failures"]
        held = throttle.retry_after(client)  # failing too often: no certificate fetch for this one
        try:
            principal = authenticate(flask.request.headers.get("Authorization"),
                                     key_loader=lambda: services.secrets.access(config.api_jwt_secret),
                                     audience=config.api_audience, roles_of=roles_of,
                                     google_certs=_google_certs(app, config.api_google_certs_url),
                                     may_fetch_certs=held is None)
        except ApiError as exc:
            if exc.status != 401:
                raise
            throttle.failed(client)
            if held is not None:
                raise ApiError(429, f"too many failed authentications; try again in {held} s",
                               field="Authorization", headers={"Retry-After": str(held)}) from None
            raise
    if not principal.roles:
        raise ApiError(403, f"{principal.user} has no role in Postgate (editor or approver)")
    flask.g.principal = principal
    verdict = count_request(repo, principal.user, config.api_requests_per_minute, services.now())
    if not verdict.allowed:
        raise ApiError(429, f"more than {config.api_requests_per_minute} requests in a minute; "
                            f"try again in {verdict.retry_after} s", headers={"Retry-After": str(verdict.retry_after)})
    return None


def _google_certs(app, url: str):
    """This instance's cache of Google's certificates for `url` (kept on the app: one per instance)."""
    sets = app.extensions["postgate_google_certs"]
    certs = sets.get(url)
    if certs is None:
        certs = sets.setdefault(url, GoogleCerts(url))  # two first requests at once keep one set
    return certs


_app = None
_app_lock = threading.Lock()


def get_app():
    """One app per instance (routes and the OpenAPI document are built once, at the first request;
    requests arriving together at a cold start share it, and so its caches)."""
    global _app
    if _app is None:
        with _app_lock:
            if _app is None:
                _app = create_app()
    return _app


def dispatch(request):
    """Run the API app on a request functions-framework received (streamed answers keep streaming)."""
    app = get_app()
    # Read the body once here, bounded whatever Content-Length or Transfer-Encoding say
    # (functions-framework reads it again after we answer: it gets the same bytes).
    try:
        body = read_bounded(request.environ, MAX_BODY_BYTES)
    except BodyTooLarge as exc:
        return unread_body_answer(json.dumps({"detail": str(exc), "field": "body"}),
                                  413, {**api_headers(), "Content-Type": "application/json"})
    environ = dict(request.environ)
    environ["wsgi.input"] = io.BytesIO(body)
    with app.request_context(environ), request_budget():  # transactions retry briefly: answer fast
        return app.full_dispatch_request()
