"""catalogue-refresh: on each scheduler tick, import or refresh every connected YouTube channel's catalogue."""

import functions_framework

from shared import entrypoints
from shared.runtime.handlers import handle_pubsub


@functions_framework.cloud_event
def refresh_catalogue(event):
    handle_pubsub(event, lambda payload, attrs, message_id: entrypoints.refresh_catalogue(payload, message_id))
