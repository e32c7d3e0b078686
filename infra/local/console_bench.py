"""`make bench` (part): the console's two heaviest pages on the emulators, server time and Firestore reads.

    python -m infra.local.console_bench [--waiting 100] [--month-posts 500] [--runs 10]

From empty emulators it writes WAITING content items waiting for approval (one X post each) and
MONTH_POSTS scheduled posts spread over one month (with their content items), signs in through the
local sign-in page, and requests the approval queue and the month calendar in-process through the
api function as functions-framework loads it (no network in the measured time: this is the time the
server spends, Firestore emulator round trips included). Per page it prints the median and slowest
server time over --runs requests after one warm-up, and the Firestore documents read per request
(counted at the client's RPC layer by infra/local/bench.py's FirestoreMeter), next to what
docs/console.md says the page reads by design. A benchmark: it prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets as pysecrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from infra.local.bench import FirestoreMeter

PROJECT = "postgate-console-bench"
MEDIA_BUCKET = "postgate-console-bench-media"
REPO = Path(__file__).resolve().parents[2]
APPROVER = "lead@example.com"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def seed(db, *, waiting: int, month_posts: int, month_start: datetime) -> None:
    """`waiting` items waiting for approval (created one minute apart) and `month_posts` scheduled
    posts over the 28 days from `month_start`, as the services leave them."""
    from shared.model.content import ContentItem, TargetSpec
    from shared.model.post import Post
    from shared.stores.posts import dump

    now = datetime.now(UTC)
    docs: list[tuple[str, str, dict]] = []
    for i in range(waiting):
        created = now - timedelta(minutes=waiting - i)
        target = TargetSpec(account_id="x-bench")
        content = ContentItem(id=f"c-wait-{i:04d}", campaign="launch", caption=f"Waiting item {i}: spring is here",
                              hashtags=["spring"], targets=[target], requested_by="editor@example.com",
                              generator="own-copy", content_hash="pending", created_at=created, updated_at=created)
        content = content.model_copy(update={"content_hash": content.current_hash()})
        post = Post(id=f"{content.id}--x-bench", content_id=content.id, account_id="x-bench", platform="x",
                    campaign="launch", status="pending_approval", content_hash=content.content_hash, target=target,
                    created_at=created, updated_at=created)
        docs += [("content", content.id, dump(content)), ("posts", post.id, dump(post))]
    for i in range(month_posts):
        at = month_start + timedelta(days=i % 28, hours=8 + i % 12, minutes=i % 60)
        target = TargetSpec(account_id="x-bench")
        content = ContentItem(id=f"c-month-{i:04d}", campaign="launch", caption=f"Planned post {i}",
                              targets=[target], requested_by="editor@example.com", generator="own-copy",
                              content_hash="planned", status="approved", created_at=now, updated_at=now)
        post = Post(id=f"{content.id}--x-bench", content_id=content.id, account_id="x-bench", platform="x",
                    campaign="launch", status="scheduled", content_hash="planned", target=target, scheduled_at=at,
                    created_at=now, updated_at=now)
        docs += [("content", content.id, dump(content)), ("posts", post.id, dump(post))]
    for start in range(0, len(docs), 400):
        batch = db.batch()
        for collection, doc_id, doc in docs[start:start + 400]:
            batch.set(db.collection(collection).document(doc_id), doc)
        batch.commit()


def measure(client, meter: FirestoreMeter, path: str, runs: int) -> dict:
    answer = client.get(path)  # warm-up: templates compiled, caches filled
    if answer.status_code != 200:
        raise SystemExit(f"console bench: GET {path} answered {answer.status_code}: {answer.get_data(as_text=True)[:500]}")
    meter.take()
    times, reads = [], []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        reads.append(meter.take()[0])
        assert answer.status_code == 200, answer.status_code
    return {"median_ms": statistics.median(times), "max_ms": max(times), "reads": statistics.median(reads),
            "bytes": len(answer.get_data())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiting", type=int, default=100, help="content items waiting for approval")
    parser.add_argument("--month-posts", type=int, default=500, help="scheduled posts in the measured month")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)

    from infra.local.emulators import start_emulators

    workdir = Path(tempfile.mkdtemp(prefix="postgate-console-bench-"))
    emulators = start_emulators(PROJECT, log_dir=workdir / "emulator-logs")
    try:
        os.environ.update(emulators.env())
        secrets_file = workdir / "secrets.json"
        secrets_file.write_text(json.dumps({"console-session-key": pysecrets.token_urlsafe(32),
                                            "api-jwt-key": pysecrets.token_urlsafe(32)}), encoding="utf-8")
        secrets_file.chmod(0o600)
        os.environ.update({
            "GOOGLE_CLOUD_PROJECT": PROJECT, "POSTGATE_MEDIA_BUCKET": MEDIA_BUCKET,
            "POSTGATE_APPROVAL_BASE_URL": "http://approval.bench.local", "POSTGATE_SECRET_BACKEND": "file",
            "POSTGATE_SECRETS_FILE": str(secrets_file), "POSTGATE_CONSOLE_LOCAL_SIGN_IN": "true",
        })
        from functions_framework import create_app

        from shared import services
        from shared.runtime import handlers
        from shared.runtime.logging import configure_logging

        log_file = open(workdir / "console-bench.log", "w", encoding="utf-8")
        configure_logging(stream=log_file)
        handlers._configured = True
        services.reset()
        repo = services.repository()
        db = repo.db
        db.collection("api_users").document(APPROVER).set({"roles": ["approver"]})
        repo.put_account("x-bench", {"platform": "x", "handle": "brand", "secret_name": "x-account-x-bench"})
        month_start = (datetime.now(UTC) + timedelta(days=40)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        started = time.perf_counter()
        seed(db, waiting=args.waiting, month_posts=args.month_posts, month_start=month_start)
        print(f"console bench: {args.waiting} items waiting for approval and {args.month_posts} scheduled posts in "
              f"{month_start:%B %Y} written in {time.perf_counter() - started:.1f} s; {args.runs} requests per page "
              f"after one warm-up; logs: {workdir}")

        client = create_app(target="api", source=str(REPO / "functions" / "api" / "main.py"),
                            signature_type="http").test_client()
        page = client.get("/console/sign-in").get_data(as_text=True)
        token = CSRF.search(page)
        if token is None:
            raise SystemExit("console bench: no sign-in form (is the console's local sign-in on?)")
        signed = client.post("/console/sign-in/local", data={"csrf_token": token.group(1), "user": APPROVER})
        if signed.status_code not in (302, 303):
            raise SystemExit(f"console bench: local sign-in answered {signed.status_code}")
        meter = FirestoreMeter(db)
        pages = [
            (f"approval queue, {args.waiting} waiting", "/console/queue"),
            (f"month calendar, {args.month_posts} posts",
             f"/console/calendar?view=month&date={month_start:%Y-%m-%d}&tz=Europe/Berlin"),
        ]
        print(f"\n  {'page':38} {'median ms':>10} {'max ms':>8} {'reads/request':>14} {'HTML KiB':>9}")
        for name, path in pages:
            result = measure(client, meter, path, args.runs)
            print(f"  {name:38} {result['median_ms']:10.0f} {result['max_ms']:8.0f} {result['reads']:14.0f} "
                  f"{result['bytes'] / 1024:9.0f}")
        print("\n  reads by design (docs/console.md): every page adds the layout's roles document; the queue reads "
              "its waiting items and their posts and accounts,\n  the month its posts (one query for planned, one "
              "for unplanned), their content items and accounts")
        return 0
    finally:
        emulators.stop()


if __name__ == "__main__":
    sys.exit(main())
