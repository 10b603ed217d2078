"""The instance catalogue: what each HyperPod `ml.*` instance type offers, and what it costs.

The catalogue ships as `instance_catalogue.json` beside this module and is loaded with
importlib.resources; a ClusterBinding may override or add entries. Each shipped entry names, in
`priceSource`, which of the `prices.sources` its price comes from, and that source says what kind
of price it is (HyperPod's own, SageMaker's, the underlying EC2 type's, or none) and where it was
read; an entry without `priceSource` (as a binding's own entries usually are) is described by the
top-level `prices` block.

Allocatable resources are capacity minus the system reservation the SageMaker HyperPod CLI assumes
(aws/sagemaker-hyperpod-cli, src/sagemaker/hyperpod/training/quota_allocation_util.py,
`_calculate_cpu_reservation` and `_calculate_memory_reservation`), minus the per-node overhead
(daemon sets) the binding states.
"""

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Annotated, Literal, Self

from pydantic import Field, StrictInt, StrictStr, model_validator

from ebb.config.model_base import FrozenMap, ManifestModel, StrictFloat, empty_map

CATALOGUE_RESOURCE = "instance_catalogue.json"
GIB = Decimal(2**30)
MIB = Decimal(2**20)
GPU_RESOURCE = "nvidia.com/gpu"
MIG_PREFIX = "nvidia.com/mig-"

Architecture = Literal["amd64", "arm64"]

# What a price is: HyperPod's own on-demand rate for the ml.* type, SageMaker's on-demand rate for
# the same ml.* type when it runs other SageMaker features (notebooks, endpoints, training jobs),
# the underlying EC2 type's on-demand rate, or none known.
PriceKind = Literal["hyperpod", "sagemaker", "ec2", "none"]


