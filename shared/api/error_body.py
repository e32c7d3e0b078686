"""The error answer's model for the OpenAPI document: every refusal is an ErrorBody.

Apart from shared/api/errors.py (raised everywhere) because it needs pydantic, which the api function's
import (cold start) leaves out: this module is imported when the app is first built.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    field: str = Field(description="where in the request, e.g. targets[0].account_id")
    message: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer."""

    detail: str = Field(description="what went wrong, for a person")
    field: str | None = Field(default=None, description="the request field at fault, when one is")
    errors: list[FieldError] | None = Field(default=None, description="each invalid field (400) or item (bulk)")


# Statuses every operation may answer with an ErrorBody (declared in the OpenAPI document).
COMMON_ERRORS = {400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 413: ErrorBody,
                 422: ErrorBody, 429: ErrorBody, 503: ErrorBody}
