"""A local HTTP server that speaks the Gemini API generateContent wire format.

The real google-genai SDK is pointed at it with `HttpOptions(base_url=server.url)`, so tests
exercise the SDK's request building, auth header, JSON/base64 decoding and error raising.

    server = FakeGeminiServer(api_key="test-key", models={"gemini-nano-banana-2.1"})
    server.start()
    server.reply_text_only("I can't draw that", finish_reason="IMAGE_SAFETY")
    ...
    server.requests[-1].body   # the JSON the SDK sent
    server.stop()

Only `POST /{version}/models/{model}:generateContent` is routed (version `v1beta` by
default); anything else is a 404 whose message says the path was unknown.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

_PATH = re.compile(r"^/(?P<version>v1(?:alpha|beta)?)/models/(?P<model>[^/:]+):generateContent$")

_STATUS_BY_CODE = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def tiny_png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (255, 200, 0)) -> bytes:
    """A real, valid PNG (8-bit RGB), built with zlib and struct."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))  # filter byte 0 per row
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@dataclass
class RecordedRequest:
    method: str
    path: str
    version: str | None
    model: str | None
    api_key: str | None
    headers: dict[str, str]
    body: Any
    problems: list[str] = field(default_factory=list)

    @property
    def api_key_present(self) -> bool:
        return bool(self.api_key)

    @property
    def generation_config(self) -> dict:
        return (self.body or {}).get("generationConfig") or {}

    @property
    def prompt_text(self) -> str:
        texts = []
        for content in (self.body or {}).get("contents") or []:
            for part in content.get("parts") or []:
                if "text" in part:
                    texts.append(part["text"])
        return "\n".join(texts)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # keep pytest output clean
        pass


class FakeGeminiServer:
    def __init__(self, *, api_key: str = "test-key", models: set[str] | None = None, api_version: str = "v1beta"):
        self.api_key = api_key
        self.models = set(models or {"gemini-nano-banana-2.1"})
        self.api_version = api_version
        self.requests: list[RecordedRequest] = []
        self.png = tiny_png()
        self._lock = threading.Lock()
        self._server = None
        self._thread: threading.Thread | None = None
        self.reset()

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeGeminiServer:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self._server.daemon_threads = True  # a deliberately slow handler must not block stop()
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-gemini", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> FakeGeminiServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- modes --------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.requests = []
        self.reply_normal()
        self.delay_seconds = 0.0

    def reply_normal(self, text: str | None = None, *, image: bytes | None = None, mime_type: str = "image/png",
                     extra_parts: list[dict] | None = None) -> None:
        """Text part (default: a JSON caption/hashtags object) plus one inline image."""
        self._mode = {
            "kind": "normal",
            "text": text if text is not None else json.dumps(
                {"caption": "Fresh mango season is here!", "hashtags": ["MangoSeason", "#summer"]}
            ),
            "image": image if image is not None else self.png,
            "mime_type": mime_type,
            "extra_parts": extra_parts or [],
        }

    def reply_text_only(self, text: str = "I can't create that image.", *, finish_reason: str = "STOP") -> None:
        self._mode = {"kind": "text_only", "text": text, "finish_reason": finish_reason}

    def reply_blocked(self, block_reason: str = "SAFETY") -> None:
        """No candidates at all: the prompt itself was blocked."""
        self._mode = {"kind": "blocked", "block_reason": block_reason}

    def reply_error(self, status: int, status_text: str | None = None, message: str = "fake error",
                    details: list[dict] | None = None, headers: dict[str, str] | None = None) -> None:
        self._mode = {
            "kind": "error",
            "status": status,
            "status_text": status_text or _STATUS_BY_CODE.get(status, "UNKNOWN"),
            "message": message,
            "details": details,
            "headers": headers or {},
        }

    def reply_raw(self, body: dict, status: int = 200) -> None:
        self._mode = {"kind": "raw", "body": body, "status": status}

    # -- WSGI ---------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        response = self._handle(request)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        match = _PATH.match(request.path)
        raw = request.get_data()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            version=match.group("version") if match else None,
            model=match.group("model") if match else None,
            api_key=request.headers.get("x-goog-api-key"),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        with self._lock:
            self.requests.append(record)

        if self.delay_seconds:
            time.sleep(self.delay_seconds)

        if request.method != "POST" or not match or match.group("version") != self.api_version:
            return _error(404, "NOT_FOUND", f"fake server: no route for {request.method} {request.path}")
        if not record.api_key:
            return _error(403, "PERMISSION_DENIED",
                          "Method doesn't allow unregistered callers (callers without established identity). "
                          "Please use API Key or other form of API consumer identity to call this API.")
        if record.api_key != self.api_key:
            return _error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", details=[{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }])
        record.problems = _validate(body)
        if record.problems:
            return _error(400, "INVALID_ARGUMENT", "fake server: bad request: " + "; ".join(record.problems))
        model = record.model
        if model not in self.models:
            return _error(404, "NOT_FOUND",
                          f"models/{model} is not found for API version {self.api_version}, or is not supported "
                          "for generateContent. Call ListModels to see the list of available models and their "
                          "supported methods.")

        mode = self._mode
        kind = mode["kind"]
        if kind == "error":
            return _error(mode["status"], mode["status_text"], mode["message"], mode["details"], mode["headers"])
        if kind == "raw":
            return _json(mode["status"], mode["body"])
        if kind == "blocked":
            return _json(200, {
                "promptFeedback": {"blockReason": mode["block_reason"]},
                "usageMetadata": {"promptTokenCount": 40, "totalTokenCount": 40},
                "modelVersion": model,
            })
        if kind == "text_only":
            parts = [{"text": mode["text"]}]
            finish = mode["finish_reason"]
        else:
            parts = [
                *mode["extra_parts"],
                {"text": mode["text"]},
                {"inlineData": {"mimeType": mode["mime_type"], "data": base64.b64encode(mode["image"]).decode()}},
            ]
            finish = "STOP"
        return _json(200, {
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}],
            "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 1290, "totalTokenCount": 1330},
            "modelVersion": model,
            "responseId": "fake-response-1",
        })


def _validate(body: Any) -> list[str]:
    """The request shape the image models need; each problem is a readable sentence."""
    problems: list[str] = []
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        problems.append("contents must be a non-empty list")
    else:
        for i, content in enumerate(contents):
            parts = content.get("parts") if isinstance(content, dict) else None
            if not isinstance(parts, list) or not parts:
                problems.append(f"contents[{i}].parts must be a non-empty list")
            elif not any(isinstance(p, dict) and isinstance(p.get("text"), str) and p["text"] for p in parts):
                problems.append(f"contents[{i}].parts has no text part")
    config = body.get("generationConfig")
    if not isinstance(config, dict):
        problems.append("generationConfig missing")
    else:
        modalities = config.get("responseModalities") or []
        if "IMAGE" not in modalities:
            problems.append(f"generationConfig.responseModalities {modalities!r} lacks IMAGE")
    return problems


def _json(status: int, payload: dict, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json", headers=headers or {})


def _error(status: int, status_text: str, message: str, details: list[dict] | None = None,
           headers: dict[str, str] | None = None) -> Response:
    error: dict[str, Any] = {"code": status, "message": message, "status": status_text}
    if details:
        error["details"] = details
    return _json(status, {"error": error}, headers)
