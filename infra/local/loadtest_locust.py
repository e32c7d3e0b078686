"""The locust side of `make loadtest` (run by infra/local/loadtest.py in .venv-load; no project
imports, so locust's gevent pins never meet the project's). Usage: loadtest_locust.py PLAN.json

Users, all against the api on 127.0.0.1: one hammer (20 parallel reschedules of one hot post,
again and again), watchers holding the live-status streams (5 each, reopened when one ends), and
editors; watchers and editors do the team's mix (list, calendar, campaigns, create, approve what
they created, reschedule the hot post now and then). Headless, stops by itself after the plan's
seconds, then prints per operation count, errors and p50/p95/p99, and the other users' latency.

The users behave as careful HTTP clients: a request the server dropped before answering (a pooled
keep-alive connection gunicorn closed after its 2 s idle timeout just as the request went out) is
sent again once only when that is safe: a GET, or a POST carrying an Idempotency-Key (creating a
post does). Decisions and reschedules are never resent; their dropped requests stay errors. The
report counts the resends.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gevent
from gevent.pool import Group
from locust import HttpUser, between, constant, events, task
from locust.clients import HttpSession
from locust.env import Environment
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

PLAN = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
HOST = PLAN["host"]
if not HOST.startswith("http://127.0.0.1:"):
    raise SystemExit(f"loadtest targets only 127.0.0.1, not {HOST}")
PARALLEL_CHANGES = 20
STREAMS_PER_WATCHER = 5
WATCHERS = PLAN["streams"] // STREAMS_PER_WATCHER
STREAM = "GET /contents/{id}/events (open)"
_identities = iter(PLAN["users"])
others_ms: list[float] = []  # every request but the hammer's and the streams' (time to the answer)
streams = {"open": 0, "most_open": 0, "heartbeats": 0, "ended": 0}
hammer = {"sent": 0, "answered": 0}
resent = {"GET": 0, "POST with Idempotency-Key": 0}


class ResendDropped(Retry):
    """One resend of a request whose connection the server closed before any answer (no other
    retry: statuses and timeouts are the server's answer and are reported as they are)."""

    def increment(self, method=None, *args, **kwargs):
        retry = super().increment(method, *args, **kwargs)
        resent["GET" if method == "GET" else "POST with Idempotency-Key"] += 1
        return retry


def _resending(session, methods: frozenset[str]):
    retry = ResendDropped(total=1, connect=1, read=1, status=0, other=0, redirect=0, allowed_methods=methods,
                          raise_on_status=False)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session
stopping = False


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _future(days_from: int = 2, days_to: int = 600) -> str:
    when = datetime.now(UTC) + timedelta(days=random.randint(days_from, days_to),
                                                  minutes=random.randint(0, 1439))
    return when.replace(microsecond=0).isoformat()


@events.request.add_listener
def _note(name, response_time, **_kw):
    if not name.startswith("hammer") and name != STREAM:
        others_ms.append(response_time)


class TeamUser(HttpUser):
    abstract = True
    host = HOST
    wait_time = between(1, 3)

    def on_start(self):
        ident = next(_identities)
        self.editor, self.approver = _auth(ident["editor"]), _auth(ident["approver"])
        self.pending: list[tuple[str, str]] = []
        _resending(self.client, frozenset({"GET"}))
        # Only requests with an Idempotency-Key go through this one: resending them is safe.
        self.keyed = _resending(HttpSession(self.host, self.environment.events.request, self),
                                frozenset({"GET", "POST"}))

    @task(4)
    def list_posts(self):
        self.client.get("/posts?limit=20", headers=self.editor, name="GET /posts")

    @task(3)
    def calendar(self):
        today = datetime.now(UTC).date()
        self.client.get(f"/calendar?from={today}&to={today + timedelta(days=30)}&tz=Europe/Berlin",
                        headers=self.editor, name="GET /calendar")

    @task(2)
    def campaigns(self):
        self.client.get("/campaigns", headers=self.editor, name="GET /campaigns")

    @task(2)
    def create(self):
        body = {"campaign": "load", "caption": f"Load test {random.randint(0, 10**9)}", "hashtags": ["load"],
                "video": PLAN["video"], "publish_at": _future(),
                "targets": [{"account_id": PLAN["account"], "privacy_level": "PUBLIC_TO_EVERYONE"}]}
        key = {"Idempotency-Key": f"load-{random.getrandbits(64):016x}"}
        answer = self.keyed.post("/posts", json=body, headers={**self.editor, **key}, name="POST /posts")
        if answer.status_code == 201:
            made = answer.json()
            self.pending.append((made["id"], made["content_hash"]))

    @task(2)
    def approve(self):
        if not self.pending:
            return self.create()
        content_id, content_hash = self.pending.pop(0)
        self.client.post(f"/contents/{content_id}/decision", json={"action": "approve", "content_hash": content_hash},
                         headers=self.approver, name="POST /contents/{id}/decision")

    @task(1)
    def reschedule_hot_post(self):
        self.client.post(f"/posts/{PLAN['hot_post']}/reschedule", json={"scheduled_at": _future()},
                         headers=self.editor, name="POST /posts/{hot}/reschedule")


class Editor(TeamUser):
    fixed_count = max(0, len(PLAN["users"]) - WATCHERS)


class Watcher(TeamUser):
    """A dashboard user: keeps live-status streams open (on the hot item) while working."""

    fixed_count = WATCHERS

    def on_start(self):
        super().on_start()
        self.holders = Group()
        for _ in range(STREAMS_PER_WATCHER):
            self.holders.spawn(self._hold)

    def on_stop(self):
        self.holders.kill(block=False)

    def _hold(self):
        session = HttpSession(self.host, self.environment.events.request, self)  # its own connection
        while True:
            with session.get(f"/contents/{PLAN['hot_content']}/events", headers=self.editor, stream=True,
                             timeout=(10, 60), name=STREAM, catch_response=True) as answer:
                if answer.status_code != 200:
                    answer.failure(f"{answer.status_code}: {answer.text[:120]}")
                    gevent.sleep(5)
                    continue
                answer.success()
                streams["open"] += 1
                streams["most_open"] = max(streams["most_open"], streams["open"])
                try:
                    for line in answer.iter_lines(decode_unicode=True):
                        if line == ": heartbeat":
                            streams["heartbeats"] += 1
                finally:
                    streams["open"] -= 1
                    streams["ended"] += 0 if stopping else 1


class Hammer(HttpUser):
    """One user changing one post from 20 places at once, again and again."""

    fixed_count = 1
    host = HOST
    wait_time = constant(0.5)

    def on_start(self):
        self.editor = _auth(PLAN["hammer"]["editor"])
        self.lanes = [HttpSession(self.host, self.environment.events.request, self) for _ in range(PARALLEL_CHANGES)]

    @task
    def burst(self):
        group = Group()
        for lane in self.lanes:
            group.spawn(self._change, lane)
        group.join()

    def _change(self, lane):
        hammer["sent"] += 1
        lane.post(f"/posts/{PLAN['hot_post']}/reschedule", json={"scheduled_at": _future()}, headers=self.editor,
                  name="hammer: POST /posts/{hot}/reschedule x20", timeout=120)
        hammer["answered"] += 1


def _report(env: Environment, seconds: float) -> None:
    stats = env.stats
    print(f"\n== loadtest: {len(PLAN['users']) + 1} users for {seconds:.0f} s, api {HOST} ==")
    print(f"{'operation':50} {'count':>6} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    for entry in sorted(stats.entries.values(), key=lambda e: e.name):
        print(f"{entry.name:50} {entry.num_requests:6d} {entry.num_failures:6d} "
              f"{entry.get_response_time_percentile(0.5):7.0f} {entry.get_response_time_percentile(0.95):7.0f} "
              f"{entry.get_response_time_percentile(0.99):7.0f} {entry.max_response_time or 0:7.0f}")
    total = stats.total
    print(f"{'all':50} {total.num_requests:6d} {total.num_failures:6d} {total.get_response_time_percentile(0.5):7.0f} "
          f"{total.get_response_time_percentile(0.95):7.0f} {total.get_response_time_percentile(0.99):7.0f} "
          f"{total.max_response_time or 0:7.0f}")
    if stats.errors:
        print("\nerrors:")
        for error in sorted(stats.errors.values(), key=lambda e: -e.occurrences)[:15]:
            print(f"  {error.occurrences:5d} x {error.method} {error.name}: {str(error.error)[:140]}")
    print(f"\nlive-status streams: at most {streams['most_open']} open at once, {streams['heartbeats']} heartbeats, "
          f"{streams['ended']} ended before the stop")
    print(f"hammer: {hammer['sent']} changes of the hot post sent, {hammer['answered']} answered before the stop "
          "(unanswered ones are not in the table)")
    print(f"dropped before any answer and sent again (safe requests only): {resent['GET']} GET, "
          f"{resent['POST with Idempotency-Key']} POST with Idempotency-Key")
    if others_ms:
        q = statistics.quantiles(others_ms, n=100, method="inclusive")
        slow = sum(1 for ms in others_ms if ms > 2000)
        print(f"other users while one user hammers one post ({PARALLEL_CHANGES} parallel changes) and "
              f"{streams['most_open']} streams are open: {len(others_ms)} requests, p50 {q[49]:.0f} ms, "
              f"p95 {q[94]:.0f} ms, p99 {q[98]:.0f} ms, max {max(others_ms):.0f} ms, {slow} over 2 s")


def main() -> int:
    env = Environment(user_classes=[Editor, Watcher, Hammer], events=events, host=HOST, stop_timeout=5)
    runner = env.create_local_runner()
    users = len(PLAN["users"]) + 1
    started = time.monotonic()
    runner.start(users, spawn_rate=users)
    def stop():
        global stopping
        stopping = True
        runner.quit()

    gevent.spawn_later(PLAN["seconds"], stop)
    runner.greenlet.join()
    _report(env, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
