"""`make loadtest`: the content API under a busy team, on the local stack (as `make demo` runs it).

Starts the LocalStack, makes a video, a hot post and a token per team member, then runs locust
(infra/local/loadtest_locust.py, in its own venv: locust pins gevent and friends) headless for
--seconds against the api on 127.0.0.1 only, and prints locust's figures per operation and the
other users' latency while one user hammers one post and the watchers hold 50 streams. A
benchmark, not a test: it exits 0 whatever the figures (1 only if it could not run).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOAD_PYTHON = REPO / ".venv-load" / "bin" / "python"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20, help="locust users (1 hammers, 10 watch, the rest edit)")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--streams", type=int, default=50, help="live-status streams the watchers hold")
    parser.add_argument("--requests-per-minute", type=int, default=600,
                        help="per-user API rate limit for the run (the hammer's bursts exceed the default 60)")
    args = parser.parse_args(argv)
    if not LOAD_PYTHON.exists():
        print(f"loadtest: {LOAD_PYTHON} missing: run `make loadtest` (it builds .venv-load)", file=sys.stderr)
        return 1

    from infra.local.stack import LocalStack

    stack = LocalStack(extra_env={"POSTGATE_API_REQUESTS_PER_MINUTE": str(args.requests_per_minute)})
    print("loadtest: starting the local stack ...", flush=True)
    with stack:
        plan = _plan(stack, args)
        plan_path = stack.workdir / "loadtest-plan.json"
        plan_path.write_text(json.dumps(plan), encoding="utf-8")
        print(f"loadtest: {args.users} users for {args.seconds} s against {plan['host']} "
              f"(api: {plan['threads']} request threads)", flush=True)
        done = subprocess.run([str(LOAD_PYTHON), str(REPO / "infra" / "local" / "loadtest_locust.py"), str(plan_path)],
                              cwd=REPO, timeout=args.seconds + 180)
        return 0 if done.returncode == 0 else 1


def _plan(stack, args) -> dict:
    """What the locust users need: the api's URL, tokens, a video, an account, the hot post."""
    import requests

    from shared.api.auth import issue_api_token
    from shared.topology import get_topology

    key = json.loads((stack.workdir / "secrets.json").read_text(encoding="utf-8"))["api-jwt-key"]
    host = stack.function_urls["api"]
    assert host.startswith("http://127.0.0.1:"), host

    def token(user: str, role: str) -> str:
        return issue_api_token(key, user, [role], ttl_seconds=3600)

    video = stack.upload_video("loadtest/clip.mp4", 2 * 1024 * 1024)
    account = stack.platforms["tiktok"].account_id
    hammer = {"editor": token("hammer@example.com", "editor"), "approver": token("hammer-lead@example.com", "approver")}
    in_a_week = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0).isoformat()
    created = requests.post(f"{host}/posts", timeout=30, headers={"Authorization": f"Bearer {hammer['editor']}"},
                            json=_own_copy(video, account, "The hot post", in_a_week))
    created.raise_for_status()
    hot = created.json()
    users = [{"editor": token(f"editor{n}@example.com", "editor"), "approver": token(f"lead{n}@example.com", "approver")}
             for n in range(args.users - 1)]
    return {"host": host, "seconds": args.seconds, "streams": args.streams, "video": video, "account": account,
            "hot_post": hot["posts"][0]["id"], "hot_content": hot["id"], "hammer": hammer, "users": users,
            "threads": get_topology().functions["api"].concurrency}


def _own_copy(video: str, account: str, caption: str, publish_at: str) -> dict:
    return {"campaign": "load", "caption": caption, "hashtags": ["load"], "video": video, "publish_at": publish_at,
            "targets": [{"account_id": account, "privacy_level": "PUBLIC_TO_EVERYONE"}]}


if __name__ == "__main__":
    sys.exit(main())
