"""The X contract checker refuses what X's OpenAPI document (2.167) does not allow, so it cannot
pass everything: made-up exchanges, no sandbox."""
from __future__ import annotations

import json

import pytest

from infra.local.sandboxes.recording import Exchange
from tests.contracts.x import check

TOKEN = {"authorization": "Bearer user-token"}
POST = {"id": "1800000000000000001", "text": "hello", "edit_history_post_ids": ["1800000000000000001"]}
METRICS = {"repost_count": 1, "reply_count": 2, "like_count": 3, "quote_count": 4, "bookmark_count": 5,
           "impression_count": 6}


def exchange(method="GET", path="/2/tweets", query=(), headers=None, body=b"", status=200, answer=None,
             answer_type="application/json", host="api.x.com") -> Exchange:
    response = json.dumps(answer).encode() if answer is not None else b""
    return Exchange(sandbox="x", host=host, method=method, path=path, query=list(query),
                    headers=dict(TOKEN if headers is None else headers), body=body, body_size=len(body),
                    status=status, response_headers={"content-type": answer_type}, response_body=response)


def lookup(query, answer=None):
    return check(exchange(query=query, answer=answer or {"data": [{**POST, "public_metrics": METRICS}]}))


def test_post_fields_are_accepted_and_the_retired_tweet_fields_refused():
    ok = lookup([("ids", POST["id"]), ("post.fields", "public_metrics")])
    assert ok.operation == "x.getPostsByIds" and ok.problems == [] and ok.response_checked
    old = lookup([("ids", POST["id"]), ("tweet.fields", "public_metrics")])
    assert any("tweet.fields is not one the operation declares" in p for p in old.problems)
    gone = check(exchange(path=f"/2/tweets/{POST['id']}", query=[("post.fields", "author_id,created_at")],
                          answer={"data": POST}))
    assert any("author_id" in p for p in gone.problems)  # an expansion now, not a post field


def test_the_old_answer_spellings_are_refused():
    old_post = {"id": POST["id"], "text": "hello", "edit_history_tweet_ids": [POST["id"]],
                "public_metrics": {**{k: v for k, v in METRICS.items() if k != "repost_count"}, "retweet_count": 1}}
    verdict = lookup([("ids", POST["id"]), ("post.fields", "public_metrics")], {"data": [old_post]})
    assert any("edit_history_tweet_ids" in p for p in verdict.problems)
    assert any("retweet_count" in p for p in verdict.problems) and any("repost_count" in p for p in verdict.problems)


def test_query_values_required_parameters_and_list_limits():
    assert any("required query parameter ids" in p for p in lookup([("post.fields", "public_metrics")]).problems)
    too_many = lookup([("ids", ",".join(str(10**18 + i) for i in range(101)))])
    assert too_many.problems
    timeline = check(exchange(path="/2/users/42/tweets", query=[("exclude", "retweets,quotes"), ("max_results", "500")],
                              answer={"meta": {"result_count": 0}}))
    assert len(timeline.problems) == 2


def test_bodies_follow_the_request_schema():
    body = json.dumps({"text": "hi", "media": {"media_ids": ["1"]}, "quote_post_id": "2"}).encode()
    verdict = check(exchange("POST", "/2/tweets", headers={**TOKEN, "content-type": "application/json"}, body=body,
                             status=201, answer={"data": POST}))
    assert verdict.operation == "x.createPosts" and any("quote_post_id" in p for p in verdict.problems)
    form = check(exchange("POST", "/2/media/upload/initialize", headers={**TOKEN, "content-type": "application/x-www-form-urlencoded"},
                          body=b"total_bytes=1", answer={"data": {"id": "1"}}))
    assert any("Content-Type application/x-www-form-urlencoded" in p for p in form.problems)
    finalize = check(exchange("POST", "/2/media/upload/1/finalize", headers={**TOKEN, "content-type": "application/json"},
                              body=b"{}", answer={"data": {"id": "1"}}))
    assert any("takes none" in p for p in finalize.problems)


def test_multipart_append_is_read_from_its_parts():
    boundary = "b0undary"
    parts = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"segment_index\"\r\n\r\n1000\r\n"
             f"--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"s\"\r\n"
             f"Content-Type: application/octet-stream\r\n\r\nabc\r\n--{boundary}--\r\n").encode()
    verdict = check(exchange("POST", "/2/media/upload/1/append", body=parts, answer={"data": {"expires_at": 1}},
                             headers={**TOKEN, "content-type": f"multipart/form-data; boundary={boundary}"}))
    assert verdict.operation == "x.appendMediaUpload" and any("segment_index" in p for p in verdict.problems)


def test_auth_host_and_unknown_paths():
    assert not any("Authorization" in p for p in lookup([("ids", "1")]).problems)
    anonymous = check(exchange(query=[("ids", "1")], headers={}, answer={"data": [POST]}))
    assert any("Authorization" in p for p in anonymous.problems)
    elsewhere = check(exchange(query=[("ids", "1")], host="api.twitter.com", answer={"data": [POST]}))
    assert any("api.x.com" in p for p in elsewhere.problems)
    unknown = check(exchange(path="/2/tweets/search/everything"))
    assert unknown.operation == "x.unknown" and unknown.problems
    assert check(exchange(path="/_sandbox/reset", method="POST")).operation is None


@pytest.mark.parametrize("kind, ok", [("https://api.x.com/2/problems/invalid-request", True),
                                      ("https://api.twitter.com/2/problems/invalid-request", False),
                                      ("https://api.x.com/2/problems/no-such-problem", False),
                                      ("about:blank", True)])
def test_problem_types_are_the_documents_on_api_x_com(kind, ok):
    answer = {"title": "Invalid Request", "detail": "One or more parameters to your request was invalid.", "type": kind}
    verdict = check(exchange(query=[("ids", "1")], status=400, answer=answer, answer_type="application/problem+json"))
    assert verdict.response_checked and (verdict.problems == []) is ok, verdict.problems


def test_token_endpoint_follows_xs_oauth_page():
    good = check(exchange("POST", "/2/oauth2/token", headers={"content-type": "application/x-www-form-urlencoded"},
                          body=b"grant_type=refresh_token&refresh_token=r&client_id=c",
                          answer={"token_type": "bearer", "expires_in": 7200, "access_token": "a", "scope": "tweet.read"}))
    assert good.operation == "x.oauth2.token" and good.problems == []
    bad = check(exchange("POST", "/2/oauth2/token", headers={"content-type": "application/json"},
                         body=b'{"grant_type": "refresh_token"}', answer={"access_token": "a"}))
    assert len(bad.problems) >= 3
