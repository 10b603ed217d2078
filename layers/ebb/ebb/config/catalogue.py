"""The instance catalogue: what each HyperPod `ml.*` instance type offers, and what it costs.

The catalogue ships as `instance_catalogue.json` beside this module and is loaded with
importlib.resources; a ClusterBinding may override or add entries. Allocatable resources are
capacity minus the system reservation the SageMaker HyperPod CLI assumes
(aws/sagemaker-hyperpod-cli, src/sagemaker/hyperpod/training/quota_allocation_util.py,
`_calculate_cpu_reservation` and `_calculate_memory_reservation`), minus the per-node overhead
(daemon sets) the binding states.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Annotated, Literal

from pydantic import Field, StrictInt, StrictStr

from ebb.config.model_base import ManifestModel, StrictFloat

CATALOGUE_RESOURCE = "instance_catalogue.json"
GIB = Decimal(2**30)
MIB = Decimal(2**20)
GPU_RESOURCE = "nvidia.com/gpu"

Architecture = Literal["amd64", "arm64"]


class InstanceTypeSpec(ManifestModel):
    """One instance type: capacity, GPUs and on-demand price."""

    name: Annotated[StrictStr, Field(pattern=r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")]
    vcpu: Annotated[StrictInt, Field(gt=0)]
    memory_gib: Annotated[StrictFloat, Field(gt=0)] = Field(alias="memoryGiB")
    gpus: Annotated[StrictInt, Field(ge=0)]
    gpu_model: StrictStr | None = Field(None, alias="gpuModel")
    gpu_memory_gb: Annotated[StrictInt, Field(gt=0)] | None = Field(None, alias="gpuMemoryGB")
    architecture: Architecture = "amd64"
    on_demand_usd_per_hour: Annotated[StrictFloat, Field(ge=0)] = Field(alias="onDemandUsdPerHour")

    def capacity(self) -> dict[str, Decimal]:
        """cpu in cores, memory in bytes, GPUs in devices."""
        capacity = {"cpu": Decimal(self.vcpu), "memory": Decimal(str(self.memory_gib)) * GIB}
        if self.gpus:
            capacity[GPU_RESOURCE] = Decimal(self.gpus)
        return capacity

    def allocatable(self, node_overhead: Mapping[str, Decimal] | None = None) -> dict[str, Decimal]:
        """What pods can request on one node: capacity less system reservation and per-node overhead."""
        allocatable = self.capacity()
        allocatable["cpu"] -= cpu_reservation(self.vcpu)
        allocatable["memory"] -= memory_reservation_gib(Decimal(str(self.memory_gib))) * GIB
        for name, amount in (node_overhead or {}).items():
            allocatable[name] = allocatable.get(name, Decimal(0)) - amount
        return allocatable

    def requirement_facts(self) -> dict[str, str]:
        """The well-known node facts NodePool requirements are evaluated against."""
        return {
            "node.kubernetes.io/instance-type": self.name,
            "kubernetes.io/arch": self.architecture,
            "karpenter.k8s.aws/instance-cpu": str(self.vcpu),
            "karpenter.k8s.aws/instance-memory": str(int(Decimal(str(self.memory_gib)) * 1024)),
            "karpenter.k8s.aws/instance-gpu-count": str(self.gpus),
        }


def cpu_reservation(vcpus: int) -> Decimal:
    """Cores held back for the system.

    0.1, plus 30% of the 1st core, 15% of the 2nd, 10% each of the 3rd and 4th, 6% of each after.
    """
    reserved = Decimal("0.1")
    if vcpus >= 1:
        reserved += Decimal("0.3")
    if vcpus >= 2:
        reserved += Decimal("0.15")
    reserved += Decimal("0.1") * min(2, max(0, vcpus - 2))
    if vcpus > 4:
        reserved += Decimal("0.06") * (vcpus - 4)
    return reserved


def memory_reservation_gib(memory_gib: Decimal) -> Decimal:
    """GiB of memory held back for the system.

    0.5, plus 30% of the first 4 GiB, 25% of the next 4, 20% of the next 8, 17% of the next 112, 7% after.
    """
    reserved = Decimal("0.5")
    remaining = memory_gib
    for size, share in ((4, "0.3"), (4, "0.25"), (8, "0.2"), (112, "0.17")):
        portion = min(Decimal(size), remaining)
        reserved += portion * Decimal(share)
        remaining -= portion
        if remaining <= 0:
            return reserved
    return reserved + remaining * Decimal("0.07")


class PriceSource(ManifestModel):
    """Where the prices come from, for which region, and when they were read."""

    region: StrictStr
    currency: Literal["USD"] = "USD"
    basis: StrictStr
    source: StrictStr
    retrieved: StrictStr


class SpecSource(ManifestModel):
    """Where the capacities come from."""

    source: StrictStr
    retrieved: StrictStr


class InstanceCatalogue(ManifestModel):
    """Instance types by name."""

    schema_version: Literal[1] = Field(alias="schemaVersion")
    specs: SpecSource
    prices: PriceSource
    instance_types: tuple[InstanceTypeSpec, ...] = Field(alias="instanceTypes")

    def get(self, name: str) -> InstanceTypeSpec | None:
        """The spec of `name`, or None."""
        return self._by_name().get(name)

    def names(self) -> tuple[str, ...]:
        """All instance type names, in catalogue order."""
        return tuple(spec.name for spec in self.instance_types)

    def _by_name(self) -> dict[str, InstanceTypeSpec]:
        return {spec.name: spec for spec in self.instance_types}

    def with_overrides(
        self, instance_types: Iterable[InstanceTypeSpec], prices: PriceSource | None = None
    ) -> InstanceCatalogue:
        """A catalogue where the given entries replace or extend the shipped ones."""
        merged = self._by_name()
        for spec in instance_types:
            merged[spec.name] = spec
        return self.model_copy(
            update={"instance_types": tuple(merged.values()), "prices": prices or self.prices}
        )


@cache
def shipped_catalogue() -> InstanceCatalogue:
    """The catalogue shipped with ebb (parsed once per process)."""
    text = resources.files("ebb.config").joinpath(CATALOGUE_RESOURCE).read_text(encoding="utf-8")
    return InstanceCatalogue.model_validate(json.loads(text))
