"""At least twenty-five kinds of bad configuration, each with the exact message users see.

Every case breaks the shipped example (tests/unit/config/conftest.py) in one way and asserts the
complete list of errors, word for word. The comment above each case says where the rule comes from:
an upstream test or source (KEDA, Kubernetes, Karpenter, botocore service models, AWS docs), or
ebb's own rule.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from ebb.config import ConfigValidationError, load_config_text

Mutation = Callable[[Any], None]
CASES: list[Any] = []


def case(expected: list[str]) -> Callable[[Mutation], Mutation]:
    """Register a way to break the example and the errors it must produce."""

    def register(mutate: Mutation) -> Mutation:
        CASES.append(pytest.param(mutate, expected, id=mutate.__name__.replace("_", "-")))
        return mutate

    return register


# Kubernetes strict field validation refuses unknown fields; KEDA's field is minReplicaCount
# (apis/keda/v1alpha1/scaledobject_types.go)
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): spec.minReplicasCount: unknown "
        "field (did you mean 'minReplicaCount'?); allowed here: advanced, cooldownPeriod, fallback, "
        "idleReplicaCount, initialCooldownPeriod, maxReplicaCount, minReplicaCount, pollingInterval, "
        "scaleTargetRef, triggers",
    ]
)
def unknown_field_with_suggestion(d: Any) -> None:
    d.llm["spec"]["minReplicasCount"] = 1


# queueLength is an int64 (aws_sqs_queue_scaler.go awsSqsQueueMetadata); kedacore/keda
# pkg/scalers/scalersconfig/typed_config.go@0fd70bdc (metadata decoded with encoding/json)
@case(
    [
        "config.yaml: document 1 (ScaledObject batch/batch-worker): "
        "spec.triggers[0].metadata.queueLength: 'a' is not an integer; allowed: a whole number such as "
        '"5"',
    ]
)
def queue_length_not_an_integer(d: Any) -> None:
    d.sqs_metadata["queueLength"] = "a"


# A trigger in another region: the stack's CloudWatch client, its alarms and its IAM policy
# (sqs:GetQueueAttributes on arn:...:sqs:${AWS::Region}:...) are all of the stack's region.
@case(
    [
        "config.yaml: document 1 (ScaledObject batch/batch-worker): spec.triggers[0].metadata.awsRegion: "
        "eu-west-1 differs from the ClusterBinding's region us-east-1; ebb reads metrics and keeps its "
        "alarms in its own region only: deploy ebb in eu-west-1, or read a metric of us-east-1",
    ]
)
def trigger_in_another_region(d: Any) -> None:
    d.sqs_metadata.update(awsRegion="eu-west-1", queueURL="https://sqs.eu-west-1.amazonaws.com/1/jobs")


# ScaleTriggers.Metadata is map[string]string (kedacore/keda
# apis/keda/v1alpha1/scaletriggers_types.go@1a230280)
@case(
    [
        "config.yaml: document 1 (ScaledObject batch/batch-worker): spec.triggers[0].metadata.queueLength: "
        'must be a string (KEDA trigger metadata is a map of strings), got integer 5; quote it: "5"',
    ]
)
def metadata_value_not_a_string(d: Any) -> None:
    d.sqs_metadata["queueLength"] = 5


# HPA external metric targets must be positive (kubernetes pkg/apis/autoscaling/validation/validation.go,
# validateMetricTarget)
@case(
    [
        "config.yaml: document 1 (ScaledObject batch/batch-worker): "
        "spec.triggers[0].metadata.queueLength: must be > 0, got 0: it is the HPA's AverageValue target, "
        "which must be positive",
    ]
)
def queue_length_zero(d: Any) -> None:
    d.sqs_metadata["queueLength"] = "0"


# kedacore/keda pkg/scalers/aws_sqs_queue_scaler_test.go@10b51d5a, TestSQSParseMetadata, 'metadata empty'
@case(
    [
        "config.yaml: document 1 (ScaledObject batch/batch-worker): spec.triggers[0].metadata.queueURL: "
        "is required",
    ]
)
def queue_url_missing(d: Any) -> None:
    del d.sqs_metadata["queueURL"]


# kedacore/keda pkg/scalers/aws_sqs_queue_scaler_test.go@10b51d5a, TestSQSParseMetadata, 'improperly formed
# queue, missing queueName'
@case(
    [
        "config.yaml: document 1 (ScaledObject batch/batch-worker): spec.triggers[0].metadata.queueURL: "
        "cannot get queueName from queueURL 'https://sqs.eu-west-1.amazonaws.com/account_id'; allowed: "
        "https://sqs.<region>.amazonaws.com/<account>/<queue>, or a bare queue name",
    ]
)
def queue_url_without_queue_name(d: Any) -> None:
    d.sqs_metadata["queueURL"] = "https://sqs.eu-west-1.amazonaws.com/account_id"


# ebb rule: KEDA reads queueURLFromEnv from the target's container environment (resolvedEnv)
@case(
    [
        "config.yaml: document 1 (ScaledObject batch/batch-worker): spec.triggers[0].metadata: "
        "queueURLFromEnv is not supported: ebb does not see the target's container environment; put the "
        "queue URL in queueURL",
    ]
)
def queue_url_from_env(d: Any) -> None:
    del d.sqs_metadata["queueURL"]
    d.sqs_metadata["queueURLFromEnv"] = "QUEUE_URL"


# kedacore/keda pkg/scalers/aws_cloudwatch_scaler_test.go@1d2225bf, testAWSCloudwatchMetadata, 'properly
# formed cloudwatch query but Region is empty'
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.triggers[0].metadata.awsRegion: is required",
    ]
)
def aws_region_missing(d: Any) -> None:
    del d.requests_metadata["awsRegion"]


# kedacore/keda pkg/scalers/aws_cloudwatch_scaler_test.go@1d2225bf, testAWSCloudwatchMetadata, 'unsupported
# metricStatPeriod' (250)
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.triggers[0].metadata.metricStatPeriod: 250 is not allowed; allowed: 1, 5, 10, 30, 60 or a "
        "multiple of 60",
    ]
)
def metric_stat_period_250(d: Any) -> None:
    d.requests_metadata["metricStatPeriod"] = "250"


# kedacore/keda pkg/scalers/aws_cloudwatch_scaler_test.go@1d2225bf, testAWSCloudwatchMetadata, 'unsupported
# metricStatPeriod' (25)
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.triggers[0].metadata.metricStatPeriod: 25 is not allowed; allowed: 1, 5, 10, 30, 60 or a "
        "multiple of 60",
    ]
)
def metric_stat_period_25(d: Any) -> None:
    d.requests_metadata["metricStatPeriod"] = "25"


# kedacore/keda pkg/scalers/aws_cloudwatch_scaler_test.go@1d2225bf, testAWSCloudwatchMetadata,
# 'metricCollectionTime smaller than metricStatPeriod'; message of awsCloudwatchMetadata.Validate
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.triggers[0].metadata.metricCollectionTime: must be greater than 0 and a multiple of "
        "metricStatPeriod (300), 100 is given",
    ]
)
def collection_time_not_multiple(d: Any) -> None:
    d.requests_metadata["metricStatPeriod"] = "300"
    d.requests_metadata["metricCollectionTime"] = "100"


# kedacore/keda pkg/scalers/aws_cloudwatch_scaler_test.go@1d2225bf, testAWSCloudwatchMetadata, 'unsupported
# metricUnit'
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.triggers[0].metadata.metricUnit: 'Hour' is not a CloudWatch unit; allowed: Seconds, "
        "Microseconds, Milliseconds, Bytes, Kilobytes, Megabytes, Gigabytes, Terabytes, Bits, Kilobits, "
        "Megabits, Gigabits, Terabits, Percent, Count, Bytes/Second, Kilobytes/Second, Megabytes/Second, "
        "Gigabytes/Second, Terabytes/Second, Bits/Second, Kilobits/Second, Megabits/Second, "
        "Gigabits/Second, Terabits/Second, Count/Second, None",
    ]
)
def metric_unit_hour(d: Any) -> None:
    d.requests_metadata["metricUnit"] = "Hour"


# kedacore/keda pkg/scalers/aws_cloudwatch_scaler_test.go@1d2225bf, testAWSCloudwatchMetadata, 'unsupported
# value for ignoreNullValues'
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.triggers[0].metadata.ignoreNullValues: 'maybe' is not a boolean; allowed: 1, t, T, TRUE, true, "
        "True or 0, f, F, FALSE, false, False",
    ]
)
def ignore_null_values_maybe(d: Any) -> None:
    d.requests_metadata["ignoreNullValues"] = "maybe"


# kedacore/keda pkg/scalers/aws_cloudwatch_scaler_test.go@1d2225bf, testAWSCloudwatchMetadata, 'Missing
# namespace' / 'Missing metricName' / 'Missing dimensionName' / 'Missing dimensionValue'
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.triggers[0].metadata.namespace: is required unless expression is given",
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.triggers[0].metadata.metricName: is required unless expression is given",
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.triggers[0].metadata.dimensionName: is required unless expression is given",
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.triggers[0].metadata.dimensionValue: is required unless expression is given",
    ]
)
def cloudwatch_without_metric(d: Any) -> None:
    for k in ("namespace", "metricName", "dimensionName", "dimensionValue"):
        del d.requests_metadata[k]


# kedacore/keda pkg/scalers/aws_cloudwatch_scaler.go, awsCloudwatchMetadata.Validate
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.triggers[0].metadata.dimensionValue: dimensionName and dimensionValue are not matching in "
        "size: 2 names, 1 values (separate several with ';')",
    ]
)
def dimensions_mismatch(d: Any) -> None:
    d.requests_metadata["dimensionValue"] = "app/llm-inference/50dc6c495c0c9188"


# targetMetricValue is a float64; kedacore/keda pkg/scalers/scalersconfig/typed_config.go@0fd70bdc (metadata
# decoded with encoding/json): '.5' is not JSON
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.triggers[0].metadata.targetMetricValue: '.5' is not a number; allowed: a decimal number "
        'such as "2" or "0.5"',
    ]
)
def target_metric_value_not_a_number(d: Any) -> None:
    d.requests_metadata["targetMetricValue"] = ".5"


# KEDA gives the HPA a milli-quantity target (pkg/scalers/scaler.go GetMetricTargetMili); the HPA
# API refuses a target of 0 (pkg/apis/autoscaling/validation/validation.go: "must be positive")
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.triggers[0].metadata.targetMetricValue: must be at least 0.001, got 0.0004: the HPA compares "
        "metrics in thousandths, so a smaller target rounds to 0",
    ]
)
def target_metric_value_below_the_hpa_resolution(d: Any) -> None:
    d.requests_metadata["targetMetricValue"] = "0.0004"


# kedacore/keda pkg/scalers/scaler.go, GetMetricTargetType (message verbatim)
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): spec.triggers[0].metricType: "
        "'Utilization' metric type is unsupported for external metrics, allowed values are 'Value' or "
        "'AverageValue'",
    ]
)
def metric_type_utilization(d: Any) -> None:
    d.llm["spec"]["triggers"][0]["metricType"] = "Utilization"


# ebb rule: only aws-sqs-queue and aws-cloudwatch are evaluated
@case(
    [
        "config.yaml: document 1 (ScaledObject batch/batch-worker): spec.triggers[0]: type 'cpu' is not "
        "supported; allowed: 'aws-sqs-queue', 'aws-cloudwatch'",
    ]
)
def trigger_type_cpu(d: Any) -> None:
    d.batch["spec"]["triggers"][0]["type"] = "cpu"


# kedacore/keda apis/keda/v1alpha1/scaledobject_types_test.go@00489f48, TestCheckReplicaCountBoundsAreValid
# 'Invalid: min 2 > max 1'
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): spec.minReplicaCount: "
        "MinReplicaCount=2 must be less than MaxReplicaCount=1",
    ]
)
def min_above_max(d: Any) -> None:
    d.llm["spec"].update(minReplicaCount=2, maxReplicaCount=1)


# kedacore/keda apis/keda/v1alpha1/scaledobject_types_test.go@00489f48, TestCheckReplicaCountBoundsAreValid
# 'Invalid: idle 1 == min 1'
@case(
    [
        "config.yaml: document 1 (ScaledObject batch/batch-worker): spec.idleReplicaCount: "
        "IdleReplicaCount=1 must be less than MinReplicaCount=1",
    ]
)
def idle_not_below_min(d: Any) -> None:
    d.batch["spec"].update(minReplicaCount=1, idleReplicaCount=1)


# kedacore/keda apis/keda/v1alpha1/scaledobject_types_test.go@00489f48, TestCheckFallbackValid 'Value
# metricType - invalid'
@case(
    [
        "config.yaml: document 1 (ScaledObject batch/batch-worker): spec.fallback: at least one trigger "
        "(that is not cpu or memory) has to have the `AverageValue` type for the fallback to be enabled",
    ]
)
def fallback_without_average_value(d: Any) -> None:
    d.batch["spec"]["triggers"][0]["metricType"] = "Value"
    d.batch["spec"]["fallback"] = {"failureThreshold": 3, "replicas": 1}


# kedacore/keda apis/keda/v1alpha1/scaletriggers_types.go@1a230280, ValidateTriggers
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): spec.triggers[1].name: triggerName "
        "'requests-per-target' is defined multiple times in the ScaledObject, but it must be unique "
        "(first at triggers[0])",
    ]
)
def duplicate_trigger_names(d: Any) -> None:
    d.llm["spec"]["triggers"][1]["name"] = "requests-per-target"


# ebb rule (issue 3): multi-node replicas are refused until planned all-or-nothing
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): spec.scaleTargetRef.kind: "
        "leaderworkerset.x-k8s.io/v1 LeaderWorkerSet is refused: each of its replicas spans several "
        "nodes, and ebb does not yet plan such groups all-or-nothing; allowed: apps/v1 Deployment or "
        "apps/v1 StatefulSet",
    ]
)
def leader_worker_set_target(d: Any) -> None:
    d.llm["spec"]["scaleTargetRef"].update(apiVersion="leaderworkerset.x-k8s.io/v1", kind="LeaderWorkerSet")


# ebb rule: apps/v1 Deployment and StatefulSet only
@case(
    [
        "config.yaml: document 1 (ScaledObject batch/batch-worker): spec.scaleTargetRef.kind: "
        "argoproj.io/v1alpha1 Rollout is not supported; allowed: apps/v1 Deployment or apps/v1 StatefulSet",
    ]
)
def rollout_target(d: Any) -> None:
    d.batch["spec"]["scaleTargetRef"].update(apiVersion="argoproj.io/v1alpha1", kind="Rollout")


# kedacore/keda apis/keda/v1alpha1/scaledobject_webhook.go@02c2bdce, verifyName
@case(
    [
        "config.yaml: document 1 (ScaledObject "
        "batch/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb): metadata.name: "
        "scaledobject name 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' is 64 "
        "characters long; must be no more than 63 characters",
    ]
)
def scaled_object_name_too_long(d: Any) -> None:
    d.batch["metadata"]["name"] = "b" * 64
    d.binding["spec"]["scalers"][1]["scaledObject"]["name"] = "b" * 64


# kedacore/keda pkg/scaling/executor/scale_executor.go, GetPausedReplicaCount (strconv.ParseInt)
@case(
    [
        "config.yaml: document 1 (ScaledObject batch/batch-worker): "
        "metadata.annotations.autoscaling.keda.sh/paused-replicas: 'two' is not a replica count; allowed: "
        'a whole number such as "0"',
    ]
)
def paused_replicas_not_a_number(d: Any) -> None:
    d.batch["metadata"]["annotations"] = {"autoscaling.keda.sh/paused-replicas": "two"}


# kubernetes/kubernetes pkg/apis/autoscaling/validation/validation.go, validateScalingRules /
# validateScalingPolicy (MaxPeriodSeconds = 1800)
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.policies[0].periodSeconds: must "
        "be <= 1800, got integer 1801",
    ]
)
def scaling_policy_period_too_long(d: Any) -> None:
    d.llm["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["policies"][0][
        "periodSeconds"
    ] = 1801


# kubernetes/kubernetes pkg/apis/autoscaling/validation/validation.go, validateScalingRules /
# validateScalingPolicy (MaxStabilizationWindowSeconds = 3600)
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds: must "
        "be <= 3600, got integer 3601",
    ]
)
def stabilization_window_too_long(d: Any) -> None:
    d.llm["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"][
        "stabilizationWindowSeconds"
    ] = 3601


# kubernetes/kubernetes pkg/apis/autoscaling/validation/validation.go, validateScalingRules /
# validateScalingPolicy (Max, Min, Disabled)
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.selectPolicy: string 'Average' is "
        "not allowed; allowed: 'Max', 'Min' or 'Disabled'",
    ]
)
def select_policy_unknown(d: Any) -> None:
    d.llm["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["selectPolicy"] = (
        "Average"
    )


# kubernetes/kubernetes pkg/apis/autoscaling/validation/validation.go, validateScalingRules /
# validateScalingPolicy ('must specify at least one Policy')
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.policies: must specify at least "
        "one Policy (or leave policies out for the defaults)",
    ]
)
def empty_policies(d: Any) -> None:
    d.llm["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["policies"] = []


# ebb rule: scalingModifiers formulas are not evaluated
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): spec.advanced.scalingModifiers: "
        "not supported: ebb computes replicas per trigger and takes the largest, as the HPA does; remove "
        "scalingModifiers",
    ]
)
def scaling_modifiers(d: Any) -> None:
    d.llm["spec"]["advanced"]["scalingModifiers"] = {"formula": "requests_per_target * 2", "target": "300"}


# kubernetes-sigs/karpenter pkg/apis/v1/nodeclaim_validation.go@12daf854, ValidateRequirement; CEL rule
# 'requirements with operator 'In' must have a value defined'
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.template.spec.requirements[2].values: key "
        "karpenter.sh/capacity-type with operator In must have a value defined",
    ]
)
def requirement_in_without_values(d: Any) -> None:
    d.pool_template["requirements"][2]["values"] = []


# ebb rule (issue 3): Gt/Lt only on numeric keys
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.template.spec.requirements[4].operator: Gt needs a "
        "numeric key; allowed keys for Gt and Lt: karpenter.k8s.aws/instance-cpu, "
        "karpenter.k8s.aws/instance-memory, karpenter.k8s.aws/instance-gpu-count",
    ]
)
def requirement_gt_on_zone(d: Any) -> None:
    d.pool_template["requirements"].append(
        {"key": "topology.kubernetes.io/zone", "operator": "Gt", "values": ["1"]}
    )


# kubernetes-sigs/karpenter pkg/apis/v1/nodepool_validation_cel_test.go@ce8092a2, 'should fail with invalid GT
# or LT values'; message of kubernetes-sigs/karpenter pkg/apis/v1/nodeclaim_validation.go@12daf854,
# ValidateRequirement
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.template.spec.requirements[3].values: key "
        "karpenter.k8s.aws/instance-gpu-count with operator Gt must have a single positive integer value",
    ]
)
def requirement_gt_not_an_integer(d: Any) -> None:
    d.pool_template["requirements"][3]["values"] = ["a"]


# kubernetes-sigs/karpenter pkg/apis/v1/nodepool_validation_cel_test.go@ce8092a2, Requirements 'should fail
# for the karpenter.sh/nodepool label'
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.template.spec.requirements[4].key: label "
        "'karpenter.sh/nodepool' is restricted",
    ]
)
def requirement_on_nodepool_label(d: Any) -> None:
    d.pool_template["requirements"].append(
        {"key": "karpenter.sh/nodepool", "operator": "In", "values": ["gpu"]}
    )


# ebb rule: HyperPod nodes cannot be labelled by ebb
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.template.spec.requirements[4].key: 'team' is not a "
        "key ebb can plan for: HyperPod nodes carry no labels ebb could set; allowed: "
        "node.kubernetes.io/instance-type, topology.kubernetes.io/zone, karpenter.sh/capacity-type, "
        "kubernetes.io/arch, karpenter.k8s.aws/instance-cpu, karpenter.k8s.aws/instance-memory, "
        "karpenter.k8s.aws/instance-gpu-count",
    ]
)
def requirement_on_custom_label(d: Any) -> None:
    d.pool_template["requirements"].append({"key": "team", "operator": "In", "values": ["ml"]})


# kubernetes-sigs/karpenter pkg/apis/v1/nodepool_validation_cel_test.go@ce8092a2, 'should fail for unsupported
# ops'
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.template.spec.requirements[0].operator: string "
        "'Within' is not allowed; allowed: 'In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt' or 'Lt'",
    ]
)
def requirement_operator_unknown(d: Any) -> None:
    d.pool_template["requirements"][0]["operator"] = "Within"


# ebb cross-document check
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.template.spec.requirements: the requirements admit "
        "none of the NodePool's instance groups: gpu-g5-use1a (ml.g5.12xlarge, us-east-1a): requirement "
        "node.kubernetes.io/instance-type In ml.g6.12xlarge excludes it; gpu-g6e-use1b (ml.g6e.12xlarge, "
        "us-east-1b): requirement node.kubernetes.io/instance-type In ml.g6.12xlarge excludes it",
    ]
)
def requirements_admit_no_group(d: Any) -> None:
    d.pool_template["requirements"][0]["values"] = ["ml.g6.12xlarge"]


# kubernetes-sigs/karpenter pkg/apis/v1/nodepool.go@a559e048 (CRD markers): weight Minimum 1, Maximum 100
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.weight: must be <= 100, got integer 101",
    ]
)
def weight_out_of_range(d: Any) -> None:
    d.node_pool["spec"]["weight"] = 101


# kubernetes-sigs/karpenter pkg/apis/v1/nodepool_validation_cel_test.go@ce8092a2, 'should fail when creating a
# budget with a cron but no duration'
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.disruption.budgets[0]: 'schedule' must be set with "
        "'duration'",
    ]
)
def budget_schedule_without_duration(d: Any) -> None:
    d.node_pool["spec"]["disruption"]["budgets"][0]["schedule"] = "0 9 * * 1-5"


# kubernetes-sigs/karpenter pkg/apis/v1/nodepool_validation_cel_test.go@ce8092a2, 'should fail when creating a
# budget with a value percent with more than 3 digits'
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.disruption.budgets[0].nodes: '1000%' is not "
        "allowed; allowed: a node count such as 5, or a percentage 0%-100%",
    ]
)
def budget_nodes_percent_too_large(d: Any) -> None:
    d.node_pool["spec"]["disruption"]["budgets"][0]["nodes"] = "1000%"


# kubernetes-sigs/karpenter pkg/apis/v1/nodepool_validation_cel_test.go@ce8092a2, 'should fail when creating a
# budget with an invalid cron'
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.disruption.budgets[0].schedule: '*' is not a cron "
        "schedule: expected 5 fields (minute hour day-of-month month day-of-week), got 1",
    ]
)
def budget_cron_invalid(d: Any) -> None:
    d.node_pool["spec"]["disruption"]["budgets"][0].update(schedule="*", duration="20m")


# kubernetes-sigs/karpenter pkg/apis/v1/nodepool_validation_cel_test.go@ce8092a2, 'should fail when creating a
# budget with a seconds duration'
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.disruption.budgets[0].duration: '30s' is not "
        "allowed; a budget duration takes hours and minutes only, such as 20m, 2h or 2h20m",
    ]
)
def budget_duration_seconds(d: Any) -> None:
    d.node_pool["spec"]["disruption"]["budgets"][0].update(schedule="0 9 * * *", duration="30s")


# kubernetes-sigs/karpenter pkg/apis/v1/nodepool.go@a559e048 (CRD markers): Enum WhenEmpty,
# WhenEmptyOrUnderutilized
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.disruption.consolidationPolicy: string "
        "'WhenUnderutilized' is not allowed; allowed: 'WhenEmpty' or 'WhenEmptyOrUnderutilized'",
    ]
)
def consolidation_policy_v1beta1(d: Any) -> None:
    d.node_pool["spec"]["disruption"]["consolidationPolicy"] = "WhenUnderutilized"


# kubernetes-sigs/karpenter pkg/apis/v1/nodepool.go@a559e048 (CRD markers): expireAfter pattern
# ^(([0-9]+(s|m|h))+)|(Never)$
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.template.spec.expireAfter: '30d' is not a valid "
        "duration; allowed: a duration such as 30s, 10m or 1h30m, or Never",
    ]
)
def expire_after_days(d: Any) -> None:
    d.pool_template["expireAfter"] = "30d"


# ebb's rule, one knob per behaviour: the empty-node delay is the NodePool's consolidateAfter
# (Karpenter docs "Disruption", https://karpenter.sh/docs/concepts/disruption/, consolidateAfter).
@case(
    [
        "config.yaml: document 2 (ClusterBinding gpu-inference): spec.idle.emptyNodeAfter: is not used: "
        "how long an empty node is kept is its NodePool's spec.disruption.consolidateAfter (Karpenter "
        "semantics); set it there, e.g. consolidateAfter: 10m",
    ]
)
def empty_node_after_is_the_pools_consolidate_after(d: Any) -> None:
    d.binding["spec"]["idle"] = {"emptyNodeAfter": "10m"}


# ebb's rule: a Karpenter field ebb parses but does not act on is refused, not silently ignored.
# Karpenter's default expireAfter is 720h (kubernetes-sigs/karpenter pkg/apis/v1/nodeclaim.go, ExpireAfter
# `+kubebuilder:default:="720h"`); ebb does not replace expired nodes.
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.template.spec.expireAfter: 720h is not supported: "
        "ebb does not expire nodes (replacing expired nodes is not implemented); allowed: Never",
    ]
)
def expire_after_a_duration(d: Any) -> None:
    d.pool_template["expireAfter"] = "720h"


@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.template.spec.expireAfter: absent, Karpenter expires "
        "nodes after 720h: ebb does not expire nodes (replacing expired nodes is not implemented); "
        "allowed: Never",
    ]
)
def expire_after_left_to_karpenters_default(d: Any) -> None:
    del d.pool_template["expireAfter"]


# kubernetes-sigs/karpenter pkg/apis/v1/nodeclaim.go (minValues 1..50) parses it; ebb refuses it.
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.template.spec.requirements[0].minValues: ebb does not "
        "enforce minValues (how many distinct values a launch may choose from): each HyperPod instance "
        "group launches its own instance type, and ebb plans groups; remove it",
    ]
)
def min_values(d: Any) -> None:
    d.pool_template["requirements"][0]["minValues"] = 2


# kubernetes/kubernetes staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go, ParseQuantity
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.limits.cpu: '500x' is not a Kubernetes quantity; "
        "write a number with an optional suffix (n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an "
        "exponent such as e3), for example 500m or 16Gi",
    ]
)
def limit_not_a_quantity(d: Any) -> None:
    d.node_pool["spec"]["limits"]["cpu"] = "500x"


# Karpenter's spec.limits is a ResourceList (kubernetes-sigs/karpenter pkg/apis/v1/nodepool.go
# `type Limits v1.ResourceList`): any resource name, but a resource name it must be
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.limits.example.com/has space: 'example.com/has space' "
        "is not a resource name: name part must consist of letters, digits, '-', '_' or '.', and must "
        "start and end with a letter or digit",
    ]
)
def limit_bad_resource_name(d: Any) -> None:
    d.node_pool["spec"]["limits"]["example.com/has space"] = "1"


# scaling-semantics §5: limits are compared with the capacity of the node that would launch
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.limits.nvidia.com/gpu: 2 is less than one node of "
        "any of the pool's instance types, so no node can launch (Karpenter compares limits with the "
        "capacity of the node it would launch)",
    ]
)
def limit_below_one_node(d: Any) -> None:
    d.node_pool["spec"]["limits"]["nvidia.com/gpu"] = "2"


# ebb rule: HyperpodNodeClass only (Amazon SageMaker developer guide, 'Create a NodePool')
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.template.spec.nodeClassRef.group: "
        "'karpenter.k8s.aws' is not supported; allowed: 'karpenter.sagemaker.amazonaws.com' (ebb plans "
        "HyperPod instance groups)",
        "config.yaml: document 4 (NodePool gpu): spec.template.spec.nodeClassRef.kind: 'EC2NodeClass' is "
        "not supported; allowed: 'HyperpodNodeClass'",
    ]
)
def node_class_ref_ec2(d: Any) -> None:
    d.pool_template["nodeClassRef"].update(group="karpenter.k8s.aws", kind="EC2NodeClass")


# ebb cross-document check (issue 3)
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.template.spec.nodeClassRef.name: names "
        "HyperpodNodeClass 'gpu', which is not in the configuration; defined: gpu-groups",
    ]
)
def node_class_ref_names_nothing(d: Any) -> None:
    d.pool_template["nodeClassRef"]["name"] = "gpu"


# Amazon SageMaker developer guide, 'Create a NodeClass': up to 10 instance groups. The invalid
# list's groups are still checked against the binding in the same round (salvaged documents take
# part in the checks across documents): none of the eleven is one of its groups.
@case(
    [
        "config.yaml: document 3 (HyperpodNodeClass gpu-groups): spec.instanceGroups: must have at most "
        "10 items, got 11",
        *(
            f"config.yaml: document 3 (HyperpodNodeClass gpu-groups): spec.instanceGroups[{i}]: instance "
            f"group 'group-{i}' has no facts in the ClusterBinding; add it under "
            "spec.hyperPodCluster.instanceGroups with its instanceType and availabilityZone"
            for i in range(11)
        ),
    ]
)
def too_many_instance_groups(d: Any) -> None:
    d.node_class["spec"]["instanceGroups"] = [f"group-{i}" for i in range(11)]


# ebb cross-document check (issue 3)
@case(
    [
        "config.yaml: document 6 (HyperpodNodeClass more-gpus): spec.instanceGroups[0]: instance group "
        "'gpu-g5-use1a' is already in HyperpodNodeClass gpu-groups (config.yaml, document 3); an instance "
        "group may belong to one node class only",
    ]
)
def instance_group_in_two_node_classes(d: Any) -> None:
    d.documents.append(
        {
            "apiVersion": "karpenter.sagemaker.amazonaws.com/v1",
            "kind": "HyperpodNodeClass",
            "metadata": {"name": "more-gpus"},
            "spec": {"instanceGroups": ["gpu-g5-use1a"]},
        }
    )


# ebb cross-document check
@case(
    [
        "config.yaml: document 3 (HyperpodNodeClass gpu-groups): spec.instanceGroups[2]: instance group "
        "'gpu-p5-use1c' has no facts in the ClusterBinding; add it under "
        "spec.hyperPodCluster.instanceGroups with its instanceType and availabilityZone",
    ]
)
def instance_group_without_facts(d: Any) -> None:
    d.node_class["spec"]["instanceGroups"].append("gpu-p5-use1c")


# kedacore/keda apis/keda/v1alpha1/scaledobject_webhook.go@02c2bdce, verifyScaledObjects (message)
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): spec.scaleTargetRef.name: the "
        "workload 'llm-inference' of type 'apps/v1.Deployment' is already managed by the ScaledObject "
        "'batch-worker' (config.yaml, document 1)",
    ]
)
def two_scaled_objects_one_target(d: Any) -> None:
    d.batch["spec"]["scaleTargetRef"]["name"] = "llm-inference"
    d.batch["metadata"]["namespace"] = "serving"
    d.binding["spec"]["scalers"][1]["scaledObject"]["namespace"] = "serving"


# ebb cross-document check
@case(
    [
        "config.yaml: document 1 (ScaledObject batch/batch-worker): no ClusterBinding entry says which "
        "NodePool its pods land on; add "
        "{scaledObject: {name: batch-worker, namespace: batch}, nodePool: ...} to spec.scalers",
    ]
)
def scaled_object_not_bound(d: Any) -> None:
    d.binding["spec"]["scalers"].pop(1)


# ebb cross-document check
@case(
    [
        "config.yaml: document 2 (ClusterBinding gpu-inference): spec.scalers[1].nodePool: NodePool 'cpu' "
        "is not in the configuration; defined: gpu",
    ]
)
def binding_names_unknown_node_pool(d: Any) -> None:
    d.binding["spec"]["scalers"][1]["nodePool"] = "cpu"


# ebb cross-document check (issue 3)
@case(
    [
        "config.yaml: document 2 (ClusterBinding gpu-inference): spec.scalers[0].podSpec: the pods fit no "
        "instance type of NodePool gpu: gpu-g5-use1a (ml.g5.12xlarge): needs 8 nvidia.com/gpu, "
        "ml.g5.12xlarge has 4 allocatable; gpu-g6e-use1b (ml.g6e.12xlarge): needs 8 nvidia.com/gpu, "
        "ml.g6e.12xlarge has 4 allocatable",
    ]
)
def pods_fit_no_instance_type(d: Any) -> None:
    d.llm_pod["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] = "8"
    d.llm_pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "8"


_LLM_RESOURCES = (
    "config.yaml: document 2 (ClusterBinding gpu-inference): spec.scalers[0].podSpec.containers[0].resources."
)


# kube-apiserver refuses these pods, so no node is planned for them: kubernetes/kubernetes
# pkg/apis/core/validation/validation.go ValidateResourceRequirements (commit f7b907ca), cases of
# validation_test.go TestValidateResourceRequirements / "Resource GPU invalid setting"
@case([_LLM_RESOURCES + "requests.nvidia.com/gpu: 2 must be equal to nvidia.com/gpu limit of 1"])
def device_request_differs_from_its_limit(d: Any) -> None:
    d.llm_pod["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] = "2"


# validation.go ValidateResourceRequirements: an extended resource cannot be overcommitted
@case(
    [
        _LLM_RESOURCES + "limits.nvidia.com/gpu: required: Limit must be set for non overcommitable "
        "resources (requests has nvidia.com/gpu: 1; set limits.nvidia.com/gpu to the same, or give only "
        "the limit)"
    ]
)
def device_request_without_a_limit(d: Any) -> None:
    del d.llm_pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]


# validation.go ValidateResourceRequirements: "must be less than or equal to cpu limit"
@case([_LLM_RESOURCES + "requests.cpu: 8 must be less than or equal to cpu limit of 4"])
def cpu_request_above_its_limit(d: Any) -> None:
    d.llm_pod["containers"][0]["resources"]["limits"]["cpu"] = "4"


# validation.go ValidateResourceQuantityValue: extended resources are integers (isNotIntegerErrorMsg)
@case(
    [
        _LLM_RESOURCES + "limits.nvidia.com/gpu: 500m must be an integer (a count of nvidia.com/gpu)",
        _LLM_RESOURCES + "requests.nvidia.com/gpu: 500m must be an integer (a count of nvidia.com/gpu)",
    ]
)
def fractional_device(d: Any) -> None:
    d.llm_pod["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] = "500m"
    d.llm_pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "500m"


# ebb cross-document check (issue 3)
@case(
    [
        "config.yaml: document 2 (ClusterBinding gpu-inference): spec.scalers[0].podSpec: the pods select "
        "none of NodePool gpu's instance groups (gpu-g5-use1a, gpu-g6e-use1b)",
    ]
)
def pods_select_no_pool_group(d: Any) -> None:
    d.llm_pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ][0]["matchExpressions"][0]["values"] = ["cpu-use1a"]


# ebb cross-document check (issue 3)
@case(
    [
        "config.yaml: document 2 (ClusterBinding gpu-inference): spec.scalers[0].podSpec: the pods may "
        "land on any node: select NodePool gpu's instance groups (gpu-g5-use1a, gpu-g6e-use1b) with "
        "nodeSelector or required node affinity on sagemaker.amazonaws.com/instance-group-name",
    ]
)
def pods_without_instance_group_selector(d: Any) -> None:
    del d.llm_pod["affinity"]


# ebb cross-document check; k8s.io/api/core/v1/toleration.go ToleratesTaint
@case(
    [
        "config.yaml: document 2 (ClusterBinding gpu-inference): spec.scalers[0].podSpec.tolerations: the "
        "pods do not tolerate nvidia.com/gpu=true:NoSchedule, which the instance groups of NodePool gpu "
        "carry; add a toleration for it",
    ]
)
def pods_do_not_tolerate_taint(d: Any) -> None:
    del d.llm_pod["tolerations"]


# ebb rule: scale from zero behind an ALB needs the load balancer's own 503/5xx count
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.triggers[0].metadata.metricName: RequestCountPerTarget cannot wake this target from zero: "
        "with no replica the load balancer has no target and answers 503 without counting a request. Add "
        "an aws-cloudwatch trigger on HTTPCode_ELB_503_Count or HTTPCode_ELB_5XX_Count (namespace "
        "AWS/ApplicationELB, dimensionName LoadBalancer), or keep minReplicaCount at 1 or more",
    ]
)
def alb_requests_without_wake_trigger(d: Any) -> None:
    d.llm["spec"]["triggers"].pop(1)


# ebb's one-load-balancer rule
@case(
    [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.triggers[1].metadata.dimensionValue: load balancer app/llm-inference/50dc6c495c0c9188 "
        "already wakes ScaledObject batch/batch-worker (config.yaml, document 1) from zero; its 5xx/503 "
        "counts cannot tell which service a request was for, so ebb allows one scale-to-zero service per "
        "load balancer. Give each its own load balancer, or set minReplicaCount: 1 on one of them",
    ]
)
def two_scale_to_zero_services_on_one_load_balancer(d: Any) -> None:
    d.batch["spec"]["triggers"].append(copy.deepcopy(d.llm["spec"]["triggers"][1]))


# ebb rule
@case(
    [
        "config.yaml: no ebb.dev/v1alpha1 ClusterBinding document: ebb needs one to know the HyperPod and "
        "EKS clusters, the instance groups and which NodePool each ScaledObject uses",
    ]
)
def no_cluster_binding(d: Any) -> None:
    d.documents.remove(d.binding)


# ebb rule
@case(
    [
        "config.yaml: document 6 (ClusterBinding other): a second ClusterBinding; a configuration has "
        "exactly one (the first is config.yaml, document 2)",
    ]
)
def two_cluster_bindings(d: Any) -> None:
    extra = copy.deepcopy(d.binding)
    extra["metadata"]["name"] = "other"
    d.documents.append(extra)


# ebb rule
@case(
    [
        "config.yaml: document 2 (ClusterBinding gpu-inference): "
        "spec.hyperPodCluster.instanceGroups[1].availabilityZone: 'us-west-2b' is not in region us-east-1",
    ]
)
def zone_outside_region(d: Any) -> None:
    d.binding["spec"]["hyperPodCluster"]["instanceGroups"][1]["availabilityZone"] = "us-west-2b"


# ebb rule
@case(
    [
        "config.yaml: document 2 (ClusterBinding gpu-inference): "
        "spec.hyperPodCluster.instanceGroups[1].instanceType: 'ml.p6-b200.48xlarge' is not in the "
        "instance catalogue; add it under spec.instanceCatalogue or use one of: ml.g5.xlarge, "
        "ml.g5.2xlarge, ml.g5.4xlarge, ml.g5.8xlarge, ml.g5.12xlarge, ml.g5.16xlarge, ml.g5.24xlarge, "
        "ml.g5.48xlarge, ml.g6.xlarge, ml.g6.2xlarge, ml.g6.4xlarge, ml.g6.8xlarge, ml.g6.12xlarge, "
        "ml.g6.16xlarge, ml.g6.24xlarge, ml.g6.48xlarge, ml.g6e.xlarge, ml.g6e.2xlarge, "
        "ml.g6e.4xlarge, ml.g6e.8xlarge, ml.g6e.12xlarge, ml.g6e.16xlarge, ml.g6e.24xlarge, "
        "ml.g6e.48xlarge, ml.p4d.24xlarge, ml.p4de.24xlarge, ml.p5.4xlarge, ml.p5.48xlarge, "
        "ml.p5e.48xlarge, ml.p5en.48xlarge, ml.trn1.32xlarge, ml.trn1n.32xlarge, ml.trn2.48xlarge, "
        "ml.t3.medium, ml.m5.xlarge, ml.c5.2xlarge",
    ]
)
def instance_type_not_in_catalogue(d: Any) -> None:
    d.binding["spec"]["hyperPodCluster"]["instanceGroups"][1]["instanceType"] = "ml.p6-b200.48xlarge"


# botocore sagemaker service model, ClusterInstanceGroupName pattern
@case(
    [
        "config.yaml: document 3 (HyperpodNodeClass gpu-groups): spec.instanceGroups[0]: 'gpu_g5' is not "
        "a HyperPod instance group name; allowed: 1-63 letters, digits and hyphens, starting and ending "
        "with a letter or digit",
    ]
)
def instance_group_name_invalid(d: Any) -> None:
    d.node_class["spec"]["instanceGroups"][0] = "gpu_g5"


# botocore eks service model, ClusterName pattern
@case(
    [
        "config.yaml: document 2 (ClusterBinding gpu-inference): spec.eksCluster.name: '-eks' is not "
        "allowed; allowed: an EKS cluster name (1-100 letters, digits, '-' and '_')",
    ]
)
def eks_cluster_name_invalid(d: Any) -> None:
    d.binding["spec"]["eksCluster"]["name"] = "-eks"


# ebb reads karpenter.sh/v1 only
@case(
    [
        "config.yaml: document 6 (NodePool old): apiVersion: karpenter.sh/v1beta1 NodePool is not "
        "supported; allowed: karpenter.sh/v1 NodePool",
    ]
)
def unsupported_document(d: Any) -> None:
    d.documents.append(
        {"apiVersion": "karpenter.sh/v1beta1", "kind": "NodePool", "metadata": {"name": "old"}, "spec": {}}
    )


# k8s.io/apimachinery util/validation IsValidLabelValue (Karpenter 'should fail for invalid taint value')
@case(
    [
        "config.yaml: document 4 (NodePool gpu): spec.template.spec.taints[0].value: 'yes please': must "
        "be empty or consist of letters, digits, '-', '_' or '.', starting and ending with a letter or "
        "digit",
    ]
)
def label_value_invalid(d: Any) -> None:
    d.pool_template["taints"][0]["value"] = "yes please"


# kubernetes pkg/apis/core/validation, ValidateTolerations
@case(
    [
        "config.yaml: document 2 (ClusterBinding gpu-inference): "
        "spec.scalers[0].podSpec.tolerations[0].value: must be empty when operator is Exists",
    ]
)
def toleration_exists_with_value(d: Any) -> None:
    d.llm_pod["tolerations"][0]["value"] = "true"


# ebb rule (standard five-field cron)
@case(
    [
        "config.yaml: document 2 (ClusterBinding gpu-inference): spec.prewarm[0].schedule: '0 25 * * *' "
        "is not a cron schedule: hour: end of range (25) above maximum (23)",
    ]
)
def prewarm_cron_invalid(d: Any) -> None:
    d.binding["spec"]["prewarm"][0]["schedule"] = "0 25 * * *"


# ebb rule
@case(
    [
        "config.yaml: document 2 (ClusterBinding gpu-inference): spec.prewarm[0].minReplicas: 17 exceeds "
        "maxReplicaCount 16 of serving/llm-inference",
    ]
)
def prewarm_above_max(d: Any) -> None:
    d.binding["spec"]["prewarm"][0]["minReplicas"] = 17


@pytest.mark.parametrize(("mutate", "expected"), CASES)
def test_bad_config_is_refused_with_the_exact_message(
    docs: Any, mutate: Mutation, expected: list[str]
) -> None:
    mutate(docs)
    result = docs.check()
    assert result.config is None
    assert [str(issue) for issue in result.errors] == expected


def test_the_suite_covers_at_least_twenty_five_kinds_of_bad_config() -> None:
    assert len(CASES) >= 25


def test_every_error_is_raised_at_once_in_one_config_error(docs: Any) -> None:
    # Three unrelated problems in three documents: all of them, not only the first.
    docs.sqs_metadata["queueLength"] = "a"
    docs.node_pool["spec"]["weight"] = 0
    docs.binding["spec"]["region"] = "us_east_1"
    with pytest.raises(ConfigValidationError) as raised:
        load_config_text(docs.text(), file="config.yaml")
    error = raised.value
    assert [issue.path for issue in error.errors] == [
        "spec.triggers[0].metadata.queueLength",
        "spec.region",
        "spec.weight",
    ]
    assert str(error).splitlines()[0] == "invalid configuration (3 errors):"
    assert all(line.startswith("  config.yaml: document ") for line in str(error).splitlines()[1:])


def test_each_issue_names_file_document_path_and_what_is_allowed(docs: Any) -> None:
    docs.node_pool["spec"]["disruption"]["consolidationPolicy"] = "Sometimes"
    (issue,) = docs.check().errors
    assert issue.file == "config.yaml"
    assert issue.document is not None
    assert (issue.document.index, issue.document.kind, issue.document.name) == (4, "NodePool", "gpu")
    assert issue.path == "spec.disruption.consolidationPolicy"
    assert "allowed: 'WhenEmpty' or 'WhenEmptyOrUnderutilized'" in issue.message


def test_an_unusable_document_does_not_cause_follow_up_errors_elsewhere(docs: Any) -> None:
    # The llm ScaledObject fails on its own; the binding still names it, and must not be blamed.
    docs.llm["spec"]["triggers"][0]["type"] = "prometheus"
    assert docs.errors() == [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): spec.triggers[0]: type "
        "'prometheus' is not supported; allowed: 'aws-sqs-queue', 'aws-cloudwatch'"
    ]


def test_breaking_a_copy_leaves_the_example_valid(make_docs: Any) -> None:
    broken, intact = make_docs(), make_docs()
    broken.llm["spec"]["maxReplicaCount"] = -1
    assert broken.errors()
    assert intact.errors() == []
    assert copy.deepcopy(intact.documents) == intact.documents


def test_every_kind_of_error_comes_at_once(docs: Any) -> None:
    # The README promises every error of a configuration at once. One document of each kind carries
    # several independent errors together: missing required metadata (KEDA's typed config:
    # `missing required parameter`), an unparseable value, an unknown field, a value out of range, and
    # rules across fields (KEDA's CheckReplicaCountBoundsAreValid and CheckFallbackValid,
    # checkMetricStatPeriod, the paused-replicas annotation); a broken field hides no other rule.
    metadata = docs.requests_metadata
    del metadata["awsRegion"], metadata["minMetricValue"]
    metadata["metricStatPeriod"] = "25"
    metadata["activationTargetMetricValue"] = "abc"
    docs.llm["spec"].update(minReplicaCount=5, maxReplicaCount=2, minReplicasCount=1)
    docs.llm["spec"]["fallback"] = {"failureThreshold": -1, "replicas": 2}
    docs.llm["metadata"]["annotations"] = {"autoscaling.keda.sh/paused-replicas": "-1"}
    docs.sqs_metadata.update(queueLength="0", scaleOnInFlight="maybe")
    docs.binding["spec"]["shadowMode"] = "yes"
    docs.binding["spec"]["hyperPodCluster"]["instanceGroups"][0]["availabilityZone"] = "eu-west-1a"
    batch = "config.yaml: document 1 (ScaledObject batch/batch-worker): spec.triggers[0].metadata."
    binding = "config.yaml: document 2 (ClusterBinding gpu-inference): spec."
    llm = "config.yaml: document 5 (ScaledObject serving/llm-inference): "
    requests = llm + "spec.triggers[0].metadata."

    errors = docs.errors()

    assert sorted(errors) == sorted(
        [
            batch
            + "scaleOnInFlight: 'maybe' is not a boolean; allowed: 1, t, T, TRUE, true, True or 0, f, F, "
            "FALSE, false, False",
            batch
            + "queueLength: must be > 0, got 0: it is the HPA's AverageValue target, which must be positive",
            binding + "shadowMode: must be true or false, got string 'yes'",
            binding
            + "hyperPodCluster.instanceGroups[0].availabilityZone: 'eu-west-1a' is not in region us-east-1",
            requests + "awsRegion: is required",
            requests + "minMetricValue: is required",
            requests
            + "activationTargetMetricValue: 'abc' is not a number; allowed: a decimal number such as "
            '"2" or "0.5"',
            requests + "metricStatPeriod: 25 is not allowed; allowed: 1, 5, 10, 30, 60 or a multiple of 60",
            llm + "spec.minReplicasCount: unknown field (did you mean 'minReplicaCount'?); allowed here: "
            "advanced, cooldownPeriod, fallback, idleReplicaCount, initialCooldownPeriod, maxReplicaCount, "
            "minReplicaCount, pollingInterval, scaleTargetRef, triggers",
            llm + "spec.minReplicaCount: MinReplicaCount=5 must be less than MaxReplicaCount=2",
            llm + "spec.fallback: FailureThreshold=-1 & Replicas=2 must both be greater than or equal to 0",
            llm + "metadata.annotations.autoscaling.keda.sh/paused-replicas: must be >= 0, got -1",
        ]
    )


def test_a_salvaged_document_reports_no_rule_on_a_field_that_failed(docs: Any) -> None:
    # targetMetricValue cannot be parsed: its own range rule must not run on a default in its place.
    docs.requests_metadata["targetMetricValue"] = "abc"

    errors = docs.errors()

    assert errors == [
        "config.yaml: document 5 (ScaledObject serving/llm-inference): spec.triggers[0].metadata."
        'targetMetricValue: \'abc\' is not a number; allowed: a decimal number such as "2" or "0.5"'
    ]


def test_an_invalid_document_still_takes_part_in_the_checks_across_documents(docs: Any) -> None:
    # The binding fails on one field; its podSpec (valid) is still placed on the NodePool's
    # groups, so the pods that fit no instance type are reported in the same round.
    docs.binding["spec"]["shadowMode"] = "yes"
    docs.llm_pod["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] = "8"
    docs.llm_pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "8"
    binding = "config.yaml: document 2 (ClusterBinding gpu-inference): spec."
    assert docs.errors() == [
        binding + "shadowMode: must be true or false, got string 'yes'",
        binding + "scalers[0].podSpec: the pods fit no instance type of NodePool gpu: gpu-g5-use1a "
        "(ml.g5.12xlarge): needs 8 nvidia.com/gpu, ml.g5.12xlarge has 4 allocatable; gpu-g6e-use1b "
        "(ml.g6e.12xlarge): needs 8 nvidia.com/gpu, ml.g6e.12xlarge has 4 allocatable",
    ]
