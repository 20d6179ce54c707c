"""IAM roles of the Lambdas (one each) and the Glue job: trust policy plus one inline least-privilege policy."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from employee_pipeline.config import PipelineNames
from employee_pipeline.layout import MANIFEST_PREFIX, QUARANTINE_PREFIX, RAW_PREFIX
from infra import log_groups, tagging
from infra.actions import ABSENT, DELETED, Action, Kind, outcome
from infra.session import AwsTarget, if_exists

INLINE_POLICY = "pipeline-access"


def trust_policy(target: AwsTarget, service: str | list[str]) -> dict[str, Any]:
    """``service`` (one or several) may assume the role on behalf of this account's resources only (confused
    deputy)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": target.account_id}},
            }
        ],
    }


def _logs_statement(target: AwsTarget, group_pattern: str) -> dict[str, Any]:
    # No logs:CreateLogGroup: deploy creates the groups (with a retention), so a role cannot make one without.
    return {
        "Sid": "WriteItsOwnLog",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": target.arn("logs", f"log-group:{group_pattern}"),
    }


def role_policies(target: AwsTarget, names: PipelineNames) -> dict[str, tuple[str, dict[str, Any]]]:
    """role name -> (trusted service, inline policy document)."""
    data = f"arn:{target.partition}:s3:::{names.data_bucket}"
    artifacts = f"arn:{target.partition}:s3:::{names.artifacts_bucket}"
    table = target.arn("dynamodb", f"table/{names.table}")
    leases = target.arn("dynamodb", f"table/{names.lease_table}")
    # The generator calls no AWS service: it may only write its own log.
    generator_policy = {
        "Version": "2012-10-17",
        "Statement": [_logs_statement(target, f"{log_groups.lambda_group(names.generator_function)}:*")],
    }
    writer_policy = {
        "Version": "2012-10-17",
        "Statement": [
            _logs_statement(target, f"{log_groups.lambda_group(names.writer_function)}:*"),
            {"Sid": "WriteShards", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": f"{data}/{RAW_PREFIX}/*"},
        ],
    }
    glue_policy = {
        "Version": "2012-10-17",
        "Statement": [
            _logs_statement(target, "/aws-glue/*"),
            # The job enables metrics (--enable-metrics): only into Glue's namespace.
            {
                "Sid": "GlueJobMetrics",
                "Effect": "Allow",
                "Action": ["cloudwatch:PutMetricData"],
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": "Glue"}},
            },
            # The job lists a batch's shard objects and its earlier quarantine objects, nothing else.
            {
                "Sid": "ListShardsAndQuarantine",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": data,
                "Condition": {"StringLike": {"s3:prefix": [f"{RAW_PREFIX}/*", f"{QUARANTINE_PREFIX}/*"]}},
            },
            # Glue reads the job's script and its --extra-py-files zip (the artifacts) as the job's role.
            {
                "Sid": "ReadShardsAndJobCode",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"{data}/{RAW_PREFIX}/*", f"{artifacts}/*"],
            },
            {
                "Sid": "WriteQuarantineAndManifest",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": [f"{data}/{QUARANTINE_PREFIX}/*", f"{data}/{MANIFEST_PREFIX}/*"],
            },
            # Stale shard objects of an earlier run of the batch are removed after the load.
            {
                "Sid": "RemoveStaleShards",
                "Effect": "Allow",
                "Action": ["s3:DeleteObject"],
                "Resource": f"{data}/{RAW_PREFIX}/*",
            },
            {
                "Sid": "LoadTheTable",
                "Effect": "Allow",
                # BatchWriteItem both loads the items and deletes the stale ones.
                "Action": ["dynamodb:DescribeTable", "dynamodb:BatchWriteItem"],
                "Resource": table,
            },
            # The stale-item sweep queries the batch_id#shard index.
            {"Sid": "FindStaleItems", "Effect": "Allow", "Action": ["dynamodb:Query"], "Resource": f"{table}/index/*"},
            # The job checks the lease table exists, records its load on the lease, confirms it before each step.
            {
                "Sid": "HoldTheBatchLease",
                "Effect": "Allow",
                "Action": ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:UpdateItem"],
                "Resource": leases,
            },
        ],
    }
    return {
        names.generator_role: ("lambda.amazonaws.com", generator_policy),
        names.writer_role: ("lambda.amazonaws.com", writer_policy),
        names.glue_role: ("glue.amazonaws.com", glue_policy),
    }


def _document(value: Any) -> Any:
    # boto3 usually decodes policy documents; some endpoints return them URL-encoded.
    return json.loads(unquote(value)) if isinstance(value, str) else value


def _get_role(iam: Any, role: str) -> dict[str, Any] | None:
    return if_exists(lambda: iam.get_role(RoleName=role), ("NoSuchEntity",))


def role_exists(target: AwsTarget, role: str) -> bool:
    return _get_role(target.client("iam"), role) is not None


def ensure_role(
    target: AwsTarget,
    role: str,
    service: str | list[str],
    policy: dict[str, Any],
    tags: dict[str, str] | None = None,
    *,
    apply: bool = True,
) -> tuple[Action, str]:
    """Create or converge ``role``: trusted by ``service``, one inline policy, ``tags``. Returns the Action and
    the role's ARN. ``apply=False``: only say what would change (and the ARN a new role would get)."""
    trust = trust_policy(target, service)
    tags = tags or {}
    iam = target.client("iam")
    current = _get_role(iam, role)
    changes = []
    if current is None and not apply:
        return outcome(Kind.IAM_ROLE, role, False, []), expected_role_arn(target, role)
    if current is None:
        arn = iam.create_role(
            RoleName=role,
            AssumeRolePolicyDocument=json.dumps(trust),
            Description="employee batch pipeline",
            **({"Tags": tagging.as_list(tags)} if tags else {}),
        )["Role"]["Arn"]
    else:
        arn = current["Role"]["Arn"]
        if _document(current["Role"]["AssumeRolePolicyDocument"]) != trust:
            if apply:
                iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust))
            changes.append("trust policy")
        lacking = tagging.missing(tagging.from_list(current["Role"].get("Tags", [])), tags)
        if lacking:
            if apply:
                iam.tag_role(RoleName=role, Tags=tagging.as_list(lacking))
            changes.append(tagging.CHANGE)
    inline = if_exists(lambda: iam.get_role_policy(RoleName=role, PolicyName=INLINE_POLICY), ("NoSuchEntity",))
    if inline is None or _document(inline["PolicyDocument"]) != policy:
        if apply:
            iam.put_role_policy(RoleName=role, PolicyName=INLINE_POLICY, PolicyDocument=json.dumps(policy))
        if current is not None:
            changes.append("permissions")
    return outcome(Kind.IAM_ROLE, role, current is not None, changes), arn


def role_arn(target: AwsTarget, role: str) -> str:
    return target.client("iam").get_role(RoleName=role)["Role"]["Arn"]


def expected_role_arn(target: AwsTarget, role: str) -> str:
    """The ARN ``ensure_role`` gives ``role`` (no path), known before the role exists: for a plan."""
    return target.arn("iam", f"role/{role}", region=False)


def destroy_role(target: AwsTarget, role: str) -> Action:
    iam = target.client("iam")
    if _get_role(iam, role) is None:
        return Action(Kind.IAM_ROLE, role, ABSENT)
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        iam.delete_role_policy(RoleName=role, PolicyName=name)
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=role, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=role)
    return Action(Kind.IAM_ROLE, role, DELETED)
