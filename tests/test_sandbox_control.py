"""Every platform sandbox answers the same control paths under /_sandbox/ (state, reset, inject and
its older name faults, accounts), as a sandbox running as its own process is driven."""

from __future__ import annotations

import pytest
import requests

from infra.local.sandboxes.instagram import InstagramSandbox
from infra.local.sandboxes.linkedin import LinkedInSandbox
from infra.local.sandboxes.tiktok import TikTokSandbox
from infra.local.sandboxes.x import XSandbox
from infra.local.sandboxes.youtube import YouTubeSandbox

# (sandbox, an endpoint it serves, an error fault for it, the ids accounts answers with)
CASES = {
    "tiktok": (TikTokSandbox, "creator_info", {"http_status": 403, "code": "refused"}, set()),
    "x": (XSandbox, "users_me", {"http_status": 403, "detail": "refused"}, {"user_id", "username"}),
    "youtube": (YouTubeSandbox, "channels", {"http_status": 403, "reason": "forbidden"}, {"channel_id"}),
    "instagram": (InstagramSandbox, "me", {"code": 10, "message": "refused"}, {"ig_user_id", "username"}),
    "linkedin": (LinkedInSandbox, "userinfo", {"http_status": 403, "code": "ACCESS_DENIED"}, {"person_urn"}),
}


@pytest.fixture(params=sorted(CASES))
def case(request):
    cls, endpoint, error, ids = CASES[request.param]
    with cls() as sandbox:
        yield sandbox, endpoint, error, ids


def test_every_sandbox_has_the_same_control_paths(case):
    sandbox, endpoint, error, ids = case
    url = sandbox.base_url + "/_sandbox/"
    answer = requests.post(url + "accounts", json={"access_token": "tok-control"}, timeout=10)
    assert answer.status_code == 200 and answer.json()["ok"] is True and ids <= answer.json().keys()
    for path in ("inject", "faults"):
        fault = {"endpoint": endpoint, "kind": "error", "count": 1, **error}
        answer = requests.post(url + path, json=fault, timeout=10)
        assert answer.status_code == 200, answer.text
    assert sandbox.pending_faults() == 2
    refused = requests.post(url + "inject", json={"endpoint": "no-such-endpoint", "kind": "slow", "seconds": 0},
                            timeout=10)
    assert refused.status_code == 400 and refused.json()["ok"] is False
    state = requests.get(url + "state", timeout=10).json()
    assert "posts" in state and state["requests"] == []
    assert requests.post(url + "reset", timeout=10).json() == {"ok": True}
    assert sandbox.pending_faults() == 0
    assert requests.post(url + "no-such-control", json={}, timeout=10).status_code == 404
