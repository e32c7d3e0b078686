"""axe-core in the real-browser tests: the engine from the npm registry at the version the Makefile
pins (`make axe` unpacks it into .cache/axe-core, checked against the registry's integrity hash), run
in the page through DevTools, which the page's Content-Security-Policy does not govern."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

AXE_DIR = Path(__file__).resolve().parents[1] / ".cache" / "axe-core"
BLOCKING = ("serious", "critical")


def axe_source() -> str:
    script = AXE_DIR / "axe.min.js"
    if not script.is_file():
        pytest.fail(f"{script} missing: run `make axe` (axe-core from the npm registry, pinned in the Makefile)")
    return script.read_text(encoding="utf-8")


def axe_version() -> str:
    return json.loads((AXE_DIR / "package.json").read_text(encoding="utf-8"))["version"]


def axe_results(driver) -> dict:
    """axe.run() on the page the browser shows: its full result (violations, passes, ...)."""
    driver.execute_script(axe_source())
    driver.set_script_timeout(30)
    return driver.execute_async_script("const done = arguments[arguments.length - 1]; axe.run().then(done);")


def blocking_violations(result: dict) -> list[tuple[str, str, list]]:
    """(rule, impact, first targets) of each serious or critical violation."""
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
            if v["impact"] in BLOCKING]


def assert_accessible(driver) -> dict:
    """No serious or critical violation on the page; the result, for a summary."""
    result = axe_results(driver)
    serious = blocking_violations(result)
    assert not serious, serious
    return result
