"""token-refresh: on each scheduler tick, renew account tokens nearing expiry (idle accounts too)."""

import functions_framework

from shared import entrypoints
from shared.runtime.handlers import handle_pubsub


@functions_framework.cloud_event
def refresh_tokens(event):
    handle_pubsub(event, lambda payload, attrs, message_id: entrypoints.refresh_tokens())
