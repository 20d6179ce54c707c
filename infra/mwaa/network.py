"""The MWAA environment's network as resources of the stage's description (infra/resources.py's verbs).

Each piece is found by its ``Name`` tag among resources carrying the stage's tags (infra/mwaa/ec2.py);
a piece walked later wires itself into earlier ones (a
subnet joins its route table, the NAT gateway adds the private default route). Walked backwards, destroy
removes them in dependency order: NAT gateway (waited until deleted), Elastic IP, internet gateway,
endpoints, subnets, route tables, security group, VPC.

Two ways out to AWS's services: ``nat`` (one NAT gateway in one public subnet: the cheapest for a small
environment) or ``endpoints`` (no internet: a VPC endpoint for each service MWAA and the tasks call).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from employee_pipeline.config import PipelineNames
from employee_pipeline.waiting import wait_until
from infra import tagging
from infra.actions import Kind
from infra.mwaa.ec2 import Piece, find, resource_id
from infra.resources import Arns
from infra.session import AwsTarget

NAT, ENDPOINTS, EXISTING = "nat", "endpoints", "existing"
NETWORKS = (NAT, ENDPOINTS)
VPC_CIDR = "10.192.0.0/16"
PUBLIC_CIDR = "10.192.10.0/24"
PRIVATE_CIDRS = ("10.192.20.0/24", "10.192.21.0/24")
ANYWHERE = "0.0.0.0/0"
# MWAA User Guide, "Creating the required VPC service endpoints in an Amazon VPC with private routing"
# (https://docs.aws.amazon.com/mwaa/latest/userguide/vpc-vpe-create-access.html): s3 (gateway), sqs, logs,
# monitoring, kms, ecr.api, ecr.dkr and Airflow's airflow.api, airflow.env, airflow.ops. Then what the DAG's
# tasks call (infra/mwaa_role.py): DynamoDB (gateway), sts, lambda, glue, sns.
GATEWAY_SERVICES = ("s3", "dynamodb")
INTERFACE_SERVICES = (
    "sqs", "logs", "monitoring", "kms", "ecr.api", "ecr.dkr", "airflow.api", "airflow.env", "airflow.ops",
    "sts", "lambda", "glue", "sns",
)  # fmt: skip
WAIT_TIMEOUT_S = 900  # a NAT gateway or an interface endpoint takes minutes to come and go


def _routes_to(ec2: Any, table: str, arns: Arns, key: str, value: str, *, apply: bool) -> list[str]:
    """Route ``table``'s default route to ``value`` (``key``: GatewayId or NatGatewayId)."""
    table_id = resource_id(arns[table]) if table in arns else None
    if table_id is None:
        return ["route"]
    routes = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0].get("Routes", [])
    current = next((r for r in routes if r.get("DestinationCidrBlock") == ANYWHERE), None)
    if current and current.get(key) == value and current.get("State", "active") == "active":
        return []
    if apply:
        if current:
            ec2.replace_route(RouteTableId=table_id, DestinationCidrBlock=ANYWHERE, **{key: value})
        else:
            ec2.create_route(RouteTableId=table_id, DestinationCidrBlock=ANYWHERE, **{key: value})
    return ["route"]


@dataclass(frozen=True)
class Vpc(Piece):
    kind: ClassVar[Kind] = Kind.VPC

    def _create(self, target: AwsTarget, ec2: Any, arns: Arns) -> str:
        return ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=self._tag_spec())["Vpc"]["VpcId"]

    def _converge(self, ec2: Any, item: dict[str, Any], arns: Arns, *, apply: bool, new: bool) -> list[str]:
        # Interface endpoints' private DNS names resolve only with both on.
        changes = []
        for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):
            current = ec2.describe_vpc_attribute(VpcId=item["VpcId"], Attribute=attribute[0].lower() + attribute[1:])
            if not current.get(attribute, {}).get("Value"):
                if apply:
                    ec2.modify_vpc_attribute(VpcId=item["VpcId"], **{attribute: {"Value": True}})
                changes.append(attribute)
        return [] if new else changes

    def _delete(self, ec2: Any, item: dict[str, Any]) -> None:
        ec2.delete_vpc(VpcId=item["VpcId"])


