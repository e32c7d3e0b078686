"""Every document of a Firestore emulator database, read exactly, and the emulator's export, import and wipe.

Used by the backup drill (infra/local/backup_drill.py). Documents are listed and read over gRPC with the
Firestore client library's own API client (ListCollectionIds and ListDocuments, the calls behind
`collections()` and `list_documents()`), and each document's fields are kept in Firestore's typed JSON: an
integer is `{"integerValue": "1"}` and a double `{"doubleValue": 1.0}`, a timestamp is its RFC 3339 text to
the last digit, bytes are base64. So two reads compare equal only when every value has the same type and the
same bits, which Python's own equality (1 == 1.0, -0.0 == 0.0, NaN != NaN) would not give. (The emulator's REST
routes cannot be used for the walk: they split a path at its first ":", and Postgate's ids hold colons.)

The emulator's own endpoints (HTTP, under /emulator/v1):
  export  POST /emulator/v1/projects/P:export  {"database", "export_directory", "export_name"}: writes
          <directory>/<name>/<name>.overall_export_metadata and the data files beside it, in the format of
          `gcloud firestore export`, on the emulator's own file system;
  import  POST /emulator/v1/projects/P:import  {"database", "export_directory": <the .overall_export_metadata
          file>}: loads an export into the running emulator (what `gcloud emulators firestore start
          --import-data=<file>` does at start);
  wipe    DELETE /emulator/v1/projects/P/databases/(default)/documents: every document of the project.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATABASE = "(default)"
PAGE_SIZE = 300
ADMIN = ("authorization", "Bearer owner")  # the emulator's admin credential: reads bypass security rules


class FirestoreCopyError(RuntimeError):
    pass


@dataclass
class Contents:
    """A database as read: document path -> its fields as canonical typed JSON, and every collection path
    that holds a document (subcollections included, also under a parent that does not exist itself)."""

    documents: dict[str, str] = field(default_factory=dict)
    collections: set[str] = field(default_factory=set)

    @property
    def subcollections(self) -> set[str]:
        return {path for path in self.collections if "/" in path}

    def groups(self) -> dict[str, tuple[int, int]]:
        """Collection group ("rate_limits/*/slots") -> (collections, documents), for the progress lines."""
        found: dict[str, list[int]] = {}
        for path in self.collections:
            counts = found.setdefault(collection_group(path), [0, 0])
            counts[0] += 1
        for path in self.documents:
            found[collection_group(path.rsplit("/", 1)[0])][1] += 1
        return {group: (c, d) for group, (c, d) in sorted(found.items())}


@dataclass
class Comparison:
    identical: list[str] = field(default_factory=list)
    differ: dict[str, list[str]] = field(default_factory=dict)  # path -> the top-level fields that differ
    missing: list[str] = field(default_factory=list)  # read before, absent after
    extra: list[str] = field(default_factory=list)  # absent before, present after

    @property
    def same(self) -> bool:
        return not (self.differ or self.missing or self.extra)


def collection_group(path: str) -> str:
    """"rate_limits/acct-1/slots" -> "rate_limits/*/slots": a collection path with its document ids hidden."""
    parts = path.split("/")
    return "/".join("*" if i % 2 else part for i, part in enumerate(parts))


def canonical(fields: dict) -> str:
    """One text per distinct set of typed values: map keys sorted, arrays in order, -0.0 kept as written."""
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def differing_fields(before: str, after: str) -> list[str]:
    old, new = json.loads(before), json.loads(after)
    return sorted(name for name in old.keys() | new.keys() if canonical({"v": old.get(name)}) != canonical(
        {"v": new.get(name)}))


def compare(before: Contents, after: Contents) -> Comparison:
    result = Comparison(extra=sorted(after.documents.keys() - before.documents.keys()))
    for path, fields in sorted(before.documents.items()):
        if path not in after.documents:
            result.missing.append(path)
        elif after.documents[path] == fields:
            result.identical.append(path)
        else:
            result.differ[path] = differing_fields(fields, after.documents[path])
    return result


class EmulatorFirestore:
    """One project's (default) database on a running Firestore emulator ("127.0.0.1:PORT")."""

    def __init__(self, host: str, project: str):
        self.host, self.project = host, project
        self.database = f"projects/{project}/databases/{DATABASE}"
        self.root = f"{self.database}/documents"
        self.emulator_url = f"http://{host}/emulator/v1/projects/{project}"
        self._api: Any = None

    # -- reading -----------------------------------------------------------------------------------------
    def read_all(self) -> Contents:
        """Every document, walking every collection and subcollection from the root."""
        from google.cloud.firestore_v1.types import Document

        contents = Contents()
        pending = [self.root]  # documents (the root first) whose collections are still to list
        while pending:
            parent = pending.pop()
            for collection_id in self._call("list_collection_ids", parent=parent, page_size=PAGE_SIZE):
                collection = f"{parent}/{collection_id}".removeprefix(self.root + "/")
                for document in self._call("list_documents", parent=parent, collection_id=collection_id,
                                           page_size=PAGE_SIZE, show_missing=True):
                    if document.create_time:  # else "missing": not a document, only the parent of a subcollection
                        fields = json.loads(Document.to_json(document)).get("fields", {})
                        contents.documents[document.name.removeprefix(self.root + "/")] = canonical(fields)
                        contents.collections.add(collection)
                    pending.append(document.name)
        return contents

    def _call(self, method: str, **request) -> Iterator:
        if self._api is None:
            import grpc
            from google.cloud.firestore_v1.services.firestore import FirestoreClient
            from google.cloud.firestore_v1.services.firestore.transports import FirestoreGrpcTransport

            self._api = FirestoreClient(transport=FirestoreGrpcTransport(channel=grpc.insecure_channel(self.host)))
        return getattr(self._api, method)(request=request, metadata=[ADMIN])  # a pager: it fetches every page

    # -- the emulator's export, import and wipe --------------------------------------------------------------
    def export(self, directory: Path, name: str) -> Path:
        """Export every document to `directory`/`name`; returns the export's .overall_export_metadata file."""
        directory.mkdir(parents=True, exist_ok=True)
        self._post(f"{self.emulator_url}:export",
                   {"database": self.database, "export_directory": str(directory.absolute()), "export_name": name})
        metadata = directory / name / f"{name}.overall_export_metadata"
        if not metadata.is_file():
            raise FirestoreCopyError(f"the emulator's export wrote no {metadata}")
        return metadata

    def import_export(self, metadata: Path) -> None:
        self._post(f"{self.emulator_url}:import", {"database": self.database,
                                                   "export_directory": str(metadata.absolute())})

    def wipe(self) -> None:
        self._post(f"{self.emulator_url}/databases/{DATABASE}/documents", None, method="DELETE")

    def _post(self, url: str, body: dict | None, method: str = "POST") -> None:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120):
                pass
        except urllib.error.HTTPError as exc:
            raise FirestoreCopyError(f"{method} {url} -> HTTP {exc.code}: {exc.read()[:300]!r}") from exc


def export_size(metadata: Path) -> int:
    """Bytes of an export: its metadata file and the data files in its directory."""
    return sum(f.stat().st_size for f in metadata.parent.rglob("*") if f.is_file())

