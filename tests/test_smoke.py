"""The post-deploy smoke check (infra/smoke.py, `make smoke`) and the dry-run stop it relies on.

The dry-run unit test runs first, on the session emulators; the smoke check then runs against a whole
local stack (functions under functions-framework, as deployed), started by this module's own fixture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ACCOUNT, approve

REPO = Path(__file__).resolve().parents[1]


# -- the dry-run stop in the publisher ------------------------------------------------------------

def test_dry_run_accounts_queued_post_is_cancelled_before_any_platform_call(draft, env, sandbox, logs):
    from shared import services
    from shared.publishing.publisher import DRY_RUN_REASON, publish_post
    from shared.runtime.config import get_config

    repo = services.repository()
    repo.db.collection("accounts").document(ACCOUNT).update({"dry_run": True})
    [due] = approve(env, draft)
    assert repo.get_post(due.id).status == "queued"
    deps = dict(repo=repo, config=get_config(), secrets=services.secrets(), media_store=services.media_store())

    outcome = publish_post(due.id, **deps)

    assert (outcome.status, outcome.detail, outcome.retry) == ("cancelled", DRY_RUN_REASON, False)
    post = repo.get_post(due.id)
    assert post.status == "cancelled" and post.history[-1].reason == DRY_RUN_REASON
    assert post.attempt_count == 0 and post.attempt_id is None and post.platform_ids == {}
    assert sandbox.requests_log == []  # not even creator_info
    [line] = [e for e in logs.entries if e.get("message") == "publish stopped: dry-run account"]
    assert line["severity"] == "INFO" and line["post_id"] == due.id
    # A redelivery of the same message finds it cancelled and calls nothing either.
    assert publish_post(due.id, **deps).status == "skipped"
    assert sandbox.requests_log == []


def test_an_account_without_dry_run_still_publishes(draft, env, sandbox):
    from shared import services
    from shared.publishing.publisher import publish_post
    from shared.runtime.config import get_config

    repo = services.repository()
    repo.db.collection("accounts").document(ACCOUNT).update({"dry_run": False})  # only `true` stops it
    [due] = approve(env, draft)
    outcome = publish_post(due.id, repo=repo, config=get_config(), secrets=services.secrets(),
                           media_store=services.media_store())
    assert outcome.status == "processing" and sandbox.count("upload") == 1


# -- the smoke check against the local stack ------------------------------------------------------

@pytest.fixture(scope="module")
def local_stack():
    from tests.conftest import running_local_stack

    yield from running_local_stack("smoke-project")


def _smoke_args(stack, **broken: str) -> list[str]:
    urls = {**stack.function_urls, **broken}
    return [arg for name in ("generate-http", "approval-http", "api") for arg in ("--url", f"{name}={urls[name]}")] + [
        "--secrets-file", str(stack.workdir / "secrets.json"), "--identity-token", "none", "--timeout", "60"]


def _platform_creates(stack) -> dict[str, list]:
    """Every post the sandboxes hold, and every request they logged other than token refreshes and the
    catalogue's reads of the demo YouTube channel (its schedule ticks when the stack starts)."""
    return {platform: [*local.sandbox.posts, *(e for e in local.sandbox.requests_log
                                               if "token" not in e["endpoint"] and not _catalogue_read(e))]
            for platform, local in stack.platforms.items()}


def _catalogue_read(entry: dict) -> bool:
    from shared.platforms.youtube.catalogue import VIDEO_PARTS

    return entry["method"] == "GET" and (entry["endpoint"] in ("channels", "playlist_items")
                                         or (entry["endpoint"] == "list" and entry.get("part") == VIDEO_PARTS))


