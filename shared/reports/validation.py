"""YouTube CMS-style CSV reports: read the bytes, check each row, keep the good ones.

What is accepted (anything else refuses the row, or the file when it cannot be read at all):

- Encoding: UTF-8, with or without a byte-order mark. Any other encoding (UTF-16 "Unicode text" from
  spreadsheets, Latin-1) makes the file unreadable.
- Layout: comma-separated, RFC 4180 quoting (a quoted field may hold commas, doubled quotes and line breaks).
  The first non-blank line is the header. Blank lines (also lines of only commas) are skipped anywhere, so
  trailing blank lines are fine; they are not rows.
- Columns are found by header name, in any order, ignoring case, surrounding spaces, repeated inner spaces
  and underscores ("VIDEO ID", "video_id" and " Video  Id " are all Video ID). Required: Video ID,
  Published time, Duration, Views. Optional: Title, Channel, Privacy, Claimed status, Policy. Other columns
  are ignored (listed in the outcome). A missing required column, or a column given twice, makes the file
  unreadable.
- Video ID: required; 11 characters of A-Z a-z 0-9 _ - (a YouTube video id). The same id on a later row than
  an earlier accepted row refuses the later row as a duplicate.
- Published time: required; one of
    2026-11-25                      (a date: midnight UTC)
    2026-11-25T14:30:00Z, 2026-11-25T14:30:00+01:00, 2026-11-25 14:30:00, with optional fractions of a
    second (ISO 8601; no offset means UTC)
    Nov 25, 2026 / November 25, 2026  (English month name, abbreviated or full; midnight UTC)
- Duration: required; H:MM:SS ("0:03:15"), M:SS ("3:15") or whole seconds ("195"); minutes and seconds
  after the first part are below 60.
- Views: required; a whole number >= 0, digits only or with comma thousands separators ("1,234,567").
- Each refused row is reported with the line it starts on (line 1 is the first line of the file, so the
  header is usually line 1) and every reason found on it, joined by "; ".
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Canonical column key -> the header name reports use (and reasons quote).
COLUMNS = {
    "video_id": "Video ID",
    "title": "Title",
    "channel": "Channel",
    "privacy": "Privacy",
    "claimed_status": "Claimed status",
    "policy": "Policy",
    "published_time": "Published time",
    "duration": "Duration",
    "views": "Views",
}
REQUIRED_COLUMNS = ("video_id", "published_time", "duration", "views")

_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_VIEWS = re.compile(r"^(\d+|\d{1,3}(,\d{3})+)$")
_SECONDS = re.compile(r"^\d+$")
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$")
_MONTH_DATE = re.compile(r"^([A-Za-z]+)\.? (\d{1,2}), (\d{4})$")
_MONTHS = {name.lower(): i for i, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"),
     ("nov", "november"), ("dec", "december")], start=1) for name in names}


class UnreadableReport(Exception):
    """The file as a whole cannot be read as a report (encoding, no header, missing columns)."""


@dataclass(frozen=True)
class ReportRow:
    line: int
    video_id: str
    title: str | None
    channel: str | None
    privacy: str | None
    claimed_status: str | None
    policy: str | None
    published_at: datetime
    duration_seconds: int
    views: int


@dataclass(frozen=True)
class RefusedRow:
    line: int
    reason: str

    def to_dict(self) -> dict:
        return {"line": self.line, "reason": self.reason}


@dataclass
class ParsedReport:
    rows: list[ReportRow] = field(default_factory=list)
    refused: list[RefusedRow] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.rows) + len(self.refused)


def normalise_header(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).lower()


_HEADER_KEYS = {normalise_header(label): key for key, label in COLUMNS.items()}


def parse_report(data: bytes) -> ParsedReport:
    """Every data row of the file, accepted or refused with its line and reasons. UnreadableReport if the
    file cannot be read as a report at all."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableReport(f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} cannot be decoded"
                               ) from None
    if "\x00" in text:
        raise UnreadableReport("not a text file: it contains NUL bytes")
    reader = csv.reader(io.StringIO(text, newline=""))
    report = ParsedReport()
    columns: dict[str, int] | None = None
    width = 0
    first_line_of_record = 1
    accepted_ids: dict[str, int] = {}
    try:
        for record in reader:
            line, first_line_of_record = first_line_of_record, reader.line_num + 1
            if not any(value.strip() for value in record):
                continue  # blank line, or only separators
            if columns is None:
                columns, report.ignored_columns = _header(record)
                width = len(record)
                continue
            outcome = _check_row(line, record, columns, width, accepted_ids)
            if isinstance(outcome, ReportRow):
                accepted_ids[outcome.video_id] = line
                report.rows.append(outcome)
            else:
                report.refused.append(outcome)
    except csv.Error as exc:
        raise UnreadableReport(f"not readable as CSV at line {reader.line_num}: {exc}") from None
    if columns is None:
        raise UnreadableReport("no header: the file has no non-blank line")
    return report


