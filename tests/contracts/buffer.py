"""Buffer: each exchange checked against Buffer's GraphQL schema, the types Postgate uses restated from
developers.buffer.com in infra/local/sandboxes/buffer_schema.graphql (pages and date in its header).

Request: `POST https://api.buffer.com/` (or `/graphql`) with a JSON body {query, variables,
operationName} and `Authorization: Bearer <API key>`; the query parses, keeps to Buffer's query
limits, validates against the schema, and its variables coerce to the operation's definitions; every
mutation on a payload union selects `... on MutationError` (Buffer's error-handling guide: "Always
include ... on MutationError in every mutation").

Answer: a 200's `data` is executed back through the schema along the query's own selection, so every
selected field must be there with a value of its declared type (non-null, enum value, list, scalar,
union member) and nothing unselected may be; `errors` entries carry a message and a string
extensions.code; a 429 is RATE_LIMIT_EXCEEDED with `retryAfter` seconds; every authenticated answer
carries the three RateLimit / RateLimit-Policy windows [guides/api-limits].
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    execute_sync,
    get_named_type,
    is_union_type,
)

from infra.local.sandboxes.buffer_graphql import GraphQLRefusal, prepare, schema
from infra.local.sandboxes.recording import Exchange
from tests.contracts import Verdict

HOST = "api.buffer.com"
PATHS = ("/", "/graphql")
LIMITS_PAGE = "https://developers.buffer.com/guides/api-limits"
ERRORS_PAGE = "https://developers.buffer.com/guides/error-handling"
AUTH_PAGE = "https://developers.buffer.com/guides/authentication"
WINDOWS = ("15min", "1day", "30days")


def check(exchange: Exchange) -> Verdict:
    if exchange.path.startswith("/_sandbox/"):
        return Verdict(None)
    problems = [] if exchange.host == HOST else [f"host {exchange.host}: Buffer's API is served on {HOST}"]
    if exchange.path not in PATHS or exchange.method != "POST":
        return Verdict("buffer.unknown", problems + [f"{exchange.method} {exchange.path}: Buffer's GraphQL API "
                                                     f"takes POST on / ({AUTH_PAGE})"])
    if exchange.content_type != "application/json":
        problems.append(f"body of Content-Type {exchange.content_type or '(none)'}; Buffer takes application/json")
    if not exchange.headers.get("authorization", "").startswith("Bearer "):
        problems.append(f"no Authorization: Bearer <API key> header ({AUTH_PAGE})")
    try:
        request = prepare(exchange.body)
    except GraphQLRefusal as refusal:
        return Verdict("buffer.invalid", problems + [f"request refused by the schema: {e['message']}"
                                                     for e in refusal.errors])
    operation = "buffer." + "+".join(request.root_fields or ["__typename"])
    problems += _error_fragments(request.operation, request.document)
    checked, answer_problems = _check_answer(exchange, request)
    return Verdict(operation, problems + answer_problems, response_checked=checked)


def _error_fragments(operation: OperationDefinitionNode, document: Any) -> list[str]:
    if operation.operation.value != "mutation":
        return []
    fragments = {d.name.value: d for d in document.definitions if hasattr(d, "type_condition") and hasattr(d, "name")}
    problems = []
    for field in (s for s in operation.selection_set.selections if isinstance(s, FieldNode)):
        returned = get_named_type(schema().mutation_type.fields[field.name.value].type)  # type: ignore[union-attr]
        if is_union_type(returned) and "MutationError" not in _conditions(field, fragments):
            problems.append(f"mutation {field.name.value} does not select '... on MutationError' ({ERRORS_PAGE})")
    return problems


def _conditions(field: FieldNode, fragments: dict) -> set[str]:
    names: set[str] = set()
    for selection in field.selection_set.selections if field.selection_set else ():
        if isinstance(selection, InlineFragmentNode) and selection.type_condition:
            names.add(selection.type_condition.name.value)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            names.add(fragments[selection.name.value].type_condition.name.value)
    return names


def _check_answer(exchange: Exchange, request: Any) -> tuple[bool, list[str]]:
    if exchange.dropped:
        return False, []
    body = exchange.response_json()
    if not isinstance(body, dict):
        return exchange.status < 500, ([] if exchange.status >= 500 else [f"answer {exchange.status} is not JSON"])
    problems = _check_errors(exchange, body.get("errors"))
    if exchange.status != 401:
        problems += _check_rate_headers(exchange)
    if exchange.status != 200:
        if "data" in body and body["data"] is not None:
            problems.append(f"answer {exchange.status} carries data")
        return True, problems
    if "data" not in body:
        return True, problems + ["a 200 answer without a data member"]
    if body["data"] is not None:
        problems += _check_data(request, body["data"])
    return True, problems


def _check_errors(exchange: Exchange, errors: Any) -> list[str]:
    if errors is None:
        return [] if exchange.status in (200, 502, 503, 504) or exchange.status < 400 else \
            [f"error answer {exchange.status} without an errors list ({ERRORS_PAGE})"]
    if not isinstance(errors, list) or not errors:
        return ["errors is not a non-empty list"]
    problems = []
    for entry in errors:
        if not isinstance(entry, dict) or not isinstance(entry.get("message"), str):
            problems.append("an errors entry without a message string")
            continue
        code = (entry.get("extensions") or {}).get("code")
        if code is not None and not isinstance(code, str):
            problems.append("extensions.code is not a string")
    codes = [(e.get("extensions") or {}).get("code") for e in errors if isinstance(e, dict)]
    if exchange.status == 429:
        limited = [e for e in errors if isinstance(e, dict) and (e.get("extensions") or {}).get("code")
                   == "RATE_LIMIT_EXCEEDED"]
        if not limited or not isinstance(limited[0]["extensions"].get("retryAfter"), int):
            problems.append(f"429 without RATE_LIMIT_EXCEEDED and an integer retryAfter ({LIMITS_PAGE})")
    if exchange.status == 401 and "UNAUTHENTICATED" not in codes:
        problems.append(f"401 without an UNAUTHENTICATED error ({AUTH_PAGE})")
    return problems


def _check_rate_headers(exchange: Exchange) -> list[str]:
    """Every answer reports the three windows: RateLimit and RateLimit-Policy, one entry per window."""
    headers = exchange.response_headers
    problems = []
    for name in ("ratelimit", "ratelimit-policy"):
        value = headers.get(name, "")
        missing = [w for w in WINDOWS if f'-in-{w}"' not in value]
        if missing:
            problems.append(f"no {name} entry for the {', '.join(missing)} window(s) ({LIMITS_PAGE})")
    return problems


def _check_data(request: Any, data: Any) -> list[str]:
    """Execute the query again with the answer as the source: graphql-core then checks every selected
    field's type, nullability and enum value; anything the answer has beyond the selection differs."""
    problems: list[str] = []

    def from_answer(source: Any, info: Any, **_args: Any) -> Any:
        key = info.path.key
        if not isinstance(source, dict) or key not in source:
            problems.append(f"answer lacks {'.'.join(str(p) for p in info.path.as_list())}")
            return None
        return source[key]

    def type_of(value: Any, info: Any, abstract: Any) -> str | None:
        if isinstance(value, dict) and isinstance(value.get("__typename"), str):
            return value["__typename"]
        keys = set(value) if isinstance(value, dict) else set()
        candidates = schema().get_possible_types(abstract)
        exact = [t for t in candidates if _selected_keys(info, t) == keys]
        covering = [t for t in candidates if keys <= set(t.fields)]
        chosen = (exact or covering or list(candidates))[0]
        return chosen.name

    result = execute_sync(schema(), request.document, root_value=data, variable_values=request.variables,
                          operation_name=request.operation.name.value if request.operation.name else None,
                          field_resolver=from_answer, type_resolver=type_of)
    problems += [f"answer at {'.'.join(str(p) for p in (e.path or []))}: {e.message}" for e in result.errors or []]
    if not result.errors and result.data != data:
        problems.append(f"answer differs from the selection (fields not asked for?): {_first_difference(result.data, data)}")
    return problems


