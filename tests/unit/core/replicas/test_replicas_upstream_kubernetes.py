"""Cases transcribed from the Kubernetes HPA's own tests: inputs and expected outputs are upstream facts.

Sources (file, commit of the copy read; each case is named after its upstream test function or
table row):

* kubernetes/kubernetes pkg/controller/podautoscaler/replica_calculator_test.go
  @ 78fc8e44052f699bf598f84b697b41e5a328c9c5
* kubernetes/kubernetes pkg/controller/podautoscaler/horizontal_test.go
  @ 88cca8337e1ddf5b2e8b7411ffa27bc2f27d980e

Metric values are milli-units, as in the Go tests. Object metrics use the same arithmetic as
external metrics (`getUsageRatioReplicaCount` for a Value target, the per-pod formula for an
AverageValue target), so their cases check the external-metric code too.

Where ebb keeps less state than the HPA (it drops recommendations older than every window, which
the HPA only keeps as slots to overwrite), the expected stored values below are upstream's minus
those inert entries; the comments say which. Scale events are kept slot for slot as upstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ebb.core.replicas import HpaBehavior, HpaScalingPolicy, HpaScalingRules, MetricTargetType
from ebb.core.replicas.hpa import HpaMemory, HpaSpec, reconcile, store_scale_event
from ebb.core.replicas.normalization import (
    HpaCondition,
    effective_rules,
    legacy_scale_up_limit,
    limit_legacy,
    limit_with_behavior,
    replicas_changed_within,
    scale_down_limit,
    scale_up_limit,
    stabilize_legacy,
    stabilize_with_behavior,
)
from ebb.core.replicas.policy import ScalingPolicyType, SelectPolicy
from ebb.core.replicas.replica_calculation import Proposal, Tolerances, propose
from ebb.core.replicas.state import Recommendation, ScaleEvent

from .replicas_testkit import (
    NOW,
    ago,
    counts,
    scaling_rules,
    uniform_events,
)

VALUE = MetricTargetType.VALUE
AVERAGE = MetricTargetType.AVERAGE_VALUE
WITHIN = HpaCondition.DESIRED_WITHIN_RANGE
TOO_FEW = HpaCondition.TOO_FEW_REPLICAS
TOO_MANY = HpaCondition.TOO_MANY_REPLICAS
UP_LIMIT = HpaCondition.SCALE_UP_LIMIT
DOWN_LIMIT = HpaCondition.SCALE_DOWN_LIMIT
R = scaling_rules


# --- replica_calculator_test.go: one metric's proposal -------------------------------------------------


@dataclass(frozen=True)
class CalculatorCase:
    test: str
    target_type: MetricTargetType
    metric: int
    target: int
    current: int
    ready: int
    expected_replicas: int
    expected_usage: int


CALCULATOR_CASES = [
    CalculatorCase("TestReplicaCalcScaleUpCMObject", VALUE, 20000, 15000, 3, 3, 4, 20000),
    CalculatorCase("TestReplicaCalcScaleUpCMPerPodObject", AVERAGE, 20000, 5000, 3, 3, 4, 6667),
    # readiness False, True, False: one ready pod; 15 if unready pods counted.
    CalculatorCase("TestReplicaCalcScaleUpCMObjectIgnoresUnreadyPods", VALUE, 50000, 10000, 3, 1, 5, 50000),
    # one ready pod; 6 if unready pods counted.
    CalculatorCase("TestReplicaCalcScaleUpCMExternalIgnoresUnreadyPods", VALUE, 8600, 4400, 3, 1, 2, 8600),
    CalculatorCase("TestReplicaCalcScaleUpPerPodCMExternal", AVERAGE, 8600, 2150, 3, 3, 4, 2867),
    CalculatorCase("TestReplicaCalcScaleDownPerPodCMObject", AVERAGE, 6000, 2000, 5, 5, 3, 1200),
    CalculatorCase("TestReplicaCalcScaleDownCMObject", VALUE, 12000, 20000, 5, 5, 3, 12000),
    CalculatorCase("TestReplicaCalcScaleDownCMExternal", VALUE, 8600, 14334, 5, 5, 3, 8600),
    CalculatorCase("TestReplicaCalcScaleDownPerPodCMExternal", AVERAGE, 8600, 2867, 5, 5, 3, 1720),
    CalculatorCase("TestReplicaCalcToleranceCMObject", VALUE, 20666, 20000, 3, 3, 3, 20666),
    CalculatorCase("TestReplicaCalcTolerancePerPodCMObject", AVERAGE, 20166, 5000, 4, 4, 4, 5042),
    CalculatorCase("TestReplicaCalcToleranceCMExternal", VALUE, 8600, 8888, 3, 3, 3, 8600),
    CalculatorCase("TestReplicaCalcTolerancePerPodCMExternal", AVERAGE, 8600, 2900, 3, 3, 3, 2867),
]


@pytest.mark.parametrize("case", CALCULATOR_CASES, ids=lambda case: case.test)
def test_replica_calculator_matches_upstream(case: CalculatorCase) -> None:
    proposal = propose(
        case.target_type, case.metric, case.target, counts(case.current, ready=case.ready), Tolerances()
    )

    assert isinstance(proposal, Proposal)
    assert proposal.replicas == case.expected_replicas
    assert proposal.reported_milli == case.expected_usage


# --- horizontal_test.go: whole reconciles of an HPA without behavior ----------------------------------


@dataclass(frozen=True)
class ControllerCase:
    test: str
    target_type: MetricTargetType
    metric: int
    target: int
    min_replicas: int
    max_replicas: int
    spec: int
    expected: int
    recommendations: tuple[Recommendation, ...] | None = None
    """`None` as in a test case that leaves `recommendations` unset (the controller seeds it)."""


CONTROLLER_CASES = [
    ControllerCase("TestScaleUpCMExternal", VALUE, 8600, 6666, 2, 6, 3, 4),
    ControllerCase("TestScaleUpPerPodCMExternal", AVERAGE, 8600, 2222, 2, 6, 3, 4),
    ControllerCase("TestScaleDownCMExternal", VALUE, 8600, 14400, 2, 6, 5, 3, ()),
    ControllerCase("TestScaleDownPerPodCMExternal", AVERAGE, 8600, 3000, 2, 6, 5, 3, ()),
    ControllerCase("TestScaleDownToZeroCMExternal", VALUE, 0, 14400, 0, 6, 5, 0, ()),
    ControllerCase("TestToleranceCMExternal", VALUE, 8600, 8666, 2, 6, 4, 4),
    ControllerCase("TestTolerancePerPodCMExternal", AVERAGE, 8600, 2200, 2, 6, 4, 4),
    ControllerCase("TestScaleUpPerPodCMObject", AVERAGE, 40000, 10000, 2, 6, 3, 4),
    ControllerCase("TestScaleDownCMObject", VALUE, 12000, 20000, 2, 6, 5, 3, ()),
    ControllerCase("TestScaleDownPerPodCMObject", AVERAGE, 60000, 20000, 2, 6, 5, 3, ()),
    ControllerCase("TestScaleDownToZeroCMObject", VALUE, 0, 20000, 0, 6, 5, 0, ()),
    ControllerCase("TestToleranceCMObject", VALUE, 20050, 20000, 1, 5, 3, 3),
    ControllerCase("TestTolerancePerPodCMObject", AVERAGE, 8600, 2200, 2, 6, 4, 4),
]


@pytest.mark.parametrize("case", CONTROLLER_CASES, ids=lambda case: case.test)
def test_controller_reconcile_matches_upstream(case: ControllerCase) -> None:
    proposal = propose(case.target_type, case.metric, case.target, counts(case.spec), Tolerances())
    assert isinstance(proposal, Proposal)

    outcome = reconcile(
        HpaSpec(case.min_replicas, case.max_replicas, behavior=None),
        [proposal.replicas],
        case.spec,
        HpaMemory(recommendations=case.recommendations),
        NOW,
    )

    assert outcome.desired == case.expected


@dataclass(frozen=True)
class BoundsCase:
    test: str
    min_replicas: int
    max_replicas: int
    spec: int
    expected: int
    condition: HpaCondition


BOUNDS_CASES = [
    BoundsCase("TestZeroReplicas", 3, 5, 0, 0, HpaCondition.SCALING_DISABLED),
    BoundsCase("TestTooFewReplicas", 3, 5, 2, 3, HpaCondition.TOO_FEW_REPLICAS),
    BoundsCase("TestTooManyReplicas", 3, 5, 10, 5, HpaCondition.TOO_MANY_REPLICAS),
    BoundsCase("TestScaleUpRCImmediately", 2, 6, 1, 2, HpaCondition.TOO_FEW_REPLICAS),
    BoundsCase("TestScaleDownRCImmediately", 2, 5, 6, 5, HpaCondition.TOO_MANY_REPLICAS),
]


@pytest.mark.parametrize("case", BOUNDS_CASES, ids=lambda case: case.test)
def test_out_of_range_replicas_are_corrected_without_metrics(case: BoundsCase) -> None:
    # The upstream cases report no metrics at all: the correction must not need any.
    outcome = reconcile(
        HpaSpec(case.min_replicas, case.max_replicas, None), [None], case.spec, HpaMemory(), NOW
    )

    assert (outcome.desired, outcome.condition) == (case.expected, case.condition)


def test_first_scale_down_after_a_restart_is_held_by_the_seeded_history() -> None:
    # TestScaleDownStabilizeInitialSize: 5 pods whose CPU gives 3 (TestScaleDown, with the same
    # inputs and an empty history, scales to 3); with no history at all the HPA stays at 5.
    outcome = reconcile(HpaSpec(2, 6, None), [3], 5, HpaMemory(recommendations=None), NOW)

    assert outcome.desired == 5
    assert outcome.stabilization is HpaCondition.SCALE_DOWN_STABILIZED


def test_scale_down_is_stabilized_by_recent_recommendations() -> None:
    # TestStabilizeDownscale: 4 replicas, CPU 3 x 50m of 100m at a 100% target (proposal 2),
    # recommendations 10 (10 min ago, outside the 5-min window) and 4 (1 min ago): stays 4.
    history = (Recommendation(at=ago(600), replicas=10), Recommendation(at=ago(60), replicas=4))

    outcome = reconcile(HpaSpec(1, 5, None), [2], 4, HpaMemory(recommendations=history), NOW)

    assert outcome.desired == 4


@dataclass(frozen=True)
class MultiMetricCase:
    test: str
    spec: int
    proposals: tuple[int | None, ...]
    expected: int


MULTI_METRIC_CASES = [
    # CPU 300/400/500m of 1 CPU at a 30% target proposes 4; the other metric is invalid or failing.
    MultiMetricCase("TestScaleUpOneMetricInvalid", 3, (4, None), 4),
    MultiMetricCase("TestScaleUpOneMetricEmpty", 3, (4, None), 4),
    # CPU 100/300/500/250/250m of 1 CPU at a 50% target proposes 3; a failing metric blocks it.
    MultiMetricCase("TestNoScaleDownOneMetricInvalid", 5, (3, None), 5),
    MultiMetricCase("TestNoScaleDownOneMetricEmpty", 5, (3, None), 5),
]


@pytest.mark.parametrize("case", MULTI_METRIC_CASES, ids=lambda case: case.test)
def test_a_failed_metric_allows_scale_up_but_blocks_scale_down(case: MultiMetricCase) -> None:
    outcome = reconcile(
        HpaSpec(2, 6, None), list(case.proposals), case.spec, HpaMemory(recommendations=()), NOW
    )

    assert outcome.desired == case.expected


# --- horizontal_test.go: TestConvertDesiredReplicasWithRules (the legacy limits) -----------------------


@dataclass(frozen=True)
class ConversionCase:
    annotation: str
    current: int
    desired: int
    min_replicas: int
    max_replicas: int
    expected: int
    condition: HpaCondition


CONVERSION_CASES = [
    ConversionCase("prenormalized desired replicas within range", 5, 7, 3, 8, 7, WITHIN),
    ConversionCase("prenormalized desired replicas < minReplicas", 3, 1, 2, 8, 2, TOO_FEW),
    ConversionCase("prenormalized desired zeroed replicas within range", 1, 0, 0, 10, 0, WITHIN),
    ConversionCase(
        "maxReplicas is the limit because maxReplicas < scaleUpLimit", 20, 1000, 1, 10, 10, TOO_MANY
    ),
    # Upstream expects `calculateScaleUpLimit(3)` (its test raises the factor to 8; production is 2).
    ConversionCase(
        "scaleUpLimit is the limit because scaleUpLimit < maxReplicas",
        3,
        1000,
        1,
        2000,
        legacy_scale_up_limit(3),
        UP_LIMIT,
    ),
]


@pytest.mark.parametrize("case", CONVERSION_CASES, ids=lambda case: case.annotation)
def test_convert_desired_replicas_with_rules(case: ConversionCase) -> None:
    limited = limit_legacy(case.desired, case.current, case.min_replicas, case.max_replicas)

    assert (limited.replicas, limited.condition) == (case.expected, case.condition)


def test_legacy_scale_up_limit_is_double_and_at_least_four() -> None:
    # horizontal.go @ 88cca833: scaleUpLimitFactor = 2.0, scaleUpLimitMinimum = 4.0.
    assert [legacy_scale_up_limit(current) for current in (0, 1, 2, 3, 10)] == [4, 4, 4, 6, 20]


def _min_rules() -> HpaScalingRules:
    return HpaScalingRules(
        stabilization_window_seconds=300,
        select_policy=SelectPolicy.MIN,
        policies=(
            HpaScalingPolicy(type=ScalingPolicyType.PODS, value=2, period_seconds=60),
            HpaScalingPolicy(type=ScalingPolicyType.PERCENT, value=50, period_seconds=60),
        ),
    )


def test_calculate_scale_up_limit_with_scaling_rules() -> None:
    # TestCalculateScaleUpLimitWithScalingRules: current 1, selectPolicy Min -> 2.
    up_rules, _ = effective_rules(HpaBehavior(scale_up=_min_rules()), 300)

    assert scale_up_limit(1, (), (), up_rules, NOW) == 2


def test_calculate_scale_down_limit_with_behaviors() -> None:
    # TestCalculateScaleDownLimitWithBehaviors: current 5, selectPolicy Min -> 3.
    _, down_rules = effective_rules(HpaBehavior(scale_down=_min_rules()), 300)

    assert scale_down_limit(5, (), (), down_rules, NOW) == 3


# --- horizontal_test.go: TestNormalizeDesiredReplicas (legacy stabilization, 5-minute window) ----------


@pytest.mark.parametrize(
    ("history", "desired", "expected", "expected_kept"),
    [
        pytest.param((), 5, 5, (5,), id="empty log"),
        pytest.param(((4, 120), (5, 60)), 3, 5, (4, 5, 3), id="stabilize"),
        pytest.param(((1, 120), (2, 60)), 3, 3, (1, 2, 3), id="no stabilize"),
        # Upstream's log keeps the 10 (10 min old) in a slot; ebb drops it.
        pytest.param(((10, 600), (9, 540)), 3, 3, (3,), id="no stabilize - old recommendations"),
        # Upstream's log keeps the 10 and overwrites the 9; ebb drops both.
        pytest.param(
            ((10, 600), (4, 60), (5, 120), (9, 540)), 3, 5, (4, 5, 3), id="stabilize - old recommendations"
        ),
    ],
)
def test_normalize_desired_replicas_legacy(
    history: tuple[tuple[int, int], ...], desired: int, expected: int, expected_kept: tuple[int, ...]
) -> None:
    recommendations = tuple(
        Recommendation(at=ago(seconds), replicas=replicas) for replicas, seconds in history
    )

    stabilized = stabilize_legacy(recommendations, desired, 300, NOW)

    assert stabilized.replicas == expected
    assert tuple(entry.replicas for entry in stabilized.history) == expected_kept


# --- horizontal_test.go: TestNormalizeDesiredReplicasWithBehavior ---------------------------------------


@dataclass(frozen=True)
class StabilizationCase:
    name: str
    history: tuple[tuple[int, int], ...]
    """(replicas, seconds ago)."""
    current: int
    desired: int
    expected: int
    up_window: int = 0
    down_window: int = 0
    expected_kept: tuple[int, ...] | None = None
    """The stored values after the call (upstream's, minus entries older than both windows)."""


STABILIZATION_CASES = [
    StabilizationCase("empty recommendations for scaling down", (), 100, 5, 5, expected_kept=(5,)),
    StabilizationCase(
        "simple scale down stabilization",
        ((4, 120), (5, 60)),
        100,
        3,
        5,
        down_window=180,
        expected_kept=(4, 5, 3),
    ),
    StabilizationCase(
        "simple scale up stabilization", ((4, 120), (5, 60)), 1, 7, 4, up_window=300, expected_kept=(4, 5, 7)
    ),
    StabilizationCase(
        "no scale down stabilization", ((1, 120), (2, 60)), 100, 3, 3, up_window=300, expected_kept=(1, 2, 3)
    ),
    StabilizationCase(
        "no scale up stabilization", ((4, 120), (5, 60)), 1, 3, 3, down_window=300, expected_kept=(4, 5, 3)
    ),
    # Upstream stores (10, 3): the 10 is older than both windows.
    StabilizationCase(
        "no scale down stabilization, reuse recommendation element",
        ((10, 600), (9, 540)),
        100,
        3,
        3,
        expected_kept=(3,),
    ),
    # Upstream stores (10, 100).
    StabilizationCase(
        "no scale up stabilization, reuse recommendation element",
        ((10, 600), (9, 540)),
        1,
        100,
        100,
        expected_kept=(100,),
    ),
    # Upstream stores (10, 4, 5, 3).
    StabilizationCase(
        "scale down stabilization, reuse one of obsolete recommendation element",
        ((10, 600), (4, 60), (5, 120), (9, 540)),
        100,
        3,
        5,
        down_window=180,
        expected_kept=(4, 5, 3),
    ),
    # Upstream stores (100, 6, 5, 9): the new value took the old 10's slot.
    StabilizationCase(
        "scale up stabilization, reuse one of obsolete recommendation element",
        ((10, 6000), (6, 60), (5, 120), (9, 180)),
        1,
        100,
        5,
        up_window=300,
        expected_kept=(6, 5, 9, 100),
    ),
    StabilizationCase(
        "scale up and down stabilization, do not scale up when prenormalized rec goes down",
        ((2, 6000), (3, 180)),
        2,
        1,
        2,
        up_window=300,
        down_window=300,
    ),
    StabilizationCase(
        "scale up and down stabilization, do not scale down when prenormalized rec goes up",
        ((2, 6000), (1, 180)),
        2,
        3,
        2,
        up_window=300,
        down_window=300,
    ),
]


@pytest.mark.parametrize("case", STABILIZATION_CASES, ids=lambda case: case.name)
def test_normalize_desired_replicas_with_behavior(case: StabilizationCase) -> None:
    history = tuple(Recommendation(at=ago(seconds), replicas=replicas) for replicas, seconds in case.history)

    stabilized = stabilize_with_behavior(
        history,
        case.desired,
        case.current,
        up_window_seconds=case.up_window,
        down_window_seconds=case.down_window,
        now=NOW,
    )

    assert stabilized.replicas == case.expected
    if case.expected_kept is not None:
        assert tuple(entry.replicas for entry in stabilized.history) == case.expected_kept


# --- horizontal_test.go: TestScalingWithRules (rate limits and bounds, events spread uniformly) -------


@dataclass(frozen=True)
class RulesCase:
    name: str
    current: int
    desired: int
    min_replicas: int
    max_replicas: int
    expected: int
    condition: HpaCondition
    up_rules: HpaScalingRules | None = None
    down_rules: HpaScalingRules | None = None
    up_events: tuple[int, ...] = ()
    down_events: tuple[int, ...] = ()
    events_period: int = 120


RULES_CASES = [
    RulesCase("prenormalized desired replicas within range", 5, 7, 3, 8, 7, WITHIN),
    RulesCase("prenormalized desired replicas < minReplicas", 3, 1, 2, 8, 2, TOO_FEW),
    RulesCase("prenormalized desired replicas within range when minReplicas is 0", 1, 0, 0, 10, 0, WITHIN),
    RulesCase("maxReplicas is the limit because maxReplicas < scaleUpLimit", 20, 1000, 1, 10, 10, TOO_MANY),
    RulesCase(
        "desired replica count is more than the maximum replica count", 100, 1000, 100, 150, 150, TOO_MANY
    ),
    RulesCase(
        "scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies",
        3,
        1000,
        1,
        2000,
        4,
        UP_LIMIT,
        up_rules=R(0, 0, 1, 60, 0),
    ),
    RulesCase("scaleUp with default behavior", 10, 50, 1, 1000, 20, UP_LIMIT),
    RulesCase(
        "scaleUp with pods policy larger than percent policy",
        10,
        500,
        1,
        1000,
        110,
        UP_LIMIT,
        up_rules=R(100, 60, 100, 60, 0),
    ),
    RulesCase(
        "scaleUp with percent policy larger than pods policy",
        10,
        500,
        1,
        1000,
        20,
        UP_LIMIT,
        up_rules=R(2, 60, 100, 60, 0),
    ),
    RulesCase(
        "scaleUp with spec MaxReplicas limitation with large pod policy",
        10,
        50,
        1,
        1000,
        50,
        WITHIN,
        up_rules=R(100, 60, 0, 0, 0),
    ),
    RulesCase(
        "scaleUp with spec MaxReplicas limitation with large percent policy",
        10,
        50,
        1,
        1000,
        50,
        WITHIN,
        up_rules=R(10000, 60, 0, 0, 0),
    ),
    RulesCase(
        "scaleUp with pod policy limitation", 10, 50, 1, 1000, 40, UP_LIMIT, up_rules=R(30, 60, 0, 0, 0)
    ),
    RulesCase(
        "scaleUp with percent policy limitation", 10, 50, 1, 1000, 30, UP_LIMIT, up_rules=R(0, 0, 200, 60, 0)
    ),
    RulesCase(
        "scaleDown with percent policy larger than pod policy",
        100,
        2,
        1,
        1000,
        80,
        DOWN_LIMIT,
        down_rules=R(20, 60, 1, 60, 300),
    ),
    RulesCase(
        "scaleDown with pod policy larger than percent policy",
        100,
        2,
        1,
        1000,
        98,
        DOWN_LIMIT,
        down_rules=R(2, 60, 1, 60, 300),
    ),
    RulesCase(
        "scaleDown with spec MinReplicas limitation with large pod policy",
        10,
        0,
        1,
        1000,
        1,
        TOO_FEW,
        down_rules=R(100, 60, 0, 0, 300),
    ),
    RulesCase(
        "scaleDown with spec MinReplicas limitation with large percent policy",
        10,
        2,
        5,
        1000,
        5,
        TOO_FEW,
        down_rules=R(0, 0, 100, 60, 300),
    ),
    RulesCase(
        "scaleDown with pod policy limitation", 10, 2, 1, 1000, 5, DOWN_LIMIT, down_rules=R(5, 60, 0, 0, 300)
    ),
    RulesCase(
        "scaleDown with percent policy limitation", 10, 5, 1, 1000, 5, WITHIN, down_rules=R(0, 0, 50, 60, 300)
    ),
    RulesCase(
        "scaleUp with spec MaxReplicas limitation with large pod policy and events",
        100,
        500,
        1,
        200,
        200,
        TOO_MANY,
        up_rules=R(300, 60, 0, 0, 0),
        up_events=(1, 5, 9),
    ),
    RulesCase(
        "scaleUp with spec MaxReplicas limitation with large percent policy and events",
        100,
        500,
        1,
        200,
        200,
        TOO_MANY,
        up_rules=R(0, 0, 10000, 60, 0),
        up_events=(1, 5, 9),
    ),
    RulesCase(
        "scaleUp with currentReplicas limitation with rate.PeriodSeconds"
        " with a lot of recent scale up events",
        100,
        500,
        1,
        1000,
        100,
        UP_LIMIT,
        up_rules=R(5, 120, 0, 0, 0),
        up_events=(1, 5, 9),
    ),
    RulesCase(
        "scaleUp with pod policy and previous scale up events",
        100,
        500,
        1,
        1000,
        235,
        UP_LIMIT,
        up_rules=R(150, 120, 0, 0, 0),
        up_events=(1, 5, 9),
    ),
    RulesCase(
        "scaleUp with percent policy and previous scale up events",
        100,
        500,
        1,
        1000,
        255,
        UP_LIMIT,
        up_rules=R(0, 0, 200, 120, 0),
        up_events=(1, 5, 9),
    ),
    RulesCase(
        "scaleUp with percent policy and previous scale up and down events",
        6,
        24,
        1,
        1000,
        16,
        UP_LIMIT,
        up_rules=R(0, 0, 300, 300, 0),
        up_events=(4,),
        down_events=(2,),
    ),
    RulesCase(
        "scaleDown with default policy and previous events", 10, 5, 1, 1000, 5, WITHIN, down_events=(1, 5, 9)
    ),
    RulesCase(
        "scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events",
        100,
        0,
        1,
        1000,
        1,
        TOO_FEW,
        down_rules=R(115, 120, 0, 0, 300),
        down_events=(1, 5, 9),
    ),
    RulesCase(
        "scaleDown with spec MinReplicas limitation with large pod policy and previous events",
        100,
        0,
        5,
        1000,
        5,
        TOO_FEW,
        down_rules=R(130, 120, 0, 0, 300),
        down_events=(1, 5, 9),
    ),
    RulesCase(
        "scaleDown with spec MinReplicas limitation with large percent policy and previous events",
        100,
        2,
        5,
        1000,
        5,
        TOO_FEW,
        down_rules=R(0, 0, 100, 120, 300),
        down_events=(1, 5, 9),
    ),
    RulesCase(
        "scaleDown with pod policy limitation and previous events",
        100,
        2,
        1,
        1000,
        100,
        DOWN_LIMIT,
        down_rules=R(5, 120, 0, 0, 300),
        down_events=(1, 5, 9),
    ),
    RulesCase(
        "scaleDown with percent policy limitation and previous events",
        100,
        0,
        1,
        1000,
        56,
        DOWN_LIMIT,
        down_rules=R(0, 0, 50, 120, 300),
        down_events=(2, 4, 6),
    ),
    RulesCase(
        "scaleDown with percent policy and previous scale up and down events",
        10,
        1,
        1,
        1000,
        6,
        DOWN_LIMIT,
        down_rules=R(0, 0, 50, 180, 0),
        up_events=(2,),
        down_events=(4,),
    ),
    RulesCase(
        "scaleDown with previous events preventing further scale down",
        100,
        0,
        1,
        1000,
        100,
        DOWN_LIMIT,
        down_rules=R(0, 0, 10, 120, 300),
        down_events=(10, 10, 10),
    ),
    RulesCase(
        "scaleDown with with previous events still allowing more scale down",
        10,
        5,
        1,
        1000,
        5,
        WITHIN,
        down_rules=R(0, 0, 1000, 120, 300),
        down_events=(10, 10, 10),
    ),
    RulesCase(
        "check 'outdated' flag for events for one behavior for up",
        100,
        200,
        1,
        1000,
        200,
        WITHIN,
        up_rules=R(1000, 60, 0, 0, 0),
        up_events=(8, 12, 9, 11),
    ),
    RulesCase(
        "check that events were not marked 'outdated' for two different policies in the behavior for up",
        100,
        200,
        1,
        1000,
        200,
        WITHIN,
        up_rules=R(1000, 120, 100, 60, 0),
        up_events=(8, 12, 9, 11),
    ),
    RulesCase(
        "check that events were marked 'outdated' for two different policies in the behavior for up",
        100,
        200,
        1,
        1000,
        200,
        WITHIN,
        up_rules=R(1000, 30, 100, 60, 0),
        up_events=(8, 12, 9, 11),
    ),
    RulesCase(
        "check 'outdated' flag for events for one behavior for down",
        100,
        5,
        1,
        1000,
        5,
        WITHIN,
        down_rules=R(1000, 60, 0, 0, 300),
        down_events=(8, 12, 9, 11),
    ),
    RulesCase(
        "check that events were not marked 'outdated' for two different policies in the behavior for down",
        100,
        5,
        1,
        1000,
        5,
        WITHIN,
        down_rules=R(1000, 120, 100, 60, 300),
        down_events=(8, 12, 9, 11),
    ),
    RulesCase(
        "check that events were marked 'outdated' for two different policies in the behavior for down",
        100,
        5,
        1,
        1000,
        5,
        WITHIN,
        down_rules=R(1000, 30, 100, 60, 300),
        down_events=(8, 12, 9, 11),
    ),
]


@pytest.mark.parametrize("case", RULES_CASES, ids=lambda case: case.name)
def test_scaling_with_rules(case: RulesCase) -> None:
    up_rules, down_rules = effective_rules(
        HpaBehavior(scale_up=case.up_rules, scale_down=case.down_rules), 300
    )
    up_events = uniform_events(list(case.up_events), case.events_period) if case.up_events else ()
    down_events = uniform_events(list(case.down_events), case.events_period) if case.down_events else ()

    limited = limit_with_behavior(
        case.desired,
        case.current,
        min_replicas=case.min_replicas,
        max_replicas=case.max_replicas,
        up_rules=up_rules,
        down_rules=down_rules,
        up_events=up_events,
        down_events=down_events,
        now=NOW,
    )

    assert (limited.replicas, limited.condition) == (case.expected, case.condition)


# --- horizontal_test.go: TestStoreScaleEvents -------------------------------------------------------------


@dataclass(frozen=True)
class StoreCase:
    name: str
    previous: tuple[tuple[int, int], ...]
    """(change, seconds ago)."""
    rules: HpaScalingRules | None
    expected_change_in_60s: int
    expected_live: tuple[int, ...] = field(default=())
    """Changes of the events, slot by slot, after storing a change of 5, as upstream keeps them."""


STORE_CASES = [
    StoreCase("empty entries with default behavior", (), None, 0),
    StoreCase("empty entries with two-policy-behavior", (), R(10, 60, 100, 60, 0), 0, (5,)),
    # Without behavior upstream leaves the old event untouched and stores nothing; ebb keeps no
    # events at all for an HPA that never reads them.
    StoreCase("one outdated entry to be kept untouched without behavior", ((7, 61),), None, 0),
    StoreCase("one outdated entry to be replaced with behavior", ((7, 61),), R(10, 60, 100, 60, 0), 0, (5,)),
    StoreCase(
        "one actual entry to be not touched with behavior", ((7, 58),), R(10, 60, 100, 60, 0), 7, (7, 5)
    ),
    StoreCase("two entries, one of them to be replaced", ((7, 61), (6, 59)), R(10, 60, 0, 0, 0), 6, (5, 6)),
    # 7 and 9 are outdated; 5 takes the last outdated slot, 7 stays (marked outdated upstream).
    StoreCase(
        "replace one entry, use policies with different periods",
        ((8, 29), (6, 59), (7, 61), (9, 61)),
        R(10, 60, 100, 30, 0),
        14,
        (8, 6, 7, 5),
    ),
    StoreCase("two entries, both actual", ((7, 58), (6, 59)), R(10, 120, 100, 30, 0), 13, (7, 6, 5)),
]


@pytest.mark.parametrize("case", STORE_CASES, ids=lambda case: case.name)
@pytest.mark.parametrize("direction", ["up", "down"])
def test_store_scale_events(case: StoreCase, direction: str) -> None:
    previous = tuple(ScaleEvent(at=ago(seconds), change=change) for change, seconds in case.previous)
    behavior = None
    if case.rules is not None:
        behavior = (
            HpaBehavior(scale_up=case.rules) if direction == "up" else HpaBehavior(scale_down=case.rules)
        )
    memory = HpaMemory((), previous, ()) if direction == "up" else HpaMemory((), (), previous)

    assert replicas_changed_within(previous, 60, NOW) == case.expected_change_in_60s

    stored = store_scale_event(HpaSpec(1, 100, behavior), memory, 10, 15 if direction == "up" else 5, NOW)

    events = stored.scale_up_events if direction == "up" else stored.scale_down_events
    assert tuple(event.change for event in events) == case.expected_live
