"""`make demo`: one brief through the whole local pipeline to confirmed posts on every platform (Buffer too:
one X channel of a Buffer organization, published through the Buffer sandbox).

Starts the stack, submits a brief over HTTP, shows the week's calendar with the operator CLI (`postgate
calendar`, against the stack's api function), approves the brief through the real signed link (the page's
POST of the #fragment token, then its Approve form), waits until every platform has confirmed and every publish is in
BigQuery, shows the calendar again, prints one line per post and a summary, tears down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import requests

from infra.forms import page_forms
from infra.local.stack import LocalStack

REPO = Path(__file__).resolve().parents[2]
VIDEO_BYTES = 12 * 1024 * 1024  # over the 5 MB single-chunk limit, so the upload is chunked


def approve_via_link(approve_url: str) -> requests.Response:
    """What a person's browser does: open the link (the shell page's script reads the token from the
    #fragment and POSTs it for the review), then press Approve (POST its form)."""
    base, _, fragment = approve_url.partition("#")
    token = parse_qs(fragment)["token"][0]
    requests.get(base, timeout=30).raise_for_status()  # the shell page; the token never reaches the server here
    page = requests.post(base, data={"step": "review", "token": token, "tz": "UTC"}, timeout=30)
    page.raise_for_status()
    form = next(f for f in page_forms(page.text) if f.get("action") == "approve")
    return requests.post(base, data=form, timeout=60)


def wait_for(predicate, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


def run(stack: LocalStack, out=print, timeout: float = 120.0) -> dict:
    from shared import services

    video = stack.upload_video("briefs/spring-launch.mp4", VIDEO_BYTES)
    image = stack.upload_image("briefs/spring-launch.jpg", 1080, 1350)
    brief = {
        "campaign": "spring-launch",
        "topic": "Our new reusable bottle keeps drinks cold for 24 hours",
        "audience": "commuters and hikers",
        "tone": "friendly",
        "call_to_action": "Pre-order today.",
        "hashtags": ["SpringLaunch", "StayCold"],
        "video": video,
        "images": [image],
        "targets": [local.target for local in stack.platforms.values()],
        "requested_by": "marketing@example.com",
    }
    response = requests.post(stack.function_urls["generate-http"], json=brief, timeout=60)
    if response.status_code != 201:
        raise RuntimeError(f"generate refused the brief: {response.status_code} {response.text}")
    content_id = response.json()["content_id"]
    out(f"generated   {content_id}: {response.json()['caption']!r}")
    request = wait_for(lambda: _outbox(stack, content_id), timeout=30)
    if not request:
        raise RuntimeError("no approval request arrived in the outbox")
    out(f"approval    link sent to {request['recipient']}")
    operator = OperatorCli(stack)
    today = datetime.now(UTC).date()
    calendar = ["calendar", "--from", today.isoformat(), "--to", (today + timedelta(days=6)).isoformat()]
    operator.run(*calendar, out=out)
    decision = approve_via_link(request["approve_url"])
    out(f"approved    HTTP {decision.status_code}")
    repo = services.repository()

    def settled():
        posts = repo.posts_for_content(content_id)
        done = all(p.status == "failed" or (p.status == "published" and p.publish_log_written) for p in posts)
        return posts if done else None

    posts = wait_for(settled, timeout=timeout)
    if posts is None:
        states = {p.platform: p.status for p in repo.posts_for_content(content_id)}
        raise RuntimeError(f"posts did not settle within {timeout:.0f} s: {states}")
    operator.run(*calendar, out=out)
    metrics = pull_metrics(stack, content_id, len(posts), timeout)
    out(f"analytics   one pull: {metrics} post_metrics rows in BigQuery")
    stats = operator.run("campaigns", "stats", "spring-launch", "--from", today.isoformat(), "--to", today.isoformat(),
                         out=out)
    rows = list(services.bigquery().query(
        f"SELECT post_id, platform, account_id, campaign, approved_by, published_at, attempts, share_url "
        f"FROM `{stack.project}.postgate.publish_log` WHERE content_id = @cid ORDER BY platform",
        job_config=_params(content_id)).result())
    lines = [post_line(p) for p in sorted(posts, key=lambda p: list(stack.platforms).index(p.platform))]
    return {
        "content_id": content_id,
        "lines": lines,
        "posts": {p.platform: {"post_id": p.id, "status": p.status, "platform_ids": p.platform_ids,
                               "share_url": p.share_url, "fail_reason": p.fail_reason} for p in posts},
        "publish_log": [dict(r.items()) for r in rows],
        "post_metrics_rows": metrics,
        "campaign_stats": stats,
        "timings": stack.timings,
    }


def pull_metrics(stack: LocalStack, content_id: str, expected: int, timeout: float) -> int:
    """One analytics pull, as the hourly Scheduler tick starts it (analytics-pull fans out, analytics-fetch
    writes post_metrics); the number of this content's snapshot rows once every post has one."""
    from shared import services
    from shared.runtime.pubsub import publish_json
    from shared.topology import get_topology

    publish_json(stack.project, get_topology().schedules["analytics-tick"].topic, {"tick": "analytics"})

    def rows():
        [row] = services.bigquery().query(
            f"SELECT COUNT(DISTINCT post_id) AS n FROM `{stack.project}.postgate.post_metrics` WHERE content_id = @cid",
            job_config=_params(content_id)).result()
        return row["n"] if row["n"] >= expected else None

    found = wait_for(rows, timeout=timeout, interval=1.0)
    if found is None:
        raise RuntimeError(f"the analytics pull wrote no metrics for every post within {timeout:.0f} s")
    return found


class OperatorCli:
    """The `postgate` CLI as an operator runs it (its own process) against the stack's api function,
    with a token minted by `postgate token` from the stack's secret store."""

    def __init__(self, stack: LocalStack, user: str = "marketing@example.com"):
        self._env = {**os.environ, "PYTHONPATH": str(REPO), "POSTGATE_API_URL": stack.function_urls["api"],
                     "POSTGATE_SECRET_BACKEND": "file", "POSTGATE_SECRETS_FILE": str(stack.workdir / "secrets.json")}
        self._env["POSTGATE_API_TOKEN"] = self._postgate("token", "--user", user, "--role", "editor").strip()

    def run(self, *args: str, out=print) -> str:
        """Run `postgate ARGS`, echo the command and what it printed; a non-zero exit stops the demo."""
        text = self._postgate(*args)
        out(f"$ postgate {' '.join(args)}")
        for line in text.rstrip("\n").splitlines():
            out(line)
        return text

    def _postgate(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "shared.cli", *args], env=self._env, cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"postgate {' '.join(args[:2])} exited {done.returncode}: {done.stderr.strip()}")
        return done.stdout


