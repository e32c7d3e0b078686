"""The content API keeps its own published contract: schemathesis generates requests for every
operation in the served /openapi.json and checks each answer (no server error, a documented
status, the documented content type, a body matching the documented schema)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from tests.browser import serve_function
from tests.conftest import bearer

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Enough to reach every parameter's odd values without making the suite slow (bounded per operation).
EXAMPLES_PER_OPERATION = 12


@pytest.fixture(scope="module")
def served_api(stack_env):
    """The api function over real HTTP, with limits that let a generated flood through: the rate limit
    is exercised in test_api_access.py, and a live-status stream ends after a second."""
    from shared import services

    saved = {k: os.environ.get(k) for k in ("POSTGATE_API_REQUESTS_PER_MINUTE", "POSTGATE_API_STREAM_SECONDS")}
    os.environ.update({"POSTGATE_API_REQUESTS_PER_MINUTE": "1000000", "POSTGATE_API_STREAM_SECONDS": "1"})
    services.reset()
    import shared.api.app as api_app

    api_app._app = None
    with serve_function("functions/api/main.py", "api") as served:
        yield served
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    services.reset()


@pytest.fixture(scope="module")
def api_schema(served_api):
    return schemathesis.openapi.from_url(served_api.url + "/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_every_operation_answers_within_its_documented_contract(case, served_api, stack_env):
    case.call_and_validate(base_url=served_api.url, headers=bearer(stack_env, user="contract@example.com",
                                                                   roles=("approver",)),
                           checks=CHECKS, timeout=30)


def test_the_document_covers_every_route_the_app_serves(served_api):
    import requests

    doc = requests.get(served_api.url + "/openapi.json", timeout=10).json()
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    from shared.api.app import get_app

    served = set()
    for rule in get_app().url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule in ("/openapi.json", "/health"):
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method))
    assert served <= documented, served - documented
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert "200" in op["responses"] or "201" in op["responses"] or "202" in op["responses"] \
                or "204" in op["responses"], f"{method} {path} documents no success answer"
