"""A Google API discovery document as rules: which method a request is, and what is wrong with its query
parameters, its JSON body or its answer. One reading of the format for everything that follows such
a document: the contract checks (tests/contracts/youtube.py, tests/contracts/youtube_partner.py) and
the Content ID sandbox, which refuses what the document does not allow.

The format: https://developers.google.com/discovery/v1/reference/apis (methods with httpMethod,
path/flatPath, parameters by location, request/response `$ref`s; schemas with properties, types,
formats, enums, items and additionalProperties).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

INT_BOUNDS = {"int32": (-2 ** 31, 2 ** 31 - 1), "uint32": (0, 2 ** 32 - 1), "int64": (-2 ** 63, 2 ** 63 - 1),
              "uint64": (0, 2 ** 64 - 1)}


class DiscoveryDocument:
    def __init__(self, document: dict):
        self.document = document
        self.methods: dict[str, dict] = {}  # every method by id (e.g. youtube.videos.update)
        self._walk(document.get("resources", {}))

    @classmethod
    def load(cls, path: Path) -> DiscoveryDocument:
        return cls(json.loads(path.read_text()))

    def _walk(self, resources: dict) -> None:
        for resource in resources.values():
            for method in resource.get("methods", {}).values():
                self.methods[method["id"]] = method
            self._walk(resource.get("resources", {}))

    # -- which method --------------------------------------------------------------------------
    def method_for(self, http_method: str, path: str, *, upload: bool = False) -> str | None:
        """The id of the method a request path (under the service path) is, or None."""
        found = self.match(http_method, path, upload=upload)
        return found[0] if found else None

    def match(self, http_method: str, path: str, *, upload: bool = False) -> tuple[str, dict[str, str]] | None:
        """(method id, path parameters) of the method `http_method path` is, or None."""
        root = "/" + self.document.get("servicePath", "")
        if not path.startswith(root):
            return None
        rest = path[len(root):]
        for method_id, method in self.methods.items():
            if method["httpMethod"] != http_method or (upload and not method.get("supportsMediaUpload")):
                continue
            template = method.get("flatPath") or method["path"]
            names = re.findall(r"\{([^}]+)\}", template)
            pattern = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template))
            hit = re.fullmatch(pattern, rest)
            if hit:
                return method_id, dict(zip(names, hit.groups(), strict=True))
        return None

    def methods_at(self, path: str) -> list[str]:
        """The HTTP methods the document takes at `path` (for a 405's answer)."""
        root = "/" + self.document.get("servicePath", "")
        rest = path[len(root):] if path.startswith(root) else None
        out = []
        for method in self.methods.values():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(method.get("flatPath") or method["path"]))
            if rest is not None and re.fullmatch(pattern, rest):
                out.append(method["httpMethod"])
        return sorted(out)

    # -- schemas -------------------------------------------------------------------------------
    def schema(self, name: str) -> dict | None:
        return self.document.get("schemas", {}).get(name)

    def resolve(self, prop: dict) -> dict:
        return (self.schema(prop["$ref"]) or {}) if "$ref" in prop else prop

    def resource_schema(self, method: dict) -> dict | None:
        """The resource a method reads or writes: its request, or the items of its list answer."""
        if "request" in method:
            return self.schema(method["request"]["$ref"])
        answer = self.schema(method.get("response", {}).get("$ref", ""))
        items = (answer or {}).get("properties", {}).get("items", {}).get("items", {})
        return self.schema(items.get("$ref", "")) if items else answer

    # -- query parameters ----------------------------------------------------------------------
    def query_problems(self, method: dict, query: list[tuple[str, str]]) -> tuple[dict[str, list[str]], list[str]]:
        """(the parameters by name, every problem): unknown, repeated when not `repeated`, of the
        wrong type or not in the enum, and required ones missing. Path parameters are not query ones."""
        declared = {**self.document.get("parameters", {}),
                    **{k: v for k, v in method.get("parameters", {}).items() if v.get("location") == "query"}}
        params: dict[str, list[str]] = {}
        problems: list[str] = []
        for name, value in query:
            params.setdefault(name, []).append(value)
        for name, values in params.items():
            spec = declared.get(name)
            if spec is None:
                problems.append(f"query parameter {name!r} is not defined for {method['id']}")
                continue
            if len(values) > 1 and not spec.get("repeated"):
                problems.append(f"query parameter {name!r} is given {len(values)} times but is not repeated")
            for value in values:
                for item in (value.split(",") if spec.get("repeated") else [value]):
                    problem = self.scalar_problem(item, spec)
                    if problem:
                        problems.append(f"query parameter {name}={item!r}: {problem}")
        for name, spec in method.get("parameters", {}).items():
            if spec.get("required") and spec.get("location") == "query" and name not in params:
                problems.append(f"required query parameter {name!r} is missing")
        return params, problems

    @staticmethod
    def scalar_problem(value: str, spec: dict) -> str | None:
        """What is wrong with a query-string value for a parameter `spec`, or None."""
        kind = spec.get("type")
        if "enum" in spec and value not in spec["enum"]:
            return f"not one of {spec['enum']}"
        if kind == "boolean" and value not in ("true", "false"):
            return "not a boolean (true/false)"
        if kind == "integer":
            if not re.fullmatch(r"-?\d+", value):
                return "not an integer"
            number = int(value)
            low, high = INT_BOUNDS.get(spec.get("format", ""), (None, None))
            low = int(spec["minimum"]) if "minimum" in spec else low
            high = int(spec["maximum"]) if "maximum" in spec else high
            if (low is not None and number < low) or (high is not None and number > high):
                return f"outside {low}..{high}"
        return None

    # -- JSON values ---------------------------------------------------------------------------
    def validate(self, value: Any, schema: dict, where_path: str, problems: list[str], *, where: str) -> None:
        """`value` against a schema: known fields, types, enums, formats; each problem appended."""
        schema = self.resolve(schema)
        label = where_path or "(top)"
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            if not isinstance(value, dict):
                problems.append(f"{where}: {label} should be an object, got {type(value).__name__}")
                return
            props, extra = schema.get("properties", {}), schema.get("additionalProperties")
            for key, item in value.items():
                name = f"{where_path}.{key}" if where_path else key
                if key in props:
                    self.validate(item, props[key], name, problems, where=where)
                elif extra is not None:
                    self.validate(item, extra, name, problems, where=where)
                else:
                    problems.append(f"{where}: {name} is not a field of {schema.get('id', 'the schema')}")
            return
        if kind == "array":
            if not isinstance(value, list):
                problems.append(f"{where}: {label} should be an array, got {type(value).__name__}")
                return
            for i, item in enumerate(value):
                self.validate(item, schema.get("items", {}), f"{where_path}[{i}]", problems, where=where)
            return
        problem = self.json_scalar_problem(value, schema)
        if problem:
            problems.append(f"{where}: {label}={value!r} {problem}")

    @staticmethod
    def json_scalar_problem(value: Any, schema: dict) -> str | None:
        kind, fmt = schema.get("type"), schema.get("format", "")
        if kind == "string":
            if not isinstance(value, str):
                return "should be a string"
            if "enum" in schema and value not in schema["enum"]:
                return f"is not one of {schema['enum']}"
            if fmt in ("int64", "uint64") and not re.fullmatch(r"-?\d+" if fmt == "int64" else r"\d+", value):
                return f"should be a {fmt} in a string"
            if fmt == "date-time":
                try:
                    datetime.fromisoformat(value.replace("Z", "+00:00"))
                except ValueError:
                    return "should be an RFC 3339 date-time"
        elif kind == "boolean" and not isinstance(value, bool):
            return "should be a boolean"
        elif kind == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                return "should be an integer"
            low, high = INT_BOUNDS.get(fmt, (None, None))
            if (low is not None and value < low) or (high is not None and value > high):
                return f"is outside {fmt}"
        elif kind == "number" and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            return "should be a number"
        return None

    def error_problems(self, status: int, body: Any) -> list[str]:
        """Google's error body {"error": {"code", "message", "errors": [{"domain", "reason", "message"}]}}
        (https://cloud.google.com/apis/design/errors#http_mapping)."""
        problems: list[str] = []
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return ["an error answer without Google's {\"error\": {...}} body"]
        if error.get("code") != status:
            problems.append(f"error.code {error.get('code')!r} differs from the HTTP status {status}")
        if not isinstance(error.get("message"), str):
            problems.append("error.message is missing")
        errors = error.get("errors")
        if not isinstance(errors, list) or not errors or not all(
                isinstance(e, dict) and isinstance(e.get("reason"), str) and isinstance(e.get("domain"), str)
                for e in errors):
            problems.append("error.errors must list {domain, reason, message}")
        return problems
