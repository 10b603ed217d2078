"""The stand-in's cluster operations: CreateCluster, DescribeCluster, DeleteCluster, ListClusters,
UpdateCluster.

NodeProvisioningMode, NodeRecovery and AutoScaling are kept and returned (moto drops them); instance
types are those of botocore's ClusterInstanceType enum (moto's own list is shorter and fixed).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any, Final

from ebb.local.hyperpod.errors import ApiError
from ebb.local.hyperpod.paging import page
from ebb.local.hyperpod.region_context import (
    DEFAULT_PAGE_SIZE,
    RegionContext,
    created_within,
    with_token,
    without_empty,
)
from ebb.local.hyperpod.state import (
    CONTINUOUS,
    ON_DEMAND,
    SHUTTING_DOWN,
    SPOT,
    SimCluster,
    SimGroup,
    wire_time,
)

_ARN_ID_ALPHABET: Final = string.ascii_lowercase + string.digits
_ECHOED_GROUP_MEMBERS: Final = (
    "CapacityRequirements",
    "InstanceStorageConfigs",
    "OverrideVpcConfig",
    "ScheduledUpdateConfig",
)


class ClusterOperations(RegionContext):
    """Cluster-level operations."""

    def create_cluster(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """CreateCluster: groups launch towards their counts; NodeProvisioningMode, NodeRecovery and
        AutoScaling are kept and returned."""
        name = request["ClusterName"]
        if name in self._region.clusters:
            raise ApiError(
                "ResourceInUse", f"Resource Already Exists: Cluster with name {name} already exists."
            )
        if request.get("RestrictedInstanceGroups"):
            raise ApiError(
                "ValidationException", "the local stand-in does not model RestrictedInstanceGroups"
            )
        mode = request.get("NodeProvisioningMode")
        self._check_autoscaling(request.get("AutoScaling"), mode, request.get("ClusterRole"))
        specifications = request.get("InstanceGroups") or []
        names = [specification["InstanceGroupName"] for specification in specifications]
        if len(set(names)) != len(names):
            raise ApiError("ValidationException", f"Instance group names must be unique: {names}")
        vpc_config = request.get("VpcConfig")
        groups = {spec["InstanceGroupName"]: self._new_group(spec, vpc_config) for spec in specifications}
        self._check_quotas({group.instance_types[0]: group.target_count for group in groups.values()})
        arn_id = "".join(self._world.random.choice(_ARN_ID_ALPHABET) for _ in range(12))
        cluster = SimCluster(
            name=name,
            arn=f"arn:aws:sagemaker:{self._region.region}:{self._region.account}:cluster/{arn_id}",
            created=wire_time(self._world.now()),
            groups=groups,
            node_provisioning_mode=mode,
            node_recovery=request.get("NodeRecovery", "Automatic"),
            autoscaling=dict(request["AutoScaling"]) if request.get("AutoScaling") else None,
            cluster_role=request.get("ClusterRole"),
            orchestrator=request.get("Orchestrator"),
            vpc_config=vpc_config,
        )
        self._region.clusters[name] = cluster
        self._lifecycle.start_creation(cluster)
        for group in groups.values():
            self._lifecycle.request(cluster, group, group.target_count)
        return {"ClusterArn": cluster.arn}

    def describe_cluster(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """DescribeCluster."""
        cluster = self._cluster(request["ClusterName"])
        response: dict[str, Any] = {
            "ClusterArn": cluster.arn,
            "ClusterName": cluster.name,
            "ClusterStatus": cluster.status,
            "CreationTime": cluster.created,
            "InstanceGroups": [self._group_details(cluster, group) for group in cluster.groups.values()],
            "NodeRecovery": cluster.node_recovery,
        }
        optional = {
            "VpcConfig": cluster.vpc_config,
            "Orchestrator": cluster.orchestrator,
            "NodeProvisioningMode": cluster.node_provisioning_mode,
            "ClusterRole": cluster.cluster_role,
        }
        response.update({key: value for key, value in optional.items() if value is not None})
        if cluster.failure_message is not None:
            response["FailureMessage"] = cluster.failure_message
        if cluster.autoscaling is not None:
            response["AutoScaling"] = {**cluster.autoscaling, "Status": "InService"}
        return response

    def delete_cluster(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """DeleteCluster (at once: nothing ebb does waits on a cluster's deletion)."""
        cluster = self._cluster(request["ClusterName"])
        for node in list(cluster.nodes.values()):
            self._lifecycle.discard(cluster, node)
        del self._region.clusters[cluster.name]
        return {"ClusterArn": cluster.arn}

    def list_clusters(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """ListClusters."""
        clusters = list(self._region.clusters.values())
        if contains := request.get("NameContains"):
            clusters = [cluster for cluster in clusters if contains in cluster.name]
        clusters = created_within(clusters, request, key=lambda cluster: cluster.created)
        by_name = request.get("SortBy") == "NAME"
        clusters.sort(
            key=lambda cluster: (
                (cluster.name, cluster.created) if by_name else (cluster.created, cluster.name)
            ),
            reverse=request.get("SortOrder") == "Descending",
        )
        shown, token = page(
            clusters,
            max_results=request.get("MaxResults"),
            next_token=request.get("NextToken"),
            default_size=DEFAULT_PAGE_SIZE,
        )
        summaries = [
            {
                "ClusterArn": cluster.arn,
                "ClusterName": cluster.name,
                "CreationTime": cluster.created,
                "ClusterStatus": cluster.status,
            }
            for cluster in shown
        ]
        return with_token({"ClusterSummaries": summaries}, token)

    def update_cluster(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """UpdateCluster: counts (the nodes HyperPod picks to remove: unlaunched first, then the
        newest), new and deleted groups, NodeProvisioningMode, NodeRecovery, AutoScaling."""
        cluster = self._cluster(request["ClusterName"])
        mode = request.get("NodeProvisioningMode", cluster.node_provisioning_mode)
        autoscaling = request.get("AutoScaling", cluster.autoscaling)
        self._check_autoscaling(autoscaling, mode, request.get("ClusterRole", cluster.cluster_role))
        specifications = request.get("InstanceGroups") or []
        changes: dict[str, int] = {}
        for specification in specifications:
            group = cluster.groups.get(specification["InstanceGroupName"])
            instance_type = (
                group.instance_types[0]
                if group is not None
                else self._new_group(specification, cluster.vpc_config).instance_types[0]
            )
            if group is not None and "CapacityRequirements" in specification:
                kind = SPOT if "Spot" in (specification["CapacityRequirements"] or {}) else ON_DEMAND
                if kind != group.capacity_type:
                    # "CapacityRequirements cannot be modified once an Instance Group is created"
                    # (Spot instances in Amazon SageMaker HyperPod).
                    raise ApiError(
                        "ValidationException",
                        f"Instance group {group.name}: CapacityRequirements cannot be modified.",
                    )
            current = group.target_count if group is not None else 0
            changes[instance_type] = changes.get(instance_type, 0) + specification["InstanceCount"] - current
        self._check_quotas(changes)
        for name in request.get("InstanceGroupsToDelete") or []:
            if name not in cluster.groups:
                raise ApiError(
                    "ValidationException", f"Instance group {name} does not exist in cluster {cluster.name}"
                )
            for node in [node for node in cluster.nodes.values() if node.group == name]:
                self._lifecycle.discard(cluster, node)
            del cluster.groups[name]
        cluster.node_provisioning_mode = mode
        cluster.autoscaling = dict(autoscaling) if autoscaling else None
        cluster.cluster_role = request.get("ClusterRole", cluster.cluster_role)
        cluster.node_recovery = request.get("NodeRecovery", cluster.node_recovery)
        for specification in specifications:
            name = specification["InstanceGroupName"]
            existing = cluster.groups.get(name)
            if existing is None:
                group = self._new_group(specification, cluster.vpc_config)
                # A group added to a running cluster is in service at once: in Continuous mode
                # "clusters and instance groups remain InService while scaling" (CreateCluster's
                # NodeProvisioningMode, botocore's model).
                group.status = "InService" if cluster.status == "InService" else group.status
                cluster.groups[name] = group
                self._lifecycle.request(cluster, group, group.target_count)
                continue
            self._resize(cluster, existing, specification["InstanceCount"])
            existing.min_count = specification.get("MinInstanceCount", existing.min_count)
        return {"ClusterArn": cluster.arn}

    @staticmethod
    def _check_autoscaling(autoscaling: Mapping[str, Any] | None, mode: str | None, role: str | None) -> None:
        if not autoscaling or autoscaling.get("Mode") != "Enable":
            return
        if mode != CONTINUOUS:
            raise ApiError("ValidationException", "AutoScaling requires NodeProvisioningMode Continuous.")
        if not role:
            raise ApiError("ValidationException", "AutoScaling requires a ClusterRole.")

    def _new_group(self, specification: Mapping[str, Any], vpc_config: Mapping[str, Any] | None) -> SimGroup:
        name = specification["InstanceGroupName"]
        single = specification.get("InstanceType")
        flexible = tuple((specification.get("InstanceRequirements") or {}).get("InstanceTypes") or ())
        if (single is None) == (not flexible):
            raise ApiError(
                "ValidationException",
                f"Instance group {name}: specify exactly one of InstanceType and InstanceRequirements.",
            )
        count = specification["InstanceCount"]
        minimum = specification.get("MinInstanceCount", 0)
        if minimum > count:
            raise ApiError(
                "ValidationException", f"Instance group {name}: MinInstanceCount {minimum} > {count}."
            )
        extra = {key: specification[key] for key in _ECHOED_GROUP_MEMBERS if key in specification}
        if kubernetes := specification.get("KubernetesConfig"):
            labels, taints = kubernetes.get("Labels"), kubernetes.get("Taints")
            extra["KubernetesConfig"] = without_empty(
                CurrentLabels=labels, DesiredLabels=labels, CurrentTaints=taints, DesiredTaints=taints
            )
        # The group's instances go into its own subnets, else the cluster's ("Create a NodeClass":
        # "Subnets are specified either using OverrideVpcConfig at the instance group level or
        # ... the cluster level"); each subnet's zone is EC2's.
        subnet_ids = (specification.get("OverrideVpcConfig") or vpc_config or {}).get("Subnets") or []
        if not subnet_ids:
            raise ApiError(
                "ValidationException",
                f"Instance group {name}: no subnets; give the cluster a VpcConfig or the group an "
                "OverrideVpcConfig (the local stand-in does not model HyperPod's platform network).",
            )
        subnets = tuple(self._subnet(subnet_id) for subnet_id in dict.fromkeys(subnet_ids))
        requirements = specification.get("CapacityRequirements") or {}
        if "Spot" in requirements and "OnDemand" in requirements:
            raise ApiError(
                "ValidationException",
                f"Instance group {name}: CapacityRequirements takes Spot or OnDemand, not both.",
            )
        return SimGroup(
            name=name,
            instance_types=(single,) if single else flexible,
            flexible=bool(flexible),
            target_count=count,
            min_count=minimum,
            execution_role=specification["ExecutionRole"],
            life_cycle_config=dict(specification.get("LifeCycleConfig") or {}),
            threads_per_core=specification.get("ThreadsPerCore"),
            deep_health_checks=tuple(specification.get("OnStartDeepHealthChecks") or ()),
            subnets=subnets,
            capacity_type=SPOT if "Spot" in requirements else ON_DEMAND,
            extra=extra,
        )

    def _group_details(self, cluster: SimCluster, group: SimGroup) -> dict[str, Any]:
        current = sum(
            1
            for node in cluster.nodes.values()
            if node.group == group.name and node.instance_id is not None and node.status != SHUTTING_DOWN
        )
        details: dict[str, Any] = {
            "InstanceGroupName": group.name,
            "CurrentCount": current,
            "TargetCount": group.target_count,
            "MinCount": group.min_count,
            "ExecutionRole": group.execution_role,
            "Status": group.status,
            **group.extra,
        }
        if group.flexible:
            details["InstanceRequirements"] = {
                "CurrentInstanceTypes": list(group.instance_types),
                "DesiredInstanceTypes": list(group.instance_types),
            }
        else:
            details["InstanceType"] = group.instance_types[0]
        if group.life_cycle_config:
            details["LifeCycleConfig"] = group.life_cycle_config
        if group.threads_per_core is not None:
            details["ThreadsPerCore"] = group.threads_per_core
        if group.deep_health_checks:
            details["OnStartDeepHealthChecks"] = list(group.deep_health_checks)
        return details

    def _resize(self, cluster: SimCluster, group: SimGroup, count: int) -> None:
        if count > group.target_count:
            added = count - group.target_count
            group.target_count = count
            self._lifecycle.request(cluster, group, added)
            return
        members = [
            node
            for node in cluster.nodes.values()
            if node.group == group.name and node.status != SHUTTING_DOWN
        ]
        # Unlaunched (pending or failed) nodes first, then the most recently created.
        members.sort(key=lambda node: (node.instance_id is not None, -node.created.timestamp()))
        for node in members[: max(group.target_count - count, 0)]:
            self._lifecycle.remove(cluster, node)
        group.target_count = count
