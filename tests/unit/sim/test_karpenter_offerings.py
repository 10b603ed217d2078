"""Capacity shortages as Karpenter handles them: the unavailable-offerings cache and the retry.

Sources:

* aws/karpenter-provider-aws ``pkg/cache/cache.go`` (commit 126cca56394476588f38997ff55c16847ebcc595):
  ``UnavailableOfferingsTTL = 3 * time.Minute``.
* aws/karpenter-provider-aws ``pkg/cache/unavailableofferings.go`` (commit
  3ceaaaf8a5b698faf45b1efb177b8aff7154540d): the key is ``<capacityType>:<instanceType>:<zone>``;
  ``MarkUnavailable`` calls ``SetDefault`` "even if the key is already in the cache ... to extend
  the cached entry's TTL"; ``IsUnavailable`` is a cache lookup.
* patrickmn/go-cache ``cache.go`` (commit 8a2f4f19efa856a7ac8b0f302a285f74bd021dbd): an item is
  expired when ``Expiration.Before(time.Now())``.
* kubernetes-sigs/karpenter ``scheduler.go`` (commit 5ed25f098dd11609bf2353e4b74341b3b957a063): the
  scheduler only sees the instance types' available offerings; a failed launch leaves its pods
  pending for the next provisioning batch.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ebb.core.nodes import InstanceGroup, InstanceType, NodePool, PlanningInput, PodGroup, Resources
from ebb.sim.karpenter_offerings import UNAVAILABLE_OFFERINGS_TTL, Offering, UnavailableOfferings
from ebb.sim.karpenter_reference import karpenter_plan

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
GPU4 = InstanceType(name="ml.g5.12xlarge", vcpus=48, memory_mib=196608, gpus=4, price_per_hour=7.09)
GPU8 = InstanceType(name="ml.g5.48xlarge", vcpus=192, memory_mib=786432, gpus=8, price_per_hour=20.36)
GROUPS = (
    InstanceGroup(name="g4-a", zone="us-west-2a", instance_types=(GPU4.name,)),
    InstanceGroup(name="g4-b", zone="us-west-2b", instance_types=(GPU4.name,)),
    InstanceGroup(name="g8-a", zone="us-west-2a", instance_types=(GPU8.name,)),
)


def inference(replicas: int) -> PlanningInput:
    return PlanningInput(
        now=NOW,
        pod_groups=(
            PodGroup(name="llm", replicas=replicas, requests=Resources.of(cpu="4", memory="16Gi", gpus=1)),
        ),
        node_pools=(NodePool(name="gpu", instance_groups=tuple(g.name for g in GROUPS)),),
        instance_groups=GROUPS,
        instance_types=(GPU4, GPU8),
    )


def test_the_ttl_is_the_aws_providers_three_minutes() -> None:
    assert timedelta(minutes=3) == UNAVAILABLE_OFFERINGS_TTL


def test_a_marked_offering_is_unavailable_for_the_ttl_and_available_after() -> None:
    cache = UnavailableOfferings()
    offering = Offering(instance_type=GPU4.name, zone="us-west-2a")
    cache.mark(offering, NOW)
    assert cache.is_unavailable(offering, NOW + timedelta(minutes=3))
    assert not cache.is_unavailable(offering, NOW + timedelta(minutes=3, microseconds=1))
    assert str(offering) == "on-demand:ml.g5.12xlarge:us-west-2a"


def test_the_key_is_capacity_type_instance_type_and_zone() -> None:
    cache = UnavailableOfferings()
    cache.mark(Offering(instance_type=GPU4.name, zone="us-west-2a"), NOW)
    assert not cache.is_unavailable(Offering(instance_type=GPU4.name, zone="us-west-2b"), NOW)
    assert not cache.is_unavailable(Offering(instance_type=GPU8.name, zone="us-west-2a"), NOW)
    assert not cache.is_unavailable(
        Offering(instance_type=GPU4.name, zone="us-west-2a", capacity_type="reserved"), NOW
    )


def test_marking_again_extends_the_entry() -> None:
    cache = UnavailableOfferings()
    offering = Offering(instance_type=GPU4.name, zone="us-west-2a")
    cache.mark(offering, NOW)
    cache.mark(offering, NOW + timedelta(minutes=2))
    assert cache.is_unavailable(offering, NOW + timedelta(minutes=4))
    assert cache.next_expiry(NOW) == NOW + timedelta(minutes=5)


def test_a_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"^ttl must be positive, got 0:00:00$"):
        UnavailableOfferings(ttl=timedelta(0))


def test_a_shortage_is_retried_on_the_next_batch_elsewhere_and_back_after_the_ttl() -> None:
    """The cheapest offering fails; the next batch plans the same pods without it, until it expires."""
    cache = UnavailableOfferings()
    first = karpenter_plan(inference(2))
    assert [(n.instance_group, n.offering) for n in first.new_nodes] == [
        ("g4-a", Offering(instance_type=GPU4.name, zone="us-west-2a"))
    ]
    # The launch fails with InsufficientInstanceCapacity: the simulator marks the offering.
    cache.mark(first.new_nodes[0].offering, NOW)
    retry = karpenter_plan(inference(2), unavailable=cache.active(NOW + timedelta(seconds=10)))
    assert [n.instance_group for n in retry.new_nodes] == ["g4-b"]
    cache.mark(retry.new_nodes[0].offering, NOW + timedelta(seconds=10))
    # Both 4-GPU offerings are out: only the 8-GPU type is left, dearer, and Karpenter takes it.
    third = karpenter_plan(inference(2), unavailable=cache.active(NOW + timedelta(seconds=20)))
    assert [(n.instance_group, n.price) for n in third.new_nodes] == [("g8-a", GPU8.price_per_hour)]
    cache.mark(third.new_nodes[0].offering, NOW + timedelta(seconds=20))
    nothing = karpenter_plan(inference(2), unavailable=cache.active(NOW + timedelta(seconds=30)))
    assert nothing.unplaced == {"llm": 2}
    assert nothing.reasons == {"llm": "no instance type of any NodePool is available"}
    later = karpenter_plan(inference(2), unavailable=cache.active(NOW + timedelta(minutes=3, seconds=1)))
    assert [n.instance_group for n in later.new_nodes] == ["g4-a"]
