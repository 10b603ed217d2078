"""A validated ScaledObject becomes the replica core's ScalerPolicy, field for field.

The mapping is where KEDA's manifest (string metadata, camelCase, annotations) meets the core's
typed policy; these tests pin that each user-visible field reaches the decision.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ebb.config import EbbConfig, ScaledObject, load_config_text
from ebb.config.replica_policy import scaler_policy
from ebb.core.replicas import decide_replicas
from ebb.core.replicas.observations import ReplicaCounts, SqsQueueAttributes
from ebb.core.replicas.policy import (
    CloudWatchTrigger,
    FallbackBehavior,
    MetricTargetType,
    ScalingPolicyType,
    SelectPolicy,
    SqsQueueTrigger,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _load(docs: Any) -> EbbConfig:
    return load_config_text(docs.text())


def _scaled_object(config: EbbConfig, namespace: str, name: str) -> ScaledObject:
    found = config.scaled_object(namespace, name)
    assert found is not None
    return found


def test_the_sqs_example_maps_to_its_policy(docs: Any) -> None:
    config = _load(docs)
    policy = scaler_policy(_scaled_object(config, "batch", "batch-worker"))

    assert policy.name == "batch/batch-worker"
    assert (policy.min_replica_count, policy.max_replica_count, policy.cooldown_period) == (0, 8, 300)
    assert policy.behavior is None  # no `behavior`: KEDA's HPA runs the legacy normalization
    assert policy.triggers == (
        SqsQueueTrigger(name="s0-aws-sqs-queue", queue_length=2, activation_queue_length=0),
    )


def test_the_alb_example_keeps_both_triggers_and_the_behavior(docs: Any) -> None:
    config = _load(docs)
    policy = scaler_policy(_scaled_object(config, "serving", "llm-inference"))

    requests, wake = policy.triggers
    assert isinstance(requests, CloudWatchTrigger)
    assert isinstance(wake, CloudWatchTrigger)
    assert (requests.name, requests.target_metric_value, requests.metric_stat_period) == (
        "requests-per-target",
        300.0,
        60,
    )
    assert (wake.name, wake.target_metric_value, wake.activation_target_metric_value) == (
        "wake-on-503",
        100000.0,
        0.0,
    )
    assert requests.metric_type is MetricTargetType.VALUE  # a per-target metric scales with ready pods
    assert wake.metric_type is MetricTargetType.AVERAGE_VALUE
    assert policy.behavior is not None
    assert policy.behavior.scale_up is None
    scale_down = policy.behavior.scale_down
    assert scale_down is not None
    assert scale_down.stabilization_window_seconds == 600
    assert scale_down.select_policy is None  # left for the core to default, as the HPA does
    assert scale_down.policies is not None
    assert [(p.type, p.value, p.period_seconds) for p in scale_down.policies] == [
        (ScalingPolicyType.PODS, 1, 120)
    ]


def test_annotations_fallback_and_selected_policy_reach_the_core(docs: Any) -> None:
    # KEDA's annotations (keda.sh docs, "Pause autoscaling" and "Activating and scaling thresholds").
    llm = docs.of_kind("ScaledObject", "llm-inference")
    llm["metadata"]["annotations"] = {
        "autoscaling.keda.sh/paused-scale-in": "true",
        "autoscaling.keda.sh/paused-scale-out": "false",
        "autoscaling.keda.sh/force-activation": "true",
        "autoscaling.keda.sh/paused-replicas": "3",
    }
    llm["spec"]["fallback"] = {"failureThreshold": 3, "replicas": 2, "behavior": "currentReplicasIfHigher"}
    llm["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["selectPolicy"] = "Min"
    config = _load(docs)

    policy = scaler_policy(_scaled_object(config, "serving", "llm-inference"), keda_exact=True)

    assert (policy.paused_scale_in, policy.paused_scale_out, policy.force_activation) == (True, False, True)
    assert policy.paused_replicas == 3
    assert policy.fallback is not None
    assert policy.fallback.behavior is FallbackBehavior.CURRENT_REPLICAS_IF_HIGHER
    assert policy.behavior is not None
    assert policy.behavior.scale_down is not None
    assert policy.behavior.scale_down.select_policy is SelectPolicy.MIN
    assert policy.keda_exact is True


def test_keda_exact_is_a_per_scaler_setting_in_the_binding(docs: Any) -> None:
    binding = docs.of_kind("ClusterBinding")
    binding["spec"]["scalers"][0]["kedaExact"] = True
    config = _load(docs)

    flags = {entry.scaled_object.qualified_name: entry.keda_exact for entry in config.binding.spec.scalers}

    assert sorted(flags.values()) == [False, True]


def test_the_mapped_policy_decides_like_keda_from_zero(docs: Any) -> None:
    # KEDA activates from zero to max(minReplicaCount, 1) when the queue is above
    # activationQueueLength (keda.sh docs, "Scaling Deployments": activation phase); in KEDA-exact
    # mode the HPA's own step waits for its next sync.
    config = _load(docs)
    policy = scaler_policy(_scaled_object(config, "batch", "batch-worker"), keda_exact=True)
    queue = SqsQueueAttributes(
        attributes={"ApproximateNumberOfMessages": "9", "ApproximateNumberOfMessagesNotVisible": "0"}
    )

    decision = decide_replicas(
        policy, {"s0-aws-sqs-queue": queue}, ReplicaCounts(spec=0, status=0, ready=0), None, NOW
    )

    assert decision.desired_replicas == 1


SCALER_FIELDS = {
    ("spec", "minReplicaCount"): st.integers(-1, 20),
    ("spec", "maxReplicaCount"): st.integers(-1, 20),
    ("spec", "idleReplicaCount"): st.integers(-1, 5),
    ("spec", "cooldownPeriod"): st.integers(-1, 4000),
    ("spec", "initialCooldownPeriod"): st.integers(-1, 4000),
    ("spec", "fallback"): st.fixed_dictionaries(
        {"failureThreshold": st.integers(-1, 5), "replicas": st.integers(-1, 20)}
    ),
}
TRIGGER_FIELDS = {
    "targetMetricValue": st.sampled_from(["0", "0.0001", "0.001", "1", "300", "-5", "1e3"]),
    "activationTargetMetricValue": st.sampled_from(["0", "-1", "2.5", "1e9"]),
    "metricStatPeriod": st.sampled_from(["1", "5", "25", "60", "120", "250", "300"]),
    "metricCollectionTime": st.sampled_from(["0", "60", "120", "300", "100", "3600"]),
    "metricEndTimeOffset": st.sampled_from(["0", "30", "-1"]),
}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_scaled_object_the_config_accepts_is_a_valid_core_policy(make_docs: Any, data: Any) -> None:
    # What `ebb validate` accepts must never be refused later by the core's own validators.
    docs = make_docs()
    llm = docs.of_kind("ScaledObject", "llm-inference")
    for (section, field), strategy in data.draw(
        st.lists(st.sampled_from(list(SCALER_FIELDS.items())), max_size=3, unique_by=lambda item: item[0])
    ):
        llm[section][field] = data.draw(strategy)
    metadata = llm["spec"]["triggers"][0]["metadata"]
    for field, strategy in data.draw(
        st.lists(st.sampled_from(list(TRIGGER_FIELDS.items())), max_size=3, unique_by=lambda item: item[0])
    ):
        metadata[field] = data.draw(strategy)
    result = docs.check()
    if result.config is None:
        return
    for scaled_object in result.config.scaled_objects:
        scaler_policy(scaled_object)
