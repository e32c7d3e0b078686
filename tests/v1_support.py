"""What the /api/v1 tests share: the seed document's example moment as the services' clock, a local
server standing in for https://example.com (the seed's media URL), and small helpers."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from infra.local.sample_media import jpeg_bytes

# The seed's Success Response is dated 2025-12-23T10:00:00: its example post (2025-12-25T10:00:00) is
# two days ahead of it. Tests run the services' clock at that moment so the bodies pass as written.
SEED_NOW = datetime(2025, 12, 23, 10, 0, tzinfo=UTC)
V1 = "/api/v1"


class _Media(BaseHTTPRequestHandler):
    files: dict[str, tuple[bytes, str]] = {}
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        self.requests.append(self.path)
        found = self.files.get(self.path)
        if found is None:
            self.send_response(404)
            self.end_headers()
            return
        data, content_type = found
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@contextmanager
def example_com() -> Iterator[tuple[str, type[_Media]]]:
    """A local server serving the seed's https://example.com/image.jpg (a JPEG) and whatever a test adds
    to `files`; (its base URL, the handler class holding files and requests)."""
    handler = type("Media", (_Media,), {"files": {"/image.jpg": (jpeg_bytes(), "image/jpeg"),
                                                  "/page.html": (b"<html></html>", "text/html")},
                                        "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def seed_clock(media_base: str | None = None, *, now: datetime = SEED_NOW, running: bool = False,
               **env: str) -> Iterator[None]:
    """The services with their clock at `now` (`running`: starting there, so items made one after another
    keep their order), example.com served from `media_base` (the override
    POSTGATE_MEDIA_FETCH_OVERRIDES, local stacks and tests only) and these environment variables set."""
    from shared import services

    if media_base:
        env["POSTGATE_MEDIA_FETCH_OVERRIDES"] = '{"https://example.com": "%s"}' % media_base
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    services.reset()
    started = datetime.now(UTC)
    clock = (lambda: now + (datetime.now(UTC) - started)) if running else (lambda: now)
    services.install(dataclasses.replace(services.get_services(), now=clock))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        services.reset()


@contextmanager
def buffer_sandbox() -> Iterator:
    """A Buffer sandbox of its own (keys and channels start empty)."""
    from infra.local.sandboxes.buffer import BufferSandbox

    sandbox = BufferSandbox()
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def number_of(kind: str, record_id: str) -> int:
    """The record's seed number (allocated now if it has none), as /api/v1 would show it."""
    from shared import services
    from shared.stores.seed_numbers import number_of as allocate

    return allocate(services.repository(), kind, record_id)  # type: ignore[arg-type]