@dataclass(frozen=True)
class RouteTable(Piece):
    vpc: str = ""
    kind: ClassVar[Kind] = Kind.ROUTE_TABLE

    def _create(self, target: AwsTarget, ec2: Any, arns: Arns) -> str:
        vpc = resource_id(arns[self.vpc])
        return ec2.create_route_table(VpcId=vpc, TagSpecifications=self._tag_spec())["RouteTable"]["RouteTableId"]

    def _delete(self, ec2: Any, item: dict[str, Any]) -> None:
        for association in item.get("Associations", []):
            if not association.get("Main") and association.get("RouteTableAssociationId"):
                ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
        ec2.delete_route_table(RouteTableId=item["RouteTableId"])


def availability_zones(ec2: Any) -> list[str]:
    """The region's available zones, sorted: private subnet i goes to zone i (two zones, as MWAA requires)."""
    filters = [{"Name": "state", "Values": ["available"]}, {"Name": "zone-type", "Values": ["availability-zone"]}]
    return sorted(z["ZoneName"] for z in ec2.describe_availability_zones(Filters=filters)["AvailabilityZones"])


@dataclass(frozen=True)
class Subnet(Piece):
    vpc: str = ""
    cidr: str = ""
    zone: int = 0  # index into availability_zones()
    route_table: str = ""
    kind: ClassVar[Kind] = Kind.SUBNET

    def _create(self, target: AwsTarget, ec2: Any, arns: Arns) -> str:
        zone = availability_zones(ec2)[self.zone]
        created = ec2.create_subnet(
            VpcId=resource_id(arns[self.vpc]), CidrBlock=self.cidr, AvailabilityZone=zone,
            TagSpecifications=self._tag_spec(),
        )  # fmt: skip
        return created["Subnet"]["SubnetId"]

    def _converge(self, ec2: Any, item: dict[str, Any], arns: Arns, *, apply: bool, new: bool) -> list[str]:
        if self.route_table not in arns:
            return ["route table"]
        table_id = resource_id(arns[self.route_table])
        table = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]
        if any(a.get("SubnetId") == item["SubnetId"] for a in table.get("Associations", [])):
            return []
        if apply:
            ec2.associate_route_table(RouteTableId=table_id, SubnetId=item["SubnetId"])
        return [] if new else ["route table"]

    def _delete(self, ec2: Any, item: dict[str, Any]) -> None:
        ec2.delete_subnet(SubnetId=item["SubnetId"])


@dataclass(frozen=True)
class SecurityGroup(Piece):
    """MWAA's components talk to each other: all traffic from the group itself in, all traffic out."""

    vpc: str = ""
    kind: ClassVar[Kind] = Kind.SECURITY_GROUP

    def _create(self, target: AwsTarget, ec2: Any, arns: Arns) -> str:
        created = ec2.create_security_group(
            GroupName=self.name, Description=f"MWAA {self.name}: self-referencing ingress, all egress",
            VpcId=resource_id(arns[self.vpc]), TagSpecifications=self._tag_spec(),
        )  # fmt: skip
        return created["GroupId"]

    def _converge(self, ec2: Any, item: dict[str, Any], arns: Arns, *, apply: bool, new: bool) -> list[str]:
        group = item["GroupId"]
        if "IpPermissions" not in item:
            item = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
        changes = []
        ingress = [p for p in item.get("IpPermissions", []) if p.get("IpProtocol") == "-1"]
        if not any(pair.get("GroupId") == group for p in ingress for pair in p.get("UserIdGroupPairs", [])):
            if apply:
                ec2.authorize_security_group_ingress(
                    GroupId=group, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group}]}]
                )
            changes.append("ingress")
        egress = [p for p in item.get("IpPermissionsEgress", []) if p.get("IpProtocol") == "-1"]
        if not any(r.get("CidrIp") == ANYWHERE for p in egress for r in p.get("IpRanges", [])):
            if apply:
                ec2.authorize_security_group_egress(
                    GroupId=group, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": ANYWHERE}]}]
                )
            changes.append("egress")
        return [] if new else changes

    def _delete(self, ec2: Any, item: dict[str, Any]) -> None:
        ec2.delete_security_group(GroupId=item["GroupId"])