@pytest.mark.stack  # the module's own local stack
def test_make_smoke_passes_every_step_against_the_local_stack_and_publishes_nothing(local_stack):
    from shared import services

    before = _platform_creates(local_stack)
    done = subprocess.run([sys.executable, "-m", "infra.smoke", *_smoke_args(local_stack)], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)
    print(done.stdout)
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    steps, summary = lines[:-1], lines[-1]
    assert [line.split()[0] for line in steps] == ["PASS"] * 13, done.stdout
    names = [line[6:40].strip() for line in steps]
    assert names[:3] == ["health: generate-http", "health: approval-http", "health: api"]
    assert "publisher stopped before platform" in names and names[-2:] == ["cleanup: post deleted", "cleanup: account deleted"]
    assert "cancelled" in steps[names.index("publisher stopped before platform")]
    assert summary == "smoke: 13 passed, 0 failed, 0 skipped"
    # No sandbox received a create (or any other) call; the run left no account or post behind.
    assert _platform_creates(local_stack) == before == {p: [] for p in local_stack.platforms}
    repo = services.repository()
    accounts = [d.id for d in repo.db.collection("accounts").stream()]
    assert not [a for a in accounts if a.startswith("smoke-dry-run-")]
    assert not [d.id for d in repo.db.collection("posts").stream()]
    # Nothing an alert keys on: no function wrote an ERROR line during the run.
    logged = [json.loads(line) for path in local_stack.workdir.glob("fn-*.log")
              for line in path.read_text(errors="replace").splitlines() if line.startswith("{")]
    assert any(e.get("message") == "publish stopped: dry-run account" for e in logged)
    assert [e for e in logged if e.get("severity") in ("ERROR", "CRITICAL")] == []


@pytest.mark.stack  # the module's own local stack
def test_a_broken_function_fails_its_steps_and_the_run_still_cleans_up(local_stack):
    from infra.smoke import SmokeCheck, secret_store
    from shared import services

    lines: list[str] = []
    urls = {**local_stack.function_urls, "approval-http": local_stack.function_urls["generate-http"]}  # answers 405
    check = SmokeCheck(urls, secrets=secret_store(None, str(local_stack.workdir / "secrets.json")), settle_timeout=5,
                       poll_interval=0.5, out=lines.append)
    # Health is checked first; skip it here so the later steps run against the wrong approval-http.
    check.health = lambda name: "not checked"
    assert check.run() == 1
    outcome = {line[6:40].strip(): line.split()[0] for line in lines[:-1]}
    assert outcome["post created for it"] == "PASS"
    assert outcome["link: shell page"] == "FAIL" and "HTTP 405" in next(line for line in lines if "link: shell page" in line)
    assert outcome["link: review page"] == outcome["link: approve"] == outcome["publisher stopped before platform"] == "SKIP"
    assert outcome["cleanup: post deleted"] == outcome["cleanup: account deleted"] == "PASS"
    assert lines[-1].startswith("smoke: ") and "1 failed" in lines[-1] and "first failure: link: shell page" in lines[-1]
    repo = services.repository()
    assert repo.get_account(check.account_id) is None and repo.get_post(check.post_id) is None


def test_default_urls_are_the_cloudfunctions_addresses_terraform_outputs():
    from infra.smoke import function_urls

    urls = function_urls("my-project", "europe-west1", {"api": "http://127.0.0.1:9/"})
    assert urls == {"generate-http": "https://europe-west1-my-project.cloudfunctions.net/generate-http",
                    "approval-http": "https://europe-west1-my-project.cloudfunctions.net/approval-http",
                    "api": "http://127.0.0.1:9"}
    with pytest.raises(ValueError, match="generate-http"):
        function_urls(None, None, {})
    with pytest.raises(ValueError, match="publish-x"):
        function_urls("p", "r", {"publish-x": "http://x"})



def _server_that_drops_the_first_request_of_each_method():
    """An HTTP/1.1 server that closes the connection without an answer the first time it sees each method, as a
    server's idle timeout does to a kept-alive connection a request just went out on; afterwards it answers."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    seen: list[str] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                request = conn.recv(65536).decode("latin-1")
                if not request:
                    continue
                method = request.split(" ", 1)[0]
                seen.append(method)
                if seen.count(method) == 1:
                    continue  # closed with no answer: RemoteDisconnected on the client
                body = b'{"ok": true}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    threading.Thread(target=serve, daemon=True).start()
    return listener, seen


def test_the_smoke_sends_a_read_again_when_the_connection_dropped_and_never_a_post():
    import requests

    from infra.smoke import _session

    listener, seen = _server_that_drops_the_first_request_of_each_method()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/posts/p1"
    try:
        session = _session()
        assert session.get(url, timeout=5).json() == {"ok": True}  # a plain session raises RemoteDisconnected here
        assert seen == ["GET", "GET"]
        with pytest.raises(requests.ConnectionError):
            session.post(url, json={}, timeout=5)  # a POST may have been acted on: never sent twice
        assert seen == ["GET", "GET", "POST"]
    finally:
        listener.close()
