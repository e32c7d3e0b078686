"""Idempotency-Key on the API's creates: scoped per user and operation, bound to the request body.

The first request with a key records it (Firestore `api_idempotency`, shared/stores/api_records.py: who, which operation, the
body's fingerprint, "working") and does the work; the items it creates are named by the key, the
user, the operation and the body together, so nothing can create them a second time. Afterwards:

- the same user, operation, key and body: the same items again (201), nothing new is made;
- the same key with a different body: 422 naming Idempotency-Key (a key names one request);
- another user or another operation with the same key: its own, unrelated items;
- arriving while the first is still working: it waits up to WAIT_SECONDS for the first to finish
  and then answers with the first's items; still working by then: 409 with Retry-After.

A record is kept KEEP (a TTL policy deletes it); a record left "working" by an instance that died
is taken over after STALE_SECONDS (the items' names are fixed, so the taker-over can only find or
make those same items).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from pydantic import BaseModel

from shared.api.errors import ApiError
from shared.runtime.clock import utcnow
from shared.stores.api_records import IdempotencyRecord
from shared.stores.posts import Repository

KEEP = timedelta(hours=24)
WAIT_SECONDS = 3.0
STALE_SECONDS = 120
RETRY_AFTER_SECONDS = 1
_POLL_SECONDS = 0.1


def fingerprint(body: BaseModel) -> str:
    """The request as validated (a pydantic model): key order and spacing don't change it."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@contextmanager
def idempotent(repo: Repository, *, user: str, operation: str, key: str | None,
               body: BaseModel) -> Iterator[str | None]:
    """The first request with this (user, operation, key) runs the `with` body; the others wait
    for it, then run theirs, which finds its items (module doc). Yields the key the work names its
    items by (None without an Idempotency-Key: nothing is recorded). The first failing (an
    exception, a refusal included) frees the key for the next request."""
    if key is None:
        yield None
        return
    record_id = hashlib.sha256(f"{operation}\n{user}\n{key}".encode()).hexdigest()
    digest = fingerprint(body)
    record = IdempotencyRecord(repo, record_id)
    owner = _claim(record, operation, digest)
    try:
        yield hashlib.sha256(f"{record_id}\n{digest}".encode()).hexdigest()
    except BaseException:
        if owner:
            record.delete()
        raise
    if owner:
        record.update({"state": "done", "finished_at": utcnow()})


def _claim(stored: IdempotencyRecord, operation: str, digest: str) -> bool:
    """Returns once this request may run the work: True when it is the first (or takes over from a
    dead one), False when the first finished (the work then finds its items and makes none)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        now = utcnow()
        working: dict[str, object] = {"state": "working", "started_at": now}
        if stored.create({"operation": operation, "fingerprint": digest, "expires_at": now + KEEP, **working}):
            return True
        found = stored.read()
        if found is None:
            continue  # expired between the two calls
        record, update_time = found
        if record.get("fingerprint") != digest:
            raise ApiError(422, "this Idempotency-Key was used with a different request body; a key names one "
                                "request: send that body again, or use a new key", field="Idempotency-Key")
        if record.get("state") == "done":
            return False
        if (now - record["started_at"]).total_seconds() > STALE_SECONDS:
            if stored.take_over(working, update_time):  # its instance died mid-way
                return True
        if time.monotonic() >= deadline:
            raise ApiError(409, "a request with this Idempotency-Key is still in progress; its result is yours "
                                f"once it finishes: send it again in {RETRY_AFTER_SECONDS} s",
                           field="Idempotency-Key", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        time.sleep(_POLL_SECONDS)
