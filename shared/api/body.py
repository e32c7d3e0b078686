"""Request bodies read and parsed under hard bounds, whatever the headers say.

Reading: at most MAX_BODY_BYTES (+1 to know it is over), whether the length comes from
Content-Length or from a chunked stream the server decodes; a body over the bound is refused
(413) and nothing is parsed or stored. Parsing: one strict JSON reader for every route (the app's
JSON provider): nesting deeper than MAX_JSON_DEPTH (the brief reader's bound, measured before
parsing), a duplicate key, NaN/Infinity or a top level that is not an object are 400 naming the
field (or the body), never a RecursionError or a silent last-value-wins.
"""

from __future__ import annotations

import io
import json

from shared.api.errors import ApiError
from shared.content.brief_request import MAX_JSON_DEPTH, first_too_deep

MAX_BODY_BYTES = 1024 * 1024  # a bulk of 100 posts with long captions fits
# A refused body is read on (and dropped) up to this much more, so the client, still sending,
# gets the 413 instead of a reset connection; a longer one is cut off.
DRAIN_BYTES = 8 * MAX_BODY_BYTES
_READ_SIZE = 64 * 1024


class BodyTooLarge(Exception):
    pass


def read_bounded(environ: dict, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body from the WSGI environ, at most `limit` bytes; BodyTooLarge beyond. The environ's
    input is replaced by the bytes read, so whatever reads the body later (functions-framework does,
    after the answer) reads this copy and never the socket again."""
    stream = environ.get("wsgi.input")
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    try:
        declared = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        declared = None
    if stream is None:
        to_read = 0
    elif chunked or (declared is None and environ.get("wsgi.input_terminated")):
        to_read = limit + 1  # the server ends the stream where the body ends; one byte more tells "over"
    elif declared is not None and declared > limit:
        raise BodyTooLarge(f"request body over {limit} bytes")  # said so up front: nothing read
    elif declared is not None and declared > 0:
        to_read = declared
    else:
        to_read = 0  # no length, no chunks: no body (RFC 9112 section 6.3)
    body = _read(stream, to_read) if to_read else b""
    over = len(body) > limit
    if over:
        _read(stream, DRAIN_BYTES, keep=False)  # a client still sending then reads the 413
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    if over:
        raise BodyTooLarge(f"request body over {limit} bytes")
    return body


def _read(stream, size: int, *, keep: bool = True) -> bytes:
    parts: list[bytes] = []
    left = size
    while left > 0:
        try:
            part = stream.read(min(_READ_SIZE, left))
        except (OSError, ValueError):  # the client went away mid-body
            break
        if not part:
            break
        left -= len(part)
        if keep:
            parts.append(part)
    return b"".join(parts)


# -- strict JSON ----------------------------------------------------------------------------------

class _DuplicateKey(Exception):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def strict_loads(data: bytes | str) -> dict:
    """The request's JSON object; ApiError 400 for anything else (see the module doc)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "body is not UTF-8", field="body") from None
    deep = first_too_deep(data)  # measured without recursion, so a megabyte of `[` costs a scan, not the stack
    if deep is not None:
        raise ApiError(400, f"JSON nested more than {MAX_JSON_DEPTH} levels deep at {deep or 'the top'}",
                       field=deep or "body")
    try:
        value = json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _DuplicateKey as exc:
        raise ApiError(400, f"key {exc.key!r} appears more than once in one object", field=exc.key) from None
    except RecursionError:  # not reached after the depth check; kept so no parser path can crash
        raise ApiError(400, "body is nested too deeply", field="body") from None
    except ValueError as exc:
        raise ApiError(400, f"body is not JSON: {exc}", field="body") from None
    if not isinstance(value, dict):
        raise ApiError(400, "body must be a JSON object", field="body")
    return value
