"""The SNS topic the DAG's failure callback publishes to."""

from __future__ import annotations

from typing import Any

from infra import tagging
from infra.actions import ABSENT, DELETED, Action, Kind, outcome
from infra.session import AwsTarget, if_exists

TOPIC_ATTRIBUTES = {
    "DisplayName": "employee pipeline alerts",
    # Encrypted at rest with the AWS-managed SNS key.
    "KmsMasterKeyId": "alias/aws/sns",
}


def topic_arn(target: AwsTarget, name: str) -> str:
    return target.arn("sns", name)


def _attributes(sns: Any, arn: str) -> dict[str, Any] | None:
    return if_exists(lambda: sns.get_topic_attributes(TopicArn=arn), ("NotFound",))


def topic_exists(target: AwsTarget, name: str) -> bool:
    return _attributes(target.client("sns"), topic_arn(target, name)) is not None


def ensure_topic(target: AwsTarget, name: str, tags: dict[str, str], *, apply: bool = True) -> Action:
    sns = target.client("sns")
    arn = topic_arn(target, name)
    current = _attributes(sns, arn)
    if current is None:
        if apply:
            sns.create_topic(Name=name, Attributes=TOPIC_ATTRIBUTES, Tags=tagging.as_list(tags))
        return outcome(Kind.SNS_TOPIC, name, False, [])
    changes = []
    for key, value in TOPIC_ATTRIBUTES.items():
        if current["Attributes"].get(key) != value:
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
