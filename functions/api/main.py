"""api: the content API a team works in (accounts, posts, calendar, campaigns, approvals, live status)."""

import functions_framework

from shared import entrypoints
from shared.api.errors import framework_errors_as_json
from shared.runtime.handlers import ensure_logging

framework_errors_as_json()


@functions_framework.http
def api(request):
    ensure_logging()
    return entrypoints.api(request)
