"""The provisioning policy (`ebb.core.provisioning`): one round from a fresh read.

Sources: BatchAddClusterNodes adds `IncrementTargetCountBy` to a group's target (SageMaker API
Reference, AddClusterNodeSpecification), so additions are a delta from a fresh read; HyperPod
Continuous provisioning "automatically retries failed launches" (SageMaker Developer Guide,
"Continuous provisioning for enhanced cluster operations on Amazon EKS"), so a starved group's
pending nodes are cancelled rather than left retrying; Karpenter keeps an offering that returned
insufficient capacity out for 3 minutes (aws/karpenter-provider-aws pkg/cache/cache.go,
`UnavailableOfferingsTTL = 3 * time.Minute`), ebb's first mark.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ebb.core.nodes import OfferingKey
from ebb.core.provisioning import (
    QUOTA_RECHECK,
    SHORTAGE_CAP,
    CapacityFailure,
    Fence,
    FenceVerdict,
    GroupView,
    NodeCondition,
    NodeView,
    PoolMode,
    Shortages,
    Standing,
    plan_round,
    shortage_duration,
)

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
DEADLINE = NOW + timedelta(minutes=30)
A = GroupView(name="gpu-a", instance_type="ml.g5.12xlarge", zone="us-east-1a", target_count=0)
B = GroupView(name="gpu-b", instance_type="ml.g6e.12xlarge", zone="us-east-1b", target_count=0)


def _node(key: str, group: str, condition: NodeCondition, *, instance: str | None = None) -> NodeView:
    return NodeView(key=key, instance_group=group, logical_id=key, instance_id=instance, condition=condition)


def _round(**overrides: object):  # type: ignore[no-untyped-def]
    arguments: dict[str, object] = {
        "targets": {"gpu-a": 3, "gpu-b": 0},
        "groups": {"gpu-a": A, "gpu-b": B},
        "nodes": (),
        "capacity_failures": (),
        "shortages": Shortages(),
        "handed_back": frozenset(),
        "now": NOW,
        "deadline": DEADLINE,
    }
    arguments.update(overrides)
    return plan_round(**arguments)  # type: ignore[arg-type]


def test_additions_are_the_delta_from_the_fresh_target_count_never_negative() -> None:
    plan = _round(
        targets={"gpu-a": 5, "gpu-b": 1},
        groups={
            "gpu-a": A.model_copy(update={"target_count": 2}),
            "gpu-b": B.model_copy(update={"target_count": 3}),
        },
    )
    assert plan.additions == {"gpu-a": 3}
    assert plan.standing is Standing.WAITING


def test_a_repeated_round_after_the_addition_adds_nothing_more() -> None:
    first = _round()
    assert first.additions == {"gpu-a": 3}
    # The retried task reads the group again: its target now includes the first call's nodes.
    again = _round(groups={"gpu-a": A.model_copy(update={"target_count": 3}), "gpu-b": B})
    assert again.additions == {}


def test_a_capacity_failure_marks_the_offering_cancels_pending_nodes_keeps_running_ones_and_hands_back() -> (
    None
):
    nodes = (
        _node("n-run", "gpu-a", NodeCondition.USABLE, instance="i-0000000a"),
        _node("n-fail", "gpu-a", NodeCondition.FAILED_CAPACITY),
        _node("n-wait", "gpu-a", NodeCondition.PENDING),
    )
    plan = _round(groups={"gpu-a": A.model_copy(update={"target_count": 3}), "gpu-b": B}, nodes=nodes)
    offering = OfferingKey(instance_group="gpu-a", instance_type="ml.g5.12xlarge", zone="us-east-1a")
    assert plan.newly_marked == (offering,)
    (mark,) = plan.shortages.entries
    assert (mark.until, mark.count) == (NOW + timedelta(minutes=3), 1)
    assert plan.cancel == ("n-fail", "n-wait")
    assert plan.starved_groups == ("gpu-a",)
    assert plan.hand_back == ("gpu-a",)
    assert plan.progress["gpu-a"].usable == 1


def test_a_starved_group_gets_no_additions_and_is_handed_back_once() -> None:
    failure = CapacityFailure(instance_group="gpu-a", at=NOW)
    plan = _round(capacity_failures=(failure,), handed_back=frozenset({"gpu-a"}))
    assert plan.additions == {}
    assert plan.hand_back == ()


def test_a_capacity_event_for_a_node_that_has_launched_since_marks_nothing() -> None:
    nodes = (_node("n-1", "gpu-a", NodeCondition.PENDING, instance="i-0000000b"),)
    failure = CapacityFailure(instance_group="gpu-a", at=NOW, logical_id="n-1")
    plan = _round(nodes=nodes, capacity_failures=(failure,))
    assert plan.newly_marked == ()
    assert plan.starved_groups == ()


def test_a_node_under_automatic_recovery_is_in_flight_not_failed() -> None:
    nodes = (_node("n-1", "gpu-a", NodeCondition.RECOVERING, instance="i-0000000c"),)
    plan = _round(
        targets={"gpu-a": 1, "gpu-b": 0},
        groups={"gpu-a": A.model_copy(update={"target_count": 1}), "gpu-b": B},
        nodes=nodes,
    )
    assert plan.progress["gpu-a"].in_flight == 1
    assert plan.progress["gpu-a"].failed == 0
    assert plan.starved_groups == ()
    assert plan.cancel == ()
    assert plan.additions == {}


def test_satisfied_waiting_and_past_the_deadline() -> None:
    usable = tuple(_node(f"n-{i}", "gpu-a", NodeCondition.USABLE, instance=f"i-0000001{i}") for i in range(3))
    full = {"gpu-a": A.model_copy(update={"target_count": 3}), "gpu-b": B}
    assert _round(groups=full, nodes=usable).standing is Standing.SATISFIED
    assert _round(groups=full, nodes=usable[:2]).standing is Standing.WAITING
    assert _round(groups=full, nodes=usable[:2], now=DEADLINE).standing is Standing.DEADLINE
    # Satisfied wins over the deadline: the work is done.
    assert _round(groups=full, nodes=usable, now=DEADLINE).standing is Standing.SATISFIED


def test_the_mark_backs_off_per_offering_and_is_capped() -> None:
    offering = A.offering
    assert [shortage_duration(n) for n in (1, 2, 3, 4, 5, 6, 40)] == [
        timedelta(minutes=m) for m in (3, 6, 12, 24, 48, 48, 48)
    ]
    marks = Shortages().mark(offering, NOW)
    # Seen again while still out: the same shortage, nothing changes.
    assert marks.mark(offering, NOW + timedelta(minutes=1)) == marks
    second = marks.mark(offering, NOW + timedelta(minutes=4))
    assert (second.entries[0].count, second.entries[0].until) == (2, NOW + timedelta(minutes=10))
    # Long after the last mark ended, a shortage starts over.
    later = NOW + timedelta(minutes=10) + SHORTAGE_CAP + timedelta(seconds=1)
    assert second.mark(offering, later).entries[0].count == 1


def test_a_quota_error_keeps_the_offering_out_for_the_recheck_period() -> None:
    marks = Shortages().mark(A.offering, NOW, reason="QuotaExceeded")
    assert marks.entries[0].until == NOW + QUOTA_RECHECK
    assert marks.active(A.offering, NOW + QUOTA_RECHECK - timedelta(seconds=1))
    assert not marks.active(A.offering, NOW + QUOTA_RECHECK)


def test_targets_for_a_group_the_cluster_does_not_have_are_refused() -> None:
    with pytest.raises(
        ValueError, match=r"targets name instance group\(s\) the cluster does not have: gpu-c"
    ):
        _round(targets={"gpu-c": 1})


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="now must be a timezone-aware datetime"):
        _round(now=NOW.replace(tzinfo=None))


def test_the_same_offering_twice_is_refused() -> None:
    mark = Shortages().mark(A.offering, NOW).entries[0]
    with pytest.raises(ValueError, match="shortages list the same offering twice"):
        Shortages(entries=(mark, mark))


@pytest.mark.parametrize(
    ("generation", "config", "verdict"),
    [
        (4, 2, FenceVerdict.CURRENT),
        (4, 3, FenceVerdict.CURRENT),
        (3, 2, FenceVerdict.NEWER_GENERATION),
        (5, 2, FenceVerdict.NOT_RECORDED),
        (4, 1, FenceVerdict.NEWER_CONFIGURATION),
    ],
)
def test_the_fence_orders_generations_and_configuration_versions(
    generation: int, config: int, verdict: FenceVerdict
) -> None:
    fence = Fence(generation=generation, config_version=config, pool_generation=4, current_config_version=2)
    assert fence.verdict is verdict
    assert fence.current is (verdict is FenceVerdict.CURRENT)


@pytest.mark.parametrize(
    ("mode", "verdict"),
    [
        (PoolMode.ACTS, FenceVerdict.CURRENT),
        (PoolMode.SHADOW_MODE, FenceVerdict.SHADOW_MODE),
        (PoolMode.PAUSED, FenceVerdict.PAUSED),
        (PoolMode.PODS_ONLY, FenceVerdict.PODS_ONLY),
    ],
)
def test_the_fence_lets_a_current_execution_act_only_in_a_mode_that_changes_nodes(
    mode: PoolMode, verdict: FenceVerdict
) -> None:
    current = Fence(generation=4, config_version=2, pool_generation=4, current_config_version=2, mode=mode)
    assert current.verdict is verdict
    assert current.current is (mode is PoolMode.ACTS)
    # A superseded execution is superseded whatever the mode: that verdict comes first.
    stale = Fence(generation=3, config_version=2, pool_generation=4, current_config_version=2, mode=mode)
    assert stale.verdict is FenceVerdict.NEWER_GENERATION
