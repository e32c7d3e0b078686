"""argparse types of `postgate`'s options: dates, date-times, durations, JSON objects and post targets."""

from __future__ import annotations

import argparse
import json
import re
from datetime import date, datetime


def day_arg(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def json_object_arg(value: str) -> dict:
    try:
        data = json.loads(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"posts_per_day\": 5}'")
    return data


def ttl_arg(value: str) -> int:
    """Seconds, or a number with s/m/h/d (`90m`, `12h`, `7d`)."""
    match = re.fullmatch(r"(\d+)([smhd]?)", value.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration (seconds, or e.g. 30m, 12h, 7d)")
    seconds = int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    if not 60 <= seconds <= 90 * 86400:
        raise argparse.ArgumentTypeError("must be between 1 minute and 90 days")
    return seconds


_BOOLS = {"true": True, "false": False, "yes": True, "no": False}


def target_arg(value: str) -> dict:
    """`ACCOUNT[:key=value,...]` -> a target: `tiktok-main:privacy_level=SELF_ONLY,disable_duet=true`.
    true/false become booleans; `tags` takes `|`-separated values."""
    account, _, settings = value.partition(":")
    if not account:
        raise argparse.ArgumentTypeError(f"{value!r}: the account id comes first (ACCOUNT[:key=value,...])")
    target: dict = {"account_id": account}
    for pair in filter(None, settings.split(",")):
        key, eq, raw = pair.partition("=")
        if not eq or not key:
            raise argparse.ArgumentTypeError(f"{pair!r} in {value!r} is not key=value")
        if key == "tags":
            target[key] = [t for t in raw.split("|") if t]
        else:
            target[key] = _BOOLS.get(raw.lower(), raw)
    return target


def when_arg(value: str) -> str:
    """Validated now; made zone-aware later with --tz (see `context.when`)."""
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO date-time (e.g. 2025-05-02T09:00 or "
                                         "2025-05-02T09:00+02:00)") from None
    return value
