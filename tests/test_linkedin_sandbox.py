"""The LinkedIn sandbox enforces the documented contract, and our client keeps it (no emulators)."""

from __future__ import annotations

import json
import time

import pytest
import requests

from infra.local.sandboxes.linkedin import LinkedInSandbox, parse_little
from shared.errors import AmbiguousError, AuthError, PermanentError, TransientError
from shared.platforms.linkedin.client import DuplicatePost, LinkedInClient, refresh_member_tokens
from shared.platforms.linkedin.commentary import escape, hashtag

# Probes the sandbox with malformed requests on purpose: not contract-checked (tests/contracts).
pytestmark = pytest.mark.sandbox_probe

VERSION = "202607"
TOKEN = "AQV-member-token"
REFRESH = "AQX-member-refresh"


@pytest.fixture(scope="module")
def box():
    sandbox = LinkedInSandbox(status_checks_before_available=2, part_bytes=1024 * 1024)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def ids(box):
    box.reset()
    return box.add_account(TOKEN, REFRESH, person_id="abc123", organization_id="5550001", client_id="cid")


def _client(box, token=TOKEN, **kw) -> LinkedInClient:
    return LinkedInClient(token, base_url=box.base_url, version=VERSION, timeout=kw.pop("timeout", 5), **kw)


