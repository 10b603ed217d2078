"""Requests to HyperPod's node operations stay within the documented limits, and retries are safe.

Limits are checked against botocore's SageMaker service model (loaded from botocore's own data, no
network) and the API Reference pages BatchAddClusterNodes and BatchDeleteClusterNodes
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_BatchAddClusterNodes.html,
.../API_BatchDeleteClusterNodes.html), so the adapter cannot merely agree with the stand-in.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from botocore.loaders import Loader
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ebb.adapters.hyperpod_requests import (
    CLIENT_TOKEN_MAX_LENGTH,
    MAX_GROUPS_PER_ADD,
    MAX_IDENTIFIERS_PER_DELETE,
    MAX_NODE_IDS_ONLY_PER_DELETE,
    MAX_NODES_PER_ADD,
    GroupAddition,
    NodeAdditionRequest,
    NodeDeletionRequest,
    chunk_additions,
    chunk_deletions,
    client_token,
)

_SHAPES: dict[str, Any] = Loader().load_service_model("sagemaker", "service-2")["shapes"]
_GROUP_NAMES = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)


def _shape(name: str) -> dict[str, Any]:
    shape: dict[str, Any] = _SHAPES[name]
    return shape


def test_the_limits_are_the_service_models() -> None:
    assert MAX_GROUPS_PER_ADD == _shape("AddClusterNodeSpecificationList")["max"] == 5
    assert (
        MAX_NODES_PER_ADD == _shape("AddClusterNodeSpecificationIncrementTargetCountByInteger")["max"] == 50
    )
    assert CLIENT_TOKEN_MAX_LENGTH == _shape("BatchAddClusterNodesRequestClientTokenString")["max"] == 64
    # The model allows 99 NodeLogicalIds; its documentation string (and the API Reference) says
    # 50 combined with NodeIds: ebb keeps to the stricter figure.
    assert _shape("ClusterNodeLogicalIdList")["max"] == 99
    documentation = _shape("BatchDeleteClusterNodesRequest")["members"]["NodeLogicalIds"]["documentation"]
    assert "combined maximum of 50 identifiers" in documentation
    assert MAX_IDENTIFIERS_PER_DELETE == 50
    node_ids_doc = _shape("BatchDeleteClusterNodesRequest")["members"]["NodeIds"]["documentation"]
    assert "more than 99 instances" in node_ids_doc
    assert MAX_NODE_IDS_ONLY_PER_DELETE == 99


def test_client_token_is_deterministic_per_logical_request_and_fits_the_model() -> None:
    token = client_token("pool1-g7-c0", 0, 0)
    pattern = _shape("BatchAddClusterNodesRequestClientTokenString")["pattern"]

    assert token == client_token("pool1-g7-c0", 0, 0)
    assert re.fullmatch(pattern, token)
    assert len(token) <= 64
    others = {
        client_token("pool1-g7-c0", 0, 1),
        client_token("pool1-g7-c0", 1, 0),
        client_token("pool1-g8-c0", 0, 0),
        client_token("pool1-g7-c1", 0, 0),
    }
    assert token not in others
    assert len(others) == 4


def test_client_token_refuses_an_empty_execution_or_negative_indices() -> None:
    with pytest.raises(ValueError, match="execution_name"):
        client_token("", 0, 0)
    with pytest.raises(ValueError, match="round_index"):
        client_token("e", -1, 0)


def test_a_request_beyond_50_nodes_or_5_groups_cannot_be_built() -> None:
    six_groups = tuple(GroupAddition(instance_group=f"g{i}", count=1) for i in range(6))
    with pytest.raises(ValidationError, match="at most 5 items"):
        NodeAdditionRequest(groups=six_groups, client_token="t")
    with pytest.raises(ValidationError, match="51 nodes in one request"):
        NodeAdditionRequest(
            groups=(GroupAddition(instance_group="a", count=50), GroupAddition(instance_group="b", count=1)),
            client_token="t",
        )
    with pytest.raises(ValidationError, match="less than or equal to 50"):
        GroupAddition(instance_group="a", count=51)
    with pytest.raises(ValidationError, match="appears twice"):
        NodeAdditionRequest(
            groups=(GroupAddition(instance_group="a", count=1), GroupAddition(instance_group="a", count=1)),
            client_token="t",
        )


def test_a_request_names_what_is_wrong_with_a_group_name() -> None:
    with pytest.raises(ValidationError) as caught:
        GroupAddition(instance_group="bad_name", count=1)
    assert caught.value.errors()[0]["loc"] == ("instance_group",)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_GROUP_NAMES, st.integers(min_value=0, max_value=180), max_size=14))
def test_chunks_are_valid_requests_that_add_exactly_the_counts(counts: dict[str, int]) -> None:
    chunks = chunk_additions(counts, execution_name="exec", round_index=3)

    added: Counter[str] = Counter()
    for chunk in chunks:
        assert chunk.total_nodes <= MAX_NODES_PER_ADD
        assert len(chunk.groups) <= MAX_GROUPS_PER_ADD
        for group in chunk.groups:
            added[group.instance_group] += group.count
    assert added == Counter({group: count for group, count in counts.items() if count})
    assert [chunk.client_token for chunk in chunks] == [
        client_token("exec", 3, index) for index in range(len(chunks))
    ]
    assert chunk_additions(dict(reversed(counts.items())), execution_name="exec", round_index=3) == chunks


def _nodes_to_add_problems(nodes_to_add: list[dict[str, Any]]) -> list[str]:
    """Where a NodesToAdd list breaks botocore's model: the list's length, and each
    AddClusterNodeSpecification's members (required, ranges, lengths, patterns). botocore's own
    client-side validation checks no maxima, so the model's limits are read here."""
    problems = []
    listed = _shape("AddClusterNodeSpecificationList")
    if not listed["min"] <= len(nodes_to_add) <= listed["max"]:
        problems.append(
            f"NodesToAdd: {len(nodes_to_add)} groups, the model allows {listed['min']}..{listed['max']}"
        )
    member = _shape(listed["member"]["shape"])
    for index, specification in enumerate(nodes_to_add):
        missing = set(member["required"]) - specification.keys()
        unknown = specification.keys() - member["members"].keys()
        if missing or unknown:
            problems.append(f"NodesToAdd[{index}]: missing {sorted(missing)}, unknown {sorted(unknown)}")
        for name, value in specification.items():
            shape = _shape(member["members"][name]["shape"])
            if shape["type"] == "integer" and not shape["min"] <= value <= shape["max"]:
                problems.append(f"NodesToAdd[{index}].{name}: {value} outside {shape['min']}..{shape['max']}")
            if shape["type"] == "string" and not re.fullmatch(shape["pattern"], value):
                problems.append(f"NodesToAdd[{index}].{name}: {value!r} does not match {shape['pattern']}")
            if shape["type"] == "list" and not shape["min"] <= len(value) <= shape["max"]:
                problems.append(f"NodesToAdd[{index}].{name}: {len(value)} items outside the model's range")
    return problems


