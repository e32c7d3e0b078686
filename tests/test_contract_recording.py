"""The recorder behind the contract checks sees each exchange exactly as the client sent it, and
leaves what the sandbox reads unchanged."""

from __future__ import annotations

import types

import pytest
import requests

from infra.local.sandboxes.recording import recording
from infra.local.sandboxes.tiktok import TikTokSandbox
from tests import contracts
from tests.contracts import Verdict, check_exchanges

# These send made-up requests (no token, stray paths) to test the recorder itself, not a client.
pytestmark = pytest.mark.sandbox_probe


def test_exchanges_are_recorded_with_bodies_and_answers_and_the_sandbox_still_reads_the_body():
    with TikTokSandbox() as box, recording() as exchanges, requests.Session() as http:
        box.add_creator("act.recorded", creator_username="rec")
        answer = http.post(f"{box.base_url}/v2/post/publish/creator_info/query/",
                           headers={"Authorization": "Bearer act.recorded", "Content-Type": "application/json; charset=UTF-8"},
                           data=b"{}")
        # a second request on the same keep-alive connection: the recorder must not read past the first body
        again = http.post(f"{box.base_url}/v2/post/publish/creator_info/query/?x=1",
                          headers={"Authorization": "Bearer act.recorded"}, json={})
    assert answer.status_code == 200 and answer.json()["data"]["creator_username"] == "rec"
    assert again.status_code == 200
    assert [e.path for e in exchanges] == ["/v2/post/publish/creator_info/query/"] * 2
    first, second = exchanges
    assert first.sandbox == "tiktok" and first.host == "tiktok" and first.method == "POST"
    assert first.headers["authorization"] == "Bearer act.recorded" and first.content_type == "application/json"
    assert first.body == b"{}" and first.body_size == 2 and first.status == 200
    assert first.response_json()["data"]["creator_username"] == "rec"
    assert second.query == [("x", "1")] and second.params() == {"x": "1"}


def test_chunked_request_bodies_are_recorded_whole():
    def chunks():
        yield b'{"a":'
        yield b' 1}'

    with TikTokSandbox() as box, recording() as exchanges:
        requests.post(f"{box.base_url}/v2/post/publish/creator_info/query/", data=chunks(),
                      headers={"Authorization": "Bearer nobody", "Content-Type": "application/json"}, timeout=10)
    assert exchanges[0].body == b'{"a": 1}' and exchanges[0].json() == {"a": 1}


def test_nothing_is_recorded_outside_a_recording_block():
    with TikTokSandbox() as box:
        with recording() as inside:
            pass
        requests.post(f"{box.base_url}/v2/post/publish/creator_info/query/", json={}, timeout=10)
    assert inside == []


def test_checker_problems_are_reported_and_counted(monkeypatch):
    seen: list[str] = []

    def check(exchange):
        seen.append(exchange.path)
        if exchange.path.startswith("/control"):
            return Verdict(None)
        return Verdict("demo.op", ["field z is not in the document"] if "z" in exchange.params() else [],
                       response_checked=True)

    monkeypatch.setitem(contracts._checkers, "tiktok", types.SimpleNamespace(check=check))
    monkeypatch.setattr(contracts, "TALLY", contracts.Tally())  # the session's own tally stays as it was
    with TikTokSandbox() as box, recording() as exchanges:
        for path in ("/v2/post/publish/creator_info/query/?z=1", "/v2/post/publish/creator_info/query/", "/control/x"):
            requests.post(box.base_url + path, json={}, timeout=10)
    problems = check_exchanges(list(exchanges))
    assert len(seen) == 3
    assert problems == ["POST tiktok/v2/post/publish/creator_info/query/ -> 401 [demo.op]: field z is not in the document"]
    assert (contracts.TALLY.requests["tiktok"], contracts.TALLY.answers["tiktok"], contracts.TALLY.problems) == (2, 2, 1)
    assert contracts.TALLY.operations == {"tiktok": {"demo.op"}}
