"""The SNS topic the DAG's failure callback and the stage's CloudWatch alarms publish to."""

from __future__ import annotations

import json
from typing import Any

from infra import tagging
from infra.actions import ABSENT, DELETED, Action, Kind, outcome
from infra.session import AwsTarget, if_exists

# Encrypted at rest with the stage's customer-managed key (infra/keys.py), named by its alias: CloudWatch
# cannot publish to a topic under the AWS-managed alias/aws/sns, whose policy admits no service.
TOPIC_ATTRIBUTES = {"DisplayName": "employee pipeline alerts"}


def topic_arn(target: AwsTarget, name: str) -> str:
    return target.arn("sns", name)


def topic_policy(target: AwsTarget, name: str, alarm_arns: list[str]) -> dict[str, Any]:
    """CloudWatch may publish for the stage's alarms only (AWS: a topic's policy must name the service for
    an alarm's SNS action; aws:SourceArn and aws:SourceAccount keep other alarms out). The account's own
    principals publish with their IAM policies, as the default policy's owner statement would let them."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StageAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn(target, name),
                "Condition": {
                    "ArnLike": {"aws:SourceArn": alarm_arns},
                    "StringEquals": {"aws:SourceAccount": target.account_id},
                },
            }
        ],
    }


def _attributes(sns: Any, arn: str) -> dict[str, Any] | None:
    return if_exists(lambda: sns.get_topic_attributes(TopicArn=arn), ("NotFound",))


def topic_exists(target: AwsTarget, name: str) -> bool:
    return _attributes(target.client("sns"), topic_arn(target, name)) is not None


def ensure_topic(
    target: AwsTarget, name: str, tags: dict[str, str], policy: dict[str, Any], key: str, *, apply: bool = True
) -> Action:
    """``key``: the KMS key (alias or ARN) the topic's messages are encrypted with."""
    sns = target.client("sns")
    arn = topic_arn(target, name)
    current = _attributes(sns, arn)
    attributes = {**TOPIC_ATTRIBUTES, "KmsMasterKeyId": key, "Policy": json.dumps(policy)}
    if current is None:
        if apply:
            sns.create_topic(Name=name, Attributes=attributes, Tags=tagging.as_list(tags))
        return outcome(Kind.SNS_TOPIC, name, False, [])
    changes = []
    for key, value in attributes.items():
        held = current["Attributes"].get(key)
        if (json.loads(held) if key == "Policy" and held else held) != (policy if key == "Policy" else value):
            if apply:
                sns.set_topic_attributes(TopicArn=arn, AttributeName=key, AttributeValue=value)
            changes.append(key)
    lacking = tagging.missing(tagging.from_list(sns.list_tags_for_resource(ResourceArn=arn).get("Tags", [])), tags)
    if lacking:
        if apply:
            sns.tag_resource(ResourceArn=arn, Tags=tagging.as_list(lacking))
        changes.append(tagging.CHANGE)
    return outcome(Kind.SNS_TOPIC, name, True, changes)


def destroy_topic(target: AwsTarget, name: str) -> Action:
    sns = target.client("sns")
    arn = topic_arn(target, name)
    if _attributes(sns, arn) is None:
        return Action(Kind.SNS_TOPIC, name, ABSENT)
    sns.delete_topic(TopicArn=arn)
    return Action(Kind.SNS_TOPIC, name, DELETED)
