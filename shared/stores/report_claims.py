"""Firestore `report_loads/{md5 of the file}`: the claim a report drop takes on its bytes, and the
summary written on it once processed. shared/reports/ingest.py decides what a claim means (new,
a redelivery, done, a duplicate, a stale claim taken over); here is only how it is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.stores.posts import Repository

COLLECTION = "report_loads"


class ReportClaim:
    """The claim document of one file's bytes."""

    def __init__(self, repo: Repository, md5: str):
        self._db = repo.db
        self._ref = repo.db.collection(COLLECTION).document(md5)

    def create(self, fields: dict[str, Any]) -> bool:
        """False when a claim on these bytes exists already (atomic: one first drop)."""
        from google.api_core.exceptions import AlreadyExists

        try:
            self._ref.create(fields)
        except AlreadyExists:
            return False
        return True

    def read(self) -> tuple[dict[str, Any], datetime]:
        """(fields, last update time) of the existing claim."""
        snapshot = self._ref.get()
        return snapshot.to_dict() or {}, snapshot.update_time

    def fields(self) -> dict[str, Any]:
        return self._ref.get().to_dict() or {}

    def take_over(self, fields: dict[str, Any], seen_update_time: datetime) -> bool:
        """Replace these fields only if nobody changed the claim since `seen_update_time`."""
        from google.api_core.exceptions import FailedPrecondition

        try:
            self._ref.update(fields, option=self._db.write_option(last_update_time=seen_update_time))
        except FailedPrecondition:
            return False
        return True

    def add_duplicate(self, file: str, generation: int) -> None:
        from google.cloud import firestore

        self._ref.update({"duplicates": firestore.ArrayUnion([{"file": file, "generation": generation}])})

    def finish(self, fields: dict[str, Any]) -> None:
        self._ref.set({**fields, "state": "done"}, merge=True)

    def update(self, fields: dict[str, Any]) -> None:
        self._ref.update(fields)
