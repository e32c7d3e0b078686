"""The layer order of shared/ (docs/design.md#layers): a module may import only modules of its own
layer or a lower one, and no package (shared.<name>) imports another that imports it back.
tests/test_layers.py holds every import, at any depth, to both rules."""

from __future__ import annotations

# Lowest first. A module belongs to the layer of the longest prefix below that names it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("shared", "shared.errors", "shared.topology", "shared.layers")),
    ("runtime", ("shared.runtime",)),
    ("model", ("shared.model",)),
    ("stores", ("shared.stores", "shared.services")),
    ("platforms", ("shared.platforms",)),
    ("pipeline", ("shared.publishing", "shared.content")),
    ("features", ("shared.accounts", "shared.analytics", "shared.approval", "shared.campaigns", "shared.catalogue",
                  "shared.content_id", "shared.posts", "shared.reports", "shared.youtube_sync")),
    ("front doors", ("shared.api", "shared.cli", "shared.console", "shared.entrypoints", "shared.handlers")),
)


def layer_of(module: str) -> tuple[int, str]:
    """(rank, name) of the layer `module` belongs to; KeyError when no prefix names it."""
    best: tuple[int, int, str] | None = None
    for rank, (name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), rank, name)
    if best is None:
        raise KeyError(module)
    return best[1], best[2]
