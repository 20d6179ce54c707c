"""What MWAA checks of an environment's ``NetworkConfiguration``, against moto's EC2 of its account and region.

MWAA needs two private subnets in two different Availability Zones of one VPC, and security groups of
that VPC (its user guide, "About networking on Amazon MWAA"). The model already holds the counts
(exactly 2 subnets, 1 to 5 security groups); this checks that each exists and where it is. The
search found no verbatim text of MWAA's messages for these cases, so each ValidationException names
the offending id and the rule it breaks, in the words of the guide.
"""

from __future__ import annotations

from typing import Any

from local_aws.mwaa_errors import ValidationException


def check_network(network: dict[str, Any], account_id: str, region: str) -> None:
    """Raise ValidationException unless the subnets and security groups exist and fit together."""
    from moto.ec2.exceptions import InvalidSubnetIdError
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[account_id][region]
    subnet_ids = list(network.get("SubnetIds") or [])
    if len(set(subnet_ids)) != 2:
        raise ValidationException(
            f"An environment needs exactly two different private subnets, not {', '.join(subnet_ids) or 'none'}."
        )
    subnets = []
    for subnet_id in subnet_ids:
        try:
            subnets.append(ec2.get_subnet(subnet_id))
        except InvalidSubnetIdError:
            raise ValidationException(f"The subnet ID '{subnet_id}' does not exist.") from None
    vpcs = sorted({subnet.vpc_id for subnet in subnets})
    if len(vpcs) != 1:
        raise ValidationException(
            f"The subnets {', '.join(subnet_ids)} must be in the same VPC, not in {', '.join(vpcs)}."
        )
    zones = [subnet.availability_zone for subnet in subnets]
    if len(set(zones)) != 2:
        raise ValidationException(
            f"The subnets {', '.join(subnet_ids)} must be in two different Availability Zones; both are in {zones[0]}."
        )
    for group_id in network.get("SecurityGroupIds") or []:
        group = ec2.get_security_group_from_id(group_id)
        if group is None:
            raise ValidationException(f"The security group '{group_id}' does not exist.")
        if group.vpc_id != vpcs[0]:
            raise ValidationException(
                f"The security group '{group_id}' is in {group.vpc_id}, not in the subnets' VPC {vpcs[0]}."
            )
