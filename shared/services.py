"""Per-instance wiring of config, repository, secrets and media: created once, lazily."""

from __future__ import annotations

from functools import lru_cache

from shared.runtime.config import get_config


@lru_cache(maxsize=1)
def repository():
    from shared.runtime.clients import firestore_client
    from shared.stores.posts import Repository

    return Repository(firestore_client(get_config().project))


@lru_cache(maxsize=1)
def secrets():
    from shared.secrets import secret_store_from_config

    return secret_store_from_config(get_config())


@lru_cache(maxsize=1)
def media_store():
    from shared.stores.media import MediaStore

    return MediaStore(get_config().project)


@lru_cache(maxsize=1)
def bigquery():
    from shared.runtime.clients import bigquery_client

    config = get_config()
    return bigquery_client(config.project, config.bigquery_endpoint)


def reset() -> None:
    """Forget everything cached (tests that change the environment)."""
    for fn in (repository, secrets, media_store, bigquery, get_config):
        fn.cache_clear()
    from shared.runtime.clients import reset_clients

    reset_clients()
    from shared import secrets as secrets_module

    secrets_module._stores.clear()
