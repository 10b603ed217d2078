"""Pod scaling: the replicas KEDA plus the Kubernetes HPA would set, decided as a pure function.

Entry point: `decide_replicas(policy, observations, replicas, state, now)`; see
`ebb.core.replicas.decision` for the deliberate differences from KEDA and the setting that turns
them off.

Each name is imported from its module on first use (PEP 562), not when the package is: a
function that needs one part (the cron schedule, the offerings memory) does not build the whole
package at its cold start (`tests/unit/service/test_handler_imports.py` keeps it so).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_MODULES = {
    "CloudWatchDatapoint": "ebb.core.replicas.observations",
    "CloudWatchQueryWindow": "ebb.core.replicas.cloudwatch_window",
    "CloudWatchResult": "ebb.core.replicas.observations",
    "CloudWatchTrigger": "ebb.core.replicas.policy",
    "Fallback": "ebb.core.replicas.policy",
    "FallbackBehavior": "ebb.core.replicas.policy",
    "HpaBehavior": "ebb.core.replicas.policy",
    "HpaScalingPolicy": "ebb.core.replicas.policy",
    "HpaScalingRules": "ebb.core.replicas.policy",
    "MetricFailure": "ebb.core.replicas.observations",
    "MetricTargetType": "ebb.core.replicas.policy",
    "Observation": "ebb.core.replicas.observations",
    "ObservationMismatch": "ebb.core.replicas.observations",
    "Recommendation": "ebb.core.replicas.state",
    "ReplicaCounts": "ebb.core.replicas.observations",
    "ReplicaDecision": "ebb.core.replicas.decision",
    "ReplicaExplanation": "ebb.core.replicas.explanation",
    "Rule": "ebb.core.replicas.explanation",
    "ScaleEvent": "ebb.core.replicas.state",
    "ScalerPolicy": "ebb.core.replicas.policy",
    "ScalerState": "ebb.core.replicas.state",
    "ScalingPolicyType": "ebb.core.replicas.policy",
    "SelectPolicy": "ebb.core.replicas.policy",
    "SqsQueueAttributes": "ebb.core.replicas.observations",
    "SqsQueueTrigger": "ebb.core.replicas.policy",
    "StateError": "ebb.core.replicas.state",
    "Trigger": "ebb.core.replicas.policy",
    "TriggerReport": "ebb.core.replicas.explanation",
    "cloudwatch_query_window": "ebb.core.replicas.cloudwatch_window",
    "decide_replicas": "ebb.core.replicas.decision",
    "load_state": "ebb.core.replicas.state",
}

if not TYPE_CHECKING:  # for mypy, only the names imported above exist

    def __getattr__(name: str) -> Any:
        module = _MODULES.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        globals()[name] = value  # later lookups skip this function
        return value


def __dir__() -> list[str]:
    return sorted(__all__)


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
