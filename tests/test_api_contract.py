"""The content API keeps its own published contract: schemathesis generates requests for every
operation in the served /openapi.json and checks each answer (no server error, a documented
status, the documented content type, a body matching the documented schema), in three phases:

- random: seeded (so a failure can be replayed) but not derandomized, schema-valid data; a 400 to
  such a request is a failure: the document must state every shape rule the API enforces. A 422 is
  a rule the document describes in words but JSON Schema cannot state (a time relative to now, a
  referenced account that must exist, a range across two fields);
- negative: data that breaks the document; the API must refuse it (4xx, never a 2xx or a 5xx);
- stateful: the document's OpenAPI links chain create -> get / update / cancel / delete.

Rules the document can only describe (JSON Schema cannot compare two fields, count unique keys in a
list or know the time) are met by the generated data through `_as_documented` below, one line each,
so the random phase reaches the code behind them instead of stopping at them."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.content.text import check_caption
from tests.browser import serve_function
from tests.conftest import bearer

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SEED = 17_2024
# Bounded per operation (59 operations with /api/v1's) so the file stays well under CI's limit on two cores.
RANDOM_EXAMPLES = 8
NEGATIVE_EXAMPLES = 5
STATEFUL_SCENARIOS, STATEFUL_STEPS = 12, 6
# Accounts the generated targets name (one per platform): that a target's account exists is a rule
# only the data can meet.
ACCOUNTS = {"contract-tiktok": "tiktok", "contract-instagram": "instagram", "contract-x": "x",
            "contract-youtube": "youtube", "contract-linkedin": "linkedin"}
CASES: Counter = Counter()
BUFFER_KEY = "contract-buffer-key"  # a key the Buffer sandbox knows


@pytest.fixture(scope="module")
def served_api(stack_env):
    """The api function over real HTTP, with limits that let a generated flood through: the rate limit
    is exercised in test_api_access.py, and a live-status stream ends after a second."""
    from infra.local.sandboxes.buffer import BufferSandbox
    from shared import services

    buffer = BufferSandbox(enforce_rate_limits=False)  # /api/v1/buffer checks keys with Buffer
    buffer.start()
    buffer.add_api_key(BUFFER_KEY)
    names = ("POSTGATE_API_REQUESTS_PER_MINUTE", "POSTGATE_API_STREAM_SECONDS", "POSTGATE_BUFFER_BASE_URL")
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update({"POSTGATE_API_REQUESTS_PER_MINUTE": "1000000", "POSTGATE_API_STREAM_SECONDS": "1",
                       "POSTGATE_BUFFER_BASE_URL": buffer.base_url})
    services.reset()
    repo = services.repository()
    for account_id, platform in ACCOUNTS.items():
        repo.put_account(account_id, {"platform": platform, "handle": account_id,
                                      "secret_name": f"{platform}-account-{account_id}"})
    # POST /accounts/{id}/connect needs the app's OAuth client for the platform.
    services.secrets().add_version("oauth-clients", json.dumps(
        {p: {"client_id": f"{p}-client", "client_secret": f"{p}-secret"} for p in set(ACCOUNTS.values())}))
    import shared.api.app as api_app

    api_app._app = None
    with serve_function("functions/api/main.py", "api") as served:
        yield served
    buffer.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    services.reset()


@pytest.fixture(scope="module")
def auth(stack_env):
    return bearer(stack_env, user="contract@example.com", roles=("editor", "approver"))


def _load(served_api, mode: str):
    from schemathesis import GenerationMode

    loaded = schemathesis.openapi.from_url(served_api.url + "/openapi.json")
    loaded.config.generation.update(modes=[GenerationMode(mode)])
    # 422 is a described rule (see the module's docstring); a 400 to valid data is a shape rule the
    # document leaves out.
    loaded.config.checks.positive_data_acceptance.expected_statuses = [
        "2xx", "401", "403", "404", "409", "422", "429"]
    loaded.hook("map_case")(_as_documented)
    return loaded


@pytest.fixture(scope="module")
def api_schema(served_api):
    return _load(served_api, "positive")


@pytest.fixture(scope="module")
def negative_schema(served_api):
    return _load(served_api, "negative")


schema = schemathesis.pytest.from_fixture("api_schema")
negative = schemathesis.pytest.from_fixture("negative_schema")


# -- rules the document describes but JSON Schema cannot state ------------------------------------

def _as_documented(ctx, case):
    """Generated valid data meets the described rules (negative data is left as generated)."""
    if case.meta is not None and not case.meta.generation.mode.is_positive:
        return case
    path, method = case.operation.path, case.operation.method.lower()
    if isinstance(case.query, dict):
        _ordered_range(case.query, path)
    if isinstance(case.body, dict):
        body = case.body
        for item in body.get("items", [body]) if path == "/posts/bulk" else [body]:
            if isinstance(item, dict):
                _planned_times(item)
                _real_targets(item)
                _visible_caption(item)
        if method in ("post", "patch") and path.startswith("/accounts") and isinstance(body.get("limits"), list):
            body["limits"] = list({limit["name"]: limit for limit in body["limits"]}.values())  # each name once
        if path.startswith("/campaigns"):
            _campaign_dates(body, patch=method == "patch")
        if path.startswith("/api/v1/"):
            _seed_rules(body, path, method)
    return case


def _seed_rules(body: dict, path: str, method: str) -> None:
    """/api/v1: a post's media URLs must serve an image and its platform be its account's; a new direct
    account names a network Postgate posts to; a Buffer channel and key must be Buffer's own."""
    for item in body.get("posts", [body]) if path == "/api/v1/posts/bulk" else [body]:
        if isinstance(item, dict) and path.startswith("/api/v1/posts"):
            for name in ("media_urls", "platform", "target", "campaign_id"):
                item.pop(name, None)
            if method == "put":
                item.pop("social_account_id", None)
            elif "social_account_id" in item:
                item["social_account_id"] = "contract-x"  # our id is taken too
            _planned_times(item)
            _visible_caption(item)
    if path.startswith("/api/v1/social-accounts"):
        for name in ("buffer_profile_id", "buffer_config_id", "platform"):
            body.pop(name, None)
        if method == "post":
            body["platform"] = "twitter"
    if path.startswith("/api/v1/buffer/config") and "access_token" in body:
        body["access_token"] = BUFFER_KEY


