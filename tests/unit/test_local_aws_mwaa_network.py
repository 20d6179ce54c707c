"""The local AWS's check of an MWAA environment's NetworkConfiguration against moto's EC2 (in-process,
``mock_aws``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_aws.mwaa_errors import ValidationException
from local_aws.mwaa_network import check_network

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def ec2() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


def _subnet(ec2: Any, vpc: str, cidr: str, zone: str) -> str:
    return ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]


def _vpc(ec2: Any, cidr: str = "10.1.0.0/16") -> str:
    return ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]


def _group(ec2: Any, vpc: str, name: str = "mwaa") -> str:
    return ec2.create_security_group(GroupName=name, Description="mwaa", VpcId=vpc)["GroupId"]


def test_two_subnets_of_one_vpc_in_two_zones_and_a_group_of_that_vpc_pass(ec2: Any) -> None:
    vpc = _vpc(ec2)
    subnets = [_subnet(ec2, vpc, "10.1.1.0/24", "us-east-1a"), _subnet(ec2, vpc, "10.1.2.0/24", "us-east-1b")]
    check_network({"SubnetIds": subnets, "SecurityGroupIds": [_group(ec2, vpc)]}, ACCOUNT, REGION)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown subnet", "The subnet ID 'subnet-0000aaaa' does not exist."),
        ("same zone", "must be in two different Availability Zones; both are in us-east-1a"),
        ("two vpcs", "must be in the same VPC"),
        ("unknown group", "The security group 'sg-0000aaaa' does not exist."),
        ("group of another vpc", "is in vpc-"),
        ("one subnet twice", "exactly two different private subnets"),
    ],
)
def test_what_does_not_fit_is_a_validation_exception(ec2: Any, case: str, message: str) -> None:
    vpc, other = _vpc(ec2), _vpc(ec2, "10.2.0.0/16")
    a = _subnet(ec2, vpc, "10.1.1.0/24", "us-east-1a")
    b = _subnet(ec2, vpc, "10.1.2.0/24", "us-east-1b")
    group = _group(ec2, vpc)
    network = {
        "unknown subnet": {"SubnetIds": [a, "subnet-0000aaaa"], "SecurityGroupIds": [group]},
        "same zone": {"SubnetIds": [a, _subnet(ec2, vpc, "10.1.3.0/24", "us-east-1a")], "SecurityGroupIds": [group]},
        "two vpcs": {"SubnetIds": [a, _subnet(ec2, other, "10.2.1.0/24", "us-east-1b")], "SecurityGroupIds": [group]},
        "unknown group": {"SubnetIds": [a, b], "SecurityGroupIds": ["sg-0000aaaa"]},
        "group of another vpc": {"SubnetIds": [a, b], "SecurityGroupIds": [_group(ec2, other, "other")]},
        "one subnet twice": {"SubnetIds": [a, a], "SecurityGroupIds": [group]},
    }[case]
    with pytest.raises(ValidationException, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_network(network, ACCOUNT, REGION)
