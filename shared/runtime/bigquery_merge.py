"""Insert-if-absent into BigQuery: one MERGE that inserts only the rows whose key is not in the table;
and its revisioned sibling, one MERGE that makes the table hold a row's newest revision (or none).

Our append-only tables (publish_log, post_metrics, youtube_metadata_audit) must get each row once
even when a writer runs twice or dies after its insert. insertIds would not do: BigQuery dedupes
them best effort only, within about a minute, and the emulator ignores them. A MERGE on the key
behaves the same on BigQuery and the emulator.

The rows travel as one JSON parameter, unnested and cast column by column in the statement, so a
batch costs a few query parameters whatever its size (BigQuery allows 10,000 per query) and no
value is ever written into the SQL text. A partition bound (`stored.<column> >= @partition_since`)
limits the rows the MERGE reads in the target to recent partitions, for tables whose new rows'
matches can only be there.

`replace_if_newer` is for rows that are copies of a record kept elsewhere (a manual metrics snapshot
in Firestore): each carries the record's revision, and the MERGE inserts it, replaces an older
revision, or deletes the row when the revision is a deletion; a stored row of the same or a later
revision is left alone, so running the same copy twice, or an old one late, changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from google.cloud import bigquery

# How each column type is read back from the JSON row `r`; a JSON column's value is JSON text.
_CASTS = {
    "STRING": "JSON_VALUE(r, '$.{0}')",
    "INT64": "CAST(JSON_VALUE(r, '$.{0}') AS INT64)",
    "FLOAT64": "CAST(JSON_VALUE(r, '$.{0}') AS FLOAT64)",
    "TIMESTAMP": "TIMESTAMP(JSON_VALUE(r, '$.{0}'))",
    "JSON": "PARSE_JSON(JSON_VALUE(r, '$.{0}'))",
}
QUERY_DEADLINE_SECONDS = 30  # bounded: the default retry deadline (10 min) would outlive a tick or a function


class SchemaColumn(Protocol):
    """A column of a table's schema (shared.topology's Column is one)."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...


class QueryParameter(NamedTuple):
    name: str
    type: str
    value: Any


@dataclass(frozen=True)
class PartitionBound:
    """Read only the target's partitions where `column` >= `since`."""

    column: str
    since: datetime


@dataclass(frozen=True)
class MergeStatement:
    sql: str
    parameters: tuple[QueryParameter, ...]

    def run(self, bq: bigquery.Client, *, timeout: float) -> None:
        """Run it and wait up to `timeout` seconds; BigQuery's errors propagate (the caller retries later)."""
        from google.cloud import bigquery

        params = [bigquery.ScalarQueryParameter(p.name, p.type, p.value) for p in self.parameters]
        job = bq.query(self.sql, job_config=bigquery.QueryJobConfig(query_parameters=params),
                       retry=bigquery.DEFAULT_RETRY.with_deadline(QUERY_DEADLINE_SECONDS))
        job.result(timeout=timeout)


def insert_absent(table: str, key: Sequence[str], columns: Sequence[SchemaColumn], rows: Sequence[Mapping[str, Any]],
                  partition: PartitionBound | None = None) -> MergeStatement:
    """The MERGE that inserts into `table` (project.dataset.table) each of `rows` whose `key`
    columns match no stored row. Each row holds a value for every column; datetimes are sent as
    ISO 8601 text, JSON columns as JSON text."""
    on, parameters = _match(table, key, columns, rows, partition)
    names = [c.name for c in columns]
    selects = ", ".join(_CASTS[c.type].format(c.name) + f" AS {c.name}" for c in columns)
    payload = json.dumps([{name: _json_value(row[name]) for name in names} for row in rows])
    sql = (f"MERGE `{table}` AS stored "
           f"USING (SELECT {selects} FROM UNNEST(JSON_QUERY_ARRAY(@rows)) AS r) AS incoming "
           f"ON {on} "
           f"WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) VALUES ({', '.join('incoming.' + n for n in names)})")
    return MergeStatement(sql, (QueryParameter("rows", "STRING", payload), *parameters))


def replace_if_newer(table: str, key: Sequence[str], revision: str, columns: Sequence[SchemaColumn],
                     rows: Sequence[Mapping[str, Any]], *, deleted: str,
                     partition: PartitionBound | None = None) -> MergeStatement:
    """The MERGE that brings `table` to each of `rows` (module doc): `revision` names the INT64
    column that orders a row's versions, `deleted` the entry of each row (not a column) that is
    True when that revision deletes the row. Each row holds a value for every column."""
    names = [c.name for c in columns]
    if revision not in names:
        raise ValueError(f"{revision} not among the columns of {table}")
    if deleted in names:
        raise ValueError(f"{deleted} is a column of {table}; the deletion mark must not be one")
    on, parameters = _match(table, key, columns, rows, partition)
    selects = ", ".join([*(_CASTS[c.type].format(c.name) + f" AS {c.name}" for c in columns),
                         f"CAST(JSON_VALUE(r, '$.{deleted}') AS BOOL) AS {deleted}"])
    payload = json.dumps([{**{name: _json_value(row[name]) for name in names}, deleted: bool(row[deleted])}
                          for row in rows])
    newer = f"(stored.{revision} IS NULL OR stored.{revision} < incoming.{revision})"
    updates = ", ".join(f"{n} = incoming.{n}" for n in names if n not in key)
    sql = (f"MERGE `{table}` AS stored "
           f"USING (SELECT {selects} FROM UNNEST(JSON_QUERY_ARRAY(@rows)) AS r) AS incoming "
           f"ON {on} "
           f"WHEN MATCHED AND {newer} AND incoming.{deleted} THEN DELETE "
           f"WHEN MATCHED AND {newer} THEN UPDATE SET {updates} "
           f"WHEN NOT MATCHED AND NOT incoming.{deleted} THEN INSERT ({', '.join(names)}) "
           f"VALUES ({', '.join('incoming.' + n for n in names)})")
    return MergeStatement(sql, (QueryParameter("rows", "STRING", payload), *parameters))


def _match(table: str, key: Sequence[str], columns: Sequence[SchemaColumn], rows: Sequence[Mapping[str, Any]],
           partition: PartitionBound | None) -> tuple[str, list[QueryParameter]]:
    """The ON clause matching a stored row to an incoming one, and its parameters; ValueError for
    a statement that cannot be built."""
    if not rows:
        raise ValueError("no rows to insert")
    names = [c.name for c in columns]
    missing = [k for k in key if k not in names] + ([partition.column] if partition and partition.column not in names
                                                     else [])
    if missing:
        raise ValueError(f"{', '.join(missing)} not among the columns of {table}")
    unknown = sorted({c.type for c in columns} - _CASTS.keys())
    if unknown:
        raise ValueError(f"no cast for column type {', '.join(unknown)}")
    on = [f"stored.{k} = incoming.{k}" for k in key]
    parameters = []
    if partition is not None:
        on.append(f"stored.{partition.column} >= @partition_since")
        parameters.append(QueryParameter("partition_since", "TIMESTAMP", partition.since))
    return " AND ".join(on), parameters


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
