"""Pod scaling: the replicas KEDA plus the Kubernetes HPA would set, decided as a pure function.

Entry point: `decide_replicas(policy, observations, replicas, state, now)`; see
`ebb.core.replicas.decision` for the deliberate differences from KEDA and the setting that turns
them off.
"""

from ebb.core.replicas.cloudwatch_window import CloudWatchQueryWindow, cloudwatch_query_window
from ebb.core.replicas.decision import ReplicaDecision, decide_replicas
from ebb.core.replicas.explanation import ReplicaExplanation, Rule, TriggerReport
from ebb.core.replicas.observations import (
    CloudWatchDatapoint,
    CloudWatchResult,
    MetricFailure,
    Observation,
    ObservationMismatch,
    ReplicaCounts,
    SqsQueueAttributes,
)
from ebb.core.replicas.policy import (
    CloudWatchTrigger,
    Fallback,
    FallbackBehavior,
    HpaBehavior,
    HpaScalingPolicy,
    HpaScalingRules,
    MetricTargetType,
    ScalerPolicy,
    ScalingPolicyType,
    SelectPolicy,
    SqsQueueTrigger,
    Trigger,
)
from ebb.core.replicas.state import Recommendation, ScaleEvent, ScalerState, StateError, load_state

__all__ = [
    "CloudWatchDatapoint",
    "CloudWatchQueryWindow",
    "CloudWatchResult",
    "CloudWatchTrigger",
    "Fallback",
    "FallbackBehavior",
    "HpaBehavior",
    "HpaScalingPolicy",
    "HpaScalingRules",
    "MetricFailure",
    "MetricTargetType",
    "Observation",
    "ObservationMismatch",
    "Recommendation",
    "ReplicaCounts",
    "ReplicaDecision",
    "ReplicaExplanation",
    "Rule",
    "ScaleEvent",
    "ScalerPolicy",
    "ScalerState",
    "ScalingPolicyType",
    "SelectPolicy",
    "SqsQueueAttributes",
    "SqsQueueTrigger",
    "StateError",
    "Trigger",
    "TriggerReport",
    "cloudwatch_query_window",
    "decide_replicas",
    "load_state",
]
