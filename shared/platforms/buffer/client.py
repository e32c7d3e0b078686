"""A real client for Buffer's GraphQL API (POST https://api.buffer.com, Bearer API key). The base URL
is configurable so tests point it at the sandbox.

Buffer answers HTTP 200 for almost everything (developers.buffer.com/guides/error-handling.html):
system problems come in the `errors` array with `extensions.code` (UNAUTHENTICATED / UNAUTHORIZED:
the key is refused -> AuthError; FORBIDDEN and NOT_FOUND -> PermanentError; UNEXPECTED -> transient),
and a mutation's user-fixable problems come back in `data` as typed errors implementing
MutationError (InvalidInputError, LimitReachedError, NotFoundError, UnauthorizedError,
UnexpectedError, RestProxyError). Rate limits are HTTP 429 with RATE_LIMIT_EXCEEDED (rate_limits.py).
A 401 and 5xx are read the same way when a gateway answers instead of the API.

createPost has no idempotency key, so every answer to it that does not prove nothing was created
is AmbiguousError: no answer after the request was sent, a 5xx, an UNEXPECTED error, an answer
that is not Buffer's. Only a 429 proves Buffer did not act, so only a 429 may be retried.
Messages never carry the key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests

from shared.errors import AmbiguousError, AuthError, CapReached, PermanentError, TransientError
from shared.platforms.buffer import queries
from shared.platforms.buffer.rate_limits import rate_limited, remaining_summary
from shared.platforms.credentials import StaticToken, with_fresh_token
from shared.platforms.transport import never_sent
from shared.runtime.logging import log_event

if TYPE_CHECKING:
    from shared.platforms.base import TokenSource

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.buffer.com"
# Buffer suggests 20-50 posts per page (developers.buffer.com/guides/pagination.html).
POSTS_PAGE_SIZE = 50
_AUTH_CODES = {"UNAUTHENTICATED", "UNAUTHORIZED"}
_SERVER_CODES = {"UNEXPECTED", "INTERNAL_SERVER_ERROR"}


class NotFound(PermanentError):
    """Buffer says the channel or post does not exist (NOT_FOUND, or a NotFoundError on a mutation)."""


class LimitReached(CapReached):
    """createPost answered LimitReachedError: a posting limit of the channel or the plan is reached.
    Buffer does not say until when; the caller decides the wait (retry_after is None here)."""


@dataclass(frozen=True)
class BufferChannel:
    id: str
    name: str
    service: str
    organization_id: str
    avatar: str | None
    is_disconnected: bool


@dataclass(frozen=True)
class BufferPost:
    id: str
    status: str  # Buffer's PostStatus: draft | needs_approval | scheduled | sending | sent | error
    text: str
    channel_id: str
    service: str | None
    created_at: datetime | None
    due_at: datetime | None
    sent_at: datetime | None
    external_link: str | None  # the post's URL on the network, once sent
    error: str | None  # Buffer's publishing error message
    asset_urls: tuple[str, ...]  # each asset's source URL, in order
    asset_types: tuple[str, ...] = ()  # each asset's type (image | video | document), in order


@dataclass(frozen=True)
class PostsPage:
    posts: list[BufferPost]
    next_cursor: str | None  # None: this was the last page


@dataclass(frozen=True)
class DailyPostingLimit:
    channel_id: str
    sent: int
    scheduled: int
    limit: int | None  # None: unlimited
    is_at_limit: bool


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def buffer_time(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as Buffer's examples write DateTime."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _channel(data: dict) -> BufferChannel:
    return BufferChannel(id=str(data["id"]), name=str(data.get("name") or ""), service=str(data.get("service") or ""),
                         organization_id=str(data.get("organizationId") or ""), avatar=data.get("avatar") or None,
                         is_disconnected=bool(data.get("isDisconnected")))


def to_post(data: dict) -> BufferPost:
    error = data.get("error") or {}
    assets = [a for a in data.get("assets") or [] if isinstance(a, dict)]
    return BufferPost(
        id=str(data["id"]), status=str(data.get("status") or ""), text=str(data.get("text") or ""),
        channel_id=str(data.get("channelId") or ""), service=data.get("channelService"),
        created_at=parse_time(data.get("createdAt")), due_at=parse_time(data.get("dueAt")),
        sent_at=parse_time(data.get("sentAt")), external_link=data.get("externalLink") or None,
        error=(error.get("message") or None) if isinstance(error, dict) else None,
        asset_urls=tuple(str(a.get("source") or "") for a in assets), asset_types=tuple(str(a.get("type") or "") for a in assets))


class BufferClient:
    def __init__(self, api_key: str | TokenSource, *, base_url: str = DEFAULT_BASE_URL,
                 http: requests.Session | None = None, timeout: float = 30.0):
        self._tokens = StaticToken(api_key) if isinstance(api_key, str) else api_key
        self._url = base_url.rstrip("/")
        self._http = http or requests.Session()
        self._timeout = timeout

    # -- plumbing --------------------------------------------------------------------------
    def execute(self, document: str, variables: dict, *, operation: str, creates: bool = False) -> dict:
        """The answer's `data` (errors raised as classified above). A refused key is asked for again
        once through the token source: a Buffer configuration whose key was replaced meanwhile works."""
        data, errors = self._execute(document, variables, operation=operation, creates=creates)
        if errors:
            raise _graphql_error(errors, operation, creates)
        if not isinstance(data, dict):
            raise _no_answer(operation, creates, "an answer without data")
        return data

    def _execute(self, document: str, variables: dict, *, operation: str, creates: bool) -> tuple[Any, list[dict]]:
        refused: list[AuthError] = []

        def send(key: str) -> tuple[Any, list[dict]]:
            try:
                return self._send(key, document, variables, operation, creates)
            except AuthError as exc:
                refused.append(exc)
                raise

        try:
            return with_fresh_token(self._tokens, send)
        except AuthError as exc:
            if refused and exc is not refused[-1]:  # no other key to try: Buffer's own answer says why
                raise refused[-1] from None
            raise

    def _send(self, key: str, document: str, variables: dict, operation: str, creates: bool) -> tuple[Any, list[dict]]:
        try:
            response = self._http.post(self._url, json={"query": document, "variables": variables,
                                                        "operationName": operation},
                                       headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                                                "User-Agent": "postgate"}, timeout=self._timeout)
        except requests.RequestException as exc:
            if creates and not never_sent(exc):
                raise AmbiguousError(f"buffer {operation}: no answer after the request was sent "
                                     f"({type(exc).__name__}); the post may exist, look it up before posting again") from None
            raise TransientError(f"buffer {operation}: {type(exc).__name__}") from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        payload = payload if isinstance(payload, dict) else {}
        errors = [e for e in payload.get("errors") or [] if isinstance(e, dict)]
        status = response.status_code
        log_event(log, logging.INFO, "buffer call", operation=operation, http_status=status,
                  requests_left=remaining_summary(response.headers),
                  error_codes=[_code(e) for e in errors] or None)
        if status == 429 or any(_code(e) == "RATE_LIMIT_EXCEEDED" for e in errors):
            first = next((e for e in errors if _code(e) == "RATE_LIMIT_EXCEEDED"), errors[0] if errors else {})
            raise rate_limited(response.headers, first.get("extensions") or {},
                               f"buffer {operation}: rate limited: {first.get('message') or 'HTTP 429'}",
                               now=datetime.now(UTC))
        if status == 401 or any(_code(e) in _AUTH_CODES for e in errors):
            raise AuthError(f"buffer {operation}: Buffer refused the API key "
                            f"({_first_message(errors) or f'HTTP {status}'}); reconnect the Buffer configuration",
                            platform_code=next((_code(e) for e in errors if _code(e) in _AUTH_CODES), "HTTP_401"))
        if status >= 500:
            if creates:
                raise AmbiguousError(f"buffer {operation}: HTTP {status}; the post may exist, look it up before "
                                     "posting again")
            raise TransientError(f"buffer {operation}: HTTP {status}", platform_code=f"HTTP_{status}")
        if not payload:
            if creates:
                raise _no_answer(operation, creates, f"HTTP {status} without a GraphQL answer")
            raise (TransientError if status < 400 else PermanentError)(
                f"buffer {operation}: HTTP {status} without a GraphQL answer")
        return payload.get("data"), errors

    # -- account ---------------------------------------------------------------------------
    def organizations(self) -> list[tuple[str, str]]:
        """(id, name) of each organization the key reaches."""
        data = self.execute(queries.ORGANIZATIONS, {}, operation="Organizations")
        orgs = (data.get("account") or {}).get("organizations") or []
        return [(str(o["id"]), str(o.get("name") or "")) for o in orgs if isinstance(o, dict) and o.get("id")]

    def channels(self, organization_id: str) -> list[BufferChannel]:
        data = self.execute(queries.CHANNELS, {"input": {"organizationId": organization_id}}, operation="Channels")
        return [_channel(c) for c in data.get("channels") or [] if isinstance(c, dict) and c.get("id")]

    def channel(self, channel_id: str) -> BufferChannel | None:
        """The channel, or None when Buffer says there is no such channel."""
        try:
            data = self.execute(queries.CHANNEL, {"input": {"id": channel_id}}, operation="Channel")
        except NotFound:
            return None
        found = data.get("channel")
        return _channel(found) if isinstance(found, dict) and found.get("id") else None

    def daily_posting_limits(self, channel_ids: list[str], date: datetime | None = None) -> list[DailyPostingLimit]:
        """Each channel's network posting limit for `date` (default: Buffer's today)."""
        variables: dict = {"input": {"channelIds": channel_ids}}
        if date is not None:
            variables["input"]["date"] = buffer_time(date)
        data = self.execute(queries.DAILY_POSTING_LIMITS, variables, operation="DailyPostingLimits")
        return [DailyPostingLimit(channel_id=str(d.get("channelId")), sent=int(d.get("sent") or 0),
                                  scheduled=int(d.get("scheduled") or 0),
                                  limit=None if d.get("limit") is None else int(d["limit"]),
                                  is_at_limit=bool(d.get("isAtLimit")))
                for d in data.get("dailyPostingLimits") or [] if isinstance(d, dict)]

    # -- posts -----------------------------------------------------------------------------
    def create_post(self, post_input: dict) -> BufferPost:
        """createPost, sent once per call: the post Buffer made, or an error (see the module docstring)."""
        data = self.execute(queries.CREATE_POST, {"input": post_input}, operation="CreatePost", creates=True)
        result = data.get("createPost") or {}
        kind = str(result.get("__typename") or "")
        if kind == "PostActionSuccess" and isinstance(result.get("post"), dict) and result["post"].get("id"):
            return to_post(result["post"])
        message = f"buffer CreatePost: {kind or 'no result'}: {result.get('message') or 'no message'}"
        if kind == "LimitReachedError":
            raise LimitReached(message, platform_code=kind)
        if kind == "UnauthorizedError":
            raise AuthError(message, platform_code=kind)
        if kind == "NotFoundError":
            raise NotFound(message, platform_code=kind)
        if kind in ("UnexpectedError", "PostActionSuccess", ""):
            raise AmbiguousError(f"{message}; the post may exist, look it up before posting again")
        raise PermanentError(message, platform_code=kind)  # InvalidInputError, RestProxyError, ...

    def post(self, post_id: str) -> BufferPost | None:
        """The post, or None when Buffer says it does not exist."""
        try:
            data = self.execute(queries.POST, {"input": {"id": post_id}}, operation="Post")
        except NotFound:
            return None
        found = data.get("post")
        return to_post(found) if isinstance(found, dict) and found.get("id") else None

    def posts(self, organization_id: str, *, channel_id: str, created_after: datetime | None = None,
              after: str | None = None, first: int = POSTS_PAGE_SIZE) -> PostsPage:
        """One page of a channel's posts, newest created first (cursor `after` for the next page)."""
        filters: dict = {"channelIds": [channel_id]}
        if created_after is not None:
            filters["createdAt"] = {"start": buffer_time(created_after)}
        variables: dict = {"input": {"organizationId": organization_id, "filter": filters,
                                     "sort": [{"field": "createdAt", "direction": "desc"}]}, "first": first}
        if after:
            variables["after"] = after
        data = self.execute(queries.POSTS, variables, operation="Posts")
        result = data.get("posts") or {}
        nodes = [e.get("node") for e in result.get("edges") or [] if isinstance(e, dict)]
        info = result.get("pageInfo") or {}
        return PostsPage([to_post(n) for n in nodes if isinstance(n, dict) and n.get("id")],
                         str(info["endCursor"]) if info.get("hasNextPage") and info.get("endCursor") else None)

    def post_metrics(self, post_ids: list[str]) -> tuple[dict[str, dict], dict[str, str]]:
        """Metrics of up to 30 posts in one request: ({post id: the post's id, status, metrics,
        metricsUpdatedAt}, {post id: Buffer's error for it}). A post Buffer cannot return makes its
        alias an error; as `post` is non-null, GraphQL then voids the whole `data`, so the posts Buffer
        named are asked again once without them."""
        answers, refused = self._post_metrics_once(post_ids)
        if answers is None:
            rest = [p for p in post_ids if p not in refused]
            answers = (self._post_metrics_once(rest)[0] or {}) if rest and refused else {}
        return answers, refused

    def _post_metrics_once(self, post_ids: list[str]) -> tuple[dict[str, dict] | None, dict[str, str]]:
        variables = {f"in{i}": {"id": post_id} for i, post_id in enumerate(post_ids)}
        data, errors = self._execute(queries.post_metrics(len(post_ids)), variables, operation="PostMetrics",
                                     creates=False)
        refused: dict[str, str] = {}
        for error in errors:
            path = error.get("path") or []
            alias = str(path[0]) if path else ""
            if not (alias.startswith("p") and alias[1:].isdigit() and int(alias[1:]) < len(post_ids)):
                raise _graphql_error(errors, "PostMetrics", False)
            refused[post_ids[int(alias[1:])]] = f"Buffer: {_code(error) or 'error'}: {error.get('message') or ''}"
        if not isinstance(data, dict):
            return None, refused
        answers = {post_ids[i]: data[f"p{i}"] for i in range(len(post_ids)) if isinstance(data.get(f"p{i}"), dict)}
        return answers, refused


