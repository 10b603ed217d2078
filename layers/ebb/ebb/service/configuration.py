"""The configuration the functions run with: read once per container from the bundled files."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ebb.config import EbbConfig, load_config_files
from ebb.errors import ConfigError


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """The validated configuration and its version (a digest of the files, in name order)."""

    config: EbbConfig
    version: str


def load_for_stack(directory: Path, *, hyperpod_cluster: str, eks_cluster: str, region: str) -> LoadedConfig:
    """The bundled configuration, checked against the stack it was deployed with.

    The clusters are named twice, in the ClusterBinding and in the template's parameters (IAM and
    the rules need them at deploy time); a container whose two disagree refuses to start.
    """
    loaded = load_bundled_config(directory)
    binding = loaded.config.binding.spec
    problems = [
        f"{what}: the ClusterBinding says {stated!r}, the stack {deployed!r}"
        for what, stated, deployed in (
            ("HyperPod cluster", binding.hyper_pod_cluster.name, hyperpod_cluster),
            ("EKS cluster", binding.eks_cluster.name, eks_cluster),
            ("region", binding.region, region),
        )
        if stated != deployed
    ]
    if problems:
        raise ConfigError(f"{directory}: the configuration is not for this stack: " + "; ".join(problems))
    return loaded


def load_bundled_config(directory: Path) -> LoadedConfig:
    """Every `*.yaml` in `directory`, validated as one configuration."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ConfigError(f"{directory}: no configuration files (*.yaml) found")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return LoadedConfig(config=load_config_files(files), version=digest.hexdigest()[:16])
