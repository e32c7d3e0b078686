"""`make backup-drill`: Firestore's export and import on the local stack, checked document by document.

Firestore holds what nothing else holds (content items and their approvals, posts and their state history,
accounts, campaigns, the metadata-change audit; docs/runbook.md#backups-and-restore). In GCP a daily backup
schedule keeps copies and a restore makes a new database from one; the runbook's drill restores one and looks
at it. This is the same round trip on the Firestore emulator, where every document can be compared:

  1. start the local stack (infra/local/stack.py), seed it through the API and the pipeline as `make up`
     does (infra/local/seed.py), add `backup_drill_values` (every Firestore value type, a subcollection and a
     subcollection under a parent that does not exist), then stop the functions so nothing writes any more;
  2. read every document of every collection and subcollection (infra/local/firestore_copy.py);
  3. export the database with the emulator's export endpoint, wipe it, check that nothing is left;
  4. import the export and read every document again;
  5. compare path by path, every field with its type (an integer is not a double, a timestamp keeps every
     digit); print the differences and exit 1 on any, or if the wipe left anything, or if there was nothing.

    python -m infra.local.backup_drill
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from infra.local.firestore_copy import Comparison, EmulatorFirestore, FirestoreCopyError, compare, export_size

SHOWN_DIFFERENCES = 20
EXPORT_NAME = "drill"
VALUES = "backup_drill_values"


def value_samples(project: str) -> dict[str, dict]:
    """Documents holding every kind of value Firestore stores, as typed REST JSON, including the edges an
    export could lose: 64-bit integer limits, NaN and the infinities, the smallest double, timestamps at both ends of their
    range and to the microsecond, every byte value, empty maps and arrays, nested maps in arrays."""
    reference = f"projects/{project}/databases/(default)/documents/accounts/tiktok-demo"
    scalars = {
        "int_zero": {"integerValue": "0"}, "int_min": {"integerValue": "-9223372036854775808"},
        "int_max": {"integerValue": "9223372036854775807"}, "double_one": {"doubleValue": 1.0},
        "double_tenth": {"doubleValue": 0.1},
        "double_nan": {"doubleValue": "NaN"}, "double_infinity": {"doubleValue": "Infinity"},
        "double_minus_infinity": {"doubleValue": "-Infinity"}, "double_tiny": {"doubleValue": 5e-324},
        "true": {"booleanValue": True}, "false": {"booleanValue": False}, "null": {"nullValue": None},
        "empty_string": {"stringValue": ""}, "unicode": {"stringValue": "Zürich ✓ 東京 🚀 \u0000 end"},
        "long_string": {"stringValue": "x" * 100_000},
    }
    times = {
        "epoch": {"timestampValue": "1970-01-01T00:00:00Z"},
        "microseconds": {"timestampValue": "2026-03-01T09:30:00.123456Z"},
        "earliest": {"timestampValue": "0001-01-01T00:00:00Z"},
        "latest": {"timestampValue": "9999-12-31T23:59:59.999999Z"},
    }
    others = {
        "every_byte": {"bytesValue": base64.b64encode(bytes(range(256))).decode()},
        "empty_bytes": {"bytesValue": ""},
        "geo_point": {"geoPointValue": {"latitude": 47.3769, "longitude": 8.5417}},
        "reference": {"referenceValue": reference},
        "empty_map": {"mapValue": {}}, "empty_array": {"arrayValue": {}},
        "nested": {"mapValue": {"fields": {"level1": {"mapValue": {"fields": {"level2": {"arrayValue": {"values": [
            {"integerValue": "1"}, {"doubleValue": 1.0}, {"stringValue": "1"}, {"nullValue": None},
            {"mapValue": {"fields": {"in_array": {"timestampValue": "2026-03-01T09:30:00.000001Z"}}}}]}}}}}}}},
    }
    return {
        f"{VALUES}/scalars": scalars,
        f"{VALUES}/times": times,
        f"{VALUES}/others": others,
        **{f"{VALUES}/others/history/{n}": {"n": {"integerValue": str(n)}, "at": times["microseconds"]}
           for n in range(1, 4)},
        # Only the subcollection exists: its parent is a "missing" document, which an export must still keep.
        f"{VALUES}/no-parent/children/only-child": {"note": {"stringValue": "the parent document never existed"}},
    }


def write_value_samples(firestore: EmulatorFirestore) -> int:
    samples = value_samples(firestore.project)
    for path, fields in samples.items():
        firestore.write(path, fields)
    return len(samples)


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
        out(f"  {group:<32} {documents:>6,} documents" + (f" in {collections:,} collections" if "/" in group else ""))
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


def drill_local_stack(out: Callable[[str], None] = print, timeout: float = 90.0) -> DrillResult:
    """The whole drill on a fresh local stack seeded as `make up` seeds it; the stack is stopped afterwards."""
    from infra.local.seed import seed
    from infra.local.stack import LocalStack

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
        added = write_value_samples(firestore)
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
    args = parser.parse_args(argv)

    def out(line: str) -> None:
        print(line, flush=True)

    try:
        result = drill_local_stack(out, timeout=args.timeout)
    except (FirestoreCopyError, RuntimeError) as exc:  # SeedError, EmulatorError and the stack's are RuntimeErrors
        out(f"backup drill: {type(exc).__name__}: {exc}")
        return 1
    out(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
