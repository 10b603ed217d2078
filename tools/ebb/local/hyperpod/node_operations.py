"""The stand-in's node operations: ListClusterNodes, DescribeClusterNode, BatchAddClusterNodes,
BatchDeleteClusterNodes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

from ebb.local.hyperpod.errors import ApiError
from ebb.local.hyperpod.lifecycle import PENDING_REBOOT, PENDING_REPLACEMENT
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
    NOT_FOUND,
    SHUTTING_DOWN,
    Idempotency,
    SimCluster,
    SimGroup,
    SimNode,
)

# BatchAddClusterNodes: "up to 5 instance groups in a single request, with a maximum of 50 nodes total
# across all instance groups"; the ClientToken "is valid for 8 hours" (API Reference).
MAX_NODES_PER_ADD: Final = 50
CLIENT_TOKEN_LIFETIME: Final = timedelta(hours=8)
# BatchDeleteClusterNodes: "up to 50 NodeLogicalIds ... a combined maximum of 50 identifiers"; "If
# you need to delete more than 99 instances, contact Support" (API Reference).
MAX_IDENTIFIERS_PER_DELETE: Final = 50
MAX_NODE_IDS_PER_DELETE: Final = 99


def private_dns_hostname(address: str, region: str) -> str:
    """EC2's IP-based private DNS name: `ip-10-0-0-7.ec2.internal` in us-east-1,
    `ip-10-0-0-7.<region>.compute.internal` elsewhere ("Amazon EC2 instance hostname types")."""
    host = "ip-" + address.replace(".", "-")
    return f"{host}.ec2.internal" if region == "us-east-1" else f"{host}.{region}.compute.internal"


class NodeOperations(RegionContext):
    """Node-level operations."""

    def list_cluster_nodes(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """ListClusterNodes. Without IncludeNodeLogicalIds, only nodes with an instance, and no
        NodeLogicalId; with it, every node ("regardless of their provisioning status")."""
        cluster = self._cluster(request["ClusterName"])
        include_logical = bool(request.get("IncludeNodeLogicalIds"))
        nodes = [node for node in cluster.nodes.values() if include_logical or node.instance_id is not None]
        if contains := request.get("InstanceGroupNameContains"):
            nodes = [node for node in nodes if contains in node.group]
        nodes = created_within(nodes, request, key=lambda node: node.created)
        by_name = request.get("SortBy") == "NAME"
        nodes.sort(
            key=lambda node: (node.group if by_name else "", node.created, node.logical_id),
            reverse=request.get("SortOrder") == "Descending",
        )
        shown, token = page(
            nodes,
            max_results=request.get("MaxResults"),
            next_token=request.get("NextToken"),
            default_size=DEFAULT_PAGE_SIZE,
        )
        summaries = [self._node_summary(cluster, node, include_logical=include_logical) for node in shown]
        return with_token({"ClusterNodeSummaries": summaries}, token)

    def describe_cluster_node(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """DescribeClusterNode, by NodeId or by NodeLogicalId ("either ..., but not both")."""
        cluster = self._cluster(request["ClusterName"])
        node_id, logical_id = request.get("NodeId"), request.get("NodeLogicalId")
        if (node_id is None) == (logical_id is None):
            raise ApiError("ValidationException", "Specify either NodeId or NodeLogicalId, but not both.")
        node = (
            cluster.node_by_instance(node_id) if node_id is not None else cluster.nodes.get(str(logical_id))
        )
        if node is None:
            raise ApiError(
                "ResourceNotFound", f"Node {node_id or logical_id} not found in cluster {cluster.name}."
            )
        group = cluster.groups[node.group]
        details = self._node_summary(cluster, node, include_logical=True)
        details["LifeCycleConfig"] = group.life_cycle_config
        details["CapacityType"] = group.capacity_type
        if group.threads_per_core is not None:
            details["ThreadsPerCore"] = group.threads_per_core
        if node.private_ip is not None:
            details["PrivatePrimaryIp"] = node.private_ip
        if node.availability_zone is not None:
            details["Placement"] = without_empty(
                AvailabilityZone=node.availability_zone, AvailabilityZoneId=node.availability_zone_id
            )
        if "OverrideVpcConfig" in group.extra:
            details["OverrideVpcConfig"] = group.extra["OverrideVpcConfig"]
        if "KubernetesConfig" in group.extra:
            details["KubernetesConfig"] = group.extra["KubernetesConfig"]
        return {"NodeDetails": details}

    def batch_add_cluster_nodes(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """BatchAddClusterNodes: Continuous mode only; per-group failures; quotas; ClientToken replay."""
        cluster = self._cluster(request["ClusterName"])
        if not cluster.continuous:
            raise ApiError(
                "ValidationException",
                f"BatchAddClusterNodes is only supported for clusters with NodeProvisioningMode "
                f"set to {CONTINUOUS}; cluster {cluster.name} is not.",
            )
        specifications = request["NodesToAdd"]
        total = sum(specification["IncrementTargetCountBy"] for specification in specifications)
        if total > MAX_NODES_PER_ADD:
            raise ApiError(
                "ValidationException",
                f"The total number of nodes across all instance groups in a single request cannot exceed "
                f"{MAX_NODES_PER_ADD}; the request adds {total}.",
            )
        token = request.get("ClientToken")
        fingerprint = json.dumps(
            {"ClusterName": request["ClusterName"], "NodesToAdd": specifications}, sort_keys=True
        )
        if token is not None and (replay := self._replay(cluster, token, fingerprint)) is not None:
            return replay
        accepted: list[tuple[SimGroup, Mapping[str, Any]]] = []
        failed: list[dict[str, Any]] = []
        for specification in specifications:
            group = cluster.groups.get(specification["InstanceGroupName"])
            failure = self._addition_failure(cluster, group, specification)
            if failure is not None:
                failed.append(failure)
            elif group is not None:
                accepted.append((group, specification))
        delta: dict[str, int] = {}
        for group, specification in accepted:
            kind = group.instance_types[0]
            delta[kind] = delta.get(kind, 0) + specification["IncrementTargetCountBy"]
        self._check_quotas(delta)
        successful: list[dict[str, Any]] = []
        for group, specification in accepted:
            count = specification["IncrementTargetCountBy"]
            group.target_count += count
            types = tuple(specification.get("InstanceTypes") or ()) or None
            zones = tuple(specification.get("AvailabilityZones") or ()) or None
            for node in self._lifecycle.request(cluster, group, count, instance_types=types, zones=zones):
                entry: dict[str, Any] = {
                    "NodeLogicalId": node.logical_id,
                    "InstanceGroupName": group.name,
                    "Status": node.status,
                }
                if types:
                    entry["InstanceTypes"] = list(types)
                if zones:
                    entry["AvailabilityZones"] = list(zones)
                successful.append(entry)
        if token is not None:
            self._region.tokens[token] = Idempotency(
                fingerprint=fingerprint,
                logical_ids=tuple(
                    (entry["NodeLogicalId"], entry["InstanceGroupName"]) for entry in successful
                ),
                first_used=self._world.now(),
                failed=tuple(failed),
            )
        return {"Successful": successful, "Failed": failed}

    def batch_delete_cluster_nodes(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """BatchDeleteClusterNodes by NodeIds and/or NodeLogicalIds; each deletion lowers its group's
        target count, so HyperPod does not launch a replacement."""
        cluster = self._cluster(request["ClusterName"])
        node_ids = list(request.get("NodeIds") or [])
        logical_ids = list(request.get("NodeLogicalIds") or [])
        total = len(node_ids) + len(logical_ids)
        if total == 0:
            raise ApiError("ValidationException", "You must specify either NodeLogicalIds, NodeIds, or both.")
        if logical_ids and total > MAX_IDENTIFIERS_PER_DELETE:
            raise ApiError(
                "ValidationException",
                f"NodeLogicalIds and NodeIds have a combined maximum of {MAX_IDENTIFIERS_PER_DELETE} "
                f"identifiers; the request has {total}.",
            )
        if total > MAX_NODE_IDS_PER_DELETE:
            raise ApiError(
                "ValidationException",
                f"Deleting more than {MAX_NODE_IDS_PER_DELETE} instances in one request needs AWS Support.",
            )
        response: dict[str, Any] = {}
        for key, identifiers, find in (
            ("NodeId", node_ids, cluster.node_by_instance),
            ("NodeLogicalId", logical_ids, cluster.nodes.get),
        ):
            deleted, failures = [], []
            for identifier in dict.fromkeys(identifiers):
                node = find(identifier)
                refusal = self._deletion_refusal(cluster, node, identifier)
                if refusal is not None:
                    failures.append({"Code": refusal[0], "Message": refusal[1], key: identifier})
                    continue
                assert node is not None
                if node.instance_id is not None or not self._region.cancel_keeps_target:
                    cluster.groups[node.group].target_count -= 1
                self._lifecycle.remove(cluster, node)
                deleted.append(identifier)
            if key == "NodeId":
                response.update(without_empty(Successful=deleted, Failed=failures))
            else:
                response.update(
                    without_empty(SuccessfulNodeLogicalIds=deleted, FailedNodeLogicalIds=failures)
                )
        return response

    def _node_summary(self, cluster: SimCluster, node: SimNode, *, include_logical: bool) -> dict[str, Any]:
        group = cluster.groups[node.group]
        status: dict[str, Any] = {"Status": node.status}
        if node.message:
            status["Message"] = node.message
        summary: dict[str, Any] = {
            "InstanceGroupName": node.group,
            "InstanceType": node.instance_type or node.allowed_types[0] or group.instance_types[0],
            "LaunchTime": node.launch_time or node.created,
            "InstanceStatus": status,
        }
        if node.instance_id is not None:
            summary["InstanceId"] = node.instance_id
        if node.private_ip is not None:
            summary["PrivateDnsHostname"] = private_dns_hostname(node.private_ip, self._region.region)
        if include_logical:
            summary["NodeLogicalId"] = node.logical_id
        return summary

    def _replay(self, cluster: SimCluster, token: str, fingerprint: str) -> dict[str, Any] | None:
        remembered = self._region.tokens.get(token)
        if remembered is None or self._world.now() - remembered.first_used > CLIENT_TOKEN_LIFETIME:
            return None
        if remembered.fingerprint != fingerprint:
            raise ApiError(
                "ConflictException",
                f"ClientToken {token} was already used with different parameters within the last 8 hours.",
            )
        successful = []
        for logical_id, group in remembered.logical_ids:
            node = cluster.nodes.get(logical_id)
            successful.append(
                {
                    "NodeLogicalId": logical_id,
                    "InstanceGroupName": group,
                    "Status": node.status if node else NOT_FOUND,
                }
            )
        return {"Successful": successful, "Failed": list(remembered.failed)}

    @staticmethod
    def _addition_failure(
        cluster: SimCluster, group: SimGroup | None, specification: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        name = specification["InstanceGroupName"]
        count = specification["IncrementTargetCountBy"]
        if group is None:
            code, message = (
                "InstanceGroupNotFound",
                f"Instance group {name} not found in cluster {cluster.name}.",
            )
        elif group.status != "InService":
            code, message = "InvalidInstanceGroupStatus", f"Instance group {name} is {group.status}."
        elif not set(specification.get("InstanceTypes") or ()) <= set(group.instance_types):
            code, message = (
                "IncompatibleInstanceTypes",
                f"Instance group {name} has types {list(group.instance_types)}.",
            )
        elif not set(specification.get("AvailabilityZones") or ()) <= set(group.availability_zones):
            code, message = (
                "IncompatibleAvailabilityZones",
                f"Instance group {name} is in {list(group.availability_zones)}.",
            )
        else:
            return None
        failure: dict[str, Any] = {
            "InstanceGroupName": name,
            "ErrorCode": code,
            "FailedCount": count,
            "Message": message,
        }
        for key in ("InstanceTypes", "AvailabilityZones"):
            if specification.get(key):
                failure[key] = list(specification[key])
        return failure

    @staticmethod
    def _deletion_refusal(
        cluster: SimCluster, node: SimNode | None, identifier: str
    ) -> tuple[str, str] | None:
        if node is None:
            return "NodeIdNotFound", f"Node {identifier} not found in cluster {cluster.name}."
        if node.status == SHUTTING_DOWN:
            return "InvalidNodeStatus", f"Node {identifier} is already {SHUTTING_DOWN}."
        group = cluster.groups[node.group]
        if group.status != "InService":
            return "InvalidNodeStatus", f"Instance group {group.name} is {group.status}."
        recovering = cluster.node_recovery == "Automatic" and node.health in {
            PENDING_REPLACEMENT,
            PENDING_REBOOT,
        }
        if node.replacing or recovering:
            return "NodeIdInUse", f"Node {identifier} is being recovered."
        return None
