"""`ebb demo`'s story: the example deployed from template.yaml into the local world, driven only
by traffic, time and what a user types.

The stack is `ebb.local.stack_deployment`'s: the project's own template.yaml (its functions,
state machine, rules, schedules, alarms, queues and table) deployed into the local world with
the example configuration (shadow mode off), over the example's HyperPod cluster and its
scalers' Deployments and queue. From then on the story only:

- sends requests to the LLM's load balancer (`ebb.local.load_balancer`: served by Ready pods,
  503 from the load balancer itself while none is Ready), a rate per minute;
- puts jobs on the batch worker's queue, and does the batch worker's work: each Ready worker pod
  receives one job a minute (SQS ReceiveMessage, the job then in flight) and deletes it (done)
  a minute later;
- takes one zone's capacity away and gives it back (what EC2 does to HyperPod, in the stand-in);
- types `ebb backfill ...` (the CLI's own function, against the local world's AWS APIs);
- lets the world's clock run.

What happened is read back for the display through the world's AWS APIs (DynamoDB: the state
table's audit; CloudWatch alarms; SageMaker ListClusterNodes; Step Functions executions), the
local world's records of its alarm transitions and schedule invocations, and the Kubernetes
API's objects. Nothing here calls ebb's cores or adapters.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import logging
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Protocol

from rich.console import Console

from ebb.cli import backfill
from ebb.cli.demo_traffic import Chapter, Scenario, chapter_at
from ebb.config import EbbConfig
from ebb.config.keda_triggers import AwsCloudWatchTrigger, AwsSqsQueueTrigger
from ebb.local.cluster import HyperPodOnEks
from ebb.local.kubernetes import ClusterCertificates, generate_cluster_certificates
from ebb.local.kubernetes.pods import is_active, is_ready
from ebb.local.stack_deployment import BOOT_SECONDS, STACK, deployed, run_past_next_tick
from ebb.traffic.service_model import MAX_WAIT_SECONDS, ServiceQueue

STEP_SECONDS = 30.0
"""How often the story looks at the world (and what the display's figures are sampled at)."""
GROUP_LABEL = "sagemaker.amazonaws.com/instance-group-name"
GPU = "nvidia.com/gpu"
POOL = "gpu"
LLM = "serving/llm-inference"
BATCH = "batch/batch-worker"
ZONE_OUT = ("ml.g5.12xlarge", "us-east-1a")
DIFFERENCES = (
    "shadowMode: false (the example ships true: decide and record, change nothing)",
    "the configuration is read from a directory (the ConfigDir parameter), not the config layer",
    f"HyperPod boots every GPU node in {BOOT_SECONDS:.0f} s (fixed, so that a seed gives one run)",
)
"""Every difference between the demo's deployment and `sam deploy` of the example."""


@dataclass(frozen=True)
class StoryEvent:
    """Something that happened, at a moment of the story."""

    minute: float
    """Minutes since the story started."""
    chapter: int
    kind: str
    """chapter, you, alarm, decision, provision, scale-in, timer, nodes, pods."""
    text: str


@dataclass(frozen=True)
class Sample:
    """The world at one moment: demand, replicas and nodes."""

    minute: float
    llm_requests_per_minute: int
    queue_jobs: int
    """Jobs on the batch worker's queue, visible and in flight."""
    desired: dict[str, int]
    ready: dict[str, int]
    pending_nodes: dict[str, int]
    """Per instance group: nodes HyperPod lists that are not usable yet (launching, booting,
    joining, GPUs not yet allocatable)."""
    usable_nodes: dict[str, int]
    """Per instance group: nodes Ready in Kubernetes, schedulable, GPUs allocatable."""
    leaving_nodes: dict[str, int]
    """Per instance group: nodes cordoned for scale-in, not deleted yet."""


@dataclass
class Summary:
    """The run's figures (see `summary_lines`)."""

    served: int = 0
    unserved: int = 0
    """Requests answered 503 by the load balancer (nothing Ready behind it)."""
    waited_too_long: float = 0.0
    """Of the requests a pod took, those the service model says would wait more than 10 s for
    a slot (`ebb.traffic.service_model.ServiceQueue`, fed minute by minute)."""
    first_request_minute: float | None = None
    first_ready_minute: float | None = None
    node_seconds: dict[str, float] = field(default_factory=dict)
    """Per instance type: seconds of nodes HyperPod listed (launching, running or shutting down)."""
    usd_per_hour: dict[str, float | None] = field(default_factory=dict)
    decisions: int = 0
    executions: int = 0
    retries: int = 0
    shortages: int = 0
    jobs_done: int = 0
    jobs_sent: int = 0
    simulated_minutes: float = 0.0
    wall_seconds: float = 0.0

    @property
    def node_hours(self) -> float:
        """Node-hours (of the GPU nodes) over all instance types."""
        return sum(self.node_seconds.values()) / 3600

    @property
    def cost_usd(self) -> float:
        """Node-hours at the catalogue's on-demand prices (types without a price count 0)."""
        return sum(s / 3600 * (self.usd_per_hour.get(t) or 0.0) for t, s in self.node_seconds.items())


@dataclass
class StoryResult:
    """Everything the story did, for the display, the chart and the tests."""

    scenario: Scenario
    started_at: datetime
    groups: tuple[str, ...]
    scalers: tuple[str, ...]
    events: list[StoryEvent] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)
    world_timeline: list[tuple[str, str, str]] = field(default_factory=list)
    """The world's own record (Lambda invocations, deliveries, alarms, schedules, retries, the
    cluster's node and pod changes), for the determinism test."""
    audit: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Every audit record the story read, by subject (`namespace/name`, `POOL#gpu`), oldest first."""
    alarm_changes: list[tuple[datetime, str, str, str]] = field(default_factory=list)
    """ebb's own alarms' state changes: (when, alarm name, from, to)."""
    timers_fired: list[tuple[datetime, str]] = field(default_factory=list)
    """Idle timers Scheduler invoked: (when, scaler)."""
    hyperpod_calls: list[tuple[datetime, str, dict[str, Any]]] = field(default_factory=list)
    """The HyperPod API calls the stand-in served that change a cluster: (when, operation, request)."""
    state_table_items: list[dict[str, Any]] = field(default_factory=list)
    """The state table at the end, as DynamoDB Scan returns it (`ebb explain --from` reads it)."""
    executions: dict[str, str] = field(default_factory=dict)
    """The provisioning state machine's executions by name, with their status at the end."""
    zone_events: dict[str, datetime] = field(default_factory=dict)
    """When the zone's capacity went (`out`) and came back (`back`)."""


