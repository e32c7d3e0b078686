"""Session fixtures: the real emulators and the TikTok sandbox, wiped between tests."""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets as pysecrets
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest

from infra.local.emulators import start_emulators
from infra.local.sample_media import jpeg_bytes  # noqa: F401 - tests import it from here
from infra.local.sandboxes.recording import recording
from infra.local.sandboxes.tiktok import DEFAULT_SCOPES as TIKTOK_SCOPES
from infra.local.sandboxes.tiktok import TikTokSandbox

pytest_plugins = ["tests.browser"]  # the `chromium` and `browser` fixtures
PROJECT = "test-project"
MEDIA_BUCKET = "test-media"
ACCOUNT = "tiktok-main"
ACCOUNT_SECRET = "tiktok-account-tiktok-main"
SIGNING_SECRET = "approval-signing-key"
API_JWT_SECRET = "api-jwt-key"


# Session fixtures that start the emulators, the local stack or Chromium: a test whose fixture closure
# reaches one is marked `stack`, so `pytest -m "not stack"` (`make test-fast`) runs only the rest.
# Tests that start a stack themselves (running_local_stack, a served function) carry the mark explicitly.
STACK_FIXTURES = frozenset({"emulators", "stack_env", "env", "chromium", "browser"})


def pytest_collection_modifyitems(items):
    for item in items:
        if STACK_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.stack)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    # Open before any fixture is set up: a module's stack (e.g. the end-to-end tests') publishes
    # while its fixture is built for the first test, and those requests are checked with that test.
    if not item.get_closest_marker("sandbox_probe"):
        item.stash[_CONTRACT_RECORDER] = recorder = recording()
        item.stash[_CONTRACT_EXCHANGES] = recorder.__enter__()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    yield
    recorder = item.stash.get(_CONTRACT_RECORDER, None)
    if recorder is not None:
        recorder.__exit__(None, None, None)


_CONTRACT_RECORDER = pytest.StashKey()
_CONTRACT_EXCHANGES = pytest.StashKey()


@pytest.fixture(autouse=True)
def platform_contracts(request):
    """Every request a sandbox receives during the test (its fixtures' set-up included), and its
    answer, checked against the platform's own document (tests/contracts/): a departure fails the
    test. Tests that send malformed requests on purpose are marked `sandbox_probe`."""
    yield
    exchanges = request.node.stash.get(_CONTRACT_EXCHANGES, None)
    if exchanges is None:
        return
    from tests.contracts import check_exchanges

    problems = check_exchanges(list(exchanges))
    exchanges.clear()
    if problems:
        pytest.fail("requests or answers departing from the platform's document:\n" + "\n".join(problems[:20]),
                    pytrace=False)


def pytest_terminal_summary(terminalreporter):
    from tests.contracts import summary_lines

    for line in summary_lines():
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def emulators():
    emus = start_emulators(PROJECT)
    yield emus
    emus.stop()


@pytest.fixture(scope="session")
def sandbox():
    box = TikTokSandbox(status_fetches_before_complete=1)
    box.start()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def stack_env(emulators, sandbox, tmp_path_factory):
    """Environment every function would get, pointed at the emulators and the sandbox."""
    workdir = tmp_path_factory.mktemp("postgate")
    access_token = "act." + pysecrets.token_urlsafe(24)
    signing_key = pysecrets.token_hex(32)
    api_jwt_key = pysecrets.token_hex(32)
    from infra.local.signing_key import write_local_signing_key

    url_signing_key = write_local_signing_key(workdir / "url-signing-key.json", PROJECT)
    secrets_file = workdir / "secrets.json"
    secrets_file.write_text(json.dumps({SIGNING_SECRET: signing_key, API_JWT_SECRET: api_jwt_key,
                                        ACCOUNT_SECRET: json.dumps({"access_token": access_token})}))
    env = {
        **emulators.env(),
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "POSTGATE_MEDIA_BUCKET": MEDIA_BUCKET,
        "POSTGATE_APPROVAL_BASE_URL": "http://approval.test",
        "POSTGATE_APPROVERS": "lead@example.com",
        "POSTGATE_API_BASE_URL": "http://api.test",
        "POSTGATE_SECRET_BACKEND": "file",
        "POSTGATE_SECRETS_FILE": str(secrets_file),
        "POSTGATE_OUTBOX_DIR": str(workdir / "outbox"),
        "POSTGATE_TIKTOK_BASE_URL": sandbox.base_url,
        "POSTGATE_TIKTOK_CHUNK_BYTES": str(5 * 1024 * 1024),
        "POSTGATE_RETRY_BASE_SECONDS": "0.05",
        "POSTGATE_TIKTOK_RATE_LIMIT_WAIT_SECONDS": "0.2",
        "POSTGATE_POLL_FIRST_CHECK_SECONDS": "0",
        "POSTGATE_HTTP_TIMEOUT_SECONDS": "10",
        # Review-page previews and Instagram's media fetches: V4 URLs signed locally, served by the storage emulator.
        "POSTGATE_SIGNED_URL_ENDPOINT": emulators.env()["STORAGE_EMULATOR_HOST"],
        "POSTGATE_URL_SIGNING_KEY_FILE": str(url_signing_key),
    }
    os.environ.update(env)
    from infra.local.provision import provision
    from shared import services
    from shared.runtime.clients import bigquery_client

    services.reset()
    provision(PROJECT, media_bucket=MEDIA_BUCKET, bq=bigquery_client(PROJECT, emulators.bigquery_url))
    return {"access_token": access_token, "signing_key": signing_key, "api_jwt_key": api_jwt_key, "workdir": workdir,
            **env}


