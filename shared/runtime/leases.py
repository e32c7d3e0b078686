"""Short named leases in Firestore (`leases/{name}`): one holder across all function instances.

Used where two instances must not do the same thing at once, e.g. refreshing an account's
token (a rotated refresh token used twice is lost). A lease expires on its own, so a crashed
holder blocks others for at most `ttl_seconds`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from shared.runtime.clock import utcnow

if TYPE_CHECKING:
    from google.cloud import firestore

LEASES = "leases"


def try_acquire(db: firestore.Client, name: str, holder: str, ttl_seconds: float) -> bool:
    from google.cloud import firestore

    ref = db.collection(LEASES).document(name)

    @firestore.transactional
    def _take(transaction) -> bool:
        snap = ref.get(transaction=transaction)
        now = utcnow()
        if snap.exists:
            current = snap.to_dict() or {}
            if current.get("holder") != holder and current.get("until") and current["until"] > now:
                return False
        transaction.set(ref, {"holder": holder, "until": now + timedelta(seconds=ttl_seconds)})
        return True

    return _take(db.transaction())


def release(db: firestore.Client, name: str, holder: str) -> None:
    from google.cloud import firestore

    ref = db.collection(LEASES).document(name)

    @firestore.transactional
    def _drop(transaction) -> None:
        snap = ref.get(transaction=transaction)
        if snap.exists and (snap.to_dict() or {}).get("holder") == holder:
            transaction.delete(ref)

    _drop(db.transaction())
