"""ebb's policy in the simulator: the decide path's own decision step and the workflow's own policy.

Each decision is `decide_pool` (`ebb.service.decision`) on a `PoolSnapshot` of the simulated
cluster (`ebb.sim.simulator.snapshot`) and the pool's `PoolState`, after
`with_provisioning_news` (`ebb.service.decide`) has applied what the provisioning executions
recorded; nothing is decided here. The simulator carries the decision out as the decide
service does: pods of the nodes the plan empties get the lowest deletion cost, replicas are set,
idle timers armed, and a new generation starts a provisioning execution. Each of its rounds is
`plan_round` (`ebb.core.provisioning`) behind the `Fence`, from a fresh read of the simulated
groups, as `ebb.service.provisioning` runs it.

When ebb decides (its real cadence): every tick (EventBridge Scheduler, once a minute, at a
seeded second of the minute), at each alarm edge, on each HyperPod cluster event of the pool
(a node that joined or failed to launch), at each idle timer, and when a provisioning
execution hands a starved group back. The signal path from an event to the decision takes
`SIGNAL_SECONDS` (signals function, FIFO queue, decide function).

Stated simplifications: shadow mode does not apply (the simulator shows what ebb would do);
a removal is carried out as the scale-in task does it without PodDisruptionBudgets: cordon,
evict (the pods go at once and come back as pending pods), `BatchDeleteClusterNodes` after
`DRAIN_SECONDS`; the configuration version never changes during a run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from ebb.adapters.state_table import StoredPool
from ebb.config.keda_triggers import AwsCloudWatchTrigger, AwsSqsQueueTrigger
from ebb.core.provisioning import (
    Fence,
    GroupView,
    NodeCondition,
    NodeView,
    Shortages,
    Standing,
    plan_round,
)
from ebb.service.decide import with_provisioning_news
from ebb.service.decision import (
    ObservedNode,
    PoolDecision,
    PoolSnapshot,
    PoolState,
    ProvisioningOrder,
    decide_pool,
)
from ebb.service.idle_polling import pool_at_rest
from ebb.sim.bill import RunCounts, kb
from ebb.sim.simulator.cluster import NodePhase, SimNode
from ebb.sim.simulator.snapshot import NodeKey, pool_snapshot
from ebb.sim.simulator.world import World

TICK_SECONDS = 60.0
SIGNAL_SECONDS = 1.0
"""From an alarm edge, a cluster event or a hand-back to the decision (signals, FIFO queue, decide)."""
EXECUTION_START_SECONDS = 1.0
"""From a decision's new generation to its execution's first round."""
DRAIN_SECONDS = 5.0
"""Cordon and eviction until BatchDeleteClusterNodes (the pods' termination)."""
POLL_SECONDS = 600.0
"""The waiting task's timeout, the workflow's fallback poll (`ebb.service.provisioning`)."""
DEADLINE = timedelta(hours=2)
CONFIG_VERSION = 1
STORED_ITEM_OVERHEAD_BYTES = 200
STATE_SIZE_EVERY = 10
"""The pool's state item beyond its state document (keys, counters, closed generation, shortages)."""


@dataclass(frozen=True)
class DecisionRecord:
    """One decision's inputs as the decide service would read them, and what it decided."""

    t: float
    snapshot: PoolSnapshot
    stored: StoredPool
    """The pool's stored item: the state before the decision, closed generation, shortages."""
    decision: PoolDecision
    state_after: PoolState
    """The state recorded after acting (with the idle timers armed)."""


@dataclass
class Execution:
    """One provisioning execution (one generation)."""

    order: ProvisioningOrder
    decided_at: float
    handed_back: set[str] = field(default_factory=set)
    rounds: int = 0
    removals_started: bool = False
    wake_seq: int = 0


def node_condition(node: SimNode) -> NodeCondition:
    """A simulated node as the workflow classifies ListClusterNodes."""
    return {
        NodePhase.REQUESTED: NodeCondition.PENDING,
        NodePhase.FAILED_CAPACITY: NodeCondition.FAILED_CAPACITY,
        NodePhase.BOOTING: NodeCondition.RUNNING,
        NodePhase.READY: NodeCondition.USABLE,
    }[node.phase]


class EbbPolicy:
    """ebb: `decide_pool` + the provisioning workflow's `plan_round`, at their real cadence."""

    name = "ebb"

    def __init__(self, world: World, *, tick_offset: float) -> None:
        self.world = world
        self.tick_offset = tick_offset
        self.state = PoolState()
        self.closed_generation = 0
        self.shortages = Shortages()
        self._shortages_json: str | None = None
        self.execution: Execution | None = None
        self.decisions = 0
        self.decision_seconds = 0.0
        self.executions = 0
        self.rounds = 0
        self.node_target_changes = 0
        # What ebb's stack would be billed for (`ebb.sim.bill`): counted as the run goes.
        self.ticks = 0
        self.timer_decisions = 0
        self.waits = 0
        self.removal_executions = 0
        self.state_kb = 0
        self._state_kb: int | None = None
        self._nodes_seen: dict[NodeKey, ObservedNode] = {}
        self.history: list[DecisionRecord] | None = None
        """Set to a list to keep every decision's inputs and outcome (for tests)."""

    def start(self) -> None:
        world = self.world
        world.events.at(self.tick_offset, self._tick)
        world.alarm_listeners.append(lambda t: world.events.at(t + SIGNAL_SECONDS, self.decide))
        world.cluster.listeners.append(self._cluster_event)

    def _tick(self, t: float) -> None:
        self.ticks += 1
        self.decide(t)
        self.world.events.at(t + TICK_SECONDS, self._tick)

    def _cluster_event(self, t: float, what: str, node: SimNode) -> None:
        # A HyperPod cluster event wakes decide (which wakes the waiting execution).
        self.world.events.at(t + SIGNAL_SECONDS, self.decide)
        if self.execution is not None:
            self._wake(self.execution, t + SIGNAL_SECONDS + 0.5)

    # -- decide -------------------------------------------------------------------------------------

    def decide(self, t: float) -> PoolDecision:
        world = self.world
        now = world.at(t)
        stored = StoredPool(
            node_pool=world.pool_name,
            decisions=self.decisions,
            state_json=self.state.model_dump_json() if self.history is not None else None,
            closed_generation=self.closed_generation,
            shortages_json=self._shortages_json,
        )
        started = time.perf_counter()
        state = with_provisioning_news(self.state, stored, now)
        snapshot = pool_snapshot(
            world.cluster,
            node_pool=world.pool_name,
            scaler=world.scaler,
            observations=world.signals.observations(t),
            origin=world.origin,
            nodes_seen=self._nodes_seen,
        )
        decision = decide_pool(snapshot, state, world.config, now)
        self.decision_seconds += time.perf_counter() - started
        self.decisions += 1
        # Recorded as the decide service records it; the simulator's ticks still decide every
        # minute (the idle cadence of ebb.service.idle_polling is not simulated).
        self.state = decision.state.model_copy(update={"at_rest": pool_at_rest(snapshot, decision)})
        self._act(decision, t)
        # The state item the decision's transaction writes (DynamoDB bills per started KB),
        # measured every `STATE_SIZE_EVERY` decisions (serializing it was 2 % of a decision).
        if self._state_kb is None or self.decisions % STATE_SIZE_EVERY == 1:
            self._state_kb = kb(len(self.state.model_dump_json()) + STORED_ITEM_OVERHEAD_BYTES)
        self.state_kb += self._state_kb
        if self.history is not None:
            self.history.append(DecisionRecord(t, snapshot, stored, decision, self.state))
        return decision

    def _act(self, decision: PoolDecision, t: float) -> None:
        world = self.world
        emptied = frozenset(d.node for d in decision.delete_first)
        for action in decision.scale:
            world.cluster.set_replicas(action.replicas, t, delete_first=emptied)
        # As the decide service arms them: a one-shot schedule only when a scaler's time changes
        # (the armed times are kept in the pool's state), deleted when the decision says none.
        armed = dict(self.state.idle_timers)
        for scaler, wake in sorted(decision.idle_timers.items()):
            if wake is not None and armed.get(scaler) != wake:
                armed[scaler] = wake
                at = (wake - world.origin).total_seconds()
                world.events.at(at, partial(self._timer, scaler, wake))
            elif wake is None and scaler in armed:
                del armed[scaler]
        if armed != self.state.idle_timers:
            self.state = self.state.model_copy(update={"idle_timers": armed})
        if decision.provisioning is not None:
            self.node_target_changes += 1
            execution = Execution(order=decision.provisioning, decided_at=t)
            self.execution = execution
            self.executions += 1
            world.events.at(t + EXECUTION_START_SECONDS, partial(self._round, execution))

    def _timer(self, scaler: str, wake: datetime, t: float) -> None:
        if self.state.idle_timers.get(scaler) == wake:  # not re-armed or deleted since
            self.timer_decisions += 1
            self.decide(t)

    # -- provisioning ---------------------------------------------------------------------------------

    def _wake(self, execution: Execution, at: float) -> None:
        execution.wake_seq += 1
        seq = execution.wake_seq
        self.world.events.at(
            at, lambda now: self._round(execution, now) if execution.wake_seq == seq else None
        )

    def _end(self, execution: Execution) -> None:
        self.closed_generation = max(self.closed_generation, execution.order.generation)
        if self.execution is execution:
            self.execution = None

    def _round(self, execution: Execution, t: float) -> None:
        world = self.world
        cluster = world.cluster
        order = execution.order
        fence = Fence(
            generation=order.generation,
            config_version=CONFIG_VERSION,
            pool_generation=self.state.generation,
            current_config_version=CONFIG_VERSION,
        )
        if not fence.current:
            self._end(execution)  # superseded: ends without acting
            return
        execution.rounds += 1
        self.rounds += 1
        now = world.at(t)
        groups = {
            name: GroupView(
                name=name,
                instance_type=cluster.groups[name].instance_type,
                zone=cluster.groups[name].zone,
                target_count=sum(1 for n in cluster.nodes.values() if n.group.name == name),
            )
            for name in order.node_targets
        }
        nodes = [
            NodeView(
                key=node.name,
                instance_group=node.group.name,
                logical_id=node.name,
                instance_id=node.name if node.launched_at is not None else None,
                condition=node_condition(node),
            )
            for node in sorted(cluster.nodes.values(), key=lambda n: n.name)
        ]
        plan = plan_round(
            targets=order.node_targets,
            groups=groups,
            nodes=nodes,
            capacity_failures=(),
            shortages=self.shortages,
            handed_back=frozenset(execution.handed_back),
            now=now,
            deadline=world.at(execution.decided_at) + DEADLINE,
        )
        if plan.shortages != self.shortages:
            self.shortages = plan.shortages
            self._shortages_json = json.dumps(plan.shortages.model_dump(mode="json"))
        for logical_id in plan.cancel:
            cluster.delete_node(logical_id, t)
        for group, count in plan.additions.items():
            cluster.add_nodes(group, count, t)
        if not execution.removals_started:
            execution.removals_started = True
            if order.removals:
                self.removal_executions += 1
            for removal in order.removals:
                cluster.cordon(removal.node)
                world.events.at(t + DRAIN_SECONDS, partial(cluster.delete_node, removal.node))
        for group in plan.hand_back:
            execution.handed_back.add(group)
            world.events.at(t + SIGNAL_SECONDS, self.decide)
        if plan.standing in (Standing.SATISFIED, Standing.DEADLINE):
            self._end(execution)
        else:
            until = [t + POLL_SECONDS]
            until.extend(
                (s.until - world.origin).total_seconds() + 1
                for s in plan.shortages.entries
                if s.until > now and s.offering.instance_group in order.node_targets
            )
            self.waits += 1
            self._wake(execution, min(until))

    def run_counts(self, seconds: float) -> RunCounts:
        """What the run made ebb's stack do, for its AWS bill (`ebb.sim.bill`)."""
        triggers = self.world.scaled_object.spec.triggers
        return RunCounts(
            seconds=seconds,
            ticks=self.ticks,
            timer_decisions=self.timer_decisions,
            decisions=self.decisions,
            cloudwatch_triggers=sum(isinstance(t, AwsCloudWatchTrigger) for t in triggers),
            sqs_triggers=sum(isinstance(t, AwsSqsQueueTrigger) for t in triggers),
            scalers=1,
            state_kb=self.state_kb,
            executions=self.executions,
            rounds=self.rounds,
            waits=self.waits,
            removal_executions=self.removal_executions,
        )
