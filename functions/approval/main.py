"""approval: send signed links (Pub/Sub) and serve them (HTTP: GET confirm page, POST decision)."""

import functions_framework

from shared import entrypoints
from shared.runtime.handlers import ensure_logging, handle_pubsub

_HEADERS = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "X-Frame-Options": "DENY"}


@functions_framework.cloud_event
def notify_approvers(event):
    handle_pubsub(event, lambda payload, attrs, message_id: entrypoints.notify_approvers(payload))


@functions_framework.http
def approval_http(request):
    ensure_logging()
    token = request.form.get("token") if request.method == "POST" else request.args.get("token")
    status, html = entrypoints.approval_page(request.method, token, request.form.get("action"))
    return html, status, _HEADERS
