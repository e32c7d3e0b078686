"""`make backup-drill`: Firestore's export and import on the local stack, checked document by document.

Firestore holds what nothing else holds (content items and their approvals, posts and their state history,
accounts, campaigns, the metadata-change audit; docs/runbook.md#backups-and-restore). In GCP a daily backup
schedule keeps copies and a restore makes a new database from one; the runbook's drill restores one and looks
at it. This is the same round trip on the Firestore emulator, where every document can be compared:

  1. start the local stack (infra/local/stack.py), seed it through the API and the pipeline as `make up`
     does (infra/local/seed.py), stop the functions so nothing writes any more, copy every seeded document
     --copies times under new ids for volume, and add `backup_drill_values` (every Firestore value type, a
     subcollection, and a subcollection under a parent that does not exist);
  2. read every document of every collection and subcollection (infra/local/firestore_copy.py);
  3. export the database with the emulator's export endpoint, wipe it, check that nothing is left;
  4. import the export and read every document again;
  5. compare path by path, every field with its type (an integer is not a double, a timestamp keeps every
     digit); print the differences and exit 1 on any, or if the wipe left anything, or if there was nothing.

    python -m infra.local.backup_drill [--copies 20]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from infra.local.firestore_copy import Comparison, EmulatorFirestore, FirestoreCopyError, compare, export_size
from infra.local.seed import seed
from infra.local.stack import LocalStack
from shared.runtime.clients import firestore_client

SHOWN_DIFFERENCES = 20
EXPORT_NAME = "drill"
BATCH_WRITES = 500  # Firestore's most writes in one batch
COPIES = 20  # volume: the seeded documents 20 times more (~1,200 documents)
VALUES = "backup_drill_values"


def value_samples(db: Any) -> dict[str, dict]:
    """Documents holding every kind of value Firestore stores, written as Postgate writes (the client library
    from Python values), including the edges an export could lose: the 64-bit integer limits, an integer
    next to the equal double, -0.0, NaN and the infinities, the smallest double, timestamps at both ends of
    their range and to the microsecond, every byte value, references, empty maps and arrays, maps in arrays."""
    from google.cloud.firestore import GeoPoint

    at = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
    scalars = {
        "int_zero": 0, "int_min": -(2**63), "int_max": 2**63 - 1, "int_one": 1, "double_one": 1.0,
        "double_tenth": 0.1, "double_negative_zero": -0.0, "double_nan": math.nan, "double_infinity": math.inf,
        "double_minus_infinity": -math.inf, "double_tiny": 5e-324, "true": True, "false": False, "null": None,
        "empty_string": "", "unicode": "Zürich ✓ 東京 🚀 \u0000 end", "long_string": "x" * 100_000,
    }
    times = {"epoch": datetime(1970, 1, 1, tzinfo=UTC), "microseconds": at,
             "earliest": datetime(1, 1, 1, tzinfo=UTC), "latest": datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)}
    others = {
        "every_byte": bytes(range(256)), "empty_bytes": b"", "geo_point": GeoPoint(47.3769, 8.5417),
        "reference": db.document("accounts/tiktok-demo"), "empty_map": {}, "empty_array": [],
        "nested": {"level1": {"level2": [1, 1.0, "1", None, {"in_array": at + timedelta(microseconds=1)}]}},
    }
    return {
        f"{VALUES}/scalars": scalars,
        f"{VALUES}/times": times,
        f"{VALUES}/others": others,
        **{f"{VALUES}/others/history/{n}": {"n": n, "at": at + timedelta(minutes=n)} for n in range(1, 4)},
        # Only the subcollection exists: its parent is a "missing" document, which an export must still keep.
        f"{VALUES}/no-parent/children/only-child": {"note": "the parent document never existed"},
    }


def write_value_samples(db: Any) -> int:
    """Write value_samples() with `db`, a google.cloud.firestore.Client on the emulator."""
    samples = value_samples(db)
    for path, values in samples.items():
        db.document(path).set(values)
    return len(samples)


def add_copies(db: Any, firestore: EmulatorFirestore, copies: int) -> int:
    """Volume: every document there is, `copies` more times with its fields as they are, under a new id
    (the first document id of its path + "~copy<n>", so a copied parent keeps its subcollections)."""
    paths = sorted(firestore.read_all().documents)
    batch, in_batch, written = db.batch(), 0, 0
    for snapshot in db.get_all([db.document(path) for path in paths]):
        values = snapshot.to_dict()
        collection, first_id, *rest = snapshot.reference.path.split("/")
        for n in range(1, copies + 1):
            batch.set(db.document("/".join([collection, f"{first_id}~copy{n}", *rest])), values)
            in_batch += 1
            if in_batch == BATCH_WRITES:
                batch.commit()
                batch, in_batch = db.batch(), 0
            written += 1
    if in_batch:
        batch.commit()
    return written


@dataclass
class DrillResult:
    documents: int = 0
    collections: int = 0
    subcollections: int = 0
    left_after_wipe: int = -1  # documents still there after the wipe; -1: the drill stopped before it
    comparison: Comparison = field(default_factory=Comparison)
    export: Path | None = None

    @property
    def ok(self) -> bool:
        return self.documents > 0 and self.left_after_wipe == 0 and self.comparison.same and (
            len(self.comparison.identical) == self.documents)

    def summary(self) -> str:
        c = self.comparison
        line = (f"backup drill: {self.documents:,} documents in {self.collections:,} collections exported, "
                f"wiped ({self.left_after_wipe:,} left), imported, {len(c.identical):,} identical, "
                f"{len(c.differ):,} differ")
        extra = [f"{len(c.missing):,} missing" if c.missing else "", f"{len(c.extra):,} extra" if c.extra else ""]
        return ", ".join([line, *filter(None, extra)]) + ("" if self.ok else ": FAILED")


def run_drill(firestore: EmulatorFirestore, workdir: Path, out: Callable[[str], None] = print,
              after_import: Callable[[EmulatorFirestore], None] | None = None) -> DrillResult:
    """Read, export, wipe, check empty, import, read again, compare. `after_import` runs between the import
    and the second read (the tests alter a document there to see the comparison fail)."""
    result = DrillResult()
    before = firestore.read_all()
    result.documents, result.collections = len(before.documents), len(before.collections)
    result.subcollections = len(before.subcollections)
    out(f"read {result.documents:,} documents in {result.collections:,} collections "
        f"({result.subcollections:,} of them subcollections):")
    for group, (collections, documents) in before.groups().items():
        out(f"  {group:<32} {_count(documents, 'document', 6)}"
            + (f" in {_count(collections, 'collection')}" if "/" in group else ""))
    if not before.documents:
        out("nothing to back up: the database is empty")
        return result

    t0 = time.monotonic()
    result.export = firestore.export(workdir, EXPORT_NAME)
    out(f"exported to {result.export.parent} ({export_size(result.export):,} bytes) in {time.monotonic() - t0:.1f} s")

    firestore.wipe()
    emptied = firestore.read_all()
    result.left_after_wipe = len(emptied.documents)
    out(f"wiped: {result.left_after_wipe:,} documents and {len(emptied.collections):,} collections left")

    t0 = time.monotonic()
    firestore.import_export(result.export)
    if after_import is not None:
        after_import(firestore)
    after = firestore.read_all()
    out(f"imported in {time.monotonic() - t0:.1f} s; read {len(after.documents):,} documents again")

    result.comparison = c = compare(before, after)
    out(f"compared every field of every document: {len(c.identical):,} identical, {len(c.differ):,} differ, "
        f"{len(c.missing):,} missing, {len(c.extra):,} extra")
    shown = [f"  differs  {path}: {', '.join(names)}" for path, names in c.differ.items()]
    shown += [f"  missing  {path}" for path in c.missing] + [f"  extra    {path}" for path in c.extra]
    for line in shown[:SHOWN_DIFFERENCES]:
        out(line)
    if len(shown) > SHOWN_DIFFERENCES:
        out(f"  ... and {len(shown) - SHOWN_DIFFERENCES:,} more")
    return result


def drill_local_stack(out: Callable[[str], None] = print, timeout: float = 90.0, copies: int = COPIES) -> DrillResult:
    """The whole drill on a fresh local stack seeded as `make up` seeds it (each seeded document `copies`
    more times, for volume); the stack is stopped afterwards."""
    stack = LocalStack(project="postgate-drill")
    try:
        out("starting the local stack (emulators, platform sandboxes, functions)...")
        stack.start()
        out(f"stack ready in {stack.timings['stack_ready_s']} s; logs in {stack.workdir}")
        out("seeding demo data through the API and the pipeline...")
        seeded = seed(stack, out=out, timeout=timeout)
        stack.stop_functions()
        out(f"seeded in {seeded.seconds} s; functions stopped: nothing writes to Firestore any more")
        assert stack.emulators is not None
        firestore = EmulatorFirestore(stack.emulators.firestore_host, stack.project)
        db = firestore_client(stack.project)
        if copies:
            out(f"copied every seeded document {copies} times under new ids: {add_copies(db, firestore, copies):,} "
                "more documents, for volume")
        added = write_value_samples(db)
        out(f"added {added} documents to {VALUES}: every Firestore value type, a subcollection, and a "
            "subcollection whose parent does not exist")
        return run_drill(firestore, stack.workdir / "firestore-export", out)
    finally:
        out("stopping the sandboxes and emulators...")
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make backup-drill", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for each seeding step")
    parser.add_argument("--copies", type=int, default=COPIES,
                        help=f"copy every seeded document this many times under new ids, for volume (default {COPIES})")
    args = parser.parse_args(argv)

    def out(line: str) -> None:
        print(line, flush=True)

    try:
        result = drill_local_stack(out, timeout=args.timeout, copies=args.copies)
    except (FirestoreCopyError, RuntimeError) as exc:  # SeedError, EmulatorError and the stack's are RuntimeErrors
        out(f"backup drill: {type(exc).__name__}: {exc}")
        return 1
    out(result.summary())
    return 0 if result.ok else 1


def _count(n: int, noun: str, width: int = 0) -> str:
    return f"{n:>{width},} {noun}" + ("" if n == 1 else "s")


if __name__ == "__main__":
    sys.exit(main())
