"""`ebb demo`'s last step: the shipped example, end to end, on the local cluster world.

Work arrives the way it does in AWS: messages on the batch worker's queue, and requests at the
LLM's Application Load Balancer (`ebb.local.load_balancer`), in front of the Deployment's Ready
pods, which the world turns into the AWS/ApplicationELB metrics ELB publishes (503s from the load
balancer itself while no pod is Ready, requests per target once pods serve), each minute's
readable a minute after it ends. Nothing is put by hand.

This drives ebb's pieces directly, in the order the `decide` service and the `provision` workflow
call them (moving the demo onto the deployed system itself is the next issue): read the scalers'
metrics through boto3 as the real adapters do (SQS GetQueueAttributes; CloudWatch GetMetricData
for the window the replica core asks for), decide each scaler's replicas with `decide_replicas`
(carrying its state), scale the Deployments through ebb's Kubernetes adapter, read nodes and pods
back through it, plan the NodePool with the node core (its static inputs from
`ebb.config.node_planning`) and carry out the plan's additions with ebb's HyperPod adapter
(BatchAddClusterNodes, deterministic ClientToken). Removals the plan proposes are shown, not
carried out: draining and deleting nodes is the provisioning workflow's, which this loop does not
run.

Everything runs on the world's one simulated clock with a fixed seed: the same seed prints the
same story, in a few seconds of wall time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import boto3
import yaml
from rich.console import Console

from ebb.adapters.hyperpod import SageMakerHyperPod
from ebb.adapters.hyperpod_requests import chunk_additions
from ebb.adapters.kubernetes import EksKubernetesClient, Node, Pod, WorkloadRef
from ebb.config import EbbConfig, ScaledObject, load_config_files
from ebb.config.keda_triggers import AwsCloudWatchTrigger, AwsSqsQueueTrigger
from ebb.config.node_planning import GroupCounts, planning_input, pod_group_name
from ebb.config.replica_policy import scaler_policy, trigger_name
from ebb.core.nodes import ExistingNode, NodePlan, NodeState, PodsOnNode, plan_nodes
from ebb.core.replicas import (
    CloudWatchDatapoint,
    CloudWatchQueryWindow,
    CloudWatchResult,
    CloudWatchTrigger,
    Observation,
    ReplicaCounts,
    ReplicaDecision,
    ScalerPolicy,
    ScalerState,
    SqsQueueAttributes,
    decide_replicas,
)
from ebb.local.cluster import ClusterWorldConfig, HyperPodOnEks, start_cluster_world
from ebb.local.kubernetes import StandInTimings
from ebb.local.load_balancer import LocalLoadBalancer
from ebb.local.stack_deployment import BOOT_SECONDS, create_example_cluster
from ebb.local.world import LocalWorldConfig

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef

DEFAULT_SEED = 7
ROUND_SECONDS = 60
"""How often ebb decides here: the periodic tick's cadence."""
LOAD_ROUNDS = 10
"""Rounds with work coming in, before the queue drains and the traffic stops."""
MAX_QUIET_ROUNDS = 20
"""Rounds after the work stops: enough for the metrics' window (300 s) and the longest cooldown
(600 s) to pass, plus the pods' termination."""
REQUESTS_PER_MINUTE = 900
"""Traffic at the LLM's load balancer while work comes in."""
BATCH_MESSAGES = 10
TIMINGS = StandInTimings(
    controller_delay_seconds=1,
    container_start_seconds=20,
    model_load_seconds=90,
    gpu_allocatable_delay_seconds=30,
    pod_termination_seconds=10,
)
GPU = "nvidia.com/gpu"
# A template of no resources: the scenario creates the one queue it needs itself, as a user would
# have created it before writing the ScaledObject that names it.
_TEMPLATE = 'AWSTemplateFormatVersion: "2010-09-09"\nResources: {}\n'


@dataclass
class Scaler:
    """One ScaledObject and what the scenario carries between its decisions."""

    scaled_object: ScaledObject
    policy: ScalerPolicy
    target: WorkloadRef
    state: ScalerState | None = None


@dataclass(frozen=True)
class RoundRecord:
    """What one decision round saw and did, for the test and the summary."""

    at: timedelta
    desired: dict[str, int]
    ready: dict[str, int]
    nodes_added: int
    ready_pods_by_group: dict[str, int]
    """Ready pods per HyperPod instance group of the node they run on."""


