"""The whole pipeline on the local stack: functions under functions-framework, emulator push
subscriptions, the scheduler stand-in, the TikTok sandbox. Same path as `make demo`."""

from __future__ import annotations

import json
import os

import pytest


@pytest.fixture(scope="module")
def local_stack():
    from infra.local.stack import LocalStack
    from shared import services

    saved = dict(os.environ)
    stack = LocalStack(project="e2e-project")
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)
        services.reset()


@pytest.fixture(scope="module")
def demo_summary(local_stack):
    from infra.local.demo import run

    return run(local_stack, out=lambda line: None)


def test_brief_to_published_post_with_publish_log_row(demo_summary, local_stack):
    assert demo_summary["status"] == "published", demo_summary
    tiktok = demo_summary["tiktok"]
    assert tiktok["publish_id"] and tiktok["video_id"] and tiktok["share_url"].endswith(tiktok["video_id"])
    [row] = demo_summary["publish_log"]
    assert row["post_id"] == demo_summary["post_id"]
    assert row["approved_by"] == "lead@example.com" and row["platform"] == "tiktok" and row["campaign"] == "Spring Launch"
    # The sandbox saw exactly one post, fully uploaded in the documented chunk layout.
    [post] = local_stack.sandbox.posts.values()
    assert post["upload_complete"] and post["source_info"]["total_chunk_count"] == 2


def test_no_token_or_secret_appears_in_any_function_log(demo_summary, local_stack):
    secrets_file = json.loads((local_stack.workdir / "secrets.json").read_text())
    approval = next((local_stack.workdir / "outbox").glob("*.json"))
    links = json.loads(approval.read_text())
    link_tokens = [links[k].split("token=")[1] for k in ("approve_url", "reject_url")]
    forbidden = [local_stack.access_token, secrets_file["approval-signing-key"], *link_tokens]
    logs = {p.name: p.read_text(errors="replace") for p in local_stack.workdir.glob("fn-*.log")}
    assert sum(len(t) for t in logs.values()) > 1000  # the functions did log
    structured = [json.loads(line) for text in logs.values() for line in text.splitlines() if line.startswith("{")]
    assert any(e.get("correlation_id") == demo_summary["content_id"] for e in structured)
    assert all("severity" in e for e in structured)
    for name, text in logs.items():
        for value in forbidden:
            assert value not in text, f"a secret value leaked into {name}"
