"""Facts about pod objects that several controllers need: readiness, activity, requests, conditions.

Written independently of the adapter's models on purpose: the stand-in must not share code with
what it checks. Requests follow Kubernetes' documented rule (the larger of app containers plus
sidecars and the peak init container, plus the pod overhead; "Resource sharing within
containers" and "Sidecar containers" in the Kubernetes docs).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from ebb.core.nodes.quantities import parse_quantity
from ebb.local.kubernetes.store import JsonObject, rfc3339

PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def condition(pod: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The pod's condition of type `kind`, if any."""
    for entry in pod.get("status", {}).get("conditions", []):
        if entry.get("type") == kind:
            return entry  # type: ignore[no-any-return]
    return None


def is_ready(pod: Mapping[str, Any]) -> bool:
    """Ready condition True."""
    ready = condition(pod, "Ready")
    return ready is not None and ready.get("status") == "True"


def ready_since(pod: Mapping[str, Any]) -> str | None:
    """When the pod last became Ready (RFC 3339), if it is Ready."""
    ready = condition(pod, "Ready")
    if ready is None or ready.get("status") != "True":
        return None
    since = ready.get("lastTransitionTime")
    return str(since) if since is not None else None


def is_active(pod: Mapping[str, Any]) -> bool:
    """Not terminal and not being deleted (controller.IsPodActive)."""
    phase = pod.get("status", {}).get("phase")
    return phase not in ("Succeeded", "Failed") and pod["metadata"].get("deletionTimestamp") is None


def controller_uid(pod: Mapping[str, Any]) -> str | None:
    """The uid of the pod's managing controller."""
    for owner in pod["metadata"].get("ownerReferences", []):
        if owner.get("controller"):
            return str(owner["uid"])
    return None


def set_condition(
    pod: JsonObject,
    kind: str,
    status: str,
    now: datetime,
    *,
    reason: str | None = None,
    message: str | None = None,
) -> None:
    """Set a condition; its lastTransitionTime moves only when its status changes."""
    conditions: list[JsonObject] = pod.setdefault("status", {}).setdefault("conditions", [])
    entry = next((c for c in conditions if c["type"] == kind), None)
    if entry is None:
        entry = {"type": kind}
        conditions.append(entry)
    if entry.get("status") != status:
        entry["lastTransitionTime"] = rfc3339(now)
    entry["status"] = status
    for field, value in (("reason", reason), ("message", message)):
        if value is None:
            entry.pop(field, None)
        else:
            entry[field] = value


def _container_requests(container: Mapping[str, Any]) -> dict[str, Decimal]:
    resources = container.get("resources", {})
    merged = {**resources.get("limits", {}), **resources.get("requests", {})}
    return {name: parse_quantity(value) for name, value in merged.items()}


def effective_requests(spec: Mapping[str, Any]) -> dict[str, Decimal]:
    """What the scheduler reserves for a pod with this spec, per resource name."""
    total: dict[str, Decimal] = {}
    for container in spec.get("containers", []):
        for name, amount in _container_requests(container).items():
            total[name] = total.get(name, Decimal(0)) + amount
    sidecars: dict[str, Decimal] = {}
    peak: dict[str, Decimal] = {}
    for container in spec.get("initContainers", []):
        own = _container_requests(container)
        if container.get("restartPolicy") == "Always":
            for name, amount in own.items():
                sidecars[name] = sidecars.get(name, Decimal(0)) + amount
            running = dict(sidecars)
        else:
            running = {
                name: own.get(name, Decimal(0)) + sidecars.get(name, Decimal(0)) for name in {*own, *sidecars}
            }
        for name, amount in running.items():
            peak[name] = max(peak.get(name, Decimal(0)), amount)
    for name, amount in sidecars.items():
        total[name] = total.get(name, Decimal(0)) + amount
    for name, amount in peak.items():
        total[name] = max(total.get(name, Decimal(0)), amount)
    for name, value in spec.get("overhead", {}).items():
        total[name] = total.get(name, Decimal(0)) + parse_quantity(value)
    return total
