"""Other front doors the api function serves on the API's Flask app (the console), registered by the
entry module (functions/api/main.py) so that shared.api never imports them. Loaded with the entry
module: the standard library only."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

# name -> mount(app): adds its routes and returns the names of the blueprints that authenticate their
# own requests (no bearer token asked for there).
MOUNTS: dict[str, Callable[[Any], Iterable[str]]] = {}
OWN_AUTH_BLUEPRINTS = "postgate_own_auth_blueprints"  # app.extensions key: those blueprint names
