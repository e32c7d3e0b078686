"""Google clients created once per instance, lazily, so a function only pays for what it uses.

Each accessor imports its library on first call (cold start matters). The emulator variables
(PUBSUB_EMULATOR_HOST, FIRESTORE_EMULATOR_HOST, STORAGE_EMULATOR_HOST) are honoured by the
libraries themselves; BigQuery has no such variable, so POSTGATE_BIGQUERY_ENDPOINT does it.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

_lock = threading.Lock()


@lru_cache(maxsize=4)
def firestore_client(project: str):
    from google.cloud import firestore

    return firestore.Client(project=project)


@lru_cache(maxsize=4)
def publisher_client():
    from google.cloud import pubsub_v1

    return pubsub_v1.PublisherClient()


@lru_cache(maxsize=4)
def storage_client(project: str):
    from google.cloud import storage  # type: ignore[attr-defined]  # google-cloud-storage has no py.typed marker

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project=project, credentials=AnonymousCredentials())
    return storage.Client(project=project)


@lru_cache(maxsize=4)
def bigquery_client(project: str, endpoint: str | None = None):
    from google.cloud import bigquery

    if endpoint:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=project, credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=endpoint)
        )
    return bigquery.Client(project=project)


def reset_clients() -> None:
    """Forget cached clients (tests that switch emulators between sessions)."""
    for fn in (firestore_client, publisher_client, storage_client, bigquery_client):
        fn.cache_clear()
