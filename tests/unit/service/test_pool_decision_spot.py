"""A reclaimed Spot node in the pool decision (`ebb.service.decision.spot_interruptions`).

The example configuration with a third instance group, `gpu-g5-use1a-spot` (ml.g5.12xlarge in
us-east-1a, HyperPod's `CapacityRequirements.Spot`, priced below the type's on-demand price:
`ebb.local.spot_example`) and a NodePool that allows Spot and on-demand.

What is mirrored: Karpenter marks a Spot-interrupted offering unavailable in its
unavailable-offerings cache for the cache's TTL, and the interrupted node's pods get a node from
the next cheapest offering (aws/karpenter-provider-aws pkg/controllers/interruption/controller.go
`handleNodeClaim`; suite_test.go "should mark the ICE cache for the offering when getting a spot
interruption warning", commit 9fe0f2fab73e; the TTL: pkg/cache `UnavailableOfferingsTTL`, 3 min).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ebb.config import EbbConfig
from ebb.core.nodes import DEFAULT_UNAVAILABLE_TTL, NodeState, OfferingKey
from ebb.core.replicas import ReplicaCounts, SqsQueueAttributes
from ebb.local.spot_example import SPOT_GROUP, write_spot_example
from ebb.service.decision import (
    GroupCounts,
    ObservedNode,
    PoolSnapshot,
    PoolState,
    ScalerSnapshot,
    decide_pool,
)
from ebb.service.decision.spot_interruptions import SPOT_INTERRUPTION

NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)  # before the example's pre-warm window
LLM, BATCH = "serving/llm-inference", "batch/batch-worker"
G5, G6E, SPOT = "gpu-g5-use1a", "gpu-g6e-use1b", SPOT_GROUP
SPOT_OFFERING = OfferingKey(instance_group=SPOT, instance_type="ml.g5.12xlarge", zone="us-east-1a")


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> EbbConfig:
    return write_spot_example(tmp_path_factory.mktemp("spot"))


def _batch(replicas: int, visible: int) -> ScalerSnapshot:
    return ScalerSnapshot(
        observations={
            "s0-aws-sqs-queue": SqsQueueAttributes(
                attributes={
                    "ApproximateNumberOfMessages": str(visible),
                    "ApproximateNumberOfMessagesNotVisible": "0",
                }
            )
        },
        replicas=ReplicaCounts(spec=replicas, status=replicas, ready=replicas),
    )


def _llm() -> ScalerSnapshot:
    return ScalerSnapshot(observations={}, replicas=ReplicaCounts(spec=0, status=0, ready=0))


def _spot_node(name: str = "hyperpod-i-0f1e2d3c4b5a69788", **fields: Any) -> ObservedNode:
    return ObservedNode.model_validate(
        {
            "name": name,
            "instance_id": name.removeprefix("hyperpod-"),
            "instance_group": SPOT,
            "instance_type": "ml.g5.12xlarge",
            "state": NodeState.READY,
            "launched_at": NOW - timedelta(hours=1),
            **fields,
        }
    )


def _reclaimed(name: str = "hyperpod-i-0f1e2d3c4b5a69788") -> ObservedNode:
    """The node as observe reports it once HyperPod shuts it down: no capacity, no pods."""
    return _spot_node(name, state=None, shutting_down=True)


def _snapshot(nodes: tuple[ObservedNode, ...], spot_target: int, *, visible: int = 8) -> PoolSnapshot:
    replicas = 4
    return PoolSnapshot(
        node_pool="gpu",
        scalers={LLM: _llm(), BATCH: _batch(replicas, visible)},
        groups={
            G5: GroupCounts(current=0, target=0),
            G6E: GroupCounts(current=0, target=0),
            SPOT: GroupCounts(current=spot_target, target=spot_target),
        },
        nodes=nodes,
    )


def _running_on_spot() -> PoolState:
    """The state after the decision that put the batch worker's four pods on one Spot node."""
    return PoolState(generation=1, node_targets={G5: 0, G6E: 0, SPOT: 1})


def test_spot_is_preferred_while_it_is_available(config: EbbConfig) -> None:
    decision = decide_pool(_snapshot((), 0), PoolState(), config, NOW)
    assert decision.node_targets == {G5: 0, G6E: 0, SPOT: 1}


def test_a_reclaimed_spot_node_marks_its_offering_and_its_pods_go_on_demand(config: EbbConfig) -> None:
    decision = decide_pool(_snapshot((_reclaimed(),), 1), _running_on_spot(), config, NOW)

    # Leaving at once: out of the Spot group's target, its four pods planned on the cheapest
    # offering left, the on-demand ml.g5.12xlarge of the same zone.
    assert decision.node_targets == {G5: 1, G6E: 0, SPOT: 0}
    assert decision.provisioning is not None
    assert decision.provisioning.generation == 2
    (entry,) = decision.state.unavailable.entries
    assert (entry.offering, entry.reason) == (SPOT_OFFERING, SPOT_INTERRUPTION)
    assert entry.until == NOW + DEFAULT_UNAVAILABLE_TTL
    (reclaim,) = decision.spot_reclaims
    assert (reclaim.instance_id, reclaim.first_seen) == ("i-0f1e2d3c4b5a69788", True)
    assert decision.state.reclaimed == {"i-0f1e2d3c4b5a69788": NOW}
    assert "reclaimed: HyperPod is shutting it down and no plan of ebb removed it" in decision.explain()


