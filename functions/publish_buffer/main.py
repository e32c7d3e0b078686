"""publish-buffer: claim an approved post and hand it to Buffer for the channel behind its account."""

import functions_framework

from shared import entrypoints
from shared.runtime.handlers import handle_pubsub


@functions_framework.cloud_event
def publish_buffer(event):
    handle_pubsub(event, lambda payload, attrs, message_id: entrypoints.publish(payload))
