"""Links, form actions and redirects of the console, written relative to the page they are on.

Deployed, the browser reaches the api function at https://<region>-<project>.cloudfunctions.net/api/...
and the function sees the path without `/api`; locally (and on the function's run.app URL) there is no
such prefix. A reference relative to the current page resolves right in both, so the console never
needs to know the prefix a front end put before it."""

from __future__ import annotations

import posixpath
import string
from typing import Any
from urllib.parse import unquote, urlsplit

import flask

_SAFE = set(string.ascii_letters + string.digits + "-._~/?&=%+,;:@")


def relative(target: str, here: str) -> str:
    """`target` (a path of this app, maybe with a query) as seen from the page at path `here`."""
    path, sep, query = target.partition("?")
    base = here.rsplit("/", 1)[0] + "/"  # the "directory" the browser resolves against
    rel = "./" if path == base else posixpath.relpath(path, base)
    if rel.rsplit("/", 1)[-1] in (".", "..") and not path.endswith("/"):
        # The target is a "directory" of this page named without its slash (/console/campaigns seen from
        # /console/campaigns/x): "." would add the slash, so step out and name it.
        rel = posixpath.normpath(f"{rel}/../{posixpath.basename(path)}")
    if path.endswith("/") and not rel.endswith("/"):
        rel += "/"
    if ":" in rel.split("/", 1)[0]:  # a first segment with a colon would read as a scheme
        rel = "./" + rel
    return rel + (sep + query if sep else "")


def here() -> str:
    """The path of the current request as the app routes it."""
    return flask.request.script_root + flask.request.path


def url(endpoint: str, **values: Any) -> str:
    """The relative URL of an endpoint (`console.queue`, ...) from the current page."""
    return relative(flask.url_for(endpoint, **values), here())


def redirect_to(endpoint: str, **values: Any):
    """303 See Other to an endpoint: after a POST the browser GETs the answer page."""
    return flask.redirect(url(endpoint, **values), 303)


def safe_next(value: object, prefix: str) -> str | None:
    """A `next` target we may send a browser to after sign-in: a path of the console itself (under
    `prefix`, e.g. "/console"), never another site, scheme or host; None otherwise."""
    if not isinstance(value, str) or not value or len(value) > 2000 or not set(value) <= _SAFE:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.fragment or not parts.path.startswith(prefix + "/"):
        return None
    # `//`, `/./`, `/../`, and their percent-encoded forms (browsers read `%2e%2e` as `..`)
    segments = [unquote(segment) for segment in parts.path.split("/")]
    if "" in segments[1:-1] or any(s in (".", "..") or "/" in s or "\\" in s for s in segments):
        return None
    return value


def current_target() -> str:
    """What to come back to after sign-in: this request's path and query."""
    request = flask.request
    query = request.query_string.decode("latin-1")
    return here() + (f"?{query}" if query else "")