@dataclass
class ScenarioOutcome:
    """The rounds, and the instance groups of the pool the scenario planned."""

    rounds: list[RoundRecord] = field(default_factory=list)
    pool_groups: tuple[str, ...] = ()


# --- the world --------------------------------------------------------------------------------------


@contextmanager
def _world(config: EbbConfig, seed: int) -> Iterator[HyperPodOnEks]:
    with tempfile.TemporaryDirectory(prefix="ebb-demo-") as directory:
        template = Path(directory) / "template.yaml"
        template.write_text(_TEMPLATE, encoding="utf-8")
        with start_cluster_world(
            template,
            LocalWorldConfig(seed=seed, region=config.binding.spec.region),
            ClusterWorldConfig(
                eks_cluster_name=config.binding.spec.eks_cluster.name,
                kubernetes_timings=TIMINGS,
                catalogue=config.catalogue,
                record_timeline=False,
            ),
        ) as cluster:
            yield cluster


def _create_hyperpod_cluster(cluster: HyperPodOnEks, config: EbbConfig) -> None:
    """The binding's HyperPod cluster (each group in a subnet of its zone, Continuous provisioning,
    fixed boot times so the story is exact); returns once it is InService."""
    create_example_cluster(cluster, config)


def _raw_pod_specs(examples: Path) -> dict[str, dict[str, Any]]:
    """The binding's `podSpec`s as written (image and all), by `namespace/name` of the ScaledObject."""
    specs: dict[str, dict[str, Any]] = {}
    for path in sorted(examples.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not document or document.get("kind") != "ClusterBinding":
                continue
            for entry in document["spec"]["scalers"]:
                ref = entry["scaledObject"]
                if "podSpec" in entry:
                    specs[f"{ref.get('namespace', 'default')}/{ref['name']}"] = entry["podSpec"]
    return specs


def _create_deployments(
    cluster: HyperPodOnEks, scalers: list[Scaler], pod_specs: Mapping[str, dict[str, Any]]
) -> None:
    """Each ScaledObject's target Deployment at 0 replicas, its pods from the binding's podSpec."""
    for scaler in scalers:
        name = scaler.target.name
        cluster.kubernetes.create(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": scaler.target.namespace},
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": pod_specs[scaler.scaled_object.qualified_name],
                    },
                },
            }
        )


# --- reading metrics the way the adapters will --------------------------------------------------------


def _observe(scaler: Scaler, now: datetime) -> dict[str, Observation]:
    """One observation per trigger: GetQueueAttributes, or GetMetricData over the core's window."""
    observations: dict[str, Observation] = {}
    for index, trigger in enumerate(scaler.scaled_object.spec.triggers):
        name = trigger_name(index, trigger)
        if isinstance(trigger, AwsSqsQueueTrigger):
            sqs = boto3.client("sqs", region_name=trigger.metadata.aws_region)
            answer = sqs.get_queue_attributes(
                QueueUrl=trigger.metadata.queue_url,
                AttributeNames=list(trigger.metadata.attribute_names),  # type: ignore[arg-type]
            )
            observations[name] = SqsQueueAttributes(attributes=dict(answer.get("Attributes", {})))
        else:
            core_trigger = scaler.policy.triggers[index]
            assert isinstance(core_trigger, CloudWatchTrigger)
            observations[name] = _cloudwatch(trigger, core_trigger.query_window(now))
    return observations


def _cloudwatch(trigger: AwsCloudWatchTrigger, window: CloudWatchQueryWindow) -> CloudWatchResult:
    # The window the core judges the datapoints against, so the two cannot disagree.
    metadata = trigger.metadata
    start, end = window
    cloudwatch = boto3.client("cloudwatch", region_name=metadata.aws_region)
    answer = cloudwatch.get_metric_data(
        # The query KEDA makes (awsAccountId included); the config's TypedDict mirrors botocore's shape.
        MetricDataQueries=[cast("MetricDataQueryTypeDef", metadata.metric_data_query("m0"))],
        StartTime=start,
        EndTime=end,
        ScanBy="TimestampDescending",
    )
    results = answer.get("MetricDataResults", [])
    if not results:
        return CloudWatchResult(datapoints=None)
    result = results[0]
    return CloudWatchResult(
        datapoints=tuple(
            CloudWatchDatapoint(timestamp=moment, value=value)
            for moment, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True)
        )
    )


