"""Shared pieces of the local world's tests: the test template, event fixtures, shape checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ebb.local.world import LocalWorld

HERE = Path(__file__).parent
TEMPLATE = HERE / "template.yaml"
FIXTURES = HERE / "fixtures"
SEED = 11


def fixture_json(name: str) -> Any:
    """A hand-written event fixture (tests/integration/local/fixtures/<name>.json), minus its comment."""
    document = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    document.pop("_comment", None)
    return document


def missing_from(actual: Any, documented: Any, path: str = "$") -> list[str]:
    """Where `actual` lacks a field of the documented shape, or has another JSON type there.

    Only the documented fields are required: AWS adds fields over time, and so may we.
    """
    if isinstance(documented, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {type(actual).__name__}"]
        problems: list[str] = []
        for key, value in documented.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing")
            else:
                problems += missing_from(actual[key], value, f"{path}.{key}")
        return problems
    if isinstance(documented, list):
        if not isinstance(actual, list):
            return [f"{path}: expected an array, got {type(actual).__name__}"]
        if documented and actual:
            return missing_from(actual[0], documented[0], f"{path}[0]")
        return []
    kinds = {bool: "boolean", int: "number", float: "number", str: "string", type(None): "null"}
    expected, found = kinds.get(type(documented)), kinds.get(type(actual))
    return [] if expected == found else [f"{path}: expected a {expected}, got {found}"]


def items_of(world: LocalWorld, function: str) -> list[dict[str, Any]]:
    """What a function stored in the record table (the Recorder handler), oldest first."""
    table = world.clients.client("dynamodb")
    response = table.query(
        TableName=world.stack.tables["RecordTable"].name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": world.function_name(function)}},
    )
    return [{key: next(iter(value.values())) for key, value in item.items()} for item in response["Items"]]
