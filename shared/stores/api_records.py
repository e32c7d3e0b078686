"""The content API's own records in Firestore: callers' roles (`api_users`), per-minute request
counts (`api_rate`) and Idempotency-Key records (`api_idempotency`). What they mean is the API's
(shared/api/auth.py, shared/api/idempotency.py); here is only how they are stored.

Requests per user per minute are counted so every instance shares the count: fixed one-minute
windows, one counter document per user and window, bumped with an atomic increment (no
transaction, so concurrent requests never contend or retry). The answer to the request over the
limit is 429 with Retry-After: the seconds until the window ends.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.stores.posts import Repository

API_USERS = "api_users"  # roles of Google identities, {"roles": [...]}, keyed by e-mail
RATE_COLLECTION = "api_rate"
WINDOW_SECONDS = 60
IDEMPOTENCY_COLLECTION = "api_idempotency"


def api_user_record(repo: Repository, email: str) -> dict[str, Any] | None:
    snap = repo.db.collection(API_USERS).document(email).get()
    return snap.to_dict() if snap.exists else None


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int
    retry_after: int


def count_request(repo: Repository, user: str, limit: int, now: datetime) -> Verdict:
    from google.cloud import firestore

    window = int(now.timestamp()) // WINDOW_SECONDS
    user_key = hashlib.sha256(user.encode()).hexdigest()[:24]  # e-mails stay out of document ids
    ref = repo.db.collection(RATE_COLLECTION).document(f"{user_key}-{window}")
    window_end = (window + 1) * WINDOW_SECONDS
    result = ref.set({"count": firestore.Increment(1), "window": window,
                      # A TTL policy on expires_at deletes old windows (Terraform).
                      "expires_at": datetime.fromtimestamp(window_end, now.tzinfo) + timedelta(hours=1)}, merge=True)
    count = int(result.transform_results[0].integer_value)
    retry_after = max(1, math.ceil(window_end - now.timestamp()))
    return Verdict(allowed=count <= limit, count=count, retry_after=retry_after)


class IdempotencyRecord:
    """One Idempotency-Key record (`api_idempotency/{record_id}`); shared/api/idempotency.py says
    what its states mean."""

    def __init__(self, repo: Repository, record_id: str):
        self._db = repo.db
        self._ref = repo.db.collection(IDEMPOTENCY_COLLECTION).document(record_id)

    def create(self, fields: dict[str, object]) -> bool:
        """False when the record exists already (atomic: one first request)."""
        from google.api_core.exceptions import AlreadyExists

        try:
            self._ref.create(fields)
        except AlreadyExists:
            return False
        return True

    def read(self) -> tuple[dict[str, Any], datetime] | None:
        """(fields, last update time), None when there is no record."""
        snap = self._ref.get()
        return (snap.to_dict() or {}, snap.update_time) if snap.exists else None

    def take_over(self, fields: dict[str, object], seen_update_time: datetime) -> bool:
        """Change the record only if nobody changed it since `seen_update_time`."""
        from google.api_core.exceptions import FailedPrecondition, NotFound

        try:
            self._ref.update(fields, option=self._db.write_option(last_update_time=seen_update_time))
        except (FailedPrecondition, NotFound):
            return False
        return True

    def update(self, fields: dict[str, object]) -> None:
        self._ref.update(fields)

    def delete(self) -> None:
        self._ref.delete()
