"""publish-linkedin: claim an approved post and publish it to LinkedIn."""

import functions_framework

from shared import entrypoints
from shared.runtime.handlers import handle_pubsub


@functions_framework.cloud_event
def publish_linkedin(event):
    handle_pubsub(event, lambda payload, attrs, message_id: entrypoints.publish(payload))
