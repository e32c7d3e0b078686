"""The collaborators a function instance works with, as one typed object built once per process:
configuration, the Firestore repository, the secret store, the media store, BigQuery and the clock.

`get_services()` builds it at first use from the configuration; the API's route handlers and the
functions' handlers (shared/handlers) read its attributes. A test or tool that wires its own
collaborators builds a `Services` itself and `install`s it. `repository()`, `secrets()`, `media_store()` and
`bigquery()` are shortcuts to the process-wide object for scripts and tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from shared.runtime.clients import bigquery_client, firestore_client, reset_clients
from shared.runtime.clock import utcnow
from shared.runtime.config import get_config
from shared.runtime.config_model import Config
from shared.stores.media import CloudStorageMedia
from shared.stores.posts import Repository
from shared.stores.protocols import MediaStore, SecretStore
from shared.stores.secrets import forget_secret_stores, secret_store_from_config

if TYPE_CHECKING:  # the library itself loads when the factory first runs (cold start)
    from google.cloud import bigquery as bq


@dataclass(frozen=True)
class Services:
    config: Config
    repository: Repository
    secrets: SecretStore
    media: MediaStore
    bigquery: Callable[[], bq.Client]  # a factory: only functions that write to BigQuery load its library
    now: Callable[[], datetime] = utcnow

    @classmethod
    def from_config(cls, config: Config) -> Services:
        """The deployed wiring: Firestore, Cloud Storage and BigQuery of `config.project`, the secret
        backend the configuration names."""
        return cls(config=config, repository=Repository(firestore_client(config.project)),
                   secrets=secret_store_from_config(config), media=CloudStorageMedia(config.project),
                   bigquery=lambda: bigquery_client(config.project, config.bigquery_endpoint))


_current: Services | None = None
_lock = threading.Lock()


def get_services() -> Services:
    """This process's collaborators (requests arriving together at a cold start share one)."""
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = Services.from_config(get_config())
    return _current


def install(services: Services) -> None:
    """Use `services` for this process from now on (a test or tool with its own collaborators or
    clock, e.g. `dataclasses.replace(get_services(), now=...)`); `reset()` forgets it."""
    global _current
    with _lock:
        _current = services


def repository() -> Repository:
    return get_services().repository


def secrets() -> SecretStore:
    return get_services().secrets


def media_store() -> MediaStore:
    return get_services().media


def bigquery() -> bq.Client:
    return get_services().bigquery()


def reset() -> None:
    """Forget everything built so far (tests that change the environment)."""
    global _current
    with _lock:
        _current = None
    get_config.cache_clear()
    reset_clients()
    forget_secret_stores()
