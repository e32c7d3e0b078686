"""Cold start of every function: how long its entry module takes to import, next to a bare
`import functions_framework` (part of `make bench`; prints, never fails unless --max-ratio is given).

    python -m infra.local.coldstart [--runs 7] [--max-ratio 1.15]

For each function in infra/topology.yaml a fresh interpreter (`python -c`) times `import
functions_framework` alone, then loads functions/<name>/main.py from its source path the way
functions-framework does (spec_from_file_location, module name "main"). Interpreter start-up is not
counted. Sources shared by several functions are measured once. Every run is repeated --runs times
after one warm-up run (so .pyc files exist, as in a deployed image) and the medians are printed:

    function, entry module ms (functions_framework included), ratio to the bare import (of the same run)

`python -X importtime -c "..."` on the same code shows where an entry module's time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Runs in the child: both timings in one fresh process, printed as JSON.
_CHILD = """
import importlib.util, json, os, sys, time
t0 = time.perf_counter()
import functions_framework
t1 = time.perf_counter()
path = os.path.realpath(sys.argv[1])
spec = importlib.util.spec_from_file_location("main", path, submodule_search_locations=[os.path.dirname(path)])
module = importlib.util.module_from_spec(spec)
sys.path.append(os.path.dirname(path))
sys.modules["main"] = module
spec.loader.exec_module(module)
t2 = time.perf_counter()
print(json.dumps({"bare": t1 - t0, "entry": t2 - t0}))
"""


def _child_env() -> dict[str, str]:
    # Only what an import may read: no emulator hosts or Postgate settings, as on a fresh instance.
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTGATE_") and not k.endswith("_EMULATOR_HOST")}
    env["PYTHONPATH"] = str(REPO)
    return env


def time_entry(source: Path, *, python: str = sys.executable) -> dict[str, float]:
    """One fresh interpreter: seconds for the bare import and for the entry module (bare included)."""
    done = subprocess.run([python, "-c", _CHILD, str(source / "main.py")], cwd=REPO, env=_child_env(),
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"importing {source}/main.py failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


_MODULES_CHILD = """
import importlib.util, json, os, sys
import functions_framework
before = set(sys.modules)
path = os.path.realpath(sys.argv[1])
spec = importlib.util.spec_from_file_location("main", path, submodule_search_locations=[os.path.dirname(path)])
module = importlib.util.module_from_spec(spec)
sys.path.append(os.path.dirname(path))
sys.modules["main"] = module
spec.loader.exec_module(module)
print(json.dumps(sorted(set(sys.modules) - before - {"main"})))
"""


def modules_imported(source: Path, *, python: str = sys.executable) -> list[str]:
    """The modules functions/<name>/main.py imports on top of what functions_framework already did."""
    done = subprocess.run([python, "-c", _MODULES_CHILD, str(source / "main.py")], cwd=REPO, env=_child_env(),
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"importing {source}/main.py failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(runs: int) -> tuple[float, dict[str, tuple[float, float]]]:
    """(median bare import ms, {function name: (median entry import ms, median ratio)}).

    The ratio is taken within each fresh interpreter (entry / bare of the same run), then the median
    over runs: a shared machine's load changes between runs more than within one."""
    from shared.topology import load_topology

    functions = load_topology().functions
    sources = sorted({f.source for f in functions.values()})
    for source in sources:  # warm-up: compile .pyc files, fill the page cache
        time_entry(REPO / source)
    bare: list[float] = []
    entry: dict[str, list[float]] = {s: [] for s in sources}
    ratio: dict[str, list[float]] = {s: [] for s in sources}
    for _ in range(runs):  # interleaved, so a busy moment on the machine hits every source alike
        for source in sources:
            t = time_entry(REPO / source)
            bare.append(t["bare"] * 1000)
            entry[source].append(t["entry"] * 1000)
            ratio[source].append(t["entry"] / t["bare"])
    by_source = {s: (statistics.median(entry[s]), statistics.median(ratio[s])) for s in sources}
    return statistics.median(bare), {name: by_source[f.source] for name, f in functions.items()}


def report(bare_ms: float, entries: dict[str, tuple[float, float]], out=print) -> float:
    """Print the table; returns the worst ratio."""
    out(f"cold start: entry module import vs bare `import functions_framework` ({bare_ms:.1f} ms, median)")
    out(f"  {'function':<20} {'ms':>8} {'ratio':>6}")
    worst = 0.0
    for name, (ms, ratio) in sorted(entries.items()):
        worst = max(worst, ratio)
        out(f"  {name:<20} {ms:>8.1f} {ratio:>6.2f}")
    out(f"  worst ratio {worst:.2f}")
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per source (median)")
    parser.add_argument("--max-ratio", type=float, default=None,
                        help="exit 1 if any function's ratio is above this (default: only print)")
    args = parser.parse_args(argv)
    bare_ms, entries = measure(args.runs)
    worst = report(bare_ms, entries)
    if args.max_ratio is not None and worst > args.max_ratio:
        print(f"cold start: worst ratio {worst:.2f} is above --max-ratio {args.max_ratio}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
