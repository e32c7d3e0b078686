"""Live-status streams cannot take the request threads everyone else needs: the api served as
deployed (functions-framework's gunicorn, THREADS request threads) holds at most half of them as
streams, a few per user; beyond that a stream is refused at once (429 per user, 503 per instance),
streams send heartbeats, end when idle, and give their slot and listener back when the client goes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import bearer, served_api_process

THREADS = 6  # so 3 streams per instance (half); 2 per user below


@pytest.fixture
def served_api(env, tmp_path):
    """The api function under the functions-framework command (gunicorn), as the local stack runs it."""
    log_path = tmp_path / "api.log"
    with served_api_process(log_path, THREADS=str(THREADS), POSTGATE_API_STREAMS_PER_USER="2",
                            POSTGATE_API_STREAM_HEARTBEAT_SECONDS="0.3") as url:
        yield url, log_path


def _open(url: str, content_id: str, headers: dict) -> requests.Response:
    """A stream request on its own connection; the answer's head only (a hung server fails in 5 s)."""
    session = requests.Session()
    answer = session.get(f"{url}/contents/{content_id}/events", headers=headers, stream=True, timeout=(3, 5))
    answer.session = session
    return answer


def _stream_logs(log_path: Path) -> list[dict]:
    lines = []
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and str(entry.get("message", "")).startswith("live status stream"):
            lines.append(entry)
    return lines


def _refusal(answer: requests.Response, status: int) -> str:
    assert answer.status_code == status, answer.text[:300]
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.headers["Content-Type"].startswith("application/json")
    return answer.json()["detail"]


def test_streams_are_bounded_and_never_starve_other_callers(env, draft, served_api):
    url, log_path = served_api
    alice, bob, carol, dave = (bearer(env, user=f"{n}@example.com") for n in ("alice", "bob", "carol", "dave"))

    held = [_open(url, draft.id, alice), _open(url, draft.id, alice)]
    assert [a.status_code for a in held] == [200, 200]
    # Alice's third stream is over her bound: refused at once, her two stay open.
    assert "at most 2" in _refusal(_open(url, draft.id, alice), 429)
    held.append(_open(url, draft.id, bob))
    assert held[-1].status_code == 200
    # The instance holds its share of streams (half its threads): anyone's next one is 503.
    for _ in range(3):
        assert "this instance" in _refusal(_open(url, draft.id, carol), 503)

    # Every stream is open, each sending heartbeats; ordinary calls still answer promptly.
    lines = held[0].iter_lines(decode_unicode=True)
    assert any(line == ": heartbeat" for _, line in zip(range(20), lines))
    for _ in range(5):
        started = time.monotonic()
        assert requests.get(url + "/health", timeout=5).json() == {"ok": True}
        campaigns = requests.get(url + "/campaigns", headers=dave, timeout=5)
        assert campaigns.status_code == 200, campaigns.text
        assert time.monotonic() - started < 2

    # The clients leave: the server notices at the next heartbeats, unsubscribes each listener
    # and gives the slots back.
    for answer in held:
        answer.close()
        answer.session.close()
    deadline = time.monotonic() + 15
    while True:
        logs = _stream_logs(log_path)
        closed = [e for e in logs if e["message"] == "live status stream closed"]
        if len(closed) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    opened = [e for e in logs if e["message"] == "live status stream opened"]
    assert len(opened) == len(closed) == 3, logs
    again = [_open(url, draft.id, carol), _open(url, draft.id, carol), _open(url, draft.id, dave)]
    assert [a.status_code for a in again] == [200, 200, 200]
    for answer in again:
        answer.close()
        answer.session.close()


def test_a_stream_with_nothing_to_report_ends_when_idle_and_releases_its_listener(env, draft):
    import threading

    from shared import services
    from shared.stores.live_status import content_events

    def listeners() -> int:
        return sum(1 for t in threading.enumerate() if t.name == "Thread-ConsumeBidirectionalStream" and t.is_alive())

    baseline = listeners()
    started = time.monotonic()
    messages = list(content_events(services.repository(), draft.id, stream_seconds=60, heartbeat_seconds=0.2,
                                   idle_seconds=0.8))
    assert 0.8 <= time.monotonic() - started < 5
    assert "pending_approval" in messages[1] and ": heartbeat\n\n" in messages
    assert messages[-1] == f'event: end\ndata: {{"content_id":"{draft.id}","reason":"idle"}}\n\n'
    deadline = time.monotonic() + 10
    while listeners() != baseline and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listeners() == baseline
