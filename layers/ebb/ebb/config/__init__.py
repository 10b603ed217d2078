"""ebb's configuration, in the vocabulary users already know.

A configuration is YAML: KEDA `ScaledObject`s, Karpenter `NodePool`s, HyperPod
`HyperpodNodeClass`es and one ebb `ClusterBinding`. `load_config_files` / `load_config_text`
return one validated, immutable `EbbConfig` or raise `ConfigValidationError` listing every problem
(file, document, field path, what is allowed); `check_config` returns the same findings without
raising, and `summarize` describes a valid configuration.
"""

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