@dataclass(frozen=True)
class Endpoint(Piece):
    """A gateway endpoint (on the private route table) or an interface endpoint (in both private subnets)."""

    vpc: str = ""
    service: str = ""
    route_table: str = ""
    subnets: tuple[str, ...] = ()
    security_group: str = ""
    kind: ClassVar[Kind] = Kind.VPC_ENDPOINT

    def _create(self, target: AwsTarget, ec2: Any, arns: Arns) -> str:
        where: dict[str, Any]
        if self.service in GATEWAY_SERVICES:
            where = {"VpcEndpointType": "Gateway", "RouteTableIds": [resource_id(arns[self.route_table])]}
        else:
            where = {
                "VpcEndpointType": "Interface",
                "SubnetIds": [resource_id(arns[s]) for s in self.subnets],
                "SecurityGroupIds": [resource_id(arns[self.security_group])],
                "PrivateDnsEnabled": True,
            }
        created = ec2.create_vpc_endpoint(
            VpcId=resource_id(arns[self.vpc]), ServiceName=f"com.amazonaws.{target.region_name}.{self.service}",
            TagSpecifications=self._tag_spec(), **where,
        )  # fmt: skip
        return created["VpcEndpoint"]["VpcEndpointId"]

    def _delete(self, ec2: Any, item: dict[str, Any]) -> None:
        ec2.delete_vpc_endpoints(VpcEndpointIds=[item["VpcEndpointId"]])
        # Its network interfaces must be gone before the subnets and the security group can go.
        wait_until(
            lambda: find(ec2, self.kind, self.name, self.tags) is None,
            timeout=WAIT_TIMEOUT_S, interval=5, message=f"VPC endpoint {self.name} is still being deleted",
        )  # fmt: skip


@dataclass(frozen=True)
class InternetGateway(Piece):
    """Attached to the VPC, the public route table's default route."""

    vpc: str = ""
    route_table: str = ""
    kind: ClassVar[Kind] = Kind.INTERNET_GATEWAY

    def _create(self, target: AwsTarget, ec2: Any, arns: Arns) -> str:
        created = ec2.create_internet_gateway(TagSpecifications=self._tag_spec())
        return created["InternetGateway"]["InternetGatewayId"]

    def _converge(self, ec2: Any, item: dict[str, Any], arns: Arns, *, apply: bool, new: bool) -> list[str]:
        gateway, changes = item["InternetGatewayId"], []
        attached = {a["VpcId"] for a in item.get("Attachments", [])}
        if self.vpc not in arns or resource_id(arns[self.vpc]) not in attached:
            if apply:
                ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=resource_id(arns[self.vpc]))
            changes.append("attachment")
        changes += _routes_to(ec2, self.route_table, arns, "GatewayId", gateway, apply=apply)
        return [] if new else changes

    def _delete(self, ec2: Any, item: dict[str, Any]) -> None:
        for attachment in item.get("Attachments", []):
            ec2.detach_internet_gateway(InternetGatewayId=item["InternetGatewayId"], VpcId=attachment["VpcId"])
        ec2.delete_internet_gateway(InternetGatewayId=item["InternetGatewayId"])


@dataclass(frozen=True)
class ElasticIp(Piece):
    kind: ClassVar[Kind] = Kind.ELASTIC_IP

    def _create(self, target: AwsTarget, ec2: Any, arns: Arns) -> str:
        return ec2.allocate_address(Domain="vpc", TagSpecifications=self._tag_spec())["AllocationId"]

    def _delete(self, ec2: Any, item: dict[str, Any]) -> None:
        ec2.release_address(AllocationId=item["AllocationId"])


