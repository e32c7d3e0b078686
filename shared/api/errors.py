"""API errors: every refusal is `{"detail": ..., "field": ...}` with the status that says why."""

from __future__ import annotations

from pydantic import BaseModel, Field


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


class FieldError(BaseModel):
    field: str = Field(description="where in the request, e.g. targets[0].account_id")
    message: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer."""

    detail: str = Field(description="what went wrong, for a person")
    field: str | None = Field(default=None, description="the request field at fault, when one is")
    errors: list[FieldError] | None = Field(default=None, description="each invalid field (400) or item (bulk)")


def loc_to_field(loc) -> str:
    """('targets', 0, 'account_id') -> 'targets[0].account_id'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


# Statuses every operation may answer with an ErrorBody (declared in the OpenAPI document).
COMMON_ERRORS = {400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 413: ErrorBody,
                 422: ErrorBody, 429: ErrorBody, 503: ErrorBody}
