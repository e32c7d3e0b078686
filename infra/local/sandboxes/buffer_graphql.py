"""Buffer's GraphQL schema and request rules, shared by the Buffer sandbox (buffer.py) and its contract
check (tests/contracts/buffer.py): the SDL restating Buffer's documented types (buffer_schema.graphql),
loaded with graphql-core; how a request body is read, parsed, validated and held to Buffer's query
limits; and the shape of the errors Buffer answers with.

Query limits [developers.buffer.com/guides/api-limits]: depth at most 25, at most 30 aliases, a cost of
at most 175,000 points (a scalar field 1 point, an object field 2, times 1.5 per level of depth).
Errors [developers.buffer.com/guides/error-handling]: `{"errors": [{"message", "extensions": {"code"}}]}`.
The HTTP status of a refused document (parse, validation, variables) is not documented; we answer
400 as Apollo-based gateways do, with Apollo's codes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    build_schema,
    get_named_type,
    is_leaf_type,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.language import ValueNode

SDL_PATH = Path(__file__).with_name("buffer_schema.graphql")
MAX_DEPTH = 25
MAX_ALIASES = 30
MAX_COST = 175_000
NESTING_FACTOR = 1.5


class GraphQLRefusal(Exception):
    """A request Buffer refuses before running it: `status` and the `errors` list of the answer."""

    def __init__(self, status: int, errors: list[dict], headers: dict | None = None):
        super().__init__(errors[0]["message"] if errors else "refused")
        self.status, self.errors, self.headers = status, errors, headers or {}


def error(message: str, code: str | None = None, **extensions: Any) -> dict:
    """One entry of a GraphQL `errors` list, Buffer's shape."""
    entry: dict[str, Any] = {"message": message}
    if code is not None or extensions:
        entry["extensions"] = {**({"code": code} if code else {}), **extensions}
    return entry


def _iso_datetime(value: Any) -> str:
    """DateTime input: an ISO 8601 date and time (the scalar's documented meaning)."""
    if not isinstance(value, str):
        raise TypeError("DateTime must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"DateTime must be ISO 8601, got {value!r}") from None
    if parsed.tzinfo is None:  # Buffer's examples are UTC with Z; a time without an offset is ambiguous
        raise ValueError("DateTime needs a time zone (e.g. 2026-03-10T15:00:00.000Z)")
    return value


def _iso_literal(node: ValueNode, _variables: Any = None) -> str:
    if not isinstance(node, StringValueNode):
        raise TypeError("DateTime must be an ISO 8601 string")
    return _iso_datetime(node.value)


@cache
def schema() -> GraphQLSchema:
    """Buffer's schema as restated in buffer_schema.graphql (built once per process)."""
    built = build_schema(SDL_PATH.read_text(encoding="utf-8"))
    date_time = built.type_map["DateTime"]
    date_time.parse_value = _iso_datetime  # type: ignore[attr-defined]
    date_time.parse_literal = _iso_literal  # type: ignore[attr-defined]
    date_time.serialize = _iso_datetime  # type: ignore[attr-defined]  # answers carry ISO 8601 too
    return built


@dataclass
class GraphQLRequest:
    """A request body as Buffer reads it: query, variables and operationName, parsed and validated."""

    document: DocumentNode
    operation: OperationDefinitionNode
    variables: dict = field(default_factory=dict)  # as sent (they coerce against the operation's definitions)

    @property
    def root_fields(self) -> list[str]:
        return root_fields(self.operation)


def request_payload(body: bytes) -> dict:
    """The JSON body {query, variables, operationName}, or GraphQLRefusal (400)."""
    try:
        payload = json.loads(body.decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError):
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        raise GraphQLRefusal(400, [error("POST body must be a JSON object with a query string", "BAD_REQUEST")])
    if not isinstance(payload.get("variables") or {}, dict):
        raise GraphQLRefusal(400, [error("variables must be a JSON object", "BAD_REQUEST")])
    if not isinstance(payload.get("operationName") or "", str):
        raise GraphQLRefusal(400, [error("operationName must be a string", "BAD_REQUEST")])
    return payload


def prepare(body: bytes) -> GraphQLRequest:
    """Parse, validate, hold to the query limits and coerce the variables; GraphQLRefusal otherwise."""
    payload = request_payload(body)
    try:
        document = parse(payload["query"])
    except GraphQLError as e:
        raise GraphQLRefusal(400, [_formatted(e, "GRAPHQL_PARSE_FAILED")]) from None
    over = query_limit_problems(document)  # before validation, as a gateway does: nothing deep is walked twice
    if over:  # Buffer's query-limit refusals carry no code: the message names the limit
        raise GraphQLRefusal(400, [error(message) for message in over])
    problems = validate(schema(), document)
    if problems:
        raise GraphQLRefusal(400, [_formatted(e, "GRAPHQL_VALIDATION_FAILED") for e in problems])
    operation = pick_operation(document, payload.get("operationName"))
    if operation is None:
        raise GraphQLRefusal(400, [error("Unknown or ambiguous operationName", "BAD_REQUEST")])
    raw = payload.get("variables") or {}
    coerced = get_variable_values(schema(), operation.variable_definitions or (), raw)
    if isinstance(coerced, list):
        raise GraphQLRefusal(400, [_formatted(e, "BAD_USER_INPUT") for e in coerced])
    return GraphQLRequest(document, operation, raw)


def _formatted(e: GraphQLError, code: str) -> dict:
    out = error(e.message, code)
    if e.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in e.locations]
    return out


