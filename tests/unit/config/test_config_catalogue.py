"""The instance catalogue and the AWS name rules, checked against botocore's service models.

botocore ships the exact API shapes (botocore/data/<service>/<version>/service-2.json); the names,
patterns and enums ebb validates offline must agree with them.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import botocore.session
import pytest
from pydantic import ValidationError

from ebb.config import shipped_catalogue
from ebb.config.binding import _EKS_CLUSTER_RE, _HYPERPOD_CLUSTER_RE, MAX_INSTANCE_COUNT
from ebb.config.catalogue import CATALOGUE_RESOURCE, InstanceCatalogue
from ebb.config.keda_triggers import CLOUDWATCH_STANDARD_UNITS
from ebb.config.node_class import _INSTANCE_GROUP_NAME_RE, INSTANCE_GROUP_NAME_MAX
from ebb.config.summary import summarize


@cache
def _service_model(service: str) -> Any:
    # Parsing a service model takes a second (sagemaker's is large): once per service.
    return botocore.session.get_session().get_service_model(service)


def _shape(service: str, name: str) -> Any:
    return _service_model(service).shape_for(name)


def test_catalogue_types_are_hyperpod_instance_types() -> None:
    hyperpod_types = set(_shape("sagemaker", "ClusterInstanceType").enum)
    names = shipped_catalogue().names()
    assert len(names) == len(set(names))
    assert set(names) <= hyperpod_types


def test_catalogue_covers_the_types_hyperpod_inference_runs_on() -> None:
    names = set(shipped_catalogue().names())
    families = {name.split(".")[1] for name in names}
    assert {"g5", "g6", "g6e"} <= families
    assert {
        "ml.p4d.24xlarge",
        "ml.p4de.24xlarge",
        "ml.p5.48xlarge",
        "ml.p5e.48xlarge",
        "ml.p5en.48xlarge",
        "ml.m5.xlarge",
        "ml.c5.2xlarge",
        "ml.t3.medium",
    } <= names


def test_catalogue_states_region_source_and_date_of_prices() -> None:
    prices = shipped_catalogue().prices
    assert prices.region == "us-east-1"
    assert prices.currency == "USD"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", prices.retrieved)
    # Says plainly these are not HyperPod's own rates, and which entries are EC2 figures.
    assert "Not HyperPod's own price list" in prices.basis
    assert "'ec2'" in prices.basis
    assert prices.sources
    for key, reference in prices.sources.items():
        assert reference.region == prices.region, key
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", reference.retrieved), key
        # A repository file at a commit, or a URL.
        assert re.search(r"commit [0-9a-f]{40}|https://", reference.source), key
        assert reference.basis, key


def test_every_type_has_a_sourced_price() -> None:
    catalogue = shipped_catalogue()
    unpriced = set()
    for spec in catalogue.instance_types:
        reference = catalogue.price_reference(spec)
        assert reference is not None, f"{spec.name} names no price source"
        if spec.on_demand_usd_per_hour is None:
            assert reference.kind == "none", spec.name
            unpriced.add(spec.name)
        else:
            assert reference.kind != "none", spec.name
            assert spec.on_demand_usd_per_hour > 0, spec.name
    # No on-demand price for ml.p5e.48xlarge was found anywhere, and none was read for the
    # Trainium types (shipped for their Neuron devices); every other type has one.
    assert unpriced == {"ml.p5e.48xlarge", "ml.trn1.32xlarge", "ml.trn1n.32xlarge", "ml.trn2.48xlarge"}


def test_ec2_figures_are_marked_and_only_where_no_sagemaker_price_was_found() -> None:
    catalogue = shipped_catalogue()
    kinds = {spec.name: catalogue.price_reference(spec) for spec in catalogue.instance_types}
    ec2 = {name for name, reference in kinds.items() if reference is not None and reference.kind == "ec2"}
    assert ec2 == {"ml.p5en.48xlarge"}
    for name in ec2:
        reference = kinds[name]
        assert reference is not None
        assert "EC2" in reference.basis
    # The G families and the other P types carry SageMaker's (or HyperPod's own) price of the ml.* type.
    for name, reference in kinds.items():
        if name.split(".")[1] in {"g5", "g6", "g6e", "p4d", "p4de", "p5"}:
            assert reference is not None, name
            assert reference.kind in {"hyperpod", "sagemaker"}, name


@pytest.mark.parametrize(
    ("family", "gpu_model", "gpu_memory_gb", "memory_per_vcpu"),
    [("g5", "NVIDIA A10G", 24, 4), ("g6", "NVIDIA L4", 24, 4), ("g6e", "NVIDIA L40S", 48, 8)],
)
def test_every_size_of_a_family_has_its_gpu(
    family: str, gpu_model: str, gpu_memory_gb: int, memory_per_vcpu: int
) -> None:
    specs = [s for s in shipped_catalogue().instance_types if s.name.split(".")[1] == family]
    assert len(specs) == 8
    assert {(s.gpu_model, s.gpu_memory_gb) for s in specs} == {(gpu_model, gpu_memory_gb)}
    assert {s.memory_gib / s.vcpu for s in specs} == {memory_per_vcpu}
    gpus_by_size = {s.name.split(".")[2]: s.gpus for s in specs}
    # One GPU up to 16xlarge, four on 12xlarge and 24xlarge, eight on 48xlarge.
    assert gpus_by_size == {
        "xlarge": 1,
        "2xlarge": 1,
        "4xlarge": 1,
        "8xlarge": 1,
        "16xlarge": 1,
        "12xlarge": 4,
        "24xlarge": 4,
        "48xlarge": 8,
    }


SpecFacts = tuple[int, int, int, str | None, int | None]


@pytest.mark.parametrize(
    ("name", "facts"),
    [
        # vCPU, memory GiB, GPUs, GPU model, GPU memory GB
        ("ml.p4d.24xlarge", (96, 1152, 8, "NVIDIA A100", 40)),
        ("ml.p4de.24xlarge", (96, 1152, 8, "NVIDIA A100", 80)),
        ("ml.p5.4xlarge", (16, 256, 1, "NVIDIA H100", 80)),
        ("ml.p5.48xlarge", (192, 2048, 8, "NVIDIA H100", 80)),
        ("ml.p5e.48xlarge", (192, 2048, 8, "NVIDIA H200", 141)),
        ("ml.p5en.48xlarge", (192, 2048, 8, "NVIDIA H200", 141)),
        ("ml.t3.medium", (2, 4, 0, None, None)),
        ("ml.m5.xlarge", (4, 16, 0, None, None)),
        ("ml.c5.2xlarge", (8, 16, 0, None, None)),
    ],
)
def test_p_and_cpu_types_have_their_specs(name: str, facts: SpecFacts) -> None:
    spec = shipped_catalogue().get(name)
    assert spec is not None
    assert (spec.vcpu, spec.memory_gib, spec.gpus, spec.gpu_model, spec.gpu_memory_gb) == facts
    assert spec.architecture == "amd64"


def test_gpu_facts_are_given_exactly_for_gpu_types() -> None:
    for spec in shipped_catalogue().instance_types:
        has_gpu = spec.gpus > 0
        assert (spec.gpu_model is not None) == has_gpu, spec.name
        assert (spec.gpu_memory_gb is not None) == has_gpu, spec.name


def test_within_a_family_more_vcpus_for_the_same_gpus_cost_more() -> None:
    by_family: dict[tuple[str, int], list[tuple[int, float]]] = {}
    for spec in shipped_catalogue().instance_types:
        if spec.on_demand_usd_per_hour is not None:
            key = (spec.name.split(".")[1], spec.gpus)
            by_family.setdefault(key, []).append((spec.vcpu, spec.on_demand_usd_per_hour))
    for key, sizes in by_family.items():
        prices = [price for _, price in sorted(sizes)]
        assert prices == sorted(prices), key


def _catalogue_json() -> dict[str, Any]:
    text = resources.files("ebb.config").joinpath(CATALOGUE_RESOURCE).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def _entry(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(entry for entry in document["instanceTypes"] if entry["name"] == name)


def test_the_shipped_json_is_what_the_loader_returns() -> None:
    assert InstanceCatalogue.model_validate(_catalogue_json()) == shipped_catalogue()


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("ml.g5.xlarge", {"priceSource": "nowhere"}, "priceSource 'nowhere' is not in prices.sources"),
        ("ml.g5.xlarge", {"onDemandUsdPerHour": None}, "a price must be given exactly when"),
        ("ml.p5e.48xlarge", {"onDemandUsdPerHour": 1.0}, "a price must be given exactly when"),
        ("ml.p5e.48xlarge", {"priceSource": None}, "no price and no priceSource saying why"),
    ],
)
def test_the_loader_refuses_unsourced_prices(name: str, change: dict[str, Any], message: str) -> None:
    document = _catalogue_json()
    _entry(document, name).update(change)
    with pytest.raises(ValidationError, match=re.escape(message)):
        InstanceCatalogue.model_validate(document)


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
    assert shipped_catalogue().get("ml.p6-b200.48xlarge") is None
    group = docs.binding["spec"]["hyperPodCluster"]["instanceGroups"][1]
    group["instanceType"] = "ml.p6-b200.48xlarge"
    docs.binding["spec"]["instanceCatalogue"] = {
        "instanceTypes": [
            {
                "name": "ml.p6-b200.48xlarge",
                "vcpu": 192,
                "memoryGiB": 2024,
                "gpus": 8,
                "gpuModel": "NVIDIA B200",
                "gpuMemoryGB": 179,
                "onDemandUsdPerHour": 99.5,
            }
        ]
    }
    docs.pool_template["requirements"][0]["values"].append("ml.p6-b200.48xlarge")
    result = docs.check()
    assert result.errors == ()
    assert result.config is not None
    catalogue = result.config.catalogue
    spec = catalogue.get("ml.p6-b200.48xlarge")
    assert spec is not None
    assert spec.gpus == 8
    # The binding's entry names no source: the (shipped) top-level prices block describes it.
    assert catalogue.price_reference(spec) is None
    assert catalogue.get("ml.g5.xlarge") is not None


def test_a_binding_can_price_a_shipped_type_and_keep_the_other_sources(docs: Any) -> None:
    shipped = shipped_catalogue().get("ml.g5.xlarge")
    assert shipped is not None
    docs.binding["spec"]["instanceCatalogue"] = {
        "instanceTypes": [
            {**shipped.model_dump(by_alias=True, exclude={"price_source"}), "onDemandUsdPerHour": 1.5}
        ],
        "prices": {
            "region": "us-east-1",
            "basis": "our negotiated HyperPod rates",
            "source": "contract 42",
            "retrieved": "2026-11-01",
        },
    }
    result = docs.check()
    assert result.errors == ()
    assert result.config is not None
    catalogue = result.config.catalogue
    overridden = catalogue.get("ml.g5.xlarge")
    assert overridden is not None
    assert overridden.on_demand_usd_per_hour == 1.5
    assert catalogue.price_reference(overridden) is None
    assert catalogue.prices.source == "contract 42"
    # The shipped entries the binding left alone still say where their prices come from.
    kept = catalogue.get("ml.p5en.48xlarge")
    assert kept is not None
    reference = catalogue.price_reference(kept)
    assert reference is not None
    assert reference.kind == "ec2"


def test_an_unpriced_type_validates_and_is_summarised_without_a_price(docs: Any) -> None:
    group = docs.binding["spec"]["hyperPodCluster"]["instanceGroups"][1]
    group["instanceType"] = "ml.p5e.48xlarge"
    docs.pool_template["requirements"][0]["values"].append("ml.p5e.48xlarge")
    result = docs.check()
    assert result.errors == ()
    assert result.config is not None
    summary = summarize(result.config)
    by_name = {g.name: g for g in summary.instance_groups}
    assert by_name[group["name"]].usd_per_hour is None
