"""`postgate accounts ...`: list, add, show, update, delete, test and connect platform accounts."""

from __future__ import annotations

from shared.cli import output
from shared.cli.context import OK, REFUSED, Context, UsageError, seg


def cmd_accounts_list(ctx: Context) -> int:
    a = ctx.args
    page = ctx.client.get("/accounts", {"platform": a.platform, "skip": a.skip, "limit": a.limit})
    ctx.show(page, lambda p, tz: output.print_page(p, output.ACCOUNT_COLUMNS, tz, "accounts"))
    return OK


def cmd_accounts_add(ctx: Context) -> int:
    a = ctx.args
    body = {"id": a.account_id, "platform": a.platform, "handle": a.handle}
    if a.platform_account_id:
        body["platform_account_id"] = a.platform_account_id
    if a.limits_json is not None:
        body["limits"] = a.limits_json
    ctx.show(ctx.client.post("/accounts", body), output.print_record)
    return OK


def cmd_accounts_show(ctx: Context) -> int:
    ctx.show(ctx.client.get(f"/accounts/{seg(ctx.args.account_id)}"), output.print_record)
    return OK


def cmd_accounts_update(ctx: Context) -> int:
    a = ctx.args
    body = {k: v for k, v in {"handle": a.handle, "limits": a.limits_json}.items() if v is not None}
    if not body:
        raise UsageError("accounts update: give --handle and/or --limits-json")
    ctx.show(ctx.client.patch(f"/accounts/{seg(a.account_id)}", body), output.print_record)
    return OK


def cmd_accounts_delete(ctx: Context) -> int:
    a = ctx.args
    ctx.client.delete(f"/accounts/{seg(a.account_id)}", {"force": "true" if a.force else None})
    ctx.show({"id": a.account_id, "deleted": True}, lambda d, tz: output.emit(f"account {a.account_id} deleted"))
    return OK


def cmd_accounts_test(ctx: Context) -> int:
    result = ctx.client.post(f"/accounts/{seg(ctx.args.account_id)}/test")
    ctx.show(result, output.print_record)
    return OK if result.get("result") == "ok" else REFUSED


def cmd_accounts_connect(ctx: Context) -> int:
    a = ctx.args
    body = {"redirect_after": a.redirect_after} if a.redirect_after else {}
    answer = ctx.client.post(f"/accounts/{seg(a.account_id)}/connect", body)

    def render(data, tz):
        output.emit(f"Open this URL in a browser to connect {a.account_id} "
                    f"(valid until {output.format_time(data.get('expires_at'), tz)}):")
        output.emit(data["authorize_url"])

    ctx.show(answer, render)
    return OK
