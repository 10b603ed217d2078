"""A local ALB in front of a Deployment's Ready pods: requests are 503s until a pod is Ready.

What the demo and ebb's wake-from-zero rely on (Elastic Load Balancing User Guide, "CloudWatch
metrics for your Application Load Balancer"): while the target group has no healthy target the
load balancer answers every request itself, counted in HTTPCode_ELB_503_Count per load balancer
and in no request metric; once targets serve, RequestCount and RequestCountPerTarget ("The
average number of requests received by each target in a target group") count them. The targets
are the pods the AWS Load Balancer Controller would register: Ready and not terminating.
"""

from __future__ import annotations

import pytest

from ebb.local.cluster import HyperPodOnEks

from .world_testkit import add_nodes, create_hyperpod_cluster, deployment

pytestmark = pytest.mark.integration


def by_minute(cluster: HyperPodOnEks, metric: str, dimensions: dict[str, str]) -> dict[int, float]:
    start = cluster.world.config.start_time
    return {
        int((p.timestamp - start).total_seconds() // 60): p.datapoint.value
        for p in cluster.world.metrics.published
        if p.datapoint.metric_name == metric and dict(p.datapoint.dimensions) == dimensions
    }


def test_requests_are_503s_until_the_pods_are_ready_then_shared_by_the_ready_pods(
    cluster: HyperPodOnEks,
) -> None:
    create_hyperpod_cluster(cluster, boot_seconds=300)
    cluster.kubernetes.create(deployment(replicas=2))
    add_nodes(cluster, 1)
    world = cluster.world
    balancer = world.create_load_balancer("web", availability_zones=("us-east-1a", "us-east-1b"))
    group = balancer.add_target_group(
        "web", healthy_targets=cluster.ready_pod_targets("default", {"app": "web"})
    )
    balancer.set_request_rate("web", 600)
    world.run_for(12 * 60)

    lb = {"LoadBalancer": balancer.dimension}
    per_target = by_minute(cluster, "RequestCountPerTarget", {"TargetGroup": group.dimension})
    served = by_minute(cluster, "RequestCount", {"TargetGroup": group.dimension, **lb})
    rejected = by_minute(cluster, "HTTPCode_ELB_503_Count", lb)
    # The node joins at 305 s, the pods are bound at ~336 s and Ready once the model has loaded
    # (~401 s): minutes 0-5 are all 503s, minute 6 is split, from minute 7 two pods share 600.
    assert all(rejected[m] == 600 and served[m] == 0 and per_target[m] == 0 for m in range(6))
    assert rejected[6] + served[6] == 600
    assert 0 < served[6] < 600
    assert all(m not in rejected and served[m] == 600 and per_target[m] == 300 for m in range(7, 10))
    targets = cluster.ready_pod_targets("default", {"app": "web"})()
    assert len(targets) == 2
    assert all(t.target_id.startswith("default/web-") for t in targets)
    assert sorted(group.served_by_target) == sorted(t.target_id for t in targets)
    nodes = cluster.kubernetes.objects("Node")
    assert {t.availability_zone for t in targets} == {
        node["metadata"]["labels"]["topology.kubernetes.io/zone"] for node in nodes
    }
