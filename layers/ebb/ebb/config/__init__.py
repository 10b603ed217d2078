"""ebb's configuration, in the vocabulary users already know.

A configuration is YAML: KEDA `ScaledObject`s, Karpenter `NodePool`s, HyperPod
`HyperpodNodeClass`es and one ebb `ClusterBinding`. `load_config_files` / `load_config_text`
return one validated, immutable `EbbConfig` or raise `ConfigValidationError` listing every problem
(file, document, field path, what is allowed); `check_config` returns the same findings without
raising, and `summarize` describes a valid configuration.

Each name is imported from its module on first use (PEP 562), not when the package is: a function
that needs the configuration's models does not also build the summary's or the checker's at its
cold start (`tests/unit/service/test_handler_imports.py` keeps it so).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ebb.config.binding import ClusterBinding, InstanceGroupFacts, ScalerBinding
    from ebb.config.catalogue import InstanceCatalogue, InstanceTypeSpec, shipped_catalogue
    from ebb.config.ebb_config import EbbConfig
    from ebb.config.issues import ConfigIssue, ConfigValidationError, DocumentRef, Severity
    from ebb.config.keda_triggers import AwsCloudWatchTrigger, AwsSqsQueueTrigger
    from ebb.config.loader import (
        ConfigCheck,
        ConfigSource,
        check_config,
        check_config_files,
        load_config,
        load_config_files,
        load_config_text,
    )
    from ebb.config.node_class import HyperpodNodeClass
    from ebb.config.node_pool import NodePool
    from ebb.config.quantity import Quantity, parse_quantity
    from ebb.config.scaled_object import ScaledObject
    from ebb.config.summary import ConfigSummary, summarize

_MODULES = {
    "AwsCloudWatchTrigger": "ebb.config.keda_triggers",
    "AwsSqsQueueTrigger": "ebb.config.keda_triggers",
    "ClusterBinding": "ebb.config.binding",
    "ConfigCheck": "ebb.config.loader",
    "ConfigIssue": "ebb.config.issues",
    "ConfigSource": "ebb.config.loader",
    "ConfigSummary": "ebb.config.summary",
    "ConfigValidationError": "ebb.config.issues",
    "DocumentRef": "ebb.config.issues",
    "EbbConfig": "ebb.config.ebb_config",
    "HyperpodNodeClass": "ebb.config.node_class",
    "InstanceCatalogue": "ebb.config.catalogue",
    "InstanceGroupFacts": "ebb.config.binding",
    "InstanceTypeSpec": "ebb.config.catalogue",
    "NodePool": "ebb.config.node_pool",
    "Quantity": "ebb.config.quantity",
    "ScaledObject": "ebb.config.scaled_object",
    "ScalerBinding": "ebb.config.binding",
    "Severity": "ebb.config.issues",
    "check_config": "ebb.config.loader",
    "check_config_files": "ebb.config.loader",
    "load_config": "ebb.config.loader",
    "load_config_files": "ebb.config.loader",
    "load_config_text": "ebb.config.loader",
    "parse_quantity": "ebb.config.quantity",
    "shipped_catalogue": "ebb.config.catalogue",
    "summarize": "ebb.config.summary",
}


if not TYPE_CHECKING:  # for mypy, only the names imported above exist

    def __getattr__(name: str) -> Any:
        module = _MODULES.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        globals()[name] = value  # later lookups skip this function
        return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AwsCloudWatchTrigger",
    "AwsSqsQueueTrigger",
    "ClusterBinding",
    "ConfigCheck",
    "ConfigIssue",
    "ConfigSource",
    "ConfigSummary",
    "ConfigValidationError",
    "DocumentRef",
    "EbbConfig",
    "HyperpodNodeClass",
    "InstanceCatalogue",
    "InstanceGroupFacts",
    "InstanceTypeSpec",
    "NodePool",
    "Quantity",
    "ScaledObject",
    "ScalerBinding",
    "Severity",
    "check_config",
    "check_config_files",
    "load_config",
    "load_config_files",
    "load_config_text",
    "parse_quantity",
    "shipped_catalogue",
    "summarize",
]
