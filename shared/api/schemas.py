"""Models shared by several resources: pagination, and types that state their rules in the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

MAX_PAGE = 100


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skip: int = Field(default=0, ge=0, le=100_000, description="items to skip")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="items to return (at most 100)")


def page_fields(items: list, total: int, query: PageQuery) -> dict:
    """The body of a list answer: `{"items", "total", "skip", "limit"}` (each resource declares its own
    concrete `<Resource>Page` model so the OpenAPI document names it)."""
    return {"items": items, "total": total, "skip": query.skip, "limit": query.limit}


# -- rules stated in the OpenAPI document as the API enforces them ------------------------------

# A day from 1970-01-02 to 9998-12-31 as YYYY-MM-DD (a local day there still has a UTC start and end
# inside the datetime range in every zone): the range is the pattern, so the document states it.
DAY_PATTERN = (r"^(1970-(01-(0[2-9]|[12][0-9]|3[01])|(0[2-9]|1[0-2])-[0-9]{2})"
               r"|(197[1-9]|19[89][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-[0-9]{2}-[0-9]{2})$")
_DAY = re.compile(DAY_PATTERN)


def _day_text(value):
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise ValueError("a day from 1970-01-02 to 9998-12-31 as YYYY-MM-DD")
    return value


# A `date` whose document says exactly what is taken (format, pattern, so the range).
Day = Annotated[dt.date, BeforeValidator(_day_text),
                WithJsonSchema({"type": "string", "format": "date", "pattern": DAY_PATTERN})]
