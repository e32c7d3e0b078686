"""What every platform sandbox shares: a threaded local HTTP server, its lifecycle, and the
request log that tests read. Each sandbox supplies `_wsgi`, `_lock`, `_log` and `_thread_name`."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import html
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Response

from infra.local.sandboxes.recording import recording_app


class _QuietHandler(WSGIRequestHandler):
    # The access log prints request lines, which carry upload tokens, session URIs and OAuth
    # tokens on some endpoints: drop it all.
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


def serve_in_thread(host: str, port: int, app: Callable, name: str) -> tuple[BaseWSGIServer, threading.Thread]:
    """A threaded WSGI server for `app` on host:port (0: a free port), without an access log, serving
    from a daemon thread named `name`."""
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True)
    thread.start()
    return server, thread


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
    # The platform host this server plays, for the contract checks (recording.py); default: the platform's name.
    contract_host: str = ""
    _server = _thread = None
    _base_url = ""

    @property
    def platform(self) -> str:
        return self._thread_name.removesuffix("-sandbox")

    @property
    def requests_log(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._log)

    def count(self, endpoint: str, status: int | None = None) -> int:
        with self._lock:
            return sum(1 for e in self._log if e["endpoint"] == endpoint and status in (None, e["status"]))

    def start(self) -> str:
        app = recording_app(self._wsgi, sandbox=self.platform, host=lambda: self.contract_host or self.platform)
        self._server, self._thread = serve_in_thread(self.host, self.port, app, self._thread_name)
        self.port = self._server.server_port
        self._base_url = f"http://{self.host}:{self.port}"
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


# ---- OAuth 2.0 authorization-code grant (RFC 6749 §4.1, PKCE RFC 7636) -----------------------
# Each platform's sandbox serves its own authorize and token URLs and answers in its own shapes;
# what they share is the grant's rules, kept here: registered clients and their exact redirect
# URIs, a signed-in test user who consents (or declines), and codes that are single use,
# short-lived and bound to the client, the redirect URI and the PKCE challenge.


AUTHORIZE_REQUIRED = ("response_type", "redirect_uri", "scope")  # what an authorize request must carry


class OAuthRefusal(Exception):
    """An authorization or token request the platform refuses: `error` is the RFC 6749 code.
    `redirect`: the refusal goes back to the client's redirect URI (it was verified first);
    otherwise it is shown to the user, never sent to an unverified URI (RFC 6749 §4.1.2.1)."""

    def __init__(self, error: str, description: str, *, status: int = 400, redirect: bool = False):
        super().__init__(description)
        self.error, self.description, self.status, self.redirect = error, description, status, redirect


def pkce_s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).decode().rstrip("=")


class AuthorizationServer:
    """The authorization-code grant of one platform's sandbox.

    `pkce`: "required" (the authorize request must carry an S256 or plain challenge), "optional"
    (checked when sent) or "ignored" (the platform's web flow has none). `code_ttl`: seconds a code
    stays redeemable. `scope_separator`: how the platform lists scopes in `scope`."""

    def __init__(self, *, code_ttl: float, pkce: str = "optional", scope_separator: str = " ",
                 client_param: str = "client_id", denial_error: str = "access_denied",
                 clock: Callable[[], float] | None = None):
        if pkce not in ("required", "optional", "ignored"):
            raise ValueError("pkce must be required, optional or ignored")
        self.code_ttl, self.pkce, self.scope_separator, self.client_param = code_ttl, pkce, scope_separator, client_param
        self.denial_error = denial_error  # what the redirect carries when the user declines
        self._clock = clock or time.time
        self._lock = threading.RLock()
        self._clients: dict[str, dict] = {}   # client id -> {"secret", "redirect_uris"}
        self._codes: dict[str, dict] = {}     # code -> grant
        self._user: Any = None                # who is signed in at the authorize page
        self._consent = True

    # -- control --------------------------------------------------------------------------
    def register_client(self, client_id: str, client_secret: str, redirect_uris: list[str] | tuple[str, ...]) -> None:
        with self._lock:
            self._clients[client_id] = {"secret": client_secret, "redirect_uris": set(redirect_uris)}

    def sign_in(self, user: Any, *, consent: bool = True) -> None:
        """The test user the next authorize requests act for; consent=False: they click Cancel."""
        with self._lock:
            self._user, self._consent = user, consent

    # -- authorize --------------------------------------------------------------------------
    def authorize_page(self, args, *, required: tuple[str, ...] = AUTHORIZE_REQUIRED, extra: dict | None = None,
                       fragment: str = "") -> Response:
        """The authorize page's answer: a redirect to where `authorize` sends the browser (`fragment`
        appended), or the refusal page when it cannot send the user back."""
        try:
            location = self.authorize(args, required=required, extra=extra)
        except OAuthRefusal as refusal:
            return refusal_page(refusal)
        return redirect_response(location + fragment)

    def authorize(self, args, *, required: tuple[str, ...] = AUTHORIZE_REQUIRED, extra: dict | None = None) -> str:
        """The Location the authorize page sends the browser to: the redirect URI with code and
        state, or with error=access_denied when the user declines. Raises OAuthRefusal.
        `extra`: what else the platform remembers with the code (handed back by redeem)."""
        client_id = str(args.get(self.client_param) or "")
        redirect_uri = str(args.get("redirect_uri") or "")
        with self._lock:
            client = self._clients.get(client_id)
            if client is None:
                raise OAuthRefusal("invalid_client", f"unknown {self.client_param} {client_id!r}")
            if redirect_uri not in client["redirect_uris"]:  # exact string match, no prefix or normalising
                raise OAuthRefusal("redirect_uri_mismatch", "redirect_uri does not exactly match a registered URI")
        state = args.get("state")

        def back(**params) -> str:
            if state is not None:
                params["state"] = state
            return redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(params)

        missing = [name for name in required if not args.get(name)]
        if missing:
            return back(error="invalid_request", error_description=f"missing {', '.join(missing)}")
        if args.get("response_type") != "code":
            return back(error="unsupported_response_type", error_description="response_type must be code")
        challenge, method = args.get("code_challenge"), args.get("code_challenge_method") or "plain"
        if self.pkce == "ignored":
            challenge = None
        elif challenge is None and self.pkce == "required":
            return back(error="invalid_request", error_description="code_challenge is required")
        elif challenge is not None and method not in ("S256", "plain"):
            return back(error="invalid_request", error_description="code_challenge_method must be S256 or plain")
        with self._lock:
            if self._user is None or not self._consent:
                return back(error=self.denial_error, error_description="The user denied the request")
            code = secrets.token_urlsafe(24)
            scopes = [s for s in str(args.get("scope") or "").replace(",", " ").split() if s] if self.scope_separator == "," \
                else [s for s in str(args.get("scope") or "").split(self.scope_separator) if s]
            self._codes[code] = {"client_id": client_id, "redirect_uri": redirect_uri, "user": self._user,
                                 "scopes": scopes, "challenge": challenge, "method": method,
                                 "expires_at": self._clock() + self.code_ttl, "used": False, "extra": dict(extra or {})}
        return back(code=code)

    # -- token ------------------------------------------------------------------------------
    def check_client(self, client_id: str, client_secret: str | None) -> None:
        with self._lock:
            client = self._clients.get(client_id)
        if client is None or client_secret is None or not hmac_equal(client["secret"], client_secret):
            raise OAuthRefusal("invalid_client", "Client authentication failed", status=401)

    def redeem(self, *, code: str, client_id: str, client_secret: str | None, redirect_uri: str | None,
               code_verifier: str | None) -> dict:
        """The grant behind `code` ({user, scopes}); the code is spent by this call whatever follows."""
        self.check_client(client_id, client_secret)
        with self._lock:
            grant = self._codes.get(code)
            if grant is None or grant["used"]:
                raise OAuthRefusal("invalid_grant", "authorization code is invalid or was already used")
            grant["used"] = True  # single use: a second redemption fails even if this one does
            if self._clock() > grant["expires_at"]:
                raise OAuthRefusal("invalid_grant", "authorization code expired")
            if grant["client_id"] != client_id:
                raise OAuthRefusal("invalid_grant", "authorization code was issued to another client")
            if redirect_uri != grant["redirect_uri"]:
                raise OAuthRefusal("invalid_grant", "redirect_uri does not match the authorization request")
            if grant["challenge"] is not None:
                if not code_verifier:
                    raise OAuthRefusal("invalid_grant", "code_verifier is required")
                derived = pkce_s256(code_verifier) if grant["method"] == "S256" else code_verifier
                if not hmac_equal(derived, grant["challenge"]):
                    raise OAuthRefusal("invalid_grant", "code_verifier does not match the code_challenge")
            return {"user": grant["user"], "scopes": list(grant["scopes"]), **grant["extra"]}


    def redeem_form(self, form: dict, refuse: Callable[[OAuthRefusal], Exception], *, verifier: bool = True) -> dict:
        """`redeem` for a token request whose form carries the client's id and secret; a refusal is
        raised as `refuse(refusal)`, the platform's error. `verifier`: the platform reads code_verifier."""
        try:
            return self.redeem(code=form.get("code", ""), client_id=form.get("client_id", ""),
                               client_secret=form.get("client_secret", ""), redirect_uri=form.get("redirect_uri"),
                               code_verifier=form.get("code_verifier") if verifier else None)
        except OAuthRefusal as refusal:
            raise refuse(refusal) from None


def hmac_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def redirect_response(location: str) -> Response:
    return Response(b"", status=302, headers={"Location": location, "Cache-Control": "no-store"})


def refusal_page(refusal: OAuthRefusal) -> Response:
    """What the authorize page shows when it cannot send the user back (bad client or redirect URI)."""
    body = f"<!doctype html><title>Authorization error</title><p>{html.escape(refusal.error)}: {html.escape(refusal.description)}</p>"
    return Response(body, status=refusal.status, mimetype="text/html")
