"""report-ingest: a CSV report dropped under incoming/ in the reports bucket is validated, loaded and moved.

Cloud Storage publishes an OBJECT_FINALIZE notification to report-files (attributes eventType, bucketId,
objectId, objectGeneration; data: the object resource); the push subscription delivers it here.
"""

import functions_framework

from shared import entrypoints
from shared.runtime.handlers import handle_pubsub


@functions_framework.cloud_event
def ingest_report(event):
    handle_pubsub(event, lambda payload, attributes, message_id: entrypoints.ingest_report(payload, attributes))
