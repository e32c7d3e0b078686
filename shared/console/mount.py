"""Adds the console to the API's Flask app (functions/api/main.py registers this in shared.api.app.MOUNTS).

Only the standard library and shared/ load with this module: the blueprint, Flask-WTF and the templates
load when the app is built, at the function's first request (cold start, tests/test_coldstart.py)."""

from __future__ import annotations

from typing import Any


def mount_console(app: Any) -> list[str]:
    """Register the console on `app` at the path infra/topology.yaml declares for it; the names of
    the blueprints that authenticate their own requests (by the console's session)."""
    from shared.console.site import install
    from shared.topology import get_topology

    _function, prefix = get_topology().route("console")
    return [install(app, prefix.rstrip("/"))]