def _code(error: dict) -> str:
    extensions = error.get("extensions")
    return str((extensions or {}).get("code") or "") if isinstance(extensions, dict) else ""


def _first_message(errors: list[dict]) -> str:
    return next((str(e.get("message")) for e in errors if e.get("message")), "")


def _graphql_error(errors: list[dict], operation: str, creates: bool) -> Exception:
    codes = [_code(e) for e in errors]
    code = next((c for c in codes if c), "GRAPHQL_ERROR")
    message = f"buffer {operation}: {code}: " + "; ".join(str(e.get("message") or "") for e in errors)
    if "NOT_FOUND" in codes:
        return NotFound(message, platform_code="NOT_FOUND")
    if any(c in _SERVER_CODES for c in codes):
        if creates:
            return AmbiguousError(f"{message}; the post may exist, look it up before posting again")
        return TransientError(message, platform_code=code)
    # FORBIDDEN, BAD_USER_INPUT, a query limit, a document Buffer does not accept: nothing was done.
    return PermanentError(message, platform_code=code)


def _no_answer(operation: str, creates: bool, what: str) -> Exception:
    if creates:
        return AmbiguousError(f"buffer {operation}: {what}; the post may exist, look it up before posting again")
    return TransientError(f"buffer {operation}: {what}")
