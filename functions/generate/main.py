"""generate: a brief (HTTP POST JSON or Pub/Sub message) becomes a draft awaiting approval."""

import json

import functions_framework

from shared import entrypoints
from shared.content.brief_request import RequestRefused, read_brief_request
from shared.errors import BadMessage, PostgateError, TransientError, ValidationError
from shared.runtime import web
from shared.runtime.handlers import ensure_logging, handle_pubsub

web.add_headers_to_every_response(web.api_headers)


@functions_framework.http
def generate_http(request):
    ensure_logging()
    return web.guarded(lambda: _answer(request), lambda: ({"error": "internal error; nothing was stored"}, 500))


def _answer(request):
    try:
        brief, idempotency_key = read_brief_request(request)
        content = entrypoints.generate(brief, idempotency_key)
    except RequestRefused as exc:
        return _error(exc, exc.status)
    except (BadMessage, ValidationError) as exc:
        return _error(exc, 400)
    except TransientError as exc:
        return _error(exc, 503)
    except PostgateError as exc:
        return _error(exc, 502)
    return {"content_id": content.id, "status": content.status, "content_hash": content.content_hash,
            "caption": content.text()}, 201


@functions_framework.cloud_event
def generate_from_message(event):
    handle_pubsub(event, lambda payload, attrs, message_id: entrypoints.generate(payload, message_id))


def _error(exc: Exception, status: int):
    body = {"error": str(exc), "field": getattr(exc, "field", None), "limit": getattr(exc, "limit", None)}
    if status == 413:
        return web.unread_body_answer(json.dumps(body), 413, {"Content-Type": "application/json"})
    return body, status, {"Allow": "POST"} if status == 405 else {}
