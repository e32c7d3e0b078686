"""approval: send signed links (Pub/Sub) and serve them (HTTP: review page, decision)."""

import functions_framework

from shared import entrypoints
from shared.approval import pages
from shared.runtime import web
from shared.runtime.handlers import ensure_logging, handle_pubsub

MAX_BODY_BYTES = 16 * 1024  # a token, an action, a time zone and a 1000-character reason fit easily

web.add_headers_to_every_response(pages.security_headers)


@functions_framework.cloud_event
def notify_approvers(event):
    handle_pubsub(event, lambda payload, attrs, message_id: entrypoints.notify_approvers(payload))


@functions_framework.http
def approval_http(request):
    ensure_logging()
    return web.guarded(lambda: _answer(request), lambda: (
        pages.result_page("Something went wrong", "Nothing was recorded. Try again in a minute."), 500,
        pages.security_headers()))


def _answer(request):
    try:
        form = web.read_form(request, MAX_BODY_BYTES) if request.method == "POST" else {}
    except web.BodyTooLarge:
        return web.unread_body_answer(pages.result_page("Request too large", "That request was too large."), 413,
                                      pages.security_headers())
    result = entrypoints.approval_page(request.method, form, request.args.get("token"))
    headers = pages.security_headers(result.media_origins)
    if result.retry_after:
        headers["Retry-After"] = str(result.retry_after)
    return result.html, result.status, headers
