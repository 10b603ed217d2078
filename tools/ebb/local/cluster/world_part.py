"""The HyperPod stand-in and the EKS cluster its nodes join, as one part of the local world.

    with start_cluster_world(Path("template.yaml"), LocalWorldConfig(seed=7)) as cluster:
        sagemaker = cluster.world.clients.client("sagemaker")
        sagemaker.create_cluster(..., Orchestrator={"Eks": {"ClusterArn": cluster.eks_cluster_arn}})
        cluster.world.run_for(900)           # nodes launch, boot and join cluster.kubernetes
        ...

Installing the part: the HyperPod stand-in serves moto's SageMaker on the world's clock (its
cluster events go onto the world's default bus); the Kubernetes stand-in listens on a loopback
HTTPS port, trusting the world's AWS credentials (EKS tokens of the world's identity) and on the
same clock; botocore signs at simulated time, so those tokens age in simulated time as the API
server judges them; and the Kubernetes nodes follow HyperPod's instances (`membership`).
Starting it registers the EKS cluster in moto, its endpoint and CA pointing at the stand-in, so
that ebb finds the API server through EKS DescribeCluster as in production.

The world stops its parts when it stops: this one restores moto's SageMaker and shuts the
HTTPS server down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import boto3
import botocore.auth
from moto.eks.models import eks_backends
from pydantic import BaseModel, ConfigDict, Field

from ebb.config.catalogue import InstanceCatalogue, shipped_catalogue
from ebb.errors import ConfigError, EbbError
from ebb.local.cluster.adapters import HyperPodOnWorld, KubernetesOnWorld
from ebb.local.cluster.membership import KubernetesFollowsHyperPod
from ebb.local.cluster.timeline import ClusterTimeline
from ebb.local.errors import PinMismatch
from ebb.local.hyperpod import LocalHyperPod, NodeTransition
from ebb.local.hyperpod import install as install_hyperpod
from ebb.local.hyperpod import uninstall as uninstall_hyperpod
from ebb.local.kubernetes import (
    ClusterCertificates,
    KubernetesStandIn,
    StandInTimings,
    generate_cluster_certificates,
)
from ebb.local.kubernetes.pods import is_active, is_ready
from ebb.local.load_balancer import Target
from ebb.local.patches import PatchSet, PinnedAttribute
from ebb.local.world import LocalWorld, LocalWorldConfig, WorldPart, start_local_world

# botocore 1.44 takes SigV4's signing time from here (pinned like the world's other patches).
_SIGNING_TIME = PinnedAttribute(botocore.auth, "get_current_datetime", "(remove_tzinfo=True)")


class ClusterPartMisuse(EbbError):
    """The cluster part was used before it was installed in a world."""


class ClusterWorldConfig(BaseModel):
    """How the HyperPod-on-EKS part of the local world behaves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    eks_cluster_name: Annotated[str, Field(pattern=r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$")] = "ebb-local"
    """The EKS cluster the HyperPod clusters' nodes join (name it in CreateCluster's Orchestrator)."""
    kubernetes_timings: StandInTimings = StandInTimings()
    """Controllers' delay, container start, model load, GPUs allocatable after joining, termination."""
    credentials: dict[str, str] | None = None
    """Access key id -> secret the API server accepts tokens from; by default the world's own."""
    max_pods: Annotated[int, Field(gt=0)] = 110
    """Pods a node's kubelet admits (and what kube-reserved memory is sized for)."""
    keda_installed: bool = True
    catalogue: InstanceCatalogue = Field(default_factory=shipped_catalogue)
    """Where a node's vCPUs, memory and GPUs come from, by instance type."""
    record_timeline: bool = True
    """Keep a timeline of node and pod changes (costs a scan of the cluster's objects per change)."""


class HyperPodOnEks:
    """A `WorldPart`: the HyperPod stand-in, the Kubernetes stand-in, and nodes that follow."""

    def __init__(
        self, config: ClusterWorldConfig | None = None, *, certificates: ClusterCertificates | None = None
    ) -> None:
        self.config = config or ClusterWorldConfig()
        self._certificates = certificates
        self._world: LocalWorld | None = None
        self._hyperpod: LocalHyperPod | None = None
        self._kubernetes: KubernetesStandIn | None = None
        self._timeline: ClusterTimeline | None = None
        self._hyperpod_installed = False
        self.follower: KubernetesFollowsHyperPod | None = None

    # -- the WorldPart protocol ---------------------------------------------------------------

    def install(self, world: LocalWorld, patches: PatchSet) -> None:
        """Create both stand-ins on the world's clock, serve HyperPod through moto, start the API server."""
        self._world = world
        hyperpod = LocalHyperPod(HyperPodOnWorld(world))
        install_hyperpod(hyperpod)
        self._hyperpod, self._hyperpod_installed = hyperpod, True
        patches.replace(_SIGNING_TIME, _signing_time_of(world))
        clock = KubernetesOnWorld(world, after_each=self._observe_cluster)
        kubernetes = KubernetesStandIn(
            clock,
            credentials=self.config.credentials or _world_credentials(),
            cluster_name=self.config.eks_cluster_name,
            timings=self.config.kubernetes_timings,
            keda_installed=self.config.keda_installed,
            certificates=self._certificates or generate_cluster_certificates(),
        )
        self._kubernetes = kubernetes.start()
        if self.config.record_timeline:
            self._timeline = ClusterTimeline(kubernetes, world.now)
        self.follower = KubernetesFollowsHyperPod(
            hyperpod,
            kubernetes,
            eks_cluster_arn=self.eks_cluster_arn,
            catalogue=self.config.catalogue,
            max_pods=self.config.max_pods,
            after_each=self._after_transition,
        )
        hyperpod.add_node_observer(self.follower.on_transition)

    def start(self, world: LocalWorld) -> None:
        """Register the EKS cluster in moto, its endpoint and CA those of the Kubernetes stand-in."""
        config = world.config
        world.clients.client("eks").create_cluster(
            name=self.config.eks_cluster_name,
            roleArn=f"arn:aws:iam::{config.account_id}:role/{self.config.eks_cluster_name}-cluster",
            resourcesVpcConfig={"subnetIds": ["subnet-0123456789abcdef0"]},
        )
        # moto 5.2.5 answers DescribeCluster with a made-up endpoint and CA: point them at the stand-in.
        stored = eks_backends[config.account_id][config.region].clusters[self.config.eks_cluster_name]
        for attribute in ("endpoint", "certificate_authority"):
            if not hasattr(stored, attribute):
                raise PinMismatch(f"moto's EKS Cluster has no {attribute!r}; the cluster part needs updating")
        stored.endpoint = self.kubernetes.url
        stored.certificate_authority = {"data": self.kubernetes.certificates.ca_base64}

    def stop(self) -> None:
        """Restore moto's SageMaker and stop the API server (safe to call more than once)."""
        if self._hyperpod_installed:
            uninstall_hyperpod()
            self._hyperpod_installed = False
        if self._kubernetes is not None:
            self._kubernetes.stop()

    # -- what tests and the demo use ----------------------------------------------------------

    @property
    def world(self) -> LocalWorld:
        """The world the part runs in."""
        if self._world is None:
            raise ClusterPartMisuse("the cluster part is not installed in a world yet")
        return self._world

    @property
    def hyperpod(self) -> LocalHyperPod:
        """The HyperPod stand-in (its controls: capacity, quotas, timings, faults)."""
        if self._hyperpod is None:
            raise ClusterPartMisuse("the cluster part is not installed in a world yet")
        return self._hyperpod

    @property
    def kubernetes(self) -> KubernetesStandIn:
        """The Kubernetes stand-in (its API at `.url`, its CA at `.certificates.ca_pem`)."""
        if self._kubernetes is None:
            raise ClusterPartMisuse("the cluster part is not installed in a world yet")
        return self._kubernetes

    @property
    def eks_cluster_arn(self) -> str:
        """The ARN of the EKS cluster, as HyperPod's CreateCluster names it in `Orchestrator.Eks`."""
        config = self.world.config
        return f"arn:aws:eks:{config.region}:{config.account_id}:cluster/{self.config.eks_cluster_name}"

    def ready_pod_targets(
        self, namespace: str, match_labels: Mapping[str, str]
    ) -> Callable[[], list[Target]]:
        """The healthy targets of a load balancer's target group in front of some pods.

        As the AWS Load Balancer Controller registers IP targets: pods of `namespace` whose labels
        include `match_labels`, Ready and not terminating, in the zone of their node
        (`topology.kubernetes.io/zone`). Asked afresh each time (see `ebb.local.load_balancer`).
        """
        kubernetes = self.kubernetes
        wanted = dict(match_labels)

        def ready_pods() -> list[Target]:
            zones = dict(
                kubernetes.read_all(
                    "Node",
                    lambda node: (
                        node["metadata"]["name"],
                        node["metadata"].get("labels", {}).get("topology.kubernetes.io/zone", ""),
                    ),
                )
            )

            def target_of(pod: Mapping[str, Any]) -> Target | None:
                metadata = pod["metadata"]
                labels = metadata.get("labels", {})
                if metadata.get("namespace") != namespace or any(
                    labels.get(k) != v for k, v in wanted.items()
                ):
                    return None
                if not (is_ready(pod) and is_active(pod)):
                    return None
                node = pod.get("spec", {}).get("nodeName")
                return Target(f"{namespace}/{metadata['name']}", zones.get(node, ""))

            return [target for target in kubernetes.read_all("Pod", target_of) if target is not None]

        return ready_pods

    def timeline(self) -> list[tuple[str, str, str]]:
        """The world's timeline with the cluster's (HyperPod transitions, node and pod changes)
        merged in, as (time, kind, what) in simulated-time order."""
        entries: list[tuple[datetime, int, str, str]] = [
            (datetime.fromisoformat(moment), index, kind, what)
            for index, (moment, kind, what) in enumerate(self.world.timeline())
        ]
        if self._timeline is not None:
            offset = len(entries)
            entries += [
                (moment, offset + index, kind, what)
                for index, (moment, kind, what) in enumerate(self._timeline.entries)
            ]
        return [(moment.isoformat(), kind, what) for moment, _, kind, what in sorted(entries)]

    def cluster_timeline(self) -> list[tuple[str, str, str]]:
        """Only the cluster's entries: HyperPod transitions, node and pod changes."""
        if self._timeline is None:
            return []
        return [(moment.isoformat(), kind, what) for moment, kind, what in self._timeline.entries]

    def _after_transition(self, transition: NodeTransition) -> None:
        if self._timeline is not None:
            self._timeline.record_transition(transition)
            self._timeline.observe()

    def _observe_cluster(self) -> None:
        if self._timeline is not None:
            self._timeline.observe()


def _signing_time_of(world: LocalWorld) -> Callable[[bool], datetime]:
    def get_current_datetime(remove_tzinfo: bool = True) -> datetime:
        current = world.now().astimezone(UTC)
        return current.replace(tzinfo=None) if remove_tzinfo else current

    return get_current_datetime


def _world_credentials() -> dict[str, str]:
    # The credentials boto3 resolves inside the world (moto's, unless the caller set others):
    # the identity the world's handlers and tests sign their EKS tokens with.
    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise ConfigError("no AWS credentials in the world; give ClusterWorldConfig(credentials=...)")
    frozen = credentials.get_frozen_credentials()
    if not frozen.access_key or not frozen.secret_key:
        raise ConfigError(
            "the world's AWS credentials are incomplete; give ClusterWorldConfig(credentials=...)"
        )
    return {frozen.access_key: frozen.secret_key}


@contextmanager
def start_cluster_world(
    template: Path,
    config: LocalWorldConfig | None = None,
    cluster_config: ClusterWorldConfig | None = None,
    *,
    certificates: ClusterCertificates | None = None,
    parts: Sequence[WorldPart] = (),
) -> Iterator[HyperPodOnEks]:
    """Start the local world from `template` with HyperPod and its EKS cluster; stop all on exit."""
    cluster = HyperPodOnEks(cluster_config, certificates=certificates)
    with start_local_world(template, config, parts=[cluster, *parts]):
        yield cluster