def _header(record: list[str]) -> tuple[dict[str, int], list[str]]:
    columns: dict[str, int] = {}
    ignored = []
    for index, name in enumerate(record):
        key = _HEADER_KEYS.get(normalise_header(name))
        if key is None:
            if name.strip():
                ignored.append(name.strip())
            continue
        if key in columns:
            raise UnreadableReport(f"column {COLUMNS[key]} appears twice in the header")
        columns[key] = index
    missing = [COLUMNS[key] for key in REQUIRED_COLUMNS if key not in columns]
    if missing:
        raise UnreadableReport("missing required columns: " + ", ".join(missing))
    return columns, ignored


def _check_row(line: int, record: list[str], columns: dict[str, int], width: int,
               accepted_ids: dict[str, int]) -> ReportRow | RefusedRow:
    if len(record) != width:
        return RefusedRow(line, f"has {len(record)} fields; the header has {width}")

    def value(key: str) -> str:
        index = columns.get(key)
        return record[index].strip() if index is not None else ""

    problems = []
    video_id = value("video_id")
    if not video_id:
        problems.append("missing Video ID")
    elif not _VIDEO_ID.match(video_id):
        problems.append(f"Video ID {_shown(video_id)} is not an 11-character YouTube video id")
    elif video_id in accepted_ids:
        problems.append(f"duplicate Video ID {video_id!r} (first on line {accepted_ids[video_id]})")
    published_at = _required(value("published_time"), "Published time", parse_published_time,
                             "bad date {} in Published time", problems)
    duration = _required(value("duration"), "Duration", parse_duration, "bad duration {}", problems)
    views = _required(value("views"), "Views", parse_views, "non-numeric Views {}", problems)
    if problems:
        return RefusedRow(line, "; ".join(problems))
    return ReportRow(line=line, video_id=video_id, title=value("title") or None, channel=value("channel") or None,
                     privacy=value("privacy") or None, claimed_status=value("claimed_status") or None,
                     policy=value("policy") or None, published_at=published_at, duration_seconds=duration,
                     views=views)


def _required(raw: str, label: str, parse, bad_reason: str, problems: list[str]):
    if not raw:
        problems.append(f"missing {label}")
        return None
    parsed = parse(raw)
    if parsed is None:
        problems.append(bad_reason.format(_shown(raw)))
    return parsed


def _shown(raw: str, limit: int = 40) -> str:
    """A value quoted in a reason, cut short: reasons are kept in Firestore and BigQuery."""
    return repr(raw if len(raw) <= limit else raw[:limit] + "...")


def parse_published_time(raw: str) -> datetime | None:
    """A UTC datetime for the accepted formats (see the module docstring), None for anything else."""
    try:
        if _ISO_DATE.match(raw):
            return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
        if _ISO_DATETIME.match(raw):
            when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
        match = _MONTH_DATE.match(raw)
        if match and match.group(1).lower() in _MONTHS:
            return datetime(int(match.group(3)), _MONTHS[match.group(1).lower()], int(match.group(2)),
                            tzinfo=UTC)
    except ValueError:  # Feb 30, month 13, hour 25
        return None
    return None


def parse_duration(raw: str) -> int | None:
    if _SECONDS.match(raw):
        return int(raw)
    match = _CLOCK.match(raw)
    if not match:
        return None
    hours, minutes, seconds = int(match.group(1) or 0), int(match.group(2)), int(match.group(3))
    if seconds >= 60 or (match.group(1) is not None and minutes >= 60):
        return None
    return hours * 3600 + minutes * 60 + seconds


def parse_views(raw: str) -> int | None:
    return int(raw.replace(",", "")) if _VIEWS.match(raw) else None
