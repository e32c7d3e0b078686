"""The console's static files (shared/console/static, and the BORROWED files of other packages), served
by the console itself under fingerprinted URLs: `static/<digest>/<name>`, where the digest is the
file's SHA-256. A URL names one content forever, so browsers and proxies may keep it a year; a new
deploy changes the digest and so the URL. A page still holding an old digest gets the current file,
not cached long. Files are read once per instance."""

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


_assets: dict[str, Asset] | None = None
_lock = threading.Lock()


def assets() -> dict[str, Asset]:
    """Every static file by its name relative to the static folder (e.g. "console.css")."""
    global _assets
    if _assets is None:
        with _lock:
            if _assets is None:
                files = {path.relative_to(STATIC_DIR).as_posix(): path for path in sorted(STATIC_DIR.rglob("*"))
                         if path.is_file() and path.suffix in _TYPES}
                found = {}
                for name, path in {**files, **BORROWED}.items():
                    body = path.read_bytes()
                    found[name] = Asset(name, hashlib.sha256(body).hexdigest()[:DIGEST_CHARS], body, _TYPES[path.suffix])
                _assets = found
    return _assets


def digest_of(name: str) -> str:
    """The fingerprint of a static file; KeyError for a file that does not exist (a template's typo)."""
    return assets()[name].digest


def serve(digest: str, name: str):
    """The file; cached a year when the URL's digest is the current one."""
    asset = assets().get(name)
    if asset is None:
        flask.abort(404)
    response = flask.Response(asset.body, content_type=asset.content_type)
    response.headers["Cache-Control"] = LONG_CACHE if digest == asset.digest else "no-cache"
    response.headers["ETag"] = f'"{asset.digest}"'
    return response
