"""`make up` (infra/local/up.py, infra/local/seed.py): the seeded local stack holds every state a
person trying the console needs, made through the API and the pipeline, and Ctrl-C or SIGTERM stop
everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from infra.local.seed import APPROVER, CAMPAIGN, EDITOR, LINKEDIN_REFUSAL, RECONNECT_ACCOUNT, seed
from infra.local.stack import LOCAL_USERS
from shared import services
from shared.api.auth import issue_api_token
from shared.model.post import Post
from tests.conftest import running_local_stack

pytestmark = pytest.mark.stack  # its own local stack (not a session fixture the conftest hook sees)
REPO = Path(__file__).resolve().parents[1]
STOP_BOUND_S = 30  # from the signal to the exit, every process stopped
READY_BOUND_S = 150  # from the start to the banner (the stack and the seeding)


# ---- the process: Ctrl-C and SIGTERM -----------------------------------------------------------------

def _process_table() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, start time) of every live process (zombies left out)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        if fields[0] != "Z":
            table[int(entry)] = (int(fields[1]), int(fields[2]), fields[19])
    return table


def _descendants(root: int) -> dict[int, tuple[int, str]]:
    """pid -> (process group, start time) of every process below `root`."""
    table = _process_table()
    found: dict[int, tuple[int, str]] = {}
    parents = {root}
    while parents:
        children = {pid for pid, (ppid, _, _) in table.items() if ppid in parents and pid not in found}
        found.update({pid: (table[pid][1], table[pid][2]) for pid in children})
        parents = children
    return found


def _survivors(started: dict[int, tuple[int, str]]) -> list[str]:
    """Processes the stack started that are still alive, or anything in their process groups."""
    groups = {group for group, _ in started.values()} - {os.getpgrp()}  # the test's own group is not the stack's
    left = []
    for pid, (_, group, start) in _process_table().items():
        if started.get(pid, (None, None))[1] == start or group in groups:
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            left.append(f"{pid}: {command[:120]}")
    return left


class UpProcess:
    """`python -m infra.local.up` as `make up` runs it, its output collected line by line."""

    def __init__(self, *args: str):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("POSTGATE_", "PUBSUB_", "FIRESTORE_", "STORAGE_", "GOOGLE_"))}
        self.proc = subprocess.Popen([sys.executable, "-m", "infra.local.up", *args], cwd=REPO,
                                     env={**env, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.proc.poll() is None, "\n".join(self.lines)
            assert time.monotonic() < deadline, f"no line with {text!r} after {timeout} s:\n" + "\n".join(self.lines)
            time.sleep(0.2)

    def stop_with(self, signum: int) -> tuple[int, float, list[str]]:
        """Send `signum` once everything is started; (exit code, seconds to exit, processes left)."""
        started = _descendants(self.proc.pid)
        assert len(started) > 10, started  # emulators and functions at least
        t0 = time.monotonic()
        self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout=STOP_BOUND_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"still running {STOP_BOUND_S} s after {signal.Signals(signum).name}:\n" + "\n".join(self.lines))
        self._reader.join(timeout=5)
        return code, time.monotonic() - t0, _survivors(started)

    def close(self) -> None:
        """After a failed test: stop it as Ctrl-C would (a SIGKILL would leave its emulators running)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_BOUND_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def test_ctrl_c_after_the_banner_stops_everything_and_exits_0():
    # Without the demo data, which the tests below check in-process: one seeding per run keeps the file quick.
    up = UpProcess("--no-seed")
    try:
        up.wait_for_line("Ctrl-C stops everything", READY_BOUND_S)
        text = "\n".join(up.lines)
        api = next(line.split()[1] for line in up.lines if line.strip().startswith("API "))
        assert f"{api}/console/sign-in" in text and EDITOR in text and APPROVER in text and "cli.env" in text
        assert EDITOR in requests.get(f"{api}/console/sign-in", timeout=10).text
        assert requests.get(api + "/health", timeout=10).status_code == 200
        code, seconds, left = up.stop_with(signal.SIGINT)
    finally:
        up.close()
    assert (code, left) == (0, []), "\n".join(up.lines)
    assert seconds < STOP_BOUND_S and up.lines[-1].startswith("stopped in ")


def test_sigterm_while_seeding_stops_everything_and_exits_0():
    up = UpProcess()
    try:
        up.wait_for_line("seeding demo data", READY_BOUND_S)
        time.sleep(2)  # in the middle of the API calls
        code, seconds, left = up.stop_with(signal.SIGTERM)
    finally:
        up.close()
    assert (code, left) == (0, []), "\n".join(up.lines)
    assert seconds < STOP_BOUND_S and up.lines[-1].startswith("stopped in ")


# ---- the seeded data (after the process tests: one stack at a time) ----------------------------------

@pytest.fixture(scope="module")
def local_stack():
    yield from running_local_stack("up-project")


@pytest.fixture(scope="module")
def seeded(local_stack):
    lines: list[str] = []
    return seed(local_stack, out=lines.append), lines


