"""Integer numbers for Postgate records, as the seed's `/api/v1` names them (`"social_account_id": 1`).

Postgate's ids are strings (`x-brand`, `c-3f2a…-0`); the seed's clients send and expect integers. Each
record of a kind (social_account, post, campaign, analytics, buffer_config) gets one number, the first
time `/api/v1` shows it or is asked about it, and keeps it for good: numbers are never reused, not even
after the record is deleted (a client holding an old number gets a 404, never another record).

Stored in Firestore under `seed_numbers/{kind}`: the counter document (`next`), `numbers/{n}` ->
`{"id"}` and `ids/{key}` -> `{"id", "number"}` (the key a digest of the id, so any id fits a document
name). A number is allocated in one transaction over the counter and both mappings, so two requests
seeing the same new record at once agree on its number, and a fresh database numbers from 1.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Literal, get_args

from shared.stores.posts import Repository, run_with_contention_retry

SEED_NUMBERS = "seed_numbers"
SeedKind = Literal["social_account", "post", "campaign", "analytics", "buffer_config"]
SEED_KINDS: tuple[SeedKind, ...] = get_args(SeedKind)


def _key(record_id: str) -> str:
    return hashlib.sha256(record_id.encode("utf-8")).hexdigest()[:40]


def _kind_ref(repo: Repository, kind: SeedKind):
    if kind not in SEED_KINDS:
        raise ValueError(f"unknown seed kind {kind!r}")
    return repo.db.collection(SEED_NUMBERS).document(kind)


def numbers_of(repo: Repository, kind: SeedKind, record_ids: Iterable[str]) -> dict[str, int]:
    """Each id's number, allocating the missing ones (in the order given, so a page numbers top down)."""
    ordered = list(dict.fromkeys(record_ids))
    if not ordered:
        return {}
    kind_ref = _kind_ref(repo, kind)
    refs = {rid: kind_ref.collection("ids").document(_key(rid)) for rid in ordered}
    found: dict[str, int] = {}
    for snap in repo.db.get_all(list(refs.values())):  # one round trip for a page
        if snap.exists:
            data = snap.to_dict() or {}
            found[str(data["id"])] = int(data["number"])
    missing = [rid for rid in ordered if rid not in found]
    if missing:
        found.update(_allocate(repo, kind, missing))
    return {rid: found[rid] for rid in ordered}


def number_of(repo: Repository, kind: SeedKind, record_id: str) -> int:
    """The record's number (allocated now if it has none)."""
    return numbers_of(repo, kind, [record_id])[record_id]


def id_of(repo: Repository, kind: SeedKind, number: int) -> str | None:
    """The record id behind a number, None when no record of this kind ever had it."""
    if number < 1:
        return None
    snap = _kind_ref(repo, kind).collection("numbers").document(str(number)).get()
    return str((snap.to_dict() or {})["id"]) if snap.exists else None


def _allocate(repo: Repository, kind: SeedKind, record_ids: list[str]) -> dict[str, int]:
    """Numbers for records that had none, in one transaction (a first page of 100 new records is one
    write to the kind's counter, not 100 transactions queueing on it). At most 100 ids: 2 writes each."""
    from google.cloud import firestore

    kind_ref = _kind_ref(repo, kind)
    id_refs = {rid: kind_ref.collection("ids").document(_key(rid)) for rid in record_ids}

    @firestore.transactional
    def _run(transaction) -> dict[str, int]:
        numbered: dict[str, int] = {}
        for snap in transaction.get_all(list(id_refs.values())):  # another request may have numbered some first
            if snap.exists:
                data = snap.to_dict() or {}
                numbered[str(data["id"])] = int(data["number"])
        counter = kind_ref.get(transaction=transaction)
        number = int((counter.to_dict() or {}).get("next", 1)) if counter.exists else 1
        for rid in record_ids:  # in the order given, so a page numbers top down
            if rid in numbered:
                continue
            transaction.set(kind_ref.collection("numbers").document(str(number)), {"id": rid})
            transaction.set(id_refs[rid], {"id": rid, "number": number})
            numbered[rid] = number
            number += 1
        transaction.set(kind_ref, {"next": number})
        return numbered

    return dict(run_with_contention_retry(lambda: _run(repo.db.transaction())))  # type: ignore[arg-type]
