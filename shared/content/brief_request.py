"""A brief as it arrives over HTTP: the request read within limits into a JSON payload
(shared/content/drafts.py validates the payload into a Brief).

Every refusal is a ValidationError naming the field (a readable path such as `targets[0].title`)
and the rule it broke, raised before anything is generated or stored.
"""

from __future__ import annotations

import json
import re
from typing import Any

from shared.errors import ValidationError

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 20  # a brief needs 4: body > targets > target > tags
MAX_IDEMPOTENCY_KEY_CHARS = 200

# JSON strings (an unterminated one runs to the end, so the scan stays linear) and structural characters.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[{}\[\],:]', re.DOTALL)


class RequestRefused(ValidationError):
    """An HTTP request refused as it was read; `status` is the answer's code (400, 405, 413, 415)."""

    def __init__(self, status: int, message: str, *, field: str, limit: str | None = None):
        super().__init__(message, field=field, limit=limit)
        self.status = status


def read_brief_request(request) -> tuple[dict[str, Any], str | None]:
    """(brief payload, Idempotency-Key) from a Flask request; RequestRefused saying what to fix.

    The size is checked before the body is read, the nesting before it is parsed.
    """
    if request.method != "POST":
        raise RequestRefused(405, "POST a brief as JSON", field="method", limit="POST")
    if not request.is_json:
        raise RequestRefused(415, f"the body must be JSON, not {request.mimetype or 'untyped'}", field="Content-Type",
                             limit="application/json")
    key = request.headers.get("Idempotency-Key")
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise RequestRefused(400, f"Idempotency-Key is {len(key)} characters long", field="Idempotency-Key",
                             limit=f"max_length={MAX_IDEMPOTENCY_KEY_CHARS}")
    return _json_object(_body(request)), key


def _body(request) -> bytes:
    """At most MAX_BODY_BYTES, refused by Content-Length before reading, or by counting when there is none."""
    too_large = RequestRefused(413, f"the body is over {MAX_BODY_BYTES} bytes", field="body",
                               limit=f"max_bytes={MAX_BODY_BYTES}")
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise too_large
    chunks, size = [], 0
    while size <= MAX_BODY_BYTES and (chunk := request.stream.read(MAX_BODY_BYTES + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
    if size > MAX_BODY_BYTES:
        raise too_large
    return b"".join(chunks)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestRefused(400, "the body is not UTF-8", field="body", limit="UTF-8 JSON") from None
    deep = first_too_deep(text)
    if deep is not None:
        raise RequestRefused(400, f"JSON nested more than {MAX_JSON_DEPTH} levels deep at {deep or 'the top'}",
                             field=deep or "body", limit=f"max_depth={MAX_JSON_DEPTH}")
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise RequestRefused(400, f"the body is not valid JSON: {exc}", field="body") from None
    if not isinstance(payload, dict):
        raise RequestRefused(400, f"the body must be a JSON object (a brief), not {type(payload).__name__}",
                             field="body")
    return payload


def first_too_deep(text: str) -> str | None:
    """Path of the first array or object opened deeper than MAX_JSON_DEPTH, or None.

    One pass over the tokens with an explicit stack, so no nesting can exhaust Python's recursion
    (json.loads raises RecursionError on a few thousand levels). Malformed JSON is left to json.loads.
    """
    stack: list[str | int | None] = []  # per open container: the key (object) or index (array) being read
    last_string = None
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("{", "["):
            if len(stack) == MAX_JSON_DEPTH:
                return field_path(stack)
            stack.append(0 if token == "[" else None)
        elif token in ("}", "]"):
            if stack:
                stack.pop()
        elif token == ",":
            if stack and isinstance(stack[-1], int):
                stack[-1] += 1
        elif token == ":":
            if stack and last_string is not None:
                stack[-1] = last_string[1:-1]
        else:
            last_string = token
    return None


def field_path(loc) -> str:
    """("targets", 0, "title") -> "targets[0].title"."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part is not None:
            path += f".{part}" if path else str(part)
    return path
