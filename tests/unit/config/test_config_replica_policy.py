"""A validated ScaledObject becomes the replica core's ScalerPolicy, field for field.

The mapping is where KEDA's manifest (string metadata, camelCase, annotations) meets the core's
typed policy; these tests pin that each user-visible field reaches the decision.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ebb.config import EbbConfig, ScaledObject, load_config_text, summarize
from ebb.config.replica_policy import scaler_policy
from ebb.core.replicas import decide_replicas
from ebb.core.replicas.observations import (
    CloudWatchDatapoint,
    CloudWatchResult,
    Observation,
    ReplicaCounts,
    SqsQueueAttributes,
)
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
    policy = scaler_policy(config, _scaled_object(config, "batch", "batch-worker"))

    assert policy.name == "batch/batch-worker"
    assert (policy.min_replica_count, policy.max_replica_count, policy.cooldown_period) == (0, 8, 300)
    assert policy.behavior is None  # no `behavior`: KEDA's HPA runs the legacy normalization
    assert policy.triggers == (
        SqsQueueTrigger(name="s0-aws-sqs-queue", queue_length=2, activation_queue_length=0),
    )


def test_the_alb_example_keeps_both_triggers_and_the_behavior(docs: Any) -> None:
    config = _load(docs)
    policy = scaler_policy(config, _scaled_object(config, "serving", "llm-inference"))

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

    policy = scaler_policy(config, _scaled_object(config, "serving", "llm-inference"))

    assert (policy.paused_scale_in, policy.paused_scale_out, policy.force_activation) == (True, False, True)
    assert policy.paused_replicas == 3
    assert policy.fallback is not None
    assert policy.fallback.behavior is FallbackBehavior.CURRENT_REPLICAS_IF_HIGHER
    assert policy.behavior is not None
    assert policy.behavior.scale_down is not None
    assert policy.behavior.scale_down.select_policy is SelectPolicy.MIN


def test_the_policy_takes_keda_exact_from_the_binding(docs: Any) -> None:
    # `kedaExact` lives in the ClusterBinding, not in the ScaledObject: the policy must carry it
    # without the caller having to pass it (a forgotten flag would silently change semantics).
    docs.binding["spec"]["scalers"][0]["kedaExact"] = True  # serving/llm-inference
    config = _load(docs)

    flags = {so.qualified_name: scaler_policy(config, so).keda_exact for so in config.scaled_objects}

    assert flags == {"serving/llm-inference": True, "batch/batch-worker": False}


def test_a_scaled_object_from_elsewhere_has_no_policy_here(docs: Any, make_docs: Any) -> None:
    config = _load(docs)
    other = make_docs()
    other.llm["spec"]["maxReplicaCount"] = 3
    stranger = _scaled_object(_load(other), "serving", "llm-inference")

    with pytest.raises(ValueError, match=r"^ScaledObject serving/llm-inference is not part of this config"):
        scaler_policy(config, stranger)


def test_the_mapped_policy_decides_like_keda_from_zero(docs: Any) -> None:
    # KEDA activates from zero to max(minReplicaCount, 1) when the queue is above
    # activationQueueLength (keda.sh docs, "Scaling Deployments": activation phase); in KEDA-exact
    # mode the HPA's own step waits for its next sync.
    docs.binding["spec"]["scalers"][1]["kedaExact"] = True  # batch/batch-worker
    config = _load(docs)
    policy = scaler_policy(config, _scaled_object(config, "batch", "batch-worker"))
    queue = SqsQueueAttributes(
        attributes={"ApproximateNumberOfMessages": "9", "ApproximateNumberOfMessagesNotVisible": "0"}
    )

    decision = decide_replicas(
        policy, {"s0-aws-sqs-queue": queue}, ReplicaCounts(spec=0, status=0, ready=0), None, NOW
    )

    assert decision.desired_replicas == 1


def test_a_negative_activation_queue_length_is_always_active(docs: Any) -> None:
    # activationQueueLength is an int64 with no further check in KEDA, and the scaler is active when
    # the queue length is strictly above it (kedacore/keda pkg/scalers/aws_sqs_queue_scaler.go,
    # GetMetricsAndActivity: `queuelen > s.metadata.ActivationQueueLength`): an empty queue activates.
    docs.sqs_metadata["activationQueueLength"] = "-1"
    config = _load(docs)
    policy = scaler_policy(config, _scaled_object(config, "batch", "batch-worker"))
    empty = SqsQueueAttributes(
        attributes={"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    )

    decision = decide_replicas(
        policy, {"s0-aws-sqs-queue": empty}, ReplicaCounts(spec=0, status=0, ready=0), None, NOW
    )

    assert decision.desired_replicas == 1


def test_a_queue_length_above_2_to_the_53_reaches_the_core(docs: Any) -> None:
    docs.sqs_metadata["queueLength"] = str(2**53 + 1)
    config = _load(docs)

    (trigger,) = scaler_policy(config, _scaled_object(config, "batch", "batch-worker")).triggers

    assert isinstance(trigger, SqsQueueTrigger)
    assert trigger.queue_length == 2**53 + 1


def test_the_core_judges_datapoints_against_the_public_query_window(docs: Any) -> None:
    # One window for the metric reader and the core: KEDA's computeQueryWindow (kedacore/keda
    # pkg/scalers/aws_cloudwatch_scaler.go), [now - offset truncated to the period - collection, end).
    docs.requests_metadata["metricEndTimeOffset"] = "60"
    config = _load(docs)
    policy = scaler_policy(config, _scaled_object(config, "serving", "llm-inference"))
    requests = policy.triggers[0]
    assert isinstance(requests, CloudWatchTrigger)
    now = datetime(2026, 11, 29, 12, 0, 42, tzinfo=UTC)

    window = requests.query_window(now)

    # metricCollectionTime 300 and metricStatPeriod 60 in the example.
    assert window == (datetime(2026, 11, 29, 11, 54, tzinfo=UTC), datetime(2026, 11, 29, 11, 59, tzinfo=UTC))
    last_inside = CloudWatchDatapoint(timestamp=window.end - timedelta(microseconds=1), value=900.0)
    at_the_end = CloudWatchDatapoint(timestamp=window.end, value=5.0)
    for points, value in (((last_inside, at_the_end), 900.0), ((at_the_end,), 0.0)):
        observations: dict[str, Observation] = {
            "requests-per-target": CloudWatchResult(datapoints=points),
            "wake-on-503": CloudWatchResult(datapoints=()),
        }
        decision = decide_replicas(policy, observations, ReplicaCounts(spec=1, status=1, ready=1), None, now)
        report = next(r for r in decision.explanation.triggers if r.name == "requests-per-target")
        assert report.value == value  # 0.0 is minMetricValue: nothing inside the window


# --- what `ebb validate` accepts, the core accepts ------------------------------------------------
#
# Every numeric field over its whole range (and past it), in every spelling KEDA's parsers take:
# YAML integers for the ScaledObject's own fields (Kubernetes int32), Go `encoding/json` integers
# and numbers for trigger metadata (int64, float64: kedacore/keda pkg/scalers/scalersconfig/
# typed_config.go), Go `strconv.ParseBool` and `strconv.ParseInt` spellings for booleans and
# annotations (the same file, c90e20f4; apis/keda/v1alpha1/scaledobject_types.go).

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
YAML_INTS = st.one_of(
    st.integers(-3, 40),
    st.sampled_from([2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 3600, 3601, 1800, 1801]),
    st.integers(INT64_MIN - 1, INT64_MAX + 1),
)
INT_TEXTS = st.one_of(
    st.integers(-3, 700).map(str),
    st.integers(INT64_MIN - 10, INT64_MAX + 10).map(str),
    st.sampled_from(
        [
            "0", "-0", "1", "5", "60", "120", "300", "3600", str(2**53), str(2**53 + 1),
            str(INT64_MAX // 1000), str(INT64_MAX // 1000 + 1), str(INT64_MAX), str(INT64_MIN),
            str(10**9 * 9), "9223372036", "9223372037", " 7 ", "", "5.0", "+5", "05", "1e3", "0x10", "a",
        ]
    ),
)  # fmt: skip
FLOAT_TEXTS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(
        [
            "0", "-0", "0.0001", "0.0005", "0.001", "0.0015", "1", "-1.5", "300", "1e3", "1E-3", "1e308",
            "1e309", "-1e309", "1e-400", "9.2e15", "9.3e15", "1e300", ".5", "1.", "NaN", "Inf", "+1", "",
        ]
    ),
)  # fmt: skip
BOOL_TEXTS = st.sampled_from(
    ["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False", "yes", "tRUE", ""]
)
QUANTITY_TEXTS = st.sampled_from(["0", "0.1", "100m", "1", "1.5", "-0.1", "1e3", "x"])

SPEC_FIELDS: dict[str, Any] = {
    "minReplicaCount": YAML_INTS,
    "maxReplicaCount": YAML_INTS,
    "idleReplicaCount": YAML_INTS,
    "cooldownPeriod": YAML_INTS,
    "initialCooldownPeriod": YAML_INTS,
    "pollingInterval": YAML_INTS,
    "fallback": st.fixed_dictionaries({"failureThreshold": YAML_INTS, "replicas": YAML_INTS}),
}
ANNOTATIONS: dict[str, Any] = {
    "autoscaling.keda.sh/paused-replicas": INT_TEXTS,
    "autoscaling.keda.sh/paused": BOOL_TEXTS,
    "autoscaling.keda.sh/paused-scale-in": BOOL_TEXTS,
    "autoscaling.keda.sh/paused-scale-out": BOOL_TEXTS,
    "autoscaling.keda.sh/force-activation": BOOL_TEXTS,
}
SCALE_DOWN_FIELDS: dict[str, Any] = {
    "stabilizationWindowSeconds": YAML_INTS,
    "tolerance": QUANTITY_TEXTS,
    "policies": st.lists(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["Pods", "Percent"]), "value": YAML_INTS, "periodSeconds": YAML_INTS}
        ),
        max_size=2,
    ),
}
CLOUDWATCH_FIELDS: dict[str, Any] = {
    "targetMetricValue": FLOAT_TEXTS,
    "activationTargetMetricValue": FLOAT_TEXTS,
    "minMetricValue": FLOAT_TEXTS,
    "metricStatPeriod": INT_TEXTS,
    "metricCollectionTime": INT_TEXTS,
    "metricEndTimeOffset": INT_TEXTS,
    "ignoreNullValues": BOOL_TEXTS,
}
SQS_FIELDS: dict[str, Any] = {
    "queueLength": INT_TEXTS,
    "activationQueueLength": INT_TEXTS,
    "scaleOnInFlight": BOOL_TEXTS,
    "scaleOnDelayed": BOOL_TEXTS,
}


def _draw_into(data: Any, target: dict[str, Any], fields: dict[str, Any], drawn: set[str]) -> None:
    chosen = data.draw(st.lists(st.sampled_from(sorted(fields)), max_size=3, unique=True))
    for name in chosen:
        target[name] = data.draw(fields[name])
        drawn.add(name)


def _observations(config: EbbConfig, scaled_object: ScaledObject) -> dict[str, Observation]:
    # One real-shaped answer per trigger: a datapoint inside the trigger's own query window.
    policy = scaler_policy(config, scaled_object)
    observations: dict[str, Observation] = {}
    for trigger in policy.triggers:
        if trigger.type == "aws-sqs-queue":
            observations[trigger.name] = SqsQueueAttributes(
                attributes={name: str(2**62) for name in trigger.attribute_names}
            )
        else:
            window = trigger.query_window(NOW)
            point = CloudWatchDatapoint(timestamp=window.start, value=-1.5)
            inside = (point,) if window.contains(point.timestamp) else ()
            observations[trigger.name] = CloudWatchResult(datapoints=inside)
    return observations


def _names_a_drawn_field(issue: Any, drawn: set[str]) -> bool:
    return any(name in issue.path or name.lower() in issue.message.lower() for name in drawn)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_scaled_object_the_config_accepts_is_a_valid_core_policy(make_docs: Any, data: Any) -> None:
    # What `ebb validate` accepts must never be refused later by the core, in its policy or in a
    # decision; what it refuses, it refuses by naming the field.
    docs = make_docs()
    drawn: set[str] = set()
    llm, batch = docs.llm, docs.batch
    _draw_into(data, llm["spec"], SPEC_FIELDS, drawn)
    _draw_into(data, batch["spec"], SPEC_FIELDS, drawn)
    llm["metadata"]["annotations"] = {}
    _draw_into(data, llm["metadata"]["annotations"], ANNOTATIONS, drawn)
    scale_down = llm["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
    _draw_into(data, scale_down, SCALE_DOWN_FIELDS, drawn)
    _draw_into(data, docs.requests_metadata, CLOUDWATCH_FIELDS, drawn)
    _draw_into(data, docs.sqs_metadata, SQS_FIELDS, drawn)
    docs.binding["spec"]["scalers"][0]["kedaExact"] = data.draw(st.booleans())

    result = docs.check()

    if result.config is None:
        assert result.errors
        unexplained = [str(issue) for issue in result.errors if not _names_a_drawn_field(issue, drawn)]
        assert unexplained == [], f"drawn: {sorted(drawn)}"
        return
    config = result.config
    for scaled_object in config.scaled_objects:
        policy = scaler_policy(config, scaled_object)
        assert policy.keda_exact is config.scaler_binding(scaled_object).keda_exact
        decision = decide_replicas(
            policy, _observations(config, scaled_object), ReplicaCounts(spec=1, status=1, ready=1), None, NOW
        )
        assert decision.desired_replicas >= 0  # paused-replicas may hold any count, as in KEDA


def test_the_summary_names_the_account_a_metric_is_read_from(docs: Any) -> None:
    # awsAccountId (kedacore/keda pull request #7237): ebb validate says which account it reads.
    docs.requests_metadata["awsAccountId"] = "210987654321"
    config = _load(docs)

    (llm,) = [scaler for scaler in summarize(config).scalers if scaler.name == "serving/llm-inference"]

    assert "in account 210987654321" in llm.triggers[0].description
