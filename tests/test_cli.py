"""The `postgate` operator CLI: argument parsing and rendering, its HTTP behaviour against small real
servers (retries, dropped event streams, an API that is not there), and whole commands against the
real api function served over HTTP on the emulators."""

from __future__ import annotations

import io
import json
import logging
import os
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import jwt
import pytest

from shared.cli import output
from shared.cli.arguments import target_arg
from shared.cli.client import Client, parse_sse
from shared.cli.main import main
from tests.browser import Served, serve_function
from tests.conftest import ACCOUNT, bearer

# June 1st next year: a post may be planned at most 731 days ahead, and Berlin is on summer time then.
DAY1 = date(date.today().year + 1, 6, 1)
DAY2, DAY3 = DAY1 + timedelta(days=1), DAY1 + timedelta(days=2)


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- parsing and rendering ------------------------------------------------------------------

def test_target_takes_account_then_settings_with_booleans_and_tags():
    assert target_arg("tiktok-main") == {"account_id": "tiktok-main"}
    assert target_arg("tiktok-main:privacy_level=SELF_ONLY,disable_duet=true") == {
        "account_id": "tiktok-main", "privacy_level": "SELF_ONLY", "disable_duet": True}
    assert target_arg("yt:title=Launch day,tags=a|b,made_for_kids=false") == {
        "account_id": "yt", "title": "Launch day", "tags": ["a", "b"], "made_for_kids": False}


@pytest.mark.parametrize("argv, message", [
    (["posts", "create", "--campaign", "c", "--caption", "x", "--target", ":privacy_level=x"], "account id comes first"),
    (["posts", "create", "--campaign", "c", "--caption", "x", "--target", "a:privacy_level"], "is not key=value"),
    (["calendar", "--from", "2025-13-01", "--to", "2025-12-01"], "is not a date"),
    (["posts", "reschedule", "p1", "--at", "tomorrow"], "is not an ISO date-time"),
    (["accounts", "add", "a", "--platform", "x", "--handle", "h", "--limits-json", "[1]"], "must be a JSON object"),
    (["token", "--user", "u@example.com", "--role", "admin"], "invalid choice: 'admin'"),
    (["posts"], "required: ACTION"),
])
def test_bad_arguments_exit_2_naming_the_argument(capsys, argv, message):
    code, out, err = cli(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err


def test_missing_api_url_or_token_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.delenv("POSTGATE_API_URL", raising=False)
    monkeypatch.delenv("POSTGATE_API_TOKEN", raising=False)
    code, _, err = cli(capsys, "accounts", "list")
    assert code == 2 and "--api URL or set POSTGATE_API_URL" in err
    code, _, err = cli(capsys, "--api", "http://127.0.0.1:9", "accounts", "list")
    assert code == 2 and "--token or set POSTGATE_API_TOKEN" in err
    code, _, err = cli(capsys, "--api", "http://127.0.0.1:9", "--token", "t", "--tz", "Mars/Olympus", "accounts", "list")
    assert code == 2 and "unknown time zone 'Mars/Olympus'" in err


def test_own_copy_and_brief_do_not_mix(capsys, tmp_path):
    brief = tmp_path / "brief.json"
    brief.write_text("{}")
    code, _, err = cli(capsys, "--api", "http://127.0.0.1:9", "--token", "t", "posts", "create", "--brief", str(brief),
                       "--caption", "mine")
    assert code == 2 and "drop --caption" in err
    code, _, err = cli(capsys, "--api", "http://127.0.0.1:9", "--token", "t", "posts", "create", "--caption", "mine")
    assert code == 2 and "--campaign, --target required" in err


def test_times_are_shown_in_the_operators_zone_with_the_zone():
    berlin = output.zone("Europe/Berlin")
    assert output.format_time("2025-06-01T22:30:00Z", berlin) == "2025-06-02 00:30 CEST"
    assert output.format_time("2025-01-15T08:00:00+00:00", berlin) == "2025-01-15 09:00 CET"
    assert output.format_time("2025-01-15T08:00:00+00:00", output.zone("UTC")) == "2025-01-15 08:00 UTC"
    assert output.format_time(None, berlin) == "-"


def test_list_footer_shows_the_range_and_the_total():
    items = [{"id": str(i)} for i in range(50)]
    assert output.page_range({"items": items, "total": 123, "skip": 0, "limit": 50}, "posts") == "showing 1-50 of 123 posts"
    assert output.page_range({"items": items[:23], "total": 123, "skip": 100, "limit": 50}, "posts") == \
        "showing 101-123 of 123 posts"
    assert output.page_range({"items": [], "total": 0, "skip": 0, "limit": 50}, "accounts") == "no accounts"
    assert "past the end" in output.page_range({"items": [], "total": 3, "skip": 10, "limit": 50}, "posts")


def test_calendar_prints_a_heading_per_day_and_local_times(capsys):
    post = {"id": "p1", "platform": "tiktok", "account_id": ACCOUNT, "status": "scheduled", "campaign": "launch",
            "caption": "Cold all day " * 10, "scheduled_at": "2025-06-01T22:30:00Z"}
    due_on_approval = {**post, "id": "p2", "status": "pending_approval", "scheduled_at": None}
    calendar = {"tz": "Europe/Berlin", "from": "2025-06-01", "to": "2025-06-03",
                "days": [{"date": "2025-06-01", "posts": []}, {"date": "2025-06-02", "posts": [post, due_on_approval]}]}
    output.print_calendar(calendar, output.zone("Europe/Berlin"))
    out = capsys.readouterr().out
    assert "== 2025-06-01" not in out  # empty days are skipped
    day = out.split("== 2025-06-02 Mon ==\n", 1)[1]
    rows = [line for line in day.splitlines() if " p1 " in line or " p2 " in line]
    assert rows[0].startswith("00:30 CEST") and "…" in rows[0]
    assert rows[1].startswith("on approval")
    assert "2 posts on 1 day" in out


def test_sse_lines_make_events_with_ids_and_joined_data():
    lines = [": keep-alive", "id: 3", "event: post", "data: {\"a\":", "data: 1}", "", "event: end", "data: {}", ""]
    events = list(parse_sse(lines))
    assert [(e.event, e.id, e.data) for e in events] == [("post", "3", "{\"a\":\n1}"), ("end", None, "{}")]
    assert events[1].json() == {}


# -- the token command ----------------------------------------------------------------------

def test_token_is_minted_from_the_local_secret_store(capsys, monkeypatch, tmp_path):
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"api-jwt-key": ["old-key" * 6, "k" * 64]}))
    monkeypatch.setenv("POSTGATE_SECRETS_FILE", str(secrets_file))
    monkeypatch.setenv("POSTGATE_SECRET_BACKEND", "file")
    monkeypatch.delenv("POSTGATE_API_JWT_SECRET", raising=False)
    monkeypatch.delenv("POSTGATE_API_AUDIENCE", raising=False)
    code, out, err = cli(capsys, "token", "--user", "ops@example.com", "--role", "approver", "--ttl", "2h")
    assert code == 0 and err == ""
    token = out.strip()
    assert "\n" not in token  # only the token: `export POSTGATE_API_TOKEN=$(postgate token ...)`
    claims = jwt.decode(token, "k" * 64, algorithms=["HS256"], audience="postgate-api")  # the latest version signs
    assert claims["sub"] == "ops@example.com" and claims["roles"] == ["approver"]
    assert 2 * 3600 - 5 <= claims["exp"] - claims["iat"] <= 2 * 3600