class StoryObserver(Protocol):
    """What watches the story as it runs (the live display or the plain log)."""

    def started(self, result: StoryResult) -> None:
        """The stack is deployed; the story begins."""

    def event(self, event: StoryEvent) -> None:
        """Something happened."""

    def sample(self, sample: Sample, summary: Summary) -> None:
        """The world after one step."""


@dataclass
class _Traffic:
    """The load balancer in front of the LLM's Ready pods, as its triggers name it."""

    balancer: Any
    target_group: str


def _llm_load_balancer(cluster: HyperPodOnEks, config: EbbConfig) -> _Traffic:
    """The ALB and target group the LLM's triggers name (their dimension values), created with
    exactly those names and ids, as the user created them before writing the ScaledObject."""
    (scaled_object,) = [s for s in config.scaled_objects if s.qualified_name == LLM]
    dimensions: dict[str, str] = {}
    for trigger in scaled_object.spec.triggers:
        if isinstance(trigger, AwsCloudWatchTrigger):
            dimensions.update(dict(trigger.metadata.dimensions))
    _, name, identifier = dimensions["LoadBalancer"].split("/")
    _, group, group_identifier = dimensions["TargetGroup"].split("/")
    zones = sorted({g.availability_zone for g in config.binding.spec.hyper_pod_cluster.instance_groups})
    balancer = cluster.world.create_load_balancer(name, availability_zones=zones, identifier=identifier)
    balancer.add_target_group(
        group,
        healthy_targets=cluster.ready_pod_targets(scaled_object.namespace, {"app": scaled_object.name}),
        identifier=group_identifier,
    )
    return _Traffic(balancer, group)


def _queue_url(cluster: HyperPodOnEks, config: EbbConfig) -> str:
    (scaled_object,) = [s for s in config.scaled_objects if s.qualified_name == BATCH]
    (trigger,) = [t for t in scaled_object.spec.triggers if isinstance(t, AwsSqsQueueTrigger)]
    sqs = cluster.world.clients.client("sqs")
    return str(sqs.get_queue_url(QueueName=trigger.metadata.queue_name)["QueueUrl"])


