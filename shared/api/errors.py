"""API errors: every refusal is `{"detail": ..., "field": ...}` with the status that says why.

Loaded with the api function's entry module (functions/api/main.py registers
`framework_errors_as_json` at import), so it imports only what functions-framework has loaded
already (flask, werkzeug) and the standard library.
"""

from __future__ import annotations

import flask
from werkzeug.exceptions import HTTPException

from shared.approval.refusals import DecisionBusy, PlatformWouldRefuse, Refusal, TokenRefused
from shared.runtime.web import api_headers


class ApiError(Exception):
    """Raise anywhere under a route: the app answers `status` with this detail (and headers)."""

    def __init__(self, status: int, detail: str, *, field: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.headers = headers or {}


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, f"no {what} {ident!r}")


def conflict(detail: str, *, field: str | None = None) -> ApiError:
    return ApiError(409, detail, field=field)


def refusal_error(refused: Refusal, *, conflict_field: str | None = None) -> ApiError:
    """An approval refusal (shared/approval/refusals.py) as the API answers it: 422 when a platform
    would refuse the content, 503 with Retry-After when busy, 403 or 410 for an unusable link, else
    409 naming `conflict_field` (the request field whose stale value the caller should read again)."""
    if isinstance(refused, PlatformWouldRefuse):
        return ApiError(422, refused.message)
    if isinstance(refused, DecisionBusy):
        return ApiError(503, refused.message, headers={"Retry-After": str(refused.retry_after)})
    if isinstance(refused, TokenRefused):
        return ApiError(410 if refused.reason == "expired" else 403, refused.message)
    return ApiError(409, refused.message, field=conflict_field)


def loc_to_field(loc) -> str:
    """('targets', 0, 'account_id') -> 'targets[0].account_id'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def error_response(status: int, detail: str, *, field: str | None = None, headers: dict[str, str] | None = None,
                   errors: list[dict[str, str]] | None = None) -> flask.Response:
    body: dict[str, object] = {"detail": detail, "field": field}
    if errors is not None:
        body["errors"] = errors
    response = flask.jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def framework_errors_as_json() -> None:
    """functions-framework answers a path its own route does not match (one with a newline in it)
    with Flask's HTML 404 before our app sees it: make those answers JSON too. Call from main.py,
    which functions-framework imports inside its app's context."""
    if not flask.has_app_context():
        return

    def _json(exc: HTTPException):
        response = error_response(exc.code or 500, exc.description or exc.name)
        for name, value in api_headers().items():
            response.headers.setdefault(name, value)
        return response

    flask.current_app.register_error_handler(HTTPException, _json)
