"""What is left of a stage in an AWS account: every kind of resource ``infra`` makes, found by its names or tags.

Names: a stage's resources are named ``{prefix}-{stage}-…`` (its MWAA source bucket ``airflow-{prefix}-{stage}``),
so anything that starts with that base is the stage's. EC2 resources have no names, only tags: every one with
the stage's ``project``/``stage`` tags that still exists (a NAT gateway or endpoint being deleted is gone).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from employee_pipeline.config import PipelineNames
from infra.tagging import stage_tags

GONE_STATES = {"deleted", "deleting", "failed"}


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterable[Any]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def _by_name(aws: Any, base: str) -> dict[str, list[str]]:
    source_bucket = f"airflow-{base}"
    named: dict[str, Callable[[], Iterable[str]]] = {
        "s3 buckets": lambda: (b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]),
        "lambda functions": lambda: (
            f["FunctionName"] for f in _pages(aws.client("lambda"), "list_functions", "Functions")
        ),
        "lambda layers": lambda: (
            layer["LayerName"] for layer in _pages(aws.client("lambda"), "list_layers", "Layers")
        ),
        "iam roles": lambda: (r["RoleName"] for r in _pages(aws.client("iam"), "list_roles", "Roles")),
        "glue jobs": lambda: _pages(aws.client("glue"), "list_jobs", "JobNames"),
        "dynamodb tables": lambda: _pages(aws.client("dynamodb"), "list_tables", "TableNames"),
        "sns topics": lambda: (
            t["TopicArn"].rsplit(":", 1)[1] for t in _pages(aws.client("sns"), "list_topics", "Topics")
        ),
        "log groups": lambda: (
            g["logGroupName"] for g in _pages(aws.client("logs"), "describe_log_groups", "logGroups")
        ),
        "mwaa environments": lambda: _pages(aws.client("mwaa"), "list_environments", "Environments"),
    }
    found = {}
    for kind, names in named.items():
        mine = sorted(
            name
            for name in names()
            if name.startswith((base, source_bucket)) or f"/{base}-" in name or name.startswith(f"airflow-{base}-")
        )
        if mine:
            found[kind] = mine
    return found


def _tagged(aws: Any, names: PipelineNames) -> dict[str, list[str]]:
    ec2 = aws.client("ec2")
    tag_filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in stage_tags(names).items()]
    listed: dict[str, Callable[[], Iterable[tuple[str, str]]]] = {
        "vpcs": lambda: ((v["VpcId"], "") for v in ec2.describe_vpcs(Filters=tag_filters)["Vpcs"]),
        "subnets": lambda: ((s["SubnetId"], "") for s in ec2.describe_subnets(Filters=tag_filters)["Subnets"]),
        "internet gateways": lambda: (
            (g["InternetGatewayId"], "")
            for g in ec2.describe_internet_gateways(Filters=tag_filters)["InternetGateways"]
        ),
        "nat gateways": lambda: (
            (g["NatGatewayId"], g["State"]) for g in ec2.describe_nat_gateways(Filter=tag_filters)["NatGateways"]
        ),
        "elastic ips": lambda: (
            (a["AllocationId"], "") for a in ec2.describe_addresses(Filters=tag_filters)["Addresses"]
        ),
        "security groups": lambda: (
            (g["GroupId"], "") for g in ec2.describe_security_groups(Filters=tag_filters)["SecurityGroups"]
        ),
        "route tables": lambda: (
            (t["RouteTableId"], "") for t in ec2.describe_route_tables(Filters=tag_filters)["RouteTables"]
        ),
        "vpc endpoints": lambda: (
            (e["VpcEndpointId"], e["State"].lower())
            for e in ec2.describe_vpc_endpoints(Filters=tag_filters)["VpcEndpoints"]
        ),
    }
    found = {}
    for kind, entries in listed.items():
        left = sorted(ident for ident, state in entries() if state not in GONE_STATES)
        if left:
            found[kind] = left
    return found


def leftovers(aws: Any, names: PipelineNames) -> dict[str, list[str]]:
    """Every resource of ``names``' stage still in ``aws`` (an ``AwsTarget``), by kind; ``{}`` when none."""
    return {**_by_name(aws, f"{names.prefix}-{names.stage}"), **_tagged(aws, names)}
