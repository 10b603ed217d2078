"""The shipped example loads, means what the README says, and the loaded object is immutable.

The example (examples/gpu-inference): an LLM inference Deployment scaled on ALB requests per target
and a batch worker scaled on SQS depth, both scaling to zero, sharing one NodePool over two HyperPod
GPU instance groups in different Availability Zones.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from pydantic import ValidationError

from ebb.config import (
    AwsCloudWatchTrigger,
    AwsSqsQueueTrigger,
    ConfigValidationError,
    EbbConfig,
    check_config_files,
    load_config_files,
    summarize,
)
from ebb.config.durations import Duration

EXAMPLE_FILES = sorted((Path(__file__).resolve().parents[3] / "examples" / "gpu-inference").glob("*.yaml"))


@pytest.fixture(scope="module")
def config() -> EbbConfig:
    return load_config_files(EXAMPLE_FILES)


def test_the_example_loads_without_errors_or_notes() -> None:
    result = check_config_files(EXAMPLE_FILES)
    assert result.errors == ()
    assert result.notes == ()


def test_both_scalers_scale_to_zero_on_one_node_pool(config: EbbConfig) -> None:
    llm = config.scaled_object("serving", "llm-inference")
    batch = config.scaled_object("batch", "batch-worker")
    assert llm is not None
    assert batch is not None
    assert llm.spec.scales_to_zero
    assert batch.spec.scales_to_zero
    assert config.node_pool_of(llm).name == config.node_pool_of(batch).name == "gpu"


def test_llm_scales_on_requests_per_target_and_wakes_on_the_load_balancer(config: EbbConfig) -> None:
    llm = config.scaled_object("serving", "llm-inference")
    assert llm is not None
    load, wake = llm.spec.triggers
    assert isinstance(load, AwsCloudWatchTrigger)
    assert isinstance(wake, AwsCloudWatchTrigger)
    assert load.metadata.metric_name == "RequestCountPerTarget"
    assert load.metadata.is_alb_target_metric
    assert wake.metadata.is_alb_wake_signal
    assert wake.metadata.load_balancer == load.metadata.load_balancer == "app/llm-inference/50dc6c495c0c9188"


def test_batch_worker_scales_on_queue_depth(config: EbbConfig) -> None:
    batch = config.scaled_object("batch", "batch-worker")
    assert batch is not None
    (trigger,) = batch.spec.triggers
    assert isinstance(trigger, AwsSqsQueueTrigger)
    assert (trigger.metadata.queue_name, trigger.metadata.queue_length) == ("batch-jobs", 2)


def test_the_pool_spans_two_gpu_groups_in_different_zones(config: EbbConfig) -> None:
    pool = config.node_pool("gpu")
    assert pool is not None
    groups = config.instance_groups_of(pool)
    assert [g.name for g in groups] == ["gpu-g5-use1a", "gpu-g6e-use1b"]
    assert len({g.availability_zone for g in groups}) == 2
    for group in groups:
        spec = config.catalogue.get(group.instance_type)
        assert spec is not None
        assert spec.gpus > 0


def test_summary_lists_scalers_pools_groups_and_where_pods_fit(config: EbbConfig) -> None:
    summary = summarize(config)
    assert [s.name for s in summary.scalers] == ["batch/batch-worker", "serving/llm-inference"]
    assert [len(s.triggers) for s in summary.scalers] == [1, 2]
    assert [p.name for p in summary.node_pools] == ["gpu"]
    assert [g.name for g in summary.instance_groups] == ["gpu-g5-use1a", "gpu-g6e-use1b"]
    # One GPU per pod, four GPUs per node in both groups: both scalers fit four to a node.
    assert {(p.scaler, p.instance_group, p.lands, p.pods_per_node) for p in summary.placements} == {
        ("batch/batch-worker", "gpu-g5-use1a", True, 4),
        ("batch/batch-worker", "gpu-g6e-use1b", True, 4),
        ("serving/llm-inference", "gpu-g5-use1a", True, 4),
        ("serving/llm-inference", "gpu-g6e-use1b", True, 4),
    }
    assert summary.shadow_mode is True


def test_the_config_is_immutable(config: EbbConfig) -> None:
    with pytest.raises(ValidationError):
        config.binding.spec.shadow_mode = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.binding.spec.node_overhead["cpu"] = config.binding.spec.node_overhead["cpu"]  # type: ignore[index]
    with pytest.raises(FrozenInstanceError):
        config.node_pools[0].spec.disruption.consolidate_after.seconds = 1  # type: ignore[misc]
    assert isinstance(config.node_pools[0].spec.disruption.consolidate_after, Duration)
    assert isinstance(config.scaled_objects, tuple)


def test_an_unreadable_file_is_an_error_not_an_exception(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigValidationError) as raised:
        load_config_files([*EXAMPLE_FILES, missing])
    assert [str(issue) for issue in raised.value.errors] == [
        f"{missing}: cannot be read: No such file or directory"
    ]


def test_the_config_dumps_to_json_as_written(config: EbbConfig) -> None:
    # Quantities and durations keep the user's spelling, so a dump reads like the input.
    dumped = config.model_dump(mode="json", by_alias=True)
    assert dumped["binding"]["spec"]["nodeOverhead"] == {"cpu": "500m", "memory": "1Gi"}
    assert dumped["binding"]["spec"]["idle"] == {"emptyNodeAfter": None}
    pool = dumped["node_pools"][0]["spec"]
    assert (pool["limits"], pool["disruption"]["consolidateAfter"]) == (
        {"nvidia.com/gpu": "32", "nodes": "8"},
        "5m",
    )