def _alb_dimensions(scaler: Scaler, metric: str) -> dict[str, str] | None:
    for trigger in scaler.scaled_object.spec.triggers:
        if isinstance(trigger, AwsCloudWatchTrigger) and trigger.metadata.metric_name == metric:
            return dict(trigger.metadata.dimensions)
    return None


@dataclass
class Traffic:
    """The load balancer in front of a scaler's pods, and the traffic the scenario sends it."""

    scaler: Scaler
    balancer: LocalLoadBalancer
    target_group: str
    served_before: int = 0
    rejected_before: int = 0

    def last_round(self) -> str:
        """What the load balancer did since the last call, for the round's header."""
        served = self.balancer.served_total - self.served_before
        rejected = self.balancer.rejected_total - self.rejected_before
        self.served_before, self.rejected_before = self.balancer.served_total, self.balancer.rejected_total
        return f"ALB: {served} served, {rejected} x 503"


def _arn_suffix(value: str, kind: str) -> tuple[str, str]:
    """(name, id) of an ELB dimension value `<kind>/<name>/<id>` (e.g. app/llm/50dc6c495c0c9188)."""
    parts = value.split("/")
    if len(parts) != 3 or parts[0] != kind:
        raise ValueError(f"{value!r} is not a {kind}/<name>/<id> dimension value")
    return parts[1], parts[2]


def _create_load_balancers(cluster: HyperPodOnEks, config: EbbConfig, scalers: list[Scaler]) -> list[Traffic]:
    """For each scaler woken by a load balancer's 503s: that ALB, named as its triggers name it.

    The user created the load balancer and its target group before writing the ScaledObject
    that names their dimension values, so the scenario gives them exactly those names and ids;
    the target group's targets are the Deployment's Ready pods, and the load balancer spans the
    zones of the cluster's instance groups.
    """
    zones = tuple(
        sorted({g.availability_zone for g in config.binding.spec.hyper_pod_cluster.instance_groups})
    )
    traffic = []
    for scaler in scalers:
        wake = _alb_dimensions(scaler, "HTTPCode_ELB_503_Count")
        per_target = _alb_dimensions(scaler, "RequestCountPerTarget")
        if wake is None or per_target is None:
            continue
        name, identifier = _arn_suffix(wake["LoadBalancer"], "app")
        group_name, group_identifier = _arn_suffix(per_target["TargetGroup"], "targetgroup")
        balancer = cluster.world.create_load_balancer(name, availability_zones=zones, identifier=identifier)
        selector = {"app": scaler.target.name}  # the Deployment's pod labels (see _create_deployments)
        balancer.add_target_group(
            group_name,
            healthy_targets=cluster.ready_pod_targets(scaler.target.namespace, selector),
            identifier=group_identifier,
        )
        traffic.append(Traffic(scaler, balancer, group_name))
    return traffic


# --- the cluster as ebb's adapters see it ---------------------------------------------------------------


def _replica_counts(client: EksKubernetesClient, target: WorkloadRef) -> ReplicaCounts:
    scale = client.read_scale(target)
    ready = sum(1 for pod in client.pods_of(target) if pod.is_ready and not pod.is_terminating)
    return ReplicaCounts(spec=scale.spec.replicas, status=scale.status.replicas, ready=ready)


def _instance_id(node: Node) -> str | None:
    provider = node.spec.provider_id or ""
    return provider.rsplit("/", 1)[-1] or None


def _node_state(node: Node) -> NodeState:
    # A GPU node takes GPU pods only once the device plugin has registered its GPUs.
    if not node.is_ready or node.spec.unschedulable:
        return NodeState.REGISTERED
    return NodeState.READY if node.status.allocatable.get(GPU, 0) else NodeState.REGISTERED


@dataclass
class NodeMemory:
    """What ebb remembers of a joined node between decisions (the state table will hold it).

    Karpenter's consolidation needs when a node became usable and when a pod last came or went;
    neither is on the Node object, so the scenario records them as it observes them.
    """

    initialized_at: datetime | None = None
    pods: tuple[PodsOnNode, ...] = ()
    last_pod_event_at: datetime | None = None


