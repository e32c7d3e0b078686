"""publish-x: claim an approved post and publish it to X."""

import functions_framework

from shared import entrypoints
from shared.runtime.handlers import handle_pubsub


@functions_framework.cloud_event
def publish_x(event):
    handle_pubsub(event, lambda payload, attrs, message_id: entrypoints.publish(payload))
