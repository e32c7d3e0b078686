"""Secret store: one interface, Secret Manager in the cloud, a file or the environment locally.

Every value read is registered with the log redactor so it can never be printed.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path

from shared.errors import ConfigError
from shared.runtime.config_model import Config
from shared.runtime.logging import register_secret
from shared.stores.protocols import SecretStore


class SecretNotFound(ConfigError):
    """The named secret (or version) does not exist."""


class SecretManagerStore:
    """Google Secret Manager. `client` is a SecretManagerServiceClient (injectable for tests)."""

    def __init__(self, project: str, client=None):
        self._project = project
        self._client = client

    def _sm(self):
        if self._client is None:
            from google.cloud import secretmanager  # lazy: only this function's cold start pays

            self._client = secretmanager.SecretManagerServiceClient()
        return self._client

    def _path(self, name: str) -> str:
        return f"projects/{self._project}/secrets/{name}"

    def access(self, name: str) -> str:
        from google.api_core import exceptions

        try:
            response = self._sm().access_secret_version(request={"name": f"{self._path(name)}/versions/latest"})
        except exceptions.NotFound:
            raise SecretNotFound(f"secret {name!r} not found in project {self._project}") from None
        value = response.payload.data.decode("utf-8")
        register_secret(value)
        return value

    def add_version(self, name: str, value: str) -> None:
        from google.api_core import exceptions

        register_secret(value)
        try:
            self._sm().add_secret_version(request={"parent": self._path(name), "payload": {"data": value.encode("utf-8")}})
        except exceptions.NotFound:
            # Terraform creates one secret per account listed in terraform.tfvars; functions only add versions.
            raise SecretNotFound(f"secret {name!r} does not exist in project {self._project}") from None


class FileSecretStore:
    """A JSON file {name: value | [versions...]} for the local stack. Writes append a version."""

    def __init__(self, path: str | Path):
        self._path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict:
        if not self._path.exists():
            raise ConfigError(f"secrets file {self._path} does not exist (POSTGATE_SECRETS_FILE)")
        with open(self._path, encoding="utf-8") as fh:
            return json.load(fh)

    def access(self, name: str) -> str:
        with self._lock:
            data = self._read()
        if name not in data:
            raise SecretNotFound(f"secret {name!r} not found in {self._path}")
        versions = data[name] if isinstance(data[name], list) else [data[name]]
        value = str(versions[-1])
        register_secret(value)
        return value

    def add_version(self, name: str, value: str) -> None:
        register_secret(value)
        # The lock file serialises writers in other processes too (each function is its own process locally).
        with self._lock, open(self._path.with_suffix(".lock"), "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            data = self._read() if self._path.exists() else {}
            current = data.get(name, [])
            versions = current if isinstance(current, list) else [current]
            data[name] = [*versions, value]
            tmp = self._path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
            os.replace(tmp, self._path)  # atomic, so a reader never sees half a file


class EnvSecretStore:
    """POSTGATE_SECRET_<NAME> variables (name upper-cased, '-' -> '_'). Read-only but for this process."""

    def __init__(self, environ=None):
        self._env = os.environ if environ is None else environ

    @staticmethod
    def _var(name: str) -> str:
        return "POSTGATE_SECRET_" + name.upper().replace("-", "_").replace(".", "_")

    def access(self, name: str) -> str:
        value = self._env.get(self._var(name))
        if not value:
            raise SecretNotFound(f"secret {name!r} not set: export {self._var(name)}")
        register_secret(value)
        return value

    def add_version(self, name: str, value: str) -> None:
        register_secret(value)
        self._env[self._var(name)] = value


_stores: dict[tuple, SecretStore] = {}
_stores_lock = threading.Lock()


def secret_store_from_config(config: Config) -> SecretStore:
    """The store POSTGATE_SECRET_BACKEND names, created once per instance."""
    key = (config.secret_backend, config.secrets_file, config.project)
    with _stores_lock:
        if key not in _stores:
            if config.secret_backend == "file":
                if not config.secrets_file:
                    raise ConfigError("POSTGATE_SECRETS_FILE is required when POSTGATE_SECRET_BACKEND=file")
                _stores[key] = FileSecretStore(config.secrets_file)
            elif config.secret_backend == "env":
                _stores[key] = EnvSecretStore()
            else:
                _stores[key] = SecretManagerStore(config.project)
        return _stores[key]


def forget_secret_stores() -> None:
    """Drop the stores made so far, so the next call builds them from the current config (tests)."""
    with _stores_lock:
        _stores.clear()


def operator_secret_store(project: str | None, secrets_file: str | None = None) -> SecretStore:
    """The store an operator's tool (the CLI's token, the smoke check) reads, chosen as the functions choose
    theirs: POSTGATE_SECRET_BACKEND, else a secrets file when one is named, else Secret Manager of `project`."""
    secrets_file = secrets_file or os.environ.get("POSTGATE_SECRETS_FILE")
    backend = os.environ.get("POSTGATE_SECRET_BACKEND") or ("file" if secrets_file else "secret-manager")
    if backend == "file":
        if not secrets_file:
            raise ConfigError("POSTGATE_SECRET_BACKEND=file needs a secrets file (POSTGATE_SECRETS_FILE or --secrets-file)")
        return FileSecretStore(secrets_file)
    if backend == "env":
        return EnvSecretStore()
    if not project:
        raise ConfigError("reading Secret Manager needs a project (GOOGLE_CLOUD_PROJECT or --project); "
                          "locally set POSTGATE_SECRETS_FILE")
    return SecretManagerStore(project)
