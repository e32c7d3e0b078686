"""`postgate`: accounts, posts, calendar, campaigns and approvals over the content API.

Exit codes: 0 done, 1 the API refused (its detail is printed) or an account test did not pass,
2 usage or local configuration, 3 the API could not be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from datetime import date, datetime
from functools import cached_property
from urllib.parse import quote

from shared.cli import output
from shared.cli.client import ApiRefused, ApiUnreachable, Client

OK, REFUSED, USAGE, UNREACHABLE = 0, 1, 2, 3
ENV_URL, ENV_TOKEN, ENV_TZ = "POSTGATE_API_URL", "POSTGATE_API_TOKEN", "POSTGATE_TZ"


class UsageError(Exception):
    """Bad arguments or local configuration (exit 2)."""


class Context:
    """Parsed arguments plus what every command needs: the client, the zone, JSON or tables."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.json = bool(args.json)
        try:
            self.tz = output.zone(args.tz or os.environ.get(ENV_TZ) or "UTC")
        except ValueError as exc:
            raise UsageError(f"--tz: {exc}") from None

    @cached_property
    def client(self) -> Client:
        base_url = self.args.api or os.environ.get(ENV_URL, "")
        if not base_url:
            raise UsageError(f"no API URL: pass --api URL or set {ENV_URL}")
        if not re.match(r"^https?://[^/\s]+", base_url):
            raise UsageError(f"API URL {base_url!r} must start with http:// or https://")
        token = self.args.token or os.environ.get(ENV_TOKEN, "")
        if not token:
            raise UsageError(f"no API token: pass --token or set {ENV_TOKEN} "
                             "(for the local stack: postgate token --user you@example.com --role editor)")
        return Client(base_url, token)

    def show(self, data, render) -> None:
        """`--json`: the API's answer as is; otherwise the table `render(data, tz)` prints."""
        if self.json:
            output.print_json(data)
        else:
            render(data, self.tz)


def _seg(value: str) -> str:
    """A path segment: ids are quoted, so `a/b` reaches the API as one (refused) id, not two segments."""
    return quote(value, safe="")


# -- argument types -----------------------------------------------------------------------

