"""Cold start: a function's entry module imports only the standard library and shared/ on top of
functions_framework, so it loads in about the time of a bare `import functions_framework` (issue 18).
pydantic, the Google clients, flask-openapi3 and the platform SDKs load on first use, not at import.
`make bench` prints the measured times (infra/local/coldstart.py)."""

from __future__ import annotations

import sys

import pytest

from infra.local.coldstart import REPO, modules_imported, report
from shared.topology import load_topology

SOURCES = sorted({f.source for f in load_topology().functions.values()})


def _light(name: str) -> bool:
    top = name.split(".")[0]
    # _sysconfigdata_*: the standard library's build data (sysconfig, which zoneinfo reads), named per platform.
    return top == "shared" or top in sys.stdlib_module_names or top.startswith("_sysconfigdata")


@pytest.mark.parametrize("source", SOURCES)
def test_entry_module_imports_only_the_standard_library_and_shared(source):
    heavy = [name for name in modules_imported(REPO / source) if not _light(name)]
    assert heavy == [], f"{source}/main.py imports at load time: {heavy[:15]}"


def test_the_table_names_every_function_with_its_ratio_to_the_bare_import():
    lines: list[str] = []
    worst = report(100.0, {"api": (112.0, 1.12), "dispatch": (104.0, 1.04)}, out=lines.append)
    assert worst == 1.12
    assert lines[0].startswith("cold start:") and "100.0 ms" in lines[0]
    assert [line.split() for line in lines[2:4]] == [["api", "112.0", "1.12"], ["dispatch", "104.0", "1.04"]]
    assert lines[-1].strip() == "worst ratio 1.12"
