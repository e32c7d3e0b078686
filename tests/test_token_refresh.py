"""Account tokens: a 401 refreshes once, the rotated refresh token is written back as a new
secret version, and two instances refreshing at once do not lose a rotation (invariant 6)."""

from __future__ import annotations

import json
import threading

from tests.conftest import ACCOUNT, ACCOUNT_SECRET, approve, brief, upload_video


def _stale_account(env, sandbox) -> str:
    """The account's stored access token has expired; its refresh token is valid (and rotates)."""
    from shared import services

    refresh_token = "rft.initial-" + env["access_token"][-8:]
    sandbox.add_refresh_token(refresh_token, env["access_token"])
    services.secrets().add_version(ACCOUNT_SECRET, json.dumps({
        "access_token": "act.expired-token", "refresh_token": refresh_token,
        "client_id": "postgate-client", "client_secret": "client-secret-value"}))
    return refresh_token


def _tokens(adapter_name: str = "tiktok"):
    from shared import services
    from shared.platforms.registry import adapter_for
    from shared.publishing.publisher import account_tokens
    from shared.runtime.config import get_config

    repo = services.repository()
    return account_tokens(ACCOUNT, repo.get_account(ACCOUNT), adapter_for(adapter_name), repo=repo,
                          config=get_config(), secrets=services.secrets())


def test_401_refreshes_once_and_the_post_goes_out(env, sandbox, logs):
    from shared import entrypoints, services
    from shared.publishing.publisher import publish_post
    from shared.runtime.config import get_config

    old_refresh = _stale_account(env, sandbox)
    content = entrypoints.generate(brief(upload_video()))
    [due] = approve(env, content)
    outcome = publish_post(due.id, repo=services.repository(), config=get_config(), secrets=services.secrets(),
                           media_store=services.media_store())
    assert outcome.status == "processing", outcome.detail
    assert sandbox.count("token") == 1
    stored = json.loads(services.secrets().access(ACCOUNT_SECRET))
    assert stored["refresh_token"] != old_refresh  # the rotated one was written back
    assert stored["access_token"] != "act.expired-token" and stored["expires_at"] > 0
    assert stored["client_secret"] == "client-secret-value"  # the rest of the secret is kept
    assert stored["access_token"] not in logs.text and stored["refresh_token"] not in logs.text


def test_two_instances_refreshing_at_once_keep_the_rotation(env, sandbox):
    from shared import services

    _stale_account(env, sandbox)
    # Two instances, each with its own view of the secret, both got a 401 for the same token.
    instances = [_tokens(), _tokens()]
    for tokens in instances:
        assert tokens.current() == "act.expired-token"
    results: list[str] = []
    barrier = threading.Barrier(2)

    def refresh(tokens):
        barrier.wait()
        results.append(tokens.refresh("act.expired-token"))

    threads = [threading.Thread(target=refresh, args=(t,)) for t in instances]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 2 and results[0] == results[1]  # both use the one new token
    assert sandbox.count("token") == 1  # the refresh token was spent once, not twice
    stored = json.loads(services.secrets().access(ACCOUNT_SECRET))
    assert stored["access_token"] == results[0]
    # The stored refresh token is the live one: the next rotation works.
    later = _tokens()
    assert later.refresh(results[0]) != results[0]
    assert sandbox.count("token", 200) == 2


def test_revoked_refresh_token_fails_the_post_with_a_reconnect_message(env, sandbox):
    from shared import entrypoints, services
    from shared.publishing.publisher import publish_post
    from shared.runtime.config import get_config

    services.secrets().add_version(ACCOUNT_SECRET, json.dumps({
        "access_token": "act.expired-token", "refresh_token": "rft.revoked", "client_id": "c", "client_secret": "s"}))
    content = entrypoints.generate(brief(upload_video()))
    [due] = approve(env, content)
    outcome = publish_post(due.id, repo=services.repository(), config=get_config(), secrets=services.secrets(),
                           media_store=services.media_store())
    assert outcome.status == "failed"
    assert "reconnect the account" in outcome.detail
    assert sandbox.count("video_init") == 0
    assert services.repository().get_post(due.id).fail_class == "auth"
    assert services.repository().get_account(ACCOUNT)["status"] == "needs_reconnect"


def test_a_token_near_its_expiry_is_refreshed_before_use(env, sandbox):
    """Meta-style tokens can't be refreshed once expired, so adapters may ask for an early refresh."""
    import time

    from shared import services
    from shared.platforms.credentials import AccountTokens
    from shared.platforms.registry import adapter_for
    from shared.runtime.config import get_config

    _stale_account(env, sandbox)
    stored = json.loads(services.secrets().access(ACCOUNT_SECRET))
    services.secrets().add_version(ACCOUNT_SECRET, json.dumps({**stored, "expires_at": int(time.time()) + 3 * 86400}))
    repo = services.repository()
    adapter = adapter_for("tiktok")

    def tokens(ahead: float) -> AccountTokens:
        return AccountTokens(ACCOUNT, repo.get_account(ACCOUNT), secrets=services.secrets(), repo=repo,
                             refresh_fn=lambda t: adapter.refresh_tokens(t, config=get_config()),
                             refresh_ahead_seconds=ahead)

    assert tokens(60).current() == "act.expired-token"  # three days left: fine for a one-minute margin
    fresh = tokens(7 * 86400).current()  # within a week of expiry: refreshed first
    assert fresh != "act.expired-token" and sandbox.count("token") == 1
    assert json.loads(services.secrets().access(ACCOUNT_SECRET))["access_token"] == fresh
