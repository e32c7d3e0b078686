"""The local stack: emulators + a sandbox per platform + every function under functions-framework,
wired by push subscriptions from infra/topology.yaml, with a scheduler stand-in that publishes
each schedule's tick. Used by `make demo` and the end-to-end test; stops everything on exit."""

from __future__ import annotations

import json
import os
import secrets as pysecrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from infra.local.emulators import Emulators, _free_ports, local_bucket_name, start_emulators
from infra.local.platform_sandboxes import LocalPlatform, register_oauth_app, start_platforms, stop_platforms
from shared.topology import get_topology

REPO = Path(__file__).resolve().parents[2]
# Who can sign in to the console locally (its sign-in page lists them; docs/console.md): api_users documents.
LOCAL_USERS = {"lead@example.com": ["approver"], "editor@example.com": ["editor"]}


class LocalStack:
    def __init__(self, project: str = "postgate-local", *, workdir: Path | None = None, extra_env: dict | None = None,
                 tick_seconds: dict[str, float] | None = None):
        self.project = project
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="postgate-stack-"))
        self.extra_env = extra_env or {}
        # Schedule name -> seconds between its ticks, instead of the topology's local_interval_seconds.
        self.tick_seconds = tick_seconds or {}
        self.emulators: Emulators | None = None
        self.platforms: dict[str, LocalPlatform] = {}
        self.function_urls: dict[str, str] = {}
        self._procs: list[subprocess.Popen] = []
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self.media_bucket = f"{project}-media"
        # A CSV written under its notify prefix (incoming/) reaches report-ingest through report-files.
        self.reports_bucket = local_bucket_name(project, "reports")
        self.timings: dict[str, float] = {}

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> LocalStack:
        t0 = time.monotonic()
        self.emulators = start_emulators(self.project, log_dir=self.workdir / "emulator-logs")
        self.timings["emulators_ready_s"] = round(time.monotonic() - t0, 2)
        os.environ.update(self.emulators.env())
        self.platforms = start_platforms(workdir=self.workdir, project=self.project,
                                         storage_url=self.emulators.env()["STORAGE_EMULATOR_HOST"])
        self._write_secrets()
        topo = get_topology()
        ports = _free_ports(len(topo.functions))
        self.function_urls = {name: f"http://127.0.0.1:{port}" for name, port in zip(topo.functions, ports)}
        # Connecting an account: each sandbox's consent page knows the app and sends back to the api.
        register_oauth_app(self.platforms, self.function_urls["api"] + "/accounts/oauth/callback")
        env = self.function_env()
        for (name, fn), port in zip(topo.functions.items(), ports):
            self._procs.append(start_function(fn, port, env, open(self.workdir / f"fn-{name}.log", "ab")))
        from infra.local.provision import provision
        from shared import services
        from shared.runtime.clients import bigquery_client

        os.environ.update({k: v for k, v in env.items() if k.startswith(("POSTGATE_", "GOOGLE_CLOUD_PROJECT"))})
        services.reset()
        provision(self.project, media_bucket=self.media_bucket, function_urls=self.function_urls,
                  bq=bigquery_client(self.project, self.emulators.bigquery_url))
        for local in self.platforms.values():
            services.repository().put_account(local.account_id, {"platform": local.platform, "secret_name": local.secret_name,
                                                                 **local.account})
        for user, roles in LOCAL_USERS.items():
            services.repository().db.collection("api_users").document(user).set({"roles": roles})
        self._wait_functions()
        self.timings["stack_ready_s"] = round(time.monotonic() - t0, 2)
        self._ticker = threading.Thread(target=self._tick_schedules, daemon=True)
        self._ticker.start()
        return self

    def function_env(self) -> dict[str, str]:
        return {
            **os.environ,
            **self.emulators.env(),
            "PYTHONPATH": str(REPO),
            "GOOGLE_CLOUD_PROJECT": self.project,
            "POSTGATE_MEDIA_BUCKET": self.media_bucket,
            "POSTGATE_APPROVAL_BASE_URL": self.function_urls["approval-http"],
            "POSTGATE_APPROVERS": "lead@example.com",
            "POSTGATE_API_BASE_URL": self.function_urls["api"],
            "POSTGATE_SECRET_BACKEND": "file",
            "POSTGATE_SECRETS_FILE": str(self.workdir / "secrets.json"),
            "POSTGATE_OUTBOX_DIR": str(self.workdir / "outbox"),
            "POSTGATE_CONSOLE_LOCAL_SIGN_IN": "true",  # the console's sign-in page lists LOCAL_USERS
            **{k: v for local in self.platforms.values() for k, v in local.env.items()},
            "POSTGATE_POLL_FIRST_CHECK_SECONDS": "1",
            "POSTGATE_POLL_MAX_INTERVAL_SECONDS": "3",
            "POSTGATE_RETRY_BASE_SECONDS": "0.2",
            **self.extra_env,
        }

    def _write_secrets(self) -> None:
        path = self.workdir / "secrets.json"
        path.write_text(json.dumps({
            "approval-signing-key": pysecrets.token_hex(32),
            "api-jwt-key": pysecrets.token_hex(32),
            "console-session-key": pysecrets.token_urlsafe(32),
            **{local.secret_name: json.dumps(local.tokens) for local in self.platforms.values()},
            "oauth-clients": json.dumps({p: local.oauth_client for p, local in self.platforms.items()
                                         if local.oauth_client is not None}),
        }), encoding="utf-8")
        path.chmod(0o600)

    def _wait_functions(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        pending = dict(self.function_urls)
        while pending and time.monotonic() < deadline:
            for name, url in list(pending.items()):
                try:
                    urllib.request.urlopen(url + "/", timeout=1)
                    pending.pop(name)
                except urllib.error.HTTPError:
                    pending.pop(name)  # any HTTP answer means it is serving
                except OSError:
                    pass
            time.sleep(0.1)
        if pending:
            raise RuntimeError(f"functions not serving after {timeout}s: {sorted(pending)}; see {self.workdir}")

    def _tick_schedules(self) -> None:
        from shared.runtime.pubsub import publish_json

        topo = get_topology()
        next_due = {name: 0.0 for name in topo.schedules}
        while not self._stop.is_set():
            now = time.monotonic()
            for name, schedule in topo.schedules.items():
                if now >= next_due[name]:
                    try:
                        publish_json(self.project, schedule.topic, schedule.payload)
                    except Exception:  # noqa: BLE001 - the stand-in scheduler keeps ticking
                        pass
                    next_due[name] = now + self.tick_seconds.get(name, schedule.local_interval_seconds)
            self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        for proc in self._procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self._procs.clear()
        stop_platforms(self.platforms)
        self.platforms = {}
        if self.emulators:
            self.emulators.stop()
            self.emulators = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- helpers for the demo and tests ---------------------------------------------------
    @property
    def console_url(self) -> str:
        """Where the console answers (the function and path infra/topology.yaml declare for it)."""
        function, path = get_topology().route("console")
        return self.function_urls[function] + path

    @property
    def sandbox(self):
        """The TikTok sandbox (the primary platform)."""
        return self.platforms["tiktok"].sandbox

    def secret_values(self) -> list[str]:
        """Every token the platforms' accounts hold: none may appear in a log."""
        return [value for local in self.platforms.values() for value in local.secret_values]

    def upload_image(self, name: str, width: int = 1080, height: int = 1080) -> str:
        from infra.local.sample_media import jpeg_bytes
        from shared.runtime.clients import storage_client

        blob = storage_client(self.project).bucket(self.media_bucket).blob(name)
        blob.upload_from_string(jpeg_bytes(width, height), content_type="image/jpeg")
        return f"gs://{self.media_bucket}/{name}"

    def upload_video(self, name: str, size: int) -> str:
        """A deterministic sample video object (the bytes are not decoded by the sandbox)."""
        from shared.runtime.clients import storage_client

        pattern = bytes(range(256)) * (size // 256 + 1)
        blob = storage_client(self.project).bucket(self.media_bucket).blob(name)
        blob.upload_from_string(pattern[:size], content_type="video/mp4")
        return f"gs://{self.media_bucket}/{name}"

    def outbox(self, content_id: str) -> dict:
        path = next((self.workdir / "outbox").glob(f"{content_id}--*.json"))
        return json.loads(path.read_text(encoding="utf-8"))


def start_function(fn, port: int, env: dict[str, str], log) -> subprocess.Popen:
    """One function under the functions-framework command (gunicorn), as deployed: its declared
    concurrency as request threads (`env` may override THREADS), output to `log`."""
    signature = "http" if fn.trigger.type == "http" else "cloudevent"
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("functions-framework")), "--target", fn.entry_point,
         "--source", str(REPO / fn.source / "main.py"), "--signature-type", signature,
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO, env={**function_process_env(fn), **env}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)


def function_process_env(fn) -> dict[str, str]:
    """functions-framework serves with gunicorn: its request threads are the function's declared
    concurrency (THREADS), as deployed; undeclared, functions-framework's own default."""
    return {"THREADS": str(fn.concurrency)} if fn.concurrency > 1 else {}
