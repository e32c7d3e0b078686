"""The user's time zone for the times a console page shows: `?tz=` on the request, else the cookie
console.js sets from the browser's own zone, else UTC. Times are stored in UTC; only the text changes."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import flask

from shared.approval.pages import zone_or_utc

TZ_COOKIE = "postgate-tz"  # written by static/console.js


def user_zone() -> ZoneInfo:
    request = flask.request
    return zone_or_utc(request.args.get("tz") or request.cookies.get(TZ_COOKIE))
