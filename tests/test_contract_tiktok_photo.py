"""The photo post rules of the TikTok contract checker refuse what TikTok's photo post reference does
not define, and accept what our client sends (recorded from a real publish against the sandbox)."""

from __future__ import annotations

import json

import pytest

from infra.local.sandboxes.recording import Exchange, recording
from tests.contracts.tiktok_photo import PATH, PHOTO_PAGE, check_photo_init

GOOD = {"media_type": "PHOTO", "post_mode": "DIRECT_POST",
        "post_info": {"description": "Cold all day #launch", "privacy_level": "SELF_ONLY", "disable_comment": False,
                      "auto_add_music": False, "brand_content_toggle": False, "brand_organic_toggle": False},
        "source_info": {"source": "PULL_FROM_URL", "photo_images": ["https://media.example/a.jpg"],
                        "photo_cover_index": 0}}
OK_ANSWER = {"data": {"publish_id": "p_pub_url~v2-1.7"}, "error": {"code": "ok", "message": "", "log_id": "x"}}


def _exchange(body, *, content_type: str = "application/json; charset=UTF-8", answer=OK_ANSWER) -> Exchange:
    raw = json.dumps(body).encode()
    return Exchange(sandbox="tiktok", host="open.tiktokapis.com", method="POST", path=PATH, query=[],
                    headers={"authorization": "Bearer act.x", "content-type": content_type}, body=raw,
                    body_size=len(raw), status=200, response_body=json.dumps(answer).encode())


def _with(path: str, value) -> dict:
    body = json.loads(json.dumps(GOOD))
    *parents, leaf = path.split(".")
    node = body
    for p in parents:
        node = node[p]
    if value is None:
        node.pop(leaf)
    else:
        node[leaf] = value
    return body


def test_a_documented_request_passes():
    assert check_photo_init(_exchange(GOOD)) == []


@pytest.mark.parametrize("path,value,fragment", [
    ("post_info.is_aigc", True, "post_info.is_aigc is not defined"),
    ("post_info.disable_duet", False, "post_info.disable_duet is not defined"),
    ("post_info.privacy_level", None, "privacy_level is required"),
    ("post_info.title", "t" * 91, "title is over 90"),
    ("post_info.description", "d" * 4001, "description is over 4000"),
    ("source_info.source", "FILE_UPLOAD", "PULL_FROM_URL"),
    ("source_info.photo_images", ["https://media.example/a.jpg"] * 36, "up to 35"),
    ("source_info.photo_cover_index", 1, "photo_cover_index 1"),
    ("source_info.photo_cover_index", None, "photo_cover_index is required"),
    ("media_type", "VIDEO", "media_type must be PHOTO"),
    ("post_mode", "DIRECT POST", "post_mode"),
    ("source_info.video_url", "https://media.example/v.mp4", "video_url is not defined"),
])
def test_what_the_reference_does_not_define_is_a_problem(path, value, fragment):
    problems = check_photo_init(_exchange(_with(path, value)))
    assert any(fragment in p for p in problems), problems
    assert all(PHOTO_PAGE in p for p in problems)


def test_a_body_not_sent_as_json_utf8_and_an_answer_without_publish_id_are_problems():
    assert any("Content-Type" in p for p in check_photo_init(_exchange(GOOD, content_type="text/plain")))
    bare = {"data": {}, "error": {"code": "ok", "message": "", "log_id": "x"}}
    assert any("publish_id" in p for p in check_photo_init(_exchange(GOOD, answer=bare)))


def test_what_our_client_sends_passes(env, sandbox):
    """A real photo publish, recorded: every content/init request our client made meets the rules."""
    from shared import entrypoints
    from tests.conftest import (
        ACCOUNT,
        MEDIA_BUCKET,
        approve,
        function_client,
        generic_brief,
        jpeg_bytes,
        pubsub_envelope,
        upload_object,
    )

    saved = sandbox.verified_url_prefixes
    sandbox.verified_url_prefixes = (env["POSTGATE_SIGNED_URL_ENDPOINT"].rstrip("/") + f"/{MEDIA_BUCKET}/",)
    try:
        images = [upload_object(f"in/c{i}.jpg", jpeg_bytes(1080, 1080), "image/jpeg") for i in range(2)]
        content = entrypoints.generate(generic_brief([{"account_id": ACCOUNT, "privacy_level": "SELF_ONLY",
                                                       "title": "Cold all day"}], images=images))
        [due] = approve(env, content)
        with recording() as exchanges:
            client = function_client("functions/publish_tiktok/main.py", "publish_tiktok")
            assert client.post("/", json=pubsub_envelope({"post_id": due.id})).status_code == 200
    finally:
        sandbox.verified_url_prefixes = saved
    inits = [e for e in exchanges if e.sandbox == "tiktok" and e.path == PATH]
    assert len(inits) == 1
    assert check_photo_init(inits[0]) == []
