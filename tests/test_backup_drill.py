"""The backup drill (infra/local/backup_drill.py, `make backup-drill`; docs/local.md#the-backup-drill) on the
Firestore emulator: a clean export, wipe and import keeps every document, and the comparison finds a document
altered, removed or added between the import and the second read, down to a value's type and microsecond.

The drill runs on its own project of the session's emulator (it wipes that project's database); the documents
are Postgate-shaped (a content item, an approval whose id holds a colon, a post with its state history, a
posting-cap slot in a subcollection) plus the drill's own documents of every Firestore value type.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.local.backup_drill import run_drill, value_samples, write_value_samples
from infra.local.firestore_copy import EmulatorFirestore

PROJECT = "backup-drill-test"
CREATED = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
POST = "posts/c-1--tiktok-main"
SLOT = "rate_limits/tiktok-main/slots/2026-03-01T09:30"
POSTGATE_SHAPED = {
    "content/c-1": {"status": "approved", "campaign": "spring", "content_hash": "ab" * 32, "created_at": CREATED},
    "approvals/api:c-1:1": {"content_id": "c-1", "decision": "approve", "decided_by": "lead@example.com",
                            "decided_at": CREATED + timedelta(minutes=5)},
    POST: {"status": "published", "attempts": 1, "created_at": CREATED, "published_at": CREATED + timedelta(hours=1),
           "metrics": {"views": 1200, "like_rate": 0.05},
           "history": [{"from_status": "scheduled", "to_status": "publishing", "at": CREATED, "reason": None},
                       {"from_status": "publishing", "to_status": "published", "at": CREATED + timedelta(hours=1),
                        "reason": None}]},
    SLOT: {"post_id": "c-1--tiktok-main", "at": CREATED},
}
SUBCOLLECTIONS = {"rate_limits/tiktok-main/slots", "backup_drill_values/others/history",
                  "backup_drill_values/no-parent/children"}


@pytest.fixture
def databases(emulators, monkeypatch):
    """(the client library's Client on the drill's project, the drill's view of the same database), seeded."""
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", emulators.firestore_host)
    from google.cloud import firestore

    drill_db = EmulatorFirestore(emulators.firestore_host, PROJECT)
    drill_db.wipe()
    db = firestore.Client(project=PROJECT)
    for path, values in POSTGATE_SHAPED.items():
        db.document(path).set(values)
    write_value_samples(db)
    yield db, drill_db
    drill_db.wipe()


def expected_documents(db) -> int:
    return len(POSTGATE_SHAPED) + len(value_samples(db))


def test_a_clean_round_trip_keeps_every_document_of_every_collection(databases, tmp_path):
    db, drill_db = databases
    lines: list[str] = []

    result = run_drill(drill_db, tmp_path / "export", out=lines.append)

    documents = expected_documents(db)
    assert result.ok, "\n".join(lines)
    assert result.documents == documents == len(result.comparison.identical)
    assert result.left_after_wipe == 0  # the wipe emptied it: what the second read sees came from the import
    assert result.export is not None and result.export.name == "drill.overall_export_metadata"
    before = drill_db.read_all()
    assert set(before.documents) == set(POSTGATE_SHAPED) | set(value_samples(db))
    assert before.subcollections >= SUBCOLLECTIONS and result.subcollections == len(SUBCOLLECTIONS)
    assert result.summary() == (f"backup drill: {documents} documents in {result.collections} collections exported, "
                                f"wiped (0 left), imported, {documents} identical, 0 differ")
    assert "wiped: 0 documents and 0 collections left" in lines


def _set(path: str, **values):
    return lambda db: db.document(path).update(values)


ALTERATIONS = {
    # Python's 1 == 1.0 would call these equal; Firestore's types differ.
    "an integer turned into the equal double": (_set(POST, attempts=1.0), {"differ": {POST: ["attempts"]}}),
    "a timestamp one microsecond later": (_set("content/c-1", created_at=CREATED + timedelta(microseconds=1)),
                                          {"differ": {"content/c-1": ["created_at"]}}),
    "a time deep in the state history": (
        _set(POST, history=[{**POSTGATE_SHAPED[POST]["history"][0], "at": CREATED - timedelta(seconds=1)},
                            POSTGATE_SHAPED[POST]["history"][1]]), {"differ": {POST: ["history"]}}),
    "a NaN turned into null": (_set("backup_drill_values/scalars", double_nan=None),
                               {"differ": {"backup_drill_values/scalars": ["double_nan"]}}),
    "a document gone from a subcollection": (lambda db: db.document(SLOT).delete(), {"missing": [SLOT]}),
    "a document the export never held": (lambda db: db.document("approvals/api:c-2:1").set({"decision": "approve"}),
                                         {"extra": ["approvals/api:c-2:1"]}),
}


@pytest.mark.parametrize("alteration", list(ALTERATIONS))
def test_the_comparison_finds_a_document_changed_between_the_import_and_the_check(databases, tmp_path, alteration):
    db, drill_db = databases
    change, expected = ALTERATIONS[alteration]
    lines: list[str] = []

    result = run_drill(drill_db, tmp_path / "export", out=lines.append, after_import=lambda _: change(db))

    found = {"differ": result.comparison.differ, "missing": result.comparison.missing,
             "extra": result.comparison.extra}
    assert {kind: value for kind, value in found.items() if value} == expected
    assert not result.ok and result.summary().endswith(": FAILED")
    changed = sum(len(value) for value in expected.values() if isinstance(value, (list, dict)))
    untouched = expected_documents(db) - (changed if "extra" not in expected else 0)
    assert len(result.comparison.identical) == untouched
    for path in [*expected.get("differ", {}), *expected.get("missing", []), *expected.get("extra", [])]:
        assert any(path in line for line in lines), f"{path} is not named in the drill's output"
