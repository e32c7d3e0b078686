"""`postgate`: accounts, posts, calendar, campaigns and approvals over the content API.

This module assembles the argument parser and dispatches to the command handlers, which live one
module per command group (accounts, posts, campaigns, approvals, api_token).

Exit codes: 0 done, 1 the API refused (its detail is printed) or an account test did not pass,
2 usage or local configuration, 3 the API could not be reached.
"""

from __future__ import annotations

import argparse
import sys

from shared.cli.accounts import (
    cmd_accounts_add,
    cmd_accounts_connect,
    cmd_accounts_delete,
    cmd_accounts_list,
    cmd_accounts_show,
    cmd_accounts_test,
    cmd_accounts_update,
)
from shared.cli.api_token import cmd_token
from shared.cli.approvals import cmd_approvals_decide, cmd_approvals_history, cmd_approvals_request
from shared.cli.arguments import day_arg, json_object_arg, target_arg, ttl_arg, when_arg
from shared.cli.campaigns import (
    cmd_campaigns_create,
    cmd_campaigns_delete,
    cmd_campaigns_list,
    cmd_campaigns_posts,
    cmd_campaigns_show,
    cmd_campaigns_stats,
    cmd_campaigns_update,
)
from shared.cli.client import ApiRefused, ApiUnreachable
from shared.cli.context import ENV_TOKEN, ENV_TZ, ENV_URL, REFUSED, UNREACHABLE, USAGE, Context, UsageError
from shared.cli.posts import (
    cmd_calendar,
    cmd_posts_cancel,
    cmd_posts_create,
    cmd_posts_delete,
    cmd_posts_edit,
    cmd_posts_list,
    cmd_posts_reschedule,
    cmd_posts_show,
    cmd_posts_watch,
)
from shared.model.platform import PLATFORMS


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
    sub.add_argument("--platform", required=True, help=", ".join(PLATFORMS))
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