def _alarm_owners(cluster: HyperPodOnEks, config: EbbConfig) -> dict[str, str]:
    """ebb's alarms (DescribeAlarms under the stack's prefix) -> `scaler/trigger`, matched by the
    metric's dimension values against the configuration's triggers."""
    values: dict[str, str] = {}
    for scaled_object in config.scaled_objects:
        for trigger in scaled_object.spec.triggers:
            if isinstance(trigger, AwsSqsQueueTrigger):
                values[trigger.metadata.queue_name] = scaled_object.name
            elif isinstance(trigger, AwsCloudWatchTrigger):
                for _, value in trigger.metadata.dimensions:
                    values[value] = scaled_object.name
    owners = {}
    cloudwatch = cluster.world.clients.client("cloudwatch")
    for alarm in cloudwatch.describe_alarms(AlarmNamePrefix=f"{STACK}.")["MetricAlarms"]:
        scaler = next((values[d["Value"]] for d in alarm.get("Dimensions", []) if d["Value"] in values), "?")
        owners[alarm["AlarmName"]] = f"{scaler}/{alarm['AlarmName'].rsplit('.', 1)[-1]}"
    return owners


class _Watch:
    """Reads what happened since the last look, and turns it into story events."""

    def __init__(self, cluster: HyperPodOnEks, config: EbbConfig, groups: tuple[str, ...]) -> None:
        self.cluster = cluster
        self.config = config
        self.groups = groups
        self.table = f"{STACK}-StateTable"
        self.last_key: dict[str, str] = {}
        self.alarms_seen = 0
        self.schedules_seen = 0
        self.alarm_owners: dict[str, str] = {}
        self.raw_alarms: list[tuple[datetime, str, str, str]] = []
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.nodes_before: dict[str, tuple[int, int, int]] = {}
        self.group_types = {
            g.name: g.instance_type for g in config.binding.spec.hyper_pod_cluster.instance_groups
        }

    def audit(self, subject: str) -> list[dict[str, Any]]:
        """New audit records of `subject`, oldest first (DynamoDB Query after the last key seen)."""
        dynamodb = self.cluster.world.clients.client("dynamodb")
        values: dict[str, Any] = {":pk": {"S": f"AUDIT#{subject}"}}
        condition = "pk = :pk"
        if subject in self.last_key:
            condition += " AND sk > :sk"
            values[":sk"] = {"S": self.last_key[subject]}
        items: list[dict[str, Any]] = []
        query: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        while True:
            page = dynamodb.query(**query)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if items:
            self.last_key[subject] = items[-1]["sk"]["S"]
        records = [json.loads(item["record"]["S"]) for item in items]
        self.records.setdefault(subject, []).extend(records)
        return records

    def scan_table(self) -> list[dict[str, Any]]:
        """Every item of the state table, as `aws dynamodb scan` lists them."""
        dynamodb = self.cluster.world.clients.client("dynamodb")
        items: list[dict[str, Any]] = []
        scan: dict[str, Any] = {"TableName": self.table}
        while True:
            page = dynamodb.scan(**scan)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def alarm_changes(self) -> list[tuple[datetime, str, str, str]]:
        """ebb's own alarms' state changes since the last look: (when, scaler/trigger, from, to)."""
        transitions = self.cluster.world.alarms.transitions
        new, self.alarms_seen = transitions[self.alarms_seen :], len(transitions)
        changes = []
        for change in new:
            if not change.alarm_name.startswith(f"{STACK}.") or change.previous == "INSUFFICIENT_DATA":
                continue
            if change.alarm_name not in self.alarm_owners:
                self.alarm_owners = _alarm_owners(self.cluster, self.config)
            owner = self.alarm_owners.get(change.alarm_name, change.alarm_name)
            self.raw_alarms.append((change.at, change.alarm_name, str(change.previous), str(change.state)))
            changes.append((change.at, owner, str(change.previous), str(change.state)))
        return changes

    def idle_timers(self) -> list[tuple[datetime, str]]:
        """When and for which scaler an idle timer (a one-shot Scheduler schedule) fired since the
        last look."""
        invocations = self.cluster.world.scheduler.invocations
        new, self.schedules_seen = invocations[self.schedules_seen :], len(invocations)
        fired = []
        for invocation in new:
            if f"/{STACK}-idle/" in invocation.schedule_arn:
                payload = invocation.payload
                if isinstance(payload, str):
                    payload = json.loads(payload)
                scaler = payload.get("scaler", "?") if isinstance(payload, dict) else "?"
                fired.append((invocation.invoked_at, str(scaler)))
        return fired

    def nodes(self) -> tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, str]]:
        """Per group: pending, usable and leaving (cordoned) nodes; each listed node's type."""
        sagemaker = self.cluster.world.clients.client("sagemaker")
        cluster_name = self.config.binding.spec.hyper_pod_cluster.name
        listed: list[dict[str, Any]] = []
        query: dict[str, Any] = {"ClusterName": cluster_name}
        while True:
            page = sagemaker.list_cluster_nodes(**query)
            listed += page["ClusterNodeSummaries"]
            if not page.get("NextToken"):
                break
            query["NextToken"] = page["NextToken"]

        def usable(node: dict[str, Any]) -> tuple[str, bool, bool]:
            labels = node["metadata"].get("labels", {})
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in node.get("status", {}).get("conditions", [])
            )
            gpus = str(node.get("status", {}).get("allocatable", {}).get(GPU, "0"))
            cordoned = bool(node.get("spec", {}).get("unschedulable"))
            return (labels.get(GROUP_LABEL, "?"), ready and not cordoned and gpus not in ("", "0"), cordoned)

        joined = self.cluster.kubernetes.read_all("Node", usable)
        usable_nodes = {g: sum(1 for group, ok, _ in joined if group == g and ok) for g in self.groups}
        leaving = {g: sum(1 for group, _, out in joined if group == g and out) for g in self.groups}
        live = [n for n in listed if n["InstanceStatus"]["Status"] not in ("Failure", "Terminated")]
        pending = {
            g: max(0, sum(1 for n in live if n["InstanceGroupName"] == g) - usable_nodes[g] - leaving[g])
            for g in self.groups
        }
        types = {n["InstanceId"]: self.group_types.get(n["InstanceGroupName"], "?") for n in live}
        return pending, usable_nodes, leaving, types

    def replicas(self) -> tuple[dict[str, int], dict[str, int], float | None]:
        """Per scaler: the Deployment's spec.replicas, its Ready pods; and the first moment an LLM
        pod became Ready (its Ready condition's lastTransitionTime), if one is."""
        desired = {}
        for scaled_object in self.config.scaled_objects:
            deployment = self.cluster.kubernetes.get(
                "Deployment", scaled_object.name, scaled_object.namespace
            )
            desired[scaled_object.qualified_name] = int((deployment or {}).get("spec", {}).get("replicas", 0))

        def pod(p: dict[str, Any]) -> tuple[str, bool, str | None]:
            labels = p["metadata"].get("labels", {})
            ready = is_ready(p) and is_active(p)
            since = None
            for condition in p.get("status", {}).get("conditions", []):
                if condition.get("type") == "Ready" and condition.get("status") == "True":
                    since = condition.get("lastTransitionTime")
            return (f"{p['metadata'].get('namespace')}/{labels.get('app', '')}", ready, since)

        pods = self.cluster.kubernetes.read_all("Pod", pod)
        ready = {name: sum(1 for owner, ok, _ in pods if owner == name and ok) for name in desired}
        ready_since = [since for owner, ok, since in pods if owner == LLM and ok and since]
        first = min(ready_since) if ready_since else None
        return desired, ready, (_rfc3339(first).timestamp() if first else None)


