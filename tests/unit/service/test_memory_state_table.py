"""The shared in-memory state table (tests/unit/conftest.py) is a `StateTable`: every method of
the Protocol, with its exact signature, so that a change of the Protocol cannot leave the fake
the service tests decide through behind (its conditions are checked against DynamoDB in
tests/unit/adapters/test_state_table_acting_lease.py)."""

from __future__ import annotations

import inspect
from typing import Any

from ebb.adapters.state_table import DynamoStateTable, StateTable


def _protocol_methods() -> list[str]:
    return sorted(
        name
        for name, value in vars(StateTable).items()
        if inspect.isfunction(value) and not name.startswith("_")
    )


def _differences(implementation: type[Any]) -> dict[str, tuple[str, str]]:
    """Per Protocol method the implementation lacks or declares otherwise: (found, expected)."""
    different = {}
    for name in _protocol_methods():
        expected = inspect.signature(getattr(StateTable, name))
        method = getattr(implementation, name, None)
        found = inspect.signature(method) if method is not None else None
        if found != expected:
            different[name] = (str(found), str(expected))
    return different


def test_the_protocol_has_the_methods_decide_and_the_workflow_call() -> None:
    assert {"load_pool", "claim", "record", "acquire_acting", "release_acting"} <= set(_protocol_methods())


def test_the_shared_fake_has_every_method_of_the_state_table_protocol_with_its_signature(
    memory_state_table: Any,
) -> None:
    assert _differences(memory_state_table) == {}


def test_dynamodbs_state_table_has_the_protocols_signatures_too() -> None:
    # mypy checks it structurally where it is passed as a StateTable; this says so by name.
    assert _differences(DynamoStateTable) == {}
