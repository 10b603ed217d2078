"""A readable summary of a valid configuration, as plain values: what `ebb validate` shows."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from ebb.config.ebb_config import EbbConfig
from ebb.config.issues import ConfigIssue
from ebb.config.keda_triggers import AwsCloudWatchTrigger, AwsSqsQueueTrigger
from ebb.config.node_pool import NodePool
from ebb.config.placement import GroupPlacement, format_amount, place
from ebb.config.polling import TICK_SECONDS, PoolShape, monthly_cost, pool_interval
from ebb.config.scaled_object import ScaledObject


class _Summary(BaseModel):
    model_config = ConfigDict(frozen=True)


class TriggerSummary(_Summary):
    """One trigger, described in a sentence."""

    index: int
    name: str | None
    type: str
    metric_type: str
    description: str


class ScalerSummary(_Summary):
    """One ScaledObject: target, bounds, timing, triggers, where its pods land."""

    name: str
    target: str
    min_replicas: int
    max_replicas: int
    idle_replicas: int | None
    scales_to_zero: bool
    polling_interval_seconds: int
    cooldown_seconds: int
    paused: bool
    node_pool: str
    pod_requests: str | None
    triggers: tuple[TriggerSummary, ...]


class NodePoolSummary(_Summary):
    """One NodePool: where it draws nodes from and under which constraints."""

    name: str
    node_class: str
    instance_groups: tuple[str, ...]
    requirements: tuple[str, ...]
    limits: str
    weight: int | None
    disruption: str
    taints: tuple[str, ...]
    scalers: tuple[str, ...]
    decided_every_seconds: int = TICK_SECONDS
    """How often the tick and its polls decide the pool while it is not at rest (60: the tick alone)."""
    polling_usd_per_month: float = 0.0
    """What polling it more often than the tick costs a month, estimated (`ebb.config.polling`)."""


class InstanceGroupSummary(_Summary):
    """One HyperPod instance group and what its instance type offers."""

    name: str
    instance_type: str
    zone: str
    capacity_type: str
    min_instance_count: int
    vcpu: int | None
    memory_gib: float | None
    gpus: int | None
    gpu_model: str | None
    usd_per_hour: float | None
    node_pool: str | None


class PlacementSummary(_Summary):
    """Whether a scaler's pods land on an instance group of its pool, and how many fit a node."""

    scaler: str
    instance_group: str
    instance_type: str
    lands: bool
    pods_per_node: int | None
    detail: str


class ConfigSummary(_Summary):
    """Everything `ebb validate` prints about a valid configuration."""

    binding: str
    region: str
    hyperpod_cluster: str
    eks_cluster: str
    shadow_mode: bool
    prewarm_windows: int
    price_basis: str
    scalers: tuple[ScalerSummary, ...]
    node_pools: tuple[NodePoolSummary, ...]
    instance_groups: tuple[InstanceGroupSummary, ...]
    placements: tuple[PlacementSummary, ...]
    notes: tuple[ConfigIssue, ...]


def summarize(config: EbbConfig) -> ConfigSummary:
    """Summarize a validated configuration."""
    spec = config.binding.spec
    prices = config.catalogue.prices
    return ConfigSummary(
        binding=config.binding.name,
        region=spec.region,
        hyperpod_cluster=spec.hyper_pod_cluster.name,
        eks_cluster=spec.eks_cluster.name,
        shadow_mode=spec.shadow_mode,
        prewarm_windows=len(spec.prewarm),
        price_basis=f"{prices.currency} per hour, {prices.region}, {prices.retrieved}",
        scalers=tuple(_scaler(config, so) for so in config.scaled_objects),
        node_pools=tuple(_node_pool(config, pool) for pool in config.node_pools),
        instance_groups=tuple(_instance_groups(config)),
        placements=tuple(_placements(config)),
        notes=config.notes,
    )


def _scaler(config: EbbConfig, scaled_object: ScaledObject) -> ScalerSummary:
    spec = scaled_object.spec
    target = spec.scale_target_ref
    pod_spec = config.scaler_binding(scaled_object).pod_spec
    return ScalerSummary(
        name=scaled_object.qualified_name,
        target=f"{target.kind}/{target.name}",
        min_replicas=spec.min_replicas,
        max_replicas=spec.max_replicas,
        idle_replicas=spec.idle_replica_count,
        scales_to_zero=spec.scales_to_zero,
        polling_interval_seconds=spec.polling_interval,
        cooldown_seconds=spec.cooldown_period,
        paused=scaled_object.paused or scaled_object.paused_replicas is not None,
        node_pool=config.scaler_binding(scaled_object).node_pool,
        pod_requests=None if pod_spec is None else _requests_text(pod_spec.effective_requests()),
        triggers=tuple(_trigger(index, trigger) for index, trigger in enumerate(spec.triggers)),
    )


def _requests_text(requests: dict[str, Decimal]) -> str:
    return ", ".join(f"{name}={format_amount(name, amount)}" for name, amount in sorted(requests.items()))


