"""api: the content API a team works in (accounts, posts, calendar, campaigns, approvals, live status)."""

import functions_framework

from shared.api.app import dispatch
from shared.runtime.handlers import ensure_logging


@functions_framework.http
def api(request):
    ensure_logging()
    return dispatch(request)