def _text_post(author: str, commentary: str = "Hello") -> dict:
    return {"author": author, "commentary": commentary, "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False}


def _raw_headers(**overrides) -> dict:
    headers = {"Authorization": f"Bearer {TOKEN}", "LinkedIn-Version": VERSION, "X-Restli-Protocol-Version": "2.0.0",
               "Content-Type": "application/json"}
    headers.update(overrides)
    return {k: v for k, v in headers.items() if v is not None}


# ---- headers and versioning --------------------------------------------------------------
def test_missing_version_header_is_a_400_with_linkedins_error_shape(box, ids):
    r = requests.post(f"{box.base_url}/rest/posts", json=_text_post(ids["person_urn"]), headers=_raw_headers(**{"LinkedIn-Version": None}))
    assert r.status_code == 400
    assert r.json()["code"] == "VERSION_MISSING" and r.json()["status"] == 400 and "serviceErrorCode" in r.json()
    assert box.posts == {}


def test_missing_restli_protocol_header_is_refused(box, ids):
    r = requests.post(f"{box.base_url}/rest/posts", json=_text_post(ids["person_urn"]),
                      headers=_raw_headers(**{"X-Restli-Protocol-Version": None}))
    assert r.status_code == 400 and "X-Restli-Protocol-Version" in r.json()["message"]


def test_sunset_version_is_426_and_the_client_says_which_setting_to_change(box, ids):
    client = LinkedInClient(TOKEN, base_url=box.base_url, version="202511")
    with pytest.raises(PermanentError, match="POSTGATE_LINKEDIN_VERSION") as err:
        client.create_post(_text_post(ids["person_urn"]))
    assert err.value.platform_code == "NONEXISTENT_VERSION"
    assert box.count("posts_create", 426) == 1


def test_client_sends_every_required_header(box, ids):
    _client(box).create_post(_text_post(ids["person_urn"]))
    [entry] = box.requests_log
    assert entry["linkedin_version"] == VERSION and entry["restli_protocol"] == "2.0.0"
    assert entry["content_type"] == "application/json" and entry["status"] == 201


def test_missing_bearer_token_is_401(box, ids):
    r = requests.get(f"{box.base_url}/rest/posts/urn%3Ali%3Ashare%3A1", headers=_raw_headers(Authorization=None))
    assert r.status_code == 401 and r.json()["serviceErrorCode"] == 65600


# ---- posts ---------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["person_urn", "organization_urn"])
def test_member_and_organization_posts_return_the_urn_in_x_restli_id(box, ids, who):
    client = _client(box)
    urn = client.create_post(_text_post(ids[who]))
    assert urn.startswith("urn:li:share:") and box.posts[urn]["author"] == ids[who]
    assert client.get_post(urn)["id"] == urn
    raw = requests.post(f"{box.base_url}/rest/posts", json=_text_post(ids[who], "again"), headers=_raw_headers())
    assert raw.status_code == 201 and raw.content == b"" and raw.headers["x-restli-id"].startswith("urn:li:share:")


def test_author_the_member_does_not_administer_is_403(box, ids):
    with pytest.raises(PermanentError, match="ACCESS_DENIED"):
        _client(box).create_post(_text_post("urn:li:organization:999"))


def test_post_urn_in_the_path_must_be_url_encoded(box, ids):
    urn = _client(box).create_post(_text_post(ids["person_urn"]))
    assert requests.get(f"{box.base_url}/rest/posts/{urn}", headers=_raw_headers()).status_code == 400
    assert _client(box).get_post(urn)["commentary"] == "Hello"
    assert _client(box).get_post("urn:li:share:1") is None


def test_unknown_or_malformed_post_fields_are_refused(box, ids):
    post = _text_post(ids["person_urn"])
    with pytest.raises(PermanentError, match="Unrecognized field"):
        _client(box).create_post({**post, "text": "legacy ugcPost field"})
    with pytest.raises(PermanentError, match="feedDistribution"):
        _client(box).create_post({**post, "distribution": {"feedDistribution": "EVERYWHERE"}})
    with pytest.raises(PermanentError, match="3000"):
        _client(box).create_post({**post, "commentary": "x" * 3001})
    assert box.posts == {}


def test_duplicate_content_is_linkedins_422_duplicate_post_naming_the_existing_urn(box, ids):
    first = _client(box).create_post(_text_post(ids["person_urn"], "Same words"))
    raw = requests.post(f"{box.base_url}/rest/posts", json=_text_post(ids["person_urn"], "Same words"),
                        headers=_raw_headers())
    # LinkedIn's shape as seen in the wild (Arisamiga/Linkedin-RSS#5): the URN only in `message`.
    assert raw.status_code == 422 and raw.json() == {
        "errorDetailType": "com.linkedin.common.error.BadRequest",
        "message": f"com.linkedin.content.common.exception.BadRequestResponseException: Content is a duplicate of {first}",
        "errorDetails": {"inputErrors": [{"description": "Duplicate post is detected", "input": {},
                                          "code": "DUPLICATE_POST"}]},
        "status": 422}


def test_client_raises_duplicate_post_with_the_named_urn_as_ambiguous(box, ids):
    client = _client(box)
    first = client.create_post(_text_post(ids["person_urn"], "Same words"))
    with pytest.raises(DuplicatePost) as err:
        client.create_post(_text_post(ids["person_urn"], "Same words"))
    assert err.value.post_urn == first and not isinstance(err.value, PermanentError)
    assert len(box.posts) == 1


# ---- little text format --------------------------------------------------------------------
def test_escaped_commentary_renders_exactly_and_hashtags_become_templates(box, ids):
    caption = r"Cold (really) for 24h - 50% off [today] <3 a_b *c* ~d~ @home #1 {x} | back\slash"
    commentary = escape(caption) + "\n\n" + hashtag("Launch") + " " + hashtag("cold_drinks")
    urn = _client(box).create_post(_text_post(ids["person_urn"], commentary))
    post = box.posts[urn]
    assert post["commentary_truncated"] is False
    assert post["rendered_text"] == caption + "\n\n#Launch #cold_drinks"
    assert post["hashtags"] == ["Launch", "cold_drinks"]


def test_unescaped_reserved_character_is_silently_truncated_and_recorded(box, ids):
    urn = _client(box).create_post(_text_post(ids["person_urn"], "Cold all day (24h) and more"))
    assert box.posts[urn]["commentary_truncated"] is True
    assert box.posts[urn]["rendered_text"] == "Cold all day "


def test_little_text_parser_reads_mentions():
    text, cut, tags, mentions = parse_little("Hi @[Acme](urn:li:organization:42) {hashtag|\\#|go}")
    assert (text, cut, tags, mentions) == ("Hi Acme #go", False, ["go"], ["urn:li:organization:42"])


# ---- images --------------------------------------------------------------------------------
def test_image_upload_processes_per_status_check_then_can_be_posted(box, ids):
    from tests.conftest import jpeg_bytes

    client = _client(box)
    owner = ids["organization_urn"]
    upload = client.initialize_image_upload(owner)
    assert client.get_image(upload.image_urn)["status"] == "WAITING_UPLOAD"
    client.upload_image(upload.upload_url, jpeg_bytes(800, 600))
    post = {**_text_post(owner), "content": {"media": {"id": upload.image_urn, "altText": "A bottle"}}}
    with pytest.raises(PermanentError, match="not AVAILABLE"):
        client.create_post(post)
    statuses = [client.get_image(upload.image_urn)["status"] for _ in range(3)]
    assert statuses == ["PROCESSING", "PROCESSING", "AVAILABLE"]
    urn = client.create_post(post)
    assert box.posts[urn]["media_urn"] == upload.image_urn


def test_image_upload_needs_image_bytes_and_the_bearer_token(box, ids):
    client = _client(box)
    upload = client.initialize_image_upload(ids["person_urn"])
    with pytest.raises(PermanentError, match="not a JPEG"):
        client.upload_image(upload.upload_url, b"plain text")
    r = requests.put(upload.upload_url, data=b"\xff\xd8\xff\xd9", headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 401


# ---- videos --------------------------------------------------------------------------------
def test_video_is_uploaded_in_the_given_parts_and_finalized_with_etags_in_order(box, ids):
    client = _client(box)
    size = 2 * 1024 * 1024 + 10
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    upload = client.initialize_video_upload(ids["person_urn"], size)
    assert [(p.first_byte, p.last_byte) for p in upload.parts] == [(0, 1048575), (1048576, 2097151), (2097152, size - 1)]
    etags = [client.upload_video_part(p, data[p.first_byte:p.last_byte + 1]) for p in upload.parts]
    with pytest.raises(PermanentError, match="in order"):
        client.finalize_video_upload(upload, list(reversed(etags)))
    client.finalize_video_upload(upload, etags)
    assert [client.get_video(upload.video_urn)["status"] for _ in range(3)] == ["PROCESSING", "PROCESSING", "AVAILABLE"]
    assert box.videos[upload.video_urn]["parts_received"] == 3


def test_wrong_part_size_or_content_type_is_refused(box, ids):
    upload = _client(box).initialize_video_upload(ids["person_urn"], 2000)
    [part] = upload.parts
    r = requests.put(part.upload_url, data=b"x" * 1999, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 400 and "2000 bytes" in r.json()["message"]
    r = requests.put(part.upload_url, data=b"x" * 2000, headers={"Content-Type": "video/mp4"})
    assert r.status_code == 400 and "octet-stream" in r.json()["message"]


def test_video_processing_failure_is_reported(box, ids):
    client = _client(box)
    upload = client.initialize_video_upload(ids["person_urn"], 100)
    etag = client.upload_video_part(upload.parts[0], b"v" * 100)
    client.finalize_video_upload(upload, [etag])
    box.inject("videos_get", "fail_processing")
    answers = [client.get_video(upload.video_urn) for _ in range(3)]
    assert answers[-1]["status"] == "PROCESSING_FAILED" and answers[-1]["processingFailureReason"]


# ---- error classification ------------------------------------------------------------------
def test_429_and_5xx_are_transient_without_a_retry_after(box, ids):
    box.inject("posts_create", "rate_limit")
    with pytest.raises(TransientError) as err:
        _client(box).create_post(_text_post(ids["person_urn"]))
    assert err.value.retry_after is None and err.value.platform_code == "TOO_MANY_REQUESTS"
    box.inject("images_init", "server_error", http_status=503)
    with pytest.raises(TransientError):
        _client(box).initialize_image_upload(ids["person_urn"])


def test_5xx_on_create_is_ambiguous_not_transient(box, ids):
    box.inject("posts_create", "server_error")  # no idempotency key: a 5xx proves nothing either way
    with pytest.raises(AmbiguousError) as err:
        _client(box).create_post(_text_post(ids["person_urn"]))
    assert not isinstance(err.value, TransientError)


def test_4xx_is_permanent_with_linkedins_code_and_message(box, ids):
    box.inject("posts_create", "error", http_status=422, code="UNPROCESSABLE_ENTITY",
               message="Organization is restricted from posting", service_error_code=100)
    with pytest.raises(PermanentError, match="Organization is restricted from posting") as err:
        _client(box).create_post(_text_post(ids["person_urn"]))
    assert err.value.platform_code == "UNPROCESSABLE_ENTITY" and not isinstance(err.value, TransientError)


def test_timeout_after_create_was_sent_is_ambiguous(box, ids):
    box.inject("posts_create", "slow", seconds=1.0)
    with pytest.raises(AmbiguousError):
        _client(box, timeout=0.3).create_post(_text_post(ids["person_urn"]))


def test_connection_refused_is_transient_not_ambiguous():
    client = LinkedInClient(TOKEN, base_url="http://127.0.0.1:9", version=VERSION, timeout=2)
    with pytest.raises(TransientError):
        client.create_post(_text_post("urn:li:person:x"))


# ---- tokens --------------------------------------------------------------------------------
def test_refresh_keeps_the_refresh_tokens_fixed_lifetime(box, ids):
    fresh = refresh_member_tokens(box.oauth_url, {"refresh_token": REFRESH, "client_id": "cid", "client_secret": "s"})
    assert fresh["access_token"] != TOKEN and fresh["expires_in"] == 60 * 86400
    assert fresh["refresh_token"] == REFRESH  # not rotated, and its expiry does not slide
    again = refresh_member_tokens(box.oauth_url, {"refresh_token": REFRESH, "client_id": "cid", "client_secret": "s"})
    assert again["refresh_token_expires_at"] <= fresh["refresh_token_expires_at"] + 1
    assert _client(box, token=again["access_token"]).create_post(_text_post(ids["person_urn"]))


def test_refresh_with_an_unknown_refresh_token_asks_for_reconnect(box, ids):
    with pytest.raises(AuthError, match="reconnect"):
        refresh_member_tokens(box.oauth_url, {"refresh_token": "nope", "client_id": "cid", "client_secret": "s"})


def test_a_401_refreshes_once_and_retries(box, ids):
    class Tokens:
        def __init__(self):
            self.token, self.refreshes = "expired-token", 0

        def current(self):
            return self.token

        def refresh(self, rejected):
            self.refreshes += 1
            self.token = refresh_member_tokens(box.oauth_url, {"refresh_token": REFRESH, "client_id": "cid",
                                                               "client_secret": "s"})["access_token"]
            return self.token

    tokens = Tokens()
    urn = _client(box, token=tokens).create_post(_text_post(ids["person_urn"]))
    assert urn in box.posts and tokens.refreshes == 1
    assert box.count("posts_create", 401) == 1 and box.count("posts_create", 201) == 1


def test_tokens_never_appear_in_the_sandbox_log(box, ids):
    fresh = refresh_member_tokens(box.oauth_url, {"refresh_token": REFRESH, "client_id": "cid", "client_secret": "s"})
    _client(box, token=fresh["access_token"]).create_post(_text_post(ids["person_urn"]))
    logged = json.dumps(box.requests_log)
    assert TOKEN not in logged and REFRESH not in logged and fresh["access_token"] not in logged


def test_reset_keeps_accounts(box, ids):
    _client(box).create_post(_text_post(ids["person_urn"]))
    box.reset()
    assert box.posts == {} and box.requests_log == []
    assert _client(box).create_post(_text_post(ids["organization_urn"]))


# ---- a create whose answer is lost ---------------------------------------------------------
def test_lost_response_stores_the_post_then_answers_linkedins_500(box, ids):
    box.inject("posts_create", "lost_response")
    r = requests.post(f"{box.base_url}/rest/posts", json=_text_post(ids["person_urn"], "kept"), headers=_raw_headers())
    assert r.status_code == 500 and r.json()["status"] == 500 and "x-restli-id" not in r.headers
    assert [p["commentary"] for p in box.posts.values()] == ["kept"]


def test_lost_response_can_drop_the_connection_and_the_client_calls_it_ambiguous(box, ids):
    box.inject("posts_create", "lost_response", how="drop")
    with pytest.raises(AmbiguousError):
        _client(box).create_post(_text_post(ids["person_urn"], "kept, no answer"))
    assert [p["commentary"] for p in box.posts.values()] == ["kept, no answer"]
    assert box.requests_log[-1]["error_code"] == "CONNECTION_DROPPED"


# ---- find posts by author ------------------------------------------------------------------
def test_find_by_author_lists_newest_first_with_paging(box, ids):
    client = _client(box)
    org = ids["organization_urn"]
    urns = [client.create_post(_text_post(org, f"post {i}")) for i in range(5)]
    client.create_post(_text_post(ids["person_urn"], "the member's own"))
    page = client.find_posts_by_author(org, start=0, count=3)
    assert [p["id"] for p in page["elements"]] == urns[::-1][:3]
    assert page["paging"]["total"] == 5 and page["paging"]["links"][0]["rel"] == "next"
    assert {"commentary", "createdAt", "lifecycleState", "author"} <= set(page["elements"][0])
    rest = client.find_posts_by_author(org, start=3, count=3)
    assert [p["id"] for p in rest["elements"]] == urns[::-1][3:] and rest["paging"]["links"] == []
    entry = box.requests_log[-1]
    assert entry["endpoint"] == "posts_find" and entry["restli_method"] == "FINDER"
    assert entry["linkedin_version"] == VERSION and entry["restli_protocol"] == "2.0.0"


def test_find_by_author_refuses_bad_parameters_and_other_authors(box, ids):
    base = {"q": "author", "author": ids["organization_urn"]}
    for params in ({**base, "count": 101}, {**base, "sortBy": "NEWEST"}, {**base, "q": "authors"},
                   {**base, "start": -1}):
        r = requests.get(f"{box.base_url}/rest/posts", params=params, headers=_raw_headers())
        assert r.status_code == 400 and r.json()["code"] == "ILLEGAL_ARGUMENT", params
    with pytest.raises(PermanentError, match="ACCESS_DENIED"):
        _client(box).find_posts_by_author("urn:li:organization:999")
    # A member's posts need r_member_social, a private permission this app lacks by default.
    with pytest.raises(PermanentError, match="r_member_social") as err:
        _client(box).find_posts_by_author(ids["person_urn"])
    assert not isinstance(err.value, AuthError)


# ---- video parts sent again ----------------------------------------------------------------
def test_finalize_accepts_a_part_sent_again_after_a_timeout_whichever_copy_lands_last(box, ids):
    client = _client(box, timeout=0.3)
    size = 2 * 1024 * 1024
    data = bytes(range(256)) * (size // 256)
    upload = client.initialize_video_upload(ids["person_urn"], size)
    box.inject("video_upload", "slow", seconds=1.0)  # the first copy of part 0 lands after its retry
    with pytest.raises(TransientError):
        client.upload_video_part(upload.parts[0], data[:1024 * 1024])
    etags = [client.upload_video_part(p, data[p.first_byte:p.last_byte + 1]) for p in upload.parts]
    deadline = time.monotonic() + 5
    while box.count("video_upload", 200) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert box.count("video_upload", 200) == 3  # part 0 twice, part 1 once
    with pytest.raises(PermanentError, match="in order"):
        client.finalize_video_upload(upload, [etags[1], etags[0]])
    with pytest.raises(PermanentError, match="in order"):
        client.finalize_video_upload(upload, [etags[1], etags[1]])
    client.finalize_video_upload(upload, etags)
    assert box.videos[upload.video_urn]["parts_received"] == 2 and box.videos[upload.video_urn]["status"] == "PROCESSING"
