"""The write an applier of an approved change may make only while it still holds the change's lease.

Metadata changes (shared/youtube_sync) and Content ID changes (shared/content_id) are applied under a
lease: status `applying` and a fresh `apply_claim`, taken in a transaction. An applier whose lease ran
out and was taken over must not write over the new holder's work, so each of its writes checks the
lease in the same transaction.
"""

from __future__ import annotations

from shared.stores.posts import Repository, run_with_contention_retry


def write_if_held(repo: Repository, collection: str, change_id: str, claim: str | None, fields: dict) -> bool:
    """Write `fields` to `collection/change_id` only while it is `applying` under `claim`; False when
    someone else holds it now (nothing written)."""
    from google.cloud import firestore

    ref = repo.db.collection(collection).document(change_id)

    @firestore.transactional
    def _write(transaction) -> bool:
        snap = ref.get(transaction=transaction)
        stored = snap.to_dict() if snap.exists else {}
        if stored.get("status") != "applying" or stored.get("apply_claim") != claim:
            return False
        transaction.update(ref, fields)
        return True

    return bool(run_with_contention_retry(lambda: _write(repo.db.transaction())))
