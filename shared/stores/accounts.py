"""Firestore access for account records (`accounts/{id}`), the OAuth connect states that bind a
platform's answer to one of them (`oauth_states/{sha256 of state}`), and the named leases
(`leases/{name}`) that keep two instances from refreshing one account's token at once.

`AccountRecords` is part of the Repository (shared/stores/posts.py): callers write
`repo.get_account(...)`, never Firestore. What the records mean (statuses, caps, deleting) is
shared/accounts/service.py's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from shared.model.account import Account, account_of
from shared.runtime import leases

if TYPE_CHECKING:
    from google.cloud import firestore

ACCOUNTS = "accounts"
OAUTH_STATES = "oauth_states"

StateRefusal = Literal["unknown", "used", "expired"]


class AccountRecords:
    """The account half of the Repository (it supplies `db`)."""

    # The Firestore client (google.cloud.firestore.Client). Any until no module outside shared/stores
    # reaches into it: typed, it holds code in youtube_sync/service.py and approval/service.py to
    # Firestore's stubs (query reassignment, Optional to_dict()), which their split owns.
    db: Any

    def _account_ref(self, account_id: str) -> firestore.DocumentReference:
        return self.db.collection(ACCOUNTS).document(account_id)

    def get_account(self, account_id: str) -> Account | None:
        snap = self._account_ref(account_id).get()
        return account_of(snap.to_dict()) if snap.exists else None

    def accounts_by_id(self, account_ids: set[str] | list[str]) -> dict[str, Account]:
        """Many accounts in one batched read (the calendar's accounts: their handles and caps)."""
        refs = [self._account_ref(i) for i in sorted(set(account_ids))]
        return {s.id: account_of(s.to_dict() or {}) or {} for s in self.db.get_all(refs) if s.exists} if refs else {}

    def put_account(self, account_id: str, account: Account | Mapping[str, Any]) -> None:
        self._account_ref(account_id).set(dict(account))

    def create_account(self, account_id: str, account: Account) -> bool:
        """Atomic: two creators of one id cannot both win. False if the id is taken."""
        from google.api_core.exceptions import AlreadyExists, Conflict

        try:
            self._account_ref(account_id).create(dict(account))
        except (AlreadyExists, Conflict):
            return False
        return True

    def accounts(self, platform: str | None = None) -> Iterator[tuple[str, Account]]:
        """(id, record) of every account, or of one platform's, in Firestore's order."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query: firestore.CollectionReference | firestore.Query = self.db.collection(ACCOUNTS)
        if platform:
            query = query.where(filter=FieldFilter("platform", "==", platform))
        for snap in query.stream():
            yield snap.id, account_of(snap.to_dict() or {}) or {}

    def account_platforms(self) -> Iterator[tuple[str, Account]]:
        """(id, {platform, status}) of every account: the fields the metrics fan-out reads, no more."""
        for snap in self.db.collection(ACCOUNTS).select(["platform", "status"]).stream():
            yield snap.id, account_of(snap.to_dict() or {}) or {}

    def update_account(self, account_id: str, fields: Mapping[str, object], *, remove: Iterable[str] = ()) -> None:
        """Change these fields of an existing record and delete the `remove` ones (NotFound if none)."""
        from google.cloud import firestore

        self._account_ref(account_id).update({**fields, **{name: firestore.DELETE_FIELD for name in remove}})

    def merge_into_account(self, account_id: str, fields: Mapping[str, object]) -> None:
        """Set these fields, creating the record's document if it is missing (Firestore merge)."""
        self._account_ref(account_id).set(dict(fields), merge=True)

    def delete_account_record(self, account_id: str) -> None:
        self._account_ref(account_id).delete()

    # -- OAuth connect states ----------------------------------------------------------------------
    def put_oauth_state(self, state_id: str, record: Mapping[str, object]) -> None:
        self.db.collection(OAUTH_STATES).document(state_id).set(dict(record))

    def oauth_state(self, state_id: str) -> dict[str, Any] | None:
        snap = self.db.collection(OAUTH_STATES).document(state_id).get()
        return snap.to_dict() if snap.exists else None

    def update_oauth_state(self, state_id: str, fields: Mapping[str, object]) -> None:
        self.db.collection(OAUTH_STATES).document(state_id).update(dict(fields))

    def spend_oauth_state(self, state_id: str, now: datetime) -> dict[str, Any] | StateRefusal:
        """The stored request, marked used in the same transaction (single use); or why not. One
        attempt: the caller retries contention (run_with_contention_retry)."""
        from google.cloud import firestore

        ref = self.db.collection(OAUTH_STATES).document(state_id)

        @firestore.transactional
        def spend(transaction) -> dict[str, Any] | StateRefusal:
            snap = ref.get(transaction=transaction)
            if not snap.exists:
                return "unknown"
            record = snap.to_dict() or {}
            if record.get("used_at") is not None:
                return "used"
            transaction.update(ref, {"used_at": now})
            return "expired" if record["expires_at"] <= now else record

        return spend(self.db.transaction())

    # -- leases ------------------------------------------------------------------------------------
    def try_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Hold the named lease (shared/runtime/leases.py) unless someone else holds it."""
        return leases.try_acquire(self.db, name, holder, ttl_seconds)

    def release_lease(self, name: str, holder: str) -> None:
        leases.release(self.db, name, holder)
