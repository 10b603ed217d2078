"""The configuration the functions run with: read once per container from the bundled files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ebb.config import EbbConfig, load_config_files
from ebb.config.bundle import config_digest, config_files, read_bundle
from ebb.config.issues import ConfigValidationError
from ebb.config.loader import check_raw_documents
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
    """Every `*.yaml` in `directory`, validated as one configuration.

    Where the build left the documents bundled as JSON beside them (`ebb.config.bundle`), they are
    read from it rather than parsed from YAML (no PyYAML at the cold start); the version is the
    YAML files' digest either way.
    """
    files = config_files(directory)
    if not files:
        raise ConfigError(f"{directory}: no configuration files (*.yaml) found")
    bundled = read_bundle(directory, files)
    if bundled is None:
        config = load_config_files(files)
    else:
        result = check_raw_documents(bundled, tuple(str(path) for path in files))
        if result.config is None:
            raise ConfigValidationError(result.issues)
        config = result.config
    return LoadedConfig(config=config, version=config_digest(files))
