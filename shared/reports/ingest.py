"""One Cloud Storage notification of a CSV report -> its good rows loaded once, a summary, the file moved.

The steps, each safe to run again when Pub/Sub redelivers (a crash anywhere only repeats work):
1. Only OBJECT_FINALIZE of an object under the notify prefix (incoming/) is a new report; everything else,
   including our own moves into processed/ and failed/, is acked and ignored.
2. That exact generation is read (it is gone if an earlier delivery already moved it: nothing to do). A file
   over MAX_REPORT_BYTES is refused unread.
3. Firestore `report_loads/{md5}` is claimed for this drop. Another drop of the same bytes is a duplicate
   (summary `duplicate`, moved to processed/, nothing loaded) unless that earlier drop loaded nothing (it
   failed) or its claim went stale, in which case this drop takes the claim over.
4. Rows are validated (shared/reports/validation.py) and the good ones loaded by one BigQuery load job whose
   id comes from the file's md5 and the claiming generation; a redelivered load meets BigQuery's duplicate
   job id refusal and reads the earlier job instead (shared/reports/loader.py).
5. The summary goes to BigQuery report_loads (a load job with its own stable id) and Firestore, then the file
   is copied to processed/<name> (any row loaded, or a duplicate) or failed/<name> (nothing loaded) with
   generation preconditions, and the original deleted only if it is still that generation.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.errors import BadMessage, PermanentError
from shared.reports.loader import job_id_for, load_rows
from shared.reports.summary import REFUSED_KEPT, ReportSummary, outcome_for
from shared.reports.validation import ReportRow, UnreadableReport, parse_report
from shared.runtime.clock import utcnow
from shared.runtime.logging import log_context, log_event
from shared.stores.posts import Repository
from shared.stores.report_claims import ReportClaim
from shared.topology import get_topology

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger("postgate.reports")

FUNCTION = "report-ingest"
ROWS_TABLE = "youtube_report_rows"
SUMMARY_TABLE = "report_loads"
MAX_REPORT_BYTES = 50 * 1024 * 1024  # read whole into memory (512 MiB function): larger files are refused
PROCESSED_PREFIX = "processed/"
FAILED_PREFIX = "failed/"
# A claim still "processing" after this long belongs to a run that died (the function times out at 540 s).
STALE_CLAIM = timedelta(hours=1)


@dataclass(frozen=True)
class ReportObject:
    bucket: str
    name: str
    generation: int

    @property
    def uri(self) -> str:
        return f"gs://{self.bucket}/{self.name}"


def incoming_prefixes() -> tuple[str, ...]:
    """The notify prefixes of the buckets whose notifications reach report-ingest (topology storage.buckets)."""
    topology = get_topology()
    topic = topology.functions[FUNCTION].trigger.topic
    return tuple(sorted({b.notify.prefix for b in topology.storage.buckets.values()
                         if b.notify and b.notify.topic == topic}))


def report_object(payload: dict[str, Any], attributes: dict[str, str]) -> ReportObject | None:
    """The new report a notification announces, or None when it announces something else."""
    if attributes.get("eventType") != "OBJECT_FINALIZE":
        return None
    bucket = attributes.get("bucketId") or payload.get("bucket")
    name = attributes.get("objectId") or payload.get("name")
    generation = attributes.get("objectGeneration") or payload.get("generation")
    if not bucket or not name or generation in (None, ""):
        raise BadMessage("storage notification without bucketId, objectId or objectGeneration")
    try:
        generation = int(generation)
    except (TypeError, ValueError):
        raise BadMessage(f"storage notification with objectGeneration {generation!r}") from None
    if name.endswith("/") or not name.startswith(incoming_prefixes()):
        return None
    return ReportObject(bucket, name, generation)


def ingest_report(obj: ReportObject, *, storage, bq: bigquery.Client, repo: Repository, project: str,
                  max_bytes: int = MAX_REPORT_BYTES,
                  clock: Callable[[], datetime] = utcnow) -> ReportSummary | None:
    """Process one dropped report; None when that generation is no longer there (already moved)."""
    started = time.monotonic()
    now = clock()
    with log_context(correlation_id=f"{obj.uri}#{obj.generation}"):
        bucket = storage.bucket(obj.bucket)
        blob = bucket.get_blob(obj.name, generation=obj.generation)
        if blob is None:
            log_event(log, logging.INFO, "report no longer there; an earlier delivery moved it", file=obj.uri)
            return None
        data = None
        if blob.size is not None and blob.size > max_bytes:
            md5 = _metadata_md5(blob)
        else:
            data = blob.download_as_bytes()
            md5 = hashlib.md5(data).hexdigest()
        with log_context(file_md5=md5):
            stored = ReportClaim(repo, md5)
            claim, earlier = _claim(stored, md5, obj, now)
            if claim == "duplicate":
                summary = ReportSummary(obj.uri, md5, obj.generation, "duplicate", reason=(
                    f"same content as {earlier['file']} (generation {earlier['generation']}), "
                    f"{earlier.get('outcome') or 'being processed'}; not loaded again"),
                    duration_ms=_ms_since(started), processed_at=now)
                stored.add_duplicate(obj.uri, obj.generation)
            elif claim == "done":  # a redelivery after the summary was written: only the move may be missing
                summary = ReportSummary.from_firestore(earlier)
            else:
                summary = _process(obj, md5, data, blob.size, earlier["load_job_id"], bq=bq, project=project,
                                   max_bytes=max_bytes, now=now, started=started)
            _write_summary_row(bq, project, summary)
            if claim != "duplicate":
                stored.finish(summary.firestore_fields())
            to_prefix = FAILED_PREFIX if summary.outcome == "failed" else PROCESSED_PREFIX
            summary.moved_to = move_report(bucket, blob, to_prefix)
            if claim != "duplicate" and summary.moved_to:
                stored.update({"moved_to": summary.moved_to})
            log_event(log, logging.INFO, "report processed", file=obj.uri, outcome=summary.outcome,
                      rows_read=summary.rows_read, rows_loaded=summary.rows_loaded,
                      rows_refused=summary.rows_refused, reason=summary.reason, load_job_id=summary.load_job_id,
                      moved_to=summary.moved_to, duration_ms=summary.duration_ms)
            return summary


def _process(obj: ReportObject, md5: str, data: bytes | None, size: int | None, load_job_id: str, *, bq: bigquery.Client,
             project: str, max_bytes: int, now: datetime, started: float) -> ReportSummary:
    summary = ReportSummary(obj.uri, md5, obj.generation, "failed", processed_at=now)
    if data is None:
        summary.reason = f"file is {size} bytes; reports over {max_bytes} bytes are refused unread"
    else:
        try:
            parsed = parse_report(data)
        except UnreadableReport as exc:
            summary.reason = str(exc)
        else:
            summary.rows_read = parsed.rows_read
            summary.rows_refused = len(parsed.refused)
            summary.refused = [r.to_dict() for r in parsed.refused[:REFUSED_KEPT]]
            if parsed.rows:
                summary.load_job_id = load_job_id
                try:
                    result = load_rows(bq, project, ROWS_TABLE, [_row(obj, row, now) for row in parsed.rows],
                                       load_job_id)
                except PermanentError as exc:
                    summary.reason = str(exc)
                else:
                    summary.rows_loaded = result.rows_loaded
                    if result.rows_loaded != len(parsed.rows):
                        log_event(log, logging.WARNING, "load job row count differs from the rows sent",
                                  sent=len(parsed.rows), loaded=result.rows_loaded, load_job_id=load_job_id)
            elif not summary.reason:
                summary.reason = "no row could be loaded" if parsed.rows_read else "no data rows after the header"
    summary.outcome = outcome_for(summary.rows_loaded, summary.rows_refused)
    summary.duration_ms = _ms_since(started)
    return summary


def _row(obj: ReportObject, row: ReportRow, loaded_at: datetime) -> dict[str, Any]:
    return {"report_file": obj.uri, "line": row.line, "video_id": row.video_id, "title": row.title,
            "channel": row.channel, "privacy": row.privacy, "claimed_status": row.claimed_status,
            "policy": row.policy, "published_at": row.published_at, "duration_seconds": row.duration_seconds,
            "views": row.views, "loaded_at": loaded_at}


# --- the claim on the file's content -------------------------------------------------------------------

def _claim(stored: ReportClaim, md5: str, obj: ReportObject, now: datetime) -> tuple[str, dict[str, Any]]:
    """("new" | "again" | "done" | "duplicate", the claim document).

    new: this drop holds the claim now; again: a redelivery of the drop holding it, not finished; done: a
    redelivery of the drop holding it, summary written; duplicate: another drop of the same bytes holds it.
    """
    mine = {"file": obj.uri, "file_md5": md5, "generation": obj.generation, "state": "processing",
            "claimed_at": now, "load_job_id": job_id_for("report", md5, obj.generation)}
    if stored.create(mine):
        return "new", mine
    doc, update_time = stored.read()
    if doc.get("file") == obj.uri and int(doc.get("generation", -1)) == obj.generation:
        return ("done" if doc.get("state") == "done" else "again"), doc
    failed = doc.get("state") == "done" and doc.get("outcome") == "failed"
    claimed_at = doc.get("claimed_at")
    stale = doc.get("state") != "done" and (claimed_at is None or claimed_at < now - STALE_CLAIM)
    if not (failed or stale):
        return "duplicate", doc
    if stale:  # the dead run may have loaded: keep its job id, so a load it finished is found, not repeated
        mine["load_job_id"] = doc.get("load_job_id") or mine["load_job_id"]
    if not stored.take_over(mine, update_time):  # another drop of the same bytes took it over first
        return "duplicate", stored.fields() or doc
    log_event(log, logging.INFO, "claim taken over", earlier_file=doc.get("file"),
              earlier_outcome=doc.get("outcome"), earlier_state=doc.get("state"))
    return "new", mine


def _write_summary_row(bq: bigquery.Client, project: str, summary: ReportSummary) -> None:
    """One report_loads row per drop: a load job whose id is the drop's, so a redelivery adds nothing."""
    try:
        load_rows(bq, project, SUMMARY_TABLE, [summary.bigquery_row()],
                  job_id_for("report_loads", summary.file_md5, summary.generation))
    except PermanentError as exc:  # the Firestore summary still stands; a person can read it there
        log_event(log, logging.ERROR, "summary row not written to BigQuery", error=str(exc))


