"""Contract checks: every exchange a sandbox serves in the test suite, checked against the
platform's own machine-readable document (or, for platforms that publish none, one rules module
naming the page each rule comes from).

One module per platform, `tests/contracts/<platform>.py`, exposes `check(exchange) -> Verdict`.
conftest.py records each test's exchanges (infra/local/sandboxes/recording.py), checks them after
the test and fails it on any problem; the session summary prints how many were checked.
"""

from __future__ import annotations

import importlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from types import ModuleType

from infra.local.sandboxes.recording import Exchange


@dataclass
class Verdict:
    """`operation`: the document's name for what was asked (e.g. "youtube.videos.insert"); None when
    the request is not a platform API call (a sandbox control endpoint or a browser page), which is
    not counted. `problems`: every way request or answer departs from the document."""

    operation: str | None
    problems: list[str] = field(default_factory=list)
    response_checked: bool = False


@dataclass
class Tally:
    requests: Counter = field(default_factory=Counter)  # platform -> requests checked
    answers: Counter = field(default_factory=Counter)  # platform -> answers checked against a response schema
    operations: dict[str, set[str]] = field(default_factory=dict)  # platform -> operations seen
    unchecked: Counter = field(default_factory=Counter)  # platform -> exchanges with no checker module
    problems: int = 0


TALLY = Tally()
_lock = threading.Lock()
_checkers: dict[str, ModuleType | None] = {}


def _checker(platform: str) -> ModuleType | None:
    if platform not in _checkers:
        try:
            _checkers[platform] = importlib.import_module(f"tests.contracts.{platform}")
        except ModuleNotFoundError as exc:
            if exc.name != f"tests.contracts.{platform}":
                raise
            _checkers[platform] = None
    return _checkers[platform]


def check_exchanges(exchanges: list[Exchange]) -> list[str]:
    """Problems found in `exchanges` (one line each), counted into TALLY."""
    found: list[str] = []
    for exchange in exchanges:
        checker = _checker(exchange.sandbox)
        if checker is None:
            with _lock:
                TALLY.unchecked[exchange.sandbox] += 1
            continue
        verdict: Verdict = checker.check(exchange)
        with _lock:
            if verdict.operation is not None:
                TALLY.requests[exchange.sandbox] += 1
                TALLY.operations.setdefault(exchange.sandbox, set()).add(verdict.operation)
                if verdict.response_checked:
                    TALLY.answers[exchange.sandbox] += 1
            TALLY.problems += len(verdict.problems)
        found.extend(f"{exchange.describe()} [{verdict.operation or 'unknown'}]: {problem}"
                     for problem in verdict.problems)
    return found


def summary_lines() -> list[str]:
    with _lock:
        total = sum(TALLY.requests.values())
        if not total and not TALLY.unchecked:
            return []
        lines = [f"platform contracts: {total} requests checked, {sum(TALLY.answers.values())} answers checked "
                 f"against a response schema, {TALLY.problems} problems"]
        for platform in sorted(set(TALLY.requests) | set(TALLY.unchecked)):
            ops = sorted(TALLY.operations.get(platform, ()))
            line = (f"  {platform}: {TALLY.requests[platform]} requests, {TALLY.answers[platform]} answers, "
                    f"{len(ops)} operations")
            if TALLY.unchecked[platform]:
                line += f", {TALLY.unchecked[platform]} NOT CHECKED (no checker module)"
            lines.append(line)
        return lines