class InstanceTypeSpec(ManifestModel):
    """One instance type: capacity, GPUs and on-demand price (null when no price is known)."""

    name: Annotated[StrictStr, Field(pattern=r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")]
    vcpu: Annotated[StrictInt, Field(gt=0)]
    memory_gib: Annotated[StrictFloat, Field(gt=0)] = Field(alias="memoryGiB")
    gpus: Annotated[StrictInt, Field(ge=0)]
    gpu_model: StrictStr | None = Field(None, alias="gpuModel")
    gpu_memory_gb: Annotated[StrictInt, Field(gt=0)] | None = Field(None, alias="gpuMemoryGB")
    architecture: Architecture = "amd64"
    on_demand_usd_per_hour: Annotated[StrictFloat, Field(ge=0)] | None = Field(alias="onDemandUsdPerHour")
    price_source: StrictStr | None = Field(None, alias="priceSource")
    zone_usd_per_hour: FrozenMap[StrictStr, Annotated[StrictFloat, Field(ge=0)]] = Field(
        default_factory=empty_map, alias="zoneUsdPerHour"
    )
    """On-demand prices that differ by Availability Zone (zone name -> USD per hour)."""
    devices: FrozenMap[StrictStr, Annotated[StrictInt, Field(gt=0)]] = Field(default_factory=empty_map)
    """What device plugins advertise on a node of the type, by resource name
    (`vpc.amazonaws.com/efa`, `aws.amazon.com/neuron`, `aws.amazon.com/neuroncore`, and MIG
    profiles `nvidia.com/mig-<profile>` when the GPUs are partitioned); the sources are in
    `specs.devices`."""
    mig_profiles: FrozenMap[StrictStr, Annotated[StrictInt, Field(gt=0)]] = Field(
        default_factory=empty_map, alias="migProfiles"
    )
    """MIG profiles of the type's GPU and how many instances of each one GPU holds."""

    @model_validator(mode="after")
    def _devices_are_named_apart(self) -> Self:
        for name, count in self.devices.items():
            if name in ("cpu", "memory", "pods", GPU_RESOURCE):
                raise ValueError(f"{self.name}: devices.{name}: {name} has its own field")
            if name.startswith(MIG_PREFIX):
                profile = name.removeprefix(MIG_PREFIX)
                per_gpu = self.mig_profiles.get(profile)
                if per_gpu is None:
                    raise ValueError(
                        f"{self.name}: devices.{name}: {profile} is not a MIG profile of this type's GPU"
                        + (f" (its profiles: {', '.join(self.mig_profiles)})" if self.mig_profiles else "")
                    )
                if count > per_gpu * self.gpus:
                    raise ValueError(
                        f"{self.name}: devices.{name}: {count} is more than {self.gpus} GPU(s) x "
                        f"{per_gpu} {profile} instance(s) per GPU"
                    )
        return self

    def price_in(self, zone: str) -> float | None:
        """The on-demand price in `zone`: its own where the entry gives one, else the type's."""
        return self.zone_usd_per_hour.get(zone, self.on_demand_usd_per_hour)

    def capacity(self) -> dict[str, Decimal]:
        """cpu in cores, memory in bytes, GPUs in devices."""
        capacity = {"cpu": Decimal(self.vcpu), "memory": Decimal(str(self.memory_gib)) * GIB}
        if self.gpus:
            capacity[GPU_RESOURCE] = Decimal(self.gpus)
        capacity.update({name: Decimal(count) for name, count in self.devices.items()})
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


class PriceReference(ManifestModel):
    """One source of prices, named by the entries' `priceSource`: what kind of price, where read, when."""

    kind: PriceKind
    region: StrictStr
    basis: StrictStr
    source: StrictStr
    retrieved: StrictStr


class PriceSource(ManifestModel):
    """Where the prices come from, for which region, and when they were read.

    `sources` holds the sources entries name in `priceSource`; the other fields describe the
    catalogue's prices as a whole, and the entries that name no source.
    """

    region: StrictStr
    currency: Literal["USD"] = "USD"
    basis: StrictStr
    source: StrictStr
    retrieved: StrictStr
    sources: FrozenMap[str, PriceReference] = Field(default_factory=empty_map)


class SpecSource(ManifestModel):
    """Where the capacities come from; `devices` and `migProfiles` name theirs per resource."""

    source: StrictStr
    retrieved: StrictStr
    devices: FrozenMap[StrictStr, StrictStr] = Field(default_factory=empty_map)
    """Resource name (or `nvidia.com/mig-*` for every MIG profile) -> where its counts come from."""


class InstanceCatalogue(ManifestModel):
    """Instance types by name."""

    schema_version: Literal[1] = Field(alias="schemaVersion")
    specs: SpecSource
    prices: PriceSource
    instance_types: tuple[InstanceTypeSpec, ...] = Field(alias="instanceTypes")

    @model_validator(mode="after")
    def _devices_are_sourced(self) -> Self:
        for spec in self.instance_types:
            for name in (*spec.devices, *((MIG_PREFIX + "*",) if spec.mig_profiles else ())):
                key = MIG_PREFIX + "*" if name.startswith(MIG_PREFIX) else name
                if key not in self.specs.devices:
                    raise ValueError(f"{spec.name}: devices.{name}: no source for it in specs.devices")
        return self

    @model_validator(mode="after")
    def _prices_are_sourced(self) -> Self:
        sources = self.prices.sources
        for spec in self.instance_types:
            if spec.price_source is None:
                if spec.on_demand_usd_per_hour is None:
                    raise ValueError(f"{spec.name}: no price and no priceSource saying why")
                continue
            reference = sources.get(spec.price_source)
            if reference is None:
                raise ValueError(f"{spec.name}: priceSource {spec.price_source!r} is not in prices.sources")
            if (reference.kind == "none") != (spec.on_demand_usd_per_hour is None):
                raise ValueError(
                    f"{spec.name}: a price must be given exactly when its source ({spec.price_source!r}) "
                    "is not of kind 'none'"
                )
        return self

    def get(self, name: str) -> InstanceTypeSpec | None:
        """The spec of `name`, or None."""
        return self._by_name().get(name)

    def price_reference(self, spec: InstanceTypeSpec) -> PriceReference | None:
        """The source `spec` names in `priceSource`, or None (the top-level `prices` block describes it)."""
        if spec.price_source is None:
            return None
        return self.prices.sources.get(spec.price_source)

    def names(self) -> tuple[str, ...]:
        """All instance type names, in catalogue order."""
        return tuple(spec.name for spec in self.instance_types)

    def _by_name(self) -> dict[str, InstanceTypeSpec]:
        return {spec.name: spec for spec in self.instance_types}

    def with_overrides(
        self, instance_types: Iterable[InstanceTypeSpec], prices: PriceSource | None = None
    ) -> "InstanceCatalogue":
        """A catalogue where the given entries replace or extend the shipped ones.

        Given `prices` replace the top-level block; the named sources of the entries kept stay
        available, with a same-named source in `prices` taking precedence.
        """
        merged = self._by_name()
        for spec in instance_types:
            merged[spec.name] = spec
        effective = self.prices
        if prices is not None:
            sources = {**self.prices.sources, **prices.sources}
            effective = prices.model_copy(update={"sources": MappingProxyType(sources)})
        return self.model_copy(update={"instance_types": tuple(merged.values()), "prices": effective})


@cache
def shipped_catalogue() -> InstanceCatalogue:
    """The catalogue shipped with ebb (parsed once per process)."""
    text = resources.files("ebb.config").joinpath(CATALOGUE_RESOURCE).read_text(encoding="utf-8")
    return InstanceCatalogue.model_validate(json.loads(text))
