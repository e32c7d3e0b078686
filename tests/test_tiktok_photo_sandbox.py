"""The TikTok sandbox's photo posts over real HTTP with plain `requests`: the request rules of
developers.tiktok.com/doc/content-posting-api-reference-photo-post, the image rules of the media
transfer guide (checked on the images it pulls), and the status progression."""

from __future__ import annotations

import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from infra.local.sample_media import jpeg_bytes
from infra.local.sandboxes.tiktok import TikTokSandbox

pytestmark = pytest.mark.sandbox_probe  # deliberately malformed requests: not contract-checked

TOKEN, UPLOAD_ONLY = "tok-photo-secret", "tok-upload-only"
INIT, STATUS, QUERY = "/v2/post/publish/content/init/", "/v2/post/publish/status/fetch/", "/v2/video/query/"


def webp_bytes(width: int, height: int) -> bytes:
    """A minimal extended WebP header (RIFF, VP8X with the canvas size): enough to read its size."""
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") \
        + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x


IMAGES = {"/media/a.jpg": (jpeg_bytes(1080, 1920), "image/jpeg"), "/media/b.jpg": (jpeg_bytes(1080, 1080), "image/jpeg"),
          "/media/c.webp": (webp_bytes(1920, 1080), "image/webp"),
          "/media/big.jpg": (jpeg_bytes(2160, 3840), "image/jpeg"),
          "/media/p.png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "image/png")}


class _Images(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path == "/media/moved.jpg":
            self.send_response(302)
            self.send_header("Location", "/media/a.jpg")
            self.end_headers()
            return
        found = IMAGES.get(self.path)
        self.send_response(200 if found else 404)
        data, kind = found or (b"", "text/plain")
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def media_host():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def box(media_host):
    sb = TikTokSandbox(creators={TOKEN: {"creator_username": "photo"},
                                 UPLOAD_ONLY: {"creator_username": "drafts", "scopes": ["video.upload"]}},
                       verified_url_prefixes=[media_host + "/media/"], enforce_rate_limits=False)
    sb.start()
    yield sb
    sb.stop()


def _init(box, body: dict, token: str = TOKEN) -> requests.Response:
    return requests.post(box.base_url + INIT, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _status(box, publish_id: str) -> dict:
    r = requests.post(box.base_url + STATUS, json={"publish_id": publish_id},
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def _body(media_host: str, names=("a.jpg",), **changes) -> dict:
    body = {"media_type": "PHOTO", "post_mode": "DIRECT_POST",
            "post_info": {"title": "Cold all day", "description": "A bottle #launch", "privacy_level": "SELF_ONLY",
                          "disable_comment": False, "auto_add_music": True},
            "source_info": {"source": "PULL_FROM_URL", "photo_images": [f"{media_host}/media/{n}" for n in names],
                            "photo_cover_index": 0}}
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = body
        for p in parents:
            node = node[p]
        if value is _DROP:
            node.pop(leaf)
        else:
            node[leaf] = value
    return body


_DROP = object()


def _refused(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_photo_post_is_pulled_then_processing_download_then_publish_complete(box, media_host):
    r = _init(box, _body(media_host, ("a.jpg", "b.jpg", "c.webp"), **{"source_info.photo_cover_index": 2}))
    assert r.status_code == 200 and r.json()["error"]["code"] == "ok"
    pid = r.json()["data"]["publish_id"]
    assert set(r.json()["data"]) == {"publish_id"}
    state = box.posts[pid]
    assert [(p["format"], p["width"], p["height"]) for p in state["photos"]] == \
           [("jpeg", 1080, 1920), ("jpeg", 1080, 1080), ("webp", 1920, 1080)]
    assert _status(box, pid)["status"] == "PROCESSING_DOWNLOAD"
    done = _status(box, pid)
    assert done["status"] == "PUBLISH_COMPLETE" and "fail_reason" not in done


@pytest.mark.parametrize("changes,fragment", [
    ({"media_type": "VIDEO"}, "media_type"),
    ({"post_mode": "DIRECT POST"}, "post_mode"),
    ({"post_info.is_aigc": True}, "is_aigc"),               # a video field: not in the photo post_info
    ({"post_info.disable_duet": True}, "disable_duet"),
    ({"post_info.title": "t" * 91}, "title"),
    ({"post_info.description": "d" * 4001}, "description"),
    ({"post_info.privacy_level": _DROP}, "privacy_level"),
    ({"post_info.privacy_level": "EVERYONE"}, "privacy_level"),
    ({"post_info.auto_add_music": "yes"}, "auto_add_music"),
    ({"source_info.source": "FILE_UPLOAD"}, "PULL_FROM_URL"),
    ({"source_info.photo_images": []}, "photo_images"),
    ({"source_info.photo_cover_index": 1}, "photo_cover_index"),
    ({"source_info.photo_cover_index": -1}, "photo_cover_index"),
    ({"source_info.photo_cover_index": _DROP}, "photo_cover_index"),
    ({"source_info.video_url": "https://x/v.mp4"}, "video_url"),
    ({"post_info.brand_content_toggle": True}, "SELF_ONLY"),  # branded content cannot be private
])
def test_init_refuses_what_the_photo_reference_does_not_allow(box, media_host, changes, fragment):
    r = _init(box, _body(media_host, **changes))
    _refused(r, 400, "invalid_param")
    assert fragment in r.json()["error"]["message"] and box.posts == {}


def test_at_most_35_images(box, media_host):
    _refused(_init(box, _body(media_host, ("a.jpg",) * 36)), 400, "invalid_param")
    assert _init(box, _body(media_host, ("b.jpg",) * 35)).status_code == 200


def test_urls_outside_a_verified_prefix_are_refused(box, media_host):
    r = _init(box, _body(media_host, **{"source_info.photo_images": [f"{media_host}/other/a.jpg"]}))
    _refused(r, 403, "url_ownership_unverified")


def test_privacy_level_must_be_one_the_creator_offers(box, media_host):
    box.add_creator(TOKEN, creator_username="photo", privacy_level_options=["PUBLIC_TO_EVERYONE"])
    _refused(_init(box, _body(media_host)), 403, "privacy_level_option_mismatch")


def test_creator_with_comments_disabled_needs_disable_comment(box, media_host):
    box.add_creator(TOKEN, creator_username="photo", comment_disabled=True)
    _refused(_init(box, _body(media_host)), 400, "invalid_param")
    assert _init(box, _body(media_host, **{"post_info.disable_comment": True})).status_code == 200


@pytest.mark.parametrize("name,reason", [("p.png", "file_format_check_failed"),
                                         ("big.jpg", "picture_size_check_failed"),
                                         ("missing.jpg", "photo_pull_failed"),
                                         ("moved.jpg", "photo_pull_failed")])  # no redirects followed
def test_an_image_tiktok_cannot_use_fails_the_post_after_init(box, media_host, name, reason):
    r = _init(box, _body(media_host, ("a.jpg", name)))
    assert r.status_code == 200
    pid = r.json()["data"]["publish_id"]
    assert _status(box, pid)["status"] == "PROCESSING_DOWNLOAD"
    failed = _status(box, pid)
    assert failed["status"] == "FAILED" and failed["fail_reason"] == reason


def test_media_upload_needs_video_upload_and_ends_in_the_inbox(box, media_host):
    upload = _body(media_host, post_mode="MEDIA_UPLOAD")
    r = _init(box, upload, token=UPLOAD_ONLY)
    assert r.status_code == 200
    direct = _init(box, _body(media_host), token=UPLOAD_ONLY)
    _refused(direct, 401, "scope_not_authorized")
    pid = r.json()["data"]["publish_id"]
    statuses = [requests.post(box.base_url + STATUS, json={"publish_id": pid}, timeout=10,
                              headers={"Authorization": f"Bearer {UPLOAD_ONLY}"}).json()["data"]["status"]
                for _ in range(2)]
    assert statuses == ["PROCESSING_DOWNLOAD", "SEND_TO_USER_INBOX"]


def test_six_inits_per_minute_per_token(media_host):
    sb = TikTokSandbox(creators={TOKEN: {"creator_username": "photo"}}, verified_url_prefixes=[media_host + "/media/"])
    sb.start()
    try:
        codes = [_init(sb, _body(media_host)).status_code for _ in range(7)]
    finally:
        sb.stop()
    assert codes == [200] * 6 + [429]


def test_photo_posts_count_toward_the_creators_daily_cap(media_host):
    sb = TikTokSandbox(creators={TOKEN: {"creator_username": "photo"}}, verified_url_prefixes=[media_host + "/media/"],
                       enforce_rate_limits=False, daily_post_cap=2)
    sb.start()
    try:
        responses = [_init(sb, _body(media_host)) for _ in range(3)]
    finally:
        sb.stop()
    assert [r.status_code for r in responses] == [200, 200, 403]
    assert responses[2].json()["error"]["code"] == "spam_risk_too_many_posts"


def test_video_query_leaves_photo_posts_out_unless_told_otherwise(box, media_host):
    pid = _init(box, _body(media_host, **{"post_info.privacy_level": "PUBLIC_TO_EVERYONE"})).json()["data"]["publish_id"]
    _status(box, pid)
    [post_id] = _status(box, pid)["publicaly_available_post_id"]

    def query():
        return requests.post(box.base_url + QUERY, params={"fields": "id"}, json={"filters": {"video_ids": [post_id]}},
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).json()["data"]["videos"]

    assert query() == []
    box.video_query_lists_photos = True
    assert query() == [{"id": str(post_id)}]
