"""Tokens never die silently (issue 9): a refresh that may have spent a rotating refresh token, or
one the platform refuses, marks the account needs_reconnect with one ERROR line; a later good
refresh clears it; the scheduled refresh tick renews idle accounts' tokens before they lapse."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import ACCOUNT, ACCOUNT_SECRET


def _account_with_refresh_token(env, sandbox, *, expires_in: float) -> str:
    from shared import services

    refresh_token = f"rft.lifecycle-{time.time_ns()}"
    sandbox.add_refresh_token(refresh_token, env["access_token"])
    services.secrets().add_version(ACCOUNT_SECRET, json.dumps({
        "access_token": env["access_token"], "refresh_token": refresh_token, "expires_at": int(time.time() + expires_in),
        "client_id": "postgate-client", "client_secret": "client-secret-value"}))
    return refresh_token


def _tokens():
    from tests.test_token_refresh import _tokens as tokens

    return tokens()


def _account() -> dict:
    from shared import services

    return services.repository().get_account(ACCOUNT)


def test_a_refresh_with_no_answer_marks_a_rotating_account_and_a_good_one_clears_it(env, sandbox, logs):
    from shared.errors import PostgateError

    _account_with_refresh_token(env, sandbox, expires_in=3600)
    sandbox.inject("token", "error", http_status=503, code="internal_error")
    with pytest.raises(PostgateError):
        _tokens().refresh(env["access_token"])
    account = _account()
    assert account["status"] == "needs_reconnect" and "may be spent" in account["status_reason"]
    [line] = [e for e in logs.entries if e["message"] == "account needs reconnecting"]
    assert line["severity"] == "ERROR" and line["account_id"] == ACCOUNT
    _tokens().refresh(env["access_token"])  # the refresh token was not spent after all
    assert _account()["status"] == "connected" and "status_reason" not in _account()


def test_a_refused_refresh_token_marks_the_account_needs_reconnect(env, sandbox):
    from shared import services
    from shared.errors import AuthError

    services.secrets().add_version(ACCOUNT_SECRET, json.dumps({
        "access_token": env["access_token"], "refresh_token": "rft.revoked", "client_id": "c", "client_secret": "s"}))
    with pytest.raises(AuthError):
        _tokens().refresh(env["access_token"])
    account = _account()
    assert account["status"] == "needs_reconnect" and "refused the refresh token" in account["status_reason"]


def test_the_refresh_tick_renews_an_idle_accounts_token_nearing_expiry(env, sandbox):
    from shared import entrypoints, services

    old_refresh = _account_with_refresh_token(env, sandbox, expires_in=600)
    old_expiry = json.loads(services.secrets().access(ACCOUNT_SECRET))["expires_at"]
    summary = entrypoints.refresh_tokens()
    assert summary.refreshed == 1 and summary.account_ids == [ACCOUNT]
    stored = json.loads(services.secrets().access(ACCOUNT_SECRET))
    assert stored["refresh_token"] != old_refresh and stored["expires_at"] > old_expiry + 3000


def test_the_refresh_tick_leaves_tokens_with_time_to_spare(env, sandbox):
    from shared import entrypoints, services

    _account_with_refresh_token(env, sandbox, expires_in=30 * 24 * 3600)
    before = services.secrets().access(ACCOUNT_SECRET)
    assert entrypoints.refresh_tokens().refreshed == 0
    assert sandbox.count("token") == 0 and services.secrets().access(ACCOUNT_SECRET) == before


def test_the_refresh_tick_is_declared_in_the_topology():
    from shared.topology import get_topology

    topology = get_topology()
    function = topology.functions["token-refresh"]
    assert function.trigger.topic == "token-refresh-tick"
    assert any(s.topic == "token-refresh-tick" for s in topology.schedules.values())
