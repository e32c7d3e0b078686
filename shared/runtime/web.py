"""What every HTTP function needs around its handler: a body limit checked before parsing,
headers on every response (errors and the framework's own answers included), and a crash turned
into a logged 500 page instead of a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Callable

from shared.runtime.logging import log_event

log = logging.getLogger("postgate.http")


class BodyTooLarge(Exception):
    pass


def add_headers_to_every_response(headers: Callable[[], dict[str, str]]) -> None:
    """Register on the app functions-framework is loading us into (main.py runs in its app
    context). Headers a handler set itself (a page's own CSP) are kept."""
    import flask

    if not flask.has_app_context():
        return

    def _add(response):
        for name, value in headers().items():
            response.headers.setdefault(name, value)
        return response

    flask.current_app.after_request(_add)


def api_headers() -> dict[str, str]:
    """For JSON answers: nothing to render, frame, cache, sniff or refer."""
    return {"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'", "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def unread_body_answer(body: str, status: int, headers: dict[str, str]):
    """An answer that leaves a refused body unread: functions-framework reads every request body
    after a non-streamed response (read_request), so a 413 is sent streamed, closing the connection."""
    import flask

    response = flask.Response(iter([body]), status=status, headers={**headers, "Connection": "close"})
    return response


def read_form(request, limit: int) -> dict[str, str]:
    """The urlencoded form, refusing more than `limit` bytes before anything is read or parsed."""
    from werkzeug.exceptions import RequestEntityTooLarge

    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(f"{request.content_length} bytes")
    request.max_content_length = limit  # also bounds a body sent without Content-Length (chunked)
    try:
        return {key: value for key, value in request.form.items()}
    except RequestEntityTooLarge:
        raise BodyTooLarge("over the limit") from None


def guarded(handler: Callable[[], tuple], crash: Callable[[], tuple]) -> tuple:
    """Run the handler; an exception is our bug: log it with its trace and answer `crash()`."""
    try:
        return handler()
    except Exception:  # noqa: BLE001 - the one place a crash becomes a logged 500
        log.exception("request failed")
        log_event(log, logging.ERROR, "answered 500")
        return crash()
