"""Recognise each YAML document by apiVersion and kind, and validate it with its model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ebb.config.binding import ClusterBinding
from ebb.config.issues import DocumentRef, IssueLog
from ebb.config.model_base import collect_findings, judging_salvaged_models
from ebb.config.model_errors import describe_yaml_value, validation_problems
from ebb.config.node_class import HyperpodNodeClass
from ebb.config.node_pool import NodePool
from ebb.config.partial_models import salvage
from ebb.config.raw_documents import RawDocument
from ebb.config.scaled_object import ScaledObject

ModelT = TypeVar("ModelT", bound=BaseModel)

DOCUMENT_MODELS: dict[tuple[str, str], type[BaseModel]] = {
    ("keda.sh/v1alpha1", "ScaledObject"): ScaledObject,
    ("karpenter.sh/v1", "NodePool"): NodePool,
    ("karpenter.sagemaker.amazonaws.com/v1", "HyperpodNodeClass"): HyperpodNodeClass,
    ("ebb.dev/v1alpha1", "ClusterBinding"): ClusterBinding,
}
# Documents a user may paste along with the others: accepted, not used.
IGNORED_DOCUMENTS = {
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "ebb reads metrics with its own IAM role; ignored",
    ("keda.sh/v1alpha1", "ClusterTriggerAuthentication"): "ebb reads metrics with its own IAM role; ignored",
}
# Near misses that deserve a specific answer.
REFUSED_KINDS = {
    "ScaledJob": "KEDA ScaledJobs are not supported; ebb scales Deployments and StatefulSets through "
    "ScaledObjects",
    "EC2NodeClass": "ebb provisions HyperPod instance groups; use a HyperpodNodeClass "
    "(karpenter.sagemaker.amazonaws.com/v1)",
}
ACCEPTED = ", ".join(f"{api_version} {kind}" for api_version, kind in DOCUMENT_MODELS)


@dataclass(frozen=True)
class ParsedDocument(Generic[ModelT]):
    """A validated document and where it came from."""

    model: ModelT
    file: str
    ref: DocumentRef


def parse_document(
    raw: RawDocument, log: IssueLog, salvaged: list[ParsedDocument[BaseModel]] | None = None
) -> ParsedDocument[BaseModel] | None:
    """Validate one document; report every problem to `log`; None when it is unusable.

    An invalid document's valid parts (`partial_models.salvage`) are appended to `salvaged`, for
    the checks across documents: they can judge what those parts hold.
    """
    ref = raw.ref
    if not isinstance(raw.body, dict):
        log.error(
            raw.file,
            ref,
            "",
            f"must be a mapping with apiVersion and kind, got {describe_yaml_value(raw.body)}",
        )
        return None
    api_version, kind = raw.body.get("apiVersion"), raw.body.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        log.error(raw.file, ref, "", f"apiVersion and kind are required; allowed: {ACCEPTED}")
        return None
    if (api_version, kind) in IGNORED_DOCUMENTS:
        log.note(raw.file, ref, "", IGNORED_DOCUMENTS[(api_version, kind)])
        return None
    model_type = DOCUMENT_MODELS.get((api_version, kind))
    if model_type is None:
        log.error(
            raw.file, ref, "kind" if kind in REFUSED_KINDS else "apiVersion", _unsupported(api_version, kind)
        )
        return None
    try:
        model = model_type.model_validate(raw.body)
    except ValidationError as error:
        for path, message in validation_problems(model_type, error):
            log.error(raw.file, ref, path, message)
        # Every other rule of the document still runs, so that all its errors come at once.
        partial = salvage(model_type, raw.body)
        if partial is not None:
            with judging_salvaged_models():
                for finding in collect_findings(partial):
                    log.add(finding.severity, raw.file, ref, finding.path, finding.message)
            if salvaged is not None:
                salvaged.append(ParsedDocument(model=partial, file=raw.file, ref=ref))
        return None
    for finding in collect_findings(model):
        log.add(finding.severity, raw.file, ref, finding.path, finding.message)
    return ParsedDocument(model=model, file=raw.file, ref=ref)


def _unsupported(api_version: str, kind: str) -> str:
    if kind in REFUSED_KINDS:
        return REFUSED_KINDS[kind]
    versions = [v for v, k in DOCUMENT_MODELS if k == kind]
    if versions:
        return f"{api_version} {kind} is not supported; allowed: {versions[0]} {kind}"
    return f"{api_version} {kind} is not a document ebb reads; allowed: {ACCEPTED}"
