"""The customer-managed KMS key that encrypts the stage's alerts topic.

CloudWatch cannot publish alarm notifications to a topic encrypted with the AWS-managed key
``alias/aws/sns``: that key's policy lets only the account's principals use it through SNS, and it cannot
be changed. SNS's guide ("Enable compatibility between event sources from AWS services and encrypted
topics") asks for a customer-managed key whose policy lets ``cloudwatch.amazonaws.com`` call
``kms:Decrypt`` and ``kms:GenerateDataKey*``; the account root statement lets IAM policies grant the
other publishers (the MWAA execution role) their use of it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from infra import tagging
from infra.actions import ABSENT, DELETED, Action, Kind, outcome
from infra.session import AwsTarget, if_exists

DELETION_WINDOW_DAYS = 7  # KMS's minimum: a key is never deleted at once
PUBLISH_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey*"]  # what SNS needs of a publisher to an encrypted topic
POLICY_NAME = "default"  # a key's one policy
DESCRIPTION = "encrypts the employee pipeline's alerts topic"


def alias_name(topic: str) -> str:
    """``alias/{prefix}-{stage}-alerts``: the key as the topic and the execution role name it."""
    return f"alias/{topic}"


def key_policy(target: AwsTarget, alarm_arns: list[str]) -> dict[str, Any]:
    """The account administers the key and grants its use with IAM policies; CloudWatch may use it for the
    stage's alarms only (aws:SourceArn, aws:SourceAccount: the confused-deputy guard SNS's guide shows)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersAndDelegatesToIam",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{target.partition}:iam::{target.account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "StageAlarmsPublishToTheTopic",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": PUBLISH_ACTIONS,
                "Resource": "*",
                "Condition": {
                    "ArnLike": {"aws:SourceArn": alarm_arns},
                    "StringEquals": {"aws:SourceAccount": target.account_id},
                },
            },
        ],
    }


def pending_arn(target: AwsTarget) -> str:
    """Stands for the key's ARN in a policy described before deploy made the key (KMS picks its id);
    deploy puts the real ARN in its place (``Role.late``). Names no key, so it grants nothing."""
    return target.arn("kms", "key/alerts-key-not-yet-created")


def key_arn(target: AwsTarget, alias: str) -> str | None:
    """The ARN of the key ``alias`` names now, or None."""
    found = _key(target.client("kms"), alias)
    return str(found["Arn"]) if found else None


def _key(kms: Any, alias: str) -> dict[str, Any] | None:
    """The key ``alias`` names, unless it is absent or waiting for deletion."""
    found = if_exists(lambda: kms.describe_key(KeyId=alias), ("NotFoundException",))
    if found is None or found["KeyMetadata"]["KeyState"] == "PendingDeletion":
        return None
    return dict(found["KeyMetadata"])


def key_exists(target: AwsTarget, alias: str) -> bool:
    return _key(target.client("kms"), alias) is not None


def ensure_key(
    target: AwsTarget, alias: str, policy: dict[str, Any], tags: dict[str, str], *, apply: bool = True
) -> tuple[Action, str | None]:
    """Create the key with its alias, policy and yearly rotation, or converge them; (action, key ARN)."""
    kms = target.client("kms")
    current = _key(kms, alias)
    if current is None:
        arn = None
        if apply:
            made = kms.create_key(
                Description=DESCRIPTION, Policy=json.dumps(policy), Tags=tagging.as_list(tags, "TagKey", "TagValue")
            )["KeyMetadata"]
            kms.create_alias(AliasName=alias, TargetKeyId=made["KeyId"])
            kms.enable_key_rotation(KeyId=made["KeyId"])
            arn = made["Arn"]
        return outcome(Kind.KMS_KEY, alias, False, []), arn
    key_id, changes = current["KeyId"], []
    if json.loads(kms.get_key_policy(KeyId=key_id, PolicyName=POLICY_NAME)["Policy"]) != policy:
        if apply:
            kms.put_key_policy(KeyId=key_id, PolicyName=POLICY_NAME, Policy=json.dumps(policy))
        changes.append("policy")
    if not kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]:
        if apply:
            kms.enable_key_rotation(KeyId=key_id)
        changes.append("rotation")
    held = tagging.from_list(kms.list_resource_tags(KeyId=key_id).get("Tags", []), "TagKey", "TagValue")
    lacking = tagging.missing(held, tags)
    if lacking:
        if apply:
            kms.tag_resource(KeyId=key_id, Tags=tagging.as_list(lacking, "TagKey", "TagValue"))
        changes.append(tagging.CHANGE)
    return outcome(Kind.KMS_KEY, alias, True, changes), current["Arn"]


def destroy_key(target: AwsTarget, alias: str) -> Action:
    """Delete the alias and schedule the key's deletion after KMS's shortest window (it cannot go at once)."""
    kms = target.client("kms")
    current = _key(kms, alias)
    if current is None:
        return Action(Kind.KMS_KEY, alias, ABSENT)
    kms.delete_alias(AliasName=alias)
    kms.schedule_key_deletion(KeyId=current["KeyId"], PendingWindowInDays=DELETION_WINDOW_DAYS)
    return Action(Kind.KMS_KEY, alias, DELETED, [f"deletion scheduled in {DELETION_WINDOW_DAYS} days"])


@dataclass(frozen=True)
class Key:
    """A customer-managed key named by its alias; ``alarms``: the CloudWatch alarms (names) it lets publish."""

    name: str  # the alias, alias/...
    tags: Mapping[str, str]
    alarms: tuple[str, ...] = ()
    kind: ClassVar[Kind] = Kind.KMS_KEY
    owned: ClassVar[bool] = True

    def ensure(self, target: AwsTarget, arns: Mapping[str, str], *, apply: bool) -> tuple[Action, str | None]:
        alarm_arns = [target.arn("cloudwatch", f"alarm:{alarm}") for alarm in self.alarms]
        return ensure_key(target, self.name, key_policy(target, alarm_arns), dict(self.tags), apply=apply)

    def destroy(self, target: AwsTarget) -> Action:
        return destroy_key(target, self.name)

    def exists(self, target: AwsTarget) -> bool:
        return key_exists(target, self.name)
