"""What provisioning did to each resource, for the per-resource report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

CREATED, UPDATED, UNCHANGED, DELETED, ABSENT = "created", "updated", "unchanged", "deleted", "absent"
# What a plan (deploy --plan) says deploy would do.
CREATE, UPDATE = "create", "update"
PLANNED = {CREATED: CREATE, UPDATED: UPDATE, UNCHANGED: UNCHANGED}


class Kind(StrEnum):
    """What a resource is: a spec's ``kind`` and an action's ``resource``, as the report shows it.

    A member is its value wherever it is printed, formatted or written as JSON.
    """

    S3_BUCKET = "s3_bucket"
    S3_ARTIFACT = "s3_artifact"
    IAM_ROLE = "iam_role"
    LOG_GROUP = "log_group"
    LAMBDA_LAYER = "lambda_layer"
    LAMBDA_FUNCTION = "lambda_function"
    GLUE_JOB = "glue_job"
    DYNAMODB_TABLE = "dynamodb_table"
    KMS_KEY = "kms_key"
    SNS_TOPIC = "sns_topic"
    CLOUDWATCH_ALARM = "cloudwatch_alarm"
    CLOUDWATCH_DASHBOARD = "cloudwatch_dashboard"
    VPC = "vpc"
    SUBNET = "subnet"
    ROUTE_TABLE = "route_table"
    SECURITY_GROUP = "security_group"
    INTERNET_GATEWAY = "internet_gateway"
    ELASTIC_IP = "elastic_ip"
    NAT_GATEWAY = "nat_gateway"
    VPC_ENDPOINT = "vpc_endpoint"
    MWAA_BUNDLE = "mwaa_bundle"
    MWAA_ENVIRONMENT = "mwaa_environment"


@dataclass
class Action:
    resource: Kind
    name: str
    action: str
    changes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        detail = f" ({', '.join(self.changes)})" if self.changes else ""
        return f"  {self.action:<9}  {self.resource:<16}  {self.name}{detail}"


def planned(action: Action) -> Action:
    """``action`` (what an ensure_* function with ``apply=False`` reports) in a plan's words."""
    return Action(action.resource, action.name, PLANNED[action.action], list(action.changes))


def outcome(resource: Kind, name: str, existed: bool, changes: list[str]) -> Action:
    if not existed:
        return Action(resource, name, CREATED)
    return Action(resource, name, UPDATED if changes else UNCHANGED, changes)
