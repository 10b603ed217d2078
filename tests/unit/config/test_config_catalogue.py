"""The instance catalogue and the AWS name rules, checked against botocore's service models.

botocore ships the exact API shapes (botocore/data/<service>/<version>/service-2.json); the names,
patterns and enums ebb validates offline must agree with them.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import botocore.session
import pytest

from ebb.config import shipped_catalogue
from ebb.config.binding import _EKS_CLUSTER_RE, _HYPERPOD_CLUSTER_RE, MAX_INSTANCE_COUNT
from ebb.config.keda_triggers import CLOUDWATCH_STANDARD_UNITS
from ebb.config.node_class import _INSTANCE_GROUP_NAME_RE, INSTANCE_GROUP_NAME_MAX


@cache
def _service_model(service: str) -> Any:
    # Parsing a service model takes a second (sagemaker's is large): once per service.
    return botocore.session.get_session().get_service_model(service)


def _shape(service: str, name: str) -> Any:
    return _service_model(service).shape_for(name)


def test_catalogue_types_are_hyperpod_instance_types() -> None:
    hyperpod_types = set(_shape("sagemaker", "ClusterInstanceType").enum)
    assert set(shipped_catalogue().names()) <= hyperpod_types


def test_catalogue_states_region_source_and_date_of_prices() -> None:
    prices = shipped_catalogue().prices
    assert prices.region == "us-east-1"
    assert prices.currency == "USD"
    assert "tsaol/aws-gpu" in prices.source
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", prices.retrieved)
    assert "EC2" in prices.basis  # says plainly these are not HyperPod's own rates


@pytest.mark.parametrize(
    ("family", "gpu_model", "gpu_memory_gb"),
    [("g5", "NVIDIA A10G", 24), ("g6", "NVIDIA L4", 24), ("g6e", "NVIDIA L40S", 48)],
)
def test_every_size_of_a_family_has_its_gpu(family: str, gpu_model: str, gpu_memory_gb: int) -> None:
    specs = [s for s in shipped_catalogue().instance_types if s.name.split(".")[1] == family]
    assert len(specs) == 8
    assert {(s.gpu_model, s.gpu_memory_gb) for s in specs} == {(gpu_model, gpu_memory_gb)}
    # Among the one-GPU sizes of a family, more vCPUs cost more.
    single = sorted((s for s in specs if s.gpus == 1), key=lambda s: s.vcpu)
    assert [s.on_demand_usd_per_hour for s in single] == sorted(s.on_demand_usd_per_hour for s in single)


def test_instance_group_name_rule_matches_sagemaker() -> None:
    shape = _shape("sagemaker", "ClusterInstanceGroupName")
    assert shape.metadata["max"] == INSTANCE_GROUP_NAME_MAX
    assert f"^{shape.metadata['pattern']}$" == _INSTANCE_GROUP_NAME_RE.pattern


def test_hyperpod_cluster_rule_matches_sagemaker() -> None:
    assert f"^{_shape('sagemaker', 'ClusterNameOrArn').metadata['pattern']}$" == _HYPERPOD_CLUSTER_RE.pattern


def test_min_instance_count_bound_matches_sagemaker() -> None:
    members = _shape("sagemaker", "ClusterInstanceGroupSpecification").members
    assert members["MinInstanceCount"].metadata["max"] == MAX_INSTANCE_COUNT


def test_eks_cluster_name_rule_matches_eks() -> None:
    metadata = _shape("eks", "ClusterName").metadata
    assert (metadata["min"], metadata["max"]) == (1, 100)
    # botocore's pattern is unanchored at the end and unbounded; ebb anchors it and adds the length.
    assert metadata["pattern"] == "^[0-9A-Za-z][A-Za-z0-9\\-_]*"
    assert _EKS_CLUSTER_RE.pattern == "^[0-9A-Za-z][A-Za-z0-9\\-_]{0,99}$"


def test_cloudwatch_units_match_cloudwatch() -> None:
    assert tuple(_shape("cloudwatch", "StandardUnit").enum) == CLOUDWATCH_STANDARD_UNITS


def test_a_binding_can_add_an_instance_type(docs: Any) -> None:
    group = docs.binding["spec"]["hyperPodCluster"]["instanceGroups"][1]
    group["instanceType"] = "ml.p5.48xlarge"
    docs.binding["spec"]["instanceCatalogue"] = {
        "instanceTypes": [
            {
                "name": "ml.p5.48xlarge",
                "vcpu": 192,
                "memoryGiB": 2048,
                "gpus": 8,
                "gpuModel": "NVIDIA H100",
                "gpuMemoryGB": 80,
                "onDemandUsdPerHour": 98.32,
            }
        ]
    }
    docs.pool_template["requirements"][0]["values"].append("ml.p5.48xlarge")
    result = docs.check()
    assert result.errors == ()
    assert result.config is not None
    spec = result.config.catalogue.get("ml.p5.48xlarge")
    assert spec is not None
    assert spec.gpus == 8
    assert result.config.catalogue.get("ml.g5.xlarge") is not None
