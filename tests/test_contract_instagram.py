"""The Instagram contract checker refuses what Meta's SDK and documents do not define (without
this, a checker that accepts everything would pass the whole suite)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from infra.local.sandboxes.instagram import InstagramSandbox
from infra.local.sandboxes.recording import Exchange
from tests.contracts.instagram import check

FB_TOKEN, IG_TOKEN = "EAAGcontract-facebook-login", "IGAAcontract-instagram-login"


@pytest.fixture(scope="module", autouse=True)
def tokens():
    sandbox = InstagramSandbox()  # not started: only its token registry is read
    sandbox.add_account(FB_TOKEN, ig_user_id="17841400000000009")
    sandbox.add_account(IG_TOKEN, ig_user_id="17841400000000009", login="instagram")
    yield sandbox


def _exchange(method: str, path: str, *, host: str = "graph.facebook.com", token: str = FB_TOKEN,
              query: dict | None = None, form: dict | None = None, status: int = 200, answer=None) -> Exchange:
    body = urlencode(form).encode() if form is not None else b""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    if form is not None:
        headers["content-type"] = "application/x-www-form-urlencoded"
    return Exchange(sandbox="instagram", host=host, method=method, path=path, query=list((query or {}).items()),
                    headers=headers, body=body, body_size=len(body), status=status,
                    response_body=json.dumps(answer if answer is not None else {"id": "1"}).encode())


def _problems(exchange: Exchange) -> list[str]:
    verdict = check(exchange)
    assert verdict.operation is not None
    return verdict.problems


def test_a_well_formed_request_on_each_host_passes():
    image = {"image_url": "https://storage.example/a.jpg", "caption": "Hi", "alt_text": "A bottle"}
    assert _problems(_exchange("POST", "/v25.0/1784/media", form=image)) == []
    assert _problems(_exchange("POST", "/v25.0/1784/media", host="graph.instagram.com", token=IG_TOKEN,
                               form={"media_type": "STORIES", "video_url": "https://storage.example/s.mp4"})) == []
    assert _problems(_exchange("GET", "/v25.0/1784/stories", host="graph.instagram.com", token=IG_TOKEN,
                               query={"fields": "id,media_type,media_product_type,timestamp", "limit": "25"},
                               answer={"data": [{"id": "1", "media_type": "IMAGE"}]})) == []


def test_an_instagram_login_token_on_graph_facebook_com_and_the_other_way_round_is_refused():
    [problem] = _problems(_exchange("GET", "/v25.0/me", token=IG_TOKEN, query={"fields": "id"}))
    assert "Instagram Login token was sent to graph.facebook.com" in problem
    [problem] = _problems(_exchange("GET", "/v25.0/1784/content_publishing_limit", host="graph.instagram.com",
                                    query={"fields": "quota_usage,config"}, answer={"data": [{"quota_usage": 0}]}))
    assert "Facebook Login token was sent to graph.instagram.com" in problem


def test_refresh_access_token_is_graph_instagram_com_only():
    refresh = {"grant_type": "ig_refresh_token", "access_token": IG_TOKEN}
    assert _problems(_exchange("GET", "/refresh_access_token", host="graph.instagram.com", token="", query=refresh,
                               answer={"access_token": "IGAAnew", "expires_in": 5184000})) == []
    problems = _problems(_exchange("GET", "/refresh_access_token", token="", query=refresh))
    assert any("served on graph.instagram.com only" in p for p in problems)


@pytest.mark.parametrize("form,expected", [
    ({"image_url": "u", "tweet.fields": "x"}, "parameter 'tweet.fields' is not in the SDK's param_types"),
    ({"media_type": "VIDEO", "video_url": "u"}, "media_type=VIDEO is only for carousel items"),
    ({"media_type": "PHOTO", "image_url": "u"}, "media_type='PHOTO' is not one Meta documents"),
    ({"media_type": "STORIES", "image_url": "u", "video_url": "v"}, "exactly one"),
    ({"media_type": "REELS", "video_url": "u", "share_to_feed": "yes"}, "share_to_feed='yes' is not a bool"),
])
def test_create_media_params_are_the_sdks_with_its_types_and_metas_media_types(form, expected):
    assert any(expected in p for p in _problems(_exchange("POST", "/v25.0/1784/media", form=form)))


def test_media_publish_takes_a_numeric_creation_id_only():
    assert _problems(_exchange("POST", "/v25.0/1784/media_publish", form={"creation_id": "1790"})) == []
    problems = _problems(_exchange("POST", "/v25.0/1784/media_publish", form={"creation_id": "abc", "caption": "x"}))
    assert any("creation_id='abc' is not an unsigned int" in p for p in problems)
    assert any("'caption' is not in the SDK's param_types" in p for p in problems)


def test_fields_must_be_in_the_nodes_field_list_in_requests_and_answers():
    problems = _problems(_exchange("GET", "/v25.0/1784/media", query={"fields": "id,caption,state"},
                                   answer={"data": [{"id": "1", "secret_score": 3}]}))
    assert any("field 'state' is not in IGMedia.Field" in p for p in problems)
    assert any("answer field 'secret_score'" in p for p in problems)
    status = _exchange("GET", "/v25.0/1790", query={"fields": "id,status_code,status"},
                       answer={"id": "1790", "status_code": "FINISHED", "status": "Finished"})
    assert check(status).operation == "instagram.ShadowIGMediaBuilder.get" and check(status).problems == []


def test_each_batch_operation_is_checked_like_a_request_of_its_own():
    good = [{"method": "GET", "relative_url": "1790/insights?metric=views,reach,shares"}]
    batch = _exchange("POST", "/v25.0/", form={"batch": json.dumps(good)}, answer=[{"code": 200, "body": "{}"}])
    assert check(batch).operation == "instagram.batch" and check(batch).problems == []
    bad = good + [{"method": "GET", "relative_url": "1791/insights?metric=views,plays"},
                  {"method": "GET", "relative_url": "1791/likes_from_space"}]
    problems = _problems(_exchange("POST", "/v25.0/", form={"batch": json.dumps(bad)}, answer=[]))
    assert any(p.startswith("batch[1]") and "'plays' is not one of the SDK's metric_enum" in p for p in problems)
    assert any(p.startswith("batch[2]") and "not an edge" in p for p in problems)
    too_many = json.dumps(good * 51)
    assert any("1-50 operations" in p for p in _problems(_exchange("POST", "/v25.0/", form={"batch": too_many})))


def test_paths_the_sdk_does_not_define_are_problems_and_sandbox_control_is_not_counted():
    assert _problems(_exchange("GET", "/v25.0/1784/followers_secret"))
    assert _problems(_exchange("GET", "/1784/media"))  # no version
    assert _problems(_exchange("POST", "/oauth/access_token", host="api.instagram.com", token="",
                               form={"grant_type": "password", "code": "c"}))
    assert check(_exchange("POST", "/_sandbox/reset", token="")).operation is None
