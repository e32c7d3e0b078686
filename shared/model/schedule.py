"""The one rule for when a post may be planned, used by create (one or bulk), AI drafts from the
API, edit and reschedule alike.

As sent: ISO 8601 text (a number such as 0 is not a time) with a UTC equivalent (a naive time is
UTC) -- a request model's `PlannedTime` field, 400 naming it. Judged: not before now (less a
minute of grace: "now" as sent is a little in the past when it arrives) and at most
PLAN_HORIZON ahead -- `check_planned_time`, 422 naming the field.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from shared.errors import ValidationError
from shared.runtime.clock import as_utc, utc_or_refuse

PAST_GRACE = timedelta(seconds=60)
PLAN_HORIZON = timedelta(days=731)


def _text_only(value):
    if isinstance(value, datetime) or (isinstance(value, str) and value.strip()):
        return value
    raise ValueError("must be an ISO 8601 date-time text, e.g. 2030-01-31T09:00:00Z")


def _utc(moment: datetime) -> datetime:
    return utc_or_refuse(moment)


PlannedTime = Annotated[datetime, BeforeValidator(_text_only), AfterValidator(_utc),
                        WithJsonSchema({"type": "string", "format": "date-time"})]


def check_planned_time(moment: datetime, *, now: datetime, field: str) -> datetime:
    """`moment` in UTC, or ValidationError (422) naming `field` when it is in the past or too far ahead."""
    moment = as_utc(moment)
    if moment < now - PAST_GRACE:
        raise ValidationError(f"{field} {moment.isoformat()} is in the past", field=field, limit="now or later")
    if moment > now + PLAN_HORIZON:
        raise ValidationError(f"{field} {moment.isoformat()} is too far ahead", field=field,
                              limit=f"at most {PLAN_HORIZON.days} days ahead")
    return moment
