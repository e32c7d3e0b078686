"""generate: a brief (HTTP POST JSON or Pub/Sub message) becomes a draft awaiting approval."""

import functions_framework

from shared import entrypoints
from shared.content.brief_request import RequestRefused, read_brief_request
from shared.errors import BadMessage, PostgateError, TransientError, ValidationError
from shared.runtime.handlers import ensure_logging, handle_pubsub


@functions_framework.http
def generate_http(request):
    ensure_logging()
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
    return body, status, {"Allow": "POST"} if status == 405 else {}
