"""The console's composer (/console/compose) through the Flask test client, against the emulators: own
copy and briefs sent for approval as the API sends them, every refusal next to the field it names,
CSRF on every POST, the live check's per-platform problems and previews, and the V4 signed upload URL."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, quote, unquote, urljoin, urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ACCOUNT, MEDIA_BUCKET, drain_messages, upload_video
from tests.console_support import APPROVER, EDITOR, api_client, csrf_of, set_up_console, sign_in_locally

X_ACCOUNT = "x-main"


@pytest.fixture
def console(env, monkeypatch):
    """The api function with the console, an editor signed in, and an X account beside the TikTok one."""
    from shared import services

    set_up_console(monkeypatch)
    services.repository().put_account(X_ACCOUNT, {"platform": "x", "handle": "brand", "secret_name": "x-account-x-main"})
    client = api_client()
    sign_in_locally(client, EDITOR)
    client.video = upload_video(size=1024 * 1024)
    yield client
    monkeypatch.undo()


def _html(answer) -> str:
    return answer.get_data(as_text=True)


def _form(client, **fields) -> dict:
    """The composer's form as a browser posts it: the page's hidden fields, then `fields`."""
    page = _html(client.get("/console/compose" + ("?mode=brief" if fields.get("mode") == "brief" else "")))
    key = re.search(r'name="key" value="([^"]+)"', page).group(1)
    form = {"csrf_token": csrf_of(page), "mode": "own", "key": key, "campaign": "launch", "caption": "Cold all day.",
            "hashtags": "#Launch bottle", "video": getattr(client, "video", ""), "images": "", "publish_at": "", "tz": "UTC", "action": "send"}
    form.update(fields)
    return form


def _error_of(html: str, control_id: str) -> str:
    match = re.search(rf'<p class="field-error" id="{re.escape(control_id)}-error"[^>]*>(.*?)</p>', html, re.S)
    assert match, f"no error box for {control_id}"
    return match.group(1).strip()


def _contents() -> list:
    from shared import services

    db = services.repository().db
    return [services.repository().get_content(d.id) for d in db.collection("content").stream()]


def _tiktok(privacy: str = "PUBLIC_TO_EVERYONE") -> dict:
    return {"target": [ACCOUNT], f"t.{ACCOUNT}.privacy_level": privacy}


# -- the page ---------------------------------------------------------------------------------------

def test_the_page_offers_every_account_with_its_platforms_own_choices(console):
    html = _html(console.get("/console/compose"))
    assert '<h1>Compose</h1>' in html and 'aria-current="page">Compose' in html
    assert f'id="target-{ACCOUNT}" name="target" value="{ACCOUNT}"' in html
    assert f'id="target-{X_ACCOUNT}" name="target" value="{X_ACCOUNT}"' in html
    # TikTok: no privacy level is preselected (TikTok forbids a default); X: text only.
    privacy = re.search(rf'<select id="t-{ACCOUNT}-privacy_level".*?</select>', html, re.S).group(0)
    assert '<option value="" selected>Not chosen</option>' in privacy and "PUBLIC_TO_EVERYONE" in privacy
    assert f'name="t.{X_ACCOUNT}.text_only"' in html and f'name="t.{X_ACCOUNT}.privacy_level"' not in html
    assert 'data-check-url="compose/check"' in html and 'data-upload-url="compose/upload"' in html
    brief_page = _html(console.get("/console/compose?mode=brief"))
    assert 'name="topic"' in brief_page and 'name="caption"' not in brief_page


def test_the_page_may_put_files_to_the_media_origin_and_nothing_else_may(console, env):
    csp = console.get("/console/compose").headers["Content-Security-Policy"]
    connect = next(d for d in csp.split("; ") if d.startswith("connect-src"))
    assert connect == f"connect-src 'self' {env['POSTGATE_SIGNED_URL_ENDPOINT']}"
    queue_csp = console.get("/console/queue").headers["Content-Security-Policy"]
    assert "connect-src 'self';" in queue_csp


def test_a_buffer_channel_is_offered_with_the_network_behind_it_and_that_networks_choices(console):
    from shared import services

    services.repository().put_account("buffer-ig", {"platform": "buffer", "handle": "brand_ig",
                                                    "secret_name": "buffer-config-cfg1", "buffer_service": "instagram",
                                                    "platform_account_id": "64f0c0ffee"})
    html = _html(console.get("/console/compose"))
    label = re.search(r'<label for="target-buffer-ig">.*?</label>', html, re.S).group(0)
    assert "Buffer · Instagram" in label and "@brand_ig" in label
    assert 'name="t.buffer-ig.instagram_media_type"' in html and 'name="t.buffer-ig.share_to_feed"' in html
    assert 'name="t.buffer-ig.text_only"' not in html and 'name="t.buffer-ig.youtube_privacy"' not in html


def test_target_options_come_from_the_model_for_every_platform():
    from shared.console.composer import choices_for
    from shared.model.content import TARGET_OPTIONS, TargetSpec
    from shared.model.platform import PLATFORMS

    assert set(TARGET_OPTIONS) == set(PLATFORMS)
    offered = {name for names in TARGET_OPTIONS.values() for name in names}
    assert offered == set(TargetSpec.model_fields) - {"account_id"}
    kinds = {c.name: (c.kind, c.options, c.default) for c in choices_for("tiktok")}
    assert kinds["privacy_level"][0] == "select" and kinds["privacy_level"][2] is None
    assert kinds["disable_comment"] == ("checkbox", (), False)
    assert {c.name: c.kind for c in choices_for("youtube")}["tags"] == "list"


# -- sending ----------------------------------------------------------------------------------------

def test_own_copy_is_sent_for_approval_and_lands_on_the_queue(console):
    drain_messages()
    video = console.video
    answer = console.post("/console/compose", data=_form(console, **_tiktok()))
    assert answer.status_code == 303, _html(answer)[:3000]
    [content] = _contents()
    assert answer.headers["Location"] == f"queue#item-{content.id}"
    assert content.caption == "Cold all day." and content.hashtags == ["Launch", "bottle"]
    assert content.generator == "own-copy" and content.requested_by == EDITOR and content.campaign == "launch"
    assert content.media[0].uri == video and content.targets[0].privacy_level == "PUBLIC_TO_EVERYONE"
    from shared import services

    [post] = services.repository().posts_for_content(content.id)
    assert post.status == "pending_approval"
    assert [m["content_hash"] for m in drain_messages()] == [content.content_hash]  # the approvers are asked
    queue = _html(console.get("/console/queue"))
    assert f'id="item-{content.id}"' in queue and "Cold all day." in queue


def test_the_schedule_is_typed_in_local_time_and_stored_in_utc(console):
    when = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(days=3)).replace(hour=9, minute=30, second=0,
                                                                                   microsecond=0)
    form = _form(console, publish_at=when.strftime("%Y-%m-%dT%H:%M"), tz="Europe/Berlin", **_tiktok())
    answer = console.post("/console/compose", data=form)
    assert answer.status_code == 303, re.findall(r'<li><a href="#[^"]+">[^<]*', _html(answer))
    [content] = _contents()
    assert content.publish_at == when.astimezone(UTC)


def test_sending_the_same_form_twice_makes_one_item(console):
    drain_messages()
    form = _form(console, **_tiktok())
    first = console.post("/console/compose", data=form)
    again = console.post("/console/compose", data=form)
    assert first.status_code == again.status_code == 303 and first.headers["Location"] == again.headers["Location"]
    assert len(_contents()) == 1 and len(drain_messages()) == 1
    changed = console.post("/console/compose", data={**form, "caption": "Something else."})
    assert changed.status_code == 422 and "Idempotency-Key" in _html(changed) and len(_contents()) == 1


def test_a_brief_is_drafted_by_the_generator_and_sent_for_approval(console):
    drain_messages()
    form = _form(console, mode="brief", topic="Our bottle keeps drinks cold all day", **_tiktok())
    form.pop("caption")
    answer = console.post("/console/compose", data=form)
    assert answer.status_code == 303, _html(answer)[:3000]
    [content] = _contents()
    assert content.generator != "own-copy" and content.requested_by == EDITOR
    assert answer.headers["Location"] == f"queue#item-{content.id}"
    assert [m["content_id"] for m in drain_messages()] == [content.id]


def test_an_approver_may_compose_too(env, monkeypatch):
    set_up_console(monkeypatch)
    client = api_client()
    sign_in_locally(client, APPROVER)
    assert client.post("/console/compose", data=_form(client, video=upload_video(), **_tiktok())).status_code == 303


# -- refusals name the field ------------------------------------------------------------------------

@pytest.mark.parametrize("fields, control, words", [
    pytest.param({"caption": "   "}, "f-caption", "caption", id="blank caption"),
    pytest.param({"caption": "x" * 2300}, "f-caption", "too long for TikTok", id="caption over TikTok's limit"),
    pytest.param({"target": []}, "f-targets", "at least 1", id="no target"),
    pytest.param({f"t.{ACCOUNT}.privacy_level": ""}, f"t-{ACCOUNT}-privacy_level", "privacy", id="tiktok privacy"),
    pytest.param({"publish_at": "2020-01-01T09:00"}, "f-publish_at", "in the past", id="schedule in the past"),
    pytest.param({"publish_at": "2031-03-30T02:30", "tz": "Europe/Berlin"}, "f-publish_at", "clocks skip",
                 id="schedule in the hour clocks skip"),
    pytest.param({"publish_at": "2030-01-01T09:00", "tz": "Mars/Olympus"}, "f-tz", "time zone", id="unknown zone"),
    pytest.param({"campaign": "no spaces allowed"}, "f-campaign", "pattern", id="campaign id"),
    pytest.param({"video": "gs://elsewhere/v.mp4"}, "f-video", "media bucket", id="video outside the bucket"),
])
def test_a_refusal_shows_the_form_again_with_the_problem_at_its_field(console, fields, control, words):
    form = _form(console, **{**_tiktok(), **fields})
    answer = console.post("/console/compose", data=form)
    assert answer.status_code == 422
    html = _html(answer)
    message = _error_of(html, control)
    assert words.lower() in message.lower(), message
    assert f'<a href="#{control}">' in html  # the summary links to the field
    tag = re.search(rf'<(?:input|textarea|select|fieldset)\b[^>]*\bid="{re.escape(control)}"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in tag, tag
    assert _contents() == []
    # What was typed is still there.
    if "caption" in fields and fields["caption"].strip():
        assert fields["caption"][:50] in html


def test_an_unknown_account_is_refused_at_the_targets(console):
    answer = console.post("/console/compose", data=_form(console, target=["nobody-here"]))
    assert answer.status_code == 422
    assert "unknown account 'nobody-here'" in unescape(_error_of(_html(answer), "f-targets"))


def test_check_without_javascript_shows_the_previews_and_sends_nothing(console):
    answer = console.post("/console/compose", data=_form(console, action="check", **{**_tiktok(),
                                                                                      "target": [ACCOUNT, X_ACCOUNT]}))
    assert answer.status_code == 200
    html = _html(answer)
    assert 'class="target-check passes" data-account="tiktok-main"' in html
    assert "Cold all day.\n\n#Launch #bottle" in html and _contents() == []


# -- CSRF and sessions ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/console/compose", "/console/compose/check", "/console/compose/upload"])
def test_every_post_needs_the_csrf_token(console, path):
    form = _form(console, **_tiktok())
    form.pop("csrf_token")
    answer = console.post(path, data=form)
    assert answer.status_code == 400 and "Form not accepted" in _html(answer)
    assert console.post(path, json={"filename": "a.jpg", "content_type": "image/jpeg", "size": 3}).status_code == 400
    assert _contents() == []


@pytest.mark.parametrize("path", ["/console/compose/check", "/console/compose/upload"])
def test_without_a_session_the_json_endpoints_go_to_sign_in(env, monkeypatch, path):
    set_up_console(monkeypatch)
    answer = api_client().post(path, data={})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("sign-in")


# -- the live check ---------------------------------------------------------------------------------

def _check(client, **fields) -> dict:
    form = _form(client, **fields)
    answer = client.post("/console/compose/check", data=form, headers={"X-CSRFToken": form["csrf_token"]})
    assert answer.status_code == 200 and answer.mimetype == "application/json", _html(answer)[:2000]
    return answer.get_json()


def test_the_check_answers_each_platforms_own_problems_and_previews(console):
    long_caption = "Cold all day, on every hike. " * 12  # over X's 280 weighted characters, fine for TikTok
    result = _check(console, caption=long_caption, target=[ACCOUNT, X_ACCOUNT],
                    **{f"t.{ACCOUNT}.privacy_level": ""})
    targets = {t["account_id"]: t for t in result["targets"]}
    assert targets[ACCOUNT]["platform"] == "tiktok" and targets[X_ACCOUNT]["platform"] == "x"
    [tiktok_problem] = targets[ACCOUNT]["problems"]
    assert "privacy_level" in tiktok_problem
    [x_problem] = targets[X_ACCOUNT]["problems"]
    assert "weighted characters (limit: 280 weighted characters" in x_problem
    by_control = {p["control"]: p for p in result["problems"]}
    assert by_control[f"t.{ACCOUNT}.privacy_level"]["id"] == f"t-{ACCOUNT}-privacy_level"
    assert by_control["caption"]["account_id"] == X_ACCOUNT and by_control["caption"]["field"] == "caption"
    assert result["ok"] is False and 'class="target-check fails"' in result["html"]

    fixed = _check(console, caption="Cold all day.", target=[ACCOUNT, X_ACCOUNT], **{f"t.{ACCOUNT}.privacy_level":
                                                                                    "SELF_ONLY"})
    assert fixed["ok"] is True and fixed["problems"] == []
    previews = {t["account_id"]: t["preview"] for t in fixed["targets"]}
    assert previews[X_ACCOUNT]["text"] == "Cold all day.\n\n#Launch #bottle"
    assert ("Length", "30 of 280 (X's weighted count)") in [tuple(f) for f in previews[X_ACCOUNT]["fields"]]
    assert previews[ACCOUNT]["platform_name"] == "TikTok"
    assert _contents() == []


def test_the_check_judges_the_rest_while_one_field_is_still_wrong(console):
    result = _check(console, campaign="", caption="x" * 300, target=[X_ACCOUNT])
    controls = {p["control"] for p in result["problems"]}
    assert {"campaign", "caption"} <= controls
    assert any("weighted characters" in p for p in result["targets"][0]["problems"])


def test_the_check_shows_the_schedule_in_utc(console):
    result = _check(console, publish_at="2031-07-01T09:00", tz="Europe/Berlin", **_tiktok())
    assert result["scheduled"] == "2031-07-01 09:00 Europe/Berlin (2031-07-01 07:00 UTC)"
    assert "2031-07-01 09:00 Europe/Berlin" in result["html"]


def test_media_must_exist_before_the_platforms_judge(console):
    result = _check(console, video=f"gs://{MEDIA_BUCKET}/in/missing.mp4", **_tiktok())
    assert [p["control"] for p in result["problems"]] == ["video"]
    assert result["targets"][0]["judged"] is False


# -- signed upload URLs -------------------------------------------------------------------------------

def _upload(client, **body):
    page = _html(client.get("/console/compose"))
    return client.post("/console/compose/upload", json=body, headers={"X-CSRFToken": csrf_of(page)})


def test_the_upload_url_is_a_v4_signed_put_for_a_fresh_object_in_the_media_bucket(console, env):
    answer = _upload(console, filename="Summer hike.mp4", content_type="video/mp4", size=1234)
    assert answer.status_code == 200, _html(answer)
    signed = answer.get_json()
    url = urlsplit(signed["url"])
    assert f"{url.scheme}://{url.netloc}" == env["POSTGATE_SIGNED_URL_ENDPOINT"]
    bucket, _, name = unquote(url.path).lstrip("/").partition("/")
    assert bucket == MEDIA_BUCKET and re.fullmatch(r"uploads/\d{4}/\d{2}/\d{2}/[0-9a-f]{32}/Summer-hike\.mp4", name)
    assert signed["uri"] == f"gs://{MEDIA_BUCKET}/{name}" and signed["kind"] == "video" and signed["method"] == "PUT"
    assert signed["headers"] == {"Content-Type": "video/mp4", "x-goog-content-length-range": "1234,1234"}
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256" and query["X-Goog-Expires"] == "900"
    assert query["X-Goog-SignedHeaders"] == "content-type;host;x-goog-content-length-range"
    email, day, region, service, terminator = query["X-Goog-Credential"].split("/")
    assert (region, service, terminator) == ("auto", "storage", "goog4_request")
    signed_at = datetime.strptime(query["X-Goog-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs(signed_at - datetime.now(UTC)) < timedelta(minutes=1) and day == query["X-Goog-Date"][:8]
    _assert_signature(env, signed, query, email)
    second = _upload(console, filename="Summer hike.mp4", content_type="video/mp4", size=1234).get_json()
    assert second["uri"] != signed["uri"]  # a fresh object each time: nothing is overwritten


def _assert_signature(env, signed: dict, query: dict, email: str) -> None:
    """The signature verifies with the signing key's public half over the canonical V4 request
    (https://cloud.google.com/storage/docs/authentication/canonical-requests)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key_info = json.loads(open(env["POSTGATE_URL_SIGNING_KEY_FILE"], encoding="utf-8").read())
    assert email == key_info["client_email"]
    url = urlsplit(signed["url"])
    unsigned = sorted((k, v) for k, v in query.items() if k != "X-Goog-Signature")
    canonical_query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in unsigned)
    headers = {"content-type": signed["headers"]["Content-Type"], "host": url.netloc,
               "x-goog-content-length-range": signed["headers"]["x-goog-content-length-range"]}
    canonical = "\n".join(["PUT", url.path, canonical_query, *(f"{k}:{v}" for k, v in sorted(headers.items())), "",
                           ";".join(sorted(headers)), "UNSIGNED-PAYLOAD"])
    scope = "/".join(query["X-Goog-Credential"].split("/")[1:])
    to_sign = "\n".join(["GOOG4-RSA-SHA256", query["X-Goog-Date"], scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = serialization.load_pem_private_key(key_info["private_key"].encode(), password=None)
    key.public_key().verify(bytes.fromhex(query["X-Goog-Signature"]), to_sign.encode(),
                            padding.PKCS1v15(), hashes.SHA256())


def test_a_file_put_to_the_signed_url_lands_in_the_bucket_and_the_composer_takes_it(console, env):
    import requests

    data = b"\xff\xd8\xff" + bytes(2000)
    signed = _upload(console, filename="bottle.jpg", content_type="image/jpeg", size=len(data)).get_json()
    put = requests.put(signed["url"], data=data, headers=signed["headers"], timeout=10)
    assert put.status_code == 200, put.text
    from shared import services

    ref = services.media_store().describe(signed["uri"], "image", field="images[0]")
    assert ref.size == len(data) and ref.content_type == "image/jpeg"
    result = _check(console, video="", images=signed["uri"], target=[X_ACCOUNT])
    assert result["ok"] is True and result["targets"][0]["preview"]["media"] == "Image 1"


@pytest.mark.parametrize("body, field", [
    ({"filename": "notes.txt", "content_type": "text/plain", "size": 10}, "content_type"),
    ({"filename": "big.mp4", "content_type": "video/mp4", "size": 2 * 1024 ** 3}, "size"),
    ({"filename": "", "content_type": "image/png", "size": 10}, "filename"),
    ({"filename": "a.png", "content_type": "image/png"}, "size"),
])
def test_a_file_the_composer_does_not_take_is_422_naming_the_field(console, body, field):
    answer = _upload(console, **body)
    assert answer.status_code == 422 and answer.get_json()["field"] == field


def test_relative_links_resolve_under_the_console(console):
    html = _html(console.get("/console/compose"))
    for href in re.findall(r'(?:href|action|data-[a-z]+-url)="([^"#]+)"', html):
        if not href.startswith(("http", "static/")):
            assert urljoin("/console/compose", href).startswith("/console/"), href