def test_six_small_groups_are_split_after_five() -> None:
    # BatchAddClusterNodes takes "up to 5 instance groups in a single request" (API Reference;
    # AddClusterNodeSpecificationList max 5 in botocore's model): six groups of one node each fit
    # the 50-node limit, so only the group limit splits them.
    six = chunk_additions({f"g{i}": 1 for i in range(6)}, execution_name="e", round_index=0)
    eleven = chunk_additions({f"g{i:02}": 2 for i in range(11)}, execution_name="e", round_index=0)

    assert [[group.instance_group for group in chunk.groups] for chunk in six] == [
        ["g0", "g1", "g2", "g3", "g4"],
        ["g5"],
    ]
    assert [len(chunk.groups) for chunk in eleven] == [5, 5, 1]
    for chunk in (*six, *eleven):
        assert _nodes_to_add_problems(chunk.nodes_to_add()) == []


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_GROUP_NAMES, st.integers(min_value=1, max_value=12), min_size=6, max_size=16))
def test_many_small_groups_make_requests_the_service_model_accepts(counts: dict[str, int]) -> None:
    # The other property test's counts run to 180 a group: its requests fill on nodes long before
    # they reach five groups. Here counts are small, so the group limit is what splits them.
    chunks = chunk_additions(counts, execution_name="exec", round_index=0)

    for chunk in chunks:
        assert _nodes_to_add_problems(chunk.nodes_to_add()) == []
    added: Counter[str] = Counter()
    for chunk in chunks:
        for specification in chunk.nodes_to_add():
            added[specification["InstanceGroupName"]] += specification["IncrementTargetCountBy"]
    assert added == Counter(counts)
    assert len(chunks) >= -(-len(counts) // MAX_GROUPS_PER_ADD)


def test_the_model_check_sees_what_the_service_would_refuse() -> None:
    # The check above is itself checked: six groups, a count of 51 and a bad name are problems.
    six = [{"InstanceGroupName": f"g{i}", "IncrementTargetCountBy": 1} for i in range(6)]
    assert _nodes_to_add_problems(six) == ["NodesToAdd: 6 groups, the model allows 1..5"]
    assert _nodes_to_add_problems([{"InstanceGroupName": "g", "IncrementTargetCountBy": 51}]) == [
        "NodesToAdd[0].IncrementTargetCountBy: 51 outside 1..50"
    ]
    assert _nodes_to_add_problems([{"InstanceGroupName": "bad_name", "IncrementTargetCountBy": 1}]) != []


def test_a_request_sends_its_zones_and_types_as_the_model_names_them() -> None:
    request = NodeAdditionRequest(
        groups=(
            GroupAddition(
                instance_group="flex",
                count=2,
                instance_types=("ml.g6.12xlarge",),
                availability_zones=("us-east-1b",),
            ),
        ),
        client_token="t",
    )

    assert request.nodes_to_add() == [
        {
            "InstanceGroupName": "flex",
            "IncrementTargetCountBy": 2,
            "InstanceTypes": ["ml.g6.12xlarge"],
            "AvailabilityZones": ["us-east-1b"],
        }
    ]
    assert _nodes_to_add_problems(request.nodes_to_add()) == []


def test_chunks_fill_requests_before_opening_another() -> None:
    chunks = chunk_additions({"a": 70, "b": 10}, execution_name="e", round_index=0)

    assert [[(group.instance_group, group.count) for group in chunk.groups] for chunk in chunks] == [
        [("a", 50)],
        [("a", 20), ("b", 10)],
    ]


def test_deletion_limits() -> None:
    logical = [f"n{i}" for i in range(50)]
    NodeDeletionRequest(logical_ids=tuple(logical))
    with pytest.raises(ValidationError, match="at most 50 combined"):
        NodeDeletionRequest(logical_ids=tuple(logical), node_ids=("i-0123456789abcdef0",))
    node_ids = tuple(f"i-{i:017x}" for i in range(99))
    NodeDeletionRequest(node_ids=node_ids)
    with pytest.raises(ValidationError, match="needs AWS Support"):
        NodeDeletionRequest(node_ids=(*node_ids, "i-aaaaaaaaaaaaaaaaa"))
    with pytest.raises(ValidationError, match="at least one"):
        NodeDeletionRequest()
    with pytest.raises(ValidationError, match="node_ids"):
        NodeDeletionRequest(node_ids=("node-1",))


def test_chunk_deletions_drops_duplicates_and_keeps_50_per_call() -> None:
    logical = [f"n{i}" for i in range(60)]
    chunks = chunk_deletions(logical_ids=[*logical, "n0"], node_ids=["i-0123456789abcdef0"] * 2)

    assert [len(chunk.logical_ids) + len(chunk.node_ids) for chunk in chunks] == [50, 11]
    assert chunks[1].node_ids == ("i-0123456789abcdef0",)
    assert [value for chunk in chunks for value in chunk.logical_ids] == logical
