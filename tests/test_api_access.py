"""Who may call the content API, how often, and what it answers when it refuses."""

from __future__ import annotations

import time

import pytest

from tests.conftest import bearer


def _fresh_window(min_left: float = 15.0) -> None:
    """Start at the beginning of a rate window when too little of this one is left for the test."""
    left = 60 - (time.time() % 60)
    if left < min_left:
        time.sleep(left + 0.05)


def test_openapi_document_is_served_without_a_token(api):
    answer = api.get("/openapi.json")
    assert answer.status_code == 200
    doc = answer.get_json()
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_no_token_is_401_naming_the_header(api):
    answer = api.get("/campaigns")
    assert answer.status_code == 401
    assert answer.get_json()["field"] == "Authorization"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_signed_with_another_key_is_401(api, env):
    answer = api.get("/campaigns", headers=bearer({"api_jwt_key": "not-the-key" * 4}))
    assert answer.status_code == 401
    assert "Signature" in answer.get_json()["detail"]


def test_expired_token_is_401(api, env):
    answer = api.get("/campaigns", headers=bearer(env, ttl_seconds=-10))
    assert answer.status_code == 401
    assert "expired" in answer.get_json()["detail"]


def test_token_for_another_audience_is_401(api, env):
    answer = api.get("/campaigns", headers=bearer(env, audience="someone-else"))
    assert answer.status_code == 401


def test_verified_caller_without_a_role_is_403(api, env):
    answer = api.get("/campaigns", headers=bearer(env, roles=()))
    assert answer.status_code == 403
    assert "no role" in answer.get_json()["detail"]


def test_61st_request_in_a_minute_is_429_with_retry_after(api, env):
    _fresh_window()
    headers = bearer(env, user="busy@example.com")
    statuses = [api.get("/campaigns", headers=headers) for _ in range(61)]
    limited = [a for a in statuses if a.status_code == 429]
    assert [a.status_code for a in statuses[:60]] == [200] * 60
    assert len(limited) == 1
    retry_after = int(limited[0].headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert "60 requests" in limited[0].get_json()["detail"]
    # Another user is counted apart.
    assert api.get("/campaigns", headers=bearer(env, user="calm@example.com")).status_code == 200


def test_unknown_path_is_a_json_404(api, env):
    answer = api.get("/nothing-here", headers=bearer(env))
    assert answer.status_code == 404
    assert answer.get_json()["detail"]


# --- Google-signed ID tokens (deployed behind IAM) ------------------------------------------------------

@pytest.fixture(scope="module")
def google_certs():
    """A stand-in for https://www.googleapis.com/oauth2/v1/certs: an RSA key whose self-signed
    certificate is published as {kid: PEM}, the format google-auth reads."""
    import datetime as dt
    import json as _json

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    from werkzeug.wrappers import Response

    from tests.browser import Served

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-google-signer")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    pem_cert = cert.public_bytes(serialization.Encoding.PEM).decode()
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()

    def app(environ, start_response):
        return Response(_json.dumps({"kid-1": pem_cert}), mimetype="application/json")(environ, start_response)

    with Served(app) as served:
        yield {"url": served.url + "/oauth2/v1/certs", "key": pem_key}


def _id_token(certs, **claims) -> dict[str, str]:
    from google.auth import crypt, jwt as google_jwt

    now = int(time.time())
    payload = {"iss": "https://accounts.google.com", "aud": "postgate-api", "sub": "1234567890",
               "email": "lead@example.com", "email_verified": True, "iat": now, "exp": now + 600, **claims}
    signer = crypt.RSASigner.from_string(certs["key"], key_id="kid-1")
    return {"Authorization": "Bearer " + google_jwt.encode(signer, payload, key_id="kid-1").decode()}


@pytest.fixture
def google_api(env, google_certs, monkeypatch):
    from shared import services

    monkeypatch.setenv("POSTGATE_API_GOOGLE_CERTS_URL", google_certs["url"])
    services.reset()
    import shared.api.app as api_app

    api_app._app = None
    services.repository().db.collection("api_users").document("lead@example.com").set({"roles": ["approver"]})
    from tests.conftest import function_client

    yield function_client("functions/api/main.py", "api", "http")
    monkeypatch.undo()
    services.reset()


def test_google_id_token_of_a_known_user_is_accepted_with_the_roles_from_firestore(google_api, google_certs):
    answer = google_api.get("/campaigns", headers=_id_token(google_certs))
    assert answer.status_code == 200, answer.get_json()


def test_google_id_token_of_a_user_without_roles_is_403(google_api, google_certs):
    answer = google_api.get("/campaigns", headers=_id_token(google_certs, email="stranger@example.com"))
    assert answer.status_code == 403


@pytest.mark.parametrize("claims", [{"aud": "another-service"}, {"iss": "https://evil.example"},
                                    {"email_verified": False}, {"exp": 1_000_000_000, "iat": 999_999_000}])
def test_google_id_token_with_a_wrong_claim_is_401(google_api, google_certs, claims):
    answer = google_api.get("/campaigns", headers=_id_token(google_certs, **claims))
    assert answer.status_code == 401, answer.get_json()
    assert answer.get_json()["field"] == "Authorization"


def test_google_id_token_signed_by_another_key_is_401(google_api, google_certs):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    answer = google_api.get("/campaigns", headers=_id_token({**google_certs, "key": other}))
    assert answer.status_code == 401
