"""`make bench` (catalogue part): the YouTube quota units and calls of importing a 5,000-video channel,
of refreshing it when nothing changed, and of a 200-video bulk metadata change, counted for real against
the YouTube sandbox.

    python -m infra.local.catalogue_bench [--videos 5000]

It starts the emulators and the YouTube sandbox (its clock held still, so statistics do not move), gives
the sandbox one channel with N videos, and runs the catalogue refresh in-process (shared/catalogue/refresh.py,
what the catalogue-refresh function runs) three times: the first import; a refresh where nothing changed
(every call sent with the etag of its last answer); a refresh after one video was edited. For each it
prints the calls the sandbox received per method, the largest page and id batch sent, the 304 answers,
the units the quota model counted (and the sandbox's own count), the Firestore reads and writes, and the
wall time; then what a search costs (Firestore reads) once and again; then a bulk change adding a tag to
200 of the videos, requested (expanded into each video's before -> after), approved and applied.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

PROJECT = "postgate-catalogue-bench"
MEDIA_BUCKET = "postgate-catalogue-bench-media"
ACCOUNT, CHANNEL = "bench-youtube", "UCbenchcatalogue00000001"
ACCESS, REFRESH = "ya29.bench-catalogue", "1//bench-catalogue"
UNITS = {"channels": 1, "playlist_items": 1, "list": 1}  # what YouTube documents per call (the sandbox charges it)
METHODS = {"channels": "channels.list", "playlist_items": "playlistItems.list", "list": "videos.list"}


def run_once(box, repo, config, secrets, bq_factory, meter) -> dict:
    from shared.catalogue.refresh import refresh_account
    from shared.platforms.youtube.quota import usage

    log_start, quota_start = len(box.requests_log), usage(repo.db, key="bench-project")["general"]
    box_quota_start = box.quota_used["general"]
    meter.take()
    started = time.perf_counter()
    summary = refresh_account(repo, config, secrets, ACCOUNT, repo.get_account(ACCOUNT), bq_factory=bq_factory,
                              deadline=time.monotonic() + 3600)
    wall = time.perf_counter() - started
    reads, writes = meter.take()
    sent = box.requests_log[log_start:]
    calls = Counter(METHODS[e["endpoint"]] for e in sent if e["endpoint"] in METHODS)
    not_modified = Counter(METHODS[e["endpoint"]] for e in sent if e["endpoint"] in METHODS and e["status"] == 304)
    return {"summary": summary, "calls": calls, "not_modified": not_modified, "wall": wall, "reads": reads,
            "writes": writes, "units": usage(repo.db, key="bench-project")["general"] - quota_start,
            "youtube_units": box.quota_used["general"] - box_quota_start,
            "largest_page": max((int(e["max_results"]) for e in sent if e["endpoint"] == "playlist_items"), default=0),
            "largest_batch": max((e["ids"] for e in sent if e["endpoint"] == "list"), default=0)}


def report(name: str, result: dict, n: int, out=sys.stdout) -> None:
    s = result["summary"]
    print(f"\n{name}: outcome {s.outcome}, {s.pages} pages, {s.videos_written:,} videos written, "
          f"{s.videos_removed} removed, {result['wall']:.1f} s", file=out)
    print(f"  {'method':<20} {'calls':>6} {'304':>5} {'units':>6}", file=out)
    for method in ("channels.list", "playlistItems.list", "videos.list"):
        calls = result["calls"][method]
        print(f"  {method:<20} {calls:>6} {result['not_modified'][method]:>5} {calls:>6}", file=out)
    total = sum(result["calls"].values())
    print(f"  {'total':<20} {total:>6} {sum(result['not_modified'].values()):>5} {total:>6}", file=out)
    print(f"  quota units counted by the quota model: {result['units']} (the sandbox, as YouTube: "
          f"{result['youtube_units']}); the minimum at the documented maxima is "
          f"1 + 2 x ceil({n:,} / 50) = {1 + 2 * math.ceil(n / 50)}", file=out)
    print(f"  largest playlistItems page asked for: {result['largest_page']}; largest videos.list id batch: "
          f"{result['largest_batch']}", file=out)
    print(f"  Firestore: {result['reads']:,} reads, {result['writes']:,} writes", file=out)


def search_cost(repo, meter, out=sys.stdout) -> None:
    from shared.catalogue import service
    from shared.catalogue.search import CatalogueFilter

    for label in ("first search on this instance (takes the snapshot)", "next search (snapshot kept)"):
        meter.take()
        started = time.perf_counter()
        page = service.list_videos(repo, CatalogueFilter(q="launch", privacy="public", sort="views"), skip=25, limit=25)
        ms = (time.perf_counter() - started) * 1000
        reads, _ = meter.take()
        print(f"  {label}: {reads:,} Firestore reads, {ms:.0f} ms, total {page.total:,}", file=out)


def bulk_cost(box, repo, config, secrets, bq, n: int = 200, out=sys.stdout) -> bool:
    """A bulk change adding a tag to `n` videos: the calls and units of expanding it (at request time)
    and of applying it, counted by the sandbox and by the quota model. True when at the minimum."""
    from shared.platforms.youtube.quota import COSTS, usage
    from shared.youtube_sync import bulk, bulk_applying
    from shared.youtube_sync.bulk_model import BulkChangeRequest

    ids = list(box.posts)[:n]
    phases = {}
    request = BulkChangeRequest.model_validate({"videos": {"video_ids": ids}, "operation": {"add_tag": "bench bulk"}})
    for phase in ("request", "apply"):
        log_start, units_start = len(box.requests_log), usage(repo.db, key="bench-project")["general"]
        started = time.perf_counter()
        if phase == "request":
            change = bulk.create_bulk(repo, config, secrets, request=request, requested_by="bench@example.com",
                                      publish=lambda payload: None)
            bulk.record_decision(repo, change.id, action="approve", hash_claimed=change.bulk_hash,
                                 decided_by="lead@example.com", via="api")
        else:
            bulk_applying.run_bulk(repo, config, secrets, change.id, seconds=3600)
            bulk_applying.write_audit(repo, bq(), config.project, change.id)
        sent = Counter(e["endpoint"] for e in box.requests_log[log_start:])
        phases[phase] = {"videos.list": sent["list"], "videos.update": sent["update"],
                         "units": usage(repo.db, key="bench-project")["general"] - units_start,
                         "wall": time.perf_counter() - started}
    done = bulk.get_bulk(repo, change.id)
    print(f"\nbulk change: add a tag to {n} videos (one approval), then applied", file=out)
    print(f"  {'phase':<28} {'videos.list':>11} {'videos.update':>13} {'units':>7} {'wall':>7}", file=out)
    for phase, figures in phases.items():
        print(f"  {phase:<28} {figures['videos.list']:>11} {figures['videos.update']:>13} {figures['units']:>7,} "
              f"{figures['wall']:>6.1f}s", file=out)
    total_units = sum(f["units"] for f in phases.values())
    total_calls = sum(f["videos.list"] + f["videos.update"] for f in phases.values())
    print(f"  {'total':<28} {total_calls:>25} calls {total_units:>7,} units", file=out)
    days = math.ceil(total_units / 10_000)
    print(f"  progress: {done.progress.model_dump() if done else None}; at YouTube's default 10,000 units a day "
          f"this takes {days} quota day(s): the worker stops when the day's quota is spent and goes on after "
          "midnight Pacific Time", file=out)
    batches = math.ceil(n / 50)
    return (phases["request"]["videos.list"] == batches and phases["apply"]["videos.list"] == batches
            and phases["apply"]["videos.update"] == n and phases["request"]["videos.update"] == 0
            and total_units == 2 * batches * COSTS["videos.list"][1] + n * COSTS["videos.update"][1]
            and done is not None and done.progress.applied == n)


def main(argv: list[str] | None = None) -> int:
    import os

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=5000)
    args = parser.parse_args(argv)
    n = args.videos

    from infra.local.bench import FirestoreMeter
    from infra.local.emulators import start_emulators
    from infra.local.sandboxes.youtube import YouTubeSandbox

    workdir = Path(tempfile.mkdtemp(prefix="postgate-catalogue-bench-"))
    emulators = start_emulators(PROJECT, log_dir=workdir / "emulator-logs")
    still = time.time()
    box = YouTubeSandbox(clock=lambda: still, daily_quota=1_000_000)
    try:
        box.start()
        box.add_account(ACCESS, REFRESH, channel_id=CHANNEL, title="Bench channel")
        box.add_catalogue_videos(ACCESS, n)
        secret = f"youtube-account-{ACCOUNT}"
        secrets_file = workdir / "secrets.json"
        secrets_file.write_text(json.dumps({secret: json.dumps({"access_token": ACCESS, "refresh_token": REFRESH,
                                                                "client_id": "c", "client_secret": "s"})}))
        secrets_file.chmod(0o600)
        os.environ.update({**emulators.env(), "GOOGLE_CLOUD_PROJECT": PROJECT, "POSTGATE_MEDIA_BUCKET": MEDIA_BUCKET,
                           "POSTGATE_APPROVAL_BASE_URL": "http://approval.bench.local",
                           "POSTGATE_SECRET_BACKEND": "file", "POSTGATE_SECRETS_FILE": str(secrets_file),
                           "POSTGATE_YOUTUBE_BASE_URL": box.base_url, "POSTGATE_YOUTUBE_OAUTH_URL": box.token_url,
                           "POSTGATE_YOUTUBE_DAILY_QUOTA": "1000000"})
        from infra.local.provision import provision
        from shared import services
        from shared.runtime import handlers
        from shared.runtime.clients import bigquery_client
        from shared.runtime.config import get_config
        from shared.runtime.logging import configure_logging

        log_path = workdir / "bench.log"
        configure_logging(stream=open(log_path, "w", encoding="utf-8"))
        handlers._configured = True
        services.reset()
        provision(PROJECT, media_bucket=MEDIA_BUCKET, bq=bigquery_client(PROJECT, emulators.bigquery_url))
        repo = services.repository()
        repo.put_account(ACCOUNT, {"platform": "youtube", "handle": "Bench channel", "secret_name": secret,
                                   "platform_account_id": CHANNEL, "quota_project": "bench-project"})
        config, secrets = get_config(), services.secrets()
        meter = FirestoreMeter(repo.db)
        print(f"catalogue benchmark: one channel of {n:,} videos on the YouTube sandbox, the emulators; logs: {log_path}")
        first = run_once(box, repo, config, secrets, services.bigquery, meter)
        report(f"import of {n:,} videos", first, n)
        unchanged = run_once(box, repo, config, secrets, services.bigquery, meter)
        report("refresh, nothing changed (etags sent back)", unchanged, n)
        box.edit_video(next(iter(box.posts)), snippet={"title": "Edited for the benchmark"})
        one = run_once(box, repo, config, secrets, services.bigquery, meter)
        report("refresh, one video edited", one, n)
        print("\nsearch (q=launch, privacy=public, sort=views, skip 25, limit 25):")
        search_cost(repo, meter)
        minimum = 1 + 2 * math.ceil(n / 50)
        ok = (first["units"] == first["youtube_units"] == minimum and first["largest_page"] == 50
              and first["largest_batch"] == 50 and first["summary"].videos_written == n
              and unchanged["summary"].videos_written == 0 and sum(unchanged["not_modified"].values()) == minimum
              and one["summary"].videos_written == 1)
        print("\nimport at the documented maxima, every unchanged call answered 304 and nothing written"
              if ok else "\nFAILED: more calls than the minimum, batches under the maxima, or writes where nothing changed")
        bulk_ok = bulk_cost(box, repo, config, secrets, services.bigquery, min(200, n))
        print("bulk change at the minimum: videos.list in batches of 50 (to expand, then to apply), one videos.update "
              "per video" if bulk_ok else "FAILED: the bulk change made more calls than the minimum")
        return 0 if ok and bulk_ok else 1
    finally:
        box.stop()
        emulators.stop()


if __name__ == "__main__":
    sys.exit(main())
