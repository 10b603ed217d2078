"""The provisioning execution's input: one versioned schema, published, validated on both sides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ebb.adapters.workflows import MAX_NAME, execution_name
from ebb.service.provisioning import InvalidProvisioningRequest, validate_request
from ebb.service.provisioning_request import BackfillRequest, DecisionRequest, provisioning_schema

ROOT = Path(__file__).resolve().parents[3]


def test_the_published_schema_is_the_models() -> None:
    published = json.loads((ROOT / "statemachines" / "provision-input.schema.json").read_text())
    assert published == json.loads(json.dumps(provisioning_schema())), (
        "regenerate statemachines/provision-input.schema.json from ebb.service.provisioning_request"
    )


def test_the_fixtures_are_valid_requests_of_their_kind() -> None:
    decision = validate_request(json.loads((ROOT / "events" / "provision-request.json").read_text()))
    backfill = validate_request(json.loads((ROOT / "events" / "backfill-request.json").read_text()))
    assert isinstance(decision, DecisionRequest)
    assert decision.node_targets == {
        "gpu-g5-use1a": 2,
        "gpu-g6e-use1b": 1,
    }
    assert isinstance(backfill, BackfillRequest)
    assert backfill.nodes == 4


def test_a_malformed_request_names_each_field() -> None:
    bad = {"schemaVersion": 1, "kind": "decision", "nodePool": "GPU!", "generation": 0, "nodeTargets": {}}
    with pytest.raises(
        InvalidProvisioningRequest, match=r"decision\.nodePool.*decision\.generation.*decision\.nodeTargets"
    ) as raised:
        validate_request(bad)
    assert "decidedAt" in str(raised.value)


def test_execution_names_fit_80_characters_and_differ_by_generation_epoch_and_continuation() -> None:
    names = {
        execution_name("gpu", "0a1b2c3d", 7),
        execution_name("gpu", "0a1b2c3d", 8),
        execution_name("gpu", "ffffffff", 7),
        execution_name("gpu", "0a1b2c3d", 7, continuation=1),
    }
    assert len(names) == 4
    assert execution_name("gpu", "0a1b2c3d", 7) == "gpu-0a1b2c3d-g7-c0"
    long_a = execution_name("a" * 200, "0a1b2c3d", 123456)
    long_b = execution_name("a" * 199 + "b", "0a1b2c3d", 123456)
    assert len(long_a) <= MAX_NAME
    assert len(long_b) <= MAX_NAME
    assert long_a != long_b
    assert execution_name("pool.with.dots", "e", 1) == "pool_with_dots-e-g1-c0"
