"""Idempotency-Key: one key names one request of one user for one operation. Another user's key is
theirs, a reused key with a different body is refused, and requests racing with one key all get the
one result, created once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from tests.conftest import ACCOUNT, bearer, drain_messages, upload_video
from tests.test_api_contention import served  # noqa: F401 - the api function over real HTTP


def _copy(video: str, **overrides) -> dict:
    body = {"campaign": "launch", "caption": "Cold for 24 hours.", "video": video,
            "targets": [{"account_id": ACCOUNT, "privacy_level": "PUBLIC_TO_EVERYONE"}]}
    body.update(overrides)
    return body


def _stored(collection: str) -> int:
    from shared import services

    return len(list(services.repository().db.collection(collection).stream()))


def _keyed(env, key: str, user: str = "editor@example.com") -> dict:
    return {**bearer(env, user), "Idempotency-Key": key}


def test_another_users_request_with_the_same_key_gets_its_own_item(api, env):
    video = upload_video()
    mine = api.post("/posts", json=_copy(video), headers=_keyed(env, "row-7"))
    theirs = api.post("/posts", json=_copy(video), headers=_keyed(env, "row-7", "colleague@example.com"))
    assert mine.status_code == theirs.status_code == 201, (mine.get_json(), theirs.get_json())
    assert theirs.get_json()["id"] != mine.get_json()["id"]
    assert theirs.get_json()["requested_by"] == "colleague@example.com"
    assert _stored("content") == 2
    # Each still replays their own.
    again = api.post("/posts", json=_copy(video), headers=_keyed(env, "row-7", "colleague@example.com"))
    assert again.status_code == 201 and again.get_json()["id"] == theirs.get_json()["id"]


def test_a_reused_key_with_a_different_body_is_422_naming_the_header(api, env):
    video = upload_video()
    first = api.post("/posts", json=_copy(video), headers=_keyed(env, "row-8"))
    assert first.status_code == 201
    other = api.post("/posts", json=_copy(video, caption="Something else entirely."), headers=_keyed(env, "row-8"))
    assert other.status_code == 422, other.get_json()
    assert other.get_json()["field"] == "Idempotency-Key" and "different" in other.get_json()["detail"]
    assert _stored("content") == 1
    # The same body in another key order and spacing is the same request.
    same = api.post("/posts", data='{"targets": [{"privacy_level": "PUBLIC_TO_EVERYONE", "account_id": "%s"}],'
                                   '  "video": "%s", "caption": "Cold for 24 hours.", "campaign": "launch"}'
                                   % (ACCOUNT, video), content_type="application/json", headers=_keyed(env, "row-8"))
    assert same.status_code == 201 and same.get_json()["id"] == first.get_json()["id"]


def test_a_key_is_scoped_to_its_operation(api, env):
    video = upload_video()
    one = api.post("/posts", json=_copy(video), headers=_keyed(env, "sheet-3"))
    bulk = api.post("/posts/bulk", json={"items": [_copy(video)]}, headers=_keyed(env, "sheet-3"))
    assert one.status_code == bulk.status_code == 201, bulk.get_json()
    assert bulk.get_json()["items"][0]["id"] != one.get_json()["id"]
    assert _stored("content") == 2


def test_a_refused_first_request_frees_its_key(api, env):
    video = upload_video()
    refused = api.post("/posts", json=_copy(video, targets=[{"account_id": "nobody"}]), headers=_keyed(env, "row-9"))
    assert refused.status_code == 422 and refused.get_json()["field"] == "targets[0].account_id"
    fixed = api.post("/posts", json=_copy(video), headers=_keyed(env, "row-9"))
    assert fixed.status_code == 201, fixed.get_json()
    assert _stored("content") == 1


def test_concurrent_requests_with_one_key_all_get_the_one_item(served, env):  # noqa: F811
    drain_messages()
    body = _copy(upload_video())
    headers = _keyed(env, "double-click")

    def send(_):
        return requests.post(served + "/posts", json=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    assert [a.status_code for a in answers] == [201] * 8, [(a.status_code, a.text[:200]) for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert _stored("content") == 1 and _stored("posts") == 1
    assert len(drain_messages()) == 1  # the approver is asked once
