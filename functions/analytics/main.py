"""analytics-pull and analytics-fetch: scheduled metrics pulls, fanned out per account, into BigQuery."""

import functions_framework

from shared import entrypoints
from shared.runtime.handlers import handle_pubsub


@functions_framework.cloud_event
def pull_metrics(event):
    handle_pubsub(event, lambda payload, attrs, message_id: entrypoints.pull_metrics(payload, message_id))


@functions_framework.cloud_event
def fetch_metrics(event):
    handle_pubsub(event, lambda payload, attrs, message_id: entrypoints.fetch_metrics(payload, message_id))
