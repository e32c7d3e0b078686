"""The sandbox base: what every platform sandbox does the same way, so a sandbox's own file holds only
its platform's routes, rules, states and answer shapes.

A request runs one path (`Sandbox._wsgi`): the body is read whole (always drained, so an early error
answer is not a connection reset), the platform names the endpoint (`_route`), the method is checked,
an injected fault is taken, the handler runs, a lost answer is lost, and the exchange is logged.
Faults are queued per endpoint (`FaultQueue`) with the kinds every sandbox knows (slow, lost_response,
after_accept on any error kind) and the platform's own (`_fault`, `_fault_error`). Every sandbox
answers the same control paths under `/_sandbox/` (state, reset, inject, accounts; `faults` is
inject's older name) and runs as its own process through `serve()`.
"""

from __future__ import annotations

import argparse
import collections
import copy
import io
import json
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from werkzeug.exceptions import ClientDisconnected
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import get_input_stream

from infra.local.sandboxes.server import SandboxServer, dropped_answer

CONTROL_PREFIX = "/_sandbox/"
_PIECE = 1024 * 1024
LOST_RESPONSE = ("drop", "error", "timeout")  # how a lost answer is lost (fault["lose"])


class Drop(Exception):
    """Close the connection without an answer (a reply lost on the way back)."""


@dataclass(frozen=True)
class Route:
    endpoint: str
    method: str | None = None  # the method the endpoint takes (None: `_route` has checked it)
    args: dict = field(default_factory=dict)  # handed to the handler as keyword arguments


@dataclass
class Call:
    """One request on its way through the sandbox."""

    request: Request
    body: bytes
    truncated: bool  # the client went away before sending the whole body
    endpoint: str = "unknown"
    args: dict = field(default_factory=dict)
    log: dict = field(default_factory=dict)  # what the handler adds to the request log entry


def read_body(environ: dict) -> tuple[bytes, bool]:
    """The whole body and whether it was cut short. The environ's input is then the bytes read, so
    werkzeug can read them again (form parsing, get_data)."""
    stream, parts, truncated = get_input_stream(environ), [], False
    try:
        while piece := stream.read(_PIECE):
            parts.append(piece)
    except ClientDisconnected:
        truncated = True
    body = b"".join(parts)
    environ["wsgi.input"], environ["wsgi.input_terminated"] = io.BytesIO(body), True
    return body, truncated


def bearer_token(request: Request, *, exact_case: bool = False) -> str:
    """The token of an `Authorization: Bearer <token>` header ("" without one)."""
    header = request.headers.get("Authorization", "")
    scheme = header[:7] if exact_case else header[:7].lower()
    return header[7:].strip() if scheme == ("Bearer " if exact_case else "bearer ") else ""