@pytest.fixture
def env(stack_env, emulators, sandbox):
    """Per test: empty Firestore and buckets, a fresh sandbox, the TikTok account registered."""
    from shared import services
    from shared.topology import get_topology

    emulators.wipe()
    sandbox.reset()
    # Every scope again: a test may have narrowed them, and the sandbox keeps creators across resets.
    sandbox.add_creator(stack_env["access_token"], creator_username="brand_main", creator_nickname="Brand",
                        scopes=TIKTOK_SCOPES, max_video_post_duration_sec=600,
                        privacy_level_options=["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"])
    services.reset()
    for table in get_topology().bigquery.tables:  # BigQuery has no wipe endpoint: DML it is
        services.bigquery().query(f"DELETE FROM `{PROJECT}.{get_topology().bigquery.dataset}.{table}` WHERE TRUE").result()
    services.repository().put_account(ACCOUNT, {"platform": "tiktok", "handle": "brand_main", "secret_name": ACCOUNT_SECRET})
    return stack_env


@pytest.fixture
def logs():
    """Every JSON log line written during the test, as text and parsed."""
    from shared.runtime.logging import configure_logging

    stream = io.StringIO()
    configure_logging(stream=stream)

    class Captured:
        @property
        def text(self) -> str:
            return stream.getvalue()

        @property
        def entries(self) -> list[dict]:
            return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    yield Captured()
    configure_logging()


