"""Properties of `decide_replicas` over generated policies, metrics, replicas and states.

* Bounds: outside a pause the result is 0 (when `minReplicaCount` is 0), the idle count, or in
  `[max(minReplicaCount, 1), maxReplicaCount]` (KEDA itself leaves a target below its minimum
  while a trigger fails or scale-out is paused, so the KEDA-exact mode may too).
* Purity and idempotence: the same inputs give the same result, and a decision that keeps the
  replicas keeps them when taken again with its own state.
* Monotonicity: more messages never mean fewer replicas (with consistent replica counts; the HPA
  itself is not monotonic when spec, status and ready counts disagree).
* Failures: a failed metric never lowers the replicas, except to what a fallback defines.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ebb.core.replicas import (
    CloudWatchResult,
    CloudWatchTrigger,
    Fallback,
    FallbackBehavior,
    HpaBehavior,
    HpaScalingPolicy,
    HpaScalingRules,
    MetricFailure,
    MetricTargetType,
    Observation,
    Recommendation,
    ReplicaCounts,
    ScaleEvent,
    ScalerPolicy,
    ScalerState,
    ScalingPolicyType,
    SelectPolicy,
    SqsQueueTrigger,
    Trigger,
    decide_replicas,
)
from ebb.core.replicas.fallback import fallback_replicas
from ebb.core.replicas.metrics import cloudwatch_query_window

from .replicas_testkit import NOW, cloudwatch, counts, sqs

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

metric_types = st.sampled_from(list(MetricTargetType))

sqs_triggers = st.builds(
    SqsQueueTrigger,
    name=st.just("placeholder"),
    metric_type=metric_types,
    queue_length=st.integers(1, 20),
    activation_queue_length=st.integers(0, 5),
    scale_on_in_flight=st.booleans(),
    scale_on_delayed=st.booleans(),
)
cloudwatch_triggers = st.builds(
    CloudWatchTrigger,
    name=st.just("placeholder"),
    metric_type=metric_types,
    target_metric_value=st.floats(0.5, 50, allow_nan=False),
    activation_target_metric_value=st.floats(0, 5, allow_nan=False),
    min_metric_value=st.floats(0, 3, allow_nan=False),
    ignore_null_values=st.booleans(),
    metric_collection_time=st.just(300),
    metric_stat_period=st.sampled_from([60, 300]),
)
scaling_rules = st.builds(
    HpaScalingRules,
    stabilization_window_seconds=st.none() | st.integers(0, 600),
    select_policy=st.none() | st.sampled_from(list(SelectPolicy)),
    policies=st.none()
    | st.lists(
        st.builds(
            HpaScalingPolicy,
            type=st.sampled_from(list(ScalingPolicyType)),
            value=st.integers(1, 200),
            period_seconds=st.integers(1, 120),
        ),
        min_size=1,
        max_size=2,
    ).map(tuple),
)
behaviors = st.none() | st.builds(
    HpaBehavior, scale_up=st.none() | scaling_rules, scale_down=st.none() | scaling_rules
)
fallbacks = st.none() | st.builds(
    Fallback,
    failure_threshold=st.integers(0, 3),
    replicas=st.integers(0, 12),
    behavior=st.sampled_from(list(FallbackBehavior)),
)


@st.composite
def policies(draw: st.DrawFn, *, paused: bool = False) -> ScalerPolicy:
    minimum = draw(st.integers(0, 4))
    maximum = draw(st.integers(max(minimum, 1), minimum + 20))
    idle = draw(st.none() | st.just(0)) if minimum > 0 else None
    triggers = draw(st.lists(sqs_triggers | cloudwatch_triggers, min_size=1, max_size=3))
    named: list[Trigger] = [
        trigger.model_copy(update={"name": f"t{index}"}) for index, trigger in enumerate(triggers)
    ]
    return ScalerPolicy(
        name="generated",
        min_replica_count=minimum,
        max_replica_count=maximum,
        idle_replica_count=idle,
        cooldown_period=draw(st.integers(0, 600)),
        initial_cooldown_period=draw(st.integers(0, 120)),
        fallback=draw(fallbacks),
        behavior=draw(behaviors),
        triggers=tuple(named),
        paused=paused and draw(st.booleans()),
        paused_scale_in=draw(st.booleans()) if draw(st.integers(0, 9)) == 0 else False,
        paused_scale_out=draw(st.booleans()) if draw(st.integers(0, 9)) == 0 else False,
        keda_exact=draw(st.booleans()),
    )


@st.composite
def observation_for(draw: st.DrawFn, trigger: Trigger, *, may_fail: bool = True) -> Observation:
    if may_fail and draw(st.integers(0, 5)) == 0:
        return MetricFailure(reason="generated failure")
    if isinstance(trigger, SqsQueueTrigger):
        return sqs(draw(st.integers(0, 200)), draw(st.integers(0, 40)), draw(st.integers(0, 40)))
    if draw(st.integers(0, 6)) == 0:
        return CloudWatchResult(datapoints=None)
    start, _ = cloudwatch_query_window(NOW, trigger.metric_stat_period, 0, trigger.metric_collection_time)
    return cloudwatch((start, draw(st.floats(0, 500, allow_nan=False))))


@st.composite
def observations_for(
    draw: st.DrawFn, policy: ScalerPolicy, *, may_fail: bool = True
) -> dict[str, Observation]:
    return {trigger.name: draw(observation_for(trigger, may_fail=may_fail)) for trigger in policy.triggers}


def _ago(seconds: int) -> st.SearchStrategy[int]:
    return st.integers(0, seconds)


@st.composite
def states(draw: st.DrawFn, policy: ScalerPolicy) -> ScalerState | None:
    if draw(st.integers(0, 4)) == 0:
        return None
    recommendations = draw(
        st.none()
        | st.lists(
            st.builds(
                Recommendation,
                at=_ago(900).map(lambda s: NOW - timedelta(seconds=s)),
                replicas=st.integers(0, 30),
            ),
            max_size=8,
        ).map(tuple)
    )
    events = st.lists(
        st.builds(
            ScaleEvent, at=_ago(300).map(lambda s: NOW - timedelta(seconds=s)), change=st.integers(1, 10)
        ),
        max_size=4,
    ).map(tuple)
    names = [trigger.name for trigger in policy.triggers]
    return ScalerState(
        created_at=NOW - timedelta(seconds=draw(_ago(3600))),
        last_active_at=draw(st.none() | _ago(1200).map(lambda s: NOW - timedelta(seconds=s))),
        recommendations=recommendations,
        scale_up_events=draw(events),
        scale_down_events=draw(events),
        consecutive_failures=draw(
            st.dictionaries(st.sampled_from(names), st.integers(1, 5), max_size=len(names))
        ),
    )


consistent_counts = st.integers(0, 30).map(counts)


def _allowed(policy: ScalerPolicy, desired: int, current: int, any_failure: bool) -> bool:
    if (
        desired == current < policy.hpa_min_replicas
        and policy.keda_exact
        and (policy.paused_scale_out or any_failure)
    ):
        # KEDA (not ebb) leaves a target below its minimum while a trigger fails or scale-out is paused.
        return True
    if desired == 0 and policy.min_replica_count == 0:
        return True
    if desired == policy.idle_replica_count:
        return True
    return policy.hpa_min_replicas <= desired <= policy.max_replica_count


@PROPERTY_SETTINGS
@given(data=st.data())
def test_desired_replicas_stay_within_bounds(data: st.DataObject) -> None:
    policy = data.draw(policies())
    replicas = data.draw(
        st.builds(ReplicaCounts, spec=st.integers(0, 40), status=st.integers(0, 40), ready=st.integers(0, 40))
    )

    observations = data.draw(observations_for(policy))
    any_failure = any(isinstance(observation, MetricFailure) for observation in observations.values())

    decision = decide_replicas(policy, observations, replicas, data.draw(states(policy)), NOW)

    assert _allowed(policy, decision.desired_replicas, replicas.spec, any_failure), str(decision.explanation)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_same_inputs_same_decision_and_a_kept_count_is_kept(data: st.DataObject) -> None:
    policy = data.draw(policies(paused=True))
    observations = data.draw(observations_for(policy, may_fail=False))
    replicas = data.draw(consistent_counts)
    state = data.draw(states(policy))

    first = decide_replicas(policy, observations, replicas, state, NOW)
    again = decide_replicas(policy, observations, replicas, state, NOW)

    assert again == first
    if first.desired_replicas == replicas.spec:
        repeated = decide_replicas(policy, observations, replicas, first.state, NOW)
        assert repeated.desired_replicas == replicas.spec, str(repeated.explanation)


@PROPERTY_SETTINGS
@given(data=st.data(), more=st.integers(1, 200))
def test_more_messages_never_mean_fewer_replicas(data: st.DataObject, more: int) -> None:
    policy = data.draw(policies())
    # KEDA raises a target at zero to its minimum when inactive but not when active with scale-out
    # paused: not monotonic, and one of the differences ebb's own mode removes.
    assume(not (policy.keda_exact and policy.paused_scale_out))
    queue = SqsQueueTrigger(
        name="t0", queue_length=data.draw(st.integers(1, 20)), metric_type=data.draw(metric_types)
    )
    policy = policy.model_copy(update={"triggers": (queue, *policy.triggers[1:])})
    observations = data.draw(observations_for(policy))
    visible = data.draw(st.integers(0, 200))
    replicas = data.draw(consistent_counts)
    state = data.draw(states(policy))

    fewer = decide_replicas(policy, observations | {"t0": sqs(visible)}, replicas, state, NOW)
    larger = decide_replicas(policy, observations | {"t0": sqs(visible + more)}, replicas, state, NOW)

    assert fewer.desired_replicas <= larger.desired_replicas, f"{fewer.explanation}\n{larger.explanation}"


@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_failed_metric_never_scales_down_except_to_a_fallback(data: st.DataObject) -> None:
    policy = data.draw(policies())
    observations = data.draw(observations_for(policy))
    failing = data.draw(st.sampled_from([trigger.name for trigger in policy.triggers]))
    observations[failing] = MetricFailure(reason="generated failure")
    replicas = data.draw(consistent_counts.filter(lambda c: c.spec <= policy.max_replica_count))
    fallback = policy.fallback
    if fallback is not None and fallback.replicas == 0:
        # KEDA lets a scaler with fallback replicas 0 go to zero while failing: the fallback defines it.
        return

    decision = decide_replicas(policy, observations, replicas, data.draw(states(policy)), NOW)

    floor = replicas.spec
    if fallback is not None:
        floor = min(floor, fallback_replicas(fallback, replicas.spec))
    assert decision.desired_replicas >= floor, str(decision.explanation)
