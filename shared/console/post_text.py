"""How the console writes a post's facts for people: its status in words (each status also has a
colour, `status-<name>` in static/posts.css, never the colour alone), the start of its caption, its
account and its times in the reader's zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from shared.console.zone import local
from shared.model.account import Account

STATUS_LABELS = {
    "draft": "Draft",
    "pending_approval": "Waiting for approval",
    "approved": "Approved",
    "scheduled": "Scheduled",
    "queued": "Queued",
    "publishing": "Publishing",
    "processing": "Processing",
    "published": "Published",
    "rejected": "Rejected",
    "cancelled": "Cancelled",
    "failed": "Failed",
}
CAPTION_START_CHARS = 60


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def caption_start(text: str | None, chars: int = CAPTION_START_CHARS) -> str:
    """The caption's first line, cut at `chars` with an ellipsis."""
    first = ((text or "").strip().splitlines() or [""])[0].strip()
    if not first:
        return "(no caption)"
    return first if len(first) <= chars else first[: chars - 1].rstrip() + "…"


def account_label(account_id: str, account: Account | None) -> str:
    """@handle when the account has one, else its id."""
    handle = (account or {}).get("handle")
    return f"@{handle}" if handle else account_id


def clock_text(moment: datetime, zone: ZoneInfo) -> str:
    """14:05"""
    return f"{local(moment, zone):%H:%M}"


def when_text(moment: datetime | None, zone: ZoneInfo) -> str:
    """Tue 30 Mar 2027, 14:05 (in `zone`)."""
    if moment is None:
        return "—"
    at = local(moment, zone)
    return f"{at:%a} {at.day} {at:%b %Y}, {at:%H:%M}"


def short_when(moment: datetime, zone: ZoneInfo) -> str:
    """30 Mar 14:05 (chart labels)."""
    at = local(moment, zone)
    return f"{at.day} {at:%b} {at:%H:%M}"