@dataclass(frozen=True)
class NatGateway(Piece):
    """In the public subnet with the Elastic IP; the private route table's default route."""

    subnet: str = ""
    address: str = ""
    route_table: str = ""
    kind: ClassVar[Kind] = Kind.NAT_GATEWAY

    def _create(self, target: AwsTarget, ec2: Any, arns: Arns) -> str:
        created = ec2.create_nat_gateway(
            SubnetId=resource_id(arns[self.subnet]), AllocationId=resource_id(arns[self.address]),
            TagSpecifications=self._tag_spec(),
        )  # fmt: skip
        gateway = created["NatGateway"]["NatGatewayId"]
        ec2.get_waiter("nat_gateway_available").wait(NatGatewayIds=[gateway])
        return gateway

    def _converge(self, ec2: Any, item: dict[str, Any], arns: Arns, *, apply: bool, new: bool) -> list[str]:
        changes = _routes_to(ec2, self.route_table, arns, "NatGatewayId", item["NatGatewayId"], apply=apply)
        return [] if new else changes

    def _delete(self, ec2: Any, item: dict[str, Any]) -> None:
        ec2.delete_nat_gateway(NatGatewayId=item["NatGatewayId"])
        # The Elastic IP is released only once the gateway no longer holds it.
        ec2.get_waiter("nat_gateway_deleted").wait(NatGatewayIds=[item["NatGatewayId"]])


def network_resources(names: PipelineNames, network: str) -> tuple[tuple[Piece, ...], tuple[str, ...], str]:
    """The pieces of ``network`` (``nat`` or ``endpoints``) in creation order, the names of the two private
    subnets and of the security group (the environment's NetworkConfiguration)."""
    tags = tagging.stage_tags(names)
    base = f"{names.prefix}-{names.stage}-mwaa"
    vpc, sg, private_rt, public_rt = base, f"{base}-sg", f"{base}-private", f"{base}-public"
    private = tuple(f"{base}-private-{i + 1}" for i in range(len(PRIVATE_CIDRS)))
    pieces: list[Piece] = [
        Vpc(vpc, tags),
        SecurityGroup(sg, tags, vpc=vpc),
        RouteTable(private_rt, tags, vpc=vpc),
        *(
            Subnet(s, tags, vpc=vpc, cidr=c, zone=i, route_table=private_rt)
            for i, (s, c) in enumerate(zip(private, PRIVATE_CIDRS, strict=True))
        ),
    ]
    if network == NAT:
        public, igw, eip = f"{base}-public-1", f"{base}-igw", f"{base}-nat-ip"
        pieces[3:3] = [RouteTable(public_rt, tags, vpc=vpc)]
        pieces += [
            Subnet(public, tags, vpc=vpc, cidr=PUBLIC_CIDR, zone=0, route_table=public_rt),
            InternetGateway(igw, tags, vpc=vpc, route_table=public_rt),
            ElasticIp(eip, tags),
            NatGateway(f"{base}-nat", tags, subnet=public, address=eip, route_table=private_rt),
        ]
    elif network == ENDPOINTS:
        pieces += [
            Endpoint(
                f"{base}-{s}", tags, vpc=vpc, service=s, route_table=private_rt, subnets=private, security_group=sg
            )
            for s in (*GATEWAY_SERVICES, *INTERFACE_SERVICES)
        ]
    else:
        raise ValueError(f"network {network!r} is not one of {', '.join(NETWORKS)}")
    return tuple(pieces), private, sg


def every_network_resource(names: PipelineNames) -> tuple[Piece, ...]:
    """Both networks' pieces, once each, in creation order: what destroy and status cover, whichever was made."""
    nat, _, _ = network_resources(names, NAT)
    endpoints, _, _ = network_resources(names, ENDPOINTS)
    seen = {piece.name for piece in nat}
    core = [p for p in nat if not isinstance(p, (InternetGateway, ElasticIp, NatGateway))]
    return (*core, *(p for p in endpoints if p.name not in seen), *(p for p in nat if p not in core))