def _existing_nodes(
    hyperpod: SageMakerHyperPod,
    kubernetes_nodes: list[Node],
    pods: Mapping[str, list[Pod]],
    *,
    pool: str,
    pool_groups: tuple[str, ...],
    memory: dict[str, NodeMemory],
    now: datetime,
) -> tuple[ExistingNode, ...]:
    """HyperPod's nodes of the pool's groups, joined (from Kubernetes) or still launching."""
    by_instance = {_instance_id(node): node for node in kubernetes_nodes}
    counts: dict[str, dict[str, int]] = {}
    for group_name, group_pods in pods.items():
        for pod in group_pods:
            if pod.node_name is not None and not pod.is_terminating:
                per_node = counts.setdefault(pod.node_name, {})
                per_node[group_name] = per_node.get(group_name, 0) + 1
    nodes = []
    for hyperpod_node in sorted(hyperpod.list_nodes(), key=lambda n: n.key):
        if hyperpod_node.instance_group not in pool_groups:
            continue
        joined = by_instance.get(hyperpod_node.instance_id) if hyperpod_node.instance_id else None
        if joined is None:
            nodes.append(
                ExistingNode(
                    name=hyperpod_node.key,
                    node_pool=pool,
                    instance_group=hyperpod_node.instance_group,
                    instance_type=hyperpod_node.instance_type,
                    state=NodeState.LAUNCHING,
                    launched_at=hyperpod_node.launch_time,
                )
            )
            continue
        on_node = tuple(PodsOnNode(group=g, count=c) for g, c in sorted(counts.get(joined.name, {}).items()))
        state = _node_state(joined)
        remembered = memory.setdefault(joined.name, NodeMemory(last_pod_event_at=now))
        if state is NodeState.READY and remembered.initialized_at is None:
            remembered.initialized_at = now
        if on_node != remembered.pods:
            remembered.pods, remembered.last_pod_event_at = on_node, now
        nodes.append(
            ExistingNode(
                name=joined.name,
                node_pool=pool,
                instance_group=hyperpod_node.instance_group,
                instance_type=hyperpod_node.instance_type,
                state=state,
                pods=on_node,
                launched_at=hyperpod_node.launch_time,
                initialized_at=remembered.initialized_at,
                last_pod_event_at=remembered.last_pod_event_at,
            )
        )
    return tuple(nodes)


# --- the scenario ---------------------------------------------------------------------------------------


