"""`postgate posts ...` (list, show, create, edit, watch, cancel, reschedule, delete) and `postgate
calendar`: posts and the content items they come from."""

from __future__ import annotations

import json
import sys
from datetime import datetime

from shared.cli import output
from shared.cli.context import OK, Context, UsageError, seg, when


def cmd_posts_list(ctx: Context) -> int:
    a = ctx.args
    params = {"status": a.status, "platform": a.platform, "account_id": a.account, "campaign": a.campaign,
              "from": when(ctx, a.from_), "to": when(ctx, a.to), "q": a.q, "skip": a.skip, "limit": a.limit}
    page = ctx.client.get("/posts", params)
    ctx.show(page, lambda p, tz: output.print_page(p, output.POST_COLUMNS, tz, "posts"))
    return OK


def cmd_posts_show(ctx: Context) -> int:
    ctx.show(ctx.client.get(f"/posts/{seg(ctx.args.post_id)}"), output.print_post)
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
            body["publish_at"] = when(ctx, a.at)
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
        body["scheduled_at"] = when(ctx, a.at)
    if not body:
        raise UsageError("posts edit: give at least one of --caption, --hashtag, --video, --image, --at")
    post = ctx.client.patch(f"/posts/{seg(a.post_id)}", body)
    ctx.show(post, lambda p, tz: _print_state(p, tz, "edited"))
    return OK


def cmd_posts_cancel(ctx: Context) -> int:
    post = ctx.client.post(f"/posts/{seg(ctx.args.post_id)}/cancel")
    ctx.show(post, lambda p, tz: _print_state(p, tz, "cancelled"))
    return OK


def cmd_posts_reschedule(ctx: Context) -> int:
    a = ctx.args
    post = ctx.client.post(f"/posts/{seg(a.post_id)}/reschedule", {"scheduled_at": when(ctx, a.at)})
    ctx.show(post, lambda p, tz: _print_state(p, tz, "rescheduled"))
    return OK


def cmd_posts_delete(ctx: Context) -> int:
    post_id = ctx.args.post_id
    ctx.client.delete(f"/posts/{seg(post_id)}")
    ctx.show({"id": post_id, "deleted": True}, lambda d, tz: output.emit(f"post {post_id} deleted"))
    return OK


def _print_state(post: dict, tz, verb: str) -> None:
    output.emit(f"post {post.get('id')} {verb}: now {post.get('status')}, "
                f"scheduled {output.format_time(post.get('scheduled_at'), tz)} "
                f"({post.get('platform')} {post.get('account_id')})")


def cmd_posts_watch(ctx: Context) -> int:
    content_id = ctx.args.content_id
    last_status: dict[str, str] = {}
    for event in ctx.client.events(f"/contents/{seg(content_id)}/events"):
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


def cmd_calendar(ctx: Context) -> int:
    a = ctx.args
    if a.to < a.from_:
        raise UsageError(f"--to {a.to} is before --from {a.from_}")
    params = {"from": a.from_, "to": a.to, "tz": ctx.tz.key, "platform": a.platform, "account_id": a.account,
              "campaign": a.campaign}
    ctx.show(ctx.client.get("/calendar", params), output.print_calendar)
    return OK