def json_object(body: bytes, refuse: Callable[[str], Exception]) -> dict:
    """The body as a JSON object, or `refuse(message)` raised."""
    try:
        parsed = json.loads(body.decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError):
        raise refuse("request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise refuse("request body must be a JSON object")
    return parsed


def form_fields(request: Request, body: bytes, refuse: Callable[[str], Exception]) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (first value of each field), or `refuse(message)` raised."""
    if request.mimetype != "application/x-www-form-urlencoded":
        raise refuse("Content-Type must be application/x-www-form-urlencoded")
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def refuse_unknown(given: Iterable[str], allowed: Collection[str], refuse: Callable[[str], Exception]) -> None:
    """Raise `refuse(name)` for the first name (in sorted order) of `given` that `allowed` does not
    hold: the parameter or field a platform's refusal names."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise refuse(unknown[0])


def json_response(data: Any, status: int = 200, code: Any = None, **kwargs: Any) -> Response:
    response = Response(json.dumps(data), status=status, mimetype="application/json", **kwargs)
    response.sandbox_code = code
    return response


def lost_answer(params: dict, name: str, ways: dict[str, str], default: str, refusal: str) -> None:
    """Set params["lose"] (drop, error or timeout) from the platform's own lost_response parameter
    `name`, whose values `ways` maps; any other value is refused with `refusal`."""
    way = params.get(name, default)
    if way not in ways:
        raise ValueError(refusal)
    params["lose"] = ways[way]


class FaultQueue:
    """Injected faults per endpoint, in order; each serves `left` requests. A fault with `skip=N`
    lets N requests pass first. Not locked: the sandbox holds its lock around it."""

    def __init__(self) -> None:
        self._queues: dict[str, collections.deque] = collections.defaultdict(collections.deque)

    def add(self, endpoint: str, fault: dict, count: int) -> None:
        self._queues[endpoint].append({**fault, "left": int(count)})

    def take(self, endpoint: str, ready: Callable[[dict], bool] | None = None) -> dict | None:
        """The fault for this request to `endpoint` (a copy), if one is queued and `ready` for it."""
        queue = self._queues.get(endpoint)
        if not queue or (ready is not None and not ready(queue[0])):
            return None
        fault = queue[0]
        if fault.get("skip", 0) > 0:
            fault["skip"] -= 1
            return None
        fault["left"] -= 1
        if fault["left"] <= 0:
            queue.popleft()
        return dict(fault)

    def pending(self) -> int:
        return sum(int(f["left"]) for queue in self._queues.values() for f in queue)


class snapshot:
    """A sandbox's records (id -> record) as a read-only property, deep-copied under its lock and
    shown by GET /_sandbox/state; without `private`, the records' "_" fields are left out."""

    def __init__(self, attr: str, *, private: bool = False, doc: str = ""):
        self.attr, self.private, self.__doc__ = attr, private, doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, sandbox: Any, owner: type | None = None) -> Any:
        if sandbox is None:
            return self
        return sandbox._snapshot(getattr(sandbox, self.attr), private=self.private)


