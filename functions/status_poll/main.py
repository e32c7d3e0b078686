"""status-poll: on each scheduler tick, confirm or fail posts that platforms are processing."""

import functions_framework

from shared import entrypoints
from shared.runtime.handlers import handle_pubsub


@functions_framework.cloud_event
def poll_statuses(event):
    handle_pubsub(event, lambda payload, attrs, message_id: entrypoints.poll())
