"""The Buffer sandbox enforces docs/platforms.md#buffer over real HTTP: Buffer's GraphQL schema, API keys,
request windows per plan, query limits, createPost's rules (asset URLs really fetched from a local media
server), the post lifecycle and the injected faults. No emulators. Well-formed exchanges are checked by the
Buffer contract check (tests/contracts/buffer.py); tests that send malformed requests on purpose are marked
`sandbox_probe`."""

from __future__ import annotations

import json

import pytest
import requests
from werkzeug.wrappers import Request, Response

from infra.local.sandboxes.buffer import BufferSandbox
from infra.local.sandboxes.buffer_graphql import query_limit_problems
from infra.local.sandboxes.server import serve_in_thread

KEY, OTHER_KEY = "buffer-key-alice", "buffer-key-bob"
CREATE = """mutation Create($input: CreatePostInput!) {
  createPost(input: $input) {
    __typename
    ... on PostActionSuccess { post { id status dueAt sentAt externalLink channelId text error { message } } }
    ... on MutationError { message }
  }
}"""
POST = "query Post($id: PostId!) { post(input: {id: $id}) { id status sentAt externalLink error { message } } }"
POSTS = """query Posts($input: PostsInput!, $first: Int, $after: String) {
  posts(input: $input, first: $first, after: $after) {
    edges { cursor node { id status channelId text } }
    pageInfo { hasNextPage endCursor }
  }
}"""
probe = pytest.mark.sandbox_probe


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class MediaServer:
    """Serves media at real URLs; a path can be made to disappear. Counts GETs per path."""

    def __init__(self) -> None:
        self.gone: set[str] = set()
        self.gets: dict[str, int] = {}
        self.server, _ = serve_in_thread("127.0.0.1", 0, self._app, "media")
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def _app(self, environ, start_response):
        request = Request(environ)
        self.gets[request.path] = self.gets.get(request.path, 0) + 1
        types = {".jpg": "image/jpeg", ".mp4": "video/mp4", ".html": "text/html", ".pdf": "application/pdf"}
        kind = next((t for ext, t in types.items() if request.path.endswith(ext)), None)
        if request.path in self.gone or kind is None or request.path.startswith("/missing"):
            return Response("not found", status=404)(environ, start_response)
        return Response(b"\xff\xd8 media bytes", mimetype=kind)(environ, start_response)

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


@pytest.fixture
def media():
    server = MediaServer()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def make_sandbox(clock):
    started = []

    def make(**kwargs):
        kwargs.setdefault("clock", clock)
        sb = BufferSandbox(**kwargs)
        sb.start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


@pytest.fixture
def sb(make_sandbox):
    sandbox = make_sandbox()
    sandbox.org = sandbox.add_api_key(KEY, plan="team", organization_name="Alice Co")
    sandbox.channel = sandbox.add_channel(KEY, service="twitter", name="alice")
    return sandbox


def gql(sb, query, variables=None, key=KEY, path="/", **extra):
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return requests.post(sb.base_url + path, json={"query": query, "variables": variables or {}, **extra},
                         headers=headers, timeout=10)


def create(sb, key=KEY, **fields):
    given = {"channelId": sb.channel, "text": "Hello from Postgate", "schedulingType": "automatic",
             "mode": "shareNow", **fields}
    answer = gql(sb, CREATE, {"input": given}, key=key)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["createPost"]


def read_post(sb, post_id, key=KEY):
    return gql(sb, POST, {"id": post_id}, key=key).json()


# ---- schema, auth, account and channels ---------------------------------------------------------------

def test_account_organizations_and_channels_of_the_key(sb):
    answer = gql(sb, "query { account { id email organizations { id name channelCount } } }")
    orgs = answer.json()["data"]["account"]["organizations"]
    assert orgs == [{"id": sb.org, "name": "Alice Co", "channelCount": 1}]
    query = "query C($o: OrganizationId!) { channels(input: {organizationId: $o}) { id name service isDisconnected } }"
    channels = gql(sb, query, {"o": sb.org}).json()["data"]["channels"]
    assert channels == [{"id": sb.channel, "name": "alice", "service": "twitter", "isDisconnected": False}]
    one = gql(sb, "query C($id: ChannelId!) { channel(input: {id: $id}) { id organizationId } }", {"id": sb.channel})
    assert one.json()["data"]["channel"] == {"id": sb.channel, "organizationId": sb.org}


def test_also_served_at_slash_graphql(sb):
    assert gql(sb, "query { account { id } }", path="/graphql").json()["data"]["account"]["id"]


