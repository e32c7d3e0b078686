"""The whole pipeline on the local stack: functions under functions-framework, emulator push
subscriptions, the scheduler stand-in, a sandbox per platform. Same path as `make demo`."""

from __future__ import annotations

import json

import pytest

from shared.model.platform import PLATFORMS

pytestmark = pytest.mark.stack  # its own local stack (not a session fixture the conftest hook sees)


@pytest.fixture(scope="module")
def local_stack():
    from tests.conftest import running_local_stack

    yield from running_local_stack("e2e-project")


@pytest.fixture(scope="module")
def demo_summary(local_stack):
    from infra.local.demo import run

    return run(local_stack, out=lambda line: None)


def test_one_brief_is_published_on_every_platform_with_publish_log_rows(demo_summary, local_stack):
    posts = demo_summary["posts"]
    assert set(posts) == set(PLATFORMS)  # Buffer too: the X channel of the demo's Buffer organization
    assert {p: v["status"] for p, v in posts.items()} == {p: "published" for p in posts}, demo_summary
    rows = {row["platform"]: row for row in demo_summary["publish_log"]}
    assert set(rows) == set(posts) and len(demo_summary["publish_log"]) == len(PLATFORMS)
    for platform, row in rows.items():
        assert row["post_id"] == posts[platform]["post_id"] and row["share_url"] == posts[platform]["share_url"]
        assert row["approved_by"] == "lead@example.com" and row["campaign"] == "spring-launch"
    assert len(demo_summary["lines"]) == len(PLATFORMS) and all(" published " in line for line in demo_summary["lines"])
    buffer = posts["buffer"]
    assert buffer["share_url"].startswith("https://x.com/postgate_demo/status/"), buffer  # the network's link


def test_each_sandbox_saw_exactly_one_post(demo_summary, local_stack):
    tiktok = demo_summary["posts"]["tiktok"]
    assert tiktok["platform_ids"]["video_id"] and tiktok["share_url"].endswith(tiktok["platform_ids"]["video_id"])
    # TikTok: fully uploaded in the documented chunk layout.
    [post] = local_stack.sandbox.posts.values()
    assert post["upload_complete"] and post["source_info"]["total_chunk_count"] == 2
    for platform in PLATFORMS:
        if platform != "tiktok":
            assert len(local_stack.platforms[platform].sandbox.posts) == 1, platform
    [buffer] = local_stack.platforms["buffer"].sandbox.posts.values()
    assert buffer["mode"] == "shareNow" and [a["type"] for a in buffer["assets"]] == ["video"]  # X's plan: the video


def test_no_token_or_secret_appears_in_any_function_log(demo_summary, local_stack):
    secrets_file = json.loads((local_stack.workdir / "secrets.json").read_text())
    approval = next((local_stack.workdir / "outbox").glob("*.json"))
    links = json.loads(approval.read_text())
    link_tokens = [links[k].split("token=")[1] for k in ("approve_url", "reject_url")]
    forbidden = [*local_stack.secret_values(), secrets_file["approval-signing-key"], *link_tokens]
    logs = {p.name: p.read_text(errors="replace") for p in local_stack.workdir.glob("fn-*.log")}
    assert sum(len(t) for t in logs.values()) > 1000  # the functions did log
    structured = [json.loads(line) for text in logs.values() for line in text.splitlines() if line.startswith("{")]
    assert any(e.get("correlation_id") == demo_summary["content_id"] for e in structured)
    assert all("severity" in e for e in structured)
    for name, text in logs.items():
        for value in forbidden:
            assert value not in text, f"a secret value leaked into {name}"


def test_upload_session_handles_stay_out_of_logs(demo_summary, local_stack):
    session = demo_summary["posts"]["youtube"]["platform_ids"]["upload_session"]
    assert session.startswith("http")
    for path in local_stack.workdir.glob("fn-*.log"):
        assert session not in path.read_text(errors="replace"), path.name
    assert not any(session in line for line in demo_summary["lines"])


def test_demo_ends_with_one_analytics_pull_and_the_campaign_totals(demo_summary):
    assert demo_summary["post_metrics_rows"] == len(PLATFORMS)
    stats = demo_summary["campaign_stats"]
    for platform in PLATFORMS:
        assert platform in stats, stats


def test_the_local_stack_serves_the_console_and_offers_its_users_on_the_sign_in_page(local_stack):
    import requests

    from infra.local.stack import LOCAL_USERS

    answer = requests.get(local_stack.console_url, allow_redirects=False, timeout=10)
    assert answer.status_code == 303 and answer.headers["Location"].startswith("sign-in?next=")
    page = requests.get(local_stack.console_url + "sign-in", timeout=10)
    assert page.status_code == 200 and "default-src 'none'" in page.headers["Content-Security-Policy"]
    for user in LOCAL_USERS:
        assert f'value="{user}"' in page.text
