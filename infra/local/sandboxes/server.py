"""What every platform sandbox shares: a threaded local HTTP server, its lifecycle, and the
request log that tests read. Each sandbox supplies `_wsgi`, `_lock`, `_log` and `_thread_name`."""

from __future__ import annotations

import copy
import socket
import threading
from typing import Any, Callable

from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    # The access log prints request lines, which carry upload tokens, session URIs and OAuth
    # tokens on some endpoints: drop it all.
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


def drop_connection(environ: dict) -> None:
    """Close the connection without an answer: how a lost response looks to the caller."""
    conn = environ.get("werkzeug.socket")
    if conn is not None:
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def dropped_answer(environ: dict, start_response: Callable) -> list:
    """Drop the connection; the WSGI answer that follows never reaches the client."""
    drop_connection(environ)
    start_response("500 Connection Dropped", [("Content-Length", "0")])
    return []


class SandboxServer:
    host: str
    port: int
    _thread_name = "sandbox"
    _server = _thread = None
    _base_url = ""

    @property
    def requests_log(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._log)

    def count(self, endpoint: str, status: int | None = None) -> int:
        with self._lock:
            return sum(1 for e in self._log if e["endpoint"] == endpoint and status in (None, e["status"]))

    def start(self) -> str:
        self._server = make_server(self.host, self.port, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self.port = self._server.server_port
        self._base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self._thread_name, daemon=True)
        self._thread.start()
        return self._base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    @property
    def base_url(self) -> str:
        return self._base_url

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
