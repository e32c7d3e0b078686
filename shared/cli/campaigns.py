"""`postgate campaigns ...`: list, show, create, update and delete campaigns, their posts and their numbers."""

from __future__ import annotations

from shared.cli import output
from shared.cli.context import OK, Context, UsageError, seg


def cmd_campaigns_list(ctx: Context) -> int:
    a = ctx.args
    page = ctx.client.get("/campaigns", {"status": a.status, "skip": a.skip, "limit": a.limit})
    ctx.show(page, lambda p, tz: output.print_page(p, output.CAMPAIGN_COLUMNS, tz, "campaigns"))
    return OK


def _campaign_fields(a) -> dict:
    return {k: v for k, v in {"name": a.name, "description": a.description, "status": a.status,
                              "starts_on": a.starts_on, "ends_on": a.ends_on}.items() if v is not None}


def cmd_campaigns_create(ctx: Context) -> int:
    a = ctx.args
    body = _campaign_fields(a)
    if a.campaign_id:
        body = {"id": a.campaign_id, **body}
    ctx.show(ctx.client.post("/campaigns", body), output.print_record)
    return OK


def cmd_campaigns_show(ctx: Context) -> int:
    ctx.show(ctx.client.get(f"/campaigns/{seg(ctx.args.campaign_id)}"), output.print_record)
    return OK


def cmd_campaigns_update(ctx: Context) -> int:
    a = ctx.args
    body = _campaign_fields(a)
    if not body:
        raise UsageError("campaigns update: give at least one of --name, --description, --status, --starts-on, --ends-on")
    ctx.show(ctx.client.patch(f"/campaigns/{seg(a.campaign_id)}", body), output.print_record)
    return OK


def cmd_campaigns_delete(ctx: Context) -> int:
    campaign_id = ctx.args.campaign_id
    ctx.client.delete(f"/campaigns/{seg(campaign_id)}")
    ctx.show({"id": campaign_id, "deleted": True}, lambda d, tz: output.emit(f"campaign {campaign_id} deleted"))
    return OK


def cmd_campaigns_posts(ctx: Context) -> int:
    a = ctx.args
    page = ctx.client.get(f"/campaigns/{seg(a.campaign_id)}/posts", {"skip": a.skip, "limit": a.limit})
    ctx.show(page, lambda p, tz: output.print_page(p, output.POST_COLUMNS, tz, "posts"))
    return OK


def cmd_campaigns_stats(ctx: Context) -> int:
    a = ctx.args
    if a.to < a.from_:
        raise UsageError(f"--to {a.to} is before --from {a.from_}")
    path = f"/campaigns/{seg(a.campaign_id)}/analytics"
    params = {"from": a.from_, "to": a.to}
    if a.link:
        answer = ctx.client.get(path + "/link", params)

        def render(data, tz):
            output.emit(f"Open in a browser (valid until {output.format_time(data.get('expires_at'), tz)}):")
            output.emit(data["url"])

        ctx.show(answer, render)
        return OK
    ctx.show(ctx.client.get(path, params), output.print_campaign_stats)
    return OK
