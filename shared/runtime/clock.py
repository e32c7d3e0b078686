"""One place for 'now' and for reading a time as UTC, always timezone-aware."""

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime | None) -> datetime | None:
    """UTC (a naive time is read as UTC). Firestore gives times back in UTC, and the content hash
    covers publish_at's text: stored in another offset, the hash would no longer match itself."""
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def utc_or_refuse(moment: datetime | None) -> datetime | None:
    """as_utc for request validators: a time that has no UTC equivalent (year 1 at +14:00) is a
    ValueError (pydantic makes it a 400 naming the field), not an OverflowError."""
    try:
        return as_utc(moment)
    except OverflowError:
        raise ValueError("time out of range") from None
