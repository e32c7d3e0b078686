"""What every `postgate` command runs with: the exit codes, the parsed arguments with the API client
and the display zone (`Context`), the usage error, and the helpers that put arguments into API paths
and times."""

from __future__ import annotations

import argparse
import os
import re
from datetime import datetime
from functools import cached_property
from urllib.parse import quote

from shared.cli import output
from shared.cli.client import Client

OK, REFUSED, USAGE, UNREACHABLE = 0, 1, 2, 3
ENV_URL, ENV_TOKEN, ENV_TZ = "POSTGATE_API_URL", "POSTGATE_API_TOKEN", "POSTGATE_TZ"


class UsageError(Exception):
    """Bad arguments or local configuration (exit 2)."""


class Context:
    """Parsed arguments plus what every command needs: the client, the zone, JSON or tables."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.json = bool(args.json)
        try:
            self.tz = output.zone(args.tz or os.environ.get(ENV_TZ) or "UTC")
        except ValueError as exc:
            raise UsageError(f"--tz: {exc}") from None

    @cached_property
    def client(self) -> Client:
        base_url = self.args.api or os.environ.get(ENV_URL, "")
        if not base_url:
            raise UsageError(f"no API URL: pass --api URL or set {ENV_URL}")
        if not re.match(r"^https?://[^/\s]+", base_url):
            raise UsageError(f"API URL {base_url!r} must start with http:// or https://")
        token = self.args.token or os.environ.get(ENV_TOKEN, "")
        if not token:
            raise UsageError(f"no API token: pass --token or set {ENV_TOKEN} "
                             "(for the local stack: postgate token --user you@example.com --role editor)")
        return Client(base_url, token)

    def show(self, data, render) -> None:
        """`--json`: the API's answer as is; otherwise the table `render(data, tz)` prints."""
        if self.json:
            output.print_json(data)
        else:
            render(data, self.tz)


def seg(value: str) -> str:
    """A path segment: ids are quoted, so `a/b` reaches the API as one (refused) id, not two segments."""
    return quote(value, safe="")


def when(ctx: Context, value: str | None) -> str | None:
    """An ISO time with offset for the API; a time without one is read in --tz."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ctx.tz)
    return moment.isoformat()
