"""API errors: every refusal is `{"detail": ..., "field": ...}` with the status that says why."""

from __future__ import annotations


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


def loc_to_field(loc) -> str:
    """('targets', 0, 'account_id') -> 'targets[0].account_id'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