def _selected_keys(info: Any, object_type: GraphQLObjectType) -> set[str]:
    """The response keys the query selects on a value of `object_type` at this abstract field."""
    keys: set[str] = set()

    def walk(selections: Any) -> None:
        for s in selections:
            if isinstance(s, FieldNode):
                keys.add(s.alias.value if s.alias else s.name.value)
            elif isinstance(s, InlineFragmentNode):
                if s.type_condition is None or _applies(s.type_condition.name.value, object_type):
                    walk(s.selection_set.selections)
            elif isinstance(s, FragmentSpreadNode):
                fragment = info.fragments.get(s.name.value)
                if fragment is not None and _applies(fragment.type_condition.name.value, object_type):
                    walk(fragment.selection_set.selections)

    for node in info.field_nodes:
        if node.selection_set is not None:
            walk(node.selection_set.selections)
    return keys


def _applies(condition: str, object_type: GraphQLObjectType) -> bool:
    return condition == object_type.name or condition in {i.name for i in object_type.interfaces}


def _first_difference(ours: Any, theirs: Any, path: str = "data") -> str:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in sorted(set(ours) | set(theirs)):
            if key not in ours:
                return f"{path}.{key} was not selected"
            if key not in theirs or ours[key] != theirs[key]:
                return _first_difference(ours.get(key), theirs.get(key), f"{path}.{key}")
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{path}[{i}]")
    return f"{path}: {theirs!r}"
