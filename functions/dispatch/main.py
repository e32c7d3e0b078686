"""dispatch: on each scheduler tick, send due scheduled posts and posts done waiting to their platform topics."""

import functions_framework

from shared import entrypoints
from shared.runtime.handlers import handle_pubsub


@functions_framework.cloud_event
def dispatch_due_posts(event):
    handle_pubsub(event, lambda payload, attrs, message_id: entrypoints.dispatch())
