"""Models shared by several resources: pagination."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_PAGE = 100


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skip: int = Field(default=0, ge=0, le=100_000, description="items to skip")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="items to return (at most 100)")


def page_fields(items: list, total: int, query: PageQuery) -> dict:
    """The body of a list answer: `{"items", "total", "skip", "limit"}` (each resource declares its own
    concrete `<Resource>Page` model so the OpenAPI document names it)."""
    return {"items": items, "total": total, "skip": query.skip, "limit": query.limit}
