"""The console's static files (shared/console/static, and the BORROWED files of other packages),
served by the console itself under fingerprinted URLs: `static/<digest>/<name>`, where the digest is
the file's SHA-256. A URL names one content forever, so browsers and proxies may keep it a year; a
new deploy changes the digest and so the URL. A page still holding an old digest gets the current
file, not cached long. Each file is read once per instance, at its first use: the vendored Swagger UI
of /docs (2 MB) costs nothing to a console page."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import flask

from shared.analytics.charts import STYLESHEET as CAMPAIGN_CHARTS_CSS

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Files another package owns, served here as they are under the name on the left: the campaign charts'
# stylesheet is one file wherever the charts are shown (shared/analytics/charts.py).
BORROWED = {"campaign-charts.css": CAMPAIGN_CHARTS_CSS}
DIGEST_CHARS = 16
LONG_CACHE = "public, max-age=31536000, immutable"
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    name: str
    digest: str
    body: bytes
    content_type: str


_names: frozenset[str] | None = None
_loaded: dict[str, Asset] = {}
_lock = threading.Lock()


def names() -> frozenset[str]:
    """Every static file by its name relative to the static folder (e.g. "console.css"), listed once."""
    global _names
    if _names is None:
        _names = frozenset([*(p.relative_to(STATIC_DIR).as_posix() for p in STATIC_DIR.rglob("*")
                              if p.is_file() and p.suffix in _TYPES), *BORROWED])
    return _names


def asset(name: str) -> Asset | None:
    """One static file, read and fingerprinted at its first use; None for a name that is not one."""
    if name not in names():
        return None
    found = _loaded.get(name)
    if found is None:
        with _lock:
            found = _loaded.get(name)
            if found is None:
                path = BORROWED.get(name) or STATIC_DIR / name
                body = path.read_bytes()
                found = Asset(name, hashlib.sha256(body).hexdigest()[:DIGEST_CHARS], body, _TYPES[path.suffix])
                _loaded[name] = found
    return found


def assets() -> dict[str, Asset]:
    """Every static file, read (for checks; pages read only the ones they use)."""
    return {name: found for name in sorted(names()) if (found := asset(name)) is not None}


def digest_of(name: str) -> str:
    """The fingerprint of a static file; KeyError for a file that does not exist (a template's typo)."""
    found = asset(name)
    if found is None:
        raise KeyError(name)
    return found.digest


def serve(digest: str, name: str):
    """The file; cached a year when the URL's digest is the current one."""
    found = asset(name)
    if found is None:
        flask.abort(404)
    response = flask.Response(found.body, content_type=found.content_type)
    response.headers["Cache-Control"] = LONG_CACHE if digest == found.digest else "no-cache"
    response.headers["ETag"] = f'"{found.digest}"'
    return response
