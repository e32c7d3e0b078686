"""report-ingest: CSV reports dropped under incoming/ in the reports bucket are validated row by row, their good
rows loaded once by a BigQuery load job, summarised in Firestore and BigQuery, and moved out of incoming/.

Every drop is a real upload to fake-gcs-server, whose OBJECT_FINALIZE notification reaches the Pub/Sub
emulator's report-files topic; the message read from there is what the function receives.
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import PROJECT, function_client

FIXTURES = Path(__file__).parent / "fixtures" / "reports"
REPORTS_BUCKET = f"{PROJECT}-reports"  # infra/local/emulators.local_bucket_name
TOPIC = "report-files"


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _bucket():
    from shared.runtime.clients import storage_client

    return storage_client(PROJECT).bucket(REPORTS_BUCKET)


class Notifications:
    """A pull subscription of our own on report-files, so each test sees only the notifications it causes."""

    def __init__(self):
        from google.cloud import pubsub_v1

        self.subscriber = pubsub_v1.SubscriberClient()
        self.path = self.subscriber.subscription_path(PROJECT, f"report-files-test-{uuid.uuid4().hex[:8]}")
        self.subscriber.create_subscription(name=self.path, topic=f"projects/{PROJECT}/topics/{TOPIC}")

    def wait_for(self, name: str, timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.subscriber.pull(subscription=self.path, max_messages=10, timeout=5)
            for received in response.received_messages:
                self.subscriber.acknowledge(subscription=self.path, ack_ids=[received.ack_id])
                if received.message.attributes.get("objectId") == name:
                    return received.message
        raise AssertionError(f"no notification for {name} on {TOPIC} within {timeout}s")

    def close(self):
        self.subscriber.delete_subscription(subscription=self.path)


@pytest.fixture
def notifications(env):
    subscription = Notifications()
    yield subscription
    subscription.close()


def _envelope(message) -> dict:
    return {"subscription": f"projects/{PROJECT}/subscriptions/report-ingest",
            "message": {"data": base64.b64encode(message.data).decode(), "attributes": dict(message.attributes),
                        "messageId": message.message_id,
                        "publishTime": message.publish_time.isoformat().replace("+00:00", "Z")}}


def _deliver(message) -> None:
    response = function_client("functions/reports/main.py", "ingest_report").post("/", json=_envelope(message))
    assert response.status_code == 200, response.get_data(as_text=True)


def _drop(notifications, name: str, data: bytes, *, deliver: bool = True):
    """Upload to the reports bucket; returns the notification Cloud Storage sent (after the function ran it)."""
    _bucket().blob(name).upload_from_string(data, content_type="text/csv")
    message = notifications.wait_for(name)
    if deliver:
        _deliver(message)
    return message


def _load_record(data: bytes) -> dict:
    from shared import services

    snapshot = services.repository().db.collection("report_loads").document(hashlib.md5(data).hexdigest()).get()
    assert snapshot.exists
    return snapshot.to_dict()


def _query(sql: str, **params) -> list[dict]:
    from google.cloud import bigquery

    from shared import services

    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter(k, "STRING", v)
                                                       for k, v in params.items()])
    return [dict(row.items()) for row in services.bigquery().query(sql, job_config=config).result()]


def _report_rows(report_file: str | None = None) -> list[dict]:
    where = "WHERE report_file = @f" if report_file else ""
    return _query(f"SELECT * EXCEPT (loaded_at) FROM `{PROJECT}.postgate.youtube_report_rows` {where} ORDER BY line",
                  **({"f": report_file} if report_file else {}))


def _summary_rows() -> list[dict]:
    return _query(f"SELECT report_file, file_md5, outcome, rows_read, rows_loaded, rows_refused, "
                  f"TO_JSON_STRING(refused) AS refused, load_job_id, duration_ms "
                  f"FROM `{PROJECT}.postgate.report_loads` ORDER BY processed_at, report_file")


def _names(prefix: str = "") -> list[str]:
    return sorted(blob.name for blob in _bucket().list_blobs(prefix=prefix))


MALFORMED_REFUSED = [
    {"line": 4, "reason": "bad date 'Nov 31, 2026' in Published time"},
    {"line": 5, "reason": "missing Video ID"},
    {"line": 6, "reason": "non-numeric Views '12k'"},
    {"line": 7, "reason": "duplicate Video ID 'dQw4w9WgXcQ' (first on line 2)"},
    {"line": 9, "reason": "Video ID 'short' is not an 11-character YouTube video id; bad date 'yesterday' in "
                          "Published time; bad duration '3 min'; non-numeric Views 'abc'"},
    {"line": 12, "reason": "has 11 fields; the header has 10"},
    {"line": 13, "reason": "bad duration '1:75:00'"},
]


def test_malformed_report_loads_exactly_the_good_rows_and_lists_each_refused_line(notifications):
    import json

    data = _fixture("youtube_cms_malformed.csv")
    message = _drop(notifications, "incoming/cms/2026-11.csv", data)
    uri = f"gs://{REPORTS_BUCKET}/incoming/cms/2026-11.csv"
    generation = int(message.attributes["objectGeneration"])

    record = _load_record(data)
    assert (record["outcome"], record["rows_read"], record["rows_loaded"], record["rows_refused"]) == (
        "partially_loaded", 11, 4, 7)
    assert record["refused"] == MALFORMED_REFUSED
    assert record["file"] == uri and record["generation"] == generation and record["state"] == "done"
    assert record["load_job_id"] == f"report_{hashlib.md5(data).hexdigest()}_{generation}"
    assert record["moved_to"] == "processed/cms/2026-11.csv"

    utc = UTC
    assert _report_rows() == [
        {"report_file": uri, "line": 2, "video_id": "dQw4w9WgXcQ", "title": "Launch day, part 1",
         "channel": "Brand Channel", "privacy": "public", "claimed_status": "Claimed", "policy": "Monetize",
         "published_at": datetime(2026, 11, 20, 14, 30, tzinfo=utc), "duration_seconds": 195, "views": 1200},
        {"report_file": uri, "line": 3, "video_id": "aBcDeFgHiJ1", "title": 'Unboxing "Pro" edition',
         "channel": "Brand Channel", "privacy": "unlisted", "claimed_status": "Unclaimed", "policy": "Track",
         "published_at": datetime(2026, 11, 25, tzinfo=utc), "duration_seconds": 195, "views": 1234},
        {"report_file": uri, "line": 8, "video_id": "BTS-clip_02", "title": "Behind the scenes",
         "channel": "Other Channel", "privacy": "public", "claimed_status": None, "policy": None,
         "published_at": datetime(2026, 11, 23, 7, 0, tzinfo=utc), "duration_seconds": 3600, "views": 0},
        {"report_file": uri, "line": 10, "video_id": "MuLtIlInE01", "title": "Multi\nline title",
         "channel": "Brand Channel", "privacy": "public", "claimed_status": None, "policy": None,
         "published_at": datetime(2026, 11, 24, tzinfo=utc), "duration_seconds": 59, "views": 42},
    ]
    [summary] = _summary_rows()
    assert {k: v for k, v in summary.items() if k not in ("refused", "duration_ms")} == {
        "report_file": uri, "file_md5": hashlib.md5(data).hexdigest(), "outcome": "partially_loaded",
        "rows_read": 11, "rows_loaded": 4, "rows_refused": 7, "load_job_id": record["load_job_id"]}
    assert json.loads(summary["refused"]) == MALFORMED_REFUSED
    assert summary["duration_ms"] == record["duration_ms"] >= 0
    assert _names() == ["processed/cms/2026-11.csv"]
    assert _bucket().blob("processed/cms/2026-11.csv").download_as_bytes() == data


def test_report_without_one_good_row_goes_to_failed_and_loads_nothing(notifications):
    data = _fixture("youtube_cms_no_good_rows.csv")
    _drop(notifications, "incoming/bad.csv", data)

    record = _load_record(data)
    assert (record["outcome"], record["rows_read"], record["rows_loaded"], record["rows_refused"]) == ("failed", 3, 0, 3)
    assert record["refused"] == [{"line": 2, "reason": "missing Video ID"},
                                 {"line": 3, "reason": "bad date '2026-13-01' in Published time"},
                                 {"line": 4, "reason": "non-numeric Views '-3'"}]
    assert record["load_job_id"] is None and record["reason"] == "no row could be loaded"
    assert _report_rows() == []
    assert [(s["outcome"], s["rows_loaded"]) for s in _summary_rows()] == [("failed", 0)]
    assert _names() == ["failed/bad.csv"]


def test_a_failed_report_dropped_again_is_processed_again_not_called_a_duplicate(notifications):
    """Nothing of a failed file was loaded, so its bytes are not spoken for: a second drop is read again."""
    data = _fixture("youtube_cms_no_good_rows.csv")
    _drop(notifications, "incoming/bad.csv", data)
    _drop(notifications, "incoming/bad-retry.csv", data)

    assert [(s["report_file"].rsplit("/", 1)[1], s["outcome"], s["rows_refused"]) for s in _summary_rows()] == [
        ("bad.csv", "failed", 3), ("bad-retry.csv", "failed", 3)]
    assert _load_record(data)["file"].endswith("/incoming/bad-retry.csv")
    assert _names() == ["failed/bad-retry.csv", "failed/bad.csv"]


@pytest.mark.parametrize("fixture, reason", [
    ("youtube_cms_latin1.csv", "not UTF-8: byte 0xe9 at offset 98 cannot be decoded"),
    ("youtube_cms_missing_views_column.csv", "missing required columns: Views"),
])
def test_unreadable_report_goes_to_failed_with_the_reason(notifications, fixture, reason):
    import json

    data = _fixture(fixture)
    _drop(notifications, f"incoming/{fixture}", data)

    record = _load_record(data)
    assert (record["outcome"], record["reason"], record["rows_read"], record["rows_loaded"]) == (
        "failed", reason, 0, 0)
    [summary] = _summary_rows()
    assert summary["outcome"] == "failed" and json.loads(summary["refused"]) == [{"line": None, "reason": reason}]
    assert _names() == [f"failed/{fixture}"]
    assert _report_rows() == []


def test_empty_report_has_no_header(notifications):
    _drop(notifications, "incoming/empty.csv", b"\xef\xbb\xbf\r\n\r\n")

    assert _load_record(b"\xef\xbb\xbf\r\n\r\n")["reason"] == "no header: the file has no non-blank line"
    assert _names() == ["failed/empty.csv"]


def test_same_file_dropped_twice_is_loaded_once(notifications):
    data = _fixture("youtube_cms_clean.csv")
    first = _drop(notifications, "incoming/week-47.csv", data)
    second = _drop(notifications, "incoming/week-47-again.csv", data)

    assert [r["video_id"] for r in _report_rows()] == ["cLeAnVideo1", "cLeAnVideo2", "cLeAnVideo3"]
    assert [(s["report_file"].rsplit("/", 1)[1], s["outcome"], s["rows_loaded"]) for s in _summary_rows()] == [
        ("week-47.csv", "loaded", 3), ("week-47-again.csv", "duplicate", 0)]
    record = _load_record(data)
    assert record["outcome"] == "loaded" and record["file"].endswith("/incoming/week-47.csv")
    assert record["duplicates"] == [{"file": f"gs://{REPORTS_BUCKET}/incoming/week-47-again.csv",
                                     "generation": int(second.attributes["objectGeneration"])}]
    assert _names() == ["processed/week-47-again.csv", "processed/week-47.csv"]

    _deliver(first)  # Pub/Sub redelivers: the file has moved on, nothing is loaded or written again
    _deliver(second)
    assert len(_report_rows()) == 3 and len(_summary_rows()) == 2


def test_a_redelivery_that_finds_its_load_already_done_does_not_load_again(notifications):
    """A run that loaded and then died before its summary: the next delivery meets BigQuery's refusal of the
    same job id, reads the earlier job, and completes the summary and the move."""
    from shared import services

    data = _fixture("youtube_cms_clean.csv")
    message = _drop(notifications, "incoming/crashed.csv", data)
    md5 = hashlib.md5(data).hexdigest()
    # Put the file back where the crashed run found it: same claim, summary not written, file not moved.
    ref = services.repository().db.collection("report_loads").document(md5)
    ref.update({"state": "processing"})
    bucket = _bucket()
    moved = bucket.get_blob("processed/crashed.csv")
    bucket.copy_blob(moved, bucket, "incoming/crashed.csv")
    replaced = bucket.get_blob("incoming/crashed.csv")
    ref.update({"generation": replaced.generation})  # the claim is this generation's, as it was
    attributes = dict(message.attributes, objectGeneration=str(replaced.generation))

    from google.cloud.pubsub_v1.types import PubsubMessage

    _deliver(PubsubMessage(data=message.data, attributes=attributes, message_id="redelivered",
                           publish_time=message.publish_time))

    assert len(_report_rows()) == 3
    assert ref.get().to_dict()["rows_loaded"] == 3 and ref.get().to_dict()["state"] == "done"


def test_a_name_taken_in_processed_by_other_bytes_keeps_both_files(notifications):
    clean = _fixture("youtube_cms_clean.csv")
    _drop(notifications, "incoming/weekly.csv", clean)
    other = clean.replace(b"cLeAnVideo3", b"oThErVideo3")
    second = _drop(notifications, "incoming/weekly.csv", other)

    generation = second.attributes["objectGeneration"]
    assert _names() == sorted(["processed/weekly.csv", f"processed/weekly.{generation}.csv"])
    assert _bucket().blob(f"processed/weekly.{generation}.csv").download_as_bytes() == other
    assert len(_report_rows()) == 6


def test_objects_outside_incoming_and_other_events_are_ignored(env):
    from google.cloud.pubsub_v1.types import PubsubMessage

    _bucket().blob("processed/old.csv").upload_from_string(_fixture("youtube_cms_clean.csv"))
    now = datetime.now(UTC)
    for attributes in ({"eventType": "OBJECT_FINALIZE", "objectId": "processed/old.csv"},
                       {"eventType": "OBJECT_FINALIZE", "objectId": "failed/old.csv"},
                       {"eventType": "OBJECT_DELETE", "objectId": "incoming/x.csv"},
                       {"eventType": "OBJECT_METADATA_UPDATE", "objectId": "incoming/x.csv"}):
        _deliver(PubsubMessage(data=b"{}", attributes={**attributes, "bucketId": REPORTS_BUCKET,
                                                       "objectGeneration": "1", "payloadFormat": "JSON_API_V1"},
                               message_id="m", publish_time=now))

    assert _names() == ["processed/old.csv"]
    assert _summary_rows() == [] and _report_rows() == []


def test_a_report_over_the_size_limit_is_refused_unread(notifications):
    from shared import services
    from shared.reports.ingest import ReportObject, ingest_report
    from shared.runtime.clients import storage_client

    data = _fixture("youtube_cms_clean.csv")
    message = _drop(notifications, "incoming/huge.csv", data, deliver=False)
    obj = ReportObject(REPORTS_BUCKET, "incoming/huge.csv", int(message.attributes["objectGeneration"]))

    summary = ingest_report(obj, storage=storage_client(PROJECT), bq=services.bigquery(),
                            repo=services.repository(), project=PROJECT, max_bytes=len(data) - 1)

    assert summary.outcome == "failed" and summary.rows_read == 0
    assert summary.reason == f"file is {len(data)} bytes; reports over {len(data) - 1} bytes are refused unread"
    assert summary.moved_to == "failed/huge.csv" and _names() == ["failed/huge.csv"]
    assert _report_rows() == []


def test_a_load_job_id_runs_once(env):
    from shared import services
    from shared.reports.loader import load_rows

    row = {"report_file": "gs://b/incoming/x.csv", "line": 2, "video_id": "oNcEoNlY001", "views": 1,
           "loaded_at": datetime.now(UTC)}
    job_id = f"report_once_{uuid.uuid4().hex}"
    first = load_rows(services.bigquery(), PROJECT, "youtube_report_rows", [row], job_id)
    again = load_rows(services.bigquery(), PROJECT, "youtube_report_rows", [row, row], job_id)

    assert (first.rows_loaded, first.already_done) == (1, False)
    assert (again.job_id, again.rows_loaded, again.already_done) == (job_id, 1, True)
    assert [r["video_id"] for r in _report_rows()] == ["oNcEoNlY001"]


# --- the whole notification path: upload -> report-files -> push -> the function under functions-framework ----

@pytest.fixture
def report_ingest_server(env):
    from infra.local.emulators import _free_ports

    port = _free_ports(1)[0]
    log = open(env["workdir"] / "fn-report-ingest.log", "ab")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("functions-framework")), "--target", "ingest_report",
         "--source", str(root / "functions/reports/main.py"), "--signature-type", "cloudevent",
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        log.close()


def test_a_dropped_report_reaches_the_function_through_the_bucket_notification(report_ingest_server):
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    push = subscriber.subscription_path(PROJECT, f"report-ingest-push-{uuid.uuid4().hex[:8]}")
    subscriber.create_subscription(request={
        "name": push, "topic": f"projects/{PROJECT}/topics/{TOPIC}",
        "push_config": {"push_endpoint": f"{report_ingest_server}/projects/{PROJECT}/topics/{TOPIC}"}})
    try:
        data = _fixture("youtube_cms_malformed.csv")
        _bucket().blob("incoming/pushed.csv").upload_from_string(data, content_type="text/csv")
        deadline = time.monotonic() + 30
        while _names() != ["processed/pushed.csv"] and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        subscriber.delete_subscription(subscription=push)

    assert _names() == ["processed/pushed.csv"]
    record = _load_record(data)
    assert (record["outcome"], record["rows_loaded"], record["refused"]) == ("partially_loaded", 4, MALFORMED_REFUSED)
    assert [r["line"] for r in _report_rows()] == [2, 3, 8, 10]


# --- reading the CSV (no emulator) ---------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("2026-11-25", datetime(2026, 11, 25, tzinfo=UTC)),
    ("2026-11-25T14:30:00Z", datetime(2026, 11, 25, 14, 30, tzinfo=UTC)),
    ("2026-11-25T14:30:00.250+01:00", datetime(2026, 11, 25, 13, 30, 0, 250000, tzinfo=UTC)),
    ("2026-11-25 14:30", datetime(2026, 11, 25, 14, 30, tzinfo=UTC)),
    ("Nov 25, 2026", datetime(2026, 11, 25, tzinfo=UTC)),
    ("November 5, 2026", datetime(2026, 11, 5, tzinfo=UTC)),
    ("Sept 5, 2026", datetime(2026, 9, 5, tzinfo=UTC)),
    ("Feb 29, 2026", None), ("25/11/2026", None), ("11/25/2026", None), ("2026-11-25T25:00:00Z", None),
    ("Nov 25 2026", None), ("yesterday", None),
])
def test_published_time_formats(raw, expected):
    from shared.reports.validation import parse_published_time

    assert parse_published_time(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("0:03:15", 195), ("1:00:00", 3600), ("3:15", 195), ("59", 59), ("0", 0), ("12:05:09", 43509),
    ("1:60:00", None), ("3:60", None), ("3:5", None), ("-5", None), ("1.5", None), ("PT3M", None), ("", None),
])
def test_duration_formats(raw, expected):
    from shared.reports.validation import parse_duration

    assert parse_duration(raw) == expected


def test_columns_are_found_by_name_whatever_the_order_case_and_spacing():
    from shared.reports.validation import parse_report

    report = parse_report(b"views,PUBLISHED_TIME,  duration ,video  id\n7,2026-11-01,10,aAaAaAaAaA1\n")

    [row] = report.rows
    assert (row.video_id, row.views, row.duration_seconds, row.title, row.line) == ("aAaAaAaAaA1", 7, 10, None, 2)


def test_a_column_named_twice_makes_the_file_unreadable():
    from shared.reports.validation import UnreadableReport, parse_report

    with pytest.raises(UnreadableReport, match="column Video ID appears twice"):
        parse_report(b"Video ID,video_id,Published time,Duration,Views\n")
