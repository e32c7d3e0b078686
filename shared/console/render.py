"""Rendering console pages: the base layout's data (navigation, the signed-in user, the count of items
waiting for approval) and the error page. Templates live in shared/console/templates/console/; Flask's
Jinja environment compiles each one at its first use and keeps it."""

from __future__ import annotations

from dataclasses import dataclass

import flask

from shared import services
from shared.console.session import role_name

WAITING = "pending_approval"


@dataclass(frozen=True)
class NavItem:
    page: str  # the page module under shared/console/pages/ and its endpoint (console.<page>)
    label: str


# The console's sections, in the order the navigation shows them.
NAV = (NavItem("queue", "Queue"), NavItem("calendar", "Calendar"), NavItem("compose", "Compose"),
       NavItem("accounts", "Accounts"), NavItem("campaigns", "Campaigns"), NavItem("youtube", "YouTube"),
       NavItem("catalogue", "Catalogue"))


def page(template: str, *, status: int = 200, **context: object):
    """A console page: `template` extends console/base.html; `context` is the page's own data."""
    principal = getattr(flask.g, "console_principal", None)
    html = flask.render_template(template, principal=principal, role=role_name(principal) if principal else None,
                                 nav=NAV, section=_section(), **context)
    return flask.Response(html, status=status, content_type="text/html; charset=utf-8")


def error_page(status: int, title: str, message: str):
    return page("console/error.html", status=status, title=title, message=message)


def waiting_count() -> int:
    """Content items waiting for approval (one aggregation query, once per request)."""
    if "console_waiting" not in flask.g:
        flask.g.console_waiting = services.repository().count_contents(WAITING)
    return flask.g.console_waiting


def _section() -> str | None:
    """The navigation entry the current page belongs to (marked aria-current)."""
    endpoint = flask.request.endpoint or ""
    name = endpoint.split(".", 1)[-1]
    return next((item.page for item in NAV if name == item.page or name.startswith(item.page + "_")), None)
