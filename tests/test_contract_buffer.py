"""The Buffer contract checker refuses what Buffer's schema (buffer_schema.graphql) and guides do not allow,
so it cannot pass everything: made-up exchanges, no sandbox."""
from __future__ import annotations

import json

from infra.local.sandboxes.recording import Exchange
from tests.contracts.buffer import check

KEY = {"authorization": "Bearer buffer-key", "content-type": "application/json"}
WINDOWS = {"ratelimit": '"100-in-15min";r=99;t=900, "500-in-1day";r=499;t=86400, "15000-in-30days";r=14999;t=2592000',
           "ratelimit-policy": '"100-in-15min";q=100;w=900;pk=:x:, "500-in-1day";q=500;w=86400;pk=:x:, '
                               '"15000-in-30days";q=15000;w=2592000;pk=:x:'}
CREATE = """mutation C($input: CreatePostInput!) { createPost(input: $input) {
  ... on PostActionSuccess { post { id status dueAt } } ... on MutationError { message } } }"""
INPUT = {"channelId": "6b151ad8659b51046ab5980a", "text": "hi", "schedulingType": "automatic", "mode": "shareNow"}
POST = {"id": "6b151ad852edc8412a913885", "status": "sending", "dueAt": "2026-12-06T08:20:40.045Z"}


def exchange(query=CREATE, variables=None, answer=None, status=200, headers=None, response_headers=None,
             path="/", host="api.buffer.com", dropped=False) -> Exchange:
    body = json.dumps({"query": query, "variables": {"input": INPUT} if variables is None else variables}).encode()
    response = json.dumps(answer).encode() if answer is not None else b""
    return Exchange(sandbox="buffer", host=host, method="POST", path=path, query=[],
                    headers=dict(KEY if headers is None else headers), body=body, body_size=len(body), status=status,
                    response_headers={"content-type": "application/json",
                                      **(WINDOWS if response_headers is None else response_headers)},
                    response_body=response, dropped=dropped)


def created(post=POST, **kwargs):
    return check(exchange(answer={"data": {"createPost": post if "message" in post else {"post": post}}}, **kwargs))


def test_a_well_formed_create_and_its_answer_pass():
    verdict = created()
    assert verdict.operation == "buffer.createPost" and verdict.problems == [] and verdict.response_checked
    refused = created({"message": "Text is required"})
    assert refused.problems == []


def test_requests_the_schema_refuses():
    unknown = check(exchange(query=CREATE.replace("dueAt", "dueAt scheduledAt")))
    assert unknown.operation == "buffer.invalid" and any("scheduledAt" in p for p in unknown.problems)
    bad_variable = check(exchange(variables={"input": {**INPUT, "mode": "now"}}))
    assert any("ShareMode" in p for p in bad_variable.problems)
    zoneless = check(exchange(variables={"input": {**INPUT, "mode": "customScheduled", "dueAt": "2027-01-01T10:00"}}))
    assert any("time zone" in p for p in zoneless.problems)
    too_many_aliases = check(exchange(query="query { " + " ".join(f"a{i}: account {{ id }}" for i in range(31)) + " }",
                                      variables={}))
    assert any("at most 30" in p for p in too_many_aliases.problems)


def test_a_mutation_must_select_mutation_error():
    bare = CREATE.replace("... on MutationError { message }", "")
    assert any("MutationError" in p for p in check(exchange(query=bare, answer={"data": {"createPost": {}}})).problems)


def test_the_request_needs_the_key_host_and_path():
    assert any("Bearer" in p for p in created(headers={"content-type": "application/json"}).problems)
    assert any("api.buffer.com" in p for p in created(host="api.bufferapp.com").problems)
    assert check(exchange(path="/1/updates/create.json")).operation == "buffer.unknown"
    assert check(exchange(path="/_sandbox/state")).operation is None


def test_answers_are_checked_along_the_selection():
    wrong_enum = created({**POST, "status": "published"})
    assert any("status" in p and "published" in p for p in wrong_enum.problems)
    missing = created({"id": POST["id"], "status": "sent"})
    assert any("dueAt" in p for p in missing.problems)
    null_id = created({**POST, "id": None})
    assert any("non-nullable" in p for p in null_id.problems)
    extra = created({**POST, "externalLink": "https://x.com/a/status/1"})
    assert any("externalLink" in p for p in extra.problems)


def test_error_answers_and_rate_headers():
    no_retry = check(exchange(status=429, answer={"errors": [{"message": "slow down",
                                                              "extensions": {"code": "RATE_LIMIT_EXCEEDED"}}]}))
    assert any("retryAfter" in p for p in no_retry.problems)
    limited = check(exchange(status=429, answer={"errors": [{"message": "slow down", "extensions": {
        "code": "RATE_LIMIT_EXCEEDED", "retryAfter": 900, "limitType": "CLIENT_ACCOUNT"}}]}))
    assert limited.problems == []
    unauthenticated = check(exchange(status=401, answer={"errors": [{"message": "no", "extensions": {"code": "X"}}]},
                                     response_headers={}))
    assert any("UNAUTHENTICATED" in p for p in unauthenticated.problems)
    no_windows = created(response_headers={"ratelimit": '"100-in-15min";r=9;t=9'})
    assert any("1day" in p for p in no_windows.problems) and any("ratelimit-policy" in p for p in no_windows.problems)
    lost = check(exchange(dropped=True))
    assert lost.problems == [] and not lost.response_checked
