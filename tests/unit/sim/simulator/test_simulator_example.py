"""The comparison's configuration ships as a named example that `ebb validate` accepts."""

from __future__ import annotations

from pathlib import Path

from ebb.cli.simulate import DEFAULT_CONFIG
from ebb.config import check_config_files, load_config_files
from ebb.config.node_planning import pool_statics

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "simulate-comparison"


def test_the_example_is_the_default_and_validates_without_errors_or_notes() -> None:
    assert DEFAULT_CONFIG == EXAMPLE
    result = check_config_files(sorted(EXAMPLE.glob("*.yaml")))
    assert result.errors == ()
    assert result.notes == ()


def test_four_and_eight_gpu_groups_in_two_zones_with_limits_above_the_peak() -> None:
    config = load_config_files(sorted(EXAMPLE.glob("*.yaml")))
    groups = {
        (g.instance_type, g.availability_zone) for g in config.binding.spec.hyper_pod_cluster.instance_groups
    }
    assert groups == {
        ("ml.g5.12xlarge", "us-east-1a"),
        ("ml.g5.12xlarge", "us-east-1b"),
        ("ml.g5.48xlarge", "us-east-1a"),
        ("ml.g5.48xlarge", "us-east-1b"),
    }
    assert {config.catalogue.get(t).gpus for t, _ in groups} == {4, 8}  # type: ignore[union-attr]
    limits = pool_statics(config, "gpu").node_pool.limits
    # The default peak is about 40 one-GPU pods (41 after the jitter of a scaled request trace).
    assert limits.gpus is not None
    assert limits.gpus > 41
    (scaled_object,) = config.scaled_objects
    assert scaled_object.spec.max_replica_count > 41
