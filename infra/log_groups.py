"""CloudWatch log groups: the Lambdas' own (created, tagged, with a retention, removed by destroy) and
the account-wide Glue job groups (created only when absent, otherwise left as the account has them, and
never deleted: every Glue job of the account writes to them)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from employee_pipeline.config import LAMBDA_LOG_GROUP_PREFIX
from infra import tagging
from infra.actions import ABSENT, DELETED, Action, Kind, outcome
from infra.session import AwsTarget, error_code

LOG_RETENTION_DAYS = 30
# Where every Glue 5.0 job of the account writes: the driver's and executors' streams (<run id>-driver,
# <run id>-<executor id>). /aws-glue/jobs/logs-v2 (continuous logging) belongs to Glue 4.0 and earlier.
GLUE_SHARED_GROUPS = ("/aws-glue/jobs/output", "/aws-glue/jobs/error")


def lambda_group(function: str) -> str:
    return f"{LAMBDA_LOG_GROUP_PREFIX}{function}"


def _describe(logs: Any, group: str) -> dict[str, Any] | None:
    for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=group):
        for found in page.get("logGroups", []):
            if found["logGroupName"] == group:
                return found
    return None


def _group_arn(target: AwsTarget, group: str) -> str:
    return target.arn("logs", f"log-group:{group}")


def ensure_log_group(
    target: AwsTarget,
    group: str,
    tags: dict[str, str],
    retention_days: int = LOG_RETENTION_DAYS,
    *,
    apply: bool = True,
) -> Action:
    """Create or converge a group the stage owns: its retention and its tags. ``apply=False``: only say what
    would change."""
    logs = target.client("logs")
    current = _describe(logs, group)
    changes = []
    if current is None and not apply:
        return outcome(Kind.LOG_GROUP, group, False, [])
    if current is None:
        logs.create_log_group(logGroupName=group, tags=tags)
    else:
        have = logs.list_tags_for_resource(resourceArn=_group_arn(target, group)).get("tags", {})
        lacking = tagging.missing(have, tags)
        if lacking:
            if apply:
                logs.tag_resource(resourceArn=_group_arn(target, group), tags=lacking)
            changes.append(tagging.CHANGE)
    if current is None or current.get("retentionInDays") != retention_days:
        if apply:
            logs.put_retention_policy(logGroupName=group, retentionInDays=retention_days)
        if current is not None:
            changes.append("retention")
    return outcome(Kind.LOG_GROUP, group, current is not None, changes)


def ensure_shared_log_group(
    target: AwsTarget, group: str, retention_days: int = LOG_RETENTION_DAYS, *, apply: bool = True
) -> Action:
    """Create an account-wide group when absent (with the retention); an existing one is not touched."""
    logs = target.client("logs")
    if _describe(logs, group) is not None:
        return outcome(Kind.LOG_GROUP, group, True, [])
    if not apply:
        return outcome(Kind.LOG_GROUP, group, False, [])
    try:
        logs.create_log_group(logGroupName=group)
    except ClientError as err:  # a Glue run of the account created it meanwhile
        if error_code(err) != "ResourceAlreadyExistsException":
            raise
        return outcome(Kind.LOG_GROUP, group, True, [])
    logs.put_retention_policy(logGroupName=group, retentionInDays=retention_days)
    return outcome(Kind.LOG_GROUP, group, False, [])


def log_group_exists(target: AwsTarget, group: str) -> bool:
    return _describe(target.client("logs"), group) is not None


def destroy_log_group(target: AwsTarget, group: str) -> Action:
    logs = target.client("logs")
    if _describe(logs, group) is None:
        return Action(Kind.LOG_GROUP, group, ABSENT)
    logs.delete_log_group(logGroupName=group)
    return Action(Kind.LOG_GROUP, group, DELETED)
