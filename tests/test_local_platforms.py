"""The local stack's platform wiring (infra/local/platform_sandboxes.py): what the functions are told
and how each sandbox is set up, so the demo account can post every post type it documents."""

from __future__ import annotations

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from infra.local import platform_sandboxes
from infra.local.sample_media import jpeg_bytes

IMAGE = jpeg_bytes(1080, 1350)


class _Storage(BaseHTTPRequestHandler):
    """The storage emulator's part here: GET /<bucket>/<name> (signature not checked, as the emulator)."""

    def do_GET(self):  # noqa: N802 - http.server's name
        found = self.path.split("?")[0] == "/demo-media/in/photo.jpg"
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(IMAGE) if found else 0))
        self.end_headers()
        if found:
            self.wfile.write(IMAGE)

    def log_message(self, *args):
        pass


@pytest.fixture
def storage_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Storage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def tiktok_only(monkeypatch, tmp_path, storage_url):
    """The local platforms with Instagram (until now the only one that set the signed-URL settings) off."""
    monkeypatch.setattr(platform_sandboxes, "STARTERS", {"tiktok": platform_sandboxes.STARTERS["tiktok"]})
    started = platform_sandboxes.start_platforms(workdir=tmp_path, project="demo", storage_url=storage_url)
    yield started["tiktok"]
    platform_sandboxes.stop_platforms(started)


def test_the_demo_tiktok_account_can_post_photos_from_signed_storage_urls(tiktok_only, storage_url):
    """TikTok pulls a photo post's images from their URLs, which must lie under a prefix verified for
    the app (else 403 url_ownership_unverified): the local sandbox verifies the storage emulator's, and
    the functions get the signed-URL settings with TikTok alone, not only when Instagram runs."""
    from google.cloud.storage._signing import generate_signed_url_v4
    from google.oauth2 import service_account

    tiktok = tiktok_only
    assert tiktok.env["POSTGATE_SIGNED_URL_ENDPOINT"] == storage_url
    key = service_account.Credentials.from_service_account_file(tiktok.env["POSTGATE_URL_SIGNING_KEY_FILE"])
    url = generate_signed_url_v4(key, resource="/demo-media/in/photo.jpg", expiration=timedelta(minutes=10),
                                 api_access_endpoint=tiktok.env["POSTGATE_SIGNED_URL_ENDPOINT"], method="GET")
    body = {"media_type": "PHOTO", "post_mode": "DIRECT_POST",
            "post_info": {"description": "Cold all day", "privacy_level": "PUBLIC_TO_EVERYONE",
                          "disable_comment": False, "auto_add_music": False,
                          "brand_content_toggle": False, "brand_organic_toggle": False},
            "source_info": {"source": "PULL_FROM_URL", "photo_images": [url], "photo_cover_index": 0}}
    auth = {"Authorization": f"Bearer {tiktok.tokens['access_token']}", "Content-Type": "application/json; charset=UTF-8"}
    init = requests.post(tiktok.sandbox.base_url + "/v2/post/publish/content/init/", json=body, headers=auth,
                         timeout=10)
    assert init.status_code == 200, init.text
    publish_id = init.json()["data"]["publish_id"]
    assert tiktok.sandbox.posts[publish_id]["photos"][0]["http_status"] == 200  # TikTok pulled the image


@pytest.fixture
def buffer_only(monkeypatch, tmp_path, storage_url):
    monkeypatch.setattr(platform_sandboxes, "STARTERS", {"buffer": platform_sandboxes.STARTERS["buffer"]})
    started = platform_sandboxes.start_platforms(workdir=tmp_path, project="demo", storage_url=storage_url)
    yield started["buffer"]
    platform_sandboxes.stop_platforms(started)


def test_the_demo_buffer_channel_is_an_account_whose_secret_is_its_buffer_configurations_key(buffer_only, storage_url):
    from shared.platforms.buffer.client import BufferClient

    local = buffer_only
    assert local.secret_name == f"buffer-config-{local.account['buffer_config_id']}"
    assert local.tokens == {"access_token": local.secret_values[0]} and local.oauth_client is None  # no consent page
    assert local.env["POSTGATE_BUFFER_BASE_URL"] == local.sandbox.base_url
    assert local.env["POSTGATE_SIGNED_URL_ENDPOINT"] == storage_url  # Buffer fetches the media by signed URL
    channel = BufferClient(local.tokens["access_token"], base_url=local.sandbox.base_url).channel(
        local.account["platform_account_id"])
    assert channel is not None and channel.service == local.account["buffer_service"] == "twitter"
    assert channel.organization_id == local.account["buffer_organization_id"]