def day_arg(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def json_object_arg(value: str) -> dict:
    try:
        data = json.loads(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"posts_per_day\": 5}'")
    return data


def ttl_arg(value: str) -> int:
    """Seconds, or a number with s/m/h/d (`90m`, `12h`, `7d`)."""
    match = re.fullmatch(r"(\d+)([smhd]?)", value.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration (seconds, or e.g. 30m, 12h, 7d)")
    seconds = int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    if not 60 <= seconds <= 90 * 86400:
        raise argparse.ArgumentTypeError("must be between 1 minute and 90 days")
    return seconds


_BOOLS = {"true": True, "false": False, "yes": True, "no": False}


def target_arg(value: str) -> dict:
    """`ACCOUNT[:key=value,...]` -> a target: `tiktok-main:privacy_level=SELF_ONLY,disable_duet=true`.
    true/false become booleans; `tags` takes `|`-separated values."""
    account, _, settings = value.partition(":")
    if not account:
        raise argparse.ArgumentTypeError(f"{value!r}: the account id comes first (ACCOUNT[:key=value,...])")
    target: dict = {"account_id": account}
    for pair in filter(None, settings.split(",")):
        key, eq, raw = pair.partition("=")
        if not eq or not key:
            raise argparse.ArgumentTypeError(f"{pair!r} in {value!r} is not key=value")
        if key == "tags":
            target[key] = [t for t in raw.split("|") if t]
        else:
            target[key] = _BOOLS.get(raw.lower(), raw)
    return target


def when_arg(value: str) -> str:
    """Validated now; made zone-aware later with --tz (see `_when`)."""
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO date-time (e.g. 2025-05-02T09:00 or "
                                         "2025-05-02T09:00+02:00)") from None
    return value


def _when(ctx: Context, value: str | None) -> str | None:
    """An ISO time with offset for the API; a time without one is read in --tz."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ctx.tz)
    return moment.isoformat()


# -- token --------------------------------------------------------------------------------

def cmd_token(ctx: Context) -> int:
    from shared.api.auth import issue_api_token
    from shared.errors import ConfigError

    args = ctx.args
    try:
        key = _api_jwt_key()
    except ConfigError as exc:
        raise UsageError(f"cannot read the API signing key: {exc}") from None
    audience = os.environ.get("POSTGATE_API_AUDIENCE") or "postgate-api"
    token = issue_api_token(key, args.user, args.role, audience=audience, ttl_seconds=args.ttl)
    if ctx.json:
        expires = datetime.fromtimestamp(int(time.time()) + args.ttl).astimezone(ctx.tz)
        output.print_json({"token": token, "user": args.user, "roles": args.role, "expires_at": expires.isoformat()})
    else:
        output.emit(token)
    return OK


def _api_jwt_key() -> str:
    """The HS256 key from the secret store the API itself reads (same variables, same secret name)."""
    from shared.errors import ConfigError
    from shared.stores.secrets import operator_secret_store

    name = os.environ.get("POSTGATE_API_JWT_SECRET") or "api-jwt-key"
    store = operator_secret_store(os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("POSTGATE_PROJECT"))
    try:
        return store.access(name)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - no credentials, no API access: say so, briefly
        raise ConfigError(f"secret store ({type(store).__name__}): {exc}") from None


# -- accounts -----------------------------------------------------------------------------

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
    ctx.show(ctx.client.get(f"/accounts/{_seg(ctx.args.account_id)}"), output.print_record)
    return OK


def cmd_accounts_update(ctx: Context) -> int:
    a = ctx.args
    body = {k: v for k, v in {"handle": a.handle, "limits": a.limits_json}.items() if v is not None}
    if not body:
        raise UsageError("accounts update: give --handle and/or --limits-json")
    ctx.show(ctx.client.patch(f"/accounts/{_seg(a.account_id)}", body), output.print_record)
    return OK


def cmd_accounts_delete(ctx: Context) -> int:
    a = ctx.args
    ctx.client.delete(f"/accounts/{_seg(a.account_id)}", {"force": "true" if a.force else None})
    ctx.show({"id": a.account_id, "deleted": True}, lambda d, tz: output.emit(f"account {a.account_id} deleted"))
    return OK


def cmd_accounts_test(ctx: Context) -> int:
    result = ctx.client.post(f"/accounts/{_seg(ctx.args.account_id)}/test")
    ctx.show(result, output.print_record)
    return OK if result.get("result") == "ok" else REFUSED


def cmd_accounts_connect(ctx: Context) -> int:
    a = ctx.args
    body = {"redirect_after": a.redirect_after} if a.redirect_after else {}
    answer = ctx.client.post(f"/accounts/{_seg(a.account_id)}/connect", body)

    def render(data, tz):
        output.emit(f"Open this URL in a browser to connect {a.account_id} "
                    f"(valid until {output.format_time(data.get('expires_at'), tz)}):")
        output.emit(data["authorize_url"])

    ctx.show(answer, render)
    return OK


# -- posts --------------------------------------------------------------------------------

def cmd_posts_list(ctx: Context) -> int:
    a = ctx.args
    params = {"status": a.status, "platform": a.platform, "account_id": a.account, "campaign": a.campaign,
              "from": _when(ctx, a.from_), "to": _when(ctx, a.to), "q": a.q, "skip": a.skip, "limit": a.limit}
    page = ctx.client.get("/posts", params)
    ctx.show(page, lambda p, tz: output.print_page(p, output.POST_COLUMNS, tz, "posts"))
    return OK


def cmd_posts_show(ctx: Context) -> int:
    ctx.show(ctx.client.get(f"/posts/{_seg(ctx.args.post_id)}"), output.print_post)
    return OK


def cmd_posts_create(ctx: Context) -> int:
    a = ctx.args
    if a.brief:
        own_copy = [name for name in ("campaign", "caption", "hashtag", "video", "image", "target", "at")
                    if getattr(a, name)]
        if own_copy:
            raise UsageError(f"posts create: --brief takes everything from the file; drop --{', --'.join(own_copy)}")
        content = ctx.client.post("/posts/generate", _read_brief(a.brief))
    else:
        missing = [name for name in ("campaign", "caption", "target") if not getattr(a, name)]
        if missing:
            raise UsageError(f"posts create: --{', --'.join(missing)} required (or --brief FILE.json for AI drafts)")
        body = {"campaign": a.campaign, "caption": a.caption, "hashtags": a.hashtag or [], "targets": a.target}
        if a.video:
            body["video"] = a.video
        if a.image:
            body["images"] = a.image
        if a.at:
            body["publish_at"] = _when(ctx, a.at)
        if a.requested_by:
            body["requested_by"] = a.requested_by
        content = ctx.client.post("/posts", body)

    def render(data, tz):
        output.print_content(data, tz)
        output.emit("")
        output.emit(f"content {data.get('id')} is {data.get('status')}: the approver gets a signed link "
                    f"(or: postgate approvals decide {data.get('id')} approve --hash {data.get('content_hash')})")

    ctx.show(content, render)
    return OK


def _read_brief(path: str) -> dict:
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as exc:
        raise UsageError(f"--brief: cannot read {path}: {exc.strerror or exc}") from None
    try:
        brief = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--brief: {path} is not JSON: {exc}") from None
    if not isinstance(brief, dict):
        raise UsageError(f"--brief: {path} must hold a JSON object (the brief's fields)")
    return brief


def cmd_posts_edit(ctx: Context) -> int:
    a = ctx.args
    body = {}
    if a.caption is not None:
        body["caption"] = a.caption
    if a.hashtag is not None:
        body["hashtags"] = a.hashtag
    if a.video is not None:
        body["video"] = a.video
    if a.image is not None:
        body["images"] = a.image
    if a.at is not None:
        body["scheduled_at"] = _when(ctx, a.at)
    if not body:
        raise UsageError("posts edit: give at least one of --caption, --hashtag, --video, --image, --at")
    post = ctx.client.patch(f"/posts/{_seg(a.post_id)}", body)
    ctx.show(post, lambda p, tz: _print_state(p, tz, "edited"))
    return OK


def cmd_posts_cancel(ctx: Context) -> int:
    post = ctx.client.post(f"/posts/{_seg(ctx.args.post_id)}/cancel")
    ctx.show(post, lambda p, tz: _print_state(p, tz, "cancelled"))
    return OK


def cmd_posts_reschedule(ctx: Context) -> int:
    a = ctx.args
    post = ctx.client.post(f"/posts/{_seg(a.post_id)}/reschedule", {"scheduled_at": _when(ctx, a.at)})
    ctx.show(post, lambda p, tz: _print_state(p, tz, "rescheduled"))
    return OK


def cmd_posts_delete(ctx: Context) -> int:
    post_id = ctx.args.post_id
    ctx.client.delete(f"/posts/{_seg(post_id)}")
    ctx.show({"id": post_id, "deleted": True}, lambda d, tz: output.emit(f"post {post_id} deleted"))
    return OK


def _print_state(post: dict, tz, verb: str) -> None:
    output.emit(f"post {post.get('id')} {verb}: now {post.get('status')}, "
                f"scheduled {output.format_time(post.get('scheduled_at'), tz)} "
                f"({post.get('platform')} {post.get('account_id')})")


def cmd_posts_watch(ctx: Context) -> int:
    content_id = ctx.args.content_id
    last_status: dict[str, str] = {}
    for event in ctx.client.events(f"/contents/{_seg(content_id)}/events"):
        data = event.json()
        if ctx.json:
            print(json.dumps({"event": event.event, "id": event.id, "data": data if data is not None else event.data}),
                  flush=True)
            continue
        if event.event == "end":
            reason = data.get("reason") if isinstance(data, dict) else None
            output.emit(f"stream ended{': ' + str(reason) if reason else ''}")
            break
        line = watch_line(data, ctx.tz, last_status)
        if line:
            print(line, flush=True)
    return OK


def watch_line(data, tz, last_status: dict[str, str]) -> str | None:
    """One line per post state change, `10:00:05 CEST  p1  tiktok  queued -> publishing`; a
    state already printed for that post (a resumed stream repeats the current state) prints nothing."""
    if not isinstance(data, dict):
        return None
    post_id = data.get("post_id") or data.get("id")
    status = data.get("to_status") or data.get("status")
    if not post_id or not status or last_status.get(post_id) == status:
        return None
    previous = data.get("from_status") or last_status.get(post_id)
    last_status[post_id] = status
    moment = output.parse_datetime(data.get("at") or "")
    stamp = (moment if moment and moment.tzinfo else datetime.now(tz)).astimezone(tz).strftime("%H:%M:%S %Z")
    change = f"{previous} -> {status}" if previous else status
    extra = [str(data[k]) for k in ("share_url", "fail_reason") if data.get(k)]
    return "  ".join([stamp, post_id, data.get("platform") or "-", change, *extra])


# -- calendar -----------------------------------------------------------------------------

def cmd_calendar(ctx: Context) -> int:
    a = ctx.args
    if a.to < a.from_:
        raise UsageError(f"--to {a.to} is before --from {a.from_}")
    params = {"from": a.from_, "to": a.to, "tz": ctx.tz.key, "platform": a.platform, "account_id": a.account,
              "campaign": a.campaign}
    ctx.show(ctx.client.get("/calendar", params), output.print_calendar)
    return OK


# -- campaigns ----------------------------------------------------------------------------

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
    ctx.show(ctx.client.get(f"/campaigns/{_seg(ctx.args.campaign_id)}"), output.print_record)
    return OK


def cmd_campaigns_update(ctx: Context) -> int:
    a = ctx.args
    body = _campaign_fields(a)
    if not body:
        raise UsageError("campaigns update: give at least one of --name, --description, --status, --starts-on, --ends-on")
    ctx.show(ctx.client.patch(f"/campaigns/{_seg(a.campaign_id)}", body), output.print_record)
    return OK


def cmd_campaigns_delete(ctx: Context) -> int:
    campaign_id = ctx.args.campaign_id
    ctx.client.delete(f"/campaigns/{_seg(campaign_id)}")
    ctx.show({"id": campaign_id, "deleted": True}, lambda d, tz: output.emit(f"campaign {campaign_id} deleted"))
    return OK


def cmd_campaigns_posts(ctx: Context) -> int:
    a = ctx.args
    page = ctx.client.get(f"/campaigns/{_seg(a.campaign_id)}/posts", {"skip": a.skip, "limit": a.limit})
    ctx.show(page, lambda p, tz: output.print_page(p, output.POST_COLUMNS, tz, "posts"))
    return OK


def cmd_campaigns_stats(ctx: Context) -> int:
    a = ctx.args
    if a.to < a.from_:
        raise UsageError(f"--to {a.to} is before --from {a.from_}")
    path = f"/campaigns/{_seg(a.campaign_id)}/analytics"
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


# -- approvals ----------------------------------------------------------------------------

def cmd_approvals_history(ctx: Context) -> int:
    answer = ctx.client.get(f"/contents/{_seg(ctx.args.content_id)}/approvals")

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
    answer = ctx.client.post(f"/contents/{_seg(content_id)}/approval-requests")
    ctx.show(answer, lambda d, tz: output.emit(
        f"approval requested for {d.get('content_id', content_id)} version {d.get('version')} "
        f"(content hash {d.get('content_hash')}); a fresh link is on its way"))
    return OK


def cmd_approvals_decide(ctx: Context) -> int:
    a = ctx.args
    body = {"action": a.action, "content_hash": a.hash}
    if a.reason:
        body["reason"] = a.reason
    answer = ctx.client.post(f"/contents/{_seg(a.content_id)}/decision", body)

    def render(data, tz):
        output.emit(f"{data.get('content_id')} {data.get('decision')} by {data.get('decided_by')} at "
                    f"{output.format_time(data.get('decided_at'), tz)}")
        if data.get("posts"):
            output.emit(output.table(data["posts"], output.POST_COLUMNS[:5], tz))

    ctx.show(answer, render)
    return OK


# -- parser -------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    # Global options work before or after the subcommand; SUPPRESS keeps a subcommand's copy
    # from overwriting a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--api", default=argparse.SUPPRESS, metavar="URL", help=f"API base URL (default ${ENV_URL})")
    common.add_argument("--token", default=argparse.SUPPRESS, help=f"bearer token (default ${ENV_TOKEN})")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print the API's JSON instead of tables")
    common.add_argument("--tz", default=argparse.SUPPRESS, metavar="AREA/CITY",
                        help=f"show and read times in this IANA zone (default ${ENV_TZ} or UTC)")

    parser = argparse.ArgumentParser(prog="postgate", description="Operate Postgate through its content API.",
                                     epilog="exit codes: 0 ok, 1 refused by the API, 2 usage, 3 API unreachable")
    parser.add_argument("--api", default=None, metavar="URL", help=f"API base URL (default ${ENV_URL})")
    parser.add_argument("--token", default=None, help=f"bearer token (default ${ENV_TOKEN})")
    parser.add_argument("--json", action="store_true", default=False, help="print the API's JSON instead of tables")
    parser.add_argument("--tz", default=None, metavar="AREA/CITY",
                        help=f"show and read times in this IANA zone (default ${ENV_TZ} or UTC)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(group, name, handler, help_text):
        sub = group.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    def paging(sub):
        sub.add_argument("--skip", type=int, default=None, help="items to skip")
        sub.add_argument("--limit", type=int, default=None, help="items per page (1-100, default 50)")

    token = command(commands, "token", cmd_token, "mint an HS256 API token from the local secret store")
    token.add_argument("--user", required=True, help="who the token speaks for (e-mail)")
    token.add_argument("--role", required=True, action="append", choices=["editor", "approver"],
                       help="editor, or approver (may also decide); repeatable")
    token.add_argument("--ttl", type=ttl_arg, default=12 * 3600, help="lifetime: seconds or 30m/12h/7d (default 12h)")

    accounts = commands.add_parser("accounts", help="platform accounts").add_subparsers(dest="action", metavar="ACTION",
                                                                                           required=True)
    sub = command(accounts, "list", cmd_accounts_list, "list accounts")
    sub.add_argument("--platform")
    paging(sub)
    sub = command(accounts, "add", cmd_accounts_add, "register an account (then `connect` it)")
    sub.add_argument("account_id", metavar="ID")
    sub.add_argument("--platform", required=True, help="tiktok, instagram, x, youtube or linkedin")
    sub.add_argument("--handle", required=True)
    sub.add_argument("--platform-account-id")
    sub.add_argument("--limits-json", type=json_object_arg, metavar="JSON", help="per-account caps, a JSON object")
    sub = command(accounts, "show", cmd_accounts_show, "one account")
    sub.add_argument("account_id", metavar="ID")
    sub = command(accounts, "update", cmd_accounts_update, "change an account's handle or limits")
    sub.add_argument("account_id", metavar="ID")
    sub.add_argument("--handle")
    sub.add_argument("--limits-json", type=json_object_arg, metavar="JSON")
    sub = command(accounts, "delete", cmd_accounts_delete, "remove an account (refused while posts are scheduled)")
    sub.add_argument("account_id", metavar="ID")
    sub.add_argument("--force", action="store_true", help="even with scheduled posts")
    sub = command(accounts, "test", cmd_accounts_test, "check the stored credentials against the platform")
    sub.add_argument("account_id", metavar="ID")
    sub = command(accounts, "connect", cmd_accounts_connect, "print the platform's authorize URL to open")
    sub.add_argument("account_id", metavar="ID")
    sub.add_argument("--redirect-after", metavar="URL", help="where the browser goes once connected")

    posts = commands.add_parser("posts", help="posts and content items").add_subparsers(dest="action", metavar="ACTION",
                                                                                         required=True)
    sub = command(posts, "list", cmd_posts_list, "list posts (filters combine)")
    sub.add_argument("--status")
    sub.add_argument("--platform")
    sub.add_argument("--account", metavar="ACCOUNT_ID")
    sub.add_argument("--campaign")
    sub.add_argument("--from", dest="from_", type=when_arg, metavar="ISO",
                     help="scheduled at or after (a date means its midnight; without an offset: in --tz)")
    sub.add_argument("--to", type=when_arg, metavar="ISO", help="scheduled before (like --from)")
    sub.add_argument("--q", metavar="TEXT", help="text in the caption")
    paging(sub)
    sub = command(posts, "show", cmd_posts_show, "one post with its history")
    sub.add_argument("post_id", metavar="POST_ID")
    sub = command(posts, "create", cmd_posts_create,
                  "create content from your own copy, or AI drafts from --brief; both wait for approval")
    sub.add_argument("--brief", metavar="FILE.json", help="a brief for AI drafts (POST /posts/generate); - for stdin")
    sub.add_argument("--campaign")
    sub.add_argument("--caption", metavar="TEXT")
    sub.add_argument("--hashtag", action="append", metavar="TAG", help="repeatable")
    sub.add_argument("--video", metavar="gs://BUCKET/OBJECT")
    sub.add_argument("--image", action="append", metavar="gs://BUCKET/OBJECT", help="repeatable")
    sub.add_argument("--target", action="append", type=target_arg, metavar="ACCOUNT[:key=value,...]",
                     help="repeatable, e.g. tiktok-main:privacy_level=PUBLIC_TO_EVERYONE")
    sub.add_argument("--at", type=when_arg, metavar="ISO", help="publish time (without an offset: in --tz)")
    sub.add_argument("--requested-by", metavar="EMAIL")
    sub = command(posts, "edit", cmd_posts_edit, "change text, media or time (text/media edits need a new approval)")
    sub.add_argument("post_id", metavar="POST_ID")
    sub.add_argument("--caption", metavar="TEXT")
    sub.add_argument("--hashtag", action="append", metavar="TAG")
    sub.add_argument("--video", metavar="gs://BUCKET/OBJECT")
    sub.add_argument("--image", action="append", metavar="gs://BUCKET/OBJECT")
    sub.add_argument("--at", type=when_arg, metavar="ISO")
    sub = command(posts, "watch", cmd_posts_watch, "follow a content item's posts live until they settle")
    sub.add_argument("content_id", metavar="CONTENT_ID")
    sub = command(posts, "cancel", cmd_posts_cancel, "cancel a post not yet published")
    sub.add_argument("post_id", metavar="POST_ID")
    sub = command(posts, "reschedule", cmd_posts_reschedule, "move a post to a new time (account caps apply)")
    sub.add_argument("post_id", metavar="POST_ID")
    sub.add_argument("--at", type=when_arg, required=True, metavar="ISO")
    sub = command(posts, "delete", cmd_posts_delete, "delete a draft or unpublished post")
    sub.add_argument("post_id", metavar="POST_ID")

    sub = command(commands, "calendar", cmd_calendar, "posts between two dates, grouped by day in --tz")
    sub.add_argument("--from", dest="from_", type=day_arg, required=True, metavar="YYYY-MM-DD")
    sub.add_argument("--to", type=day_arg, required=True, metavar="YYYY-MM-DD")
    sub.add_argument("--platform")
    sub.add_argument("--account", metavar="ACCOUNT_ID")
    sub.add_argument("--campaign")

    campaigns = commands.add_parser("campaigns", help="campaigns").add_subparsers(dest="action", metavar="ACTION",
                                                                                   required=True)
    sub = command(campaigns, "list", cmd_campaigns_list, "list campaigns")
    sub.add_argument("--status")
    paging(sub)
    sub = command(campaigns, "show", cmd_campaigns_show, "one campaign")
    sub.add_argument("campaign_id", metavar="ID")
    for name, handler, help_text in (("create", cmd_campaigns_create, "create a campaign"),
                                     ("update", cmd_campaigns_update, "change a campaign")):
        sub = command(campaigns, name, handler, help_text)
        sub.add_argument("campaign_id", metavar="ID", nargs="?" if name == "create" else None)
        sub.add_argument("--name", required=name == "create")
        sub.add_argument("--description")
        sub.add_argument("--status")
        sub.add_argument("--starts-on", type=day_arg, metavar="YYYY-MM-DD")
        sub.add_argument("--ends-on", type=day_arg, metavar="YYYY-MM-DD")
    sub = command(campaigns, "delete", cmd_campaigns_delete, "delete a campaign (refused while it has scheduled posts)")
    sub.add_argument("campaign_id", metavar="ID")
    sub = command(campaigns, "posts", cmd_campaigns_posts, "a campaign's posts")
    sub.add_argument("campaign_id", metavar="ID")
    paging(sub)
    sub = command(campaigns, "stats", cmd_campaigns_stats,
                  "a campaign's numbers per platform and UTC day, with totals (from BigQuery)")
    sub.add_argument("campaign_id", metavar="ID")
    sub.add_argument("--from", dest="from_", type=day_arg, required=True, metavar="YYYY-MM-DD", help="first UTC day")
    sub.add_argument("--to", type=day_arg, required=True, metavar="YYYY-MM-DD", help="last UTC day (inclusive)")
    sub.add_argument("--link", action="store_true",
                     help="print a short-lived link to the campaign page with charts instead")

    approvals = commands.add_parser("approvals", help="approval history, requests and decisions").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    sub = command(approvals, "history", cmd_approvals_history, "a content item's decisions, rejection reasons included")
    sub.add_argument("content_id", metavar="CONTENT_ID")
    sub = command(approvals, "request", cmd_approvals_request, "ask for approval again (sends a fresh link)")
    sub.add_argument("content_id", metavar="CONTENT_ID")
    sub = command(approvals, "decide", cmd_approvals_decide, "approve or reject as an approver")
    sub.add_argument("content_id", metavar="CONTENT_ID")
    sub.add_argument("action", choices=["approve", "reject"])
    sub.add_argument("--hash", required=True, metavar="CONTENT_HASH",
                     help="the content hash you reviewed (see `approvals history`); a changed item is refused")
    sub.add_argument("--reason")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2, message already printed)
        return exc.code if isinstance(exc.code, int) else USAGE
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return USAGE
    try:
        return args.handler(Context(args))
    except UsageError as exc:
        print(f"postgate: error: {exc}", file=sys.stderr)
        return USAGE
    except ApiRefused as exc:
        print(f"postgate: {exc.message()}", file=sys.stderr)
        return REFUSED
    except ApiUnreachable as exc:
        print(f"postgate: {exc}", file=sys.stderr)
        return UNREACHABLE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
