"""publish-youtube: claim an approved post and publish it to YouTube."""

import functions_framework

from shared import entrypoints
from shared.runtime.handlers import handle_pubsub


@functions_framework.cloud_event
def publish_youtube(event):
    handle_pubsub(event, lambda payload, attrs, message_id: entrypoints.publish(payload))