def _trigger(index: int, trigger: AwsSqsQueueTrigger | AwsCloudWatchTrigger) -> TriggerSummary:
    if isinstance(trigger, AwsSqsQueueTrigger):
        sqs = trigger.metadata
        counted = " + ".join(name.removeprefix("ApproximateNumberOf") for name in sqs.attribute_names)
        description = (
            f"SQS queue {sqs.queue_name} ({sqs.aws_region}): {sqs.queue_length} messages per replica, "
            f"active above {sqs.activation_queue_length}; counts {counted}"
        )
    else:
        cw = trigger.metadata
        if cw.expression is not None:
            # ebb.service.signals.has_alarm: no alarm of its own, so nothing wakes it between ticks.
            source = f"expression {cw.expression!r} (no alarm: read at the one-minute tick)"
        else:
            dimensions = ", ".join(f"{name}={value}" for name, value in cw.dimensions)
            source = f"{cw.namespace} {cw.metric_name} [{dimensions}] {cw.metric_stat}"
        wake = "; wakes from zero on the load balancer's errors" if cw.is_alb_wake_signal else ""
        if cw.aws_account_id is not None:
            source += f" in account {cw.aws_account_id}"
        description = (
            f"CloudWatch {source} per {cw.metric_stat_period}s over {cw.metric_collection_time}s "
            f"({cw.aws_region}): target {cw.target_metric_value:g}, active above "
            f"{cw.activation_target_metric_value:g}{wake}"
        )
    return TriggerSummary(
        index=index,
        name=trigger.name,
        type=trigger.type,
        metric_type=trigger.metric_type,
        description=description,
    )


def _node_pool(config: EbbConfig, pool: NodePool) -> NodePoolSummary:
    template = pool.spec.template.spec
    disruption = pool.spec.disruption
    budgets = ", ".join(budget.nodes for budget in disruption.budgets)
    interval = pool_interval(config, pool.name)
    return NodePoolSummary(
        name=pool.name,
        node_class=pool.node_class_name,
        instance_groups=tuple(group.name for group in config.instance_groups_of(pool)),
        requirements=tuple(
            f"{r.key} {r.operator} {', '.join(r.values)}".rstrip() for r in template.requirements
        ),
        limits=", ".join(f"{name}={quantity}" for name, quantity in pool.spec.limits.items()) or "none",
        weight=pool.spec.weight,
        disruption=(
            f"{disruption.consolidation_policy} after {disruption.consolidate_after}; budgets {budgets}; "
            f"expire after {template.expire_after}"
        ),
        taints=tuple(taint.describe() for taint in template.taints),
        scalers=tuple(so.qualified_name for so in config.scaled_objects_of(pool)),
        decided_every_seconds=interval or TICK_SECONDS,
        polling_usd_per_month=round(monthly_cost(interval, PoolShape.of(config, pool.name)), 2),
    )


def _instance_groups(config: EbbConfig) -> list[InstanceGroupSummary]:
    pool_of_group = {
        group.name: pool.name for pool in config.node_pools for group in config.instance_groups_of(pool)
    }
    summaries = []
    for group in config.binding.spec.hyper_pod_cluster.instance_groups:
        spec = config.catalogue.get(group.instance_type)
        summaries.append(
            InstanceGroupSummary(
                name=group.name,
                instance_type=group.instance_type,
                zone=group.availability_zone,
                capacity_type=group.capacity_type,
                min_instance_count=group.min_instance_count,
                vcpu=None if spec is None else spec.vcpu,
                memory_gib=None if spec is None else spec.memory_gib,
                gpus=None if spec is None else spec.gpus,
                gpu_model=None if spec is None else spec.gpu_model,
                usd_per_hour=None if spec is None else spec.on_demand_usd_per_hour,
                node_pool=pool_of_group.get(group.name),
            )
        )
    return summaries


def _placements(config: EbbConfig) -> list[PlacementSummary]:
    groups = {g.name: g for g in config.binding.spec.hyper_pod_cluster.instance_groups}
    specs = {
        name: spec for name in config.catalogue.names() if (spec := config.catalogue.get(name)) is not None
    }
    summaries = []
    for scaled_object in config.scaled_objects:
        binding = config.scaler_binding(scaled_object)
        pool = config.node_pool_of(scaled_object)
        pool_groups = tuple(group.name for group in config.instance_groups_of(pool))
        for placement in place(
            binding.pod_spec,
            pool,
            pool_groups,
            groups=groups,
            specs=specs,
            node_overhead=config.node_overhead(),
        ):
            if not placement.in_pool:
                continue
            summaries.append(
                PlacementSummary(
                    scaler=scaled_object.qualified_name,
                    instance_group=placement.instance_group,
                    instance_type=placement.instance_type,
                    lands=placement.lands,
                    pods_per_node=None if placement.fit is None else placement.fit.pods_per_node,
                    detail=_placement_detail(placement),
                )
            )
    return summaries


def _placement_detail(placement: GroupPlacement) -> str:
    if not placement.admitted:
        return placement.admission_reason
    if not placement.selected:
        return "not selected by the pod template"
    if placement.untolerated_taints:
        return f"taints not tolerated: {', '.join(placement.untolerated_taints)}"
    if placement.fit is None:
        return "fit not checked (no podSpec in the binding)"
    return placement.fit.reason