def run_scenario(examples: Path, console: Console, *, seed: int = DEFAULT_SEED) -> ScenarioOutcome:
    """Run the shipped example on the local cluster world and print each decision round."""
    config = load_config_files(sorted(examples.glob("*.yaml")))
    (pool_config,) = config.node_pools  # the example has one NodePool; the scenario plans that one
    pool = pool_config.name
    pool_groups = tuple(group.name for group in config.instance_groups_of(pool_config))
    scalers = [
        Scaler(
            scaled_object=so,
            policy=scaler_policy(config, so),
            target=WorkloadRef(namespace=so.namespace, name=so.spec.scale_target_ref.name),
        )
        for so in config.scaled_objects_of(pool_config)
    ]
    outcome = ScenarioOutcome(pool_groups=pool_groups)
    console.print(
        "[dim]Driving ebb's pieces directly (metrics -> decide_replicas -> scale -> node plan -> "
        "BatchAddClusterNodes); the decide service and the provision state machine come in later "
        f"issues. Seed {seed}; one round every {ROUND_SECONDS} simulated seconds.[/dim]"
    )
    with _world(config, seed) as cluster:
        world = cluster.world
        started = world.now()
        _create_hyperpod_cluster(cluster, config)
        # The rounds' clock runs from `started`: the cluster's Creating phase is part of the story.
        in_service = world.now()
        _create_deployments(cluster, scalers, _raw_pod_specs(examples))
        queue_urls = _create_queues(scalers)
        traffic = _create_load_balancers(cluster, config, scalers)
        region = config.binding.spec.region
        hyperpod = SageMakerHyperPod(config.binding.spec.hyper_pod_cluster.name, region_name=region)
        kubernetes = EksKubernetesClient.for_eks_cluster(
            config.binding.spec.eks_cluster.name, session=boto3.Session(region_name=region)
        )
        deployments = [f"{s.target.namespace}/{s.target.name}" for s in scalers]
        try:
            console.print(
                f"HyperPod cluster {config.binding.spec.hyper_pod_cluster.name!r} (Continuous provisioning, "
                f"InService at t+{_clock_label(in_service - started)}): "
                + ", ".join(
                    f"{g.name} ({g.instance_type}, {g.availability_zone})"
                    for g in config.binding.spec.hyper_pod_cluster.instance_groups
                )
                + f"; Deployments {', '.join(deployments)} at 0 replicas; "
                f"model load {TIMINGS.model_load_seconds:g} s, node boot {BOOT_SECONDS:g} s."
            )
            sqs = boto3.client("sqs", region_name=region)
            for url in queue_urls:
                sqs.send_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "MessageBody": f"job-{i}"} for i in range(BATCH_MESSAGES)],
                )
                console.print(f"Sent {BATCH_MESSAGES} messages to {url}.")
            for flow in traffic:
                flow.balancer.set_request_rate(flow.target_group, REQUESTS_PER_MINUTE)
                group = flow.balancer.target_groups[flow.target_group]
                console.print(
                    f"Traffic: {REQUESTS_PER_MINUTE} requests/min at load balancer {flow.balancer.dimension} "
                    f"(target group {group.dimension}: the Ready pods of "
                    f"{flow.scaler.scaled_object.qualified_name}; HTTP 503 from the ALB itself while none "
                    "is Ready). AWS/ApplicationELB metrics are readable a minute after each minute."
                )
            known_nodes: set[str] = set()
            node_memory: dict[str, NodeMemory] = {}
            quiet_rounds = 0
            for index in range(LOAD_ROUNDS + MAX_QUIET_ROUNDS):
                loaded = index < LOAD_ROUNDS
                if index == LOAD_ROUNDS:
                    for url in queue_urls:
                        sqs.purge_queue(QueueUrl=url)
                    for flow in traffic:
                        flow.balancer.set_request_rate(flow.target_group, 0)
                    console.rule("[bold]work done: queue drained, traffic stopped[/bold]")
                record = _round(
                    console,
                    config,
                    scalers,
                    kubernetes,
                    hyperpod,
                    world_now=world.now(),
                    started=started,
                    pool=pool,
                    pool_groups=pool_groups,
                    known_nodes=known_nodes,
                    node_memory=node_memory,
                    traffic=traffic,
                )
                outcome.rounds.append(record)
                world.run_for(ROUND_SECONDS)
                if not loaded:
                    quiet_rounds += 1
                    if all(v == 0 for v in record.desired.values()) and all(
                        v == 0 for v in record.ready.values()
                    ):
                        break
            console.print(
                "[dim]Both scalers are back at zero. The empty nodes stay for now: removing them "
                "(after consolidateAfter, within the disruption budget: drain, then "
                "BatchDeleteClusterNodes) is the provisioning workflow's job, which this demo's "
                "own loop does not run (the deployed system's tests do).[/dim]"
            )
        finally:
            kubernetes.close()
    return outcome


def _create_queues(scalers: list[Scaler]) -> list[str]:
    """The SQS queues the scalers read (CreateQueue by the name in the trigger's queueURL)."""
    urls = []
    for scaler in scalers:
        for trigger in scaler.scaled_object.spec.triggers:
            if isinstance(trigger, AwsSqsQueueTrigger):
                sqs = boto3.client("sqs", region_name=trigger.metadata.aws_region)
                sqs.create_queue(QueueName=trigger.metadata.queue_name)
                urls.append(trigger.metadata.queue_url)
    return urls


def _clock_label(elapsed: timedelta) -> str:
    """`mm:ss` of simulated time since the scenario started."""
    minutes, seconds = divmod(int(elapsed.total_seconds()), 60)
    return f"{minutes:02d}:{seconds:02d}"


