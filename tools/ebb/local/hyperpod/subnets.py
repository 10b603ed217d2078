"""Where the stand-in learns which Availability Zone a subnet is in, and its address range.

HyperPod places an instance group's instances in the group's subnets (its `OverrideVpcConfig`,
else the cluster's `VpcConfig`), so a group's zones are its subnets' zones; the cluster events
reference has HyperPod report it ("Found Subnet <subnet-id> in AZ <availability-zone> ... for IG
<instance-group-name>"). The stand-in asks EC2 as HyperPod does: by default moto's EC2 of the
same account and region, where `mock_aws` has created the default VPC with one default subnet
per zone, and where a test or the demo can create subnets of its own.
"""

from __future__ import annotations

from typing import Protocol

from moto.ec2.exceptions import InvalidSubnetIdError
from moto.ec2.models import ec2_backends

from ebb.local.hyperpod.state import SubnetFacts


class SubnetDirectory(Protocol):
    """Subnets by id, in one account and region."""

    def lookup(self, account: str, region: str, subnet_id: str) -> SubnetFacts | None:
        """The subnet `subnet_id`, or None if EC2 has no such subnet."""
        ...


class MotoSubnets:
    """The subnets of moto's EC2 (moto 5.2.5: `ec2_backends[account][region].get_subnet`)."""

    def lookup(self, account: str, region: str, subnet_id: str) -> SubnetFacts | None:
        """The subnet as moto's EC2 has it; None if it has none of that id."""
        # `check_pins` (run by `install`) has checked get_subnet and the Subnet's properties.
        try:
            subnet = ec2_backends[account][region].get_subnet(subnet_id)
        except InvalidSubnetIdError:
            return None
        return SubnetFacts(
            subnet_id=subnet.id,
            availability_zone=subnet.availability_zone,
            availability_zone_id=subnet.availability_zone_id,
            cidr_block=subnet.cidr_block,
        )
