"""Valid upstream fields ebb does not use load with a note, never an error.

Real manifests must load unchanged: a trigger's `authenticationRef` (ebb uses its own IAM role),
KEDA's credential metadata, `kubectl get -o yaml` output (server fields, `status`), companion
documents such as TriggerAuthentication.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

Mutation = Callable[[Any], None]

NOTE_CASES = [
    pytest.param(
        lambda d: d.batch["spec"]["triggers"][0].update(authenticationRef={"name": "keda-aws"}),
        "config.yaml: document 1 (ScaledObject batch/batch-worker): spec.triggers[0].authenticationRef: "
        "ebb reads metrics with its own IAM role; KEDA's credential settings are not used",
        id="authentication-ref",
    ),
    pytest.param(
        lambda d: d.sqs_metadata.update(identityOwner="operator"),
        "config.yaml: document 1 (ScaledObject batch/batch-worker): "
        "spec.triggers[0].metadata.identityOwner: ebb reads metrics with its own IAM role; KEDA's "
        "credential settings are not used",
        id="identity-owner",
    ),
    pytest.param(
        lambda d: d.batch["spec"]["triggers"][0].update(useCachedMetrics=True),
        "config.yaml: document 1 (ScaledObject batch/batch-worker): spec.triggers[0].useCachedMetrics: "
        "ebb reads each metric once per decision; there is no metrics cache to use",
        id="use-cached-metrics",
    ),
    pytest.param(
        lambda d: d.sqs_metadata.update(flavour="4"),
        "config.yaml: document 1 (ScaledObject batch/batch-worker): "
        "spec.triggers[0].metadata.flavour: not a parameter of this trigger; KEDA and ebb ignore it",
        id="unknown-metadata-key",
    ),
    pytest.param(
        lambda d: d.sqs_metadata.update(queueLenght="4"),
        "config.yaml: document 1 (ScaledObject batch/batch-worker): spec.triggers[0].metadata.queueLenght: "
        "not a parameter of this trigger (did you mean 'queueLength'?); KEDA and ebb ignore it",
        id="misspelt-metadata-key-beside-the-real-one",
    ),
    pytest.param(
        lambda d: (d.sqs_metadata.pop("queueLength"), d.sqs_metadata.update(queueLenght="4")),
        "config.yaml: document 1 (ScaledObject batch/batch-worker): spec.triggers[0].metadata.queueLenght: "
        "not a parameter of this trigger (did you mean 'queueLength'?); KEDA and ebb ignore it; "
        "queueLength keeps its default",
        id="misspelt-metadata-key-in-place-of-the-real-one",
    ),
    pytest.param(
        lambda d: d.batch.update(status={"conditions": [{"type": "Ready", "status": "True"}]}),
        "config.yaml: document 1 (ScaledObject batch/batch-worker): status: written by KEDA; ebb ignores it",
        id="status",
    ),
    pytest.param(
        lambda d: d.batch["spec"]["scaleTargetRef"].update(envSourceContainerName="worker"),
        "config.yaml: document 1 (ScaledObject batch/batch-worker): "
        "spec.scaleTargetRef.envSourceContainerName: ebb reads no container environment",
        id="env-source-container",
    ),
    pytest.param(
        lambda d: d.llm["spec"]["advanced"].update(restoreToOriginalReplicaCount=True),
        "config.yaml: document 5 (ScaledObject serving/llm-inference): "
        "spec.advanced.restoreToOriginalReplicaCount: applies when a ScaledObject is deleted; ebb never "
        "deletes one",
        id="restore-to-original",
    ),
    pytest.param(
        lambda d: d.sqs_metadata.update(queueURL="batch-jobs"),
        "config.yaml: document 1 (ScaledObject batch/batch-worker): spec.triggers[0].metadata.queueURL: "
        "'batch-jobs' is not a URL; as in KEDA it is taken as the queue name in us-east-1",
        id="bare-queue-name",
    ),
    pytest.param(
        lambda d: d.pool_template["requirements"][1].update(values=["us-east-1a", "us-east1b"]),
        "config.yaml: document 4 (NodePool gpu): spec.template.spec.requirements: the requirements leave "
        "out instance group(s) of the NodePool's node class, which get no node: "
        "gpu-g6e-use1b (ml.g6e.12xlarge, us-east-1b): "
        "requirement topology.kubernetes.io/zone In us-east-1a, us-east1b excludes it",
        id="requirements-leave-out-a-group",
    ),
    pytest.param(
        lambda d: d.pool_template.update(
            startupTaints=[{"key": "node.example.com/init", "effect": "NoSchedule"}]
        ),
        "config.yaml: document 4 (NodePool gpu): spec.template.spec.startupTaints: HyperPod applies "
        "taints through the instance group's KubernetesConfig; startup taints are not planned",
        id="startup-taints",
    ),
    pytest.param(
        lambda d: d.llm_pod.update(serviceAccountName="vllm", volumes=[]),
        "config.yaml: document 2 (ClusterBinding gpu-inference): spec.scalers[0].podSpec: fields ebb does "
        "not read here: serviceAccountName, volumes",
        id="pasted-pod-spec",
    ),
    pytest.param(
        lambda d: d.binding["spec"]["scalers"][1].pop("podSpec"),
        "config.yaml: document 2 (ClusterBinding gpu-inference): spec.scalers[1]: pod placement and fit "
        "are not checked: state the target's podSpec here to check them offline (at run time ebb reads "
        "the pod template from the cluster)",
        id="no-pod-spec",
    ),
    pytest.param(
        lambda d: d.documents.append(
            {
                "apiVersion": "keda.sh/v1alpha1",
                "kind": "TriggerAuthentication",
                "metadata": {"name": "keda-aws", "namespace": "batch"},
                "spec": {"podIdentity": {"provider": "aws"}},
            }
        ),
        "config.yaml: document 6 (TriggerAuthentication keda-aws): ebb reads metrics with its own IAM "
        "role; ignored",
        id="trigger-authentication-document",
    ),
]


@pytest.mark.parametrize(("mutate", "note"), NOTE_CASES)
def test_unused_but_valid_input_is_a_note(docs: Any, mutate: Mutation, note: str) -> None:
    mutate(docs)
    result = docs.check()
    assert result.config is not None, [str(e) for e in result.errors]
    assert [str(issue) for issue in result.notes] == [note]
    assert result.config.notes == result.notes


def test_kubectl_output_fields_load_silently(docs: Any) -> None:
    docs.batch["metadata"].update(
        uid="0d7d0e79-6f5e-4bd8-9d55-1d8c3b2f1a10",
        resourceVersion="123456",
        generation=3,
        creationTimestamp="2026-01-05T10:00:00Z",
        managedFields=[{"manager": "kubectl", "operation": "Apply"}],
        labels={"app.kubernetes.io/name": "batch-worker"},
    )
    docs.node_pool["metadata"]["annotations"] = {"karpenter.sh/nodepool-hash": "12345"}
    result = docs.check()
    assert result.errors == ()
    assert result.notes == ()
