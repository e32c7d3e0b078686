"""`make soak`: N approved posts across the five platforms under duplicate delivery and injected
faults, then a count of what each platform really shows against what Postgate recorded.

    make soak [N=1000]
    python -m infra.local.soak [--posts 1000] [--fault-rate 0.2] [--seed 1] [--workers 24] [--profile FILE]

One process drives the real code paths on the real emulators and the five sandboxes (no mocks):
content is made by `entrypoints.generate` (offline generator, one target per content, a unique
marker in every caption) and approved through `entrypoints.approval_page` (a signed token, POST
approve), which sends each due post to its `publish-<platform>` topic. The soak pulls those
subscriptions and delivers every message three times at once, through the same handler the
deployed function runs (`handle_pubsub` + `entrypoints.publish`); a delivery that asks for a retry
(or crashes) is delivered again after a short pause, at most `max_delivery_attempts` times, as
Pub/Sub would. Faults: for about `--fault-rate` of the posts, one fault drawn from the platform
sandbox's ENDPOINTS x FAULT_KINDS is queued as the post's first delivery starts.

The scheduler's work runs in the same loop: while deliveries are in flight, dispatch and the
status poll run every `local_interval_seconds` (as the local stack ticks them). When nothing is in
flight (no delivery, no sandbox request, no unread message), the soak moves the clock to the first
Scheduler tick (a whole minute, as the production cron "* * * * *") at or after the next time
something is due (a status check, a parked post, a lease, a resend) and runs dispatch
(`dispatch_due`) and the poll (`poll_once`) then, so waits of minutes or hours cost no wall time.
The clock is one for everybody: Postgate reads it through shared.runtime.clock (the one place its
code takes "now" from) and every sandbox was built on it, so a deadline written by a publisher, a
poll's backoff, a platform's "created at" and a rate window all move together. Deadlines stay
honest: only time moves, and only when no platform call is outstanding that could still change
what the platform holds. (With two clocks, a post published after a jump got its 6 h poll deadline
on the real clock and was failed at its first check on the moved one: a false failed-but-live.)

It stops when every post is final and every published post is in publish_log, or the wall budget or
the virtual horizon runs out, then counts (infra/local/soak_report.py) and exits 1 if any platform
shows doubles, lost, failed-but-live, unsettled posts or publish_log rows other than one per publish.
"""

from __future__ import annotations

import argparse
import base64
import collections
import contextlib
import heapq
import itertools
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from infra.local.soak_platforms import MARKER, SOAK_PLATFORMS, SoakPlatform, marker, start_platforms, stop_platforms

PROJECT = "postgate-soak"
MEDIA_BUCKET = "postgate-soak-media"
VIDEO_BYTES = 600_000  # three YouTube chunks of 256 KiB, one TikTok / X / LinkedIn chunk
APPROVER = "lead@example.com"
HTTP_TIMEOUT_SECONDS = 5.0
SETTLE_BUDGET_MINUTES = 20.0  # issue 16 item 9: every platform settles within this under the soak's faults
POSTS_PER_ACCOUNT = 25  # well under every platform's per-account day (Instagram 100, LinkedIn 150, ...)
NOT_FINAL = ["draft", "pending_approval", "approved", "scheduled", "queued", "publishing", "processing"]
# When a post in each state is next due for dispatch or the poll (a post with none of these is stuck).
DUE_FIELDS = {"publishing": ("lease_until",), "processing": ("next_check_at",),
              "queued": ("next_attempt_at", "redispatch_at"), "scheduled": ("scheduled_at",)}


class VirtualClock:
    """The one clock of the run: Postgate's (shared.runtime.clock.utcnow, see install()) and every
    sandbox's. It is the real clock plus an offset that only grows, and only while no platform call
    and no delivery is in flight, so every party always agrees on the time and nothing that is
    running sees it jump."""

    def __init__(self):
        self.offset = 0.0
        self.epochs: list[tuple[float, float]] = [(time.time(), 0.0)]  # (real start, offset)

    def time(self) -> float:
        return time.time() + self.offset

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def advance_to(self, when: datetime) -> None:
        real = time.time()
        offset = when.timestamp() - real
        if offset > self.offset:
            self.offset = offset
            self.epochs.append((real, offset))

    def to_real(self, when: datetime) -> float:
        """The real time (epoch seconds) at which the clock read `when`."""
        v = when.timestamp()
        for start, offset in reversed(self.epochs):
            if v >= start + offset:
                return v - offset
        return v

    def install(self) -> None:
        """Postgate reads 'now' from shared.runtime.clock only; every module binds it at import, so
        this runs before any other shared module is imported."""
        import shared.runtime.clock as clock

        clock.utcnow = self.utcnow


CLOCK = VirtualClock()


def utcnow() -> datetime:
    return CLOCK.utcnow()


# -- timing ------------------------------------------------------------------------------------------------
class Phases:
    """Wall time per named phase (a phase may be entered many times)."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter = Counter()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.seconds[name] += time.perf_counter() - t0
                self.calls[name] += 1


class ThreadProfiles:
    """With --profile: a cProfile per thread that measures CPU time (time.thread_time), so blocking
    on the emulators and the GIL is left out and what remains is where the driver spends CPU."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._local = threading.local()
        self._lock = threading.Lock()
        self.profiles: list = []

    @contextlib.contextmanager
    def __call__(self):
        if not self.enabled:
            yield
            return
        prof = getattr(self._local, "prof", None)
        if prof is None:
            import cProfile

            prof = self._local.prof = cProfile.Profile(time.thread_time)
            with self._lock:
                self.profiles.append(prof)
        prof.enable()
        try:
            yield
        finally:
            prof.disable()