def _planned_times(body: dict) -> None:
    """publish_at / scheduled_at: from now (a minute's grace) to 731 days ahead."""
    for name in ("publish_at", "scheduled_at", "scheduled_time"):
        if isinstance(body.get(name), str):
            when = dt.datetime.now(dt.UTC) + dt.timedelta(days=1 + len(body[name]) % 700)
            body[name] = when.isoformat()


def _visible_caption(body: dict) -> None:
    """caption: not only spaces or invisible characters (Unicode categories a pattern cannot name)."""
    for name in ("caption", "content"):  # content: /api/v1's caption
        caption = body.get(name)
        if isinstance(caption, str):
            try:
                check_caption(caption)
            except ValueError as exc:
                if "blank" in str(exc):
                    body[name] = caption + "Visible"


def _real_targets(body: dict) -> None:
    """targets: accounts that exist, each once."""
    targets = body.get("targets")
    if isinstance(targets, list):
        del targets[len(ACCOUNTS):]
        for target, account_id in zip(targets, ACCOUNTS):
            if isinstance(target, dict):
                target["account_id"] = account_id


def _ordered_range(query: dict, path: str) -> None:
    """`to` not before `from`; a day range at most 92 days (calendar) or 366 (analytics); the catalogue's
    `published_to` after `published_from`."""
    _published_range(query)
    if path == "/api/v1/posts/calendar":  # the seed's names for the calendar's days
        if isinstance(query.get("start_date"), str) and isinstance(query.get("end_date"), str):
            first, last = sorted((query["start_date"], query["end_date"]))
            last = min(dt.date.fromisoformat(last), dt.date.fromisoformat(first) + dt.timedelta(days=91))
            query["start_date"], query["end_date"] = first, last.isoformat()
        return
    start, end = query.get("from"), query.get("to")
    if not (isinstance(start, str) and isinstance(end, str)):
        return
    if end < start:
        query["from"], query["to"] = end, start
    if path == "/calendar" or "/analytics" in path:
        longest = 92 if path == "/calendar" else 366
        first = dt.date.fromisoformat(query["from"])
        last = dt.date.fromisoformat(query["to"])
        if (last - first).days >= longest:
            query["to"] = (first + dt.timedelta(days=longest - 1)).isoformat()


def _published_range(query: dict) -> None:
    start, end = query.get("published_from"), query.get("published_to")
    if not (isinstance(start, str) and isinstance(end, str)):
        return
    try:
        first, last = (dt.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (start, end))
        first, last = (t if t.tzinfo else t.replace(tzinfo=dt.UTC) for t in (first, last))  # no offset: UTC
        if last > first:
            return
    except (ValueError, OverflowError, TypeError):
        return
    query.pop("published_to")


def _campaign_dates(body: dict, *, patch: bool) -> None:
    """ends_on on or after starts_on (on a change, the stored starts_on counts: send both or neither)."""
    start, end = body.get("starts_on"), body.get("ends_on")
    if isinstance(start, str) and isinstance(end, str) and end < start:
        body["starts_on"], body["ends_on"] = end, start
    elif patch and isinstance(end, str) and "starts_on" not in body:
        body.pop("ends_on")


# -- the three phases -----------------------------------------------------------------------------

