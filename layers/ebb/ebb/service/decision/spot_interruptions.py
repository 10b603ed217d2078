"""Spot instances HyperPod lost: which nodes the decision takes for reclaimed, and what it does.

What is documented, and what is not:
- HyperPod emits no event of its own for a Spot interruption: none of the rows of "SageMaker
  HyperPod cluster events reference" ("a complete reference of all structured events emitted by
  HyperPod clusters") names Spot or an interruption, nor does botocore's EventMetadata.
- EC2's "EC2 Spot Instance Interruption Warning" goes to the account that owns the instance; a
  HyperPod instance is not the cluster owner's EC2 instance (its network interface in the
  owner's VPC is a "Customer ENI" HyperPod creates, events reference; the VPC CNI attaches ENIs
  to HyperPod nodes through SageMaker because `ec2:AttachNetworkInterface` is not authorized on
  them, aws/amazon-vpc-cni-k8s PR #3874), so ebb's account is not expected to receive it.
- What HyperPod does is documented ("Spot instances in Amazon SageMaker HyperPod", Managing Node
  Interruption): on EC2's notice it taints the node, evicts its pods and replaces the capacity,
  Spot or On-Demand "based on availability"; for a group outside Karpenter it keeps trying
  "within the same instance group". An instance going away is reported as "Termination of EC2
  Instance <id> is currently in progress ..." (the reference's Instance deletion rows), and
  ListClusterNodes shows it ShuttingDown.

Rule: a node of a Spot instance group that HyperPod shuts down (`ObservedNode.shutting_down`)
while no plan of ebb chose to remove it (`PoolState.removing`) is a reclaimed Spot instance.
A node someone else deletes by hand is taken for one too; what that costs is its offering
avoided for three minutes. A reclaimed node:
- counts as leaving at once: it is no capacity, and it is out of the group's target the decision
  starts from (HyperPod's target still counts it, for the replacement HyperPod will try);
- marks its offering (instance group, type, zone) unavailable for `DEFAULT_UNAVAILABLE_TTL`, once
  per instance: Karpenter marks a Spot-interrupted offering in its unavailable-offerings cache
  the same way (aws/karpenter-provider-aws pkg/controllers/interruption/controller.go,
  `handleNodeClaim`; its suite_test.go "should mark the ICE cache for the offering when getting
  a spot interruption warning"), and deletes the NodeClaim so that its pods get a new node;
- so the plan gives its pods to another offering (an on-demand group where the NodePool allows
  one), and to Spot again once the mark has expired.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from ebb.config.node_planning import GroupCounts
from ebb.core.nodes import DEFAULT_UNAVAILABLE_TTL, OfferingKey, UnavailableOfferings
from ebb.service.decision.snapshot import ObservedNode

SPOT_INTERRUPTION = "SpotInterruption"
"""The reason an offering marked for a reclaimed Spot node is recorded with."""


@dataclass(frozen=True, slots=True)
class SpotReclaim:
    """One reclaimed Spot node, and what it did to its offering."""

    node: str
    instance_id: str
    offering: OfferingKey
    until: datetime
    """When the offering's mark expires."""
    first_seen: bool
    """This decision is the first to see it (the one that marked its offering)."""

    def __str__(self) -> str:
        return (
            f"Spot node {self.node} ({self.instance_id}) reclaimed: HyperPod is shutting it down and "
            f"no plan of ebb removed it; {self.offering} avoided until {self.until.isoformat()}"
        )


@dataclass(frozen=True, slots=True)
class SpotReclaims:
    """What the decision does about reclaimed Spot nodes."""

    reclaims: tuple[SpotReclaim, ...]
    unavailable: UnavailableOfferings
    """The record with the new reclaims' offerings marked."""
    seen: dict[str, datetime]
    """`PoolState.reclaimed` to store: the reclaimed instances HyperPod still lists."""

    def without_reclaimed(self, counts: Mapping[str, GroupCounts]) -> dict[str, GroupCounts]:
        """`counts` with each group's reclaimed nodes out of its target (they are leaving)."""
        leaving = Counter(reclaim.offering.instance_group for reclaim in self.reclaims)
        return {
            name: GroupCounts(current=group.current, target=max(group.target - leaving[name], 0))
            for name, group in counts.items()
        }


def spot_reclaims(
    nodes: Iterable[ObservedNode],
    *,
    spot_zones: Mapping[str, str],
    removing: Mapping[str, datetime],
    seen: Mapping[str, datetime],
    unavailable: UnavailableOfferings,
    now: datetime,
) -> SpotReclaims:
    """The reclaimed nodes among `nodes` (see the module), their offerings marked once.

    `spot_zones` maps each Spot instance group of the pool to its zone; `removing` and `seen` are
    the pool's stored `PoolState.removing` and `PoolState.reclaimed`.
    """
    reclaims = []
    still_seen: dict[str, datetime] = {}
    for node in sorted(nodes, key=lambda n: n.name):
        if (
            not node.shutting_down
            or node.instance_group not in spot_zones
            or node.instance_id is None
            or node.instance_id in removing
        ):
            continue
        offering = OfferingKey(
            instance_group=node.instance_group,
            instance_type=node.instance_type,
            zone=spot_zones[node.instance_group],
        )
        first = node.instance_id not in seen
        if first:
            unavailable = unavailable.mark(offering, now, DEFAULT_UNAVAILABLE_TTL, SPOT_INTERRUPTION)
        still_seen[node.instance_id] = seen.get(node.instance_id, now)
        reclaims.append(
            SpotReclaim(
                node=node.name,
                instance_id=node.instance_id,
                offering=offering,
                until=_until(unavailable, offering, still_seen[node.instance_id]),
                first_seen=first,
            )
        )
    return SpotReclaims(reclaims=tuple(reclaims), unavailable=unavailable, seen=still_seen)


def still_removing(
    removing: Mapping[str, datetime],
    nodes: Iterable[ObservedNode],
    removed: Iterable[str],
    now: datetime,
) -> dict[str, datetime]:
    """`PoolState.removing` to store: the entries HyperPod still lists, and the instances of the
    nodes this decision's plan removes (`removed`, by node name)."""
    listed = {node.instance_id: node for node in nodes if node.instance_id is not None}
    by_name = {node.name: node.instance_id for node in listed.values()}
    kept = {instance: at for instance, at in removing.items() if instance in listed}
    for name in removed:
        instance = by_name.get(name)
        if instance is not None:
            kept.setdefault(instance, now)
    return dict(sorted(kept.items()))


def _until(unavailable: UnavailableOfferings, offering: OfferingKey, marked_at: datetime) -> datetime:
    entry = next((e for e in unavailable.entries if e.offering == offering), None)
    return entry.until if entry is not None else marked_at + DEFAULT_UNAVAILABLE_TTL
