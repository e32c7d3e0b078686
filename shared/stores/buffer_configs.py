"""Firestore access for Buffer configurations (`buffer_configs/{id}`). What a configuration is and
when it may change is shared/accounts/buffer_configs.py's; its key lives in the secret store, never here."""

from __future__ import annotations

from typing import Any

from shared.stores.posts import Repository

BUFFER_CONFIGS = "buffer_configs"


def _ref(repo: Repository, config_id: str):
    return repo.db.collection(BUFFER_CONFIGS).document(config_id)


def create_config(repo: Repository, config_id: str, record: dict[str, Any]) -> bool:
    """False if the id is taken (atomic)."""
    from google.api_core.exceptions import AlreadyExists

    try:
        _ref(repo, config_id).create(record)
    except AlreadyExists:
        return False
    return True


def get_config_record(repo: Repository, config_id: str) -> dict[str, Any] | None:
    snap = _ref(repo, config_id).get()
    return (snap.to_dict() or {}) if snap.exists else None


def update_config(repo: Repository, config_id: str, changes: dict[str, Any]) -> None:
    _ref(repo, config_id).update(changes)


def delete_config(repo: Repository, config_id: str) -> None:
    _ref(repo, config_id).delete()


def config_records(repo: Repository) -> list[tuple[str, dict[str, Any]]]:
    """Every configuration, in id order (a team has a few)."""
    return [(snap.id, snap.to_dict() or {}) for snap in repo.db.collection(BUFFER_CONFIGS).order_by("__name__").stream()]


def config_with_key_digest(repo: Repository, digest: str) -> str | None:
    """The configuration holding the key whose SHA-256 is `digest`, if any."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    found = repo.db.collection(BUFFER_CONFIGS).where(filter=FieldFilter("key_sha256", "==", digest)).limit(1).get()
    return found[0].id if found else None
