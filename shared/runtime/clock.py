"""One place for 'now' and for reading a time as UTC, always timezone-aware."""

from datetime import UTC, datetime
from typing import overload


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(moment: datetime) -> datetime: ...
@overload
def as_utc(moment: None) -> None: ...
def as_utc(moment: datetime | None) -> datetime | None:
    """UTC (a naive time is read as UTC). Firestore gives times back in UTC, and the content hash
    covers publish_at's text: stored in another offset, the hash would no longer match itself."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@overload
def utc_or_refuse(moment: datetime) -> datetime: ...
@overload
def utc_or_refuse(moment: None) -> None: ...
def utc_or_refuse(moment: datetime | None) -> datetime | None:
    """as_utc for request validators: a time that has no UTC equivalent (year 1 at +14:00) is a
    ValueError (pydantic makes it a 400 naming the field), not an OverflowError."""
    try:
        return as_utc(moment)
    except OverflowError:
        raise ValueError("time out of range") from None
