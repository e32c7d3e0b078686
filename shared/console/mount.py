"""Adds the console and the API's documentation page (/docs) to the API's Flask app (functions/api/main.py
registers this in shared.api.mounts.MOUNTS).

Only the standard library and shared/ load with this module: the blueprint, Flask-WTF and the templates
load when the app is built, at the function's first request (cold start, tests/test_coldstart.py)."""

from __future__ import annotations

from typing import Any

# Where the console answers under its function's URL. infra/topology.yaml declares it (routes.console of the
# api function) for Terraform and the local stack; tests/test_console_units.py holds the two equal, so the
# first request need not parse the topology (~40 ms) to learn it.
CONSOLE_PATH = "/console/"


def mount_console(app: Any) -> list[str]:
    """Register the console and the API's documentation page (/docs) on `app`; the names of the blueprints
    that authenticate their own requests: the console by its session; /docs asks for nothing, as the
    OpenAPI document it shows does not."""
    from shared.console import api_docs
    from shared.console.site import install

    return [install(app, CONSOLE_PATH.rstrip("/")), api_docs.install(app)]
