"""Fixtures for the configuration tests: the shipped example as editable documents."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from ebb.config import ConfigCheck, ConfigSource, check_config

EXAMPLE_DIR = Path(__file__).resolve().parents[3] / "examples" / "gpu-inference"
EXAMPLE_FILES = tuple(sorted(EXAMPLE_DIR.glob("*.yaml")))


@cache
def _example_text() -> str:
    return "\n---\n".join(path.read_text() for path in EXAMPLE_FILES)


def _example_documents() -> list[dict[str, Any]]:
    loaded = yaml.load_all(_example_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return [doc for doc in loaded if doc is not None]


class ConfigDocs:
    """The example configuration as plain dicts, in one file `config.yaml`, ready to be broken.

    Document order: 1 ScaledObject batch/batch-worker, 2 ClusterBinding gpu-inference,
    3 HyperpodNodeClass gpu-groups, 4 NodePool gpu, 5 ScaledObject serving/llm-inference.
    """

    def __init__(self) -> None:
        self.documents = _example_documents()

    def of_kind(self, kind: str, name: str | None = None) -> dict[str, Any]:
        return next(
            doc
            for doc in self.documents
            if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)
        )

    @property
    def llm(self) -> dict[str, Any]:
        return self.of_kind("ScaledObject", "llm-inference")

    @property
    def batch(self) -> dict[str, Any]:
        return self.of_kind("ScaledObject", "batch-worker")

    @property
    def sqs_metadata(self) -> Any:
        return self.batch["spec"]["triggers"][0]["metadata"]

    @property
    def requests_metadata(self) -> Any:
        return self.llm["spec"]["triggers"][0]["metadata"]

    @property
    def node_pool(self) -> dict[str, Any]:
        return self.of_kind("NodePool")

    @property
    def pool_template(self) -> Any:
        return self.node_pool["spec"]["template"]["spec"]

    @property
    def node_class(self) -> dict[str, Any]:
        return self.of_kind("HyperpodNodeClass")

    @property
    def binding(self) -> dict[str, Any]:
        return self.of_kind("ClusterBinding")

    @property
    def llm_pod(self) -> Any:
        return self.binding["spec"]["scalers"][0]["podSpec"]

    def text(self) -> str:
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        return yaml.dump_all(self.documents, Dumper=dumper, sort_keys=False)

    def check(self) -> ConfigCheck:
        return check_config([ConfigSource(file="config.yaml", text=self.text())])

    def errors(self) -> list[str]:
        return [str(issue) for issue in self.check().errors]

    def notes(self) -> list[str]:
        return [str(issue) for issue in self.check().notes]


@pytest.fixture
def docs() -> ConfigDocs:
    """A fresh, valid copy of the example configuration."""
    return ConfigDocs()


@pytest.fixture
def make_docs() -> Callable[[], ConfigDocs]:
    """A factory, for tests that need several independent copies."""
    return ConfigDocs
