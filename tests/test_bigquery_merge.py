"""The insert-if-absent MERGE (shared/runtime/bigquery_merge.py) as its writers use it: the key
decides what is inserted, the partition bound limits what is read, and values only ever travel as
query parameters. The writers' behaviour against the emulator is in test_status_poll.py,
test_settling.py, test_analytics_pull.py and test_youtube_metadata_sync.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.runtime.bigquery_merge import PartitionBound, insert_absent
from shared.topology import Column

TABLE = "proj.postgate.events"
COLUMNS = [Column(name="event_id", type="STRING", mode="REQUIRED"), Column(name="source", type="STRING"),
           Column(name="count", type="INT64"), Column(name="rate", type="FLOAT64"),
           Column(name="at", type="TIMESTAMP", mode="REQUIRED"), Column(name="details", type="JSON")]
AT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
HOSTILE = "x'; DELETE FROM `proj.postgate.events` WHERE TRUE; --"


def _row(event_id: str, **overrides) -> dict:
    return {"event_id": event_id, "source": "tiktok", "count": 3, "rate": 0.125, "at": AT,
            "details": json.dumps({"a": [1, 2]}), **overrides}


def test_the_merge_inserts_only_rows_whose_key_is_absent():
    merge = insert_absent(TABLE, ["event_id"], COLUMNS, [_row("e1")])
    sql = " ".join(merge.sql.split())
    assert sql.startswith(f"MERGE `{TABLE}` AS stored USING (")
    assert "ON stored.event_id = incoming.event_id WHEN NOT MATCHED THEN INSERT " in sql
    assert "WHEN MATCHED" not in sql and "UPDATE" not in sql and "DELETE" not in sql
    assert sql.endswith("INSERT (event_id, source, count, rate, at, details) VALUES (incoming.event_id, "
                        "incoming.source, incoming.count, incoming.rate, incoming.at, incoming.details)")


def test_each_column_is_read_back_as_its_type():
    sql = insert_absent(TABLE, ["event_id"], COLUMNS, [_row("e1")]).sql
    assert "JSON_VALUE(r, '$.event_id') AS event_id" in sql
    assert "CAST(JSON_VALUE(r, '$.count') AS INT64) AS count" in sql
    assert "CAST(JSON_VALUE(r, '$.rate') AS FLOAT64) AS rate" in sql
    assert "TIMESTAMP(JSON_VALUE(r, '$.at')) AS at" in sql
    assert "PARSE_JSON(JSON_VALUE(r, '$.details')) AS details" in sql
    assert "FROM UNNEST(JSON_QUERY_ARRAY(@rows)) AS r" in sql


def test_values_travel_as_parameters_never_in_the_statement():
    rows = [_row("e1", source=HOSTILE), _row("e2", source=None, count=None)]
    merge = insert_absent(TABLE, ["event_id"], COLUMNS, rows)
    assert HOSTILE not in merge.sql and "tiktok" not in merge.sql and "e1" not in merge.sql
    assert AT.isoformat() not in merge.sql
    [param] = merge.parameters
    assert (param.name, param.type) == ("rows", "STRING")
    assert json.loads(param.value) == [
        {"event_id": "e1", "source": HOSTILE, "count": 3, "rate": 0.125, "at": AT.isoformat(),
         "details": '{"a": [1, 2]}'},
        {"event_id": "e2", "source": None, "count": None, "rate": 0.125, "at": AT.isoformat(),
         "details": '{"a": [1, 2]}'}]


def test_a_batch_of_any_size_is_one_parameter():
    merge = insert_absent(TABLE, ["event_id"], COLUMNS, [_row(f"e{i}") for i in range(5000)])
    assert len(merge.parameters) == 1 and len(json.loads(merge.parameters[0].value)) == 5000


def test_the_partition_bound_limits_the_target_and_is_a_parameter_too():
    since = datetime(2026, 2, 27, tzinfo=UTC)
    merge = insert_absent(TABLE, ["event_id"], COLUMNS, [_row("e1")], partition=PartitionBound("at", since))
    assert "ON stored.event_id = incoming.event_id AND stored.at >= @partition_since WHEN NOT MATCHED" in merge.sql
    assert ("partition_since", "TIMESTAMP", since) in merge.parameters
    assert "2026-02-27" not in merge.sql
    unbounded = insert_absent(TABLE, ["event_id"], COLUMNS, [_row("e1")])
    assert "@partition_since" not in unbounded.sql and [p.name for p in unbounded.parameters] == ["rows"]


def test_a_key_of_several_columns_must_match_on_all_of_them():
    sql = insert_absent(TABLE, ["event_id", "source"], COLUMNS, [_row("e1")]).sql
    assert "ON stored.event_id = incoming.event_id AND stored.source = incoming.source WHEN" in sql


def test_a_row_missing_a_column_or_a_key_that_is_no_column_is_refused():
    with pytest.raises(KeyError):
        insert_absent(TABLE, ["event_id"], COLUMNS, [{"event_id": "e1"}])
    with pytest.raises(ValueError, match="snapshot_id not among the columns"):
        insert_absent(TABLE, ["snapshot_id"], COLUMNS, [_row("e1")])
    with pytest.raises(ValueError, match="fetched_at not among the columns"):
        insert_absent(TABLE, ["event_id"], COLUMNS, [_row("e1")], partition=PartitionBound("fetched_at", AT))
    with pytest.raises(ValueError, match="no cast for column type BOOL"):
        insert_absent(TABLE, ["event_id"], [*COLUMNS, Column(name="flag", type="BOOL")], [_row("e1", flag=True)])
    with pytest.raises(ValueError, match="no rows"):
        insert_absent(TABLE, ["event_id"], COLUMNS, [])
