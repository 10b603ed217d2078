"""Node selector requirements, node affinity, taints and tolerations.

Sources:

* kubernetes/kubernetes ``staging/src/k8s.io/apimachinery/pkg/labels/selector.go``
  ``Requirement.Matches`` and ``NewRequirement`` (commit 008b3652959ca58af8be3fb5b6ecfe9ae7638282):
  NotIn and DoesNotExist match a node without the label; Gt/Lt need the label, parse it as an
  integer and compare; Gt/Lt take exactly one integer value, In/NotIn at least one value.
* https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#node-affinity:
  nodeSelectorTerms are ORed, the matchExpressions of one term are ANDed; the API reference says
  an empty term matches no objects.
* ``staging/src/k8s.io/api/core/v1/toleration.go`` ``ToleratesTaint``
  (commit 19c6083b5c8b499f3bdd52e5f58a0b6f645d0fd3): empty effect matches all effects, Exists
  matches all values, empty key with Exists matches all keys; and
  https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/: PreferNoSchedule
  is a preference, not a requirement.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ebb.core.nodes.requirements import NodeSelectorTerm, Operator, Requirement, affinity_matches, all_match
from ebb.core.nodes.taints import Taint, TaintEffect, Toleration, untolerated

LABELS = {"zone": "a", "gpus": "8", "name": "x"}


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        (Requirement(key="zone", operator=Operator.IN, values=("a", "b")), True),
        (Requirement(key="zone", operator=Operator.IN, values=("b",)), False),
        (Requirement(key="missing", operator=Operator.IN, values=("a",)), False),
        (Requirement(key="zone", operator=Operator.NOT_IN, values=("a",)), False),
        (Requirement(key="missing", operator=Operator.NOT_IN, values=("a",)), True),
        (Requirement(key="zone", operator=Operator.EXISTS), True),
        (Requirement(key="missing", operator=Operator.EXISTS), False),
        (Requirement(key="missing", operator=Operator.DOES_NOT_EXIST), True),
        (Requirement(key="zone", operator=Operator.DOES_NOT_EXIST), False),
        (Requirement(key="gpus", operator=Operator.GT, values=("4",)), True),
        (Requirement(key="gpus", operator=Operator.GT, values=("8",)), False),
        (Requirement(key="gpus", operator=Operator.LT, values=("9",)), True),
        (Requirement(key="missing", operator=Operator.LT, values=("9",)), False),
        (Requirement(key="name", operator=Operator.GT, values=("1",)), False),
    ],
)
def test_requirement_matching_follows_the_label_selector(requirement: Requirement, expected: bool) -> None:
    assert requirement.matches(LABELS) is expected


@pytest.mark.parametrize(
    ("operator", "values", "message"),
    [
        (Operator.IN, (), "requirement on 'k': operator In needs at least one value"),
        (Operator.NOT_IN, (), "requirement on 'k': operator NotIn needs at least one value"),
        (Operator.EXISTS, ("a",), "requirement on 'k': operator Exists takes no values"),
        (Operator.DOES_NOT_EXIST, ("a",), "requirement on 'k': operator DoesNotExist takes no values"),
        (
            Operator.GT,
            ("1", "2"),
            "requirement on 'k': operator Gt needs exactly one integer value, got ['1', '2']",
        ),
        (
            Operator.LT,
            ("many",),
            "requirement on 'k': operator Lt needs exactly one integer value, got ['many']",
        ),
        (Operator.GT, (), "requirement on 'k': operator Gt needs exactly one integer value, got []"),
    ],
)
def test_malformed_requirements_say_what_is_wrong(
    operator: Operator, values: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        Requirement(key="k", operator=operator, values=values)
    assert raised.value.errors()[0]["msg"] == f"Value error, {message}"


def test_affinity_terms_are_ored_and_expressions_anded() -> None:
    in_a = Requirement(key="zone", operator=Operator.IN, values=("a",))
    in_b = Requirement(key="zone", operator=Operator.IN, values=("b",))
    many = Requirement(key="gpus", operator=Operator.GT, values=("4",))
    assert affinity_matches((), LABELS)
    assert affinity_matches(
        (NodeSelectorTerm(match_expressions=(in_b,)), NodeSelectorTerm(match_expressions=(in_a,))), LABELS
    )
    assert affinity_matches((NodeSelectorTerm(match_expressions=(in_a, many)),), LABELS)
    assert not affinity_matches((NodeSelectorTerm(match_expressions=(in_b, many)),), LABELS)
    assert not affinity_matches((NodeSelectorTerm(),), LABELS)


GPU_TAINT = Taint(key="nvidia.com/gpu", value="true", effect=TaintEffect.NO_SCHEDULE)


@pytest.mark.parametrize(
    ("toleration", "tolerated"),
    [
        (Toleration(key="nvidia.com/gpu", value="true"), True),
        (Toleration(key="nvidia.com/gpu", value="false"), False),
        (Toleration(key="nvidia.com/gpu", operator="Exists"), True),
        (Toleration(key="nvidia.com/gpu", operator="Exists", effect=TaintEffect.NO_EXECUTE), False),
        (Toleration(key="nvidia.com/gpu", operator="Exists", effect=TaintEffect.NO_SCHEDULE), True),
        (Toleration(operator="Exists"), True),
        (Toleration(key="other", operator="Exists"), False),
    ],
)
def test_tolerations_match_taints_like_core_v1(toleration: Toleration, tolerated: bool) -> None:
    assert toleration.tolerates(GPU_TAINT) is tolerated


def test_only_hard_taints_keep_pods_away() -> None:
    soft = Taint(key="spot", effect=TaintEffect.PREFER_NO_SCHEDULE)
    assert untolerated((), (soft,)) == ()
    assert untolerated((), (soft, GPU_TAINT)) == (GPU_TAINT,)


def test_an_empty_key_toleration_must_use_exists() -> None:
    with pytest.raises(ValidationError) as raised:
        Toleration(key="", operator="Equal", value="x")
    assert raised.value.errors()[0]["msg"] == (
        "Value error, a toleration with an empty key must use operator Exists (it matches every taint)"
    )
    with pytest.raises(ValidationError) as raised:
        Toleration(key="gpu", operator="Exists", value="x")
    assert raised.value.errors()[0]["msg"] == "Value error, toleration 'gpu': operator Exists takes no value"
    assert Toleration(operator="Exists").key == ""


def test_a_list_of_requirements_needs_every_one_and_an_empty_list_needs_nothing() -> None:
    """A NodePool's requirements are ANDed, like the expressions of one selector term."""
    zone_a = Requirement(key="zone", operator=Operator.IN, values=("a",))
    many_gpus = Requirement(key="gpus", operator=Operator.GT, values=("8",))
    assert all_match((), LABELS)
    assert all_match((zone_a,), LABELS)
    assert not all_match((zone_a, many_gpus), LABELS)
    assert not all_match((many_gpus, zone_a), LABELS)


def test_requirements_and_taints_read_as_kubernetes_writes_them() -> None:
    """``core/v1`` ``taint.go`` ``Taint.ToString``: ``key=value:Effect``, ``key:Effect`` without a value."""
    assert str(Requirement(key="zone", operator=Operator.IN, values=("a", "b"))) == "zone In [a, b]"
    assert str(Requirement(key="gpus", operator=Operator.GT, values=("7",))) == "gpus Gt [7]"
    assert str(Requirement(key="zone", operator=Operator.EXISTS)) == "zone Exists"
    assert str(Requirement(key="zone", operator=Operator.DOES_NOT_EXIST)) == "zone DoesNotExist"
    assert (
        str(Taint(key="dedicated", value="ml", effect=TaintEffect.NO_SCHEDULE)) == "dedicated=ml:NoSchedule"
    )
    assert str(Taint(key="gpu", effect=TaintEffect.NO_EXECUTE)) == "gpu:NoExecute"
