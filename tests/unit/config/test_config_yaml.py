"""Reading YAML: safe loading, several documents and files, and readable errors for bad YAML."""

from __future__ import annotations

from typing import Any

import yaml

from ebb.config import ConfigSource, check_config


def _errors(*sources: tuple[str, str]) -> list[str]:
    result = check_config([ConfigSource(file=file, text=text) for file, text in sources])
    return [str(issue) for issue in result.errors]


def test_documents_may_be_split_across_files_and_keep_their_names(docs: Any) -> None:
    by_kind: dict[str, list[Any]] = {}
    for document in docs.documents:
        by_kind.setdefault(document["kind"], []).append(document)
    sources = [
        ConfigSource(file=f"{kind}.yaml", text=yaml.safe_dump_all(items)) for kind, items in by_kind.items()
    ]
    assert check_config(sources).config is not None
    by_kind["NodePool"][0]["spec"]["weight"] = 0
    sources = [
        ConfigSource(file=f"{kind}.yaml", text=yaml.safe_dump_all(items)) for kind, items in by_kind.items()
    ]
    assert [str(issue) for issue in check_config(sources).errors] == [
        "NodePool.yaml: document 1 (NodePool gpu): spec.weight: must be >= 1, got integer 0"
    ]


def test_empty_documents_are_skipped_but_counted(docs: Any) -> None:
    # Two empty documents, then the example: its 4th document (the NodePool) is the file's 5th.
    text = "---\n---\n" + docs.text()
    docs.node_pool["spec"]["weight"] = 0
    broken = "---\n---\n" + docs.text()
    assert check_config([ConfigSource("a.yaml", text)]).errors == ()
    assert _errors(("a.yaml", broken)) == [
        "a.yaml: document 5 (NodePool gpu): spec.weight: must be >= 1, got integer 0"
    ]


def test_a_repeated_key_is_refused_as_kubernetes_refuses_it() -> None:
    text = "apiVersion: karpenter.sh/v1\nkind: NodePool\nkind: NodePool\n"
    assert _errors(("pool.yaml", text)) == [
        "pool.yaml: document 1: not valid YAML: line 3, column 1: found duplicate key 'kind'",
        "pool.yaml: no ebb.dev/v1alpha1 ClusterBinding document: ebb needs one to know the HyperPod and "
        "EKS clusters, the instance groups and which NodePool each ScaledObject uses",
    ]


def test_a_syntax_error_names_its_line() -> None:
    text = "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nspec: [unclosed\n"
    errors = _errors(("so.yaml", text))
    assert errors[0].startswith("so.yaml: document 1: not valid YAML: line 4, column 1: ")


def test_python_tags_are_not_constructed() -> None:
    text = "apiVersion: !!python/object/apply:os.system ['true']\nkind: ScaledObject\n"
    errors = _errors(("evil.yaml", text))
    assert errors[0].startswith(
        "evil.yaml: document 1: not valid YAML: line 1, column 13: could not determine"
    )


def test_a_document_must_be_a_mapping_with_api_version_and_kind() -> None:
    assert _errors(("list.yaml", "- a\n- b\n"), ("kindless.yaml", "metadata: {name: x}\n"))[:2] == [
        "list.yaml: document 1: must be a mapping with apiVersion and kind, got a list",
        "kindless.yaml: document 1 (x): apiVersion and kind are required; allowed: keda.sh/v1alpha1 "
        "ScaledObject, karpenter.sh/v1 NodePool, karpenter.sagemaker.amazonaws.com/v1 HyperpodNodeClass, "
        "ebb.dev/v1alpha1 ClusterBinding",
    ]


def test_other_kubernetes_kinds_are_named_as_not_read() -> None:
    text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: llm}\n"
    assert _errors(("deploy.yaml", text))[0] == (
        "deploy.yaml: document 1 (Deployment llm): apiVersion: apps/v1 Deployment is not a document ebb "
        "reads; allowed: keda.sh/v1alpha1 ScaledObject, karpenter.sh/v1 NodePool, "
        "karpenter.sagemaker.amazonaws.com/v1 HyperpodNodeClass, ebb.dev/v1alpha1 ClusterBinding"
    )


def test_scaled_jobs_and_ec2_node_classes_get_a_specific_answer() -> None:
    text = (
        "apiVersion: keda.sh/v1alpha1\nkind: ScaledJob\nmetadata: {name: j}\n---\napiVersion: "
        "karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata: {name: default}\n"
    )
    assert _errors(("x.yaml", text))[:2] == [
        "x.yaml: document 1 (ScaledJob j): kind: KEDA ScaledJobs are not supported; ebb scales "
        "Deployments and StatefulSets through ScaledObjects",
        "x.yaml: document 2 (EC2NodeClass default): kind: ebb provisions HyperPod instance groups; use a "
        "HyperpodNodeClass (karpenter.sagemaker.amazonaws.com/v1)",
    ]