def pick_operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        return next((op for op in operations if op.name and op.name.value == name), None)
    return operations[0] if len(operations) == 1 else None


def root_fields(operation: OperationDefinitionNode) -> list[str]:
    return [s.name.value for s in operation.selection_set.selections
            if isinstance(s, FieldNode) and s.name.value != "__typename"]


def operation_name_of(body: bytes) -> str | None:
    """The first root field the body asks for (createPost, posts, ...), None when it cannot be read."""
    try:
        payload = request_payload(body)
        operation = pick_operation(parse(payload["query"]), payload.get("operationName"))
    except (GraphQLRefusal, GraphQLError):
        return None
    fields = root_fields(operation) if operation is not None else []
    return fields[0] if fields else None


# ---- query limits ---------------------------------------------------------------------------------

def query_limit_problems(document: DocumentNode) -> list[str]:
    """How the document breaks Buffer's depth, alias and cost limits (fragments inlined)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    problems = []
    for operation in (d for d in document.definitions if isinstance(d, OperationDefinitionNode)):
        root = schema().mutation_type if operation.operation.value == "mutation" else schema().query_type
        tally = _Tally()
        _walk(operation.selection_set, root, 1, fragments, tally, set())
        if tally.depth > MAX_DEPTH:
            problems.append(f"Query depth {tally.depth} exceeds the maximum allowed depth of {MAX_DEPTH}. "
                            "Please simplify your query.")
        if tally.aliases > MAX_ALIASES:
            problems.append(f"Query uses {tally.aliases} aliases; at most {MAX_ALIASES} are allowed.")
        if tally.cost > MAX_COST:
            problems.append("Query exceeds maximum allowed complexity. Please simplify your query.")
    return problems


@dataclass
class _Tally:
    depth: int = 0
    aliases: int = 0
    cost: float = 0.0


def _walk(selection_set: SelectionSetNode, parent: Any, depth: int, fragments: dict, tally: _Tally,
          seen: set[str]) -> None:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            tally.depth = max(tally.depth, depth)
            tally.aliases += selection.alias is not None
            field_def = getattr(parent, "fields", {}).get(selection.name.value) if parent is not None else None
            named = get_named_type(field_def.type) if field_def is not None else None
            leaf = selection.selection_set is None if named is None else is_leaf_type(named)
            tally.cost += (1 if leaf else 2) * NESTING_FACTOR ** (depth - 1)
            if selection.selection_set is not None:
                _walk(selection.selection_set, named, depth + 1, fragments, tally, seen)
        elif isinstance(selection, InlineFragmentNode):
            target = schema().type_map.get(selection.type_condition.name.value) if selection.type_condition else parent
            _walk(selection.selection_set, target, depth, fragments, tally, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                target = schema().type_map.get(fragment.type_condition.name.value)
                _walk(fragment.selection_set, target, depth, fragments, tally, seen | {selection.name.value})