class SandboxMeter:
    """Requests a sandbox is serving right now, and how many it served in how long."""

    def __init__(self):
        self.lock = threading.Lock()
        self.inflight = 0
        self.requests = 0
        self.seconds = 0.0

    def wrap(self, box, profile: ThreadProfiles) -> None:
        inner = box._wsgi  # the sandbox's WSGI app; start() serves whatever the instance holds

        def wsgi(environ, start_response):
            with self.lock:
                self.inflight += 1
            t0 = time.perf_counter()
            try:
                with profile():
                    return inner(environ, start_response)
            finally:
                with self.lock:
                    self.inflight -= 1
                    self.requests += 1
                    self.seconds += time.perf_counter() - t0

        box._wsgi = wsgi


def _process_group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of every live process in a process group (an emulator and its children)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after "(comm)": state ppid pgrp ... utime(11) stime(12)
            total += int(fields[11]) + int(fields[12])
    return total / tick


def cpu_snapshot(emulators) -> dict[str, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    snap = {"driver+sandboxes": usage.ru_utime + usage.ru_stime}
    for name, pid in emulators.pids.items():
        snap[name] = _process_group_cpu(pid)
    return snap


# -- delivering publish messages ----------------------------------------------------------------------------
@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    post_id: str = field(compare=False)
    platform: str = field(compare=False)
    message_id: str = field(compare=False)
    publish_time: str = field(compare=False)
    copy: int = field(compare=False)
    attempt: int = field(compare=False)


class _Event:
    """What Functions Framework hands a Pub/Sub-triggered function: a CloudEvent with the message."""

    def __init__(self, d: _Delivery, subscription: str):
        data = base64.b64encode(json.dumps({"post_id": d.post_id}).encode()).decode()
        self.data = {"subscription": subscription,
                     "message": {"data": data, "messageId": d.message_id, "publishTime": d.publish_time,
                                 "attributes": {}, "deliveryAttempt": d.attempt}}
        self._id = d.message_id

    def get(self, key, default=None):
        return self._id if key == "id" else default


class Deliveries:
    """Every message `copies` times at once on a thread pool; a copy that asks for a retry comes again.

    Messages wait in a backlog and start only when the pool has room for all their copies (Pub/Sub
    push paces deliveries to the subscriber the same way), so a message's copies really overlap
    instead of queueing behind every other message's first copy.
    """

    def __init__(self, *, workers: int, copies: int, max_attempts: int, before_first: Callable[[str, str], None],
                 profile: ThreadProfiles, phases: Phases, stagger_seconds: float = 0.0):
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="deliver")
        self.workers = workers
        self.copies, self.max_attempts = copies, max_attempts
        self.stagger = stagger_seconds
        self.before_first = before_first
        self.phases = phases
        self.lock = threading.Lock()
        self.active = 0  # submitted to the pool, not finished
        self.reserved = 0  # staggered copies of started messages, waiting in the heap
        self.backlog: collections.deque = collections.deque()
        self.retry_heap: list[_Delivery] = []  # staggered copies and redeliveries, by due time
        self.seq = itertools.count()
        self.stats: Counter = Counter()
        self.crashes: list[str] = []
        self.profile = profile
        self._wake = threading.Condition(self.lock)
        self._closed = False
        self._feeder = threading.Thread(target=self._feed, name="deliveries-feeder", daemon=True)
        self._feeder.start()

    def message(self, post_id: str, platform: str, message_id: str, publish_time: str) -> None:
        with self._wake:
            self.backlog.append((post_id, platform, message_id, publish_time))
            self._wake.notify()

    def _feed(self) -> None:
        """Start backlog messages while the pool has room; submit heap entries when due."""
        while True:
            start: list[_Delivery] = []
            with self._wake:
                if self._closed:
                    return
                now = time.monotonic()
                while self.retry_heap and self.retry_heap[0].due <= now:
                    d = heapq.heappop(self.retry_heap)
                    if d.attempt == 1:
                        self.reserved -= 1
                    start.append(d)
                while self.backlog and self.active + len(start) + self.reserved + self.copies <= max(self.workers, self.copies):
                    post_id, platform, message_id, publish_time = self.backlog.popleft()
                    for copy in range(self.copies):
                        d = _Delivery(now, next(self.seq), post_id, platform, message_id, publish_time, copy, 1)
                        if copy and self.stagger:  # push deliveries of one message rarely leave in the same ms
                            d.due = now + random.uniform(0, self.stagger)
                            heapq.heappush(self.retry_heap, d)
                            self.reserved += 1
                        else:
                            start.append(d)
                # Counted before they leave this lock, so idle() never sees a delivery nowhere.
                self.active += len(start)
                self.stats["delivered"] += len(start)
                self.stats["redelivered"] += sum(1 for d in start if d.attempt > 1)
                if not start:
                    timeout = self.retry_heap[0].due - now if self.retry_heap else None
                    self._wake.wait(timeout)
            for d in start:
                self.pool.submit(self._run, d)

    def _later(self, d: _Delivery) -> None:
        with self._wake:
            heapq.heappush(self.retry_heap, d)
            self._wake.notify()

    def idle(self) -> bool:
        with self.lock:
            return self.active == 0 and not self.retry_heap and not self.backlog

    def busy(self) -> int:
        with self.lock:
            return self.active

    def waiting(self) -> int:
        with self.lock:
            return len(self.backlog)

    def _run(self, d: _Delivery) -> None:
        try:
            with self.profile():
                self._deliver(d)
        finally:
            with self._wake:
                self.active -= 1
                self._wake.notify()

    def _deliver(self, d: _Delivery) -> None:
        from shared import entrypoints
        from shared.runtime.handlers import Retry, handle_pubsub

        if d.copy == 0 and d.attempt == 1:
            self.before_first(d.post_id, d.platform)
        outcome: list = []
        retry = False
        with self.phases("deliveries (summed over workers)"):
            try:
                handle_pubsub(_Event(d, f"projects/{PROJECT}/subscriptions/publish-{d.platform}"),
                              lambda payload, attrs, message_id: outcome.append(entrypoints.publish(payload)))
            except Retry:
                retry = True
                self._count("outcome:retry")
            except Exception as exc:  # noqa: BLE001 - a crash is a 500 to the push: Pub/Sub redelivers
                retry = True
                self._count(f"crash:{type(exc).__name__}")
                with self.lock:
                    if len(self.crashes) < 20:
                        self.crashes.append(f"{d.post_id} ({d.platform}, delivery {d.attempt}): "
                                            + "".join(traceback.format_exception_only(type(exc), exc)).strip()[:500])
        if outcome:
            self._count(f"outcome:{outcome[0].status}")
        elif not retry:
            self._count("outcome:acked")  # refused / dropped by the handler
        if retry:
            if d.attempt >= self.max_attempts:
                self._count("dead-lettered")
                return
            pause = min(0.25 * 2 ** (d.attempt - 1), 4.0) * random.uniform(0.8, 1.2)
            self._later(_Delivery(time.monotonic() + pause, next(self.seq), d.post_id, d.platform, d.message_id,
                                  d.publish_time, d.copy, d.attempt + 1))

    def _count(self, key: str) -> None:
        with self.lock:
            self.stats[key] += 1

    def shutdown(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self.pool.shutdown(wait=True, cancel_futures=True)


# -- faults -------------------------------------------------------------------------------------------------
class Faults:
    """One fault, drawn once per chosen post, queued in its platform's sandbox as the post's first
    delivery starts (so faults spread over the run instead of all hitting its first requests)."""

    def __init__(self, platforms: dict[str, SoakPlatform], rate: float, rng: random.Random):
        self.platforms = platforms
        self.rate = rate
        self.rng = rng
        self.planned: dict[str, object] = {}
        self.injected: dict[str, Counter] = defaultdict(Counter)
        self.refused: dict[str, Counter] = defaultdict(Counter)
        self.lock = threading.Lock()

    def plan(self, post_ids_by_platform: dict[str, list[str]]) -> None:
        for name in sorted(post_ids_by_platform):
            post_ids = sorted(post_ids_by_platform[name])  # same seed, same plan (approvals finish in any order)
            specs = self.platforms[name].faults
            if not specs:
                continue
            chosen = self.rng.sample(post_ids, round(self.rate * len(post_ids)))
            for post_id in chosen:
                self.planned[post_id] = self.rng.choice(specs)

    def before_first_delivery(self, post_id: str, platform: str) -> None:
        with self.lock:
            spec = self.planned.pop(post_id, None)
        if spec is None:
            return
        try:
            self.platforms[platform].sandbox.inject(spec.endpoint, spec.kind, 1, **dict(spec.params))
        except (ValueError, TypeError) as exc:
            with self.lock:
                self.refused[platform][f"{spec.label}: {exc}"] += 1
            return
        with self.lock:
            self.injected[platform][spec.label] += 1


# -- the run ------------------------------------------------------------------------------------------------
class Soak:
    def __init__(self, args):
        self.args = args
        self.phases = Phases()
        self.rng = random.Random(args.seed)
        self.workdir = Path(tempfile.mkdtemp(prefix="postgate-soak-"))
        self.emulators = None
        self.platforms: dict[str, SoakPlatform] = {}
        self.meters = {name: SandboxMeter() for name in SOAK_PLATFORMS}
        self.index_to_post: dict[int, str] = {}
        self.posts_by_platform: dict[str, list[str]] = defaultdict(list)
        self.expected_messages = 0  # sent to a publish topic and not pulled yet
        self.pulled_messages = 0
        self.messages_lock = threading.Lock()
        self.lock = threading.Lock()  # index_to_post, posts_by_platform
        self.tick_lock = threading.Lock()  # one scheduler tick at a time; held while the clock moves
        self.tick_stats: Counter = Counter()
        self.tick_errors: list[str] = []
        self.clock_moves = 0
        self.stop_reason = ""
        self.cpu: dict[str, dict[str, float]] = {}
        self.profiles = ThreadProfiles(bool(args.profile))
        self.log_path = self.workdir / "postgate.log"
        self._log_file = None

    # virtual clock
    def vnow(self) -> datetime:
        return CLOCK.utcnow()

    def out(self, text: str) -> None:
        print(text, flush=True)

    # ---- setup ----
    def setup(self) -> None:
        from infra.local.emulators import start_emulators

        args = self.args
        per_platform = -(-args.posts // len(SOAK_PLATFORMS))
        accounts = args.accounts or max(3, -(-per_platform // POSTS_PER_ACCOUNT))
        with self.phases("setup: emulators"):
            self.emulators = start_emulators(PROJECT, log_dir=self.workdir / "emulator-logs")
        os.environ.update(self.emulators.env())
        with self.phases("setup: sandboxes + accounts"):
            self.platforms = start_platforms(
                accounts_per_platform=accounts, posts_per_account=-(-per_platform // accounts), workdir=self.workdir,
                project=PROJECT, storage_url=self.emulators.storage_url, http_timeout=HTTP_TIMEOUT_SECONDS,
                clock=CLOCK.time, instrument=lambda name, box: self.meters[name].wrap(box, self.profiles))
        self.signing_key = os.urandom(32).hex()
        secrets_file = self.workdir / "secrets.json"
        secrets_file.write_text(json.dumps({
            "approval-signing-key": self.signing_key,
            **{a.doc["secret_name"]: json.dumps(a.tokens) for p in self.platforms.values() for a in p.accounts},
        }), encoding="utf-8")
        secrets_file.chmod(0o600)
        env = {
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "POSTGATE_MEDIA_BUCKET": MEDIA_BUCKET,
            "POSTGATE_APPROVAL_BASE_URL": "http://approval.soak.local",
            "POSTGATE_APPROVERS": APPROVER,
            "POSTGATE_SECRET_BACKEND": "file",
            "POSTGATE_SECRETS_FILE": str(secrets_file),
            "POSTGATE_OUTBOX_DIR": str(self.workdir / "outbox"),
            "POSTGATE_GENERATOR": "offline",
            "POSTGATE_NOTIFIER": "log",
            "POSTGATE_HTTP_TIMEOUT_SECONDS": str(HTTP_TIMEOUT_SECONDS),
            "POSTGATE_RETRY_BASE_SECONDS": "0.05",
            # A platform wait longer than this releases the post to dispatch (virtual time) instead of
            # holding a worker in-process.
            "POSTGATE_MAX_INPROCESS_WAIT_SECONDS": "2",
            **{k: v for p in self.platforms.values() for k, v in p.env.items()},
        }
        for name in ("POSTGATE_POLL_FIRST_CHECK_SECONDS", "POSTGATE_POLL_MAX_INTERVAL_SECONDS",
                     "POSTGATE_POLL_GIVE_UP_SECONDS", "POSTGATE_POLL_BATCH_SIZE", "POSTGATE_PUBLISH_LEASE_SECONDS"):
            os.environ.pop(name, None)  # production timings: the virtual clock makes them cheap
        os.environ.update(env)

        from infra.local.provision import provision
        from infra.local.sample_media import jpeg_bytes
        from shared import services
        from shared.runtime import handlers
        from shared.runtime.clients import bigquery_client, storage_client
        from shared.runtime.logging import configure_logging

        self._log_file = open(self.log_path, "w", encoding="utf-8")
        configure_logging(stream=self._log_file)
        handlers._configured = True  # keep the functions' JSON logs in the file, not on the console
        services.reset()
        with self.phases("setup: provision"):
            provision(PROJECT, media_bucket=MEDIA_BUCKET, bq=bigquery_client(PROJECT, self.emulators.bigquery_url))
        import shared.publishing.publisher
        import shared.stores.posts

        if shared.stores.posts.utcnow != CLOCK.utcnow or shared.publishing.publisher.utcnow != CLOCK.utcnow:
            raise RuntimeError("a shared module bound the real clock before the soak's clock was installed")
        repo = services.repository()
        for p in self.platforms.values():
            for a in p.accounts:
                repo.put_account(a.account_id, a.doc)
        bucket = storage_client(PROJECT).bucket(MEDIA_BUCKET)
        pattern = bytes(range(256)) * (VIDEO_BYTES // 256 + 1)
        bucket.blob("soak/video.mp4").upload_from_string(pattern[:VIDEO_BYTES], content_type="video/mp4")
        for n, (w, h) in enumerate([(1080, 1080), (1080, 1350)]):
            bucket.blob(f"soak/image-{n}.jpg").upload_from_string(jpeg_bytes(w, h), content_type="image/jpeg")
        self.video = f"gs://{MEDIA_BUCKET}/soak/video.mp4"
        self.images = [f"gs://{MEDIA_BUCKET}/soak/image-{n}.jpg" for n in range(2)]
        from shared.runtime.config import get_config

        self.config = get_config()
        self.out(f"soak: {args.posts} posts, {accounts} accounts per platform, fault rate {args.fault_rate:.0%}, "
                 f"seed {args.seed}, {args.workers} workers, {args.copies} deliveries per message; work dir {self.workdir}")
        for p in self.platforms.values():
            kinds = sorted({f.kind + ("(after_accept)" if f.params.get("after_accept") else "") for f in p.faults})
            self.out(f"  {p.name:9} faults from {len(p.faults)} endpoint/kind pairs, kinds {', '.join(kinds)}; "
                     f"'response lost' via {p.lost_response_kind}"
                     + (f"; not offered by the sandbox: {', '.join(p.skipped_faults)}" if p.skipped_faults else ""))

    # ---- content and approvals ----
    def brief(self, index: int) -> tuple[str, dict]:
        platform = SOAK_PLATFORMS[index % len(SOAK_PLATFORMS)]
        p = self.platforms[platform]
        j = index // len(SOAK_PLATFORMS)
        account = p.accounts[j % len(p.accounts)]
        variant = p.variants[j % len(p.variants)]
        needs_video, n_images = p.media(variant)
        body = {
            "campaign": "Soak",
            "topic": f"Bottle {marker(index)} keeps drinks cold all day",
            "call_to_action": "Pre-order now.",
            "hashtags": ["Soak"],
            "targets": [p.target(variant, account.account_id, index)],
            "requested_by": "marketing@example.com",
        }
        if needs_video:
            body["video"] = self.video
        if n_images:
            body["images"] = self.images[:n_images]
        return platform, body

    def _make_one(self, index: int) -> int:
        from shared import entrypoints
        from shared.approval.tokens import issue_token

        platform, body = self.brief(index)
        with self.phases("generate (summed over workers)"):
            content = entrypoints.generate(body)
        post_id = f"{content.id}--{content.targets[0].account_id}"
        token, _ = issue_token(self.signing_key, content_id=content.id, content_hash=content.content_hash,
                               action="approve", expires_at=utcnow() + timedelta(hours=1), recipient=APPROVER)
        with self.phases("approve (summed over workers)"):
            result = entrypoints.approval_page("POST", {"token": token, "action": "approve", "tz": "UTC"})
        if result.decision != "approved":
            raise RuntimeError(f"approval of {content.id} refused ({result.status}): {result.html[:300]}")
        with self.lock:
            self.index_to_post[index] = post_id
            self.posts_by_platform[platform].append(post_id)
        return len(result.due_posts)

    def create_and_approve(self) -> None:
        t0 = time.monotonic()
        with self.phases("content + approval (wall)"), ThreadPoolExecutor(self.args.gen_workers) as pool:
            due = sum(pool.map(self._make_one, range(self.args.posts)))
        self.expected_messages += due
        self.out(f"[{time.monotonic() - t0:7.1f}s] {self.args.posts} contents generated and approved, {due} posts due")

    # ---- pulling the publish subscriptions ----
    def pull(self, deliveries: Deliveries) -> int:
        from google.cloud import pubsub_v1

        if not hasattr(self, "_subscriber"):
            self._subscriber = pubsub_v1.SubscriberClient()
        got = 0
        with self.phases("pub/sub pull"):
            for platform in SOAK_PLATFORMS:
                path = self._subscriber.subscription_path(PROJECT, f"publish-{platform}")
                response = self._subscriber.pull(request={"subscription": path, "max_messages": 1000,
                                                          "return_immediately": True}, timeout=10)
                if not response.received_messages:
                    continue
                # Acked at once: from here the soak plays Pub/Sub (copies, redeliveries, dead letters).
                self._subscriber.acknowledge(request={"subscription": path,
                                                      "ack_ids": [m.ack_id for m in response.received_messages]})
                for m in response.received_messages:
                    payload = json.loads(m.message.data.decode())
                    published = m.message.publish_time
                    stamp = (published.isoformat() if hasattr(published, "isoformat") else utcnow().isoformat())
                    deliveries.message(payload["post_id"], platform, m.message.message_id, stamp.replace("+00:00", "Z"))
                    got += 1
        with self.messages_lock:
            self.pulled_messages += got
            self.expected_messages = max(self.expected_messages - got, 0)
        return got

    # ---- the scheduler's ticks ----
    def tick(self, now: datetime | None, *, drain: bool) -> tuple[int, int]:
        """dispatch, then the status poll, at `now` (None: the soak clock's now, which is what the code
        reads anyway). With `drain`, repeat each until a run leaves a batch unfilled (several Scheduler
        ticks' worth). Returns (sent, checked)."""
        from shared import entrypoints, services
        from shared.publishing.dispatch import LOST_MESSAGE_RESEND_SECONDS, dispatch_due
        from shared.publishing.status_poll import poll_once
        from shared.runtime.pubsub import publish_json
        from shared.topology import get_topology

        config, topology, repo = self.config, get_topology(), services.repository()
        batch = config.poll_batch_size
        sent = checked = 0

        def send(post) -> None:  # entrypoints.dispatch's send
            publish_json(config.project, topology.publish_topic(post.platform), {"post_id": post.id},
                         correlation_id=post.content_id)
            with self.messages_lock:
                self.expected_messages += 1

        for _ in range(50 if drain else 1):
            with self.phases("dispatch ticks"):
                try:
                    d = dispatch_due(repo=repo, send=send, batch_size=batch,
                                     redispatch_seconds=LOST_MESSAGE_RESEND_SECONDS, now=now)
                except Exception as exc:  # noqa: BLE001 - a failed tick is retried by the next one
                    self._tick_error("dispatch", exc)
                    break
            sent += d.sent
            self.tick_stats.update({"dispatch sent": d.sent, "dispatch recovered": d.recovered,
                                    "dispatch errors": d.errors})
            if d.sent + d.recovered < batch:
                break
        for _ in range(200 if drain else 1):
            with self.phases("status poll ticks"):
                try:
                    p = poll_once(repo=repo, config=config, secrets=services.secrets(), bq=services.bigquery(), now=now,
                                  owed_work=entrypoints.poll_owed_work())
                except Exception as exc:  # noqa: BLE001
                    self._tick_error("poll", exc)
                    break
            checked += p.checked
            self.tick_stats.update({"poll checked": p.checked, "poll published": p.published, "poll failed": p.failed,
                                    "poll requeued": p.requeued, "poll errors": p.errors, "publish_log rows written": p.logged})
            if p.checked < batch and p.logged < batch:
                break
        return sent, checked

    def _tick_error(self, what: str, exc: Exception) -> None:
        self.tick_stats[f"{what} tick crashed"] += 1
        if len(self.tick_errors) < 10:
            self.tick_errors.append(f"{what}: {type(exc).__name__}: {str(exc)[:300]}")

    # ---- where every post stands ----
    def scan(self) -> dict:
        """Every post that is not settled yet (not final, or published and not in publish_log yet) and
        when it is next due. Reads only the unsettled posts: settled ones never change again."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        from shared import services

        posts = services.repository().db.collection("posts")
        fields = ["status", "next_check_at", "next_attempt_at", "redispatch_at", "lease_until", "scheduled_at",
                  "publish_log_claim_until"]
        counts: Counter = Counter()
        next_due: datetime | None = None
        stuck: list[str] = []
        with self.phases("scans for the next due time"):
            docs = list(posts.where(filter=FieldFilter("status", "in", NOT_FINAL)).select(fields).stream())
            docs += list(posts.where(filter=FieldFilter("status", "==", "published"))
                         .where(filter=FieldFilter("publish_log_written", "==", False)).select(fields).stream())
        docs = list({doc.id: doc for doc in docs}.values())  # a post may move between the two queries
        for doc in docs:
            d = doc.to_dict()
            status = d.get("status")
            due: list[datetime] = []
            if status == "published":
                counts["published, not yet in publish_log"] += 1
                due.append(d.get("publish_log_claim_until") or self.vnow())
            else:
                counts[status] += 1
                due += [d.get(name) for name in DUE_FIELDS.get(status, ())]
            due = [t for t in due if t is not None]
            if not due:
                stuck.append(doc.id)
                continue
            first = min(due)
            next_due = first if next_due is None or first < next_due else next_due
        return {"counts": counts, "unsettled": len(docs), "next_due": next_due, "stuck": stuck}

    def totals(self) -> dict:
        """Posts per state, counted by Firestore (aggregation queries: nothing is read into the driver)."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        from shared import services

        posts = services.repository().db.collection("posts")
        counts: Counter = Counter()
        with self.phases("progress counts"):
            for status in ("queued", "publishing", "processing", "published", "failed"):
                counts[status] = int(posts.where(filter=FieldFilter("status", "==", status)).count().get()[0][0].value)
            counts["unlogged"] = int(posts.where(filter=FieldFilter("status", "==", "published"))
                                     .where(filter=FieldFilter("publish_log_written", "==", False)).count().get()[0][0].value)
            unsettled = int(posts.where(filter=FieldFilter("status", "in", NOT_FINAL)).count().get()[0][0].value)
        return {"counts": counts, "unsettled": unsettled + counts["unlogged"]}

    def progress(self, t0: float, deliveries: Deliveries, state: dict) -> None:
        c = state["counts"]
        inflight = sum(m.inflight for m in self.meters.values())
        self.out(f"[{time.monotonic() - t0:7.1f}s] delivered {deliveries.stats['delivered']} "
                 f"(redelivered {deliveries.stats['redelivered']}, running {deliveries.busy()}, waiting {deliveries.waiting()}, "
                 f"platform calls {inflight}) | "
                 f"queued {c['queued']} publishing {c['publishing']} processing {c['processing']} "
                 f"published {c['published']} (not yet in publish_log {c['unlogged']}) failed {c['failed']} | "
                 f"unsettled {state['unsettled']} | "
                 f"clock +{_hms(CLOCK.offset)}")

    # ---- delivery and settling ----
    def run_pipeline(self) -> None:
        from shared.topology import get_topology

        args = self.args
        topology = get_topology()
        faults = Faults(self.platforms, args.fault_rate, self.rng)
        faults.plan(self.posts_by_platform)
        self.faults = faults
        max_attempts = max(s.max_delivery_attempts for name, s in topology.subscriptions.items()
                           if name.startswith("publish-"))
        tick_every = min(s.local_interval_seconds for s in topology.schedules.values()
                         if s.topic in ("dispatch-tick", "status-poll-tick"))
        deliveries = Deliveries(workers=args.workers, copies=args.copies, max_attempts=max_attempts,
                                before_first=faults.before_first_delivery, profile=self.profiles,
                                phases=self.phases, stagger_seconds=args.stagger_ms / 1000)
        self.deliveries = deliveries
        self.pipeline_started = time.time()
        t0 = time.monotonic()
        budget_end = t0 + args.budget
        horizon = self.vnow() + timedelta(hours=args.horizon_hours)
        last_progress = 0.0
        idle_rounds = 0
        busy = threading.Event()
        done = threading.Event()

        def scheduler() -> None:
            """Cloud Scheduler while work is in flight: a dispatch and a poll tick every interval; a tick
            that ran longer than the interval is followed at once by the next (they queue up)."""
            started = time.monotonic()
            while not done.wait(max(0.0, started + tick_every - time.monotonic())):
                started = time.monotonic()
                if busy.is_set():
                    with self.tick_lock, self.profiles():
                        if busy.is_set():
                            self.tick(None, drain=False)

        ticker = threading.Thread(target=scheduler, name="scheduler", daemon=True)
        ticker.start()

        def in_flight() -> bool:
            return (not deliveries.idle() or self.expected_messages > 0
                    or any(m.inflight for m in self.meters.values()))

        try:
            while True:
                now_m = time.monotonic()
                if self.expected_messages > 0:
                    self.pull(deliveries)
                if now_m - last_progress >= args.progress_seconds:
                    self.progress(t0, deliveries, self.totals())
                    last_progress = now_m
                if now_m > budget_end:
                    self.stop_reason = f"wall budget of {args.budget:.0f}s spent"
                    break
                if in_flight():
                    # A delivery, an unread message, or a call the client may have given up on that is
                    # still running in a sandbox (a slow fault): time may not move until it has landed.
                    busy.set()
                    with self.phases("main loop: waiting while work is in flight"):
                        time.sleep(0.05)
                    continue
                busy.clear()
                with self.tick_lock:  # a scheduler tick that was running has finished
                    if in_flight():
                        continue
                    # Quiescent: nothing in flight anywhere. Run the scheduler at this time, then move
                    # the clock to the next time anything is due.
                    sent, checked = self.tick(self.vnow(), drain=True)
                    if sent or self.expected_messages:
                        idle_rounds = 0
                        continue
                    state = self.scan()
                    if state["unsettled"] == 0:
                        self.stop_reason = "every post settled"
                        break
                    if state["next_due"] is None:
                        self.stop_reason = (f"{len(state['stuck'])} unsettled post(s) with nothing due, ever: "
                                            f"{state['stuck'][:5]}")
                        break
                    vnow = self.vnow()
                    if state["next_due"] > vnow:
                        if state["next_due"] > horizon:
                            self.stop_reason = f"virtual horizon of {args.horizon_hours} h reached"
                            break
                        CLOCK.advance_to(_next_cron_tick(state["next_due"]))
                        self.clock_moves += 1
                        idle_rounds = 0
                        continue
                idle_rounds += 1  # due now, but the tick did nothing with it
                if idle_rounds > 50:
                    self.stop_reason = "posts are due but dispatch and the poll leave them as they are"
                    break
                time.sleep(0.05)
        finally:
            done.set()
            ticker.join()
            deliveries.shutdown()
        self.pipeline_seconds = time.monotonic() - t0
        self.progress(t0, deliveries, self.totals())
        self.out(f"stopped: {self.stop_reason}; virtual clock moved {self.clock_moves} times, +{_hms(CLOCK.offset)}")

    # ---- counting ----
    def count(self):
        from infra.local.soak_report import judge
        from shared import services
        from shared.model.post import Post
        from shared.topology import get_topology

        with self.phases("count: firestore"):
            posts = [Post.model_validate(d.to_dict()) for d in services.repository().db.collection("posts").stream()]
        by_platform: dict[str, list] = defaultdict(list)
        for post in posts:
            by_platform[post.platform].append(post)
        with self.phases("count: bigquery"):
            table = f"{PROJECT}.{get_topology().bigquery.dataset}.publish_log"
            rows = {r["platform"]: (r["n"], r["d"]) for r in services.bigquery().query(
                f"SELECT platform, COUNT(*) AS n, COUNT(DISTINCT post_id) AS d FROM `{table}` GROUP BY platform").result()}
        verdicts = []
        with self.phases("count: sandboxes"):
            for name in SOAK_PLATFORMS:
                n, d = rows.get(name, (0, 0))
                verdicts.append(judge(name, by_platform.get(name, []), self.platforms[name].live(), self.index_to_post,
                                      MARKER, n, d, self.pipeline_started, CLOCK.to_real))
        return verdicts, by_platform

    # ---- report ----
    def report(self, verdicts, by_platform, total_seconds: float) -> bool:
        from infra.local.soak_report import FAILING, fail_classes, settle_table, table

        bad = any(v.bad() for v in verdicts)
        self.out("")
        self.out(table(verdicts))
        self.out("\napproval to final state, production minutes (the soak's clock):")
        self.out(settle_table(verdicts, SETTLE_BUDGET_MINUTES))
        for v in verdicts:
            if v.slowest and v.slowest["minutes"] > SETTLE_BUDGET_MINUTES:
                self.out(f"  slowest {v.platform}: {json.dumps(v.slowest, default=str)}")
        self.out(f"\nwall time {total_seconds:.1f}s (publishing + settling {self.pipeline_seconds:.1f}s); "
                 f"{self.args.posts / max(self.pipeline_seconds, 1e-9):.2f} posts/s through publishing")
        self.out("\nfaults injected (endpoint:kind x count; left = queued but never hit):")
        for name in SOAK_PLATFORMS:
            injected = self.faults.injected[name]
            left = self.platforms[name].pending_faults()
            self.out(f"  {name:9} {sum(injected.values())} injected, {left} left: "
                     + ", ".join(f"{k} x{n}" for k, n in sorted(injected.items())))
            for problem, n in self.faults.refused[name].items():
                self.out(f"            refused by the sandbox x{n}: {problem}")
        d = self.deliveries.stats
        self.out("\ndeliveries: " + ", ".join(f"{k} {v}" for k, v in sorted(d.items())))
        self.out("scheduler: " + ", ".join(f"{k} {v}" for k, v in sorted(self.tick_stats.items()) if v))
        for line in self.deliveries.crashes[:10]:
            self.out(f"  crash: {line}")
        for line in self.tick_errors:
            self.out(f"  tick error: {line}")
        self.out("\nwhy posts failed:")
        for name in SOAK_PLATFORMS:
            for reason, n in fail_classes(by_platform.get(name, [])).most_common(8):
                self.out(f"  {name:9} x{n:<4} {reason}")
        self.out("\nwhere the time went (wall seconds; 'summed over workers' overlap each other):")
        for name, secs in sorted(self.phases.seconds.items(), key=lambda kv: -kv[1]):
            self.out(f"  {secs:9.1f}s  {name} ({self.phases.calls[name]} times)")
        self.out("sandboxes (requests, seconds inside the sandbox): " + ", ".join(
            f"{n} {m.requests}/{m.seconds:.1f}s" for n, m in self.meters.items()))
        if self.cpu:
            start, end = self.cpu["start"], self.cpu["end"]
            self.out("CPU seconds during publishing + settling (2 cores = 2 CPU-s per wall second): " + ", ".join(
                f"{k} {end[k] - start.get(k, 0):.1f}" for k in end))
        report = {
            "args": vars(self.args), "stop_reason": self.stop_reason, "pipeline_seconds": self.pipeline_seconds,
            "total_seconds": total_seconds, "phases": dict(self.phases.seconds), "deliveries": dict(d),
            "scheduler": dict(self.tick_stats), "faults": {k: dict(v) for k, v in self.faults.injected.items()},
            "cpu": self.cpu, "verdicts": [{**{k: getattr(v, k) for k in ("platform", "posts", "published", "failed",
                                                                          "on_platform", "stray", "log_rows",
                                                                          "wall_seconds", *FAILING)},
                                           "settle_minutes": sorted(round(m, 2) for m in v.settle_minutes),
                                           "slowest": v.slowest,
                                           "examples": v.examples} for v in verdicts],
        }
        (self.workdir / "report.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
        if bad:
            self.out("\nproblems (up to 3 examples each; all in report.json; `grep <post_id> "
                     f"{self.log_path}` for the functions' logs):")
            for v in verdicts:
                for problem, examples in v.examples.items():
                    for ex in examples[:3]:
                        self.out(f"  {v.platform} {problem}: {json.dumps(ex, default=str)}")
        self.out(f"\nreport: {self.workdir / 'report.json'}")
        return not bad

    def teardown(self, keep: bool) -> None:
        stop_platforms(self.platforms)
        if self.emulators is not None:
            self.emulators.stop()
        if self._log_file is not None:
            self._log_file.flush()
        if not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _next_cron_tick(when: datetime) -> datetime:
    """The first whole minute at or after `when`: Cloud Scheduler runs dispatch-tick and
    status-poll-tick on "* * * * *", so in production anything due is handled at the next minute."""
    floor = when.replace(second=0, microsecond=0)
    return floor if floor == when else floor + timedelta(minutes=1)


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _profile_summary(soak: Soak, path: str) -> None:
    """Merge the per-thread CPU profiles into `path`; print where the CPU went."""
    import io
    import pstats

    profiles = list(soak.profiles.profiles)
    if not profiles:
        return
    stats = pstats.Stats(profiles[0])
    for p in profiles[1:]:
        stats.add(p)
    stats.dump_stats(path)
    buf = io.StringIO()
    view = pstats.Stats(path, stream=buf)
    view.sort_stats("cumulative").print_stats(r"work/main/(shared|infra)|/shared/|/infra/", 30)
    view.sort_stats("tottime").print_stats(20)
    soak.out(f"\nCPU profile (driver threads, time.thread_time; the profiler itself slows the run down; "
             f"full data in {path}):")
    soak.out("\n".join(line for line in buf.getvalue().splitlines() if line.strip()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1000, help="approved posts, spread over the five platforms")
    parser.add_argument("--fault-rate", type=float, default=0.2, help="share of posts that get one injected fault")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=24, help="concurrent deliveries (function instances)")
    parser.add_argument("--gen-workers", type=int, default=8, help="concurrent generate + approve")
    parser.add_argument("--copies", type=int, default=3, help="deliveries of every publish message")
    parser.add_argument("--stagger-ms", type=float, default=250.0,
                        help="copies after the first start within this many ms (0: all at the same instant)")
    parser.add_argument("--accounts", type=int, default=0, help=f"accounts per platform (default: one per "
                                                                f"{POSTS_PER_ACCOUNT} posts, at least 3)")
    parser.add_argument("--budget", type=float, default=1500.0, help="wall seconds for publishing + settling")
    parser.add_argument("--horizon-hours", type=float, default=72.0, help="how far the virtual clock may move")
    parser.add_argument("--progress-seconds", type=float, default=5.0)
    parser.add_argument("--profile", metavar="FILE", help="CPU-profile the driver's threads (deliveries, scheduler, main loop) into FILE")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, report) even when all is well")
    args = parser.parse_args(argv)
    if args.posts < 1 or not 0 <= args.fault_rate <= 1 or args.copies < 1:
        parser.error("--posts >= 1, 0 <= --fault-rate <= 1, --copies >= 1")
    random.seed(args.seed)
    CLOCK.install()
    soak = Soak(args)
    started = time.monotonic()
    ok = False
    try:
        soak.setup()
        soak.create_and_approve()
        soak.cpu["start"] = cpu_snapshot(soak.emulators)
        with soak.profiles():
            soak.run_pipeline()
        soak.cpu["end"] = cpu_snapshot(soak.emulators)
        verdicts, by_platform = soak.count()
        ok = soak.report(verdicts, by_platform, time.monotonic() - started)
        if args.profile:
            _profile_summary(soak, args.profile)
    except KeyboardInterrupt:
        soak.out("interrupted")
    finally:
        soak.teardown(keep=args.keep or not ok)
        if not ok:
            print(f"soak: FAILED (work dir kept: {soak.workdir})", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
