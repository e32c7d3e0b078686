"""api: the content API a team works in (accounts, posts, calendar, campaigns, approvals, live status),
and the console's pages under /console/ (infra/topology.yaml routes)."""

import functions_framework

from shared import entrypoints
from shared.api.errors import framework_errors_as_json
from shared.api.mounts import MOUNTS
from shared.console.mount import mount_console
from shared.runtime.handlers import ensure_logging

framework_errors_as_json()
MOUNTS["console"] = mount_console


@functions_framework.http
def api(request):
    ensure_logging()
    return entrypoints.api(request)
