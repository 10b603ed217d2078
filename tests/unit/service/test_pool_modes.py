"""The modes in the pool decision step, driven through the shipped example: the example's own
pre-warm window (weekdays 08:00 UTC for 10 h, LLM at one replica at least), its edges, and the
ClusterBinding's `podsOnly` as `ebb validate` checks it.

Pre-warm schedules are cron in UTC, the dialect of Karpenter's disruption budget schedules
(Karpenter docs, "Disruption", NodePool Disruption Budgets: `schedule` uses cron syntax, in UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from ebb.config import EbbConfig, load_config_files
from ebb.config.issues import ConfigValidationError
from ebb.core.replicas import CloudWatchResult, ReplicaCounts, SqsQueueAttributes
from ebb.service.decision import GroupCounts, PoolSnapshot, PoolState, ScalerSnapshot, decide_pool
from ebb.service.decision.modes import prewarm_floor

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "gpu-inference"
LLM = "serving/llm-inference"
BATCH = "batch/batch-worker"
THURSDAY_8 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def config() -> EbbConfig:
    return load_config_files(sorted(EXAMPLE.glob("*.yaml")))


def _snapshot(hyperpod_autoscaling: bool = False) -> PoolSnapshot:
    return PoolSnapshot(
        node_pool="gpu",
        scalers={
            LLM: ScalerSnapshot(
                observations={
                    "requests-per-target": CloudWatchResult(datapoints=()),
                    "wake-on-503": CloudWatchResult(datapoints=()),
                },
                replicas=ReplicaCounts(spec=0, status=0, ready=0),
            ),
            BATCH: ScalerSnapshot(
                observations={
                    "s0-aws-sqs-queue": SqsQueueAttributes(
                        attributes={
                            "ApproximateNumberOfMessages": "8",
                            "ApproximateNumberOfMessagesNotVisible": "0",
                        }
                    )
                },
                replicas=ReplicaCounts(spec=0, status=0, ready=0),
            ),
        },
        groups={
            "gpu-g5-use1a": GroupCounts(current=0, target=0),
            "gpu-g6e-use1b": GroupCounts(current=0, target=0),
        },
        hyperpod_autoscaling=hyperpod_autoscaling,
    )


@pytest.mark.parametrize(
    ("moment", "floor"),
    [
        (THURSDAY_8 - timedelta(seconds=1), None),  # before it opens
        (THURSDAY_8, 1),  # opens on the hit
        (THURSDAY_8 + timedelta(hours=10) - timedelta(seconds=1), 1),
        (THURSDAY_8 + timedelta(hours=10), None),  # ends on time
        (datetime(2026, 12, 5, 12, 0, tzinfo=UTC), None),  # a Saturday: no hit that day
    ],
)
def test_the_examples_pre_warm_window_opens_on_its_schedule_and_ends_after_its_duration(
    config: EbbConfig, moment: datetime, floor: int | None
) -> None:
    window = prewarm_floor(config, LLM, moment)
    assert (window.min_replicas if window else None) == floor
    assert prewarm_floor(config, BATCH, moment) is None


def test_inside_the_window_the_llm_gets_its_floor_and_a_node_explained(config: EbbConfig) -> None:
    decision = decide_pool(_snapshot(), PoolState(), config, THURSDAY_8 + timedelta(minutes=1))
    (llm,) = [o for o in decision.scalers if o.scaler == LLM]
    assert llm.desired == 1
    assert llm.decision.explanation.steps[-1] == (
        "pre-warm window '0 8 * * 1-5' from 2026-12-03T08:00:00+00:00 until "
        "2026-12-03T18:00:00+00:00: at least 1"
    )
    assert decision.provisioning is not None, "nodes follow from the plan"


def test_pods_only_and_hyperpod_autoscaling_plan_no_node(config: EbbConfig) -> None:
    binding = config.binding.model_copy(
        update={"spec": config.binding.spec.model_copy(update={"pods_only": ("gpu",)})}
    )
    pods_only = config.model_copy(update={"binding": binding})
    now = THURSDAY_8 - timedelta(hours=2)
    for decided in (
        decide_pool(_snapshot(), PoolState(), pods_only, now),
        decide_pool(_snapshot(hyperpod_autoscaling=True), PoolState(), config, now),
    ):
        assert [(o.scaler, o.desired) for o in decided.scalers] == [(BATCH, 4), (LLM, 0)]
        assert decided.provisioning is None
        assert decided.plan.nodes_added == 0
        assert decided.node_targets == {"gpu-g5-use1a": 0, "gpu-g6e-use1b": 0}
        assert len(decided.mode_notes) == 1
    # Pods only with HyperPod's autoscaling on is what it is for: no refusal.
    accepted = decide_pool(_snapshot(hyperpod_autoscaling=True), PoolState(), pods_only, now)
    assert accepted.mode_notes[0].startswith("node pool 'gpu' is pods only")


def test_pods_only_names_a_node_pool_of_the_configuration(tmp_path: Path) -> None:
    for path in EXAMPLE.glob("*.yaml"):
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        for document in documents:
            if document.get("kind") == "ClusterBinding":
                document["spec"]["podsOnly"] = ["gpu", "cpu"]
        (tmp_path / path.name).write_text(yaml.safe_dump_all(documents), encoding="utf-8")
    with pytest.raises(
        ConfigValidationError,
        match=r"spec\.podsOnly\[1\]: NodePool 'cpu' is not in the configuration; defined: gpu",
    ):
        load_config_files(sorted(tmp_path.glob("*.yaml")))
