"""The local AWS's MWAA API as a client sees it: environments settling after a change, and the network
(a VPC, two subnets in two Availability Zones, a security group) an environment needs in moto's EC2."""

from __future__ import annotations

from typing import Any

from employee_pipeline.waiting import wait_until
from local_aws.mwaa_airflow import TAG as AIRFLOW_TAG

MWAA_TRANSIENT = ("CREATING", "UPDATING", "DELETING")
MWAA_GONE = "(gone)"  # what statuses_until_settled records once GetEnvironment no longer finds the environment
AIRFLOW_OFF = {AIRFLOW_TAG: "off"}  # the control plane only: no Airflow started


def statuses_until_settled(mwaa: Any, name: str, timeout: float = 60) -> list[str]:
    """Every status GetEnvironment shows, polled until the environment leaves the transient ones."""
    seen: list[str] = []

    def settled() -> bool:
        try:
            status = mwaa.get_environment(Name=name)["Environment"]["Status"]
        except mwaa.exceptions.ResourceNotFoundException:
            status = MWAA_GONE
        if not seen or seen[-1] != status:
            seen.append(status)
        return status not in MWAA_TRANSIENT

    wait_until(
        settled,
        timeout=timeout,
        interval=0.2,
        message=f"{name} did not settle",
        error=lambda text: AssertionError(f"{text}: still {seen[-1]} (seen: {seen})"),
    )
    return seen


def network(aws: Any) -> dict[str, list[str]]:
    """A new VPC with two subnets in two Availability Zones and a security group: a NetworkConfiguration."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    zones = [zone["ZoneName"] for zone in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{index}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for index, zone in enumerate(zones)
    ]
    group = ec2.create_security_group(GroupName=f"mwaa-{vpc}", Description="MWAA", VpcId=vpc)["GroupId"]
    return {"SubnetIds": subnets, "SecurityGroupIds": [group]}