def _round(
    console: Console,
    config: EbbConfig,
    scalers: list[Scaler],
    kubernetes: EksKubernetesClient,
    hyperpod: SageMakerHyperPod,
    *,
    world_now: datetime,
    started: datetime,
    pool: str,
    pool_groups: tuple[str, ...],
    known_nodes: set[str],
    node_memory: dict[str, NodeMemory],
    traffic: list[Traffic],
) -> RoundRecord:
    """One decision round: metrics, replicas, scale, plan, add nodes; printed as it goes."""
    elapsed = world_now - started
    counts = {s.scaled_object.qualified_name: _replica_counts(kubernetes, s.target) for s in scalers}
    seen = "; ".join(flow.last_round() for flow in traffic) or "no load balancer"
    console.rule(f"[bold]t+{_clock_label(elapsed)}[/bold]  ({seen})", align="left")

    decisions: dict[str, ReplicaDecision] = {}
    for scaler in scalers:
        key = scaler.scaled_object.qualified_name
        decision = decide_replicas(
            scaler.policy, _observe(scaler, world_now), counts[key], scaler.state, world_now
        )
        scaler.state = decision.state
        decisions[key] = decision
        explanation = decision.explanation
        metrics = ", ".join(str(t) for t in explanation.triggers)
        console.print(f"  [cyan]{key}[/cyan] metrics: {metrics}")
        console.print(
            f"    decision: {explanation.current} -> [bold]{explanation.desired}[/bold] ({explanation.rule})"
        )
        if decision.desired_replicas != counts[key].spec:
            kubernetes.scale(scaler.target, decision.desired_replicas)

    pods = {s.scaled_object.qualified_name: kubernetes.pods_of(s.target) for s in scalers}
    kubernetes_nodes = kubernetes.list_nodes()
    description = hyperpod.describe_cluster()
    group_counts = {
        g.name: GroupCounts(current=g.current_count, target=g.target_count)
        for g in description.instance_groups
    }
    plan_input = planning_input(
        config,
        pool,
        now=world_now,
        replicas={
            pod_group_name(s.scaled_object): decisions[s.scaled_object.qualified_name].desired_replicas
            for s in scalers
        },
        nodes=_existing_nodes(
            hyperpod,
            kubernetes_nodes,
            pods,
            pool=pool,
            pool_groups=pool_groups,
            memory=node_memory,
            now=world_now,
        ),
        group_counts={name: c for name, c in group_counts.items() if name in pool_groups},
    )
    plan = plan_nodes(plan_input).for_pool(pool)
    console.print("  " + str(plan).replace("\n", "\n  "), highlight=False)
    added = _carry_out_additions(plan, hyperpod, round_index=int(elapsed.total_seconds()) // ROUND_SECONDS)
    if added:
        console.print(f"  BatchAddClusterNodes: {added}")

    for node in sorted(kubernetes_nodes, key=lambda n: n.name):
        if node.name not in known_nodes:
            known_nodes.add(node.name)
            labels = node.labels
            console.print(
                f"  [green]node joined[/green] {node.name} "
                f"({labels.get('sagemaker.amazonaws.com/instance-group-name')}, "
                f"{labels.get('node.kubernetes.io/instance-type')}, "
                f"{labels.get('topology.kubernetes.io/zone')}, "
                f"{int(node.status.allocatable.get(GPU, 0))} GPUs allocatable)"
            )
    group_of_node = {
        node.name: node.labels.get("sagemaker.amazonaws.com/instance-group-name", "?")
        for node in kubernetes_nodes
    }
    ready_by_group: dict[str, int] = {}
    ready: dict[str, int] = {}
    for key, group_pods in pods.items():
        live = [p for p in group_pods if not p.is_terminating]
        ready_pods = [p for p in live if p.is_ready]
        ready[key] = len(ready_pods)
        for pod in ready_pods:
            group = group_of_node.get(pod.node_name or "", "?")
            ready_by_group[group] = ready_by_group.get(group, 0) + 1
        pending = sum(1 for p in live if p.node_name is None)
        console.print(f"  pods {key}: {len(ready_pods)} Ready of {len(live)} ({pending} pending)")
    return RoundRecord(
        at=elapsed,
        desired={k: d.desired_replicas for k, d in decisions.items()},
        ready=ready,
        nodes_added=plan.nodes_added,
        ready_pods_by_group=ready_by_group,
    )


def _carry_out_additions(plan: NodePlan, hyperpod: SageMakerHyperPod, *, round_index: int) -> str:
    """BatchAddClusterNodes for the plan's raised group targets; returns what was asked, or ''."""
    counts = {
        target.instance_group: target.target_after - target.target_before
        for target in plan.targets
        if target.target_after > target.target_before
    }
    if not counts:
        return ""
    asked = []
    # One "execution" per round here; the provision workflow will name it after the pool's generation.
    for request in chunk_additions(counts, execution_name=f"demo-{plan.node_pool}", round_index=round_index):
        outcome = hyperpod.add_nodes(request)
        outcome.raise_for_failures()
        asked.append(
            ", ".join(f"+{g.count} {g.instance_group}" for g in request.groups)
            + f" (ClientToken {request.client_token[:12]}..., {len(outcome.added)} node(s) accepted)"
        )
    return "; ".join(asked)
