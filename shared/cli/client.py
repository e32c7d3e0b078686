"""A small client for the content API: bearer token, JSON in and out, the API's refusals as
exceptions that carry its `{"detail", "field"}`, retries where the API says retrying is safe
(429 with Retry-After; 503 when Firestore was contended, nothing was changed), and the
Server-Sent Events stream of a content item."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus

import requests

DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_RATE_LIMIT_RETRIES = 3
MAX_UNAVAILABLE_RETRIES = 2
MAX_RETRY_WAIT_SECONDS = 60.0
STREAM_READ_TIMEOUT_SECONDS = 90.0  # the events stream sends a keep-alive comment well within this
MAX_STREAM_RECONNECTS = 5  # in a row without an event in between


class ApiRefused(Exception):
    """The API answered with an error status (4xx, or 5xx after retries)."""

    def __init__(self, status: int, detail: str, *, field: str | None = None, errors: list | None = None,
                 method: str = "", path: str = ""):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.errors = errors or []
        self.method = method
        self.path = path

    def message(self) -> str:
        """For a person: status, the API's detail, the field it names and each item error."""
        where = f" (field: {self.field})" if self.field and self.field not in self.detail else ""
        lines = [f"{self.method} {self.path} refused: {self.status} {_reason(self.status)}: {self.detail}{where}"]
        for err in self.errors[1:] if len(self.errors) > 1 else []:
            lines.append(f"  {err.get('field', '?')}: {err.get('message', '')}")
        return "\n".join(lines)


class ApiUnreachable(Exception):
    """No HTTP answer: wrong URL, API down, DNS, refused connection or a timeout."""


@dataclass
class SseEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None

    def json(self):
        try:
            return json.loads(self.data) if self.data else None
        except ValueError:
            return None


@dataclass
class Client:
    base_url: str
    token: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self):
        self.base_url = self.base_url.rstrip("/")

    # -- plain JSON calls ------------------------------------------------------------
    def get(self, path: str, params: dict | None = None):
        return self.request("GET", path, params=params)

    def post(self, path: str, body: dict | None = None):
        return self.request("POST", path, body=body)

    def patch(self, path: str, body: dict):
        return self.request("PATCH", path, body=body)

    def delete(self, path: str, params: dict | None = None):
        return self.request("DELETE", path, params=params)

    def request(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None):
        """The decoded JSON answer (None for 204). Raises ApiRefused or ApiUnreachable."""
        params = {k: v for k, v in (params or {}).items() if v is not None}
        rate_limited = unavailable = 0
        while True:
            response = self._send(method, path, params=params, json=body)
            if response.status_code == 429 and rate_limited < MAX_RATE_LIMIT_RETRIES:
                rate_limited += 1
                self.sleep(_retry_after(response, default=1.0))
                continue
            # A 503 with Retry-After is a busy moment (nothing changed); without it, a missing setting that waiting won't fix.
            if (response.status_code == 503 and "Retry-After" in response.headers
                    and unavailable < MAX_UNAVAILABLE_RETRIES):
                unavailable += 1
                self.sleep(_retry_after(response, default=float(unavailable)))
                continue
            break
        if response.status_code >= 400:
            raise _refusal(response, method, path)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiRefused(response.status_code, f"answer is not JSON: {response.text[:200]!r}",
                             method=method, path=path) from None

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            return self.session.request(method, self.base_url + path, headers=self._headers(),
                                        timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise ApiUnreachable(f"no answer from the Postgate API at {self.base_url} within {self.timeout:g} s "
                                 f"({method} {path})") from None
        except requests.ConnectionError as exc:
            raise ApiUnreachable(f"cannot reach the Postgate API at {self.base_url}: {_root_cause(exc)} "
                                 "(check --api / POSTGATE_API_URL and that the API is running)") from None

    def _headers(self, extra: dict | None = None) -> dict:
        headers = {"Accept": "application/json", "User-Agent": "postgate-cli"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return {**headers, **(extra or {})}

    # -- Server-Sent Events ----------------------------------------------------------
    def events(self, path: str, *, last_event_id: str | None = None) -> Iterator[SseEvent]:
        """Every event of the stream at `path` until the server sends `event: end`. A dropped
        connection (or a stream that closes without `end`) is resumed with Last-Event-ID, so no
        change is missed or repeated; gives up after MAX_STREAM_RECONNECTS attempts in a row."""
        failures = 0
        retry_seconds = 1.0
        while True:
            headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
            if last_event_id is not None:
                headers["Last-Event-ID"] = last_event_id
            try:
                response = self.session.get(self.base_url + path, headers=self._headers(headers), stream=True,
                                            timeout=(self.timeout, STREAM_READ_TIMEOUT_SECONDS))
            except requests.RequestException as exc:
                failures += 1
                if failures > MAX_STREAM_RECONNECTS:
                    raise ApiUnreachable(f"lost the event stream at {self.base_url}{path}: {_root_cause(exc)}") from None
                self.sleep(retry_seconds)
                continue
            if response.status_code == 429 or response.status_code == 503:
                failures += 1
                if failures > MAX_STREAM_RECONNECTS:
                    raise _refusal(response, "GET", path)
                self.sleep(_retry_after(response, default=retry_seconds))
                continue
            if response.status_code >= 400:
                raise _refusal(response, "GET", path)
            try:
                with response:
                    for event in parse_sse(response.iter_lines(decode_unicode=True)):
                        if event.id is not None:
                            last_event_id = event.id
                        failures = 0
                        yield event
                        if event.event == "end":
                            return
            except requests.RequestException as exc:
                reason = _root_cause(exc)
            else:
                reason = "the server closed the stream"
            failures += 1
            if failures > MAX_STREAM_RECONNECTS:
                raise ApiUnreachable(f"lost the event stream at {self.base_url}{path}: {reason}")
            self.sleep(retry_seconds)


def parse_sse(lines) -> Iterator[SseEvent]:
    """Events from the lines of a text/event-stream (the WHATWG rules: `field: value` lines, a blank
    line ends an event, `:` starts a comment, several `data:` lines join with newlines)."""
    data: list[str]
    event, data, event_id, seen = "message", [], None, False
    for raw in lines:
        line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        line = line.rstrip("\r")
        if line == "":
            if seen:
                yield SseEvent(event=event, data="\n".join(data), id=event_id)
            event, data, event_id, seen = "message", [], None, False
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event, seen = value, True
        elif name == "data":
            data.append(value)
            seen = True
        elif name == "id":
            event_id, seen = value, True
    if seen:
        yield SseEvent(event=event, data="\n".join(data), id=event_id)


def _refusal(response: requests.Response, method: str, path: str) -> ApiRefused:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        detail = body["detail"] if isinstance(body["detail"], str) else json.dumps(body["detail"])
        return ApiRefused(response.status_code, detail, field=body.get("field"), errors=body.get("errors") or [],
                          method=method, path=path)
    text = (response.text or "").strip()
    return ApiRefused(response.status_code, text[:300] or _reason(response.status_code), method=method, path=path)


def _retry_after(response: requests.Response, *, default: float) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        seconds = default
    return min(max(seconds, 0.0), MAX_RETRY_WAIT_SECONDS)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


def _root_cause(exc: BaseException) -> str:
    """The innermost reason ("Connection refused") rather than urllib3's nested repr."""
    seen = exc
    for _ in range(10):
        inner = seen.__cause__ or seen.__context__
        if inner is None:
            break
        seen = inner
    text = str(seen) or type(seen).__name__
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text or "Failed to resolve" in text:
        return "host name not found"
    return text
