"""Every request body of the four services is bounded before any work starts: each string of
every JSON request model in their OpenAPI documents has a maximum length (or is an enum, a
format such as a date or a UUID, or a pattern), each list a maximum number of items, each map
bounded keys (issue 16: "limits on every list and string in the request models")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from services.notify.app import create_service as notify_service
from services.plans.app import create_service as plans_service
from services.reports.app import create_service as reports_service
from services.tasks.app import create_service as tasks_service
from shared.runtime import Service
from shared.settings import Settings

pytestmark = pytest.mark.unit

FACTORIES: list[Callable[..., Service]] = [plans_service, tasks_service, notify_service, reports_service]
BOUNDED_STRING = ("maxLength", "enum", "format", "const", "pattern")


class Walk:
    """The unbounded places of one OpenAPI document's request bodies."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.unbounded: set[str] = set()

    def schema(self, schema: dict[str, Any], where: str, seen: frozenset[str]) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                self.schema(self.document["components"]["schemas"][name], name, seen | {name})
            return
        for key in ("anyOf", "allOf", "oneOf"):
            for sub in schema.get(key, []):
                self.schema(sub, where, seen)
        kind = schema.get("type")
        if kind == "string" and not any(key in schema for key in BOUNDED_STRING):
            self.unbounded.add(f"{where}: text without maxLength")
        if kind == "array":
            if "maxItems" not in schema:
                self.unbounded.add(f"{where}: list without maxItems")
            self.schema(schema.get("items", {}), f"{where}[]", seen)
        for name, sub in schema.get("properties", {}).items():
            self.schema(sub, f"{where}.{name}", seen)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            keys = schema.get("propertyNames", {})
            if "maxProperties" not in schema and not ("$ref" in keys or "enum" in keys):
                self.unbounded.add(f"{where}: map without bounded keys")
            self.schema(extra, f"{where}{{}}", seen)


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__module__.split(".")[1])
def test_every_string_and_list_of_every_request_body_is_bounded(factory: Callable[..., Service]) -> None:
    settings = Settings(nats_url="nats://127.0.0.1:1", database_url="postgresql://cchc@127.0.0.1:1/cchc")
    document = factory(settings).build_app().openapi()
    walk = Walk(document)
    bodies = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content:
                bodies += 1
                walk.schema(content["schema"], f"{method.upper()} {path}", frozenset())
    assert bodies > 0
    assert sorted(walk.unbounded) == []
