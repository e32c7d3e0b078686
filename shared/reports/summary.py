"""The processing summary of one report file: what was read, loaded and refused, and how it ended.

Kept twice: in Firestore `report_loads/{md5}` (the record of that content, which is also what stops the same
bytes being loaded twice) and as a row of BigQuery `report_loads` (one per file dropped, duplicates included).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Outcome = Literal["loaded", "partially_loaded", "failed", "duplicate"]
REFUSED_KEPT = 100  # refused rows listed in a summary; rows_refused counts them all


@dataclass
class ReportSummary:
    report_file: str  # gs://bucket/incoming/... as dropped
    file_md5: str
    generation: int
    outcome: Outcome
    rows_read: int = 0
    rows_loaded: int = 0
    rows_refused: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)  # [{line, reason}], the first REFUSED_KEPT
    reason: str | None = None  # why the file as a whole failed, or what it duplicates
    duration_ms: int = 0
    load_job_id: str | None = None
    processed_at: datetime | None = None
    moved_to: str | None = None

    def bigquery_row(self) -> dict[str, Any]:
        # report_loads has no reason column: a file-level reason is listed as a refusal without a line.
        refused = ([{"line": None, "reason": self.reason}] if self.reason else []) + self.refused
        return {
            "report_file": self.report_file,
            "file_md5": self.file_md5,
            "outcome": self.outcome,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_refused": self.rows_refused,
            "refused": refused or None,
            "duration_ms": self.duration_ms,
            "load_job_id": self.load_job_id,
            "processed_at": self.processed_at,
        }

    def firestore_fields(self) -> dict[str, Any]:
        return {
            "file": self.report_file,
            "file_md5": self.file_md5,
            "generation": self.generation,
            "outcome": self.outcome,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_refused": self.rows_refused,
            "refused": self.refused,
            "reason": self.reason,
            "duration_ms": self.duration_ms,
            "load_job_id": self.load_job_id,
            "processed_at": self.processed_at,
        }

    @classmethod
    def from_firestore(cls, doc: dict[str, Any]) -> ReportSummary:
        return cls(report_file=doc["file"], file_md5=doc["file_md5"], generation=int(doc["generation"]),
                   outcome=doc["outcome"], rows_read=doc.get("rows_read", 0), rows_loaded=doc.get("rows_loaded", 0),
                   rows_refused=doc.get("rows_refused", 0), refused=list(doc.get("refused") or []),
                   reason=doc.get("reason"), duration_ms=doc.get("duration_ms", 0),
                   load_job_id=doc.get("load_job_id"), processed_at=doc.get("processed_at"),
                   moved_to=doc.get("moved_to"))


def outcome_for(rows_loaded: int, rows_refused: int) -> Outcome:
    if rows_loaded == 0:
        return "failed"
    return "partially_loaded" if rows_refused else "loaded"
