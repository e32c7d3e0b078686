"""Rules a request model checks in a validator are stated in its JSON Schema too (shared/model/schema_rules.py):
for each example, the schema the OpenAPI document shows accepts it exactly when the model does."""

from __future__ import annotations

import jsonschema_rs
import pytest
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from shared.content_id.model import PolicyChoice
from shared.youtube_sync.bulk_model import BulkOperation, VideoSelection

IDS = ["4OiUFQpqGls", "s8rwxK0wgi6"]
CASES: list[tuple[type[BaseModel], dict]] = [
    (PolicyChoice, {"action": "monetize"}), (PolicyChoice, {"saved_policy_id": "P1"}), (PolicyChoice, {}),
    (PolicyChoice, {"action": None}), (PolicyChoice, {"action": "track", "saved_policy_id": "P1"}),
    (BulkOperation, {"add_tag": "summer"}), (BulkOperation, {"remove_tag": "old"}), (BulkOperation, {}),
    (BulkOperation, {"add_tag": "a", "remove_tag": "b"}), (BulkOperation, {"add_tag": None, "set": {"privacy": "public"}}),
    (BulkOperation, {"set": {"privacy": "public"}}),
    (VideoSelection, {"video_ids": IDS}), (VideoSelection, {"q": "launch", "privacy": "public"}), (VideoSelection, {}),
    (VideoSelection, {"video_ids": IDS, "q": "launch"}), (VideoSelection, {"video_ids": [IDS[0], IDS[0]]}),
    (VideoSelection, {"channel_id": None}),
]


@pytest.mark.parametrize(("model", "body"), CASES, ids=[f"{m.__name__}-{i}" for i, (m, _) in enumerate(CASES)])
def test_the_schema_accepts_a_body_exactly_when_the_model_does(model: type[BaseModel], body: dict):
    try:
        model.model_validate(body)
        accepted = True
    except PydanticError:
        accepted = False
    assert jsonschema_rs.is_valid(model.model_json_schema(), body) == accepted, body