@probe
def test_unknown_field_and_argument_are_graphql_validation_errors(sb):
    unknown_field = gql(sb, "query { account { id favouriteColour } }")
    assert unknown_field.status_code == 400
    error = unknown_field.json()["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED" and "favouriteColour" in error["message"]
    unknown_argument = gql(sb, CREATE.replace("createPost(input: $input)", "createPost(input: $input, dryRun: true)"),
                           {"input": {"channelId": sb.channel, "text": "x", "schedulingType": "automatic",
                                      "mode": "shareNow"}})
    assert unknown_argument.status_code == 400 and "dryRun" in unknown_argument.json()["errors"][0]["message"]
    unknown_input_field = gql(sb, CREATE, {"input": {"channelId": sb.channel, "text": "x", "mode": "shareNow",
                                                     "schedulingType": "automatic", "mediaUrls": ["x"]}})
    assert unknown_input_field.status_code == 400
    assert unknown_input_field.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert sb.posts == {}


@probe
def test_an_asset_entry_is_exactly_one_of_image_video_document_link(sb, media):
    both = {"image": {"url": media.url("a.jpg")}, "video": {"url": media.url("a.mp4")}}
    answer = gql(sb, CREATE, {"input": {"channelId": sb.channel, "text": "x", "schedulingType": "automatic",
                                        "mode": "shareNow", "assets": [both]}})
    assert answer.status_code == 400 and "exactly one" in answer.json()["errors"][0]["message"]
    legacy = gql(sb, CREATE, {"input": {"channelId": sb.channel, "text": "x", "schedulingType": "automatic",
                                        "mode": "shareNow", "assets": {"images": [{"url": media.url("a.jpg")}]}}})
    assert legacy.status_code == 400  # the pre-May-2026 object shape is refused
    assert sb.posts == {}


@probe
def test_missing_or_unknown_key_is_unauthenticated(sb):
    for key in (None, "not-a-key"):
        answer = gql(sb, "query { account { id } }", key=key)
        assert answer.status_code == 401
        assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "not-a-key" not in json.dumps(sb.requests_log) + json.dumps(sb.state())


def test_the_key_never_appears_in_the_log_or_state(sb):
    create(sb)
    assert KEY not in json.dumps(sb.requests_log) + json.dumps(sb.state())


# ---- createPost rules -----------------------------------------------------------------------------------

def test_a_channel_of_another_organization_is_refused(sb):
    other_org = sb.add_api_key(OTHER_KEY)
    bobs = sb.add_channel(OTHER_KEY, service="linkedin", name="bob")
    refused = create(sb, channelId=bobs)
    assert refused["__typename"] == "UnauthorizedError"
    assert create(sb, channelId="64b000000000000000000000")["__typename"] == "NotFoundError"
    channel = gql(sb, "query C($id: ChannelId!) { channel(input: {id: $id}) { id } }", {"id": bobs}).json()
    assert channel["data"] is None and channel["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    posts = gql(sb, POSTS, {"input": {"organizationId": other_org}}).json()
    assert posts["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert sb.posts == {}


def test_custom_scheduled_needs_a_future_due_at(sb, clock):
    missing = create(sb, mode="customScheduled")
    assert missing == {"__typename": "InvalidInputError", "message": "dueAt is required when mode is customScheduled"}
    past = create(sb, mode="customScheduled", dueAt="2020-01-01T00:00:00.000Z")
    assert past["__typename"] == "InvalidInputError"
    ok = create(sb, mode="customScheduled", dueAt="2027-03-10T15:00:00.000Z")
    assert ok["post"]["status"] == "scheduled" and ok["post"]["dueAt"] == "2027-03-10T15:00:00.000Z"


def test_text_or_media_and_the_networks_minimum_payload(sb, media):
    assert create(sb, text="  ") == {"__typename": "InvalidInputError", "message": "Text is required"}
    insta = sb.add_channel(KEY, service="instagram", name="alice.ig")
    no_media = create(sb, channelId=insta)
    assert no_media["__typename"] == "InvalidInputError" and "image or video" in no_media["message"]
    no_metadata = create(sb, channelId=insta, assets=[{"image": {"url": media.url("p.jpg")}}])
    assert no_metadata["message"] == "metadata.instagram is required for a instagram post"
    ok = create(sb, channelId=insta, assets=[{"image": {"url": media.url("p.jpg")}}],
                metadata={"instagram": {"type": "post", "shouldShareToFeed": True}})
    assert ok["__typename"] == "PostActionSuccess"


def test_asset_urls_are_fetched_and_must_be_the_media_they_claim(sb, media):
    gone = create(sb, assets=[{"image": {"url": media.url("missing.jpg")}}])
    assert gone == {"__typename": "InvalidInputError", "message": "assets[0].image.url could not be fetched (HTTP 404)"}
    page = create(sb, assets=[{"image": {"url": media.url("preview.html")}}])
    assert page["__typename"] == "InvalidInputError" and "not an image" in page["message"]
    video_as_image = create(sb, assets=[{"image": {"url": media.url("clip.mp4")}}])
    assert video_as_image["__typename"] == "InvalidInputError"
    thumb = create(sb, assets=[{"video": {"url": media.url("clip.mp4"), "thumbnailUrl": media.url("t.jpg")}}])
    assert thumb["__typename"] == "InvalidInputError"
    assert sb.posts == {}
    ok = create(sb, assets=[{"image": {"url": media.url("photo.jpg")}}, {"video": {"url": media.url("clip.mp4")}}])
    assert ok["__typename"] == "PostActionSuccess"
    assert media.gets["/photo.jpg"] == 1 and media.gets["/clip.mp4"] == 2  # really fetched with GET


def test_daily_posting_limit_per_channel(sb):
    limited = sb.add_channel(KEY, service="linkedin", name="alice-li", daily_limit=1)
    first = create(sb, channelId=limited, mode="customScheduled", dueAt="2027-02-05T10:00:00.000Z")
    assert first["__typename"] == "PostActionSuccess"
    second = create(sb, channelId=limited, mode="customScheduled", dueAt="2027-02-05T18:00:00.000Z")
    assert second["__typename"] == "LimitReachedError"
    assert create(sb, channelId=limited, mode="customScheduled", dueAt="2027-02-06T10:00:00.000Z")["post"]
    assert create(sb, channelId=limited, mode="customScheduled", dueAt="2027-02-05T19:00:00.000Z",
                  saveToDraft=True)["post"]["status"] == "draft"  # drafts are not counted
    query = """query L($ids: [ChannelId!]!, $date: DateTime) {
      dailyPostingLimits(input: {channelIds: $ids, date: $date}) { channelId sent scheduled limit isAtLimit } }"""
    limits = gql(sb, query, {"ids": [limited, sb.channel], "date": "2027-02-05T00:00:00.000Z"}).json()
    assert limits["data"]["dailyPostingLimits"] == [
        {"channelId": limited, "sent": 0, "scheduled": 1, "limit": 1, "isAtLimit": True},
        {"channelId": sb.channel, "sent": 0, "scheduled": 0, "limit": None, "isAtLimit": False}]


# ---- request windows and query limits ---------------------------------------------------------------------

def test_request_windows_per_plan_answer_429_with_retry_after(make_sandbox, clock):
    sb = make_sandbox()
    sb.add_api_key(KEY, plan="free")
    first = gql(sb, "query { account { id } }")
    assert first.headers["RateLimit-Policy"].startswith('"100-in-15min";q=100;w=900')
    assert '"250-in-1day";q=250;w=86400' in first.headers["RateLimit-Policy"]
    assert '"3000-in-30days"' in first.headers["RateLimit-Policy"] and first.headers["RateLimit-Remaining"] == "99"
    for _ in range(99):
        assert gql(sb, "query { account { id } }").status_code == 200
    refused = gql(sb, "query { account { id } }")
    assert refused.status_code == 429
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMIT_EXCEEDED" and error["extensions"]["retryAfter"] == 901
    assert refused.headers["Retry-After"] == "901" and '"100-in-15min";r=0' in refused.headers["RateLimit"]
    clock.now += 901  # the 15-minute window has moved on
    assert gql(sb, "query { account { id } }").status_code == 200


def test_the_daily_window_of_the_plan(make_sandbox, clock):
    sb = make_sandbox()
    sb.add_api_key(KEY, plan="essentials")
    for i in range(250):
        if i and i % 100 == 0:
            clock.now += 901
        assert gql(sb, "query { account { id } }").status_code == 200
    clock.now += 901
    refused = gql(sb, "query { account { id } }")
    assert refused.status_code == 429 and '"250-in-1day";r=0' in refused.headers["RateLimit"]
    assert refused.json()["errors"][0]["extensions"]["retryAfter"] > 80_000  # the first request leaves in ~a day


@probe
def test_query_depth_and_alias_limits(sb):
    deep = "query { " + "a { " * 26 + "b" + " }" * 26 + " }"
    answer = gql(sb, deep)
    assert answer.status_code == 400 and "maximum allowed depth of 25" in answer.json()["errors"][0]["message"]
    aliases = "query { " + " ".join(f"a{i}: account {{ id }}" for i in range(31)) + " }"
    answer = gql(sb, aliases)
    assert answer.status_code == 400 and "at most 30" in answer.json()["errors"][0]["message"]
    thirty = "query { " + " ".join(f"a{i}: account {{ id }}" for i in range(30)) + " }"
    assert gql(sb, thirty).status_code == 200


def test_query_cost_limit():
    from graphql import parse

    # four branches 24 deep: within the depth limit, over 175,000 points (2 an object, 1 a scalar, x1.5 a level)
    wide = "query { " + " ".join(f"f{i} {{ " + "x { " * 22 + "y" + " }" * 22 + " }" for i in range(4)) + " }"
    assert query_limit_problems(parse(wide)) == ["Query exceeds maximum allowed complexity. Please simplify your query."]
    narrow = "query { " + " ".join(f"f{i} {{ " + "x { " * 22 + "y" + " }" * 22 + " }" for i in range(3)) + " }"
    assert query_limit_problems(parse(narrow)) == []
    assert query_limit_problems(parse("query { account { id organizations { id } } }")) == []


# ---- lifecycle ---------------------------------------------------------------------------------------------

def test_share_now_is_sending_then_sent_with_the_networks_link(sb):
    made = create(sb)["post"]
    assert made["status"] == "sending" and made["sentAt"] is None and made["externalLink"] is None
    read = read_post(sb, made["id"])["data"]["post"]
    assert read["status"] == "sent" and read["sentAt"] is not None
    assert read["externalLink"].startswith("https://x.com/alice/status/")


def test_a_post_is_sent_after_the_configured_number_of_status_reads(make_sandbox):
    sb = make_sandbox(status_reads_before_sent=3)
    sb.add_api_key(KEY)
    sb.channel = sb.add_channel(KEY, service="linkedin", name="alice-li")
    post_id = create(sb)["post"]["id"]
    assert [read_post(sb, post_id)["data"]["post"]["status"] for _ in range(3)] == ["sending", "sending", "sent"]
    assert "linkedin.com/feed/update/urn:li:share:" in read_post(sb, post_id)["data"]["post"]["externalLink"]


def test_a_scheduled_post_goes_out_when_due(sb, clock):
    post_id = create(sb, mode="customScheduled", dueAt="2027-03-10T15:00:00.000Z")["post"]["id"]
    assert sb.send_due() == []
    assert read_post(sb, post_id)["data"]["post"]["status"] == "scheduled"
    clock.now = 1_805_000_000.0  # 2027-03-14, after 2027-03-10T15:00Z
    assert sb.send_due() == [post_id]
    assert read_post(sb, post_id)["data"]["post"]["status"] == "sent"


def test_injected_send_error_ends_the_post_in_error_with_its_message(sb):
    sb.inject("createPost", "send_error", message="Twitter refused the post: duplicate content")
    post_id = create(sb)["post"]["id"]
    post = read_post(sb, post_id)["data"]["post"]
    assert post["status"] == "error" and post["error"] == {"message": "Twitter refused the post: duplicate content"}
    assert post["externalLink"] is None and post["sentAt"] is None


def test_media_that_stopped_answering_by_send_time_fails_the_post(sb, media, clock):
    made = create(sb, mode="customScheduled", dueAt="2027-03-10T15:00:00.000Z",
                  assets=[{"image": {"url": media.url("p.jpg")}}])
    media.gone.add("/p.jpg")  # e.g. a signed URL that expired before Buffer sent the post
    clock.now = 1_805_000_000.0
    sb.send_due()
    post = read_post(sb, made["post"]["id"])["data"]["post"]
    assert post["status"] == "error" and "media could not be fetched" in post["error"]["message"]
    assert media.gets["/p.jpg"] == 2  # fetched at create and again when it went out


def test_a_disconnected_channel_fails_its_posts(sb):
    post_id = create(sb)["post"]["id"]
    sb.disconnect_channel(sb.channel)
    assert read_post(sb, post_id)["data"]["post"]["error"]["message"] == "The channel was disconnected from Buffer"


# ---- faults ---------------------------------------------------------------------------------------------

def test_a_lost_answer_leaves_the_post_findable_among_the_channels_posts(sb):
    sb.inject("createPost", "lost_response")  # carried out, then the connection is closed
    with pytest.raises(requests.ConnectionError):
        create(sb, text="lost but made")
    assert [p["text"] for p in sb.posts.values()] == ["lost but made"]
    found = gql(sb, POSTS, {"input": {"organizationId": sb.org, "filter": {"channelIds": [sb.channel]}}})
    nodes = [e["node"] for e in found.json()["data"]["posts"]["edges"]]
    assert [n["text"] for n in nodes] == ["lost but made"] and nodes[0]["status"] == "sent"


def test_a_502_after_the_create_was_applied(sb):
    sb.inject("createPost", "lost_response", how="error")
    answer = gql(sb, CREATE, {"input": {"channelId": sb.channel, "text": "applied", "schedulingType": "automatic",
                                        "mode": "shareNow"}})
    assert answer.status_code == 502 and len(sb.posts) == 1


def test_server_error_and_rate_limit_faults_create_nothing(sb):
    sb.inject("createPost", "server_error")
    sb.inject("createPost", "rate_limit", retry_after=120)
    given = {"input": {"channelId": sb.channel, "text": "x", "schedulingType": "automatic", "mode": "shareNow"}}
    assert gql(sb, CREATE, given).status_code == 503
    limited = gql(sb, CREATE, given)
    assert limited.status_code == 429 and limited.json()["errors"][0]["extensions"]["retryAfter"] == 120
    assert sb.posts == {}
    assert create(sb)["__typename"] == "PostActionSuccess"


def test_injected_typed_mutation_error(sb):
    sb.inject("createPost", "mutation_error", type="LimitReachedError", message="Queue limit reached")
    assert create(sb) == {"__typename": "LimitReachedError", "message": "Queue limit reached"}
    assert sb.posts == {}


# ---- reading posts --------------------------------------------------------------------------------------

def test_posts_filtered_by_channel_and_status_with_cursor_paging(sb):
    linkedin = sb.add_channel(KEY, service="linkedin", name="alice-li")
    mine = [create(sb, text=f"x{i}", mode="customScheduled", dueAt="2027-03-10T15:00:00.000Z")["post"]["id"]
            for i in range(5)]
    create(sb, channelId=linkedin, text="other channel")
    seen, after = [], None
    while True:
        page = gql(sb, POSTS, {"first": 2, "after": after, "input": {
            "organizationId": sb.org, "filter": {"channelIds": [sb.channel], "status": ["scheduled"]}}}).json()
        posts = page["data"]["posts"]
        seen += [e["node"]["id"] for e in posts["edges"]]
        if not posts["pageInfo"]["hasNextPage"]:
            break
        after = posts["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(mine) and len(seen) == 5
    sent_only = gql(sb, POSTS, {"input": {"organizationId": sb.org, "filter": {"status": ["sent"]}}}).json()
    assert sent_only["data"]["posts"]["edges"] == []


def test_post_by_id_and_delete(sb):
    post_id = create(sb, mode="customScheduled", dueAt="2027-03-10T15:00:00.000Z")["post"]["id"]
    assert read_post(sb, post_id)["data"]["post"]["id"] == post_id
    deleted = gql(sb, """mutation D($id: PostId!) { deletePost(input: {id: $id}) {
        ... on DeletePostSuccess { id } ... on MutationError { message } } }""", {"id": post_id}).json()
    assert deleted["data"]["deletePost"] == {"id": post_id}
    missing = read_post(sb, post_id)
    assert missing["data"] is None and missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@probe
def test_a_bad_cursor_is_refused(sb):
    answer = gql(sb, POSTS, {"after": "bm90LWEtY3Vyc29y", "input": {"organizationId": sb.org}}).json()
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# ---- control over HTTP ------------------------------------------------------------------------------------

def test_http_control_endpoints(make_sandbox):
    sb = make_sandbox()
    control = sb.base_url + "/_sandbox/"
    org = requests.post(control + "api_keys", json={"key": KEY, "plan": "free"}, timeout=5).json()["organization_id"]
    channel = requests.post(control + "channels", json={"key_or_org": org, "service": "bluesky", "name": "alice.bsky"},
                            timeout=5).json()["channel_id"]
    sb.channel = channel
    assert requests.post(control + "inject", json={"endpoint": "createPost", "kind": "send_error", "message": "no"},
                         timeout=5).json()["ok"]
    post_id = create(sb, mode="customScheduled", dueAt="2027-03-10T15:00:00.000Z")["post"]["id"]
    sent = requests.post(control + "send_due", json={"now": 1_900_000_000.0}, timeout=5).json()
    assert sent["sent"] == [post_id]
    state = requests.get(control + "state", timeout=5).json()
    assert state["posts"][post_id]["status"] == "error" and "_fail" not in state["posts"][post_id]
    requests.post(control + "reset", json={}, timeout=5)
    assert sb.posts == {} and sb.channels  # posts forgotten, keys and channels kept
