"""Rows into BigQuery by load job (free, atomic per job, no streaming buffer), at most once per job id.

The rows go up from memory as newline-delimited JSON with the table's declared schema, appended. BigQuery
refuses a second job with an id it has seen (409 Conflict), so a caller that derives the id from what it is
loading (a report file's md5 and generation) cannot load the same thing twice, even when a crash or a Pub/Sub
redelivery runs it again: the Conflict is answered by looking the earlier job up.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from shared.errors import PermanentError, TransientError
from shared.topology import get_topology

if TYPE_CHECKING:
    from google.cloud import bigquery

LOAD_TIMEOUT_SECONDS = 300
_JOB_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class LoadResult:
    job_id: str
    rows_loaded: int
    already_done: bool  # the job had run before (a redelivery); nothing was loaded this time


def job_id_for(kind: str, *parts: str | int) -> str:
    """A deterministic BigQuery job id (letters, digits, _ and -, at most 1,024 characters)."""
    return _JOB_ID_UNSAFE.sub("_", "_".join([kind, *map(str, parts)]))[:1024]


def table_schema(table: str):
    from google.cloud import bigquery

    return [bigquery.SchemaField(c.name, c.type, mode=c.mode) for c in get_topology().bigquery.tables[table].schema_]


def table_id(project: str, table: str) -> str:
    return f"{project}.{get_topology().bigquery.dataset}.{table}"


def to_ndjson(rows: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row, default=_json_value, ensure_ascii=False).encode("utf-8") + b"\n"
                    for row in rows)


def load_rows(bq: bigquery.Client, project: str, table: str, rows: list[dict[str, Any]], job_id: str) -> LoadResult:
    """Append `rows` to `table` in one load job named `job_id`; if that job already ran, report it instead.

    TransientError when BigQuery could not be reached or the job is still running (retry later);
    PermanentError when the job (this one or the earlier one of that id) failed.
    """
    from google.api_core import exceptions as gexc
    from google.cloud import bigquery

    data = to_ndjson(rows)
    config = bigquery.LoadJobConfig(source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
                                    schema=table_schema(table),
                                    write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
                                    create_disposition=bigquery.CreateDisposition.CREATE_NEVER)
    try:
        job = bq.load_table_from_file(io.BytesIO(data), table_id(project, table), job_id=job_id, job_config=config,
                                      size=len(data), rewind=True)
    except gexc.Conflict:
        return _earlier_job(bq, job_id)
    except (gexc.ServerError, gexc.TooManyRequests, OSError) as exc:  # OSError: requests connection errors
        raise TransientError(f"load job {job_id} not started: {exc}") from None
    except gexc.GoogleAPICallError as exc:
        raise PermanentError(f"load job {job_id} refused: {exc}") from None
    try:
        job.result(timeout=LOAD_TIMEOUT_SECONDS)
    except (gexc.ServerError, gexc.TooManyRequests, OSError) as exc:  # TimeoutError is an OSError
        raise TransientError(f"load job {job_id} did not finish: {exc}") from None
    except gexc.GoogleAPICallError as exc:
        raise PermanentError(f"load job {job_id} failed: {_job_error(job) or exc}") from None
    return LoadResult(job_id, int(job.output_rows or 0), already_done=False)


def _earlier_job(bq: bigquery.Client, job_id: str) -> LoadResult:
    job = cast("bigquery.LoadJob", bq.get_job(job_id))  # job ids are this module's load jobs
    if job.state != "DONE":
        raise TransientError(f"load job {job_id} is still {job.state}")
    if job.error_result:
        raise PermanentError(f"load job {job_id} failed: {_job_error(job)}")
    return LoadResult(job_id, int(job.output_rows or 0), already_done=True)


def _job_error(job) -> str | None:
    error = getattr(job, "error_result", None)
    return (error or {}).get("message") if error else None


def _json_value(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
