"""Hostile and odd input to the content API: every answer is JSON with the field at fault, never a
500, and one rule per input (create, bulk, edit and reschedule judge a field alike)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from tests.conftest import ACCOUNT, MEDIA_BUCKET, bearer, upload_video


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


# -- item 7: one rule per input, every error JSON --------------------------------------------------------

BAD_TIMES = [("0001-01-01T00:00:00Z", 422), ("1970-01-01T00:00:00Z", 422), ("9999-12-31T00:00:00Z", 422),
             (0, 400), (1_900_000_000, 400)]


def _send(api, env, operation: str, post_id: str | None, field_value: dict):
    """One operation with the field under test: create, bulk (the second item), generate, edit, reschedule."""
    video = f"gs://{MEDIA_BUCKET}/in/video.mp4"  # the draft fixture's upload (refused fields fail before media)
    if operation == "create":
        return api.post("/posts", json=_copy(video, **field_value), headers=bearer(env)), ""
    if operation == "bulk":
        return api.post("/posts/bulk", json={"items": [_copy(video), _copy(video, **field_value)]},
                        headers=bearer(env)), "items[1]."
    if operation == "generate":
        from tests.conftest import brief

        body = brief(video, campaign="launch")
        body.pop("requested_by")
        return api.post("/posts/generate", json={**body, **field_value}, headers=bearer(env)), ""
    if operation == "edit":
        return api.patch(f"/posts/{post_id}", json=field_value, headers=bearer(env)), ""
    return api.post(f"/posts/{post_id}/reschedule", json=field_value, headers=bearer(env)), ""


@pytest.mark.parametrize("value,status", BAD_TIMES)
@pytest.mark.parametrize("operation", ["create", "bulk", "generate", "edit", "reschedule"])
def test_a_planned_time_follows_one_rule_everywhere(api, env, draft, operation, value, status):
    [post] = _repo().posts_for_content(draft.id)
    name = "scheduled_at" if operation in ("edit", "reschedule") else "publish_at"
    contents = _stored("content")
    answer, prefix = _send(api, env, operation, post.id, {name: value})
    _is_json_error(answer, status, prefix + name)
    assert _stored("content") == contents and _repo().get_post(post.id).scheduled_at == post.scheduled_at


@pytest.mark.parametrize("operation", ["create", "bulk", "edit", "reschedule"])
def test_a_planned_time_within_the_rule_is_taken_everywhere(api, env, draft, operation):
    [post] = _repo().posts_for_content(draft.id)
    name = "scheduled_at" if operation in ("edit", "reschedule") else "publish_at"
    answer, _ = _send(api, env, operation, post.id, {name: _later(days=30)})
    assert answer.status_code in (200, 201), answer.get_json()


@pytest.mark.parametrize("tz", ["Factory", "posixrules", "localtime"])
def test_only_canonical_time_zone_names_are_taken(api, env, tz):
    answer = api.get("/calendar", query_string={"from": "2030-01-01", "to": "2030-01-02", "tz": tz},
                     headers=bearer(env))
    _is_json_error(answer, 400, "tz")


@pytest.mark.parametrize("campaign", ["../../a b/\u0000", "a b", "__x__", "x" * 129])
@pytest.mark.parametrize("operation", ["create", "bulk", "generate"])
def test_a_posts_campaign_is_a_campaign_id(api, env, operation, campaign):
    answer, prefix = _send(api, env, operation, None, {"campaign": campaign})
    _is_json_error(answer, 400, prefix + "campaign")
    listed = api.get("/posts", query_string={"campaign": campaign}, headers=bearer(env))
    _is_json_error(listed, 400, "campaign")
    assert _stored("content") == 0


@pytest.mark.parametrize("caption", ["before\u0000after", "\u200b\u200b", " \u2060\ufeff ", "\u200d"])
@pytest.mark.parametrize("operation", ["create", "bulk", "edit"])
def test_nul_and_invisible_only_captions_are_refused_naming_the_caption(api, env, draft, operation, caption):
    [post] = _repo().posts_for_content(draft.id)
    answer, prefix = _send(api, env, operation, post.id, {"caption": caption})
    _is_json_error(answer, 400, prefix + "caption")
    assert _repo().get_content(draft.id).caption == draft.caption


@pytest.mark.parametrize("path", ["/posts/abc%0A", "/posts/abc%0Adef/cancel", "/campaigns/x%0A/posts",
                                  "/contents/a%0Ab"])
def test_a_newline_in_a_path_id_gets_a_json_answer(api, env, path):
    answer = api.get(path, headers=bearer(env))
    assert answer.status_code in (400, 404, 405)
    _is_json_error(answer, answer.status_code)


@pytest.mark.parametrize("method,path", [("put", "/posts"), ("delete", "/health"), ("get", "/no/such/thing")])
def test_routing_errors_are_json(api, env, method, path):
    answer = getattr(api, method)(path, headers=bearer(env))
    _is_json_error(answer, answer.status_code)


def test_a_duplicate_json_key_is_400_naming_it(api, env, draft):
    [post] = _repo().posts_for_content(draft.id)
    body = '{"campaign": "launch", "caption": "one", "caption": "two", "targets": [{"account_id": "%s"}]}' % ACCOUNT
    answer = api.post("/posts", data=body, content_type="application/json", headers=bearer(env))
    assert "caption" in _is_json_error(answer, 400, "caption")["detail"]
    answer = api.patch(f"/posts/{post.id}", data='{"caption": "one", "caption": "two"}',
                       content_type="application/json", headers=bearer(env))
    _is_json_error(answer, 400, "caption")
    answer = api.post("/campaigns", data='{"name": "a", "id": "a", "id": "b"}', content_type="application/json",
                      headers=bearer(env))
    _is_json_error(answer, 400, "id")
    assert _stored("campaigns") == 0 and _repo().get_content(draft.id).caption == draft.caption
