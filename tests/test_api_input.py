"""Hostile and odd input to the content API: every answer is JSON with the field at fault, never a
500, and one rule per input (create, bulk, edit and reschedule judge a field alike)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from tests.conftest import ACCOUNT, bearer, upload_video


def _repo():
    from shared import services

    return services.repository()


def _stored(collection: str) -> int:
    return len(list(_repo().db.collection(collection).stream()))


def _copy(video: str | None = None, **overrides) -> dict:
    body = {"campaign": "launch", "caption": "Cold for 24 hours.", "targets": [
        {"account_id": ACCOUNT, "privacy_level": "PUBLIC_TO_EVERYONE"}]}
    if video:
        body["video"] = video
    body.update(overrides)
    return body


def _later(**delta) -> str:
    from shared.runtime.clock import utcnow

    return (utcnow() + timedelta(**delta)).replace(microsecond=0).isoformat()


def _is_json_error(answer, status: int, field: str | None = ...) -> dict:
    assert answer.status_code == status, (answer.status_code, answer.get_data(as_text=True)[:300])
    assert answer.headers["Content-Type"].startswith("application/json"), answer.headers["Content-Type"]
    body = answer.get_json()
    assert body["detail"], body
    if field is not ...:
        assert body["field"] == field, body
    return body


# -- item 3: nesting -------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/posts", "/campaigns", "/posts/bulk"])
@pytest.mark.parametrize("depth", [100_000, 200])
def test_deeply_nested_json_is_400_not_a_crash(api, env, path, depth):
    body = '{"name": "x", "campaign": ' + "[" * depth + "]" * depth + "}"
    answer = api.post(path, data=body, content_type="application/json", headers=bearer(env))
    body = _is_json_error(answer, 400)
    assert body["field"].startswith("campaign"), body
    detail = body["detail"]
    assert "nested" in detail
    assert _stored("campaigns") == 0 and _stored("content") == 0


# -- item 5: body size whatever the headers say ----------------------------------------------------------

@pytest.fixture
def served(env):
    import shared.api.app as api_app

    from tests.browser import serve_function

    api_app._app = None
    with serve_function("functions/api/main.py", "api") as served:
        yield served


def _chunked(data: bytes, size: int = 64 * 1024):
    """A generator body: requests sends it with Transfer-Encoding: chunked and no Content-Length."""
    for start in range(0, len(data), size):
        yield data[start:start + size]


def _post_chunked(url: str, env, data: bytes) -> requests.Response:
    try:
        return requests.post(url, data=_chunked(data), timeout=60,
                             headers={**bearer(env), "Content-Type": "application/json"})
    except requests.ConnectionError as exc:  # the server may close before the last chunk is sent
        pytest.fail(f"no answer: {exc}")


@pytest.mark.parametrize("path,mib", [("/campaigns", 1.2), ("/posts", 1.5), ("/posts/bulk", 8)])
def test_chunked_body_over_the_limit_is_413_and_nothing_is_stored(served, env, path, mib):
    from shared.api.app import MAX_BODY_BYTES

    video = upload_video()
    head = {"/campaigns": '{"id": "big", "name": "Big"', "/posts": _copy_json(video),
            "/posts/bulk": '{"items": [' + _copy_json(video) + "}]"}[path]
    data = (head + " " * int(mib * 1024 * 1024) + "}").encode()
    assert len(data) > MAX_BODY_BYTES
    answer = _post_chunked(served.url + path, env, data)
    assert answer.status_code == 413, answer.text[:300]
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["field"] == "body"
    assert _stored("campaigns") == 0 and _stored("content") == 0 and _stored("posts") == 0


def _copy_json(video: str) -> str:
    import json

    return json.dumps(_copy(video))[:-1]  # without the closing brace: padding goes before it


def test_chunked_body_within_the_limit_is_read_whole(served, env):
    data = ('{"id": "small", "name": "Small"' + " " * (512 * 1024) + "}").encode()
    answer = _post_chunked(served.url + "/campaigns", env, data)
    assert answer.status_code == 201, answer.text[:300]
    assert _repo().db.collection("campaigns").document("small").get().exists
