"""What the catalogue tests share: the YouTube sandbox on a clock the test moves, a connected channel,
and a refresh run the way the catalogue-refresh function runs one."""

from __future__ import annotations

import contextlib
import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from infra.local.sandboxes.youtube import YouTubeSandbox
from tests.conftest import register_account

ACCOUNT = "yt-catalogue"
CHANNEL = "UCcatalogue0000000000001"
ACCESS, REFRESH = "ya29.catalogue-access", "1//catalogue-refresh"
START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class Clock:
    """The sandbox's clock (statistics grow with it), held still unless a test moves it."""

    def __init__(self) -> None:
        self.now = START.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def catalogue_sandbox(stack_env):
    from shared import services

    clock = Clock()
    box = YouTubeSandbox(clock=clock)
    box.clock = clock
    box.start()
    saved = {k: os.environ.get(k) for k in ("POSTGATE_YOUTUBE_BASE_URL", "POSTGATE_YOUTUBE_OAUTH_URL")}
    os.environ.update({"POSTGATE_YOUTUBE_BASE_URL": box.base_url, "POSTGATE_YOUTUBE_OAUTH_URL": box.token_url})
    services.reset()
    yield box
    box.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    services.reset()


@pytest.fixture
def channel(env, catalogue_sandbox):
    """A connected YouTube account whose channel has no video yet (the test adds them)."""
    catalogue_sandbox.reset()
    catalogue_sandbox.clock.now = START.timestamp()
    catalogue_sandbox.add_account(ACCESS, REFRESH, channel_id=CHANNEL, title="Brand TV")
    register_account(ACCOUNT, "youtube", {"access_token": ACCESS, "refresh_token": REFRESH, "client_id": "cid",
                                          "client_secret": "csecret"},
                     handle="Brand TV", platform_account_id=CHANNEL, quota_project="brand-project")
    return catalogue_sandbox


def refresh(*, seconds: float = 60.0, now: datetime | None = None, bigquery: bool = True):
    """One refresh of the test channel, as the catalogue-refresh function runs it (with `seconds` to go)."""
    from shared import services
    from shared.catalogue.refresh import refresh_account
    from shared.runtime.config import get_config

    repo = services.repository()
    return refresh_account(repo, get_config(), services.secrets(), ACCOUNT, repo.get_account(ACCOUNT),
                           bq_factory=services.bigquery if bigquery else None, deadline=time.monotonic() + seconds,
                           now=(lambda: now) if now else (lambda: datetime.now(UTC)))


def later(minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def videos() -> dict[str, dict]:
    from shared import services

    return {s.id: s.to_dict() for s in services.repository().db.collection("catalogue_videos").stream()}


def sandbox_calls(box: YouTubeSandbox, endpoint: str) -> list[dict]:
    return [e for e in box.requests_log if e["endpoint"] == endpoint]


@contextlib.contextmanager
def counting_reads(db):
    """Firestore reads and writes made inside the block (the bench's meter, taken off afterwards)."""
    from infra.local.bench import FirestoreMeter

    api = db._firestore_api
    saved = api.batch_get_documents, api.run_query, api.commit
    meter = FirestoreMeter(db)
    try:
        yield meter
    finally:
        api.batch_get_documents, api.run_query, api.commit = saved