@schema.parametrize()
@seed(SEED)
@settings(max_examples=RANDOM_EXAMPLES, deadline=None, derandomize=False, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_every_operation_answers_valid_data_within_its_documented_contract(case, served_api, auth):
    CASES["random"] += 1
    case.call_and_validate(base_url=served_api.url, headers=auth, checks=CHECKS + _acceptance(case), timeout=30)


def _acceptance(case) -> list:
    # The OAuth callback's `state` must be one connect issued: the one input generated data cannot be.
    # /api/v1 answers a rule refusal 400, as the seed does (our API's 422): there a 400 is not a shape rule
    # the document leaves out, so only the other checks apply.
    path = case.operation.path
    return [] if path == "/accounts/oauth/callback" or path.startswith("/api/v1/") else [positive_data_acceptance]


@negative.parametrize()
@seed(SEED)
@settings(max_examples=NEGATIVE_EXAMPLES, deadline=None, derandomize=False, database=None,
          phases=[Phase.generate], suppress_health_check=list(HealthCheck))
def test_every_operation_refuses_data_outside_its_document(case, served_api, auth):
    CASES["negative"] += 1
    case.call_and_validate(base_url=served_api.url, headers=auth,
                           checks=[not_a_server_error, negative_data_rejection, content_type_conformance],
                           timeout=30)


def test_linked_calls_keep_the_contract(api_schema, served_api, auth):
    """Stateful: create, then what its links lead to (get, update, reschedule, cancel, delete ...)."""
    base = api_schema.as_state_machine()

    class Workflow(base):
        def get_call_kwargs(self, case):
            return {"base_url": served_api.url, "headers": auth, "timeout": 30}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            CASES["stateful"] += 1
            case.validate_response(response, checks=CHECKS + _acceptance(case))

    # Derandomized (the same scenarios each run: CI cannot be red by the draw) and no shrinking:
    # replaying a failing run against a server whose state has moved on draws different steps
    # (hypothesis then reports FlakyStrategyDefinition instead of the failure).
    Workflow.run(settings=settings(max_examples=STATEFUL_SCENARIOS, stateful_step_count=STATEFUL_STEPS,
                                   deadline=None, database=None, derandomize=True, phases=[Phase.generate],
                                   suppress_health_check=list(HealthCheck)))
    assert CASES["stateful"] > 0


@pytest.mark.stack  # counts the cases the phases above sent on the stack: nothing to count without them
def test_each_phase_ran_cases(capsys):
    """How many generated requests each phase sent (printed; a phase that sent none is a failure)."""
    with capsys.disabled():
        print("\ncontract cases run: " + ", ".join(f"{phase} {CASES[phase]}" for phase in ("random", "negative", "stateful")))
    assert all(CASES[phase] > 0 for phase in ("random", "negative", "stateful")), CASES


# -- what the document itself says ---------------------------------------------------------------

def _document(served_api) -> dict:
    import requests

    return requests.get(served_api.url + "/openapi.json", timeout=10).json()


def test_the_document_covers_every_route_the_app_serves(served_api):
    doc = _document(served_api)
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    from shared.api.app import OWN_AUTH_BLUEPRINTS, get_app

    served = set()
    mounted = get_app().extensions[OWN_AUTH_BLUEPRINTS]  # the console's HTML pages are no part of the API
    for rule in get_app().url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule in ("/openapi.json", "/health"):
            continue
        if rule.endpoint.rpartition(".")[0] in mounted:
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method))
    assert served <= documented, served - documented
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert "200" in op["responses"] or "201" in op["responses"] or "202" in op["responses"] \
                or "204" in op["responses"], f"{method} {path} documents no success answer"


def test_the_live_status_stream_is_documented_as_server_sent_events(served_api):
    answer = _document(served_api)["paths"]["/contents/{content_id}/events"]["get"]["responses"]["200"]
    assert list(answer["content"]) == ["text/event-stream"]


def test_creates_link_to_the_calls_that_take_their_ids(served_api):
    doc = _document(served_api)
    operation_ids = {op["operationId"]: (path, method) for path, ops in doc["paths"].items() for method, op in ops.items()}

    def linked(path, method, status):
        links = doc["paths"][path][method]["responses"][status].get("links", {})
        return {operation_ids[link["operationId"]]: link["parameters"] for link in links.values()}

    posts = linked("/posts", "post", "201")
    assert posts[("/posts/{post_id}", "get")] == {"post_id": "$response.body#/posts/0/id"}
    for target in (("/posts/{post_id}", "patch"), ("/posts/{post_id}/cancel", "post"), ("/posts/{post_id}", "delete"),
                   ("/contents/{content_id}", "get")):
        assert target in posts, target
    assert linked("/posts/bulk", "post", "201")[("/posts/{post_id}/cancel", "post")] == {
        "post_id": "$response.body#/items/0/posts/0/id"}
    assert linked("/campaigns", "post", "201")[("/campaigns/{campaign_id}", "patch")] == {
        "campaign_id": "$response.body#/id"}
    assert ("/accounts/{account_id}", "delete") in linked("/accounts", "post", "201")


def test_options_allows_what_the_document_gives_each_path(served_api, auth):
    import requests

    doc = _document(served_api)
    for path, ops in doc["paths"].items():
        concrete = path.replace("{", "x").replace("}", "")  # a sample id in each template
        answer = requests.options(served_api.url + concrete, timeout=10)
        allowed = {m.strip() for m in answer.headers.get("Allow", "").split(",") if m.strip()}
        expected = {m.upper() for m in ops} | {"OPTIONS"} | ({"HEAD"} if "get" in ops else set())
        assert allowed == expected, (path, answer.headers.get("Allow"))
    refused = requests.put(served_api.url + "/posts/bulk", headers=auth, timeout=10)  # 405 names the same methods
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "POST, OPTIONS"