def _posts_by_status() -> dict[str, list]:
    found: dict[str, list] = {}
    for snap in services.repository().db.collection("posts").stream():
        post = Post.model_validate(snap.to_dict())
        found.setdefault(post.status, []).append(post)
    return found


def _api(local_stack, user: str):
    token = issue_api_token(services.secrets().access("api-jwt-key"), user, LOCAL_USERS[user])
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return lambda path: session.get(local_stack.function_urls["api"] + path, timeout=30)


def test_seeding_prints_progress_and_takes_well_under_a_minute(seeded):
    result, lines = seeded
    assert result.seconds < 60, lines
    assert len(lines) >= 10 and all(line.lstrip().startswith("[") for line in lines)
    assert any("published" in line for line in lines) and any("analytics" in line for line in lines)


def test_posts_exist_in_every_state_with_their_reasons(seeded, local_stack):
    result, _ = seeded
    by_status = _posts_by_status()
    assert {"pending_approval", "scheduled", "published", "failed", "cancelled", "rejected"} <= set(by_status)
    assert all(p.campaign == CAMPAIGN for posts in by_status.values() for p in posts)

    published = by_status["published"]
    assert {p.platform for p in published} == set(local_stack.platforms)
    assert all(p.share_url and p.publish_log_written and p.approved_by == APPROVER for p in published)
    [failed] = by_status["failed"]  # LinkedIn's refusal, in LinkedIn's words
    assert failed.platform == "linkedin" and failed.fail_class
    assert LINKEDIN_REFUSAL["code"] in failed.fail_reason and LINKEDIN_REFUSAL["message"] in failed.fail_reason
    now = datetime.now(UTC)
    assert all(p.approved_by == APPROVER and p.scheduled_at > now for p in by_status["scheduled"])
    [cancelled] = by_status["cancelled"]
    assert cancelled.approved_by == APPROVER and cancelled.history[-1].reason == f"cancelled by {EDITOR}"
    assert all(p.approved_by is None for p in by_status["pending_approval"])
    assert len({p.content_id for p in by_status["pending_approval"]}) == 2
    assert {s: sorted(p.id for p in posts) for s, posts in by_status.items()} == {
        s: sorted(ids) for s, ids in result.posts.items()}

    as_editor = _api(local_stack, EDITOR)
    [rejected_content] = {p.content_id for p in by_status["rejected"]}
    approvals = as_editor(f"/contents/{rejected_content}/approvals").json()
    assert approvals["current"]["decision"] == "rejected" and approvals["current"]["decided_by"] == APPROVER
    assert "10-year guarantee" in approvals["current"]["reason"]
    queue = as_editor("/posts?status=pending_approval").json()
    assert queue["total"] == len(by_status["pending_approval"])


def test_the_demo_accounts_are_connected_and_one_needs_reconnecting_as_the_token_refresh_recorded(seeded, local_stack):
    result, _ = seeded
    accounts = {a["id"]: a for a in _api(local_stack, EDITOR)("/accounts?limit=100").json()["items"]}
    assert {local.account_id for local in local_stack.platforms.values()} | {RECONNECT_ACCOUNT} == set(accounts)
    assert all(accounts[local.account_id]["status"] == "connected" for local in local_stack.platforms.values())
    flagged = accounts[RECONNECT_ACCOUNT]
    assert flagged["platform"] == "youtube" and flagged["status"] == "needs_reconnect"
    # What AccountTokens records when the platform refuses the refresh token (Google's invalid_grant).
    assert flagged["status_reason"].startswith("the platform refused the refresh token: youtube token refresh refused "
                                               "(invalid_grant")
    assert "reconnect the account" in flagged["status_reason"] and flagged["status_reason"] == result.reconnect_reason


def test_every_published_post_has_metrics_rows_in_bigquery(seeded, local_stack):
    from google.cloud import bigquery

    published = {p.id for p in _posts_by_status()["published"]}
    rows = services.bigquery().query(
        f"SELECT post_id, COUNT(*) AS n, MAX(views) AS views, MAX(impressions) AS impressions FROM `{local_stack.project}.postgate.post_metrics` "
        "WHERE campaign = @campaign GROUP BY post_id",
        job_config=bigquery.QueryJobConfig(query_parameters=[
            bigquery.ScalarQueryParameter("campaign", "STRING", CAMPAIGN)])).result()
    found = {row["post_id"]: row for row in rows}
    assert set(found) == published and seeded[0].metrics_rows == len(published)
    # Views, or impressions where the platform counts those (LinkedIn); tiny numbers, the posts are seconds old.
    assert all(row["n"] >= 1 and (row["views"] is not None or row["impressions"] is not None) for row in found.values())


def test_the_console_users_can_sign_in_locally(seeded, local_stack):
    users = {snap.id: snap.to_dict() for snap in services.repository().db.collection("api_users").stream()}
    assert users == {EDITOR: {"roles": ["editor"]}, APPROVER: {"roles": ["approver"]}}
    page = requests.get(local_stack.console_url + "sign-in", timeout=30)
    assert page.status_code == 200 and EDITOR in page.text and APPROVER in page.text
