"""The one rule for when a post may be planned, used by create (one or bulk), AI drafts from the
API and the console's composer, edit and reschedule alike.

As sent: ISO 8601 text (a number such as 0 is not a time) with a UTC equivalent (a naive time is
UTC) -- a request model's `PlannedTime` field, 400 naming it. Judged: not before now (less a
minute of grace: "now" as sent is a little in the past when it arrives) and at most
PLAN_HORIZON ahead -- `check_planned_time`, 422 naming the field. A wall-clock time a person typed
in their own time zone (the console) becomes UTC through `planned_time_in_zone` first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
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


def planned_time_in_zone(local: str, zone: tzinfo, *, field: str) -> datetime:
    """A wall-clock time as a person types it ("2030-01-31T09:00", an HTML datetime-local field) in
    `zone`, as UTC. ValidationError naming `field` when it is not a date and time, carries an offset
    of its own, or falls in the hour the zone's clocks skip; of a time the zone has twice (clocks
    turned back) it is the first. Judge the result with check_planned_time."""
    try:
        wall = datetime.fromisoformat(local.strip())
    except ValueError:
        raise ValidationError(f"{field} {local!r} is not a date and time", field=field,
                              limit="YYYY-MM-DDTHH:MM") from None
    if wall.tzinfo is not None:
        raise ValidationError(f"{field} {local!r} carries its own offset; give the local time alone", field=field,
                              limit="YYYY-MM-DDTHH:MM")
    try:
        moment = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    except OverflowError:
        raise ValidationError(f"{field} {local!r} is out of range", field=field, limit="YYYY-MM-DDTHH:MM") from None
    if moment.astimezone(zone).replace(tzinfo=None) != wall:
        raise ValidationError(f"{field} {wall:%Y-%m-%d %H:%M} does not exist in {zone}: the clocks skip it",
                              field=field, limit="a time that exists in the time zone")
    return moment
