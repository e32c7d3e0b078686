"""Helpers for the console's tests (tests/test_console_*.py): the api function with the console set up
as the local stack sets it up, its users, signing in, and Google ID tokens from a stand-in for Google's
certificate endpoint."""

from __future__ import annotations

import re
import secrets as pysecrets
import time

from tests.conftest import function_client

CLIENT_ID = "1234-console.apps.googleusercontent.com"
SESSION_SECRET = "console-session-key"
APPROVER = "lead@example.com"
EDITOR = "editor@example.com"
USERS = {APPROVER: ["approver"], EDITOR: ["editor"]}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def set_up_console(monkeypatch, *, local_sign_in: bool = True, client_id: str | None = None,
                   session_key: str | None = None, users: dict[str, list[str]] | None = None) -> str:
    """The environment and data the console needs (after `env`): settings, the session key secret, the
    api_users documents. Returns the session key. The next api app built picks the settings up."""
    import shared.api.app as api_app
    from shared import services

    monkeypatch.setenv("POSTGATE_CONSOLE_LOCAL_SIGN_IN", "true" if local_sign_in else "false")
    if client_id:
        monkeypatch.setenv("POSTGATE_CONSOLE_OAUTH_CLIENT_ID", client_id)
    else:
        monkeypatch.delenv("POSTGATE_CONSOLE_OAUTH_CLIENT_ID", raising=False)
    services.reset()
    key = session_key if session_key is not None else pysecrets.token_urlsafe(32)
    services.secrets().add_version(SESSION_SECRET, key)
    db = services.repository().db
    for user, roles in (USERS if users is None else users).items():
        db.collection("api_users").document(user).set({"roles": roles})
    api_app._app = None  # a fresh app: mounted anew, nothing cached from another test
    return key


def api_client():
    """The api function (console included) in-process, as functions-framework loads it."""
    return function_client("functions/api/main.py", "api", "http")


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, f"no csrf_token field in the page:\n{html[:2000]}"
    return match.group(1)


def sign_in_locally(client, user: str = APPROVER, next_path: str | None = None):
    """Sign in through the local sign-in page's form, as a browser does; the answer to the POST."""
    page = client.get("/console/sign-in")
    assert page.status_code == 200, page.get_data(as_text=True)[:2000]
    form = {"csrf_token": csrf_of(page.get_data(as_text=True)), "user": user}
    if next_path is not None:
        form["next"] = next_path
    return client.post("/console/sign-in/local", data=form)


def google_id_token(certs: dict, **claims) -> str:
    """An ID token signed by the stand-in Google key (tests/test_api_access.py's google_certs shape)."""
    from google.auth import crypt
    from google.auth import jwt as google_jwt

    now = int(time.time())
    payload = {"iss": "https://accounts.google.com", "aud": CLIENT_ID, "sub": "1234567890", "email": APPROVER,
               "email_verified": True, "iat": now, "exp": now + 600, **claims}
    signer = crypt.RSASigner.from_string(certs["key"], key_id="kid-1")
    return google_jwt.encode(signer, payload, key_id="kid-1").decode()


def stand_in_google_certs():
    """A context manager serving {kid: PEM} like https://www.googleapis.com/oauth2/v1/certs for a fresh
    RSA key; yields {"url", "key"}."""
    import contextlib
    import datetime as dt
    import json

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    from werkzeug.wrappers import Response

    from tests.browser import Served

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-google-signer")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    pem_cert = cert.public_bytes(serialization.Encoding.PEM).decode()
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()

    def app(environ, start_response):
        return Response(json.dumps({"kid-1": pem_cert}), mimetype="application/json")(environ, start_response)

    @contextlib.contextmanager
    def serving():
        with Served(app) as served:
            yield {"url": served.url + "/oauth2/v1/certs", "key": pem_key}

    return serving()
