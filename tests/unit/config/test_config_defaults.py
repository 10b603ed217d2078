"""Defaults that users rely on when they leave a field out.

Sources:
- HPA behavior: kubernetes/kubernetes pkg/apis/autoscaling/v2/defaults.go (1adaa753),
  GenerateHPAScaleUpRules / GenerateHPAScaleDownRules (scale-up: Pods 4 and Percent 100 per 15 s,
  window 0, Max; scale-down: Percent 100 per 15 s, Max, window from the controller's 5-minute
  --horizontal-pod-autoscaler-downscale-stabilization).
- NodePool: kubernetes-sigs/karpenter pkg/apis/v1/nodepool.go (a559e048) and nodeclaim.go
  (9a803f89) kubebuilder defaults: disruption {consolidateAfter: 0s}, consolidationPolicy
  WhenEmptyOrUnderutilized, budgets [{nodes: 10%}], expireAfter 720h.
- ClusterBinding: ebb's safe defaults (shadow mode on, no pre-warming; the empty-node delay is the
  NodePool's consolidateAfter, so `idle.emptyNodeAfter` is unset).
"""

from __future__ import annotations

from typing import Any

from ebb.config.binding import ClusterBindingSpec
from ebb.config.hpa_behavior import HpaBehavior, ScalingPolicy
from ebb.config.node_pool import NodePool


def test_an_empty_behavior_resolves_to_kubernetes_defaults() -> None:
    behavior = HpaBehavior.model_validate({})
    up, down = behavior.resolved_scale_up, behavior.resolved_scale_down
    assert (up.stabilization_window_seconds, up.select_policy) == (0, "Max")
    assert up.policies == (ScalingPolicy("Pods", 4, 15), ScalingPolicy("Percent", 100, 15))
    assert (down.stabilization_window_seconds, down.select_policy) == (300, "Max")
    assert down.policies == (ScalingPolicy("Percent", 100, 15),)


def test_only_the_fields_given_override_the_defaults() -> None:
    behavior = HpaBehavior.model_validate(
        {"scaleDown": {"stabilizationWindowSeconds": 600}, "scaleUp": {"selectPolicy": "Disabled"}}
    )
    down = behavior.resolved_scale_down
    assert down.stabilization_window_seconds == 600
    assert down.policies == (ScalingPolicy("Percent", 100, 15),)
    up = behavior.resolved_scale_up
    assert (up.select_policy, up.stabilization_window_seconds) == ("Disabled", 0)
    assert up.policies == (ScalingPolicy("Pods", 4, 15), ScalingPolicy("Percent", 100, 15))


def test_given_policies_replace_the_default_ones() -> None:
    behavior = HpaBehavior.model_validate(
        {"scaleUp": {"policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]}}
    )
    assert behavior.resolved_scale_up.policies == (ScalingPolicy("Pods", 2, 60),)


def _node_pool(spec: dict[str, Any]) -> NodePool:
    return NodePool.model_validate(
        {
            "apiVersion": "karpenter.sh/v1",
            "kind": "NodePool",
            "metadata": {"name": "gpu"},
            "spec": {
                "template": {
                    "spec": {
                        "requirements": [],
                        "nodeClassRef": {
                            "group": "karpenter.sagemaker.amazonaws.com",
                            "kind": "HyperpodNodeClass",
                            "name": "gpu",
                        },
                    }
                },
                **spec,
            },
        }
    )


def test_node_pool_defaults_are_karpenters() -> None:
    pool = _node_pool({})
    disruption = pool.spec.disruption
    assert disruption.consolidate_after.seconds == 0
    assert disruption.consolidation_policy == "WhenEmptyOrUnderutilized"
    assert [budget.nodes for budget in disruption.budgets] == ["10%"]
    assert pool.spec.template.spec.expire_after.seconds == 720 * 3600
    assert pool.spec.weight is None
    assert dict(pool.spec.limits) == {}


def test_never_disables_a_duration() -> None:
    pool = _node_pool({"disruption": {"consolidateAfter": "Never", "budgets": [{}]}})
    assert pool.spec.disruption.consolidate_after.is_never
    assert pool.spec.disruption.budgets[0].nodes == "10%"


def test_durations_add_up_their_parts() -> None:
    pool = _node_pool({"disruption": {"consolidateAfter": "1h30m15s"}})
    assert pool.spec.disruption.consolidate_after.seconds == 5415


def test_cluster_binding_defaults_are_safe() -> None:
    spec = ClusterBindingSpec.model_validate(
        {
            "region": "us-east-1",
            "hyperPodCluster": {
                "name": "ml",
                "instanceGroups": [
                    {"name": "g", "instanceType": "ml.g5.xlarge", "availabilityZone": "us-east-1a"}
                ],
            },
            "eksCluster": {"name": "eks"},
            "scalers": [{"scaledObject": {"name": "worker"}, "nodePool": "gpu"}],
        }
    )
    assert spec.shadow_mode is True
    assert spec.idle.empty_node_after is None
    assert spec.prewarm == ()
    assert dict(spec.node_overhead) == {}
    group = spec.hyper_pod_cluster.instance_groups[0]
    assert (group.min_instance_count, group.capacity_type) == (0, "on-demand")
    assert spec.scalers[0].scaled_object.namespace == "default"