def test_token_without_a_secret_store_says_what_to_set(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("POSTGATE_SECRET_BACKEND", "file")
    monkeypatch.setenv("POSTGATE_SECRETS_FILE", str(tmp_path / "nope.json"))
    code, out, err = cli(capsys, "token", "--user", "ops@example.com", "--role", "editor")
    assert code == 2 and out == ""
    assert "nope.json does not exist" in err


# -- HTTP behaviour against small real servers ------------------------------------------------

class Script:
    """A WSGI app answering each request with the next scripted (status, headers, body); records requests."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests: list[dict] = []

    def __call__(self, environ, start_response):
        self.requests.append({"method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"],
                              "authorization": environ.get("HTTP_AUTHORIZATION"),
                              "last_event_id": environ.get("HTTP_LAST_EVENT_ID")})
        status, headers, body = self.answers.pop(0)
        start_response(status, list(headers.items()))
        return [body.encode() if isinstance(body, str) else body] if not callable(body) else body()


JSON = {"Content-Type": "application/json"}
PAGE = json.dumps({"items": [], "total": 0, "skip": 0, "limit": 50})


def test_429_is_retried_after_retry_after_then_succeeds(capsys):
    app = Script([("429 Too Many Requests", {**JSON, "Retry-After": "0"}, '{"detail": "slow down", "field": null}'),
                  ("200 OK", JSON, PAGE)])
    with Served(app) as served:
        code, out, err = cli(capsys, "--api", served.url, "--token", "t0k", "accounts", "list")
    assert code == 0, err
    assert "no accounts" in out
    assert [r["authorization"] for r in app.requests] == ["Bearer t0k", "Bearer t0k"]


def test_503_is_retried_twice_then_the_refusal_is_reported(capsys):
    busy = ("503 Service Unavailable", {**JSON, "Retry-After": "0"},
            '{"detail": "too many changes to this item at once; nothing was changed, try again", "field": null}')
    app = Script([busy, busy, busy])
    with Served(app) as served:
        code, out, err = cli(capsys, "--api", served.url, "--token", "t", "posts", "cancel", "p1")
    assert code == 1 and out == ""
    assert len(app.requests) == 3 and {r["path"] for r in app.requests} == {"/posts/p1/cancel"}
    assert "503 Service Unavailable: too many changes to this item at once" in err


def test_client_waits_as_long_as_retry_after_says():
    waits: list[float] = []
    app = Script([("429 Too Many Requests", {**JSON, "Retry-After": "7"}, '{"detail": "x"}'), ("200 OK", JSON, "{}")])
    with Served(app) as served:
        assert Client(served.url, "t", sleep=waits.append).get("/accounts") == {}
    assert waits == [7.0]


def test_an_error_that_is_not_json_is_reported_as_text(capsys):
    app = Script([("502 Bad Gateway", {"Content-Type": "text/html"}, "<h1>upstream went away</h1>")])
    with Served(app) as served:
        code, _, err = cli(capsys, "--api", served.url, "--token", "t", "posts", "show", "p1")
    assert code == 1 and "502 Bad Gateway: <h1>upstream went away</h1>" in err


def test_unreachable_api_exits_3_with_a_clear_message(capsys):
    from infra.local.emulators import _free_ports

    url = f"http://127.0.0.1:{_free_ports(1)[0]}"
    code, out, err = cli(capsys, "--api", url, "--token", "t", "calendar", "--from", "2025-06-01", "--to", "2025-06-07")
    assert code == 3 and out == ""
    assert f"cannot reach the Postgate API at {url}: connection refused" in err


def test_watch_resumes_a_dropped_stream_with_last_event_id(capsys):
    def first():  # two changes, then the connection closes without `end`
        yield b'id: 1\nevent: post\ndata: {"post_id": "p1", "platform": "tiktok", "status": "queued", "at": "2025-06-01T08:00:00Z"}\n\n'
        yield b'id: 2\nevent: post\ndata: {"post_id": "p1", "platform": "tiktok", "status": "publishing", "at": "2025-06-01T08:00:05Z"}\n\n'

    def second():
        yield b': keep-alive\n\n'
        yield b'id: 2\nevent: post\ndata: {"post_id": "p1", "platform": "tiktok", "status": "publishing", "at": "2025-06-01T08:00:05Z"}\n\n'
        yield b'id: 3\nevent: post\ndata: {"post_id": "p1", "platform": "tiktok", "status": "published", "share_url": "https://tiktok.example/v/1", "at": "2025-06-01T08:01:00Z"}\n\n'
        yield b'event: end\ndata: {"reason": "every post settled"}\n\n'

    stream = {"Content-Type": "text/event-stream"}
    app = Script([("200 OK", stream, first), ("200 OK", stream, second)])
    with Served(app) as served:
        code, out, err = cli(capsys, "--api", served.url, "--token", "t", "--tz", "Europe/Berlin",
                             "posts", "watch", "c1")
    assert code == 0, err
    assert [r["last_event_id"] for r in app.requests] == [None, "2"]
    assert out.splitlines() == [
        "10:00:00 CEST  p1  tiktok  queued",
        "10:00:05 CEST  p1  tiktok  queued -> publishing",
        "10:01:00 CEST  p1  tiktok  publishing -> published  https://tiktok.example/v/1",
        "stream ended: every post settled",
    ]


# -- whole commands against the real api function over HTTP -----------------------------------

@pytest.fixture
def api_url(env):
    """The api function served over HTTP in this process. Its logs (and the server's request lines)
    go to a buffer of their own, so stdout holds only what the CLI printed."""
    import shared.api.app as api_app
    import shared.runtime.handlers as handlers
    from shared.runtime.logging import configure_logging

    root = logging.getLogger()
    handlers_before, configured_before = list(root.handlers), handlers._configured
    configure_logging(stream=io.StringIO())
    handlers._configured = True
    api_app._app = None  # a fresh app per test, as the `api` fixture does
    try:
        with serve_function("functions/api/main.py", "api", "http") as served:
            yield served.url
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers_before:
            root.addHandler(handler)
        handlers._configured = configured_before


def as_user(env, url: str, user: str = "editor@example.com", roles: tuple[str, ...] = ("editor",)) -> list[str]:
    token = bearer(env, user=user, roles=roles)["Authorization"].removeprefix("Bearer ")
    return ["--api", url, "--token", token]


def create_own_copy(capsys, env, url: str, at: str = f"{DAY1}T23:30:00Z", caption: str = "Cold for 24 hours.") -> dict:
    from tests.conftest import upload_video

    code, out, err = cli(capsys, *as_user(env, url), "--json", "posts", "create", "--campaign", "launch",
                         "--caption", caption, "--hashtag", "StayCold", "--video", upload_video(),
                         "--target", f"{ACCOUNT}:privacy_level=PUBLIC_TO_EVERYONE", "--at", at)
    assert code == 0, err
    return json.loads(out)


def test_accounts_list_shows_the_registered_tiktok_account(capsys, env, api_url):
    code, out, err = cli(capsys, *as_user(env, api_url), "accounts", "list")
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.startswith(ACCOUNT))
    assert "tiktok" in row and "brand_main" in row
    assert out.rstrip().endswith("showing 1-1 of 1 accounts")


def test_json_output_is_the_apis_json(capsys, env, api_url):
    code, out, _ = cli(capsys, *as_user(env, api_url), "accounts", "list", "--json")
    assert code == 0
    page = json.loads(out)
    assert [a["id"] for a in page["items"]] == [ACCOUNT] and page["total"] == 1
    code, out, _ = cli(capsys, *as_user(env, api_url), "--json", "calendar", "--from", str(DAY1), "--to", str(DAY2))
    assert code == 0
    assert json.loads(out)["tz"] == "UTC"


def test_own_copy_appears_in_the_calendar_under_its_local_day(capsys, env, api_url):
    content = create_own_copy(capsys, env, api_url, at=f"{DAY1}T23:30:00Z")
    assert content["status"] == "pending_approval" and content["text"].startswith("Cold for 24 hours.")
    post_id = content["posts"][0]["id"]

    code, out, err = cli(capsys, *as_user(env, api_url), "calendar", "--from", str(DAY1), "--to", str(DAY2),
                         "--tz", "Europe/Berlin")
    assert code == 0, err
    assert f"== {DAY1}" not in out  # 23:30 UTC is already the 2nd in Berlin
    day = out.split(f"== {DAY2} {DAY2:%a} ==", 1)[1]
    row = next(line for line in day.splitlines() if post_id in line)
    assert row.startswith("01:30 CEST") and ACCOUNT in row and "pending_approval" in row

    code, out, _ = cli(capsys, *as_user(env, api_url), "calendar", "--from", str(DAY1), "--to", str(DAY2))
    assert code == 0
    assert post_id in out.split(f"== {DAY1} {DAY1:%a} ==", 1)[1] and "23:30 UTC" in out


def test_created_content_is_shown_with_its_posts_and_how_to_approve(capsys, env, api_url):
    from tests.conftest import upload_video

    code, out, err = cli(capsys, *as_user(env, api_url), "posts", "create", "--campaign", "launch",
                         "--caption", "Cold for 24 hours.", "--video", upload_video(),
                         "--target", f"{ACCOUNT}:privacy_level=SELF_ONLY", "--at", f"{DAY2}T09:00", "--tz", "Europe/Berlin")
    assert code == 0, err
    assert f"{DAY2} 09:00 CEST" in out  # a time without an offset is read in --tz
    assert "pending_approval" in out and "postgate approvals decide" in out


def test_approve_then_reschedule_and_cancel_print_the_new_state(capsys, env, api_url):
    content = create_own_copy(capsys, env, api_url, at=(datetime.now(UTC) + timedelta(days=30)).isoformat())
    post_id = content["posts"][0]["id"]
    approver = as_user(env, api_url, user="lead@example.com", roles=("approver",))
    code, out, err = cli(capsys, *approver, "approvals", "decide", content["id"], "approve", "--hash", content["content_hash"])
    assert code == 0, err
    assert f"{content['id']} approved by lead@example.com" in out

    new_day = date.today() + timedelta(days=40)
    local = datetime.combine(new_day, time(9, 15), tzinfo=ZoneInfo("Europe/Berlin"))
    code, out, err = cli(capsys, *as_user(env, api_url), "--tz", "Europe/Berlin", "posts", "reschedule", post_id,
                         "--at", f"{new_day.isoformat()}T09:15")
    assert code == 0, err
    assert out.strip() == (f"post {post_id} rescheduled: now scheduled, scheduled {new_day.isoformat()} 09:15 "
                           f"{local.tzname()} (tiktok {ACCOUNT})")
    assert Client(api_url, as_user(env, api_url)[3]).get(f"/posts/{post_id}")["scheduled_at"].startswith(
        local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"))

    code, out, err = cli(capsys, *as_user(env, api_url), "posts", "cancel", post_id)
    assert code == 0, err
    assert out.startswith(f"post {post_id} cancelled: now cancelled")

    code, out, err = cli(capsys, *as_user(env, api_url), "posts", "show", post_id)
    assert code == 0, err
    assert "cancelled" in out and "scheduled" in out  # the history table shows where it came from


def test_api_refusals_print_the_detail_and_exit_1(capsys, env, api_url):
    code, out, err = cli(capsys, *as_user(env, api_url), "campaigns", "show", "no-such-campaign")
    assert code == 1 and out == ""
    assert "GET /campaigns/no-such-campaign refused: 404 Not Found: no campaign 'no-such-campaign'" in err

    content = create_own_copy(capsys, env, api_url)
    code, _, err = cli(capsys, *as_user(env, api_url), "approvals", "decide", content["id"], "approve",
                       "--hash", content["content_hash"])
    assert code == 1
    assert "403 Forbidden: editor@example.com does not have the approver role" in err

    code, _, err = cli(capsys, *as_user(env, api_url), "approvals", "decide", content["id"], "approve", "--hash", "abc")
    assert code == 1 and "400 Bad Request" in err and "content_hash" in err


def test_watch_prints_each_state_until_the_stream_ends(capsys, env, api_url):
    content = create_own_copy(capsys, env, api_url)
    post_id = content["posts"][0]["id"]
    assert cli(capsys, *as_user(env, api_url), "posts", "cancel", post_id)[0] == 0
    code, out, err = cli(capsys, *as_user(env, api_url), "posts", "watch", content["id"])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split("  ")[1:] == [post_id, "tiktok", "cancelled"]
    assert lines[-1].startswith("stream ended")


def test_list_commands_show_the_range_and_total(capsys, env, api_url):
    for n in range(3):
        create_own_copy(capsys, env, api_url, caption=f"Cold for {24 + n} hours.")
    code, out, err = cli(capsys, *as_user(env, api_url), "posts", "list", "--campaign", "launch", "--limit", "2",
                         "--skip", "1")
    assert code == 0, err
    assert out.rstrip().endswith("showing 2-3 of 3 posts")
    code, out, _ = cli(capsys, *as_user(env, api_url), "posts", "list", "--q", "25 hours")
    assert out.rstrip().endswith("showing 1-1 of 1 posts") and "Cold for 25 hours." in out
    # All three go out at DAY1 23:30 UTC: the 2nd from midnight in Berlin, not from midnight UTC.
    code, out, err = cli(capsys, *as_user(env, api_url), "--tz", "Europe/Berlin", "posts", "list",
                         "--from", str(DAY2), "--to", str(DAY3))
    assert code == 0, err
    assert out.rstrip().endswith("showing 1-3 of 3 posts")
    code, out, _ = cli(capsys, *as_user(env, api_url), "posts", "list", "--from", str(DAY2), "--to", str(DAY3))
    assert out.strip() == "no posts"

    code, out, err = cli(capsys, *as_user(env, api_url), "campaigns", "create", "launch", "--name", "Launch",
                         "--starts-on", str(DAY1))
    assert code == 0, err
    code, out, _ = cli(capsys, *as_user(env, api_url), "campaigns", "list")
    assert "Launch" in out and out.rstrip().endswith("showing 1-1 of 1 campaigns")
    code, out, _ = cli(capsys, *as_user(env, api_url), "campaigns", "posts", "launch")
    assert out.rstrip().endswith("showing 1-3 of 3 posts")


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`postgate calendar | head`: the CLI stops quietly when its reader has closed the pipe (here
    closed before the CLI starts, so its first write meets it every time)."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        env = {**os.environ, "PYTHONPATH": str(repo), "POSTGATE_SECRET_BACKEND": "env",
               "POSTGATE_SECRET_API_JWT_KEY": "k" * 40}  # `postgate token` needs no API: it prints at once
        done = subprocess.run([sys.executable, "-m", "shared.cli", "token", "--user", "a@example.com", "--role", "editor"],
                              cwd=repo, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60, env=env)
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 141, done.returncode  # 128 + SIGPIPE, as a shell reports a tool stopped by the pipe
