"""The reader's time zone: the console shows times in it and reads times typed into its forms in it;
Firestore keeps UTC.

Which zone: a `tz` query parameter (an IANA name; anything else is a 400 naming `tz`), else the
cookie console.js sets from the browser's own zone (Intl), else UTC. The names allowed are the API's
(`TIME_ZONES`, what GET /calendar accepts)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import flask

from shared.api.errors import ApiError
from shared.api.routes.posts import TIME_ZONES
from shared.runtime.clock import as_utc, utcnow

TZ_COOKIE = "postgate-tz"  # written by static/console.js
UTC = ZoneInfo("UTC")
_KNOWN = frozenset(TIME_ZONES)


def zone_named(name: str, *, field: str = "tz") -> ZoneInfo:
    """The zone called `name`, or a 400 naming `field`."""
    if name not in _KNOWN:
        raise ApiError(400, f"{field} {name[:64]!r} is not an IANA time zone name (e.g. Europe/Berlin)", field=field)
    return ZoneInfo(name)


def asked_zone() -> str | None:
    """The `tz` query parameter, when the page was asked for a zone (its links then keep it)."""
    return flask.request.args.get("tz") or None


def reader_zone() -> ZoneInfo:
    """This request's zone: `?tz=`, else the browser's (cookie), else UTC."""
    asked = asked_zone()
    if asked is not None:
        return zone_named(asked)
    cookie = flask.request.cookies.get(TZ_COOKIE, "")
    return ZoneInfo(cookie) if cookie in _KNOWN else UTC


def local(moment: datetime, zone: ZoneInfo) -> datetime:
    return as_utc(moment).astimezone(zone)


def today(zone: ZoneInfo) -> date:
    return utcnow().astimezone(zone).date()


def moment_of(text: str, zone: ZoneInfo, *, field: str) -> datetime:
    """A local date and time typed into a form (`2027-03-28T09:30`, what <input type="datetime-local">
    sends) in `zone`, as an aware time; ValueError naming `field` when it is not one, or names a time
    that the zone skips (clocks going forward)."""
    try:
        naive = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{field} {text[:40]!r} is not a date and time (e.g. 2030-01-31T09:00)") from None
    if naive.tzinfo is not None:
        return naive
    aware = naive.replace(tzinfo=zone)
    if as_utc(aware).astimezone(zone).replace(tzinfo=None) != naive:
        raise ValueError(f"{field} {naive:%Y-%m-%d %H:%M} does not exist in {zone.key}: the clocks skip it")
    return aware