def post_line(post) -> str:
    from shared.platforms.base import loggable_ids

    ids = ", ".join(f"{k}={v}" for k, v in sorted(loggable_ids(post.platform_ids).items()))
    outcome = (post.share_url or "") if post.status == "published" else f"reason: {post.fail_reason}"
    return f"{post.platform:<9} {post.status:<9} {post.account_id:<15} {ids}  {outcome}".rstrip()


def _outbox(stack: LocalStack, content_id: str):
    try:
        return stack.outbox(content_id)
    except StopIteration:
        return None


def _params(content_id: str):
    from google.cloud import bigquery

    return bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("cid", "STRING", content_id)])


def main() -> int:
    print("starting local stack (emulators, platform sandboxes, functions)...", flush=True)
    with LocalStack() as stack:
        print(f"stack ready in {stack.timings['stack_ready_s']} s (emulators {stack.timings['emulators_ready_s']} s); "
              f"logs in {stack.workdir}", flush=True)
        summary = run(stack, out=lambda line: print(line, flush=True))
    print("\n=== Postgate demo: one line per post ===")
    for line in summary["lines"]:
        print(line)
    print("\n=== summary ===")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("lines", "campaign_stats")}, indent=2, default=str))
    published = [p for p in summary["posts"].values() if p["status"] == "published"]
    return 0 if len(published) == len(summary["posts"]) == len(summary["publish_log"]) == summary["post_metrics_rows"] else 1


if __name__ == "__main__":
    sys.exit(main())
