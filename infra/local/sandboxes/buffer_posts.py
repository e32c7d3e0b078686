"""What the Buffer sandbox's GraphQL operations do (the resolvers buffer.py hands to graphql-core), and
a post's life: createPost's rules, the views of accounts, channels and posts in Buffer's field names,
and how a due post ends `sent` or `error`.

Pages: https://developers.buffer.com/reference.html (types), guides/posts-and-scheduling (ShareMode,
statuses), guides/hosting-media (asset URLs are fetched; Buffer fetches them again when the post goes
out), guides/error-handling (typed MutationError answers; NOT_FOUND / FORBIDDEN in `errors`). The
minimum payload per network is Buffer's CLI guide's table (developers.buffer.com/guides/cli, the
"pitfalls" context it ships). Where the pages say nothing the choice is ours and says so.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError

from infra.local.sandboxes.engagement import engagement

ACTIVE = ("scheduled", "sending")
DEFAULT_PAGE, MAX_PAGE = 20, 100  # posts(first:): neither is documented; ours
HOUR = 3600.0
PAST_GRACE = 60.0  # a customScheduled dueAt this far in the past is still accepted (ours)
SEND_FAILED = "The media could not be fetched from its URL when the post was sent"
DISCONNECTED = "The channel was disconnected from Buffer"
# Per-network minimum payload [Buffer CLI guide]: (media kinds of which one is needed, metadata key, its
# required fields)
NEEDS: dict[str, tuple[tuple[str, ...], str | None, tuple[str, ...]]] = {
    "instagram": (("image", "video"), "instagram", ()),
    "tiktok": (("image", "video"), None, ()),
    "youtube": (("video",), "youtube", ("title", "categoryId")),
    "pinterest": (("image",), "pinterest", ("boardServiceId",)),
    "googlebusiness": ((), "google", ()),
}
_ALNUM = string.ascii_letters + string.digits


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def object_id(now: float) -> str:
    """A MongoDB-ObjectId-like id (Buffer's ids are ObjectIds): 4 bytes of time, 8 random."""
    return f"{int(now) & 0xFFFFFFFF:08x}{secrets.token_hex(8)}"


def _code(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def _digits(n: int) -> str:
    return str(secrets.randbelow(9 * 10 ** (n - 1)) + 10 ** (n - 1))


def external_link(service: str, channel: dict) -> str | None:
    """The post's URL on the network, in the network's own form (None where Buffer gives none)."""
    name = channel["name"].lstrip("@")
    return {
        "twitter": f"https://x.com/{name}/status/{_digits(19)}",
        "instagram": f"https://www.instagram.com/p/{_code(11)}/",
        "facebook": f"https://www.facebook.com/{channel['service_id']}/posts/{_digits(16)}",
        "linkedin": f"https://www.linkedin.com/feed/update/urn:li:share:{_digits(19)}/",
        "tiktok": f"https://www.tiktok.com/@{name}/video/{_digits(19)}",
        "youtube": f"https://www.youtube.com/watch?v={_code(11)}",
        "threads": f"https://www.threads.net/@{name}/post/{_code(11)}",
        "bluesky": f"https://bsky.app/profile/{name}/post/{_code(13).lower()}",
        "mastodon": f"https://mastodon.social/@{name}/{_digits(18)}",
        "pinterest": f"https://www.pinterest.com/pin/{_digits(18)}/",
    }.get(service)


def is_due(post: dict, now: float) -> bool:
    return (post["status"] in ACTIVE and post["scheduling_type"] == "automatic" and post["due"] is not None
            and post["due"] <= now)


def finish(sandbox: Any, post_id: str) -> None:
    """The post goes out: the media are fetched again, then it is `sent` (sentAt, externalLink) or `error`."""
    with sandbox.lock():
        _, _, channels, posts = sandbox.records()
        post = posts.get(post_id)
        if post is None or post["status"] not in ACTIVE or post.get("_finishing"):
            return
        post["_finishing"] = True
        channel, failure = channels[post["channel_id"]], post.get("_fail")
    if failure is None and channel["is_disconnected"]:
        failure = DISCONNECTED
    if failure is None and any(not _fetch_ok(sandbox, a["url"], a["type"]) for a in post["assets"]):
        failure = SEND_FAILED
    with sandbox.lock():
        now = sandbox.clock()
        post.pop("_finishing", None)
        post["updated"] = now
        if failure is not None:
            post.update(status="error", error={"message": failure, "supportUrl": "https://support.buffer.com/"})
        else:
            post.update(status="sent", sent=now, external_link=external_link(channel["service"], channel))


def _fetch_ok(sandbox: Any, url: str, kind: str) -> bool:
    status, mime = sandbox.fetch(url)
    return 200 <= status < 300 and (kind == "document" or mime.startswith(kind + "/"))


def _typed(kind: str, message: str) -> dict:
    return {"__typename": kind, "message": message}


class Resolvers:
    """The root fields of Buffer's Query and Mutation for one request (graphql-core's default resolver
    calls each with (info, **arguments))."""

    def __init__(self, sandbox: Any, context: dict):
        self.sb, self.context, self.account_id = sandbox, context, context["account"]

    # ---- queries ----
    def account(self, info: Any) -> dict:
        with self.sb.lock():
            accounts, orgs, channels, _ = self.sb.records()
            record = accounts[self.account_id]
            views = [self._organization(orgs[o], channels) for o in record["organizations"]]

        def organizations(info: Any, filter: dict | None = None) -> list[dict]:  # noqa: A002 - Buffer's name
            wanted = (filter or {}).get("organizationId")
            return [v for v in views if wanted is None or v["id"] == wanted]

        return {"id": record["id"], "email": record["email"], "backupEmail": None, "name": record["name"],
                "avatar": f"https://buffer.example/avatars/{record['id']}.png", "createdAt": _iso(record["created"]),
                "organizations": organizations, "timezone": "Europe/London"}

    def channels(self, info: Any, **args: Any) -> list[dict]:
        query = args["input"]
        flt = query.get("filter") or {}
        with self.sb.lock():
            self.sb.check_organization(self.account_id, query["organizationId"])
            _, _, channels, _ = self.sb.records()
            found = [c for c in channels.values() if c["organization_id"] == query["organizationId"]
                     and flt.get("isLocked") in (None, c["is_locked"])]
            return [channel_view(c) for c in sorted(found, key=lambda c: c["created"])]

    def channel(self, info: Any, **args: Any) -> dict:
        with self.sb.lock():
            return channel_view(self.sb.check_channel(self.account_id, args["input"]["id"]))

    def dailyPostingLimits(self, info: Any, **args: Any) -> list[dict]:  # noqa: N802 - Buffer's name
        query = args["input"]
        day = datetime.fromtimestamp(_epoch(query["date"]) if query.get("date") else self.sb.clock(), UTC).date()
        with self.sb.lock():
            found = [self.sb.check_channel(self.account_id, cid) for cid in query["channelIds"]]
            if len({c["organization_id"] for c in found}) > 1:
                raise GraphQLError("All channels must belong to the same organization",
                                   extensions={"code": "BAD_USER_INPUT"})
            return [self._day_status(c, day) for c in found]

    def post(self, info: Any, **args: Any) -> dict:
        post_id = args["input"]["id"]
        self._advance([self._readable(post_id)["id"]])
        with self.sb.lock():
            return self.post_view(self._readable(post_id))

    def posts(self, info: Any, **args: Any) -> dict:
        query, first, after = args["input"], args.get("first"), args.get("after")
        size = DEFAULT_PAGE if first is None else first
        if not 1 <= size <= MAX_PAGE:
            raise GraphQLError(f"first must be between 1 and {MAX_PAGE}", extensions={"code": "BAD_USER_INPUT"})
        with self.sb.lock():
            self.sb.check_organization(self.account_id, query["organizationId"])
            _, _, _, posts = self.sb.records()
            matching = sorted_posts([p for p in posts.values() if p["org_id"] == query["organizationId"]
                                     and matches(p, query.get("filter") or {})], query.get("sort"))
            start = 0
            if after is not None:
                ids = [p["id"] for p in matching]
                cursor = decode_cursor(after)
                if cursor not in ids:
                    raise GraphQLError("after is not a cursor of this list", extensions={"code": "BAD_USER_INPUT"})
                start = ids.index(cursor) + 1
            page = [p["id"] for p in matching[start:start + size]]
            more = start + size < len(matching)
        self._advance(page)
        with self.sb.lock():
            _, _, _, posts = self.sb.records()
            edges = [{"cursor": encode_cursor(i), "node": self.post_view(posts[i])} for i in page if i in posts]
        return {"edges": edges, "pageInfo": {"startCursor": edges[0]["cursor"] if edges else None,
                                             "endCursor": edges[-1]["cursor"] if edges else None,
                                             "hasNextPage": more, "hasPreviousPage": False}}

    # ---- mutations ----
    def createPost(self, info: Any, **args: Any) -> dict:  # noqa: N802 - Buffer's name
        given = args["input"]
        injected = self.context.get("mutation_error")
        if injected:
            return _typed(injected.get("type", "UnexpectedError"), injected.get("message", "Unexpected error"))
        with self.sb.lock():
            _, _, channels, _ = self.sb.records()
            channel = channels.get(given["channelId"])
            if channel is None:
                return _typed("NotFoundError", "Channel not found")
            if channel["organization_id"] not in self.sb.organizations_of(self.account_id):
                return _typed("UnauthorizedError", "You are not allowed to post to this channel")
            channel = dict(channel)
        refusal = input_problem(given, channel, self.sb.clock())
        if refusal is not None:
            return _typed("InvalidInputError", refusal)
        assets = []
        for i, entry in enumerate(given.get("assets") or []):
            kind, asset = next(iter(entry.items()))
            if kind == "link":
                continue  # deprecated link asset: not media, not fetched
            status, mime = self.sb.fetch(asset["url"])
            if not 200 <= status < 300:
                return _typed("InvalidInputError", f"assets[{i}].{kind}.url could not be fetched "
                              f"({'HTTP ' + str(status) if status else mime})")
            if kind != "document" and not mime.startswith(kind + "/"):
                return _typed("InvalidInputError", f"assets[{i}].{kind}.url is not an {kind} ({mime or 'no type'})")
            assets.append({"type": kind, "url": asset["url"], "mime": mime, "thumbnail": asset.get("thumbnailUrl"),
                           "title": asset.get("title") or (asset.get("metadata") or {}).get("title"),
                           "alt": (asset.get("metadata") or {}).get("altText")})
        with self.sb.lock():
            return self._store(given, channel, assets)

    def deletePost(self, info: Any, **args: Any) -> dict:  # noqa: N802 - Buffer's name
        post = self._readable(args["input"]["id"])
        with self.sb.lock():
            _, _, _, posts = self.sb.records()
            posts.pop(post["id"], None)
        return {"__typename": "DeletePostSuccess", "id": post["id"]}

    # ---- helpers ----
    def _readable(self, post_id: str) -> dict:
        with self.sb.lock():
            _, _, _, posts = self.sb.records()
            post = posts.get(post_id)
            if post is None:
                raise GraphQLError("Post not found", extensions={"code": "NOT_FOUND"})
            self.sb.check_organization(self.account_id, post["org_id"])
            return post

    def _advance(self, post_ids: list[str]) -> None:
        """A read of a due post counts towards its sending; after status_reads_before_sent reads it ends."""
        ready = []
        with self.sb.lock():
            _, _, _, posts = self.sb.records()
            for post_id in post_ids:
                post = posts.get(post_id)
                if post is not None and is_due(post, self.sb.clock()):
                    post["status"] = "sending"
                    post["_reads"] = post.get("_reads", 0) + 1
                    if post["_reads"] >= self.sb.status_reads_before_sent:
                        ready.append(post_id)
        for post_id in ready:
            finish(self.sb, post_id)

    def _store(self, given: dict, channel: dict, assets: list[dict]) -> dict:
        now, mode = self.sb.clock(), given["mode"]
        _, _, _, posts = self.sb.records()
        draft = bool(given.get("saveToDraft"))
        if mode == "shareNow":
            due = now
        elif mode == "customScheduled":
            due = _epoch(given["dueAt"])
        else:  # the channel's queue: one slot an hour from the next full hour (Buffer's schedule is per channel)
            queued = [p for p in posts.values() if p["channel_id"] == channel["id"] and p["status"] in ACTIVE
                      and p["mode"] in ("addToQueue", "shareNext")]
            due = (now // HOUR + 1) * HOUR + (0 if mode == "shareNext" else len(queued) * HOUR)
        if not draft and channel["daily_limit"] is not None:
            day = datetime.fromtimestamp(due, UTC).date()
            if self._day_status(channel, day)["isAtLimit"]:
                return _typed("LimitReachedError", "You have reached the daily posting limit for this channel")
        post_id = object_id(now)
        posts[post_id] = {
            "id": post_id, "channel_id": channel["id"], "org_id": channel["organization_id"],
            "text": given.get("text") or "", "mode": mode, "scheduling_type": given["schedulingType"],
            "status": "draft" if draft else ("sending" if mode == "shareNow" else "scheduled"),
            "due": None if draft and mode != "customScheduled" else due, "created": now, "updated": now,
            "sent": None, "external_link": None, "error": None, "assets": assets, "idea_id": given.get("ideaId"),
            "author": self.account_id}
        if self.context.get("send_error"):
            posts[post_id]["_fail"] = self.context["send_error"].get("message", "The network refused the post")
        return {"__typename": "PostActionSuccess", "post": self.post_view(posts[post_id])}

    def _day_status(self, channel: dict, day: Any) -> dict:
        _, _, _, posts = self.sb.records()

        def on_day(ts: float | None) -> bool:
            return ts is not None and datetime.fromtimestamp(ts, UTC).date() == day

        mine = [p for p in posts.values() if p["channel_id"] == channel["id"]]
        sent = sum(1 for p in mine if p["status"] == "sent" and on_day(p["sent"]))
        scheduled = sum(1 for p in mine if p["status"] in ACTIVE and on_day(p["due"]))
        limit = channel["daily_limit"]
        return {"channelId": channel["id"], "sent": sent, "scheduled": scheduled, "limit": limit,
                "isAtLimit": limit is not None and sent + scheduled >= limit}

    def _organization(self, org: dict, channels: dict) -> dict:
        count = sum(1 for c in channels.values() if c["organization_id"] == org["id"])
        limits = dict.fromkeys(("channels", "generateContent", "ideaGroups", "ideas", "members", "postTemplates",
                                "savedReplies", "scheduledPosts", "scheduledStoriesPerChannel",
                                "scheduledThreadsPerChannel", "tags"), 2000)
        return {"id": org["id"], "name": org["name"], "ownerEmail": org["owner_email"], "channelCount": count,
                "limits": limits, "members": {"totalCount": 1}}

    def post_view(self, post: dict) -> dict:
        """A post as Buffer's Post type shows it (under the sandbox lock)."""
        accounts, _, channels, _ = self.sb.records()
        channel, author, now = channels[post["channel_id"]], accounts[post["author"]], self.sb.clock()
        metrics = None
        if post["status"] == "sent":
            live = engagement(post["id"], now - post["sent"])
            metrics = [{"type": t, "name": t.capitalize(), "description": t, "value": float(v), "unit": "count"}
                       for t, v in (("reactions", live.likes), ("comments", live.comments), ("shares", live.shares),
                                    ("impressions", live.views), ("reach", live.reach))]
        actions = ["viewPost", "deletePost", "duplicatePost"] + (
            ["updatePost", "publishPostNow", "updatePostSchedule"] if post["status"] in ("draft", "scheduled") else [])
        return {
            "id": post["id"], "allowedActions": actions, "assets": [asset_view(a) for a in post["assets"]],
            "author": {"id": author["id"], "email": author["email"], "name": author["name"], "isDeleted": False,
                       "avatar": f"https://buffer.example/avatars/{author['id']}.png"},
            "channel": channel_view(channel), "channelId": channel["id"], "channelService": channel["service"],
            "dueAt": _iso(post["due"]), "error": post["error"], "externalLink": post["external_link"],
            "ideaId": post["idea_id"], "isCustomScheduled": post["mode"] == "customScheduled", "metrics": metrics,
            "metricsUpdatedAt": _iso(now) if metrics else None, "schedulingType": post["scheduling_type"],
            "sentAt": _iso(post["sent"]), "sharedNow": post["mode"] == "shareNow", "shareMode": post["mode"],
            "status": post["status"], "tags": [], "text": post["text"], "via": "api",
            "createdAt": _iso(post["created"]), "updatedAt": _iso(post["updated"])}


def input_problem(given: dict, channel: dict, now: float) -> str | None:
    """Why Buffer refuses this CreatePostInput for `channel` (an InvalidInputError message), or None."""
    if channel["is_locked"]:
        return "This channel is locked and can't be used for posting"
    if given.get("needsApproval"):
        return "needsApproval is only valid when the channel's posting policy requires approval"
    if given["mode"] == "customScheduled":
        if not given.get("dueAt"):
            return "dueAt is required when mode is customScheduled"
        if _epoch(given["dueAt"]) < now - PAST_GRACE:
            return "dueAt must be in the future"
    assets = given.get("assets") or []
    kinds = [next(iter(a)) for a in assets]
    if not (given.get("text") or "").strip() and not assets:
        return "Text is required"
    metadata = given.get("metadata") or {}
    if assets and any((m or {}).get("linkAttachment") for m in metadata.values()):
        return "metadata.linkAttachment and a non-empty assets array are mutually exclusive"
    if any(k == "video" and a["video"].get("thumbnailUrl") for k, a in zip(kinds, assets, strict=True)):
        return "Video assets can't set thumbnailUrl: choose a frame with metadata.thumbnailOffset"
    media, meta_key, required = NEEDS.get(channel["service"], ((), None, ()))
    if media and not set(media) & set(kinds):
        return f"A {channel['service']} post needs {' or '.join(media)} media"
    if meta_key is not None:
        given_meta = metadata.get(meta_key) or {}
        if not given_meta:
            return f"metadata.{meta_key} is required for a {channel['service']} post"
        missing = [name for name in required if not given_meta.get(name)]
        if missing:
            return f"metadata.{meta_key}.{missing[0]} is required"
    return None


def matches(post: dict, flt: dict) -> bool:
    """PostsFiltersInput: channelIds, status, dueAt / createdAt ranges, dueAtPresence, startDate / endDate,
    tags (the sandbox's posts carry none)."""
    if flt.get("channelIds") is not None and post["channel_id"] not in flt["channelIds"]:
        return False
    if flt.get("status") is not None and post["status"] not in flt["status"]:
        return False
    for name, value in (("dueAt", post["due"]), ("createdAt", post["created"])):
        bounds = flt.get(name) or {}
        if bounds and (value is None or (bounds.get("start") and value < _epoch(bounds["start"]))
                       or (bounds.get("end") and value > _epoch(bounds["end"]))):
            return False
    presence = flt.get("dueAtPresence")
    if presence is not None and (post["due"] is None) != (presence == "absent"):
        return False
    stamps = [t for t in (post["created"], post["due"]) if t is not None]
    if flt.get("startDate") and not any(t >= _epoch(flt["startDate"]) for t in stamps):
        return False
    if flt.get("endDate") and not any(t <= _epoch(flt["endDate"]) for t in stamps):
        return False
    tags = flt.get("tags")
    return not (flt.get("tagIds") or (tags and not tags.get("isEmpty")))


def sorted_posts(posts: list[dict], sort: list[dict] | None) -> list[dict]:
    """Buffer's default order is not documented: newest created first here; `sort` keys in order."""
    keys = sort or [{"field": "createdAt", "direction": "desc"}]
    out = sorted(posts, key=lambda p: p["id"], reverse=True)
    for key in reversed(keys):
        field = "due" if key["field"] == "dueAt" else "created"
        out.sort(key=lambda p, f=field: (p[f] is None, p[f] or 0.0), reverse=key["direction"] == "desc")
    return out


def encode_cursor(post_id: str) -> str:
    return base64.urlsafe_b64encode(f"post:{post_id}".encode()).decode()


def decode_cursor(cursor: str) -> str | None:
    try:
        kind, _, post_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return post_id if kind == "post" else None


def channel_view(channel: dict) -> dict:
    """A channel as Buffer's Channel type shows it."""
    service = channel["service"]
    return {
        "id": channel["id"], "name": channel["name"], "displayName": channel["name"], "service": service,
        "serviceId": channel["service_id"], "organizationId": channel["organization_id"],
        "avatar": channel["avatar"], "isDisconnected": channel["is_disconnected"], "isLocked": channel["is_locked"],
        "isNew": False, "isQueuePaused": False, "hasActiveMemberDevice": False, "showTrendingTopicSuggestions": True,
        "descriptor": f"{service.capitalize()} {'Page' if service == 'facebook' else 'Profile'}",
        "type": "page" if service == "facebook" else "profile", "timezone": "Europe/London",
        "allowedActions": ["viewChannel", "manageUpdates", "readUpdates", "viewPublish"],
        "scopes": [], "products": ["publish"], "externalLink": None,
        "createdAt": _iso(channel["created"]), "updatedAt": _iso(channel["created"])}


def asset_view(asset: dict) -> dict:
    """An asset as Buffer's Asset types show it (the sandbox does not decode media: sizes are 0)."""
    common = {"id": None, "type": asset["type"], "mimeType": asset["mime"] or "application/octet-stream",
              "source": asset["url"], "thumbnail": asset["thumbnail"] or asset["url"]}
    if asset["type"] == "image":
        return {**common, "__typename": "ImageAsset",
                "image": {"altText": asset["alt"] or "", "animatedThumbnail": None, "height": 0, "width": 0,
                          "isAnimated": asset["mime"] == "image/gif"}}
    if asset["type"] == "video":
        return {**common, "__typename": "VideoAsset",
                "video": {"durationMs": 0, "width": 0, "height": 0, "isTranscodingRequired": False,
                          "isVideoProcessing": False, "title": asset["title"], "audioCodec": None,
                          "containerFormat": None, "fileSize": None, "frameRate": None, "rotationDegree": None,
                          "thumbnailOffset": None, "videoBitRate": None, "videoCodec": None}}
    return {**common, "__typename": "DocumentAsset",
            "document": {"filesize": None, "numPages": 1, "thumbnails": [common["thumbnail"]], "title": asset["title"]}}
