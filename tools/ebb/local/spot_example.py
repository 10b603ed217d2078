"""The shipped example with a Spot instance group beside its on-demand ones: what the Spot tests
configure and deploy.

`gpu-g5-use1a-spot` is an ml.g5.12xlarge group in us-east-1a with HyperPod's
`CapacityRequirements.Spot`, priced below the type's on-demand price (the binding must give a
Spot group's price: the catalogue has none), in the NodePool's HyperpodNodeClass and in both
scalers' instance-group affinity. The NodePool's `karpenter.sh/capacity-type` requirement takes
the capacity types given, so one configuration allows the on-demand fallback and another not.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import yaml

from ebb.config import EbbConfig, load_config_files
from ebb.local.stack_deployment import EXAMPLE

SPOT_GROUP: Final = "gpu-g5-use1a-spot"
SPOT_TYPE: Final = "ml.g5.12xlarge"
SPOT_ZONE: Final = "us-east-1a"
SPOT_USD_PER_HOUR: Final = 2.13
"""About 30% of the type's on-demand price, as Spot commonly is (a stated price, not a quote)."""


def write_spot_example(
    directory: Path, *, capacity_types: Sequence[str] = ("spot", "on-demand"), shadow_mode: bool = False
) -> EbbConfig:
    """The example with the Spot group, into `directory`, loaded as `ebb validate` loads it."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in sorted(EXAMPLE.glob("*.yaml")):
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        for document in documents:
            _with_spot_group(document, list(capacity_types), shadow_mode)
        (directory / path.name).write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
    return load_config_files(sorted(directory.glob("*.yaml")))


def _with_spot_group(document: dict[str, Any], capacity_types: list[str], shadow_mode: bool) -> None:
    kind = document.get("kind")
    if kind == "ClusterBinding":
        spec = document["spec"]
        spec["shadowMode"] = shadow_mode
        spec["hyperPodCluster"]["instanceGroups"].append(
            {
                "name": SPOT_GROUP,
                "instanceType": SPOT_TYPE,
                "availabilityZone": SPOT_ZONE,
                "minInstanceCount": 0,
                "capacityType": "spot",
                "usdPerHour": SPOT_USD_PER_HOUR,
                "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
            }
        )
        for scaler in spec["scalers"]:
            affinity = scaler["podSpec"]["affinity"]["nodeAffinity"]
            terms = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
            terms[0]["matchExpressions"][0]["values"].append(SPOT_GROUP)
    elif kind == "HyperpodNodeClass":
        document["spec"]["instanceGroups"].append(SPOT_GROUP)
    elif kind == "NodePool":
        for requirement in document["spec"]["template"]["spec"]["requirements"]:
            if requirement["key"] == "karpenter.sh/capacity-type":
                requirement["values"] = capacity_types
