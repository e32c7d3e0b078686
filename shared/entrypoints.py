"""What each deployed function does: functions/<name>/main.py calls one of these.

This module is the functions' one lazy boundary (cold start, tests/test_coldstart.py). An entry
module imports it and nothing heavy, so it loads in about the time of a bare `import
functions_framework`. Each function below imports its handler module (shared/handlers/<name>.py; the
API's app, shared/api/app.py) at its first call: the handler imports pydantic, the Google clients,
the pipeline and the features at its top, and a function pays only for its own handler. Every other
module in shared/handlers and shared/api imports at its top.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    import flask

    from shared.analytics.fanout import PullSummary
    from shared.analytics.fetch import FetchSummary
    from shared.approval.pages import PageResult
    from shared.catalogue.refresh import ChannelRefresh
    from shared.model.content import ContentItem
    from shared.publishing.dispatch import DispatchSummary
    from shared.publishing.publisher import PublishOutcome
    from shared.publishing.status_poll import PollSummary
    from shared.publishing.token_refresh import RefreshSummary
    from shared.reports.summary import ReportSummary


def generate(brief_payload: dict[str, Any], idempotency_key: str | None = None) -> ContentItem:
    """Brief -> draft -> content-created message. Returns the ContentItem."""
    from shared.handlers import generate as handler

    return handler.generate(brief_payload, idempotency_key)


def notify_approvers(payload: dict[str, Any]) -> int:
    from shared.handlers import approval as handler

    return handler.notify_approvers(payload)


def approval_page(method: str, form: dict[str, str], query_token: str | None = None) -> PageResult:
    """The approval HTTP function (shared/handlers/approval.py says which page when)."""
    from shared.handlers import approval as handler

    return handler.approval_page(method, form, query_token)


def publish(payload: dict[str, Any]) -> PublishOutcome:
    from shared.handlers import publish as handler

    return handler.publish(payload)


def poll() -> PollSummary:
    from shared.handlers import status_poll as handler

    return handler.poll()


def poll_owed_work() -> tuple[Callable[..., object], ...]:
    """What the status poll also settles each tick (shared/handlers/status_poll.py)."""
    from shared.handlers import status_poll as handler

    return handler.poll_owed_work()


def refresh_tokens() -> RefreshSummary:
    from shared.handlers import token_refresh as handler

    return handler.refresh_tokens()


def dispatch() -> DispatchSummary:
    """Send scheduled posts that are due and parked posts whose wait is over to their platform topics."""
    from shared.handlers import dispatch as handler

    return handler.dispatch()


def pull_metrics(payload: dict[str, Any], message_id: str | None = None) -> PullSummary:
    from shared.handlers import analytics as handler

    return handler.pull_metrics(payload, message_id)


def fetch_metrics(payload: dict[str, Any], message_id: str = "") -> FetchSummary:
    from shared.handlers import analytics as handler

    return handler.fetch_metrics(payload, message_id)


def refresh_catalogue(payload: dict[str, Any], message_id: str | None = None) -> list[ChannelRefresh]:
    from shared.handlers import catalogue as handler

    return handler.refresh_catalogue(payload, message_id)


def ingest_report(payload: dict[str, Any], attributes: dict[str, str]) -> ReportSummary | None:
    from shared.handlers import reports as handler

    return handler.ingest_notification(payload, attributes)


def api(request: flask.Request) -> flask.typing.ResponseReturnValue:
    """The content API: the app is built at the first request (shared/api/app.py)."""
    from shared.api import app as handler

    return handler.dispatch(request)