class Sandbox(SandboxServer):
    """A platform sandbox. Subclasses set ENDPOINTS, FAULT_KINDS and `error_type` (the platform's
    refusal, rendered by `_error`), and define `_route`, `_fault_error`, `_crash` and the `_h_<endpoint>`
    handlers (called with request, body, truncated and the route's args)."""

    ENDPOINTS: frozenset[str] | set[str] = frozenset()
    FAULT_KINDS: frozenset[str] | set[str] = frozenset()
    error_type: type[Exception] = Exception
    # The request log: the key of the answer's code, and what an answer with none / a dropped one logs.
    log_code_key = "error_code"
    ok_code: Any = None
    dropped_code: Any = "connection_dropped"
    dropped_status: Any = None

    # A fault kind the handler carries out itself -> the handler's keyword argument that gets it.
    handler_faults: dict[str, str] = {}
    metrics_endpoint = ""  # the endpoint the platform's metrics are read from

    _log: list[dict]
    _faults: FaultQueue

    def __init__(self, host: str, port: int, *, clock: Callable[[], float], clients: dict[str, str] | None):
        self.host, self.port = host, port
        self._clients = clients  # client id -> secret; None: any client
        self._clock = clock
        self._lock = threading.RLock()

    # ---- state -----------------------------------------------------------------------------
    def _clear_state(self) -> None:
        """The platform's per-run state (posts, media, ...); accounts and tokens are kept."""

    def reset(self) -> None:
        """Forget the platform's posts and media, the request log and queued faults; registered
        accounts and tokens stay."""
        with self._lock:
            self._log = []
            self._faults = FaultQueue()
            self._clear_state()

    def state(self) -> dict:
        """What GET /_sandbox/state shows besides the request log: posts and every snapshot."""
        views = {name for cls in type(self).__mro__ for name, value in vars(cls).items() if isinstance(value, snapshot)}
        return {"posts": self.posts, **{name: getattr(self, name) for name in sorted(views)}}

    @property
    def posts(self) -> dict:
        return {}

    def _snapshot(self, records: dict, *, private: bool = False) -> dict:
        """A deep copy of `records` (id -> record) taken under the lock; without `private`, the
        records' "_" fields (tokens, bytes, counters) are left out."""
        with self._lock:
            return {key: {f: copy.deepcopy(v) for f, v in record.items() if private or not f.startswith("_")}
                    for key, record in records.items()}

    # ---- metrics -----------------------------------------------------------------------------
    def metrics_of(self, post_id: str) -> dict:
        """What the platform's metrics endpoint answers for the post right now."""
        with self._lock:
            return self._metrics_now(str(post_id))

    def _metrics_now(self, post_id: str) -> dict:
        raise NotImplementedError

    def metrics_calls(self, status: int | None = None) -> int:
        """Metrics requests received (any outcome, or only those answered with `status`)."""
        return self.count(self.metrics_endpoint, status)

    # ---- faults ----------------------------------------------------------------------------
    def inject(self, endpoint: str, kind: str, count: int = 1, **params: Any) -> None:
        """Queue a fault of `kind` for the next `count` requests to `endpoint`. Every sandbox knows
        slow (seconds=: the answer waits, the request is still carried out) and after_accept=True on
        an error kind (the request is carried out, then answered with the error); see `_fault` of
        each platform for its own kinds."""
        if endpoint not in self.ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {sorted(self.ENDPOINTS)}")
        if kind not in self.FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(self.FAULT_KINDS)}")
        if kind == "slow" and "seconds" not in params:
            raise ValueError("slow faults need seconds=...")
        fault = self._fault(endpoint, kind, dict(params))
        if int(count) < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            fault = self._place_fault(endpoint, fault, int(count))
            if fault is not None:
                self._faults.add(endpoint, fault, int(count))

    def _fault(self, endpoint: str, kind: str, params: dict) -> dict:
        """The platform's rules for a fault (raise ValueError to refuse it); a lost_response fault
        says in "lose" how its answer is lost: drop, error or timeout (seconds=)."""
        return {"kind": kind, **params}

    def _place_fault(self, endpoint: str, fault: dict, count: int) -> dict | None:
        """Keep a fault that is not consumed per request elsewhere (return None); under the lock."""
        return fault

    def pending_faults(self) -> int:
        """Injected faults not consumed yet."""
        with self._lock:
            return self._faults.pending() + self._pending_platform_faults()

    def _pending_platform_faults(self) -> int:
        return 0

    def _take_fault(self, call: Call) -> dict | None:
        with self._lock:
            return self._faults.take(call.endpoint)

    def _claim_fault(self, call: Call, fault: dict) -> dict | None:
        """A fault the handler carries out itself (handler_faults) goes into call.args."""
        name = self.handler_faults.get(fault["kind"])
        if name is None:
            return fault
        call.args[name] = fault
        return None

    def _fault_error(self, call: Call, fault: dict) -> Exception:
        raise NotImplementedError

    # ---- one request -----------------------------------------------------------------------
    def _route(self, call: Call) -> Route:
        raise NotImplementedError

    def _wrong_method(self, call: Call, expected: str) -> Exception:
        raise NotImplementedError

    def _admit(self, call: Call) -> None:
        """Checks before any fault is taken (e.g. authentication)."""

    def _before_handler(self, call: Call) -> None:
        """Checks after a fault was taken, before the handler runs."""

    def _handle(self, call: Call) -> Response:
        return getattr(self, "_h_" + call.endpoint)(call.request, call.body, call.truncated, **call.args)

    def _error(self, call: Call, error: Exception) -> Response:
        raise NotImplementedError

    def _crash(self) -> Exception:
        """The platform's internal error, for a sandbox bug."""
        raise NotImplementedError

    def _finish_answer(self, call: Call, response: Response) -> None:
        """Last touches on any answer (e.g. rate-limit headers)."""

    def _log_fields(self, call: Call) -> dict:
        return {}

    def _wsgi(self, environ: dict, start_response: Callable) -> Any:
        body, truncated = read_body(environ)
        request = Request(environ)
        if request.path.startswith(CONTROL_PREFIX):
            return self._control(request)(environ, start_response)
        call = Call(request, body, truncated)
        try:
            route = self._route(call)
            call.endpoint, call.args = route.endpoint, dict(route.args)
            if route.method is not None and request.method != route.method:
                raise self._wrong_method(call, route.method)
            self._admit(call)
            fault = self._take_fault(call)
            if fault and fault["kind"] == "slow":
                time.sleep(float(fault["seconds"]))  # outside the lock: other requests keep flowing
                fault = None
            if fault:
                fault = self._claim_fault(call, fault)
            lost = fault if fault and fault["kind"] == "lost_response" else None
            if fault and not lost and not fault.get("after_accept"):
                raise self._fault_error(call, fault)
            self._before_handler(call)
            response = self._handle(call)
            if lost and lost.get("lose") == "drop":
                raise Drop()
            if lost and lost.get("lose") == "timeout":
                time.sleep(float(lost["seconds"]))  # the answer comes after the client gave up
            elif fault:  # carried out, but the caller sees an error: the answer was lost
                raise self._fault_error(call, fault)
        except Drop:
            self._record(call, None)
            return dropped_answer(environ, start_response)
        except self.error_type as e:
            response = self._error(call, e)
        except Exception:  # a sandbox bug must surface as a 500, never hang the client
            traceback.print_exc(file=sys.stderr)
            response = self._error(call, self._crash())
        self._finish_answer(call, response)
        self._record(call, response)
        return response(environ, start_response)

    def _record(self, call: Call, response: Response | None) -> None:
        request = call.request
        if response is None:
            status, code = self.dropped_status, self.dropped_code
        else:
            status, code = response.status_code, getattr(response, "sandbox_code", self.ok_code)
        entry = {"endpoint": call.endpoint, "method": request.method, "path": request.path, **call.log,
                 **self._log_fields(call), "status": status, self.log_code_key: code}
        with self._lock:
            self._log.append(entry)

    # ---- HTTP control surface, for a sandbox running as its own process ------------------------
    def controls(self) -> dict[str, Callable[[dict], dict | None]]:
        """The control paths besides state, reset and inject: name -> fn(payload). accounts registers
        an account with its tokens (the platform's add_account) and answers its ids."""
        return {"accounts": lambda p: self.add_account(p.pop("access_token"), p.pop("refresh_token", None), **p)}

    def _control(self, request: Request) -> Response:
        name = request.path[len(CONTROL_PREFIX):]
        try:
            if name == "state" and request.method == "GET":
                return json_response({**self.state(), "requests": self.requests_log})
            if request.method != "POST":
                raise ValueError("control endpoints other than /_sandbox/state are POST")
            payload = json.loads(request.get_data() or b"{}")
            result: dict | None = None
            if name in ("inject", "faults"):
                endpoint, kind, count = payload.pop("endpoint", ""), payload.pop("kind", ""), payload.pop("count", 1)
                self.inject(endpoint, kind, int(count), **payload)
            elif name == "reset":
                self.reset()
            elif name in self.controls():
                result = self.controls()[name](payload)
            else:
                return json_response({"ok": False, "error": "unknown control path"}, status=404)
        except (ValueError, KeyError, TypeError) as e:
            return json_response({"ok": False, "error": str(e)}, status=400)
        return json_response({"ok": True, **(result or {})})


def serve(argv: list[str] | None, *, description: str, port: int, build: Callable[[argparse.Namespace], Sandbox],
          options: Callable[[argparse.ArgumentParser], None] | None = None,
          ready: Callable[[Sandbox], dict] | None = None, token_help: str = "valid bearer access token") -> int:
    """`python -m infra.local.sandboxes.<platform>`: start the sandbox `build` makes from the command
    line, print one JSON line {"ready": base URL, ...} and serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--token", action="append", default=[], help=f"{token_help} (repeatable)")
    if options is not None:
        options(parser)
    args = parser.parse_args(argv)
    sandbox = build(args)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    line = {"ready": sandbox.start()}
    line.update(ready(sandbox) if ready is not None else {})
    print(json.dumps(line), flush=True)
    while not stop.wait(0.5):
        pass
    sandbox.stop()
    return 0