def test_the_same_reclaimed_node_seen_again_marks_nothing_more(config: EbbConfig) -> None:
    first = decide_pool(_snapshot((_reclaimed(),), 1), _running_on_spot(), config, NOW)
    later = NOW + timedelta(seconds=40)
    # A duplicate event, or the tick, while HyperPod still shuts it down: the on-demand node is
    # on its way (HyperPod lists it as pending), the targets stand, nothing is ordered again.
    launching = ObservedNode(
        name="9b7d3c1a-2e4f-4a6b-8c0d-1e2f3a4b5c6d",
        instance_group=G5,
        instance_type="ml.g5.12xlarge",
        state=NodeState.LAUNCHING,
    )
    snapshot = _snapshot((_reclaimed(), launching), 1)
    snapshot = snapshot.model_copy(
        update={"groups": {**snapshot.groups, G5: GroupCounts(current=0, target=1)}}
    )
    again = decide_pool(snapshot, first.state, config, later)

    assert again.provisioning is None
    assert again.node_targets == first.node_targets
    assert again.state.unavailable == first.state.unavailable  # the mark is not moved on
    (reclaim,) = again.spot_reclaims
    assert not reclaim.first_seen
    assert again.state.reclaimed == {"i-0f1e2d3c4b5a69788": NOW}


def test_a_node_ebb_removed_is_not_taken_for_reclaimed(config: EbbConfig) -> None:
    # The plan removed it (scale-in): HyperPod's target already went down with the deletion.
    state = _running_on_spot().model_copy(
        update={
            "removing": {"i-0f1e2d3c4b5a69788": NOW - timedelta(minutes=2)},
            "node_targets": {SPOT: 0, G5: 0, G6E: 0},
        }
    )
    decision = decide_pool(_snapshot((_reclaimed(),), 0, visible=0), state, config, NOW)
    assert decision.spot_reclaims == ()
    assert decision.state.unavailable.entries == ()
    assert decision.state.removing == {"i-0f1e2d3c4b5a69788": NOW - timedelta(minutes=2)}


def test_the_nodes_a_plan_removes_are_remembered_until_hyperpod_no_longer_lists_them(
    config: EbbConfig,
) -> None:
    # No work left: the empty Spot node is consolidated away (WhenEmpty after 5 min).
    idle = _spot_node()
    state = _running_on_spot()
    snapshot = _snapshot((idle,), 1, visible=0)
    snapshot = snapshot.model_copy(update={"scalers": {LLM: _llm(), BATCH: _batch(0, 0)}})
    first = decide_pool(snapshot, state, config, NOW)
    later = decide_pool(snapshot, first.state, config, NOW + timedelta(minutes=6))
    assert [r.node for r in later.plan.removals] == [idle.name]
    assert later.state.removing == {"i-0f1e2d3c4b5a69788": NOW + timedelta(minutes=6)}
    gone = decide_pool(
        _snapshot((), 0, visible=0).model_copy(update={"scalers": {LLM: _llm(), BATCH: _batch(0, 0)}}),
        later.state,
        config,
        NOW + timedelta(minutes=8),
    )
    assert gone.state.removing == {}


def test_an_on_demand_node_shutting_down_marks_nothing(config: EbbConfig) -> None:
    node = ObservedNode(
        name="hyperpod-i-0a1b2c3d4e5f60718",
        instance_id="i-0a1b2c3d4e5f60718",
        instance_group=G5,
        instance_type="ml.g5.12xlarge",
        state=None,
        shutting_down=True,
    )
    decision = decide_pool(_snapshot((node,), 0), PoolState(), config, NOW)
    assert decision.spot_reclaims == ()
    assert decision.state.unavailable.entries == ()


def test_spot_takes_the_pods_again_once_the_mark_has_expired(config: EbbConfig) -> None:
    first = decide_pool(_snapshot((_reclaimed(),), 1), _running_on_spot(), config, NOW)
    # The reclaimed instance is gone and its replacement was cancelled; more work arrives after
    # the mark's three minutes: the new node is Spot again (the cheapest offering).
    after = NOW + DEFAULT_UNAVAILABLE_TTL + timedelta(seconds=1)
    on_demand = ObservedNode(
        name="hyperpod-i-0c0ffee0c0ffee000",
        instance_id="i-0c0ffee0c0ffee000",
        instance_group=G5,
        instance_type="ml.g5.12xlarge",
        state=NodeState.READY,
        pods={BATCH: 4},
        launched_at=NOW,
    )
    snapshot = PoolSnapshot(
        node_pool="gpu",
        scalers={LLM: _llm(), BATCH: _batch(4, 16)},
        groups={
            G5: GroupCounts(current=1, target=1),
            G6E: GroupCounts(current=0, target=0),
            SPOT: GroupCounts(current=0, target=0),
        },
        nodes=(on_demand,),
    )
    decision = decide_pool(snapshot, first.state, config, after)
    assert decision.state.unavailable.entries == ()
    assert decision.state.reclaimed == {}
    assert decision.node_targets[SPOT] == 1
    assert decision.node_targets[G5] == 1


def test_a_spot_only_node_pool_reports_the_pods_without_a_node(tmp_path: Path) -> None:
    config = write_spot_example(tmp_path / "spot-only", capacity_types=["spot"])
    decision = decide_pool(_snapshot((_reclaimed(),), 1), _running_on_spot(), config, NOW)
    assert decision.node_targets == {G5: 0, G6E: 0, SPOT: 0}
    (unplaced,) = decision.unplaceable
    assert (unplaced.pods, unplaced.count, unplaced.reason) == (BATCH, 4, "OfferingsUnavailable")
