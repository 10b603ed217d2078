"""SQS triggers in the simulator: the trace's requests as messages on a queue (examples/simulate-sqs).

The queue model is the simulator's own, stated in `ebb.sim.simulator.queue` (a fluid FIFO; a
message waits for a pod's slot, unserved after 300 s); these tests check it by hand. KEDA's SQS
scaler semantics are the replica core's: the metric is ApproximateNumberOfMessages plus
ApproximateNumberOfMessagesNotVisible (kedacore/keda pkg/scalers/aws_sqs_queue_scaler_test.go,
TestAWSSQSScalerGetMetrics: the mock queue's 200 visible + 100 not visible give 300), and the
HPA's AverageValue target asks for ceil(metric / queueLength) replicas (KEDA docs, "AWS SQS
Queue" scaler: "queueLength - Target value for queue length passed to the scaler").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from ebb.config import load_config_files
from ebb.sim.simulator.comparison import load_calibrated
from ebb.sim.simulator.queue import QueueSignals, QueueTrigger
from ebb.sim.simulator.run import run_policy
from ebb.sim.simulator.signals import SimulationError
from ebb.sim.simulator.world import Demand, RunSettings, World

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"
ORIGIN = datetime(2026, 1, 5, tzinfo=UTC)
DemandOf = Callable[[list[float]], Demand]


def _queue(arrivals: list[float]) -> QueueSignals:
    values = np.asarray(arrivals, dtype=np.float64)
    return QueueSignals(values, np.full(values.size, 0.5), ORIGIN, (QueueTrigger("queue-depth", 0.0),))


def _attributes(queue: QueueSignals, t: float) -> tuple[str, str]:
    observation = queue.observations(t)["queue-depth"]
    attributes = observation.attributes  # type: ignore[union-attr]
    return attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]


def test_a_backlog_waits_for_slots_and_what_waited_over_300_s_is_unserved() -> None:
    # 960 messages in the first minute (16/s), none after; no pod until 315 s, then 2 pods:
    # 16 slots of 0.5 s take 32 messages/s, so the backlog drains from 315 s to 345 s.
    queue = _queue([960.0] + [0.0] * 9)
    assert _attributes(queue, 60.0) == ("960", "0")
    queue.advance(315.0, 2)
    assert _attributes(queue, 330.0) == ("480", "16")  # 15 s x 32 taken, every slot busy
    assert _attributes(queue, 400.0) == ("0", "0")
    # FIFO: message n (arrived at n/16 s) is taken at 315 + n/32 s: it waited 315 - n/32 s,
    # over 300 s for the first 480 of them.
    serving = queue.serving(600.0)
    assert float(serving.unserved.sum()) == pytest.approx(480.0)
    assert float(serving.mean_wait_seconds[0]) == pytest.approx(315.0 - 480.0 / 32)
    # The alarm (Maximum of the visible count per minute, above activation 0) is ALARM once
    # minute 0 is readable, 60 s after it ends.
    fresh = _queue([960.0] + [0.0] * 9)
    fresh.close_minute(0, 0.0, 0)
    assert not fresh.evaluate_alarms(119.0)
    assert fresh.evaluate_alarms(120.0)
    assert fresh.alarms["queue-depth"]


def test_a_steady_queue_has_no_backlog_and_littles_law_in_flight() -> None:
    # 960 messages a minute on one pod (16 taken per second, 8 slots of 0.5 s): nothing waits,
    # 16/s x 0.5 s = 8 in flight.
    queue = _queue([960.0] * 5)
    queue.advance(0.0, 1)
    assert _attributes(queue, 150.0) == ("0", "8")
    serving = queue.serving(300.0)
    assert float(serving.unserved.sum()) == 0.0
    assert float(serving.mean_wait_seconds.max()) == pytest.approx(0.0)


def test_both_autoscalers_settle_at_keda_sqs_replicas_on_a_steady_queue(demand: DemandOf) -> None:
    # Two pods' worth of messages (32/s of 0.5 s): 16 in flight once the backlog of the cold start
    # is gone, and queueLength 6 asks for ceil(16 / 6) = 3 replicas; every message is taken within
    # the 300 s bound (the first wait a boot, a model load and the alarm or KEDA's poll).
    config = load_calibrated(EXAMPLES / "simulate-sqs", 768.0)
    trace = demand([2.0] * 40)
    for policy in ("ebb", "keda-karpenter"):
        report = run_policy(policy, config, trace, RunSettings(boot_delay=60.0, seed=1))
        lead = 3  # ceil((60 x 1.2 + 60) / 60) minutes before the first message
        settled = report.ready_pods[lead + 25 : lead + 40]
        assert settled.tolist() == [3.0] * 15, policy
        assert report.unserved == 0.0, policy
        assert report.unserved_no_ready == 0.0, policy
        assert report.cold_starts == 1, policy
        assert report.as_json()["unservedWaitedOver300s"] == 0.0
    ebb = run_policy("ebb", config, trace, RunSettings(boot_delay=60.0, seed=1))
    assert ebb.own_bill_units is not None
    # One GetQueueAttributes per decision, beside the decision queue's three requests.
    assert ebb.own_bill_units["SQS requests"] == 4 * ebb.decisions
    assert ebb.own_bill_units["GetMetricData metrics"] == 0.0


def test_a_scaled_object_mixing_a_queue_and_a_load_balancer_is_refused(tmp_path: Path) -> None:
    for name in ("cluster-binding.yaml", "gpu-node-pool.yaml"):
        (tmp_path / name).write_text((EXAMPLES / "simulate-sqs" / name).read_text())
    mixed = (EXAMPLES / "simulate-sqs" / "llm-batch.yaml").read_text() + (
        "    - type: aws-cloudwatch\n"
        "      name: requests\n"
        "      metadata:\n"
        "        namespace: AWS/ApplicationELB\n"
        "        metricName: HTTPCode_ELB_503_Count\n"
        "        dimensionName: LoadBalancer\n"
        "        dimensionValue: app/x/1\n"
        "        targetMetricValue: '100'\n"
        "        minMetricValue: '0'\n"
        "        awsRegion: us-east-1\n"
    )
    (tmp_path / "llm-batch.yaml").write_text(mixed)
    config = load_config_files(sorted(tmp_path.glob("*.yaml")))
    trace = Demand(arrivals=np.ones(3), hold_seconds=np.full(3, 0.5))
    with pytest.raises(SimulationError, match=r"trigger queue-depth is aws-sqs-queue; .* not both"):
        World(config, trace, RunSettings(), lead_seconds=60.0)
