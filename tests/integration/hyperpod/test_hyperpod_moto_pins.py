"""The stand-in's patch of moto is explicit, reversible, and fails loudly when moto moves.

Facts about moto 5.2.5 pinned here (moto/sagemaker/models.py, moto/sagemaker/responses.py at
5.2.5): SageMakerModelBackend has create_cluster, describe_cluster, delete_cluster, list_clusters,
describe_cluster_node and list_cluster_nodes, and no update_cluster or node batch operations;
`BaseResponse.call_action` dispatches an action to the response method of its snake_case name and
raises NotImplementedError when there is none.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import moto
import pytest
from hyperpod_testkit import REGION
from moto import mock_aws
from moto.ec2.models.subnets import Subnet, SubnetBackend
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from ebb.local.hyperpod import LocalHyperPod, ManualWorld, check_pins, install, installed, uninstall
from ebb.local.hyperpod.errors import StandInMisuse, StandInPinMismatch
from ebb.local.hyperpod.moto_patch import ADDED, OPERATIONS

pytestmark = pytest.mark.integration


@pytest.fixture
def not_installed() -> Iterator[None]:
    """Make sure no stand-in is installed around the test."""
    uninstall()
    yield
    uninstall()


def test_the_pins_hold_on_the_pinned_moto() -> None:
    check_pins()


def test_nothing_is_patched_until_install_and_uninstall_restores_moto(not_installed: None) -> None:
    assert installed() is None
    assert not any(hasattr(SageMakerModelBackend, f) for f in ("batch_add_cluster_nodes", "update_cluster"))
    original = SageMakerResponse.__dict__["list_cluster_nodes"]

    install(LocalHyperPod(ManualWorld()))
    assert SageMakerResponse.__dict__["list_cluster_nodes"] is not original
    assert all(
        hasattr(SageMakerResponse, name) for name in ("batch_add_cluster_nodes", "describe_cluster_event")
    )
    uninstall()

    assert SageMakerResponse.__dict__["list_cluster_nodes"] is original
    assert not hasattr(SageMakerResponse, "batch_add_cluster_nodes")
    with mock_aws():
        client = boto3.client("sagemaker", region_name=REGION)
        with pytest.raises(NotImplementedError, match="update_cluster"):
            client.update_cluster(ClusterName="c", NodeProvisioningMode="Continuous")


def test_a_second_install_is_refused(not_installed: None) -> None:
    install(LocalHyperPod(ManualWorld()))

    with pytest.raises(StandInMisuse, match="already installed"):
        install(LocalHyperPod(ManualWorld()))


def _changed_create_cluster(self: Any, cluster_name: str, instance_groups: Any) -> str:
    raise AssertionError("never called")


_changed_create_cluster.__module__ = "moto.sagemaker.models"


def _moto_batch_add(self: Any) -> Any:
    raise AssertionError("never called")


_moto_batch_add.__module__ = "moto.sagemaker.responses"


def _changed_get_subnet(self: Any, subnet_id: str, vpc_id: str) -> Any:
    raise AssertionError("never called")


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (
            (SageMakerModelBackend, "create_cluster", _changed_create_cluster),
            r"SageMakerModelBackend\.create_cluster\(.* changed \(was",
        ),
        ((SageMakerResponse, "batch_add_cluster_nodes", _moto_batch_add), "moto now implements"),
        ((SageMakerResponse, "sagemaker_backend", None), "sagemaker_backend is no longer a property"),
        ((moto, "__version__", "5.3.0"), r"moto is 5\.3\.0"),
        ((SubnetBackend, "get_subnet", _changed_get_subnet), r"SubnetBackend\.get_subnet is no longer"),
        ((Subnet, "availability_zone", "us-east-1a"), r"Subnet\.availability_zone is no longer a property"),
    ],
)
def test_a_moved_pin_fails_loudly(
    monkeypatch: pytest.MonkeyPatch, not_installed: None, change: tuple[Any, str, Any], complaint: str
) -> None:
    owner, name, value = change
    monkeypatch.setattr(owner, name, value, raising=False)

    with pytest.raises(StandInPinMismatch, match=complaint):
        check_pins()
    with pytest.raises(StandInPinMismatch):
        install(LocalHyperPod(ManualWorld()))
    assert installed() is None


def test_the_patch_covers_the_operations_ebb_and_the_world_use() -> None:
    assert set(ADDED) == {
        "UpdateCluster",
        "BatchAddClusterNodes",
        "BatchDeleteClusterNodes",
        "ListClusterEvents",
        "DescribeClusterEvent",
    }
    assert set(OPERATIONS) == set(LocalHyperPod(ManualWorld()).operations)
