"""The Instagram sandbox enforces the documented contract, and our client keeps it (no emulators).

Media is served by a tiny local "bucket" behind real V4 signed URLs (signed with a throwaway
service-account key), because the sandbox fetches every image_url / video_url like Meta does.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from infra.local.sandboxes.instagram import InstagramSandbox, jpeg_size
from shared.errors import AmbiguousError, AuthError, CapReached, PermanentError, TransientError
from shared.platforms.instagram.client import InstagramClient, NotReady, classify
from shared.platforms.instagram.login_tokens import login_of, refresh
from tests.conftest import jpeg_bytes

# Probes the sandbox with malformed requests on purpose: not contract-checked (tests/contracts).
pytestmark = pytest.mark.sandbox_probe

TOKEN = "EAAGsandbox-page-token"
LONG = "EAAGsandbox-long-lived-user-token"
IG_ID = "17841400000000001"
BUCKET = "ig-media"


@pytest.fixture(scope="module")
def bucket():
    """A minimal GCS-like object server: GET /<bucket>/<name> returns the bytes (signature not checked)."""
    objects: dict[str, tuple[bytes, str]] = {}

    def app(environ, start_response):
        request = Request(environ)
        obj = objects.get(request.path)
        response = Response(obj[0], mimetype=obj[1]) if obj else Response(b"NoSuchKey", status=404)
        return response(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}", "objects": objects}
    server.shutdown()


@pytest.fixture(scope="module")
def credentials(tmp_path_factory):
    from google.oauth2 import service_account

    from infra.local.signing_key import write_local_signing_key

    path = write_local_signing_key(tmp_path_factory.mktemp("ig") / "key.json", "test-project")
    return service_account.Credentials.from_service_account_file(str(path))


@pytest.fixture(scope="module")
def box():
    sandbox = InstagramSandbox(status_checks_before_finished=1, clients={"app-1": "app-secret"})
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def ids(box):
    box.reset()
    return box.add_account(TOKEN, LONG, ig_user_id=IG_ID, username="brand")


@pytest.fixture
def put(bucket, credentials):
    from google.cloud.storage._signing import generate_signed_url_v4

    def _put(name: str, data: bytes, content_type: str = "image/jpeg", ttl: int = 600) -> str:
        bucket["objects"][f"/{BUCKET}/{name}"] = (data, content_type)
        return generate_signed_url_v4(credentials, resource=f"/{BUCKET}/{name}", expiration=timedelta(seconds=ttl),
                                      api_access_endpoint=bucket["url"], method="GET")
    return _put


def _client(box, token=TOKEN) -> InstagramClient:
    return InstagramClient(token, base_url=box.graph_url, timeout=5)


def _finish(client: InstagramClient, container_id: str) -> str:
    for _ in range(5):
        status = client.container_status(container_id)
        if status.status_code != "IN_PROGRESS":
            return status.status_code
    return status.status_code


# ---- the three media kinds through our client ----------------------------------------------
def test_image_container_progresses_per_status_request_then_publishes(box, ids, put):
    client = _client(box)
    cid = client.create_container(IG_ID, {"image_url": put("a.jpg", jpeg_bytes(1080, 1350)), "caption": "Hi #launch",
                                          "alt_text": "A bottle"})
    assert client.container_status(cid).status_code == "IN_PROGRESS"
    assert client.container_status(cid).status_code == "FINISHED"
    media_id = client.publish(IG_ID, cid)
    assert client.container_status(cid).status_code == "PUBLISHED"
    post = box.posts[media_id]
    assert post["media_type"] == "IMAGE" and post["media_product_type"] == "FEED" and post["alt_text"] == "A bottle"
    assert client.media(media_id, ["id", "permalink"])["permalink"].startswith("https://www.instagram.com/p/")
    assert client.publishing_limit(IG_ID).quota_usage == 1
    assert box.fetches[-1] == {"url_path": f"/{BUCKET}/a.jpg", "status": 200, "bytes": len(jpeg_bytes(1080, 1350)),
                               "content_type": "image/jpeg"}


def test_reel_reads_back_as_video_with_reels_product_type(box, ids, put):
    client = _client(box)
    cid = client.create_container(IG_ID, {"media_type": "REELS", "video_url": put("v.mp4", b"\0" * 4096, "video/mp4"),
                                          "caption": "Reel", "share_to_feed": "false"})
    assert _finish(client, cid) == "FINISHED"
    media_id = client.publish(IG_ID, cid)
    post = box.posts[media_id]
    assert (post["media_type"], post["media_product_type"], post["is_shared_to_feed"]) == ("VIDEO", "REELS", False)
    assert "/reel/" in post["permalink"]


def test_carousel_parent_finishes_with_its_children_and_counts_once_against_the_cap(box, ids, put):
    client = _client(box)
    children = [client.create_container(IG_ID, {"is_carousel_item": "true", "image_url": put(f"c{i}.jpg", jpeg_bytes())})
                for i in range(3)]
    parent = client.create_container(IG_ID, {"media_type": "CAROUSEL", "children": ",".join(children), "caption": "C"})
    assert _finish(client, parent) == "FINISHED"
    media_id = client.publish(IG_ID, parent)
    post = box.posts[media_id]
    assert post["media_type"] == "CAROUSEL_ALBUM" and [c["id"] for c in post["children"]] == children
    assert client.publishing_limit(IG_ID).quota_usage == 1


# ---- stories ----------------------------------------------------------------------------------
def test_image_story_is_full_screen_has_no_caption_and_is_listed_on_the_stories_edge_only(box, ids, put):
    from tests.media_samples import decodable_jpeg

    client = _client(box)
    portrait = put("s.jpg", decodable_jpeg(1080, 1920))  # 9:16: fine for a story, outside the feed's range
    feed = requests.post(f"{box.graph_url}/{IG_ID}/media", data={"image_url": portrait},
                         headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert feed.json()["error"]["error_subcode"] == 2207009
    cid = client.create_container(IG_ID, {"media_type": "STORIES", "image_url": portrait})
    assert _finish(client, cid) == "FINISHED"
    media_id = client.publish(IG_ID, cid)
    story = box.posts[media_id]
    assert (story["media_type"], story["media_product_type"], story["caption"]) == ("IMAGE", "STORY", None)
    assert "/stories/brand/" in story["permalink"]
    since = datetime.now(UTC) - timedelta(minutes=5)
    assert client.media_since(IG_ID, since, ["id"], max_pages=1).items == []
    [listed] = client.media_since(IG_ID, since, ["id", "media_product_type"], max_pages=1, edge="stories").items
    assert listed["id"] == media_id and listed["media_product_type"] == "STORY"


@pytest.mark.parametrize("fields,subcode_or_word", [
    ({"caption": "Hello"}, "caption"),
    ({"image_url": "both", "video_url": "both"}, 2207023),
    ({}, 2207023),
    ({"share_to_feed": "true"}, "image_url or video_url only"),
])
def test_story_container_refuses_a_caption_and_anything_but_one_media_url(box, ids, put, fields, subcode_or_word):
    data = {"media_type": "STORIES", "image_url": put("s1.jpg", jpeg_bytes(1080, 1920)), **fields}
    if fields.get("image_url") == "both":
        data.update(image_url=put("s2.jpg", jpeg_bytes()), video_url=put("s2.mp4", b"\0" * 64, "video/mp4"))
    if fields == {}:
        data.pop("image_url")
    error = requests.post(f"{box.graph_url}/{IG_ID}/media", data=data, headers={"Authorization": f"Bearer {TOKEN}"},
                          timeout=10).json()["error"]
    assert (error.get("error_subcode") == subcode_or_word if isinstance(subcode_or_word, int)
            else subcode_or_word in error["message"]), error


@pytest.mark.parametrize("seconds,accepted", [(2.9, False), (3, True), (60, True), (61, False)])
def test_story_video_runs_3_to_60_seconds(box, ids, put, seconds, accepted):
    from tests.media_samples import timed_mp4

    video = put(f"story-{seconds}.mp4", timed_mp4(seconds), "video/mp4")
    answer = requests.post(f"{box.graph_url}/{IG_ID}/media", data={"media_type": "STORIES", "video_url": video},
                           headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).json()
    assert ("id" in answer) is accepted, answer
    if not accepted:
        assert answer["error"]["error_subcode"] == 2207026 and "3-60 s" in answer["error"]["message"]


def test_story_insights_have_no_likes_and_end_after_24_hours():
    now = [1_800_000_000.0]
    sandbox = InstagramSandbox(clock=lambda: now[0])
    sandbox.start()
    try:
        sandbox.add_account(TOKEN, LONG, ig_user_id=IG_ID)
        story, feed = sandbox.add_media(TOKEN, media_type="STORIES"), sandbox.add_media(TOKEN)
        now[0] += 3600
        client = InstagramClient(TOKEN, base_url=sandbox.graph_url, timeout=5)
        [ok] = client.insights_batch([story], ["views", "reach", "shares"])
        assert ok.ok and {row["name"] for row in ok.body["data"]} == {"views", "reach", "shares"}
        answers = client.insights_batch([story, feed], ["likes"], per_media={feed: ("replies",)})
        assert [a.body["error"]["code"] for a in answers] == [100, 100]
        assert "likes" in answers[0].body["error"]["message"] and "replies" in answers[1].body["error"]["message"]
        now[0] += 86400
        [gone] = client.insights_batch([story], ["views"])
        assert not gone.ok and gone.body["error"]["error_subcode"] == 33
    finally:
        sandbox.stop()


@pytest.mark.parametrize("count", [1, 11])
def test_carousel_child_count_outside_2_to_10_is_100_2207028(box, ids, put, count):
    client = _client(box)
    children = [client.create_container(IG_ID, {"is_carousel_item": "true", "image_url": put(f"k{i}.jpg", jpeg_bytes())})
                for i in range(count)]
    with pytest.raises(PermanentError) as err:
        client.create_container(IG_ID, {"media_type": "CAROUSEL", "children": ",".join(children)})
    assert err.value.platform_code == "100/2207028"


def test_a_carousel_item_cannot_carry_a_caption_or_be_published_alone(box, ids, put):
    client = _client(box)
    with pytest.raises(PermanentError):
        client.create_container(IG_ID, {"is_carousel_item": "true", "image_url": put("x.jpg", jpeg_bytes()), "caption": "no"})
    child = client.create_container(IG_ID, {"is_carousel_item": "true", "image_url": put("x.jpg", jpeg_bytes())})
    _finish(client, child)
    with pytest.raises(PermanentError, match="carousel item"):
        client.publish(IG_ID, child)


# ---- the media URL and bytes ----------------------------------------------------------------
def test_unsigned_url_is_refused_as_not_fetchable(box, ids, bucket):
    bucket["objects"][f"/{BUCKET}/plain.jpg"] = (jpeg_bytes(), "image/jpeg")
    with pytest.raises(PermanentError) as err:
        _client(box).create_container(IG_ID, {"image_url": f"{bucket['url']}/{BUCKET}/plain.jpg"})
    assert err.value.platform_code == "9004/2207052" and "X-Goog-Signature" in str(err.value)


def test_expired_signed_url_is_refused(box, ids, put):
    url = put("old.jpg", jpeg_bytes())
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["X-Goog-Date"] = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y%m%dT%H%M%SZ")
    with pytest.raises(PermanentError, match="expired") as err:
        _client(box).create_container(IG_ID, {"image_url": urlunsplit(parts._replace(query=urlencode(query)))})
    assert err.value.platform_code == "9004/2207052"


def test_missing_object_behind_a_valid_signature_is_not_fetchable(box, ids, put, bucket):
    url = put("gone.jpg", jpeg_bytes())
    del bucket["objects"][f"/{BUCKET}/gone.jpg"]
    with pytest.raises(PermanentError, match="HTTP 404"):
        _client(box).create_container(IG_ID, {"image_url": url})


@pytest.mark.parametrize("width,height,ok", [(1080, 1350, True), (1910, 1000, True), (1080, 1351, False),
                                             (1920, 1000, False), (1080, 1920, False)])
def test_image_aspect_ratio_must_be_4_5_to_1_91(box, ids, put, width, height, ok):
    url = put(f"r{width}x{height}.jpg", jpeg_bytes(width, height))
    if ok:
        assert _client(box).create_container(IG_ID, {"image_url": url})
    else:
        with pytest.raises(PermanentError) as err:
            _client(box).create_container(IG_ID, {"image_url": url})
        assert err.value.platform_code == "36003/2207009"


def test_image_over_8_mib_is_36000_2207004_with_the_user_message(box, ids, put):
    big = jpeg_bytes()[:-2] + b"\0" * (8 * 1024 * 1024) + b"\xff\xd9"
    with pytest.raises(PermanentError, match="less than 8 MiB") as err:
        _client(box).create_container(IG_ID, {"image_url": put("big.jpg", big)})
    assert err.value.platform_code == "36000/2207004"


def test_png_is_not_accepted_as_an_image(box, ids, put):
    with pytest.raises(PermanentError, match="JPEG"):
        _client(box).create_container(IG_ID, {"image_url": put("p.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png")})


def test_reel_must_be_a_video(box, ids, put):
    with pytest.raises(PermanentError) as err:
        _client(box).create_container(IG_ID, {"media_type": "REELS", "video_url": put("nv.jpg", jpeg_bytes())})
    assert err.value.platform_code == "352/2207026"


def test_jpeg_size_reads_the_sof_header():
    assert jpeg_size(jpeg_bytes(640, 480)) == (640, 480)
    assert jpeg_size(b"GIF89a") is None


# ---- fields and parameters ------------------------------------------------------------------
def test_media_type_video_was_removed_for_single_videos(box, ids, put):
    with pytest.raises(PermanentError) as err:
        _client(box).create_container(IG_ID, {"media_type": "VIDEO", "video_url": put("v2.mp4", b"\0" * 64, "video/mp4")})
    assert err.value.platform_code == "100/2207023"


def test_misspelled_parameter_is_refused(box, ids, put):
    with pytest.raises(PermanentError, match="imageurl"):
        _client(box).create_container(IG_ID, {"imageurl": put("t.jpg", jpeg_bytes())})


def test_container_status_without_fields_has_no_status_code(box, ids, put):
    cid = _client(box).create_container(IG_ID, {"image_url": put("f.jpg", jpeg_bytes())})
    raw = requests.get(f"{box.graph_url}/{cid}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert raw.json() == {"id": cid}
    bad = requests.get(f"{box.graph_url}/{cid}", params={"fields": "state"}, headers={"Authorization": f"Bearer {TOKEN}"},
                       timeout=5)
    assert bad.status_code == 400 and "nonexisting field (state)" in bad.json()["error"]["message"]


def test_publishing_before_finished_is_9007_not_ready(box, ids, put):
    client = _client(box)
    cid = client.create_container(IG_ID, {"image_url": put("n.jpg", jpeg_bytes())})
    with pytest.raises(NotReady) as err:
        client.publish(IG_ID, cid)
    assert err.value.platform_code == "9007/2207027"
    assert box.posts == {}


def test_wrong_api_version_and_other_accounts_are_refused(box, ids, put):
    r = requests.get(f"{box.base_url}/v19.0/{IG_ID}/content_publishing_limit", headers={"Authorization": f"Bearer {TOKEN}"},
                     timeout=5)
    assert r.status_code == 400 and r.json()["error"]["code"] == 2635
    with pytest.raises(PermanentError) as err:
        _client(box).publishing_limit("17841499999999999")
    assert err.value.platform_code == "100/33"


def test_error_body_has_graphs_shape(box, ids):
    r = requests.post(f"{box.graph_url}/{IG_ID}/media", data={"caption": "x"}, headers={"Authorization": f"Bearer {TOKEN}"},
                      timeout=5)
    error = r.json()["error"]
    assert r.status_code == 400
    assert {"message", "type", "code", "is_transient", "fbtrace_id"} <= error.keys() and error["type"] == "OAuthException"


def test_caption_over_2200_is_36004_2207010(box, ids, put):
    with pytest.raises(PermanentError) as err:
        _client(box).create_container(IG_ID, {"image_url": put("l.jpg", jpeg_bytes()), "caption": "x" * 2201})
    assert err.value.platform_code == "36004/2207010"


# ---- auth ----------------------------------------------------------------------------------
def test_missing_and_expired_tokens_answer_like_graph(box, ids):
    r = requests.get(f"{box.graph_url}/{IG_ID}/content_publishing_limit", timeout=5)
    assert r.json()["error"]["code"] == 104
    box.add_account("EAAGshort-lived", ig_user_id=IG_ID)
    box.expire_token("EAAGshort-lived")
    with pytest.raises(AuthError):  # a bare token has nothing to refresh with
        _client(box, "EAAGshort-lived").publishing_limit(IG_ID)
    assert box.requests_log[-1]["error_code"] == "190/463"


def test_client_sends_the_token_in_the_authorization_header_and_it_is_never_logged(box, ids, put, caplog):
    caplog.set_level(logging.DEBUG)
    client = _client(box)
    cid = client.create_container(IG_ID, {"image_url": put("h.jpg", jpeg_bytes())})
    _finish(client, cid)
    client.publish(IG_ID, cid)
    assert {e["auth"] for e in box.requests_log} == {"header"}
    assert TOKEN not in json.dumps(box.requests_log) and TOKEN not in caplog.text


# ---- transient, cap, ambiguous -------------------------------------------------------------
@pytest.mark.parametrize("code", [4, 17, 32, 613])
def test_rate_limit_codes_are_transient_with_the_buc_wait(box, ids, code):
    box.inject("publishing_limit", "rate_limit", code=code, regain_minutes=3)
    with pytest.raises(TransientError) as err:
        _client(box).publishing_limit(IG_ID)
    assert not isinstance(err.value, CapReached)
    assert err.value.retry_after == 180 and err.value.platform_code == str(code)
    assert _client(box).publishing_limit(IG_ID).quota_usage == 0  # the fault was used up


def test_server_error_and_is_transient_flag_are_transient(box, ids):
    box.inject("publishing_limit", "server_error")
    box.inject("publishing_limit", "error", code=-1, subcode=2207001, message="Instagram server error. Try again.")
    with pytest.raises(TransientError):
        _client(box).publishing_limit(IG_ID)
    with pytest.raises(TransientError) as err:
        _client(box).publishing_limit(IG_ID)
    assert err.value.platform_code == "-1/2207001"


def test_publish_cap_is_reported_by_content_publishing_limit_and_enforced_at_media_publish(box, ids, put):
    box.set_quota_usage(IG_ID, 100)
    client = _client(box)
    limit = client.publishing_limit(IG_ID)
    assert (limit.quota_usage, limit.quota_total) == (100, 100)
    cid = client.create_container(IG_ID, {"image_url": put("q.jpg", jpeg_bytes())})
    _finish(client, cid)
    with pytest.raises(CapReached) as err:
        client.publish(IG_ID, cid)
    assert err.value.platform_code == "9/2207042" and err.value.retry_after > 0


def test_spam_block_at_publish_is_ambiguous(box, ids, put):
    client = _client(box)
    cid = client.create_container(IG_ID, {"image_url": put("s.jpg", jpeg_bytes())})
    _finish(client, cid)
    box.inject("media_publish", "error", code=4, subcode=2207051,
               message="We restrict certain activity to protect our community.", after_accept=True)
    with pytest.raises(AmbiguousError):
        client.publish(IG_ID, cid)
    assert client.container_status(cid).status_code == "PUBLISHED"  # it did go out


def test_injected_container_error_shows_in_status_with_its_subcode(box, ids, put):
    box.inject("media", "container_error", subcode=2207026)
    client = _client(box)
    cid = client.create_container(IG_ID, {"media_type": "REELS", "video_url": put("e.mp4", b"\0" * 64, "video/mp4")})
    assert _finish(client, cid) == "ERROR"
    assert "2207026" in client.container_status(cid).status


@pytest.mark.parametrize("status,body,expected", [
    (400, {"error": {"code": 190, "error_subcode": 463}}, AuthError),
    (400, {"error": {"code": 9, "error_subcode": 2207042}}, CapReached),
    (400, {"error": {"code": 4, "error_subcode": 2207051}}, AmbiguousError),
    (400, {"error": {"code": 24, "error_subcode": 2207008}}, TransientError),
    (400, {"error": {"code": -2, "error_subcode": 2207003}}, TransientError),
    (400, {"error": {"code": 100, "error_subcode": 2207023}}, PermanentError),
    (400, {"error": {"code": 25, "error_subcode": 2207050}}, PermanentError),
    (400, {"error": {"code": 1, "error_subcode": 2207057}}, PermanentError),
    (400, {"error": {"code": 100, "is_transient": True}}, TransientError),
    (503, {}, TransientError),
])
def test_classification_follows_platforms_md(status, body, expected):
    error = classify(status, body, {}, "test")
    if expected is TransientError:
        assert isinstance(error, TransientError) and not isinstance(error, CapReached)
    else:
        assert type(error) is expected


# ---- publishing once, and answers that get lost ---------------------------------------------
def _finished_container(box, put, name: str = "once.jpg", caption: str = "Once") -> str:
    client = _client(box)
    cid = client.create_container(IG_ID, {"image_url": put(name, jpeg_bytes()), "caption": caption})
    assert _finish(client, cid) == "FINISHED"
    return cid


def test_a_container_is_published_once_and_a_second_publish_is_refused(box, ids, put):
    cid = _finished_container(box, put)
    client = _client(box)
    media_id = client.publish(IG_ID, cid)
    with pytest.raises(PermanentError, match="already been published"):
        client.publish(IG_ID, cid)
    assert list(box.posts) == [media_id] and client.container_status(cid).status_code == "PUBLISHED"


@pytest.mark.parametrize("via", ["drop", "server_error"])
def test_a_publish_whose_answer_is_lost_went_out_and_the_client_calls_it_unknown(box, ids, put, via):
    cid = _finished_container(box, put)
    box.inject("media_publish", "lost_response", via=via)
    with pytest.raises(AmbiguousError, match="may have been published"):
        _client(box).publish(IG_ID, cid)
    assert len(box.posts) == 1 and _client(box).container_status(cid).status_code == "PUBLISHED"


def test_no_answer_within_the_timeout_after_media_publish_was_sent_is_unknown(box, ids, put):
    cid = _finished_container(box, put)
    box.inject("media_publish", "lost_response", via="timeout", seconds=1.5)
    with pytest.raises(AmbiguousError, match="no answer after the request was sent"):
        InstagramClient(TOKEN, base_url=box.graph_url, timeout=0.5).publish(IG_ID, cid)
    assert len(box.posts) == 1


def test_a_publish_that_never_connected_is_transient_not_unknown():
    # Nothing listens on port 9: the request never left, so publishing again is safe.
    with pytest.raises(TransientError) as err:
        InstagramClient(TOKEN, base_url="http://127.0.0.1:9/v25.0", timeout=2).publish(IG_ID, "1")
    assert not isinstance(err.value, AmbiguousError)


def test_lost_response_faults_are_for_the_calls_that_create(box):
    with pytest.raises(ValueError, match="create"):
        box.inject("container_status", "lost_response")
    with pytest.raises(ValueError, match="seconds"):
        box.inject("media_publish", "lost_response", via="timeout")


def test_media_list_is_newest_first_cursor_paged_and_read_back_by_time(box, ids, put):
    client = _client(box)
    published = [client.publish(IG_ID, _finished_container(box, put, f"l{i}.jpg", f"Post {i}")) for i in range(3)]
    first = requests.get(f"{box.graph_url}/{IG_ID}/media", params={"fields": "id,caption,timestamp,permalink,media_type",
                                                                   "limit": 2},
                         headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).json()
    assert [m["id"] for m in first["data"]] == published[:0:-1]
    assert set(first["data"][0]) == {"id", "caption", "timestamp", "permalink", "media_type"}
    rest = requests.get(first["paging"]["next"], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).json()
    assert [m["id"] for m in rest["data"]] == published[:1] and "next" not in rest["paging"]
    since = datetime.now(UTC) - timedelta(minutes=1)
    listing = client.media_since(IG_ID, since, ["id", "caption"], max_pages=4)
    assert [m["id"] for m in listing.items] == published[::-1] and listing.complete
    assert client.media_since(IG_ID, datetime.now(UTC) + timedelta(minutes=1), ["id"], max_pages=4).items == []


def test_media_list_reports_when_its_page_budget_ran_out(box, ids, put, monkeypatch):
    from shared.platforms.instagram import client as client_module

    monkeypatch.setattr(client_module, "MEDIA_PAGE_SIZE", 1)
    client = _client(box)
    for i in range(3):
        client.publish(IG_ID, _finished_container(box, put, f"b{i}.jpg", f"Budget {i}"))
    listing = client.media_since(IG_ID, datetime.now(UTC) - timedelta(minutes=1), ["id"], max_pages=2)
    assert len(listing.items) == 2 and not listing.complete


def test_a_new_media_can_lag_behind_the_list(box, ids, put):
    box.listing_lag = 1
    client = _client(box)
    media_id = client.publish(IG_ID, _finished_container(box, put))
    since = datetime.now(UTC) - timedelta(minutes=1)
    assert client.media_since(IG_ID, since, ["id"], max_pages=1).items == []
    assert [m["id"] for m in client.media_since(IG_ID, since, ["id"], max_pages=1).items] == [media_id]
    box.listing_lag = 0


def test_expired_container_reads_expired_and_cannot_be_published(box, ids, put):
    cid = _finished_container(box, put)
    box.expire_container(cid)
    assert _client(box).container_status(cid).status_code == "EXPIRED"
    with pytest.raises(TransientError, match="new container") as err:
        _client(box).publish(IG_ID, cid)
    assert err.value.platform_code == "-2/2207020" and box.posts == {}


def test_lookup_matches_what_was_sent_on_caption_and_the_type_it_reads_back_as(box, ids, put):
    from shared.platforms.instagram import lookup

    client = _client(box)
    image = client.publish(IG_ID, _finished_container(box, put, "m.jpg", "Same words\n\n#launch"))
    reel_container = client.create_container(IG_ID, {"media_type": "REELS", "caption": "Same words\n\n#launch",
                                                      "video_url": put("m.mp4", b"\0" * 64, "video/mp4")})
    _finish(client, reel_container)
    reel = client.publish(IG_ID, reel_container)
    since = datetime.now(UTC) - timedelta(minutes=1)

    def found(caption, media_type, product=None):
        expected = lookup.Expected(caption=caption, media_type=media_type, product_type=product, since=since)
        return [m["id"] for m in lookup.find(client, IG_ID, expected).matches]

    assert found("Same words\r\n\r\n#launch  ", "IMAGE") == [image]
    assert found("Same words\n\n#launch", "VIDEO", "REELS") == [reel]
    assert found("Same words\n\n#launch", "CAROUSEL_ALBUM") == [] and found("Other words", "IMAGE") == []


@pytest.mark.parametrize("status,body,expected", [
    (503, {}, AmbiguousError),
    (500, {"error": {"code": 2, "is_transient": True}}, AmbiguousError),
    (400, {"error": {"code": -1, "error_subcode": 2207001}}, AmbiguousError),
    (400, {"error": {"code": 4, "error_subcode": 2207051}}, AmbiguousError),
    (400, {"error": {"code": 17}}, TransientError),
    (400, {"error": {"code": 9, "error_subcode": 2207042}}, CapReached),
    (400, {"error": {"code": 9007, "error_subcode": 2207027}}, NotReady),
    (400, {"error": {"code": 190, "error_subcode": 463}}, AuthError),
    (400, {"error": {"code": 100}}, PermanentError),
])
def test_media_publish_errors_after_the_request_arrived_are_unknown_unless_meta_answered_before_acting(
        status, body, expected):
    assert type(classify(status, body, {}, "media_publish", creates=True)) is expected


# ---- tokens --------------------------------------------------------------------------------
def test_fb_exchange_token_lengthens_a_short_lived_token_but_not_a_long_lived_one(box, ids):
    box.add_short_lived_token("EAAGshort", IG_ID)
    client = {"grant_type": "fb_exchange_token", "client_id": "app-1", "client_secret": "app-secret"}
    short = requests.get(f"{box.graph_url}/oauth/access_token", params={**client, "fb_exchange_token": "EAAGshort"},
                         timeout=5).json()
    assert short["access_token"] != "EAAGshort" and short["expires_in"] > 50 * 86400
    long = requests.get(f"{box.graph_url}/oauth/access_token", params={**client, "fb_exchange_token": LONG},
                        timeout=5).json()
    assert long["access_token"] == LONG and long["expires_in"] < 59 * 86400  # nothing gained


IG_TOKEN, IG_LONG = "IGAAsandbox-instagram-login-token", "IGAAsandbox-instagram-login-long"


def test_facebook_login_keeps_a_working_token_and_never_exchanges_it(box, ids):
    tokens = {"access_token": TOKEN, "refresh_token": LONG, "client_id": "app-1", "client_secret": "app-secret",
              "expires_at": box.token_expires_at(TOKEN)}
    fresh = refresh(tokens, login="facebook", base_url=box.graph_url, timeout=5)
    assert fresh["access_token"] == TOKEN and fresh["refresh_token"] == ""  # nothing left to refresh with
    assert fresh["reconnect_by"].startswith("20")
    assert box.count("fb_token") == 0 and box.count("me", 200) == 1
    assert [(e["auth"], e["host"]) for e in box.requests_log] == [("header", "graph.facebook.com")]


def test_facebook_login_rejected_token_asks_for_a_reconnect(box, ids):
    box.revoke_token(TOKEN)
    with pytest.raises(AuthError, match="reconnect") as err:
        refresh({"access_token": TOKEN, "refresh_token": LONG}, login="facebook", base_url=box.graph_url, timeout=5)
    assert err.value.platform_code == "190/460" and box.count("fb_token") == 0


def test_instagram_login_refresh_uses_ig_refresh_token_on_the_unversioned_endpoint(box, ids):
    box.add_account(IG_TOKEN, IG_LONG, ig_user_id=IG_ID, login="instagram")
    tokens = {"login": "instagram", "access_token": IG_TOKEN, "refresh_token": IG_LONG}
    fresh = refresh(tokens, login="instagram", base_url=box.ig_graph_url, timeout=5)
    assert box.is_token_valid(fresh["access_token"]) and fresh["refresh_token"] == fresh["access_token"]
    assert box.token_login(fresh["access_token"]) == "instagram" and fresh["expires_in"] == 60 * 86400
    [call] = [e for e in box.requests_log if e["endpoint"] == "ig_refresh"]
    assert call["path"] == "/refresh_access_token" and call["params"] == {"grant_type": "ig_refresh_token"}
    assert call["host"] == "graph.instagram.com"
    with pytest.raises(AuthError):  # just issued: not 24 h old yet
        refresh({"refresh_token": fresh["access_token"]}, login="instagram", base_url=box.ig_graph_url, timeout=5)
    box.expire_token(IG_LONG)
    with pytest.raises(AuthError, match="190/463"):
        refresh(tokens, login="instagram", base_url=box.ig_graph_url, timeout=5)
    assert IG_LONG not in json.dumps(box.requests_log) and box.count("fb_token") == 0


def test_each_graph_host_takes_its_own_logins_tokens_only(box, ids):
    """Meta: Instagram Login tokens on graph.instagram.com, Facebook Login tokens on graph.facebook.com;
    a token on the other host is one Meta cannot parse (190)."""
    box.add_account(IG_TOKEN, IG_LONG, ig_user_id=IG_ID, login="instagram")
    assert InstagramClient(IG_TOKEN, base_url=box.ig_graph_url, timeout=5).me()["user_id"] == IG_ID
    assert InstagramClient(TOKEN, base_url=box.graph_url, timeout=5).ig_user(IG_ID)["id"] == IG_ID
    for token, wrong in ((IG_TOKEN, box.graph_url), (TOKEN, box.ig_graph_url)):
        answer = requests.get(f"{wrong}/me", params={"fields": "user_id"}, headers={"Authorization": f"Bearer {token}"},
                              timeout=5)
        error = answer.json()["error"]
        assert answer.status_code == 400 and (error["code"], error["type"]) == (190, "OAuthException")
    # The token endpoints are host-bound too: no ig_refresh_token on graph.facebook.com, and a
    # Facebook Login token is not refreshed on graph.instagram.com.
    assert requests.get(box.url("graph.facebook.com") + "/refresh_access_token",
                        params={"grant_type": "ig_refresh_token", "access_token": IG_LONG}, timeout=5).status_code == 400
    with pytest.raises(AuthError, match="190"):
        refresh({"access_token": TOKEN, "refresh_token": LONG}, login="instagram", base_url=box.ig_graph_url, timeout=5)
    assert box.token_login(TOKEN) == "facebook" and box.count("ig_refresh", 200) == 0


def test_login_of_prefers_the_tokens_record_then_the_accounts_then_the_default():
    assert login_of({}, {}, "facebook") == "facebook"
    assert login_of({}, {}, "instagram") == "instagram"
    assert login_of({"instagram_login": "instagram"}, {}, "facebook") == "instagram"
    assert login_of({"instagram_login": "facebook"}, {"login": "instagram"}, "facebook") == "instagram"
    from shared.platforms.credentials import StaticToken
    assert login_of(None, StaticToken("t", {"login": "instagram"}), "facebook") == "instagram"
    assert login_of({"instagram_login": "instagram"}, StaticToken("t"), "facebook") == "instagram"


def test_reset_keeps_accounts(box, ids, put):
    _client(box).create_container(IG_ID, {"image_url": put("z.jpg", jpeg_bytes())})
    box.reset()
    assert box.containers == {} and box.requests_log == []
    assert _client(box).publishing_limit(IG_ID).quota_usage == 0


def test_me_on_graph_facebook_com_is_the_facebook_user_without_user_id(box, ids):
    """Facebook Login: /me on graph.facebook.com is the Facebook user (a User node), which has no
    user_id or username: Meta refuses the unknown field with error #100. The IG professional account
    is read by its id: GET /{ig-user-id}?fields=id,username."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    refused = requests.get(f"{box.graph_url}/me", params={"fields": "user_id,username"}, headers=auth, timeout=5)
    error = refused.json()["error"]
    assert refused.status_code == 400 and error["code"] == 100
    assert "nonexisting field (user_id) on node type (User)" in error["message"]
    person = requests.get(f"{box.graph_url}/me", params={"fields": "id,name"}, headers=auth, timeout=5).json()
    assert person["id"] != IG_ID and person["name"]
    user = requests.get(f"{box.graph_url}/{IG_ID}", params={"fields": "id,username"}, headers=auth, timeout=5).json()
    assert user == {"id": IG_ID, "username": "brand"}
    other = box.add_account("EAAGsomeone-else", ig_user_id="17841400000000999", username="other")
    assert requests.get(f"{box.graph_url}/{other['ig_user_id']}", params={"fields": "id,username"}, headers=auth,
                        timeout=5).json()["error"]["code"] == 100  # not an account this token acts for
