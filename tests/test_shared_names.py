"""Names in shared/ have one home (issue 18): the platform names are declared once, in
shared/model/platform.py, and every other list derives from it; a private name (`_x`) is used only in
the module that defines it: another module that needs it gets it public."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

from shared.model.platform import PLATFORMS, Platform

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / "shared"
PLATFORM_HOME = SHARED / "model" / "platform.py"

# Where code may declare platform names: shared/, the functions and the local stack. (Terraform and
# infra/topology.yaml name platforms per function and topic, which is declaration, not a list to derive.)
CODE_ROOTS = (SHARED, REPO / "functions", REPO / "infra")

# Private names used across modules that are allowed anyway (none left).
ALLOWED_PRIVATE_USES: set[tuple[str, str]] = set()


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(SHARED.rglob("*.py"))}


def test_platform_list_is_the_literal_s_arguments():
    assert get_args(Platform) == PLATFORMS
    assert len(set(PLATFORMS)) == len(PLATFORMS) == 6


def test_platform_names_are_listed_only_in_their_home():
    """A tuple, list, set or Literal naming three or more platforms is a second platform list: derive
    it from shared.model.platform (PLATFORMS, Platform) instead."""
    names = set(PLATFORMS)
    second_lists = []
    for root in CODE_ROOTS:
        for path in sorted(root.rglob("*.py")):
            if path == PLATFORM_HOME:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, (ast.Tuple, ast.List, ast.Set)):  # Literal[...] holds a Tuple
                    named = {e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in names}
                    if len(named) >= 3:
                        second_lists.append(f"{path.relative_to(REPO)}:{node.lineno} {sorted(named)}")
    assert second_lists == [], "platform names listed outside shared/model/platform.py:\n" + "\n".join(second_lists)


def _owning_module(dotted: str) -> str | None:
    """The shared module that defines `dotted` (a module, or a name inside one)."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in MODULES:
            return ".".join(parts[:end])
    return None


def _private_uses(module: str, path: Path):
    """(line, "owner.name") for each private name of another shared module this module imports or
    reaches through an imported name (`from m import _x`, `m._x`, `Cls._x`)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    bound: dict[str, str] = {}  # local name -> the shared module or object it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "shared":
                continue
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{source}.{alias.name}"
                if _private(alias.name) and _owning_module(f"{source}.{alias.name}") != module:
                    yield node.lineno, f"{source}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "shared":
                    bound[alias.asname or "shared"] = alias.name if alias.asname else "shared"
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and _private(node.attr)):
            continue
        chain, value = [], node.value
        while isinstance(value, ast.Attribute):
            chain.append(value.attr)
            value = value.value
        if isinstance(value, ast.Name) and value.id in bound:
            owner = ".".join([bound[value.id], *reversed(chain)])
            if _owning_module(owner) != module:
                yield node.lineno, f"{owner}.{node.attr}"


def test_no_module_uses_another_modules_private_names():
    found, used = [], set()
    for module, path in MODULES.items():
        where = str(path.relative_to(REPO))
        for line, name in sorted(set(_private_uses(module, path))):
            if (where, name) in ALLOWED_PRIVATE_USES:
                used.add((where, name))
                continue
            found.append(f"{where}:{line} uses {name}")
    assert found == [], ("private names used outside their module (make them public where they are defined):\n"
                         + "\n".join(found))
    assert used == ALLOWED_PRIVATE_USES, f"fixed, drop from ALLOWED_PRIVATE_USES: {sorted(ALLOWED_PRIVATE_USES - used)}"
