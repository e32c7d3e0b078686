"""`make up`: the local stack with demo data, running until Ctrl-C, for trying Postgate by hand.

Starts the LocalStack (emulators, a sandbox per platform, every function), seeds it through the API
and the pipeline (infra/local/seed.py), prints where everything is (API, console, how to sign in,
the CLI's environment, logs) and keeps running. Ctrl-C (SIGINT) or SIGTERM stops everything the
stack started (functions, sandboxes, emulators) and exits 0; a stack or seeding failure exits 1
after the same clean-up, naming the logs.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from infra.local.seed import APPROVER, EDITOR, Seeded, SeedError, seed
from infra.local.stack import LOCAL_USERS, LocalStack
from shared import services
from shared.api.auth import issue_api_token
from shared.platforms.credentials import NEEDS_RECONNECT

CLI_TOKEN_HOURS = 12
# The hourly analytics pull, every 5 minutes here: a young post is due again 5 minutes after its last
# pull (shared/analytics/selection.py), so its numbers and trend grow while someone looks.
ANALYTICS_EVERY_S = 300
STATE_ORDER = ("published", "scheduled", "pending_approval", "failed", "rejected", "cancelled")
ROLE_NOTES = {"approver": "approves and rejects, and does all an editor does",
              "editor": "writes, edits, schedules and cancels posts"}


def write_cli_env(stack: LocalStack, user: str = APPROVER) -> Path:
    """A file to source for `postgate`: the API URL, a token for `user`, and the secret store that
    `postgate token` mints further tokens from. Readable by its owner only (it holds a token)."""
    token = issue_api_token(services.secrets().access("api-jwt-key"), user, LOCAL_USERS[user],
                            ttl_seconds=CLI_TOKEN_HOURS * 3600)
    path = stack.workdir / "cli.env"
    lines = [f"# The postgate CLI against the stack `make up` started; as {user} for {CLI_TOKEN_HOURS} h.",
             f"export POSTGATE_API_URL={shlex.quote(stack.function_urls['api'])}",
             "export POSTGATE_SECRET_BACKEND=file",
             f"export POSTGATE_SECRETS_FILE={shlex.quote(str(stack.workdir / 'secrets.json'))}",
             f"export POSTGATE_API_TOKEN={shlex.quote(token)}"]
    path.touch(mode=0o600)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def banner(stack: LocalStack, seeded: Seeded | None, cli_env: Path) -> str:
    api = stack.function_urls["api"]
    postgate = ".venv/bin/postgate"  # `make up` runs in the checkout
    users = [f"               {user:<20} {roles[0]:<9} {ROLE_NOTES.get(roles[0], '')}" for user, roles in LOCAL_USERS.items()]
    lines = [
        "",
        "Postgate is running on this machine. Ctrl-C stops everything.",
        "",
        f"  API        {api}   (OpenAPI document: {api}/openapi.json)",
        f"  Console    {stack.console_url}",
        f"  Sign in    {stack.console_url}sign-in lists these users: pick one (no password; local stack only)",
        *users,
        f"  CLI        . {cli_env}      # POSTGATE_API_URL and a {CLI_TOKEN_HOURS} h token for {APPROVER}",
        f"             {postgate} posts list --campaign spring-launch",
        f"             {postgate} token --user {EDITOR} --role editor   # a token for someone else",
        f"  Logs       {stack.workdir}/fn-<function>.log, {stack.workdir}/emulator-logs/",
        f"  Sandboxes  {', '.join(f'{p} {local.sandbox.base_url}' for p, local in stack.platforms.items())}",
    ]
    if seeded is not None:
        counts = ", ".join(f"{len(seeded.posts[state])} {state.replace('_', ' ')}" for state in STATE_ORDER
                           if seeded.posts.get(state))
        lines += [
            f"  Demo data  campaign {seeded.campaign}; accounts {', '.join(seeded.accounts)} (connected)",
            f"             {seeded.reconnect_account} ({NEEDS_RECONNECT}): {seeded.reconnect_reason}",
            f"             posts: {counts}",
            f"             metrics of the {seeded.metrics_rows} published posts in BigQuery, pulled again every "
            f"{ANALYTICS_EVERY_S // 60} minutes (the sandboxes' numbers grow as the posts age)",
        ]
    return "\n".join(lines) + "\n"


class Stopped(Exception):
    """SIGTERM, turned into an exception in the main thread so the clean-up runs as for Ctrl-C."""


def _raise_stopped(signum, frame) -> None:
    raise Stopped(signal.Signals(signum).name)


def run(*, seeded_data: bool = True, out: Callable[[str], None] = print) -> int:
    # Python leaves SIGINT ignored when it starts ignored (a job a shell put in the background): set
    # it anyway, so SIGINT stops the stack however it was started.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_stopped)
    stack = LocalStack(tick_seconds={"analytics-tick": ANALYTICS_EVERY_S})
    try:
        out("starting the local stack (emulators, platform sandboxes, functions)...")
        stack.start()
        # Replaces the emulators' own SIGTERM handler, which stops them at once: the functions and
        # sandboxes go first (stack.stop()), or a request in flight would hang on a stopped emulator.
        signal.signal(signal.SIGTERM, _raise_stopped)
        out(f"stack ready in {stack.timings['stack_ready_s']} s; logs in {stack.workdir}")
        seeded = None
        if seeded_data:
            out("seeding demo data through the API and the pipeline...")
            seeded = seed(stack, out=out)
            out(f"seeded in {seeded.seconds} s")
        out(banner(stack, seeded, write_cli_env(stack)))
        while True:
            signal.pause()
    except (KeyboardInterrupt, Stopped):
        return 0
    except SeedError as exc:
        out(f"make up: seeding failed: {exc}")
        return 1
    except Exception as exc:  # noqa: BLE001 - say what failed and where the logs are, then clean up
        out(f"make up: {type(exc).__name__}: {exc}\n  logs in {stack.workdir}")
        return 1
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        t0 = time.monotonic()
        out("stopping the functions, sandboxes and emulators...")
        stack.stop()
        out(f"stopped in {time.monotonic() - t0:.1f} s; logs kept in {stack.workdir}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make up", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-seed", action="store_true", help="start the stack without the demo data")
    args = parser.parse_args(argv)
    return run(seeded_data=not args.no_seed, out=lambda line: print(line, flush=True))


if __name__ == "__main__":
    sys.exit(main())
