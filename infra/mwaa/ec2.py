"""One EC2 network resource as a resource of the stage's description: found by its ``Name`` tag among the
resources carrying the stage's tags, so no ID is kept anywhere (infra/mwaa/network.py has the pieces)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from infra import tagging
from infra.actions import ABSENT, DELETED, Action, Kind, outcome
from infra.resources import Arns
from infra.session import AwsTarget

GONE = ("deleted", "deleting", "failed", "rejected")

# Kind -> (describe operation, list key, id key, TagSpecifications resource type, ARN resource type).
_API = {
    Kind.VPC: ("describe_vpcs", "Vpcs", "VpcId", "vpc", "vpc"),
    Kind.SUBNET: ("describe_subnets", "Subnets", "SubnetId", "subnet", "subnet"),
    Kind.ROUTE_TABLE: ("describe_route_tables", "RouteTables", "RouteTableId", "route-table", "route-table"),
    Kind.SECURITY_GROUP: ("describe_security_groups", "SecurityGroups", "GroupId", "security-group", "security-group"),
    Kind.INTERNET_GATEWAY: (
        "describe_internet_gateways", "InternetGateways", "InternetGatewayId", "internet-gateway", "internet-gateway"
    ),
    Kind.ELASTIC_IP: ("describe_addresses", "Addresses", "AllocationId", "elastic-ip", "elastic-ip"),
    Kind.NAT_GATEWAY: ("describe_nat_gateways", "NatGateways", "NatGatewayId", "natgateway", "natgateway"),
    Kind.VPC_ENDPOINT: ("describe_vpc_endpoints", "VpcEndpoints", "VpcEndpointId", "vpc-endpoint", "vpc-endpoint"),
}  # fmt: skip


def resource_id(arn: str) -> str:
    """``arn:aws:ec2:...:subnet/subnet-0a1b`` -> ``subnet-0a1b``."""
    return arn.rpartition("/")[2]


def find(ec2: Any, kind: Kind, name: str, tags: Mapping[str, str]) -> dict[str, Any] | None:
    """The live piece of ``kind`` named ``name`` that carries ``tags``, or None."""
    operation, key, _, _, _ = _API[kind]
    wanted = {**tags, "Name": name}
    filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in sorted(wanted.items())]
    if ec2.can_paginate(operation):
        items = [i for page in ec2.get_paginator(operation).paginate(Filters=filters) for i in page.get(key, [])]
    else:
        items = getattr(ec2, operation)(Filters=filters).get(key, [])
    for item in items:  # matched here too: not every emulator honours every tag filter
        state = str(item.get("State", "")).lower()
        if state not in GONE and not tagging.missing(tagging.from_list(item.get("Tags", [])), wanted):
            return item
    return None


@dataclass(frozen=True)
class Piece:
    """One network resource; subclasses say how it is created, converged and deleted."""

    name: str  # its Name tag
    tags: Mapping[str, str]
    kind: ClassVar[Kind]
    owned: ClassVar[bool] = True

    def _tag_spec(self) -> list[dict[str, Any]]:
        tags = tagging.as_list({**self.tags, "Name": self.name})
        return [{"ResourceType": _API[self.kind][3], "Tags": tags}]

    def _arn(self, target: AwsTarget, item_id: str) -> str:
        return target.arn("ec2", f"{_API[self.kind][4]}/{item_id}")

    def _find(self, target: AwsTarget) -> dict[str, Any] | None:
        return find(target.client("ec2"), self.kind, self.name, self.tags)

    def ensure(self, target: AwsTarget, arns: Arns, *, apply: bool) -> tuple[Action, str | None]:
        ec2 = target.client("ec2")
        item = self._find(target)
        if item is None:
            if not apply:
                return outcome(self.kind, self.name, False, []), None
            item_id = self._create(target, ec2, arns)
            self._converge(ec2, {_API[self.kind][2]: item_id}, arns, apply=True, new=True)
            return outcome(self.kind, self.name, False, []), self._arn(target, item_id)
        item_id = item[_API[self.kind][2]]
        changes = self._converge(ec2, item, arns, apply=apply, new=False)
        return outcome(self.kind, self.name, True, changes), self._arn(target, item_id)

    def destroy(self, target: AwsTarget) -> Action:
        item = self._find(target)
        if item is None:
            return Action(self.kind, self.name, ABSENT)
        self._delete(target.client("ec2"), item)
        return Action(self.kind, self.name, DELETED)

    def exists(self, target: AwsTarget) -> bool:
        return self._find(target) is not None

    def _create(self, target: AwsTarget, ec2: Any, arns: Arns) -> str:
        raise NotImplementedError

    def _converge(self, ec2: Any, item: dict[str, Any], arns: Arns, *, apply: bool, new: bool) -> list[str]:
        """Bring the wiring ``item`` needs into place; the names of what was (or would be) changed."""
        return []

    def _delete(self, ec2: Any, item: dict[str, Any]) -> None:
        raise NotImplementedError
