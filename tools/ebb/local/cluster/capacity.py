"""What the kubelet of a HyperPod instance reports: capacity from the instance type, allocatable
after the kubelet's reservations.

Capacity comes from ebb's instance catalogue (vCPUs, memory, GPUs of each `ml.*` type). The
reservations are the EKS-optimized AMI's, assumed for HyperPod's EKS AMI (no offline test can
show what HyperPod's AMI configures): kube-reserved CPU of 6% of the first core, 1% of the
second, 0.5% of the third and fourth and 0.25% of each further core; kube-reserved memory of
11 MiB per schedulable pod plus 255 MiB; and the kubelet's default hard eviction threshold,
`memory.available<100Mi` (awslabs/amazon-eks-ami, bootstrap.sh `get_cpu_millicores_to_reserve`
and `get_memory_mebibytes_to_reserve`; Kubernetes docs, "Reserve Compute Resources for System
Daemons"). These are computed here, not taken from ebb's planner, so that the stand-in does not
agree with what it checks by construction. GPUs are not in the first report: the device plugin
registers them later (the Kubernetes stand-in's `gpu_allocatable_delay_seconds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ebb.config.catalogue import InstanceCatalogue, InstanceTypeSpec
from ebb.errors import ConfigError

EVICTION_HARD_MEMORY_MIB = 100
_KIB_PER_GIB = 1024 * 1024


class UnknownInstanceType(ConfigError):
    """A HyperPod instance booted with a type the world's instance catalogue does not describe."""


@dataclass(frozen=True)
class KubeletReport:
    """A node's resources as its kubelet first reports them (quantities as the API writes them)."""

    capacity: dict[str, str]
    allocatable: dict[str, str]
    gpus: int
    architecture: str


def kube_reserved_cpu_millicores(vcpus: int) -> int:
    """The EKS AMI's kube-reserved CPU, in millicores (rounded down, as its shell arithmetic does)."""
    reserved = Decimal(0)
    for core in range(1, vcpus + 1):
        if core == 1:
            reserved += Decimal(60)
        elif core == 2:
            reserved += Decimal(10)
        elif core <= 4:
            reserved += Decimal(5)
        else:
            reserved += Decimal("2.5")
    return int(reserved)


def kube_reserved_memory_mib(max_pods: int) -> int:
    """The EKS AMI's kube-reserved memory, in MiB: 11 per pod the node may run, plus 255."""
    return 11 * max_pods + 255


def kubelet_report(spec: InstanceTypeSpec, *, max_pods: int) -> KubeletReport:
    """Capacity and allocatable of a node of `spec` whose kubelet admits `max_pods` pods."""
    memory_kib = int(Decimal(str(spec.memory_gib)) * _KIB_PER_GIB)
    reserved_kib = (kube_reserved_memory_mib(max_pods) + EVICTION_HARD_MEMORY_MIB) * 1024
    capacity = {"cpu": str(spec.vcpu), "memory": f"{memory_kib}Ki", "pods": str(max_pods)}
    allocatable = {
        "cpu": f"{spec.vcpu * 1000 - kube_reserved_cpu_millicores(spec.vcpu)}m",
        "memory": f"{memory_kib - reserved_kib}Ki",
        "pods": str(max_pods),
    }
    # Devices other device plugins advertise (EFA, Neuron, MIG profiles): the catalogue's counts,
    # present from the node's first report (only the GPUs' registration delay is modelled).
    for name, count in spec.devices.items():
        capacity[name] = allocatable[name] = str(count)
    return KubeletReport(
        capacity=capacity, allocatable=allocatable, gpus=spec.gpus, architecture=spec.architecture
    )


def instance_spec(catalogue: InstanceCatalogue, instance_type: str) -> InstanceTypeSpec:
    """The catalogue's entry for `instance_type`; a clear error if it has none."""
    spec = catalogue.get(instance_type)
    if spec is None:
        raise UnknownInstanceType(
            f"instance type {instance_type!r} booted in the local HyperPod, but the instance catalogue "
            "has no entry for it, so its Kubernetes node's capacity is unknown; add it with "
            "ClusterWorldConfig(catalogue=shipped_catalogue().with_overrides([...]))"
        )
    return spec