def upload_video(size: int = 6 * 1024 * 1024, name: str = "in/video.mp4") -> str:
    from shared.runtime.clients import storage_client

    data = (bytes(range(256)) * (size // 256 + 1))[:size]
    storage_client(PROJECT).bucket(MEDIA_BUCKET).blob(name).upload_from_string(data, content_type="video/mp4")
    return f"gs://{MEDIA_BUCKET}/{name}"


def brief(video: str, **overrides) -> dict:
    body = {
        "campaign": "Launch",
        "topic": "Our bottle keeps drinks cold all day",
        "call_to_action": "Pre-order now.",
        "hashtags": ["Launch"],
        "video": video,
        "targets": [{"account_id": ACCOUNT, "privacy_level": "PUBLIC_TO_EVERYONE"}],
        "requested_by": "marketing@example.com",
    }
    body.update(overrides)
    return body


@pytest.fixture
def draft(env):
    """A generated content item awaiting approval (through the real generate entry point)."""
    from shared import entrypoints

    return entrypoints.generate(brief(upload_video()))


def issue_link(env, content, action: str, *, expires_in: float = 3600, recipient: str = "lead@example.com") -> str:
    from datetime import timedelta

    from shared.approval.tokens import issue_token
    from shared.runtime.clock import utcnow

    token, _ = issue_token(env["signing_key"], content_id=content.id, content_hash=content.content_hash,
                           action=action, expires_at=utcnow() + timedelta(seconds=expires_in), recipient=recipient)
    return token


def approve(env, content) -> list:
    """Record an approval the way the POST would; returns the posts now due."""
    from shared import services
    from shared.approval.link_answers import apply_decision

    result = apply_decision(services.repository(), env["signing_key"], issue_link(env, content, "approve"), "approve")
    assert result.decision == "approved", result.html
    return result.due_posts


def snapshot_state() -> dict:
    """Everything a decision could change: content, posts and used-token records."""
    from shared import services

    db = services.repository().db
    return {name: sorted((d.id, json.dumps(d.to_dict(), default=str, sort_keys=True)) for d in db.collection(name).stream())
            for name in ("content", "posts", "approvals")}


def pubsub_envelope(payload, message_id: str = "1") -> dict:
    import base64
    from datetime import datetime

    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return {"subscription": f"projects/{PROJECT}/subscriptions/s",
            "message": {"data": base64.b64encode(data).decode(), "messageId": message_id,
                        "publishTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "attributes": {}}}


def function_client(source: str, target: str, signature: str = "cloudevent"):
    from functions_framework import create_app

    return create_app(target=target, source=str(Path(__file__).resolve().parents[1] / source), signature_type=signature).test_client()


def register_account(account_id: str, platform: str, tokens: dict, **fields) -> dict:
    """An account in Firestore plus its one token secret (`<platform>-account-<id>`), as an operator
    connecting it would leave them. `fields` are platform details (e.g. platform_account_id, limits)."""
    from shared import services

    secret_name = f"{platform}-account-{account_id}"
    services.secrets().add_version(secret_name, json.dumps(tokens))
    account = {"platform": platform, "handle": fields.pop("handle", account_id), "secret_name": secret_name, **fields}
    services.repository().put_account(account_id, account)
    return account


def generic_brief(targets: list[dict], *, video: str | None = None, images: list[str] | None = None, **overrides) -> dict:
    body = {
        "campaign": "Launch",
        "topic": "Our bottle keeps drinks cold all day",
        "call_to_action": "Pre-order now.",
        "hashtags": ["Launch"],
        "targets": targets,
        "requested_by": "marketing@example.com",
    }
    if video:
        body["video"] = video
    if images:
        body["images"] = images
    body.update(overrides)
    return body


def upload_object(name: str, data: bytes, content_type: str) -> str:
    from shared.runtime.clients import storage_client

    storage_client(PROJECT).bucket(MEDIA_BUCKET).blob(name).upload_from_string(data, content_type=content_type)
    return f"gs://{MEDIA_BUCKET}/{name}"


def reconcile(post, now=None):
    """The post's adapter's reconcile, with the context the status poll hands it."""
    from shared import services
    from shared.platforms.registry import adapter_for
    from shared.publishing.status_poll import status_context
    from shared.runtime.clock import utcnow
    from shared.runtime.config import get_config

    ctx = status_context(post, repo=services.repository(), config=get_config(), secrets=services.secrets(),
                         now=now or utcnow())
    return adapter_for(post.platform).reconcile(ctx)


def bearer(env, user: str = "editor@example.com", roles: tuple[str, ...] = ("editor",), **kwargs) -> dict[str, str]:
    """Authorization header of an API caller with these roles (HS256, the local key)."""
    from shared.api.auth import issue_api_token

    return {"Authorization": "Bearer " + issue_api_token(env["api_jwt_key"], user, list(roles), **kwargs)}


@pytest.fixture
def api(env):
    """The api function in-process (functions-framework test client). Each test starts with a fresh
    app, so cached state never leaks between tests."""
    import shared.api.app as api_app

    api_app._app = None
    return function_client("functions/api/main.py", "api", "http")


def drain_messages(subscription: str = "approval-notify") -> list[dict]:
    """JSON messages published so far to the topic behind this subscription (pulled and acked), oldest
    first. "approval-notify": the content-created messages that make approval-notify send links."""
    from google.api_core.exceptions import DeadlineExceeded
    from google.cloud import pubsub_v1

    sub = pubsub_v1.SubscriberClient()
    path = sub.subscription_path(PROJECT, subscription)
    messages = []
    while True:
        try:
            pulled = sub.pull(subscription=path, max_messages=50, timeout=3)
        except DeadlineExceeded:
            return messages
        if not pulled.received_messages:
            return messages
        messages += [json.loads(m.message.data) for m in pulled.received_messages]
        sub.acknowledge(subscription=path, ack_ids=[m.ack_id for m in pulled.received_messages])


@contextlib.contextmanager
def served_api_process(log_path: Path, **env: str) -> Iterator[str]:
    """The api function in its own process, started as the local stack starts it (gunicorn, the
    topology's concurrency as request threads unless `env` sets THREADS); its base URL once /health answers."""
    import requests

    from infra.local.stack import REPO, start_function
    from shared.topology import get_topology

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = start_function(get_topology().functions["api"], port, {**os.environ, "PYTHONPATH": str(REPO), **env},
                          open(log_path, "ab"))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(url + "/health", timeout=5)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"the api function did not start: {log_path.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def running_local_stack(project: str):
    """The whole local stack (emulators, sandboxes, every function) for a module's tests; the process
    environment it changes is put back afterwards. A generator for a module fixture to `yield from`."""
    from infra.local.stack import LocalStack
    from shared import services

    saved = dict(os.environ)
    stack = LocalStack(project=project)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)
        services.reset()
