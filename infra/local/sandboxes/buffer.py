"""Contract-faithful Buffer GraphQL API sandbox (docs/platforms.md#buffer).

Real HTTP on localhost: `POST /` (and `/graphql`) with `{query, variables, operationName}`, parsed and
validated with graphql-core against buffer_schema.graphql (Buffer's documented types: an unknown
field or argument is a GraphQL validation error), Bearer API keys (a missing or unknown key gets
Buffer's 401 UNAUTHENTICATED), per-key request windows by plan with RateLimit headers and 429
RATE_LIMIT_EXCEEDED (buffer_rate_limits.py), Buffer's query depth/alias/cost limits.

createPost follows developers.buffer.com: the channel must be one of the key's organizations' channels
(NotFoundError / UnauthorizedError otherwise), customScheduled needs dueAt, text or assets, the
network's minimum payload, a daily posting limit per channel (LimitReachedError, also reported by
dailyPostingLimits), and each image/video asset URL is FETCHED with GET to check it answers 2xx with
an image/video type (InvalidInputError otherwise). Buffer fetches the media again when the post goes
out [guides/hosting-media], so a URL that stopped answering turns the post into `error`.

Lifecycle: shareNow -> `sending`; other modes -> `scheduled` (or `draft`); a due post is sent by
`send_due()` or after `status_reads_before_sent` reads of it: `sent` with `sentAt` and the network's
`externalLink`, or `error` with `error.message` (an injected send_error, a dead media URL, a
disconnected channel). Faults: server_error, rate_limit, lost_response (the create is applied, the
answer is dropped / a 502 / late), send_error, mutation_error, slow. Keys never appear in logs.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable
from typing import Any

import requests
from graphql import GraphQLError, execute_sync
from werkzeug.wrappers import Response

from infra.local.sandboxes import buffer_posts
from infra.local.sandboxes.base import Call, Route, Sandbox, bearer_token, json_response, lost_answer, serve, snapshot
from infra.local.sandboxes.buffer_graphql import GraphQLRefusal, error, operation_name_of, prepare, schema
from infra.local.sandboxes.buffer_rate_limits import LIMIT_MESSAGE, PLAN_QUOTAS, RateWindows

PATHS = ("/", "/graphql")  # https://api.buffer.com, also answered at /graphql
OPERATIONS = frozenset({"account", "channels", "channel", "post", "posts", "dailyPostingLimits", "createPost",
                        "deletePost"})
ENDPOINTS = OPERATIONS | {"graphql"}  # graphql: a body whose operation cannot be read
FAULT_KINDS = frozenset({"server_error", "rate_limit", "lost_response", "send_error", "mutation_error", "slow"})
MUTATION_ERRORS = ("InvalidInputError", "LimitReachedError", "NotFoundError", "UnauthorizedError",
                   "UnexpectedError", "RestProxyError")
UNAUTHENTICATED = "An authentication JWT or Access Token is required"  # what api.buffer.com answers (401)
ASSET_FETCH_TIMEOUT = 5.0


class BufferApiError(Exception):
    """An answer outside GraphQL execution: HTTP status, `errors` list and headers."""

    def __init__(self, status: int, errors: list[dict], headers: dict | None = None):
        super().__init__(errors[0]["message"])
        self.status, self.errors, self.headers = status, errors, headers or {}


def fetch_asset(url: str) -> tuple[int, str]:
    """(HTTP status, content type) of a GET of `url`, (0, reason) when it cannot be reached."""
    if not url.startswith(("http://", "https://")):
        return 0, "not an http(s) URL"
    try:
        with requests.get(url, timeout=ASSET_FETCH_TIMEOUT, stream=True) as answer:
            return answer.status_code, answer.headers.get("Content-Type", "").split(";")[0].strip().lower()
    except requests.RequestException as e:
        return 0, type(e).__name__


class BufferSandbox(Sandbox):
    _thread_name = "buffer-sandbox"
    ENDPOINTS, FAULT_KINDS, error_type = ENDPOINTS, FAULT_KINDS, BufferApiError
    log_code_key, dropped_code = "error_code", "connection dropped"
    handler_faults = {"send_error": "send_error", "mutation_error": "mutation_error"}
    contract_host = "api.buffer.com"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, status_reads_before_sent: int = 1,
                 enforce_rate_limits: bool = True, clock: Callable[[], float] = time.time,
                 fetch: Callable[[str], tuple[int, str]] = fetch_asset):
        super().__init__(host, port, clock=clock, clients=None)
        self.status_reads_before_sent = status_reads_before_sent
        self.enforce_rate_limits = enforce_rate_limits
        self.fetch = fetch  # how asset URLs are fetched (a test may count the fetches)
        self._keys: dict[str, dict] = {}       # API key -> {"account": id, "plan": ...}
        self._accounts: dict[str, dict] = {}   # account id -> {id, email, name, organizations: [ids]}
        self._orgs: dict[str, dict] = {}       # organization id -> {id, name, account, plan}
        self._channels: dict[str, dict] = {}   # channel id -> channel record
        self._rates = RateWindows(clock)
        self.reset()

    def _clear_state(self) -> None:
        self._posts: dict[str, dict] = {}
        self._rates.reset()

    posts = snapshot("_posts", doc="Buffer posts by id ('_' fields left out)")
    channels = snapshot("_channels")

    # ---- Python control API ----
    def add_api_key(self, key: str, *, plan: str = "team", email: str | None = None,
                    organization_name: str | None = None) -> str:
        """Register an API key of a new account with one organization on `plan` (free, essentials or
        team; its request windows follow the plan); returns the organization id. An existing key
        answers its first organization."""
        if plan not in PLAN_QUOTAS:
            raise ValueError(f"plan must be one of {sorted(PLAN_QUOTAS)}")
        with self._lock:
            if key in self._keys:
                return self._accounts[self._keys[key]["account"]]["organizations"][0]
            now = self._clock()
            account_id, org_id = buffer_posts.object_id(now), buffer_posts.object_id(now)
            email = email or f"owner{len(self._accounts) + 1}@example.com"
            self._accounts[account_id] = {"id": account_id, "email": email, "name": email.split("@")[0],
                                          "organizations": [org_id], "created": now}
            self._orgs[org_id] = {"id": org_id, "name": organization_name or f"Organization {len(self._orgs) + 1}",
                                  "account": account_id, "plan": plan, "owner_email": email}
            self._keys[key] = {"account": account_id, "plan": plan}
            return org_id

    def add_channel(self, key_or_org: str, *, service: str, name: str, channel_id: str | None = None,
                    daily_limit: int | None = None, avatar: str | None = None, locked: bool = False) -> str:
        """Connect a `service` channel (Buffer's Service enum: twitter, instagram, ...) to the key's (or
        the named) organization; returns its id. `daily_limit`: the network daily posting limit
        (None: unlimited)."""
        if service not in schema().type_map["Service"].values:  # type: ignore[attr-defined]
            raise ValueError(f"unknown Buffer service {service!r}")
        with self._lock:
            org_id = self.add_api_key(key_or_org) if key_or_org in self._keys else key_or_org
            if org_id not in self._orgs:
                raise ValueError("unknown API key or organization")
            channel_id = channel_id or buffer_posts.object_id(self._clock())
            self._channels[channel_id] = {
                "id": channel_id, "name": name, "service": service, "organization_id": org_id,
                "avatar": avatar or f"https://buffer.example/avatars/{channel_id}.png", "is_disconnected": False,
                "is_locked": locked, "daily_limit": daily_limit, "service_id": str(secrets.randbelow(10**12)),
                "created": self._clock()}
            return channel_id

    def disconnect_channel(self, channel_id: str) -> None:
        """The channel's credentials stop working: its posts end in `error` when they go out."""
        with self._lock:
            self._channels[channel_id]["is_disconnected"] = True

    def send_due(self, now: float | None = None) -> list[str]:
        """Send every automatic post due by `now` (default: the clock) that is scheduled or sending;
        returns their ids. Each ends `sent` or `error` (buffer_posts.finish)."""
        now = self._clock() if now is None else now
        with self._lock:
            due = [p["id"] for p in self._posts.values() if buffer_posts.is_due(p, now)]
        for post_id in due:
            buffer_posts.finish(self, post_id)
        return due

    def fail_post(self, post_id: str, message: str) -> None:
        """The network will refuse this post when it goes out, with `message`."""
        with self._lock:
            self._posts[post_id]["_fail"] = message

    def controls(self) -> dict[str, Callable[[dict], dict | None]]:
        return {
            "api_keys": lambda p: {"organization_id": self.add_api_key(p.pop("key"), **p)},
            "channels": lambda p: {"channel_id": self.add_channel(p.pop("key_or_org"), **p)},
            "send_due": lambda p: {"sent": self.send_due(p.get("now"))},
            "disconnect": lambda p: self.disconnect_channel(p["channel_id"]),
        }

    # ---- faults ----
    def _fault(self, endpoint: str, kind: str, params: dict) -> dict:
        """server_error (status=, default 503), rate_limit (retry_after=, default 900 s),
        lost_response (how="drop" (default): no answer; "error": a 502 after the request was carried
        out; "timeout": the answer comes after seconds=), send_error (createPost: the post is
        accepted, then ends in `error` with message=), mutation_error (createPost answers the typed
        error type= (default UnexpectedError) with message=, nothing is created)."""
        if kind in ("send_error", "mutation_error") and endpoint != "createPost":
            raise ValueError(f"{kind} applies to endpoint='createPost'")
        if kind == "mutation_error" and params.get("type", "UnexpectedError") not in MUTATION_ERRORS:
            raise ValueError(f"mutation_error type must be one of {MUTATION_ERRORS}")
        if kind == "lost_response":
            lost_answer(params, "how", {"drop": "drop", "error": "error", "timeout": "timeout"}, "drop",
                        "lost_response takes how='drop', how='error' or how='timeout' (with seconds=)")
            if params["lose"] == "timeout" and "seconds" not in params:
                raise ValueError("how='timeout' needs seconds=")
        return {"kind": kind, **params}

    def _fault_error(self, call: Call, fault: dict) -> BufferApiError:
        if fault["kind"] == "rate_limit":
            wait = int(fault.get("retry_after", 900))
            return BufferApiError(429, [error(LIMIT_MESSAGE, "RATE_LIMIT_EXCEEDED", limitType="CLIENT_ACCOUNT",
                                              retryAfter=wait)], {"Retry-After": str(wait)})
        if fault["kind"] == "lost_response":
            return BufferApiError(502, [error("Bad Gateway", "INTERNAL_SERVER_ERROR")])
        status = int(fault.get("status", 503))
        return BufferApiError(status, [error("Unexpected error, please try again later", "INTERNAL_SERVER_ERROR")])

    # ---- request plumbing ----
    def _route(self, call: Call) -> Route:
        if call.request.path not in PATHS:
            raise BufferApiError(404, [error(f"no such path: {call.request.path}", "NOT_FOUND")])
        name = operation_name_of(call.body)
        return Route(name if name in OPERATIONS else "graphql", "POST")

    def _wrong_method(self, call: Call, expected: str) -> BufferApiError:
        return BufferApiError(405, [error(f"{call.request.path} takes POST with a JSON GraphQL body", "BAD_REQUEST")],
                              {"Allow": "POST"})

    def _admit(self, call: Call) -> None:
        key = bearer_token(call.request)
        with self._lock:
            entry = self._keys.get(key) if key else None
        if entry is None:
            raise BufferApiError(401, [error(UNAUTHENTICATED, "UNAUTHENTICATED")])
        call.args["key"] = key
        if self.enforce_rate_limits:
            wait = self._rates.admit(key, entry["plan"])
            if wait is not None:
                raise BufferApiError(429, [error(LIMIT_MESSAGE, "RATE_LIMIT_EXCEEDED", limitType="CLIENT_ACCOUNT",
                                                 retryAfter=wait)], {"Retry-After": str(wait)})

    def _finish_answer(self, call: Call, response: Response) -> None:
        key = call.args.get("key")
        if key is not None:
            for name, value in self._rates.headers(key, self._keys[key]["plan"]):
                response.headers.add(name, value)

    def _crash(self) -> BufferApiError:
        return BufferApiError(500, [error("Unexpected error", "INTERNAL_SERVER_ERROR")])

    def _error(self, call: Call, e: BufferApiError) -> Response:
        code = (e.errors[0].get("extensions") or {}).get("code", "QUERY_LIMIT")
        return json_response({"errors": e.errors}, status=e.status, code=code, headers=e.headers)

    def _log_fields(self, call: Call) -> dict:
        return {"operation": call.endpoint}

    def _handle(self, call: Call) -> Response:
        try:
            request = prepare(call.body)
        except GraphQLRefusal as refusal:
            raise BufferApiError(refusal.status, refusal.errors) from None
        key = call.args["key"]
        context = {"sandbox": self, "account": self._keys[key]["account"], "send_error": call.args.get("send_error"),
                   "mutation_error": call.args.get("mutation_error")}
        result = execute_sync(schema(), request.document, root_value=buffer_posts.Resolvers(self, context),
                         variable_values=request.variables, operation_name=request.operation.name.value
                         if request.operation.name else None, context_value=context)
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [self._execution_error(e) for e in result.errors]
        code = out["errors"][0]["extensions"]["code"] if result.errors else None
        return json_response(out, code=code)

    @staticmethod
    def _execution_error(e: GraphQLError) -> dict:
        entry = error(e.message, (e.extensions or {}).get("code") or "INTERNAL_SERVER_ERROR")
        if e.path:
            entry["path"] = list(e.path)
        if e.original_error is not None and not isinstance(e.original_error, GraphQLError):
            print(f"buffer sandbox resolver error: {e.original_error!r}", file=sys.stderr)
        return entry

    # ---- what the resolvers share ----
    def organizations_of(self, account_id: str) -> list[str]:
        return list(self._accounts[account_id]["organizations"])

    def check_organization(self, account_id: str, org_id: str) -> dict:
        """The organization, if the key's account may read it; FORBIDDEN otherwise (unknown included)."""
        if org_id not in self._accounts[account_id]["organizations"]:
            raise GraphQLError("You do not have access to this organization", extensions={"code": "FORBIDDEN"})
        return self._orgs[org_id]

    def check_channel(self, account_id: str, channel_id: str) -> dict:
        channel = self._channels.get(channel_id)
        if channel is None:
            raise GraphQLError("Channel not found", extensions={"code": "NOT_FOUND"})
        if channel["organization_id"] not in self._accounts[account_id]["organizations"]:
            raise GraphQLError("You do not have access to this channel", extensions={"code": "FORBIDDEN"})
        return channel

    def clock(self) -> float:
        return self._clock()

    def lock(self):
        return self._lock

    def records(self) -> tuple[dict, dict, dict, dict]:
        """(accounts, organizations, channels, posts): the resolvers' view, used under lock()."""
        return self._accounts, self._orgs, self._channels, self._posts


def main(argv: list[str] | None = None) -> int:
    def options(parser) -> None:
        parser.add_argument("--plan", default="team", choices=sorted(PLAN_QUOTAS))
        parser.add_argument("--channel", action="append", default=[], metavar="SERVICE:NAME",
                            help="connect a channel to each --token's organization (repeatable)")
        parser.add_argument("--status-reads-before-sent", type=int, default=1)
        parser.add_argument("--no-rate-limits", action="store_true")

    def build(args) -> BufferSandbox:
        sandbox = BufferSandbox(args.host, args.port, status_reads_before_sent=args.status_reads_before_sent,
                                enforce_rate_limits=not args.no_rate_limits)
        for token in args.token:
            sandbox.add_api_key(token, plan=args.plan)
            for spec in args.channel:
                service, _, name = spec.partition(":")
                sandbox.add_channel(token, service=service, name=name or service)
        return sandbox

    def ready(sandbox: Sandbox) -> dict:
        return {"channels": sorted(sandbox.channels)}  # type: ignore[attr-defined]

    return serve(argv, description="Buffer GraphQL API sandbox", port=9106, build=build, options=options,
                 ready=ready, token_help="Buffer API key")


if __name__ == "__main__":
    sys.exit(main())

