"""`postgate approvals ...`: a content item's approval history, a fresh approval request, a decision."""

from __future__ import annotations

from shared.cli import output
from shared.cli.context import OK, Context, seg


def cmd_approvals_history(ctx: Context) -> int:
    answer = ctx.client.get(f"/contents/{seg(ctx.args.content_id)}/approvals")

    def render(data, tz):
        output.print_record(data, tz, skip=("history", "current"))
        history = data.get("history") or []
        output.emit("")
        if not history:
            output.emit("no decisions yet")
            return
        rows = [{**entry, "content_hash": (entry.get("content_hash") or "")[:12]} for entry in history]
        output.emit(output.table(rows, [("event", "EVENT"), ("at", "WHEN"), ("by", "BY"), ("version", "VERSION"),
                                        ("content_hash", "HASH"), ("reason", "REASON")], tz))

    ctx.show(answer, render)
    return OK


def cmd_approvals_request(ctx: Context) -> int:
    content_id = ctx.args.content_id
    answer = ctx.client.post(f"/contents/{seg(content_id)}/approval-requests")
    ctx.show(answer, lambda d, tz: output.emit(
        f"approval requested for {d.get('content_id', content_id)} version {d.get('version')} "
        f"(content hash {d.get('content_hash')}); a fresh link is on its way"))
    return OK


def cmd_approvals_decide(ctx: Context) -> int:
    a = ctx.args
    body = {"action": a.action, "content_hash": a.hash}
    if a.reason:
        body["reason"] = a.reason
    answer = ctx.client.post(f"/contents/{seg(a.content_id)}/decision", body)

    def render(data, tz):
        output.emit(f"{data.get('content_id')} {data.get('decision')} by {data.get('decided_by')} at "
                    f"{output.format_time(data.get('decided_at'), tz)}")
        if data.get("posts"):
            output.emit(output.table(data["posts"], output.POST_COLUMNS[:5], tz))

    ctx.show(answer, render)
    return OK
