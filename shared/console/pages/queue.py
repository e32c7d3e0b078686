"""The approval queue (placeholder until its page is built): every content item waiting for approval,
oldest first, with its age. Reading is open to editors and approvers alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import flask

from shared import services
from shared.console import render
from shared.model.content import ContentItem
from shared.runtime.clock import as_utc, utcnow

SHOWN = 100
TITLE_CHARS = 80


@dataclass(frozen=True)
class Waiting:
    content_id: str
    title: str
    campaign: str
    targets: int
    age: str
    created_at: datetime


def register(bp: flask.Blueprint) -> None:
    bp.add_url_rule("/queue", "queue", queue_page)


def queue_page():
    now = utcnow()
    items = [_waiting(c, now) for c in services.repository().contents_with_status(render.WAITING, SHOWN)]
    return render.page("console/queue.html", title="Approval queue", items=items, shown=SHOWN)


def _waiting(content: ContentItem, now: datetime) -> Waiting:
    first_line = (content.caption.strip().splitlines() or [""])[0]
    title = first_line if len(first_line) <= TITLE_CHARS else first_line[: TITLE_CHARS - 1].rstrip() + "…"
    created = as_utc(content.created_at)
    return Waiting(content.id, title or "(no caption)", content.campaign, len(content.targets),
                   age_text((now - created).total_seconds()), created)


def age_text(seconds: float) -> str:
    """How long an item has waited, in the largest unit that fits: "45 min", "3 h", "2 d"."""
    minutes = max(0, int(seconds // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"
