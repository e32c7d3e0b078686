"""Request-model rules stated in the JSON Schema the OpenAPI document shows, as the models enforce them.

A rule a model checks in a validator but its schema does not state makes a schema-valid request fail
(the contract suite sends such requests): each helper here states one kind of rule in the schema too.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field


def omittable(*, schema: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """A field that may be left out but not sent as null (its schema has no null): a `str` field
    with this default stays None when absent and refuses an explicit null (400 naming it). `schema`:
    what else the field's schema states (e.g. `uniqueItems`, a rule its model's validator checks)."""
    def extra(field_schema: dict) -> None:
        field_schema.pop("default", None)
        field_schema.update(schema or {})
    return Field(default=None, json_schema_extra=extra, **kwargs)


def at_least_one_of(*names: str):
    """`json_schema_extra` of a body that needs at least one of `names` with a value (not null):
    the document states the rule the route checks."""
    def extra(schema: dict) -> None:
        schema["minProperties"] = 1
        schema["anyOf"] = [{"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in names]
    return extra


def _no_defaults(schema: dict, names: tuple[str, ...]) -> None:
    """The named properties as present-means-given: no default, and no null in an `X | None` type."""
    for name in names:
        prop = schema.get("properties", {}).get(name, {})
        prop.pop("default", None)
        choices = [choice for choice in prop.pop("anyOf", []) if choice.get("type") != "null"]
        if choices:
            prop.update(choices[0] if len(choices) == 1 else {"anyOf": choices})


def exactly_one_of(*names: str):
    """`json_schema_extra` of a body that takes exactly one of `names` (fields defaulting to None; their
    schema says present means not null)."""
    def extra(schema: dict) -> None:
        _no_defaults(schema, names)
        schema["oneOf"] = [{"required": [name]} for name in names]
    return extra


def either_or(first: str, others: tuple[str, ...]):
    """`json_schema_extra` of a body that takes `first`, or one or more of `others`, never both kinds
    (fields as for exactly_one_of)."""
    def extra(schema: dict) -> None:
        _no_defaults(schema, (first, *others))
        any_other = {"anyOf": [{"required": [name]} for name in others]}
        schema["oneOf"] = [{"required": [first], "not": any_other}, {**any_other, "not": {"required": [first]}}]
    return extra
