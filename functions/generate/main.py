"""generate: a brief (HTTP POST JSON or Pub/Sub message) becomes a draft awaiting approval."""

import functions_framework

from shared import entrypoints
from shared.errors import BadMessage, PostgateError, TransientError, ValidationError
from shared.runtime.handlers import ensure_logging, handle_pubsub


@functions_framework.http
def generate_http(request):
    ensure_logging()
    if request.method != "POST":
        return {"error": "POST a brief as JSON"}, 405
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return {"error": "body must be a JSON object (a brief)"}, 400
    try:
        content = entrypoints.generate(body, request.headers.get("Idempotency-Key"))
    except (BadMessage, ValidationError) as exc:
        return {"error": str(exc), "field": getattr(exc, "field", None), "limit": getattr(exc, "limit", None)}, 400
    except TransientError as exc:
        return {"error": str(exc)}, 503
    except PostgateError as exc:
        return {"error": str(exc)}, 502
    return {"content_id": content.id, "status": content.status, "content_hash": content.content_hash,
            "caption": content.text()}, 201


@functions_framework.cloud_event
def generate_from_message(event):
    handle_pubsub(event, lambda payload, attrs, message_id: entrypoints.generate(payload, message_id))
