"""Layering (issue 18): every import in shared/, at the top of a module or inside a function, goes
to the importer's own layer or a lower one (shared/layers.py, docs/design.md#layers). Imports inside
functions are allowed only for the documented cold-start exceptions (ALLOWED_LAZY) or, for shared
modules, where moving them to the top would cost cold start or close a cycle; their count is reported."""

from __future__ import annotations

import ast
from pathlib import Path

from shared.layers import LAYERS, layer_of

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / "shared"

# Third-party imports that may stay inside functions: heavy to load, so a function's cold start
# does not pay for them until first use (tests/test_coldstart.py). Prefix match on the module name.
ALLOWED_LAZY = ("google", "googleapiclient", "flask", "flask_openapi3", "werkzeug", "pydantic", "jinja2", "jwt",
                "requests")

# Imports of shared modules that stay inside functions for the same reason: the imported module loads
# third-party packages an entry module must not pay for at import. (importing module, imported) -> why.
BOUNDARY = "the functions' lazy boundary (docs/design.md#layers): a function loads its handler at its first call"
LAZY_SHARED = {
    ("shared.runtime.config", "shared.runtime.config_model"):
        "pydantic and pydantic-settings; the model is built when the config is first read",
    **{("shared.entrypoints", handler): BOUNDARY for handler in (
        "shared.handlers.analytics", "shared.handlers.approval", "shared.handlers.catalogue", "shared.handlers.dispatch", "shared.handlers.generate",
        "shared.handlers.publish", "shared.handlers.reports", "shared.handlers.status_poll",
        "shared.handlers.token_refresh", "shared.api.app")},
    **{("shared.console.mount", page): "the console's blueprint, Flask-WTF and templates load when the api "
                                       "function's app is built, at its first request"
       for page in ("shared.console.site", "shared.console.api_docs")},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(SHARED.rglob("*.py"))}


def _imports(module: str, path: Path):
    """(line, imported module, inside a function) for every import statement in `path`; `from x
    import y` names module x.y when y is a module, else x."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield child.lineno, alias.name, in_function
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    source = ".".join(base + ([child.module] if child.module else []))
                else:
                    source = child.module or ""
                for alias in child.names:
                    candidate = f"{source}.{alias.name}"
                    yield child.lineno, candidate if candidate in MODULES else source, in_function
            yield from visit(child, inner)

    yield from visit(tree, False)


def _all_imports():
    for module, path in MODULES.items():
        for line, target, lazy in sorted(set(_imports(module, path))):  # `from m import a, b`: one row
            yield module, path, line, target, lazy


def test_every_shared_module_has_a_layer():
    unplaced = []
    for module in MODULES:
        try:
            layer_of(module)
        except KeyError:
            unplaced.append(module)
    assert unplaced == [], f"add these to shared/layers.py: {unplaced}"


def test_no_import_reaches_a_higher_layer():
    offending = []
    for module, path, line, target, lazy in _all_imports():
        if not (target == "shared" or target.startswith("shared.")):
            continue
        (mine, my_name), (theirs, their_name) = layer_of(module), layer_of(target)
        if theirs > mine:
            where = "inside a function" if lazy else "at the top"
            offending.append(f"{path.relative_to(REPO)}:{line} {module} ({my_name}) -> {target} ({their_name}), {where}")
    assert offending == [], "imports against the layer order (docs/design.md#layers):\n" + "\n".join(offending)


def test_third_party_imports_inside_functions_are_only_the_cold_start_exceptions():
    offending = []
    for _module, path, line, target, lazy in _all_imports():
        if not lazy or target == "shared" or target.startswith("shared.") or target == "__future__":
            continue
        top = target.split(".")[0]
        if top in ALLOWED_LAZY or target.startswith(ALLOWED_LAZY):
            continue
        offending.append(f"{path.relative_to(REPO)}:{line} {target}")
    assert offending == [], "third-party imports inside functions that are not cold-start exceptions:\n" + "\n".join(offending)


def test_shared_imports_inside_functions_are_only_the_documented_exceptions():
    offending, used = [], set()
    for module, path, line, target, lazy in _all_imports():
        if not lazy or not target.startswith("shared"):
            continue
        if (module, target) in LAZY_SHARED:
            used.add((module, target))
        else:
            offending.append(f"{path.relative_to(REPO)}:{line} {target}")
    assert offending == [], "shared imports inside functions (move them to the top, or document why in LAZY_SHARED):\n" + "\n".join(offending)
    assert sorted(set(LAZY_SHARED) - used) == [], "LAZY_SHARED names imports that are no longer inside a function"


def test_the_layer_table_is_what_the_design_doc_shows(capsys):
    design = (REPO / "docs" / "design.md").read_text()
    section = design.split("## Layers", 1)[1].split("\n## ", 1)[0]
    for name, prefixes in LAYERS:
        assert f"**{name}**" in section, f"docs/design.md#layers does not name layer {name}"
        for prefix in prefixes:
            assert f"`{prefix}`" in section, f"docs/design.md#layers does not place {prefix}"
    lazy_shared = sum(1 for *_, target, lazy in _all_imports() if lazy and target.startswith("shared"))
    with capsys.disabled():
        print(f"\nshared-module imports inside functions: {lazy_shared}")


def _cycles(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def walk(node, path):
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                walk(target, path + [target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node, [node])
    return cycles


def test_no_two_shared_modules_import_each_other_at_any_depth():
    """Same-layer imports are allowed, but never in a circle (counting imports inside functions)."""
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for module, _, _, target, _ in _all_imports():
        if target in MODULES and target != module:
            graph[module].add(target)
    cycles = _cycles(graph)
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_packages_form_no_cycle():
    """shared.<package> as a whole: no package imports one that imports it back, at any depth."""
    graph: dict[str, set[str]] = {_package(module): set() for module in MODULES}
    examples: dict[tuple[str, str], str] = {}
    for module, path, line, target, _ in _all_imports():
        if target in MODULES and _package(target) != _package(module):
            graph[_package(module)].add(_package(target))
            examples.setdefault((_package(module), _package(target)), f"{path.relative_to(REPO)}:{line}")
    cycles = _cycles(graph)
    detail = []
    for cycle in cycles:
        hops = cycle.split(" -> ")
        detail.append(cycle + "  (" + ", ".join(examples[(a, b)] for a, b in zip(hops, hops[1:])) + ")")
    assert cycles == [], "package cycles:\n" + "\n".join(detail)


def test_each_package_sits_in_one_layer():
    layers: dict[str, set[str]] = {}
    for module in MODULES:
        if module.count(".") >= 1:
            layers.setdefault(_package(module), set()).add(layer_of(module)[1])
    mixed = {package: sorted(names) for package, names in layers.items() if len(names) > 1}
    assert mixed == {}, f"packages spanning layers: {mixed}"
