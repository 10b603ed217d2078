"""Fixtures of the HyperPod integration tests: a manual world, the stand-in installed in moto.

moto's mock (and the boto3 client, ~0.2 s to create) last for a test module; the stand-in and its
world are new for every test, and the stand-in's state lives in it, not in moto.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from hyperpod_testkit import REGION
from moto import mock_aws

from ebb.local.hyperpod import LocalHyperPod, ManualWorld, install, uninstall

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    """moto's mock of AWS."""
    with mock_aws():
        yield


@pytest.fixture(scope="module")
def client(aws: None) -> SageMakerClient:
    """A SageMaker client without SDK retries: every answer of the stand-in is seen."""
    return boto3.client("sagemaker", region_name=REGION, config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def world() -> ManualWorld:
    """A world whose time moves only when the test advances it."""
    return ManualWorld(seed=11)


@pytest.fixture
def hyperpod(world: ManualWorld, aws: None) -> Iterator[LocalHyperPod]:
    """The stand-in, serving moto's SageMaker for the test's duration."""
    standin = LocalHyperPod(world)
    install(standin)
    try:
        yield standin
    finally:
        uninstall()
