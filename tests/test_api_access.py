"""Who may call the content API, how often, and what it answers when it refuses."""

from __future__ import annotations

import time

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
