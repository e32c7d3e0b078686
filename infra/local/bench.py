"""`make bench`: one whole analytics pull over N published posts spread over the five sandboxes.

    make bench                      # N = 100 and N = 1,000
    python -m infra.local.bench [--posts 100 1000] [--max-posts 500]

For each N it starts from empty emulators, creates N published posts directly in Firestore and the
matching records in each platform's sandbox (one account per platform, N/5 posts each), then runs
one pull in-process: the fan-out (shared/analytics/fanout.py) and every work message it sends
through the fetch (shared/analytics/fetch.py), on the real emulators and sandboxes (no mocks).
It prints per platform the metrics HTTP calls the sandbox received next to the minimum
ceil(N_p / batch size) and their ratio, the wall time of the whole pull, the post_metrics rows
BigQuery holds afterwards, and Firestore reads and writes per post.

Why posts are created directly: publishing 1,000 posts through the real flow (generate, approve,
upload, status poll) takes many minutes and measures publishing, not the pull. The posts look as
the publisher leaves them, with `metrics_next_at = published_at` (the field the publisher is to
write at publish time); the sandboxes get the same posts through their own "published N seconds
ago" helpers, so their metrics endpoints answer for them.

Firestore reads and writes are counted by wrapping the Firestore client's calls in this harness
only (get/get_all/stream/commit and transactions): documents returned count as reads (an empty
query as one), each write in a commit as a write.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from infra.local.soak_platforms import SOAK_PLATFORMS

PROJECT = "postgate-bench"
MEDIA_BUCKET = "postgate-bench-media"


def published_post_doc(*, post_id: str, account_id: str, platform: str, platform_ids: dict[str, str],
                       published_at: datetime, campaign: str = "Launch", scheduled: bool = True,
                       target: dict | None = None) -> dict:
    """A `posts/{id}` document as the publisher and status poll leave a published post (plus
    `metrics_next_at = published_at`, the field the publisher is to write, when `scheduled`)."""
    from shared.model.content import TargetSpec
    from shared.model.post import Post

    post = Post(id=post_id, content_id=f"content-{post_id}", account_id=account_id, platform=platform,
                campaign=campaign, status="published", content_hash="bench", target=TargetSpec(**(target or {
                    "account_id": account_id})), platform_ids=platform_ids, published_at=published_at,
                publish_log_written=True, created_at=published_at, updated_at=published_at)
    doc = post.model_dump(mode="python")
    if scheduled:
        doc["metrics_next_at"] = published_at
    return doc


def write_posts(db, docs: list[dict]) -> None:
    for start in range(0, len(docs), 450):
        batch = db.batch()
        for doc in docs[start:start + 450]:
            batch.set(db.collection("posts").document(doc["id"]), doc)
        batch.commit()


# -- Firestore reads and writes, counted at the client's RPC layer (this harness only) ------------------------
class FirestoreMeter:
    """Wraps one Firestore client's RPCs: documents asked for by BatchGetDocuments (get, get_all,
    transactional reads) and returned by RunQuery (an empty query bills one read) are reads; each
    write in a Commit (set, update, create, batches, transactions) is a write."""

    def __init__(self, db):
        import threading

        self.reads = 0
        self.writes = 0
        self._lock = threading.Lock()
        api = db._firestore_api
        batch_get, run_query, commit = api.batch_get_documents, api.run_query, api.commit

        def counted_batch_get(*args, request=None, **kwargs):
            self._add(reads=len((request or {}).get("documents", ())))
            return batch_get(*args, request=request, **kwargs)

        def counted_run_query(*args, **kwargs):
            responses = run_query(*args, **kwargs)

            def stream():
                docs = 0
                for response in responses:
                    if response.document and response.document.name:
                        docs += 1
                    yield response
                self._add(reads=max(docs, 1))

            return stream()

        def counted_commit(*args, request=None, **kwargs):
            self._add(writes=len((request or {}).get("writes", ())))
            return commit(*args, request=request, **kwargs)

        api.batch_get_documents, api.run_query, api.commit = counted_batch_get, counted_run_query, counted_commit

    def _add(self, reads: int = 0, writes: int = 0) -> None:
        with self._lock:
            self.reads += reads
            self.writes += writes

    def take(self) -> tuple[int, int]:
        with self._lock:
            counts = (self.reads, self.writes)
            self.reads = self.writes = 0
            return counts


# -- the posts: Firestore documents and the sandboxes' own records --------------------------------------------
_IDS = {  # platform -> how a post's platform ids are made from what the sandbox's helper returns
    "tiktok": lambda box, token, age: box.add_video(token, age_seconds=age),
    "instagram": lambda box, token, age: {"media_id": box.add_media(token, age_seconds=age)},
    "x": lambda box, token, age: {"tweet_id": box.add_post(token, age_seconds=age)},
    "youtube": lambda box, token, age: {"video_id": box.add_video(token, age_seconds=age)},
    "linkedin": lambda box, token, age: {"post_urn": box.add_post(token, age_seconds=age)},
}


def seed(db, platforms, n: int, now: datetime, rng) -> dict[str, int]:
    """n published posts, spread evenly over the platforms (one account each), published between
    2 hours and 60 days ago; returns posts per platform."""
    per_platform = {name: n // len(SOAK_PLATFORMS) + (1 if i < n % len(SOAK_PLATFORMS) else 0) for i, name in enumerate(SOAK_PLATFORMS)}
    docs = []
    for name, count in per_platform.items():
        local = platforms[name]
        [account] = local.accounts
        for i in range(count):
            age = rng.uniform(2 * 3600, 60 * 86400)
            ids = {k: str(v) for k, v in _IDS[name](local.sandbox, account.tokens["access_token"], age).items()}
            docs.append(published_post_doc(post_id=f"bench-{name}-{i:05d}", account_id=account.account_id, platform=name,
                                           platform_ids=ids, published_at=now - timedelta(seconds=age)))
    write_posts(db, docs)
    return per_platform


# -- one measured pull ------------------------------------------------------------------------------------------
def measure(n: int, *, platforms, emulators, workers: int, rng) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    from shared import services
    from shared.analytics.fanout import pull
    from shared.analytics.fetch import fetch_work
    from shared.platforms.registry import adapter_for
    from shared.runtime.clock import utcnow
    from shared.runtime.config import get_config
    from shared.topology import get_topology

    emulators.wipe()
    services.reset()
    config = get_config()
    repo, bq = services.repository(), services.bigquery()
    dataset = get_topology().bigquery.dataset
    bq.query(f"DELETE FROM `{PROJECT}.{dataset}.post_metrics` WHERE TRUE").result()
    for local in platforms.values():
        for account in local.accounts:
            repo.put_account(account.account_id, account.doc)
    per_platform = seed(repo.db, platforms, n, utcnow(), rng)
    calls_before = {name: local.sandbox.metrics_calls() for name, local in platforms.items()}
    meter = FirestoreMeter(repo.db)

    started = time.perf_counter()
    work, ticks = [], [{"tick": "analytics"}]
    while ticks:  # the first tick, then any continuation ticks (none at these sizes)
        tick = ticks.pop(0)
        pull(repo, config=config, payload=tick, send_work=work.append, send_tick=ticks.append)
    fan_out_seconds = time.perf_counter() - started
    fan_out_reads, fan_out_writes = meter.take()

    def deliver(message):
        return fetch_work(message, repo=repo, config=config, secrets=services.secrets(), bq=bq, message_id="bench")

    with ThreadPoolExecutor(max_workers=workers) as pool:  # analytics-fetch runs up to max_instances at once
        fetches = list(pool.map(deliver, work))
    wall = time.perf_counter() - started
    fetch_reads, fetch_writes = meter.take()

    rows = {r["platform"]: r["n"] for r in bq.query(
        f"SELECT platform, COUNT(*) AS n, COUNT(DISTINCT snapshot_id) AS distinct_ids "
        f"FROM `{PROJECT}.{dataset}.post_metrics` GROUP BY platform").result()}
    per = {}
    for name in SOAK_PLATFORMS:
        batch = adapter_for(name).METRICS_BATCH_SIZE
        calls = platforms[name].sandbox.metrics_calls() - calls_before[name]
        minimum = math.ceil(per_platform[name] / batch) if per_platform[name] else 0
        per[name] = {"posts": per_platform[name], "batch": batch, "calls": calls, "minimum": minimum,
                     "ratio": calls / minimum if minimum else float("nan"), "rows": rows.get(name, 0),
                     "messages": sum(1 for m in work if m["platform"] == name)}
    return {"n": n, "per_platform": per, "wall": wall, "fan_out_seconds": fan_out_seconds, "messages": len(work),
            "rows": sum(rows.values()), "fetched": sum(f.fetched for f in fetches),
            "refused": sum(f.refused for f in fetches), "failed": sum(f.failed for f in fetches),
            "reads": (fan_out_reads, fetch_reads), "writes": (fan_out_writes, fetch_writes)}


def report(result: dict, out=sys.stdout) -> bool:
    n = result["n"]
    print(f"\nN = {n:,} published posts  (one account per platform; {result['messages']} work messages)", file=out)
    print(f"  {'platform':<10} {'posts':>6} {'batch':>6} {'calls':>6} {'minimum':>8} {'ratio':>6} {'rows':>6}", file=out)
    ok = True
    for name, p in result["per_platform"].items():
        print(f"  {name:<10} {p['posts']:>6} {p['batch']:>6} {p['calls']:>6} {p['minimum']:>8} {p['ratio']:>6.2f} "
              f"{p['rows']:>6}", file=out)
        ok &= p["calls"] == p["minimum"] and p["rows"] == p["posts"]
    (fo_r, fe_r), (fo_w, fe_w) = result["reads"], result["writes"]
    print(f"  wall time of the whole pull: {result['wall']:.2f} s (fan-out {result['fan_out_seconds']:.2f} s)", file=out)
    print(f"  BigQuery post_metrics rows written: {result['rows']:,} (fetched {result['fetched']}, refused "
          f"{result['refused']}, failed {result['failed']})", file=out)
    print(f"  Firestore reads per post:  {(fo_r + fe_r) / n:.2f}  (fan-out {fo_r / n:.2f}, fetch {fe_r / n:.2f}; "
          f"{fo_r + fe_r:,} reads)", file=out)
    print(f"  Firestore writes per post: {(fo_w + fe_w) / n:.2f}  (fan-out {fo_w / n:.2f}, fetch {fe_w / n:.2f}; "
          f"{fo_w + fe_w:,} writes)", file=out)
    return ok and result["rows"] == n


def main(argv: list[str] | None = None) -> int:
    import json
    import os
    import random

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--max-posts", type=int, default=None, help="analytics_batch_max_posts (default: config's)")
    parser.add_argument("--workers", type=int, default=5, help="work messages fetched at once (analytics-fetch max_instances)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    from infra.local.emulators import start_emulators
    from infra.local.soak_platforms import start_platforms, stop_platforms

    workdir = Path(tempfile.mkdtemp(prefix="postgate-bench-"))
    emulators = start_emulators(PROJECT, log_dir=workdir / "emulator-logs")
    platforms = {}
    try:
        os.environ.update(emulators.env())
        platforms = start_platforms(accounts_per_platform=1, posts_per_account=max(args.posts), workdir=workdir,
                                    project=PROJECT, storage_url=emulators.storage_url, http_timeout=10.0,
                                    clock=time.time)
        secrets_file = workdir / "secrets.json"
        secrets_file.write_text(json.dumps({a.doc["secret_name"]: json.dumps(a.tokens)
                                            for p in platforms.values() for a in p.accounts}), encoding="utf-8")
        secrets_file.chmod(0o600)
        os.environ.update({
            "GOOGLE_CLOUD_PROJECT": PROJECT, "POSTGATE_MEDIA_BUCKET": MEDIA_BUCKET,
            "POSTGATE_APPROVAL_BASE_URL": "http://approval.bench.local", "POSTGATE_SECRET_BACKEND": "file",
            "POSTGATE_SECRETS_FILE": str(secrets_file), "POSTGATE_HTTP_TIMEOUT_SECONDS": "10",
            **({"POSTGATE_ANALYTICS_BATCH_MAX_POSTS": str(args.max_posts)} if args.max_posts else {}),
            **{k: v for p in platforms.values() for k, v in p.env.items()},
        })
        from infra.local.provision import provision
        from shared import services
        from shared.runtime import handlers
        from shared.runtime.clients import bigquery_client
        from shared.runtime.logging import configure_logging

        log_path = workdir / "bench.log"
        log_file = open(log_path, "w", encoding="utf-8")
        configure_logging(stream=log_file)
        handlers._configured = True
        services.reset()
        provision(PROJECT, media_bucket=MEDIA_BUCKET, bq=bigquery_client(PROJECT, emulators.bigquery_url))
        from shared.runtime.config import get_config

        print(f"analytics pull benchmark: emulators + five sandboxes, analytics_batch_max_posts="
              f"{get_config().analytics_batch_max_posts}, {args.workers} fetches at once; logs: {log_path}")
        ok = True
        rng = random.Random(args.seed)
        for n in args.posts:
            ok &= report(measure(n, platforms=platforms, emulators=emulators, workers=args.workers, rng=rng))
        print("\nevery platform at its minimum number of calls, one row per post" if ok
              else "\nFAILED: a platform made more calls than its minimum, or rows are missing or doubled")
        return 0 if ok else 1
    finally:
        stop_platforms(platforms)
        emulators.stop()


if __name__ == "__main__":
    sys.exit(main())