# --- moving the file -------------------------------------------------------------------------------------

def move_report(bucket, blob, to_prefix: str) -> str | None:
    """Copy to `to_prefix` + the name under incoming/, then delete the original if it is still this
    generation. A name already taken by other bytes gets the generation added. None: the original is gone."""
    from google.api_core.exceptions import NotFound, PreconditionFailed

    relative = blob.name
    for prefix in incoming_prefixes():
        if relative.startswith(prefix):
            relative = relative[len(prefix):]
            break
    target = to_prefix + relative
    stem, dot, suffix = target.rpartition(".")
    candidates = [target, f"{stem}.{blob.generation}.{suffix}" if dot and "/" not in suffix
                  else f"{target}.{blob.generation}"]
    moved_to = None
    for name in candidates:
        # Looked at first as well as guarded by if_generation_match=0: fake-gcs-server ignores preconditions
        # on copies. A name holding the same bytes is this very copy, made by a delivery that died after it.
        existing = bucket.get_blob(name)
        if existing is None:
            try:
                _copy(bucket, blob, name)
            except NotFound:
                return None
            except PreconditionFailed:  # taken meanwhile
                existing = bucket.get_blob(name)
        if existing is None or existing.md5_hash == blob.md5_hash:
            moved_to = name
            break
    if moved_to is None:
        raise PermanentError(f"cannot move {blob.name}: {', '.join(candidates)} are taken by other files")
    try:
        blob.delete(if_generation_match=blob.generation)
    except (NotFound, PreconditionFailed):
        pass  # already deleted, or replaced by a newer upload that has its own notification
    return moved_to


def _copy(bucket, source, name: str) -> None:
    """Server-side copy of exactly that generation, never over an existing object (rewrite: any size)."""
    target = bucket.blob(name)
    token = None
    while True:
        token, _done, _total = target.rewrite(source, token=token, if_generation_match=0,
                                              if_source_generation_match=source.generation)
        if token is None:
            return


def _metadata_md5(blob) -> str:
    if blob.md5_hash:
        return base64.b64decode(blob.md5_hash).hex()
    # Composite objects have no MD5; their CRC32C and size still name the content.
    return f"crc32c-{base64.b64decode(blob.crc32c or '').hex()}-{blob.size}"


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
