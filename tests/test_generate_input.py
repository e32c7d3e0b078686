"""generate-http: bad input gets a clear 4xx naming what to fix, never a 500, and a refused request
stores nothing (no content, no posts, no media objects)."""

from __future__ import annotations

import io
import json

import pytest

from shared.content.brief_request import MAX_BODY_BYTES, MAX_IDEMPOTENCY_KEY_CHARS, MAX_JSON_DEPTH
from tests.conftest import (
    ACCOUNT,
    MEDIA_BUCKET,
    PROJECT,
    brief,
    function_client,
    jpeg_bytes,
    pubsub_envelope,
    upload_video,
)

OTHER_BUCKET = "not-the-media-bucket"
TARGET = {"account_id": ACCOUNT, "privacy_level": "PUBLIC_TO_EVERYONE"}


def _http():
    return function_client("functions/generate/main.py", "generate_http", "http")


def _stored() -> dict:
    from shared import services
    from shared.runtime.clients import storage_client

    db = services.repository().db
    return {"content": [d.id for d in db.collection("content").stream()],
            "posts": [d.id for d in db.collection("posts").stream()],
            "media": sorted(b.name for b in storage_client(PROJECT).list_blobs(MEDIA_BUCKET))}


def _refused(response, status: int, field: str | None, media_before: list[str]) -> dict:
    """The answer is `status` as JSON naming `field`, and nothing was stored."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "field", "limit"} and body["error"]
    assert body["field"] == field, body
    assert _stored() == {"content": [], "posts": [], "media": media_before}
    return body


def _other_bucket_object(name: str, data: bytes, content_type: str) -> str:
    from shared.runtime.clients import storage_client

    client = storage_client(PROJECT)
    bucket = client.lookup_bucket(OTHER_BUCKET) or client.create_bucket(OTHER_BUCKET)
    bucket.blob(name).upload_from_string(data, content_type=content_type)
    return f"gs://{OTHER_BUCKET}/{name}"


def test_get_is_refused_with_405_and_allow_post(env):
    response = _http().get("/")
    _refused(response, 405, "method", [])
    assert response.headers["Allow"] == "POST"


def test_non_json_content_type_is_refused_with_415(env):
    body = _refused(_http().post("/", data=json.dumps(brief(upload_video())), content_type="text/plain"),
                    415, "Content-Type", ["in/video.mp4"])
    assert body["limit"] == "application/json"


def test_body_over_the_limit_is_refused_with_413_from_content_length_before_it_is_read(env):
    events = []

    class RecordingBody(io.BytesIO):
        def readinto(self, buffer):
            events.append("read")
            return super().readinto(buffer)

    client = _http()

    @client.application.after_request  # runs before functions-framework's own hook, which drains the body
    def answered(response):
        events.append("answered")
        return response

    response = client.post("/", input_stream=RecordingBody(b" " * (MAX_BODY_BYTES + 1)), content_type="application/json")
    _refused(response, 413, "body", [])
    assert events[0] == "answered"


def test_chunked_body_over_the_limit_is_refused_with_413(env):
    payload = json.dumps(brief(upload_video(), topic="x" * MAX_BODY_BYTES)).encode()
    response = _http().post("/", data=payload, content_type="application/json",
                            headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    _refused(response, 413, "body", ["in/video.mp4"])


def test_invalid_json_is_refused_naming_the_body(env):
    _refused(_http().post("/", data='{"campaign": "Launch",', content_type="application/json"), 400, "body", [])


def test_deeply_nested_json_is_refused_naming_where_it_got_too_deep(env):
    levels = (MAX_BODY_BYTES - 20) // 2  # as deep as fits under the size limit; json.loads recurses on it
    raw = '{"targets": ' + "[" * levels + "]" * levels + "}"
    body = _refused(_http().post("/", data=raw, content_type="application/json"), 400,
                    "targets" + "[0]" * (MAX_JSON_DEPTH - 1), [])
    assert body["limit"] == f"max_depth={MAX_JSON_DEPTH}"


def test_body_that_is_not_an_object_is_refused_naming_the_body(env):
    _refused(_http().post("/", json=[brief(upload_video())]), 400, "body", ["in/video.mp4"])


def test_same_account_twice_is_refused_naming_the_second_target(env):
    response = _http().post("/", json=brief(upload_video(), targets=[TARGET, TARGET]))
    body = _refused(response, 400, "targets[1].account_id", ["in/video.mp4"])
    assert ACCOUNT in body["error"]


def test_video_outside_the_media_bucket_is_refused_naming_video(env):
    video = _other_bucket_object("in/video.mp4", b"\0" * 1024, "video/mp4")
    body = _refused(_http().post("/", json=brief(video)), 400, "video", [])
    assert MEDIA_BUCKET in body["limit"]


def test_image_outside_the_media_bucket_is_refused_naming_images_0(env):
    image = _other_bucket_object("in/photo.jpg", jpeg_bytes(), "image/jpeg")
    response = _http().post("/", json=brief(upload_video(), images=[image]))
    body = _refused(response, 400, "images[0]", ["in/video.mp4"])
    assert MEDIA_BUCKET in body["limit"]


@pytest.mark.parametrize("field, overrides", [
    ("hashtags[0]", lambda: {"hashtags": ["a" * 501]}),
    ("targets[0].title", lambda: {"targets": [{**TARGET, "title": "t" * 501}]}),
    ("targets[0].tags[0]", lambda: {"targets": [{**TARGET, "tags": ["t" * 501]}]}),
    ("targets[0].youtube_category_id", lambda: {"targets": [{**TARGET, "youtube_category_id": "2" * 11}]}),
    ("video", lambda: {"video": f"gs://{MEDIA_BUCKET}/" + "v" * 1300}),
    ("images[0]", lambda: {"images": [f"gs://{MEDIA_BUCKET}/" + "i" * 1300]}),
])
def test_over_long_field_is_refused_naming_it(env, field, overrides):
    request = {**brief(upload_video()), **overrides()}
    body = _refused(_http().post("/", json=request), 400, field, ["in/video.mp4"])
    assert body["limit"].startswith("max_length=")


def test_over_long_idempotency_key_is_refused_naming_the_header(env):
    response = _http().post("/", json=brief(upload_video()),
                            headers={"Idempotency-Key": "k" * (MAX_IDEMPOTENCY_KEY_CHARS + 1)})
    body = _refused(response, 400, "Idempotency-Key", ["in/video.mp4"])
    assert body["limit"] == f"max_length={MAX_IDEMPOTENCY_KEY_CHARS}"


def test_brief_over_pubsub_with_video_outside_the_media_bucket_is_acked_and_stores_nothing(env, logs):
    video = _other_bucket_object("in/video.mp4", b"\0" * 1024, "video/mp4")
    client = function_client("functions/generate/main.py", "generate_from_message")
    assert client.post("/", json=pubsub_envelope(brief(video), message_id="m-1")).status_code == 200
    assert _stored() == {"content": [], "posts": [], "media": []}
    [refusal] = [e for e in logs.entries if e.get("message") == "message refused; acked"]
    assert "video" in refusal["error"] and OTHER_BUCKET in refusal["error"]


def test_every_generate_answer_carries_the_security_headers(env):
    client = function_client("functions/generate/main.py", "generate_http", "http")
    for response in (client.get("/"), client.post("/", data="x", content_type="text/plain"),
                     client.post("/", data=b"{" * 70_000, content_type="application/json")):
        assert response.status_code in (405, 415, 413)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_a_deeply_nested_pubsub_brief_is_acked_as_unreadable(env):
    client = function_client("functions/generate/main.py", "generate_from_message")
    response = client.post("/", json=pubsub_envelope(b"[" * 100_000 + b"]" * 100_000))
    assert response.status_code == 200  # acked: redelivering cannot make it readable
    from shared import services

    assert list(services.repository().db.collection("content").stream()) == []
