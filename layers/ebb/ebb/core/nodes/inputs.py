"""Everything the node planner decides from, checked for consistency as one model."""

from collections import Counter
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ebb.core.nodes.catalogue import InstanceGroup, InstanceType
from ebb.core.nodes.nodepool import NodePool
from ebb.core.nodes.offerings import UnavailableOfferings
from ebb.core.nodes.workload import ExistingNode, PodGroup


def _duplicates(names: list[str]) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


class PlanningInput(BaseModel):
    """The pods to run, the pools and instance groups that can run them, and what exists now."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    now: AwareDatetime
    pod_groups: tuple[PodGroup, ...] = ()
    node_pools: tuple[NodePool, ...] = Field(min_length=1)
    instance_groups: tuple[InstanceGroup, ...] = Field(min_length=1)
    instance_types: tuple[InstanceType, ...] = Field(min_length=1)
    nodes: tuple[ExistingNode, ...] = ()
    unavailable: UnavailableOfferings = UnavailableOfferings()
    exact_search_states: int = Field(default=20_000, ge=0)
    """Problems with at most this many pod-count combinations are solved exactly (0: never)."""
    reshare_trials: int = Field(default=48, ge=0)
    """Whole plans tried when moving constrained groups' pods between zones (0: never; see
    :mod:`ebb.core.nodes.reshare`)."""

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        problems: list[str] = []
        for what, names in (
            ("pod_groups", [g.name for g in self.pod_groups]),
            ("node_pools", [p.name for p in self.node_pools]),
            ("instance_groups", [g.name for g in self.instance_groups]),
            ("instance_types", [t.name for t in self.instance_types]),
            ("nodes", [n.name for n in self.nodes]),
        ):
            for name in _duplicates(names):
                problems.append(f"{what}: name {name!r} is used twice")
        types = {t.name for t in self.instance_types}
        groups = {g.name: g for g in self.instance_groups}
        pods = {g.name for g in self.pod_groups}
        owner: dict[str, str] = {}
        for index, group in enumerate(self.instance_groups):
            for type_name in group.instance_types:
                if type_name not in types:
                    problems.append(
                        f"instance_groups[{index}] {group.name!r}: instance type {type_name!r} "
                        "is not in instance_types"
                    )
        for index, pool in enumerate(self.node_pools):
            for group_name in pool.instance_groups:
                if group_name not in groups:
                    problems.append(
                        f"node_pools[{index}] {pool.name!r}: instance group {group_name!r} "
                        "is not in instance_groups"
                    )
                elif group_name in owner:
                    problems.append(
                        f"node_pools[{index}] {pool.name!r}: instance group {group_name!r} "
                        f"already belongs to node pool {owner[group_name]!r}"
                    )
                else:
                    owner[group_name] = pool.name
        for index, node in enumerate(self.nodes):
            where = f"nodes[{index}] {node.name!r}"
            node_group = groups.get(node.instance_group)
            if node_group is None:
                problems.append(f"{where}: instance group {node.instance_group!r} is not in instance_groups")
            elif owner.get(node.instance_group) != node.node_pool:
                problems.append(
                    f"{where}: instance group {node.instance_group!r} is not one of "
                    f"node pool {node.node_pool!r}'s"
                )
            elif node.instance_type is not None and node.instance_type not in node_group.instance_types:
                problems.append(
                    f"{where}: instance type {node.instance_type!r} is not one of "
                    f"group {node_group.name!r}'s types"
                )
            for placed in node.pods:
                if placed.group not in pods:
                    problems.append(
                        f"{where}: runs pods of {placed.group!r}, which is not in pod_groups "
                        "(pass pods ebb does not manage as unmanaged)"
                    )
        listed = self._nodes_listed()
        for index, group in enumerate(self.instance_groups):
            count = listed.get(group.name, 0)
            if group.target_count is not None and group.target_count < count:
                problems.append(
                    f"instance_groups[{index}] {group.name!r}: target_count {group.target_count} is below "
                    f"the {count} node(s) listed for it that are not being deleted (HyperPod's target "
                    "counts each of them; leave target_count unset to count them from nodes)"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _nodes_listed(self) -> Counter[str]:
        # A node being deleted may already be out of HyperPod's target; counting it would let a
        # derived target take the group below its minimum.
        return Counter(node.instance_group for node in self.nodes if not node.deleting)

    def target_counts(self) -> dict[str, int]:
        """Each instance group's target: as stated, or the nodes listed for it that are not being deleted."""
        listed = self._nodes_listed()
        return {
            group.name: listed.get(group.name, 0) if group.target_count is None else group.target_count
            for group in self.instance_groups
        }
