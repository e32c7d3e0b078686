"""Who may call the content API, how often, and what it answers when it refuses."""

from __future__ import annotations

import time

import pytest

from tests.conftest import bearer
from tests.console_support import stand_in_google_certs


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
    """A stand-in for https://www.googleapis.com/oauth2/v1/certs (tests/console_support.py): an RSA
    key whose self-signed certificate is published as {kid: PEM}, the format google-auth reads."""
    with stand_in_google_certs() as certs:
        yield certs


def _id_token(certs, **claims) -> dict[str, str]:
    from google.auth import crypt
    from google.auth import jwt as google_jwt

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


# --- Google's certificates: cached, and forged tokens cannot make us fetch them -------------------------

class CertEndpoint:
    """A certificate endpoint that counts its fetches and can be taken down."""

    def __init__(self, pem_cert: str):
        self.pem_cert = pem_cert
        self.fetches = 0
        self.down = False
        self.delay = 0.0

    def __call__(self, environ, start_response):
        import json as _json

        from werkzeug.wrappers import Response

        self.fetches += 1
        time.sleep(self.delay)
        if self.down:
            return Response("unavailable", status=503)(environ, start_response)
        return Response(_json.dumps({"kid-1": self.pem_cert}), mimetype="application/json",
                        headers={"Cache-Control": "public, max-age=20000, must-revalidate, no-transform",
                                 "Age": "100"})(environ, start_response)


@pytest.fixture
def counted_certs(google_certs, env, monkeypatch):
    """The api function using a certificate endpoint of its own that counts fetches (same key as
    google_certs, so its tokens verify)."""
    import requests as _requests
    from cryptography import x509  # noqa: F401 - the fixture's certificate is reused as is

    from shared import services
    from tests.browser import Served

    pem_cert = _requests.get(google_certs["url"], timeout=10).json()["kid-1"]
    endpoint = CertEndpoint(pem_cert)
    with Served(endpoint) as served:
        monkeypatch.setenv("POSTGATE_API_GOOGLE_CERTS_URL", served.url + "/oauth2/v1/certs")
        services.reset()
        import shared.api.app as api_app

        api_app._app = None
        services.repository().db.collection("api_users").document("lead@example.com").set({"roles": ["approver"]})
        from tests.conftest import function_client

        yield endpoint, function_client("functions/api/main.py", "api", "http")
    monkeypatch.undo()
    services.reset()


def _forged(certs, kid: str = "kid-1", **claims) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.auth import crypt
    from google.auth import jwt as google_jwt

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    now = int(time.time())
    payload = {"iss": "https://accounts.google.com", "aud": "postgate-api", "sub": "1", "email": "lead@example.com",
               "email_verified": True, "iat": now, "exp": now + 600, **claims}
    return {"Authorization": "Bearer " + google_jwt.encode(crypt.RSASigner.from_string(other, key_id=kid), payload,
                                                           key_id=kid).decode()}


def test_forged_tokens_while_googles_certificates_are_unreachable_are_401_after_one_fetch(counted_certs, google_certs):
    endpoint, client = counted_certs
    endpoint.down = True
    answers = [client.get("/campaigns", headers=_forged(google_certs, kid=f"kid-{i % 3}")) for i in range(13)]
    assert [a.status_code for a in answers] == [401] * 13, [a.get_json() for a in answers]
    assert all(a.get_json()["field"] == "Authorization" for a in answers)
    assert endpoint.fetches <= 1


def test_googles_certificates_are_fetched_once_while_their_max_age_lasts(counted_certs, google_certs):
    endpoint, client = counted_certs
    forged = [client.get("/campaigns", headers=_forged(google_certs, kid=kid))
              for kid in ["kid-1"] * 7 + [f"made-up-{i}" for i in range(6)]]
    assert [a.status_code for a in forged] == [401] * 13
    genuine = client.get("/campaigns", headers=_id_token(google_certs))
    assert genuine.status_code == 200, genuine.get_json()
    assert endpoint.fetches == 1


def test_concurrent_forged_tokens_wait_for_the_one_fetch_in_flight(counted_certs, google_certs):
    from concurrent.futures import ThreadPoolExecutor

    import requests as _requests

    import shared.api.app as api_app
    from tests.browser import serve_function

    endpoint, _ = counted_certs
    endpoint.delay = 1.0
    api_app._app = None
    with serve_function("functions/api/main.py", "api") as served, ThreadPoolExecutor(10) as pool:
        forged = [_forged(google_certs, kid=f"kid-{i}") for i in range(10)]
        statuses = list(pool.map(lambda h: _requests.get(served.url + "/campaigns", headers=h, timeout=30).status_code,
                                 forged))
    assert statuses == [401] * 10
    assert endpoint.fetches == 1


