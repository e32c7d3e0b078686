"""What the sandboxes were asked and what they answered, kept for the contract checks.

The sandboxes are our reading of each platform's documents, so a misreading in a client can be
repeated in its sandbox and no behaviour test notices. The test suite therefore records every
exchange a sandbox serves (`recording()`) and checks it against the platform's own machine-readable
document (tests/contracts/). Recording costs a copy of each body, so it is off unless a recorder
is open: the demo, the soak and the local stack never pay for it.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

BODY_LIMIT = 1024 * 1024  # bodies are kept up to this many bytes (video chunks are counted, not kept)
# A multipart body is kept whole up to this size: its part headers and fields come after the media
# bytes it may carry (X's APPEND segments are at most 5 MiB).
MULTIPART_LIMIT = 8 * 1024 * 1024
DROPPED_REASON = "Connection Dropped"  # the status reason of sandboxes' dropped_answer()


@dataclass(frozen=True)
class Exchange:
    """One request a sandbox received and the answer it gave."""

    sandbox: str  # the platform: tiktok, x, youtube, instagram, linkedin
    host: str  # the platform host this sandbox plays (e.g. graph.instagram.com)
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes  # the first BODY_LIMIT bytes
    body_size: int
    status: int
    response_headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    response_body: bytes = b""
    dropped: bool = False  # the connection was closed without an answer: the client saw none
    # The request target exactly as sent (path and query still percent-encoded): `path` and `query`
    # are decoded, so only this shows whether e.g. a URN in a path or in Rest.li's List(...) was encoded.
    raw_uri: str = ""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        return _json_or_none(self.body)

    def response_json(self) -> Any:
        return _json_or_none(self.response_body)

    def form(self) -> dict[str, str]:
        """An application/x-www-form-urlencoded body as a dict (last value wins)."""
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def params(self) -> dict[str, str]:
        """The query string as a dict (last value wins)."""
        return dict(self.query)

    def describe(self) -> str:
        return f"{self.method} {self.host}{self.path} -> {self.status}"


def _json_or_none(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


_lock = threading.Lock()
_open: list[list[Exchange]] = []


@contextlib.contextmanager
def recording() -> Iterator[list[Exchange]]:
    """Every exchange any sandbox in this process serves while the block runs, in arrival order."""
    exchanges: list[Exchange] = []
    with _lock:
        _open.append(exchanges)
    try:
        yield exchanges
    finally:
        with _lock:  # by identity: two recorders holding equal lists are still two recorders
            _open[:] = [other for other in _open if other is not exchanges]


def recording_app(app: Callable, *, sandbox: str, host: Callable[[], str]) -> Callable:
    """`app` as a WSGI app that hands each exchange to the open recorders (if any)."""

    def wsgi(environ: dict, start_response: Callable) -> Any:
        with _lock:
            active = bool(_open)
        if not active:
            return app(environ, start_response)
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable:
            answer["status"], answer["headers"] = status, headers
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        chunks = app(environ, capture)
        try:
            response = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        status_line = str(answer.get("status", "500"))
        exchange = Exchange(
            sandbox=sandbox, host=host(), method=environ["REQUEST_METHOD"], path=environ.get("PATH_INFO", ""),
            query=parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True),
            headers=_request_headers(environ), body=body[:_kept(environ)], body_size=len(body),
            status=int(status_line.split()[0]),
            response_headers={k.lower(): v for k, v in answer.get("headers", [])},
            response_body=response[:BODY_LIMIT], dropped=DROPPED_REASON in status_line,
            raw_uri=environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
        with _lock:
            for exchanges in _open:
                exchanges.append(exchange)
        return [response]

    return wsgi


def _kept(environ: dict) -> int:
    return MULTIPART_LIMIT if environ.get("CONTENT_TYPE", "").lower().startswith("multipart/") else BODY_LIMIT


def _read_body(environ: dict) -> bytes:
    """The whole body: Content-Length bytes (the socket stays open for the next request on the
    connection, so never read to its end), or to the end of a chunked body the server has decoded."""
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        return stream.read()
    length = environ.get("CONTENT_LENGTH") or ""
    return stream.read(int(length)) if length.isdigit() and int(length) > 0 else b""


def _request_headers(environ: dict) -> dict[str, str]:
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return headers
