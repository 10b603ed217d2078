"""Properties every node plan keeps, on generated problems (Hypothesis).

* every pod placed on a new node fits that node's allocatable (the smallest of a flexible
  group's types, less the daemonset overhead) and may run there (selector, affinity, taints);
* pods placed on existing nodes fit what those nodes have free;
* no NodePool limit and no instance group maximum is exceeded, and no offering known to lack
  capacity is used before its entry expires;
* every pending pod is accounted for: placed, or reported unplaced with a reason;
* without limits or maxima, the plan never costs more than plain first-fit (pods largest first,
  each on the first new node with room, else a new node of the cheapest type that holds it) nor
  than Karpenter's approach (``ebb.sim.karpenter_reference``).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ebb.core.nodes import (
    ExistingNode,
    InstanceGroup,
    InstanceType,
    NodePlans,
    NodePool,
    NodeSelectorTerm,
    NodeState,
    OfferingKey,
    Operator,
    PlanningInput,
    PodGroup,
    PodsOnNode,
    PoolLimits,
    Requirement,
    Resources,
    Taint,
    TaintEffect,
    Toleration,
    UnavailableOfferings,
    plan_nodes,
)
from ebb.core.nodes.catalogue import INSTANCE_TYPE_LABEL, NODEPOOL_LABEL, node_labels
from ebb.core.nodes.planner import packing_order
from ebb.core.nodes.quantities import MIB, Vector, fits
from ebb.core.nodes.taints import blocking
from ebb.sim.karpenter_reference import karpenter_plan

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
OVERHEAD = Resources(cpu_millis=150, memory_bytes=200 * MIB, pods=1)
TAINT = Taint(key="dedicated", value="ml", effect=TaintEffect.NO_SCHEDULE)


@st.composite
def problems(draw: st.DrawFn, constrained: bool = True) -> PlanningInput:
    type_count = draw(st.integers(1, 5))
    types = []
    for index in range(type_count):
        gpus = draw(st.sampled_from([0, 0, 1, 4]))
        vcpus = draw(st.sampled_from([2, 4, 8, 16, 32]))
        types.append(
            InstanceType(
                name=f"t{index}",
                vcpus=vcpus,
                memory_mib=vcpus * draw(st.sampled_from([2048, 4096, 8192])),
                gpus=gpus,
                max_pods=draw(st.sampled_from([4, 8, 29, 110])),
                price_per_hour=round(0.05 * vcpus + 0.9 * gpus + draw(st.floats(0.0, 0.3)), 4),
                kube_reserved=Resources(cpu_millis=100, memory_bytes=300 * MIB),
            )
        )
    groups = []
    for index in range(draw(st.integers(1, 4))):
        members = draw(
            st.lists(st.sampled_from([t.name for t in types]), min_size=1, max_size=2, unique=True)
        )
        if not constrained:
            members = members[:1]
        headroom = draw(st.none() | st.integers(0, 3)) if constrained else None
        target = draw(st.integers(0, 2))
        paid = constrained and headroom is not None and draw(st.booleans())
        groups.append(
            InstanceGroup(
                name=f"g{index}",
                zone=draw(st.sampled_from(["z1", "z2"])),
                instance_types=tuple(members),
                target_count=target,
                current_count=target,
                max_count=None if headroom is None else target + headroom,
                paid_for=paid,
            )
        )
    split = draw(st.integers(1, len(groups))) if constrained and len(groups) > 1 else len(groups)
    pools = [
        NodePool(
            name="first",
            instance_groups=tuple(g.name for g in groups[:split]),
            weight=draw(st.integers(0, 100)),
            daemonset_overhead=OVERHEAD,
            limits=PoolLimits(
                cpu_millis=draw(st.none() | st.integers(0, 64_000)),
                nodes=draw(st.none() | st.integers(0, 8)),
            )
            if constrained
            else PoolLimits(),
            taints=(TAINT,) if constrained and draw(st.booleans()) else (),
        )
    ]
    if split < len(groups):
        pools.append(
            NodePool(
                name="second",
                instance_groups=tuple(g.name for g in groups[split:]),
                weight=draw(st.integers(0, 100)),
                daemonset_overhead=OVERHEAD,
            )
        )
    pod_groups = []
    for index in range(draw(st.integers(1, 4))):
        affinity: tuple[NodeSelectorTerm, ...] = ()
        if draw(st.booleans()):
            allowed = draw(st.lists(st.sampled_from([t.name for t in types]), min_size=1, unique=True))
            affinity = (
                NodeSelectorTerm(
                    match_expressions=(
                        Requirement(key=INSTANCE_TYPE_LABEL, operator=Operator.IN, values=tuple(allowed)),
                    )
                ),
            )
        pod_groups.append(
            PodGroup(
                name=f"p{index}",
                replicas=draw(st.integers(0, 14)),
                requests=Resources(
                    cpu_millis=draw(st.integers(10, 12_000)),
                    memory_bytes=draw(st.integers(16, 40_000)) * MIB,
                    gpus=draw(st.sampled_from([0, 0, 0, 1, 2])),
                ),
                node_affinity=affinity,
                tolerations=(Toleration(key="dedicated", operator="Exists"),) if draw(st.booleans()) else (),
            )
        )
    nodes = []
    unavailable = UnavailableOfferings()
    if constrained:
        for index in range(draw(st.integers(0, 3))):
            pool = draw(st.sampled_from(pools))
            group_name = draw(st.sampled_from(pool.instance_groups))
            group = next(g for g in groups if g.name == group_name)
            type_name = draw(st.sampled_from(group.instance_types))
            running = draw(st.sampled_from(pod_groups))
            nodes.append(
                ExistingNode(
                    name=f"n{index}",
                    node_pool=pool.name,
                    instance_group=group.name,
                    instance_type=type_name,
                    state=draw(st.sampled_from(list(NodeState))),
                    pods=(PodsOnNode(group=running.name, count=draw(st.integers(1, 2))),),
                    initialized_at=NOW - timedelta(hours=1),
                )
            )
        for group in groups:
            for type_name in group.instance_types:
                if draw(st.integers(0, 3)) == 0:
                    key = OfferingKey(instance_group=group.name, instance_type=type_name, zone=group.zone)
                    unavailable = unavailable.mark(key, NOW - timedelta(minutes=draw(st.integers(0, 5))))
    # A group's target counts at least its listed nodes that are not being deleted (PlanningInput
    # refuses less); the drawn target is what is requested beyond them, the headroom kept.
    for position, group in enumerate(groups):
        listed = sum(1 for n in nodes if n.instance_group == group.name and not n.deleting)
        target = max(group.target_count or 0, listed)
        groups[position] = group.model_copy(
            update={
                "target_count": target,
                "current_count": target,
                "max_count": None
                if group.max_count is None
                else group.max_count - (group.target_count or 0) + target,
            }
        )
    return PlanningInput(
        now=NOW,
        pod_groups=tuple(pod_groups),
        node_pools=tuple(pools),
        instance_groups=tuple(groups),
        instance_types=tuple(types),
        nodes=tuple(nodes),
        unavailable=unavailable,
    )


def _room(allocatable: Vector, *taken: Vector) -> Vector:
    return (
        allocatable[0] - sum(t[0] for t in taken),
        allocatable[1] - sum(t[1] for t in taken),
        allocatable[2] - sum(t[2] for t in taken),
        allocatable[3] - sum(t[3] for t in taken),
    )


def _capacity(types: list[InstanceType]) -> Vector:
    """What a node counts against limits (its largest possible type), one node."""
    return (
        max(t.capacity.cpu_millis for t in types),
        max(t.capacity.memory_bytes for t in types),
        max(t.capacity.gpus for t in types),
        1,
    )


def check(inp: PlanningInput, plans: NodePlans) -> None:
    types = {t.name: t for t in inp.instance_types}
    groups = {g.name: g for g in inp.instance_groups}
    pods = {g.name: g for g in inp.pod_groups}
    pools = {p.name: p for p in inp.node_pools}
    avoided = inp.unavailable.active(inp.now)
    running: Counter[str] = Counter()
    for node in inp.nodes:
        if not node.deleting:
            for placed in node.pods:
                running[placed.group] += placed.count
    accounted: Counter[str] = Counter()
    for plan in plans.plans:
        pool = pools[plan.node_pool]
        pool_labels = {**pool.template_labels(), NODEPOOL_LABEL: pool.name}
        overhead = pool.daemonset_overhead.vector
        used = [0, 0, 0, 0]
        for node in inp.nodes:
            if node.node_pool == pool.name:
                names = (
                    [node.instance_type] if node.instance_type else groups[node.instance_group].instance_types
                )
                for d, value in enumerate(_capacity([types[n] for n in names])):
                    used[d] += value
        added = [0, 0, 0, 0]
        for nodes in plan.new_nodes:
            group = groups[nodes.instance_group]
            assert nodes.instance_group in pool.instance_groups
            assert set(nodes.instance_types) <= set(group.instance_types)
            total = [0, 0, 0, 0]
            for name, count in nodes.pods_per_node:
                for d in range(4):
                    total[d] += pods[name].vector[d] * count
                accounted[name] += count * nodes.count
            need: Vector = (total[0], total[1], total[2], total[3])
            for type_name in nodes.instance_types:
                assert fits(need, _room(types[type_name].allocatable.vector, overhead)), (nodes, type_name)
                key = OfferingKey(instance_group=group.name, instance_type=type_name, zone=group.zone)
                assert key not in avoided
                labels = node_labels(group, types[type_name], pool_labels)
                for name, _ in nodes.pods_per_node:
                    assert pods[name].selects(labels)
                    assert not pods[name].untolerated(blocking(pool.taints))
            for d, value in enumerate(_capacity([types[t] for t in nodes.instance_types])):
                added[d] += value * nodes.count
        for replacement in plan.replacements:
            assert replacement.count == 1
        for d, cap in enumerate(pool.limits.as_vector()):
            if cap is not None and added[d]:
                assert used[d] + added[d] <= cap, (d, used, added, cap)
        for target in plan.targets:
            maximum = groups[target.instance_group].max_count
            if maximum is not None and target.target_after > target.target_before:
                assert target.target_after <= maximum
        free: dict[str, list[int]] = {}
        for node in inp.nodes:
            if node.node_pool != pool.name or node.instance_type is None:
                continue
            taken: list[Vector] = [node.unmanaged.vector, overhead]
            for running_pods in node.pods:
                v, n = pods[running_pods.group].vector, running_pods.count
                taken.append((v[0] * n, v[1] * n, v[2] * n, v[3] * n))
            # An over-committed dimension has nothing free (the generator may over-commit a node).
            free[node.name] = [max(r, 0) for r in _room(types[node.instance_type].allocatable.vector, *taken)]
        for placement in plan.placements:
            accounted[placement.group] += placement.count
            left = free.setdefault(placement.node, [0, 0, 0, 0])
            for d in range(4):
                left[d] -= pods[placement.group].vector[d] * placement.count
                assert left[d] >= 0, placement
        for unplaced in plan.unplaced:
            accounted[unplaced.group] += unplaced.count
            assert unplaced.reason
            assert str(unplaced)
    for unplaced in plans.unplaced:
        accounted[unplaced.group] += unplaced.count
    for pod in inp.pod_groups:
        assert accounted[pod.name] == max(pod.replicas - running[pod.name], 0), pod.name


def plain_first_fit_cost(inp: PlanningInput) -> float:
    """Largest first; first new node with room; else a node of the cheapest type that holds the pod."""
    (pool,) = inp.node_pools
    types = {t.name: t for t in inp.instance_types}
    overhead = pool.daemonset_overhead.vector
    choices = []
    for group in (g for g in inp.instance_groups if g.name in pool.instance_groups):
        instance_type = types[group.instance_types[0]]
        labels = node_labels(group, instance_type, {**pool.template_labels(), NODEPOOL_LABEL: pool.name})
        a = instance_type.allocatable.vector
        room = (a[0] - overhead[0], a[1] - overhead[1], a[2] - overhead[2], a[3] - overhead[3])
        choices.append((instance_type.price_per_hour, room, labels))
    choices.sort(key=lambda c: c[0])
    open_nodes: list[tuple[list[int], dict[str, str]]] = []
    cost = 0.0
    for pod in packing_order(inp.pod_groups):
        if pod.untolerated(blocking(pool.taints)):
            continue
        for _ in range(pod.replicas):
            for left, labels in open_nodes:
                if pod.selects(labels) and fits(pod.vector, (left[0], left[1], left[2], left[3])):
                    for d in range(4):
                        left[d] -= pod.vector[d]
                    break
            else:
                for price, room, labels in choices:
                    if pod.selects(labels) and fits(pod.vector, room):
                        open_nodes.append(([r - v for r, v in zip(room, pod.vector, strict=True)], labels))
                        cost += price
                        break
    return cost


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_plans_respect_capacity_compatibility_limits_and_account_for_every_pod(inp: PlanningInput) -> None:
    check(inp, plan_nodes(inp))


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(problems(constrained=False), st.sampled_from([20_000, 0]))
def test_unconstrained_plans_never_cost_more_than_first_fit_or_karpenter(
    inp: PlanningInput, exact: int
) -> None:
    inp = inp.model_copy(update={"exact_search_states": exact})
    plans = plan_nodes(inp)
    check(inp, plans)
    cost = plans.added_cost_per_hour
    unplaced = sum(u.count for p in plans.plans for u in p.unplaced) + sum(u.count for u in plans.unplaced)
    reference = karpenter_plan(inp)
    assert unplaced == sum(reference.unplaced.values())
    assert cost <= plain_first_fit_cost(inp) + 1e-9
    assert cost <= reference.cost_per_hour + 1e-9
