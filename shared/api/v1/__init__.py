"""The seed's social media service API, served under /api/v1 by the `api` function (docs/api.md, "/api/v1").

One module per resource, each exposing `blueprint` (conventions.v1_blueprint); shared/api/app.py
registers every module of V1_MODULES like its own ROUTE_MODULES, so authentication, roles, the rate
limit, bounded bodies, strict JSON and the error answers are the same. The routes only translate the
seed's bodies and ids onto the services our own routes call.
"""

from __future__ import annotations

from types import ModuleType

from shared.api.v1 import accounts, analytics, buffer, campaigns, posts

# Each resource module, once written, is added here (and imported above).
V1_MODULES: tuple[ModuleType, ...] = (accounts, buffer, posts, analytics, campaigns)