def _rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Story:
    """One run of the story (see the module docstring)."""

    def __init__(
        self,
        cluster: HyperPodOnEks,
        config: EbbConfig,
        scenario: Scenario,
        observer: StoryObserver | None,
        speed: float | None,
    ) -> None:
        self.cluster = cluster
        self.world = cluster.world
        self.config = config
        self.scenario = scenario
        self.observer = observer
        self.speed = speed
        groups = tuple(g.name for g in config.binding.spec.hyper_pod_cluster.instance_groups)
        self.watch = _Watch(cluster, config, groups)
        self.traffic = _llm_load_balancer(cluster, config)
        self.queue = _queue_url(cluster, config)
        self.held: list[str] = []
        # Scalers whose idle timer fired and whose decision has not deleted it yet.
        self.fired_timers: set[str] = set()
        # The service model, fed each minute with what the load balancer passed to the pods and
        # the minute's mean Ready pods (its 503s are the requests that found no Ready pod).
        self.service = ServiceQueue(60.0)
        self.minute_served = 0
        self.minute_ready: list[int] = []
        self.instances_seen: dict[str, str] = {}
        self.result = StoryResult(
            scenario=scenario,
            started_at=self.world.now(),
            groups=groups,
            scalers=tuple(s.qualified_name for s in config.scaled_objects),
        )
        summary = self.result.summary
        for g in config.binding.spec.hyper_pod_cluster.instance_groups:
            spec = config.catalogue.get(g.instance_type)
            summary.usd_per_hour[g.instance_type] = spec.on_demand_usd_per_hour if spec else None

    # -- the run ---------------------------------------------------------------------------

    def run(self, stop_after_minutes: float | None) -> StoryResult:
        # The first tick has made ebb's alarms; the story starts on the next whole minute.
        run_past_next_tick(self.cluster)
        now = self.world.now()
        self.world.run_until(now.replace(second=0, microsecond=0) + timedelta(minutes=1))
        self.result.started_at = self.world.now()
        self.watch.audit(LLM), self.watch.audit(BATCH), self.watch.audit(f"POOL#{POOL}")
        self.watch.alarm_changes(), self.watch.idle_timers()
        if self.observer is not None:
            self.observer.started(self.result)
        wall_start = time.monotonic()
        limit = self.scenario.max_minutes if stop_after_minutes is None else stop_after_minutes
        steps_per_minute = round(60 / STEP_SECONDS)
        step = 0
        while step / steps_per_minute < limit:
            minute = step / steps_per_minute
            if step % steps_per_minute == 0:
                self._minute(int(minute))
            if (step + 1) % steps_per_minute == 0:
                # The next minute's rate is set by the clock at the minute's first instant, ahead
                # of the load balancer's traffic slice due then (ties go in the order scheduled):
                # set after `run_for` returned, that slice would already have gone at the old rate.
                boundary = self.world.clock.now() + STEP_SECONDS
                next_minute = (step + 1) // steps_per_minute
                self.world.clock.call_at(
                    boundary, functools.partial(self._set_rate, next_minute), name="demo: request rate"
                )
            self.world.run_for(STEP_SECONDS)
            step += 1
            done = self._look(step / steps_per_minute)
            if self.speed:
                ahead = step * STEP_SECONDS / self.speed - (time.monotonic() - wall_start)
                if ahead > 0:
                    time.sleep(ahead)
            if done and step % steps_per_minute == 0:
                break
        self._finish(time.monotonic() - wall_start)
        return self.result

    def _emit(self, minute: float, kind: str, text: str) -> None:
        event = StoryEvent(round(minute, 3), chapter_at(self.scenario, minute).number, kind, text)
        self.result.events.append(event)
        if self.observer is not None:
            self.observer.event(event)

    def _minute(self, minute: int) -> None:
        """What the traffic and the user do at the start of `minute`."""
        scenario = self.scenario
        for chapter in scenario.chapters:
            if chapter.start_minute == minute:
                self._emit(minute, "chapter", _chapter_line(chapter))
        rates = scenario.llm_requests_per_minute
        rate = rates[minute] if minute < len(rates) else 0
        if minute == 0:
            self._set_rate(0)
        if rate and self.result.summary.first_request_minute is None:
            self.result.summary.first_request_minute = float(minute)
            self._emit(minute, "you", f"traffic starts: {rate} requests/min at the LLM's load balancer")
        if minute == _quiet_from(rates):
            self._emit(minute, "you", "traffic stops: no more requests at the load balancer")
        if minute == scenario.zone_out_minute:
            self.result.zone_events["out"] = self.world.now()
            self.cluster.hyperpod.set_capacity(ZONE_OUT[0], 0, availability_zone=ZONE_OUT[1])
            self._emit(minute, "you", f"EC2 has no {ZONE_OUT[0]} capacity left in {ZONE_OUT[1]}")
        if minute == scenario.zone_back_minute:
            self.result.zone_events["back"] = self.world.now()
            self.cluster.hyperpod.set_capacity(ZONE_OUT[0], None, availability_zone=ZONE_OUT[1])
            self._emit(minute, "you", f"{ZONE_OUT[0]} capacity is back in {ZONE_OUT[1]}")
        if minute == scenario.backfill_minute:
            self._backfill(minute)
        jobs = scenario.batch_jobs.get(minute, 0)
        if jobs:
            self._send_jobs(jobs)
            self._emit(minute, "you", f"the batch lands: {jobs} jobs on the batch worker's queue")
        self._work_jobs()

    def _set_rate(self, minute: int) -> None:
        """The LLM's request rate from the start of `minute` on (a change only)."""
        rates = self.scenario.llm_requests_per_minute
        rate = rates[minute] if minute < len(rates) else 0
        previous = rates[minute - 1] if 0 < minute <= len(rates) else 0
        if rate != previous or minute == 0:
            self.traffic.balancer.set_request_rate(self.traffic.target_group, rate)

    def _backfill(self, minute: int) -> None:
        until = self.result.started_at + timedelta(minutes=self.scenario.backfill_until_minute)
        argv = [
            "backfill",
            "--nodepool",
            POOL,
            "--nodes",
            str(self.scenario.backfill_nodes),
            "--scaler",
            BATCH,
            "--replicas",
            str(self.scenario.backfill_batch_replicas),
            "--until",
            _clock(until),
            "--name",
            "nightly",
        ]
        self._emit(minute, "you", "$ ebb " + " ".join(argv))
        machine = self.world.state_machine_arn("ProvisionStateMachine")
        args = _backfill_parser().parse_args([*argv, "--state-machine-arn", machine, "--region", "us-east-1"])
        output = io.StringIO()
        code = backfill.run_backfill(
            args, Console(file=output, width=500, highlight=False), clock=self.world.now
        )
        for line in output.getvalue().splitlines():
            self._emit(
                minute, "you", f"  {line.split(': arn:')[0]}" + ("" if code == 0 else f" (exit {code})")
            )

    def _send_jobs(self, count: int) -> None:
        sqs = self.world.clients.client("sqs")
        for start in range(0, count, 10):
            sqs.send_message_batch(
                QueueUrl=self.queue,
                Entries=[
                    {"Id": str(i), "MessageBody": f"job-{i}"} for i in range(start, min(start + 10, count))
                ],
            )
        self.result.summary.jobs_sent += count

    def _work_jobs(self) -> None:
        """The batch worker's work: the jobs received a minute ago are done (deleted); each Ready
        worker pod takes the next one."""
        sqs = self.world.clients.client("sqs")
        for handle in self.held:
            sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=handle)
        self.result.summary.jobs_done += len(self.held)
        self.held = []
        _, ready, _ = self.watch.replicas()
        wanted = ready.get(BATCH, 0)
        while len(self.held) < wanted:
            received = sqs.receive_message(
                QueueUrl=self.queue,
                MaxNumberOfMessages=min(10, wanted - len(self.held)),
                VisibilityTimeout=300,
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not received:
                break
            self.held += [m["ReceiptHandle"] for m in received]

    # -- looking -------------------------------------------------------------------------------

    def _look(self, minute: float) -> bool:
        """Read what happened in the last step; returns whether chapter 4 is over."""
        summary = self.result.summary
        found: list[tuple[datetime, int, str, str]] = []

        def add(at: datetime, kind: str, text: str) -> None:
            found.append((at, len(found), kind, text))

        for at, owner, before, after in self.watch.alarm_changes():
            add(at, "alarm", f"{owner}: {before} -> {after}")
        for at, scaler in self.watch.idle_timers():
            self.result.timers_fired.append((at, scaler))
            self.fired_timers.add(scaler)
            add(at, "timer", f"idle timer of {scaler.split('/')[-1]} fired")
        for subject in (LLM, BATCH):
            for record in self.watch.audit(subject):
                summary.decisions += 1
                if record["current"] != record["desired"]:
                    add(datetime.fromisoformat(record["at"]), "decision", _decision_line(record))
        for record in self.watch.audit(f"POOL#{POOL}"):
            at = datetime.fromisoformat(record["at"])
            for action in record.get("actions", []) if record.get("event") is None else []:
                if action.startswith("idle timer "):
                    # A timer that fired is deleted by the decision it woke: say so, rather than
                    # "decided without it" (a tick or an event came first).
                    scaler = action.split(" ")[2]
                    fired = scaler in self.fired_timers
                    self.fired_timers.discard(scaler)
                    add(at, "timer", _timer_line(action, self.result.started_at, fired=fired))
            line = self._pool_line(record)
            if line is not None:
                kind = "scale-in" if str(record.get("event", "")).startswith("scale-in") else "provision"
                add(at, kind, line)
        start = self.result.started_at
        for at, _, kind, text in sorted(found):
            self._emit((at - start).total_seconds() / 60, kind, text)
        desired, ready, first_ready = self.watch.replicas()
        if first_ready is not None and summary.first_ready_minute is None:
            summary.first_ready_minute = (first_ready - start.timestamp()) / 60
            self._emit(
                summary.first_ready_minute,
                "pods",
                f"first LLM pod Ready ({_mmss(summary.first_ready_minute)})",
            )
        pending, usable, leaving, types = self.watch.nodes()
        for group in self.result.groups:
            counts = (pending[group], usable[group], leaving[group])
            if self.watch.nodes_before.get(group, (0, 0, 0)) != counts:
                text = f"{group}: {counts[0]} pending, {counts[1]} usable"
                self._emit(minute, "nodes", text + (f", {counts[2]} leaving" if counts[2] else ""))
                self.watch.nodes_before[group] = counts
        for instance_type in types.values():
            summary.node_seconds[instance_type] = summary.node_seconds.get(instance_type, 0.0) + STEP_SECONDS
        rates = self.scenario.llm_requests_per_minute
        minute_index = math.floor(minute - 1e-9)
        summary.served = self.traffic.balancer.served_total
        summary.unserved = self.traffic.balancer.rejected_total
        self.minute_ready.append(ready[LLM])
        if abs(minute - round(minute)) < 1e-9:
            passed = summary.served - self.minute_served
            self.minute_served = summary.served
            pods = sum(self.minute_ready) / len(self.minute_ready)
            self.minute_ready = []
            # The load balancer passed requests on, so a pod was Ready for part of the minute.
            outcome = self.service.step(
                passed, max(pods, 1.0) if passed else pods, self.scenario.hold_seconds
            )
            summary.waited_too_long += outcome.unserved_waited
        sample = Sample(
            minute=round(minute, 2),
            llm_requests_per_minute=rates[minute_index] if minute_index < len(rates) else 0,
            queue_jobs=self._queue_depth(),
            desired=desired,
            ready=ready,
            pending_nodes=pending,
            usable_nodes=usable,
            leaving_nodes=leaving,
        )
        self.result.samples.append(sample)
        if self.observer is not None:
            self.observer.sample(sample, summary)
        return (
            minute >= len(rates)
            and not any(desired.values())
            and not any(ready.values())
            and not types
            and sample.queue_jobs == 0
        )

    def _queue_depth(self) -> int:
        attributes = self.world.clients.client("sqs").get_queue_attributes(
            QueueUrl=self.queue,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def _pool_line(self, record: dict[str, Any]) -> str | None:
        event = record.get("event")
        summary = self.result.summary
        if event is None:
            reasons = record.get("reasons", [])
            started = [a for a in record.get("actions", []) if a.startswith("started provisioning")]
            if not started:
                return None
            targets = ", ".join(f"{g} {n}" for g, n in sorted(record.get("nodeTargets", {}).items()))
            why = " after a shortage" if "provisioning-shortage" in reasons else ""
            return f"generation {record['generation']}: node targets {targets}{why}"
        if event == "provisioning-ended":
            summary.retries += int(record.get("retries", 0))
            summary.shortages += len(record.get("shortages", []))
            return _ended_line(record)
        if event in ("scale-in-step", "scale-in-finished"):
            actions = [a.split(" (")[0] for a in record.get("actions", [])]
            return "; ".join(actions) if actions else None
        if event == "provisioning-started":
            return None
        return f"{event} (generation {record.get('generation')})"

    def _finish(self, wall_seconds: float) -> None:
        self.result.state_table_items = self.watch.scan_table()
        summary = self.result.summary
        summary.wall_seconds = wall_seconds
        summary.simulated_minutes = (self.world.now() - self.result.started_at).total_seconds() / 60
        sfn = self.world.clients.client("stepfunctions")
        machine = self.world.state_machine_arn("ProvisionStateMachine")
        executions: list[dict[str, Any]] = []
        query: dict[str, Any] = {"stateMachineArn": machine}
        while True:
            page = sfn.list_executions(**query)
            executions += page["executions"]
            if not page.get("nextToken"):
                break
            query["nextToken"] = page["nextToken"]
        summary.executions = len(executions)
        self.result.executions = {e["name"]: e["status"] for e in executions}
        self.result.audit = self.watch.records
        self.result.alarm_changes = self.watch.raw_alarms
        self.result.hyperpod_calls = [
            (r["at"], r["operation"], r["request"])
            for r in self.cluster.hyperpod.requests
            if r["operation"] in ("BatchAddClusterNodes", "BatchDeleteClusterNodes")
        ]
        self.result.world_timeline = self.cluster.timeline()


def _backfill_parser() -> argparse.ArgumentParser:
    """`ebb backfill`'s parser, registered by the command's own module as `ebb` registers it
    (`ebb.cli.main` cannot be imported here: it imports the demo)."""
    parser = argparse.ArgumentParser(prog="ebb")
    backfill.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def _quiet_from(rates: tuple[int, ...]) -> int | None:
    """The minute from which no more requests come: after the last busy minute (a trace's quiet
    tail, padded to the load phase, is not traffic), or None if none ever came."""
    busy = [minute for minute, rate in enumerate(rates) if rate]
    return busy[-1] + 1 if busy else None


def _ended_line(record: dict[str, Any]) -> str:
    """A `provisioning-ended` audit record in a line. Its `granted` is each group's usable nodes
    at the end (held, not added: a scale-in generation is "granted" the nodes it keeps), and its
    `requested` the nodes the execution asked BatchAddClusterNodes for."""
    line = f"generation {record['generation']} {record['outcome']}"
    parts = []
    launched = ", ".join(f"{g} +{n}" for g, n in sorted(record.get("requested", {}).items()) if n)
    if launched:
        parts.append(f"launched {launched}")
    usable = ", ".join(
        f"{g} {n}" for zone in sorted(record["granted"]) for g, n in sorted(record["granted"][zone].items())
    )
    if usable:
        parts.append(f"usable {usable}")
    if record.get("shortages"):
        parts.append(f"out of capacity: {', '.join(record['shortages'])}")
    if record.get("cancelled"):
        parts.append(f"{record['cancelled']} pending node(s) cancelled")
    return line + (": " + "; ".join(parts) if parts else "")


def _timer_line(action: str, started_at: datetime, *, fired: bool = False) -> str:
    # "idle timer batch/batch-worker at 2025-...+00:00" or "idle timer batch/batch-worker deleted".
    # The log's clock is story time (+mm:ss): the moment is given in it, and in UTC as the
    # decisions' reasons name moments.
    words = action.split(" ")
    scaler = words[2].split("/")[-1]
    if words[-1] == "deleted":
        why = "it fired and woke this decision" if fired else "decided without it"
        return f"idle timer of {scaler} deleted ({why})"
    at = datetime.fromisoformat(words[-1])
    story = _mmss((at - started_at).total_seconds() / 60)
    return f"idle timer of {scaler} armed for {story} ({at:%H:%M:%S} UTC, its cooldown's end)"


def _mmss(minutes: float) -> str:
    whole = round(minutes * 60)
    return f"+{whole // 60}:{whole % 60:02d}"


def _chapter_line(chapter: Chapter) -> str:
    return f"Chapter {chapter.number}, {chapter.title}: {chapter.what}."


def _decision_line(record: dict[str, Any]) -> str:
    name = record["scaler"].split("/")[-1]
    steps = record.get("steps") or [record.get("rule", "")]
    why = steps[-1]
    triggers = [t for t in record.get("triggers", []) if "active" in t]
    detail = f" ({triggers[0]})" if triggers and record["desired"] > record["current"] else ""
    reasons = "+".join(record.get("reasons", []))
    return f"{name} {record['current']} -> {record['desired']}: {why}{detail} [{reasons}]"


@contextmanager
def _functions_output(path: Path | None) -> Iterator[None]:
    """The deployed functions' logs (Powertools writes them to stdout) and the local world's own
    warnings (stderr) go to `path`, so that the story's output stays readable; without a path
    they go where stdout and stderr go."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        path.open("w", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        moved = _handlers_to(log, (sys.__stdout__, sys.__stderr__))
        try:
            yield
        finally:
            for handler, stream in moved:
                handler.setStream(stream)


def _handlers_to(log: IO[str], streams: tuple[Any, ...]) -> list[tuple[logging.StreamHandler[Any], Any]]:
    """Logging handlers already bound to the real stdout or stderr (Powertools binds stdout when
    a logger is made), pointed at `log` for the run; returns them with their streams."""
    moved = []
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.StreamHandler) and handler.stream in streams:
                moved.append((handler, handler.stream))
                handler.setStream(log)
    return moved


def run_story(
    config_dir: Path,
    scenario: Scenario,
    *,
    seed: int,
    observer: StoryObserver | None = None,
    speed: float | None = None,
    certificates: ClusterCertificates | None = None,
    functions_log: Path | None = None,
    stop_after_minutes: float | None = None,
) -> StoryResult:
    """Deploy the stack with the example (shadow mode off) into a new local world and tell the
    story; returns what happened. `speed`: at most that many simulated seconds per wall second."""
    with (
        _functions_output(functions_log),
        deployed(
            config_dir,
            certificates or generate_cluster_certificates(),
            shadow_mode=False,
            seed=seed,
        ) as (cluster, config),
    ):
        return _Story(cluster, config, scenario, observer, speed).run(stop_after_minutes)


def summary_lines(result: StoryResult) -> list[str]:
    """The run's figures, one per line (at most 80 columns)."""
    s = result.summary
    total = s.served + s.unserved
    prices = ", ".join(
        f"{t} ${p:.2f}/h" if p is not None else f"{t} no price" for t, p in sorted(s.usd_per_hour.items())
    )
    first_ready = (
        f"{(s.first_ready_minute - (s.first_request_minute or 0)) * 60:.0f} s after the first request"
        if s.first_ready_minute is not None
        else "none"
    )
    return [
        f"requests: {total}; {s.unserved} unserved (503: no pod Ready, the cold start)",
        f"  served by a pod {s.served}, of which {s.waited_too_long:.0f} would wait > "
        f"{MAX_WAIT_SECONDS:.0f} s (service model)",
        f"batch jobs: {s.jobs_sent} sent, {s.jobs_done} done",
        f"time to the first Ready LLM pod: {first_ready}",
        f"node-hours: {s.node_hours:.2f}, cost ${s.cost_usd:.2f} at SageMaker on-demand",
        f"  list prices in us-east-1 ({prices})",
        f"decisions: {s.decisions}, provisioning executions: {s.executions}, retries: {s.retries}",
        f"capacity shortages: {s.shortages}",
        f"{s.simulated_minutes:.0f} simulated minutes in {s.wall_seconds:.1f} s of wall time",
    ]
