"""Load a configuration: YAML text or files in, one validated `EbbConfig` out, or every problem at once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from ebb.config.binding import ClusterBinding
from ebb.config.bundle import config_files
from ebb.config.catalogue import InstanceCatalogue, shipped_catalogue
from ebb.config.cross_checks import DocumentSet, check_documents
from ebb.config.documents import ParsedDocument, parse_document
from ebb.config.ebb_config import EbbConfig
from ebb.config.issues import ConfigIssue, ConfigValidationError, IssueLog, Severity
from ebb.config.node_class import HyperpodNodeClass
from ebb.config.node_pool import NodePool
from ebb.config.raw_documents import RawDocument
from ebb.config.scaled_object import ScaledObject

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class ConfigSource:
    """YAML text and the name to report it under (usually its path)."""

    file: str
    text: str


@dataclass(frozen=True)
class ConfigCheck:
    """The outcome of validating a configuration: the config when valid, and every issue found."""

    config: EbbConfig | None
    issues: tuple[ConfigIssue, ...]

    @property
    def errors(self) -> tuple[ConfigIssue, ...]:
        """The issues that make the configuration invalid."""
        return tuple(issue for issue in self.issues if issue.severity is Severity.ERROR)

    @property
    def notes(self) -> tuple[ConfigIssue, ...]:
        """Valid input ebb does not use, and other remarks."""
        return tuple(issue for issue in self.issues if issue.severity is Severity.NOTE)


def check_config(sources: Iterable[ConfigSource], catalogue: InstanceCatalogue | None = None) -> ConfigCheck:
    """Validate every document of every source, then the documents together; never raises for bad input."""
    # PyYAML only where there is YAML to read: a function loading the bundled JSON never imports it.
    from ebb.config.yaml_documents import read_documents  # noqa: PLC0415

    log = IssueLog()
    sources = tuple(sources)
    raw = [doc for source in sources for doc in read_documents(source.text, source.file, log)]
    return check_raw_documents(raw, tuple(source.file for source in sources), catalogue, log)


def check_raw_documents(
    raw: list[RawDocument],
    files: tuple[str, ...],
    catalogue: InstanceCatalogue | None = None,
    log: IssueLog | None = None,
) -> ConfigCheck:
    """Validate documents already read (from YAML, or from the bundle built from it: ``files``)."""
    log = log if log is not None else IssueLog()
    parsed: list[ParsedDocument[BaseModel]] = []
    salvaged: list[ParsedDocument[BaseModel]] = []
    unparsed: set[tuple[str, str]] = set()
    for document in raw:
        result = parse_document(document, log, salvaged)
        if result is not None:
            parsed.append(result)
        elif document.ref.kind and document.ref.name and not (salvaged and salvaged[-1].ref is document.ref):
            unparsed.add((document.ref.kind, document.ref.name))
    binding = _the_binding(parsed, raw, files, log, salvaged)
    base = catalogue or shipped_catalogue()
    effective = base
    if binding is not None:
        override = getattr(getattr(binding.model, "spec", None), "instance_catalogue", None)
        if override is not None:
            effective = base.with_overrides(override.instance_types, override.prices)
        # Invalid documents take part with what could be salvaged of them, so a user sees the
        # errors across documents in the same round as the documents' own.
        every = [*parsed, *salvaged]
        documents = DocumentSet(
            scaled_objects=tuple(_of_type(every, ScaledObject)),
            node_pools=tuple(_of_type(every, NodePool)),
            node_classes=tuple(_of_type(every, HyperpodNodeClass)),
            binding=binding,
            unparsed=frozenset(unparsed),
        )
        check_documents(documents, effective, log, salvaged=bool(salvaged))
    if log.has_errors or binding is None:
        return ConfigCheck(config=None, issues=log.issues)
    config = EbbConfig(
        binding=binding.model,
        scaled_objects=tuple(doc.model for doc in _of_type(parsed, ScaledObject)),
        node_pools=tuple(doc.model for doc in _of_type(parsed, NodePool)),
        node_classes=tuple(doc.model for doc in _of_type(parsed, HyperpodNodeClass)),
        catalogue=effective,
        notes=log.issues,
    )
    return ConfigCheck(config=config, issues=log.issues)


def load_config(sources: Iterable[ConfigSource], catalogue: InstanceCatalogue | None = None) -> EbbConfig:
    """The validated configuration; raise `ConfigValidationError` listing every problem otherwise."""
    result = check_config(sources, catalogue)
    if result.config is None:
        raise ConfigValidationError(result.issues)
    return result.config


def load_config_text(
    text: str, file: str = "<config>", catalogue: InstanceCatalogue | None = None
) -> EbbConfig:
    """Load a configuration held in one string (one or more YAML documents)."""
    return load_config([ConfigSource(file=file, text=text)], catalogue)


def read_config_files(
    paths: Iterable[str | Path],
) -> tuple[tuple[ConfigSource, ...], tuple[ConfigIssue, ...]]:
    """Read files as sources; a file that cannot be read is an issue, not an exception.

    A directory stands for its `*.yaml` and `*.yml` files, in name order (not its subdirectories),
    as `--config DIR` and `EBB_CONFIG` mean it.
    """
    sources: list[ConfigSource] = []
    log = IssueLog()
    files: list[str | Path] = []
    for path in paths:
        if Path(path).is_dir():
            found = config_files(Path(path))
            if not found:
                log.error(str(path), None, "", "is a directory without configuration files (*.yaml, *.yml)")
            files.extend(found)
        else:
            files.append(path)
    for path in files:
        try:
            sources.append(ConfigSource(file=str(path), text=Path(path).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            log.error(str(path), None, "", f"cannot be read: {reason}")
    return tuple(sources), log.issues


def check_config_files(
    paths: Iterable[str | Path], catalogue: InstanceCatalogue | None = None
) -> ConfigCheck:
    """`check_config` over files, unreadable files included as errors."""
    sources, read_issues = read_config_files(paths)
    result = check_config(sources, catalogue)
    if not read_issues:
        return result
    return ConfigCheck(config=None, issues=read_issues + result.issues)


def load_config_files(paths: Iterable[str | Path], catalogue: InstanceCatalogue | None = None) -> EbbConfig:
    """Load a configuration spread over YAML files."""
    result = check_config_files(paths, catalogue)
    if result.config is None:
        raise ConfigValidationError(result.issues)
    return result.config


def _of_type(
    parsed: Iterable[ParsedDocument[BaseModel]], model: type[ModelT]
) -> list[ParsedDocument[ModelT]]:
    return [ParsedDocument(doc.model, doc.file, doc.ref) for doc in parsed if isinstance(doc.model, model)]


def _the_binding(
    parsed: list[ParsedDocument[BaseModel]],
    raw: list[RawDocument],
    files: tuple[str, ...],
    log: IssueLog,
    salvaged: list[ParsedDocument[BaseModel]],
) -> ParsedDocument[ClusterBinding] | None:
    # An invalid binding's salvaged parts still let the other documents be checked against it.
    bindings = _of_type(parsed, ClusterBinding) or _of_type(salvaged, ClusterBinding)
    declared = [doc for doc in raw if isinstance(doc.body, dict) and doc.body.get("kind") == "ClusterBinding"]
    if not declared:
        log.error(
            ", ".join(files) or "<no input>",
            None,
            "",
            "no ebb.dev/v1alpha1 ClusterBinding document: ebb needs one to know the HyperPod and EKS "
            "clusters, the instance groups and which NodePool each ScaledObject uses",
        )
        return None
    for extra in declared[1:]:
        log.error(
            extra.file,
            extra.ref,
            "",
            f"a second ClusterBinding; a configuration has exactly one (the first is {declared[0].file}, "
            f"document {declared[0].ref.index})",
        )
    if len(declared) > 1 or not bindings:
        return None
    return bindings[0]