def test_certificates_are_fetched_again_when_max_age_less_age_has_passed_and_failures_back_off(google_certs):
    import requests as _requests

    from shared.api.google_certs import FAILURE_BACKOFF, CertsUnavailable, GoogleCerts
    from tests.browser import Served

    endpoint = CertEndpoint(_requests.get(google_certs["url"], timeout=10).json()["kid-1"])
    now = [1000.0]
    with Served(endpoint) as served:
        certs = GoogleCerts(served.url + "/certs", clock=lambda: now[0])
        assert set(certs.for_kid("kid-1")) == {"kid-1"} and endpoint.fetches == 1
        now[0] += 10
        certs.for_kid("never-seen")  # a made-up kid does not fetch again (for UNKNOWN_KID_REFETCH)
        now[0] += 20000 - 100 - 11  # max-age 20000 less Age 100
        certs.for_kid("kid-1")
        assert endpoint.fetches == 1
        now[0] += 2
        certs.for_kid("kid-1")
        assert endpoint.fetches == 2
        endpoint.down = True
        now[0] += 20000
        assert set(certs.for_kid("kid-1")) == {"kid-1"}  # the last set, while Google's is unreachable
        now[0] += FAILURE_BACKOFF - 1
        certs.for_kid("kid-1")
        assert endpoint.fetches == 3
        fresh = GoogleCerts(served.url + "/certs", clock=lambda: now[0])
        with pytest.raises(CertsUnavailable):
            fresh.for_kid("kid-1")
        with pytest.raises(CertsUnavailable):
            fresh.for_kid("kid-1")
        assert endpoint.fetches == 4


def test_repeated_authentication_failures_from_one_address_are_429_and_good_tokens_still_pass(api, env):
    forged = bearer({"api_jwt_key": "not-the-key" * 4})
    statuses = [api.get("/campaigns", headers=forged).status_code for _ in range(25)]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}, statuses
    held = api.get("/campaigns", headers=forged)
    assert held.status_code == 429 and 1 <= int(held.headers["Retry-After"]) <= 60
    assert held.get_json()["field"] == "Authorization"
    assert api.get("/campaigns", headers=bearer(env)).status_code == 200
    # Another address is counted apart.
    other = api.get("/campaigns", headers={**forged, "X-Forwarded-For": "203.0.113.9"})
    assert other.status_code == 401


# --- malformed role records and identities ------------------------------------------------------------

@pytest.mark.parametrize("roles", [None, "approver", ["approver", 7], {"approver": True}])
def test_an_api_users_record_with_malformed_roles_is_403_saying_so(google_api, google_certs, roles):
    from shared import services

    services.repository().db.collection("api_users").document("lead@example.com").set({"roles": roles})
    answer = google_api.get("/campaigns", headers=_id_token(google_certs))
    assert answer.status_code == 403, answer.get_json()
    assert "malformed" in answer.get_json()["detail"]


def test_google_e_mail_is_compared_lower_case_without_spaces(google_api, google_certs):
    answer = google_api.get("/campaigns", headers=_id_token(google_certs, email="  Lead@Example.COM "))
    assert answer.status_code == 200, answer.get_json()


@pytest.mark.parametrize("verified", ["true", 1, "True"])
def test_email_verified_must_be_the_boolean_true(google_api, google_certs, verified):
    answer = google_api.get("/campaigns", headers=_id_token(google_certs, email_verified=verified))
    assert answer.status_code == 401, answer.get_json()


def test_one_rate_limit_per_person_however_the_address_is_spelled(env, monkeypatch):
    import shared.api.app as api_app
    from shared import services
    from tests.conftest import function_client

    _fresh_window()
    monkeypatch.setenv("POSTGATE_API_REQUESTS_PER_MINUTE", "3")
    services.reset()
    api_app._app = None
    client = function_client("functions/api/main.py", "api", "http")
    spellings = ["busy@example.com", "Busy@Example.com", " BUSY@example.com ", "busy@EXAMPLE.com"]
    statuses = [client.get("/campaigns", headers=bearer(env, user=u)).status_code for u in spellings]
    assert statuses == [200, 200, 200, 429]
    monkeypatch.undo()
    services.reset()
