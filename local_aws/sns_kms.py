"""The KMS side of publishing to an encrypted SNS topic, as AWS decides it: moto's SNS never uses a topic's key.

SNS encrypts a message with the topic's ``KmsMasterKeyId`` on behalf of the publisher, so the publisher (a
role, or a service such as CloudWatch for an alarm) must be allowed ``kms:GenerateDataKey`` and
``kms:Decrypt`` on that key (SNS's guide, "Allow user permissions to send messages to topics with SSE";
for services, "Enable compatibility between event sources from AWS services and encrypted topics").

KMS decides with the key policy first: a statement naming the principal allows by itself; the caller's IAM
policies count only when the key policy allows the account (its root). The AWS-managed ``alias/aws/*``
keys carry AWS's policy (any principal of the account, through the owning service only), not the one moto
gives them, so CloudWatch is refused there as on AWS. A refusal is SNS's ``KMSAccessDenied`` (400); a
disabled or deleted key is ``KMSDisabled`` / ``KMSInvalidState``, a missing one ``KMSNotFound``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from local_aws.iam_conditions import NotUnderstoodError, RequestContext
from local_aws.iam_policy import Decision, Policy, Principal, decide

ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
AWS_MANAGED = "alias/aws/"
STATUS = 400  # SNS answers every KMS error of Publish with 400 (its service model)
_CREATING = threading.Lock()  # an AWS-managed key is made once, whichever request first needs it


@dataclass(frozen=True)
class Refusal:
    code: str  # SNS's error code: KMSAccessDenied, KMSNotFound, KMSDisabled, KMSInvalidState
    message: str
    decision: Decision | None = None  # the key policy's decision, for the audit
    action: str = ""
    key_arn: str = ""


def aws_managed_policy(account: str, region: str, service: str) -> dict[str, Any]:
    """The key policy AWS gives the AWS-managed key of ``service`` (e.g. alias/aws/sns)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": f"Allow access through {service.upper()} for all principals in the account",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:CreateGrant",
                    "kms:DescribeKey",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": account,
                        "kms:ViaService": f"{service}.{region}.amazonaws.com",
                    }
                },
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                "Resource": "*",
            },
        ],
    }


def topic_key(topic_arn: str) -> str | None:
    """The topic's KmsMasterKeyId, or None when it is not encrypted (or does not exist)."""
    from moto.sns.models import sns_backends

    _, _, _, region, account, _ = topic_arn.split(":", 5)
    try:
        topic = sns_backends[account][region].topics.get(topic_arn)
    except KeyError:
        return None
    return (getattr(topic, "kms_master_key_id", "") or None) if topic is not None else None


def _key(account: str, region: str, key_id: str) -> Any | None:
    from moto.kms.models import kms_backends

    backend = kms_backends[account][region]
    with _CREATING:
        if key_id.startswith(AWS_MANAGED) and not backend.alias_exists(key_id):
            _create_aws_managed(backend, key_id, account, region)
    try:
        return backend.keys.get(backend.any_id_to_key_id(key_id))
    except (KeyError, TypeError, AttributeError):  # an alias that names no key
        return None


def _create_aws_managed(backend: Any, alias: str, account: str, region: str) -> None:
    """AWS makes a service's AWS-managed key when the service first uses it; moto knows few of them."""
    service = alias.removeprefix(AWS_MANAGED)
    policy = json.dumps(aws_managed_policy(account, region, service))
    description = f"Default master key that protects my {service.upper()} messages when no other key is defined"
    key = backend.create_key(policy, "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", description, None)
    key.key_manager = "AWS"
    backend.create_alias(key.id, alias)


def _key_policy(key: Any, account: str, region: str) -> Policy:
    managed = [alias for alias in key.aliases if alias.startswith(AWS_MANAGED)]
    if managed:
        service = managed[0].removeprefix(AWS_MANAGED)
        return Policy.parse(f"key policy of {managed[0]}", aws_managed_policy(account, region, service), True)
    return Policy.parse(f"key policy of {key.arn}", key.policy, True)


def publish_refusal(
    principal: Principal, identity: list[Policy], topic_arn: str, context: RequestContext, audit: Any = None
) -> Refusal | None:
    """Why SNS would refuse ``principal`` publishing to ``topic_arn`` for its key, or None; ``context``: the
    request's condition keys (IAM's global ones, aws:SourceArn for a service); ``audit``: records decisions."""
    key_id = topic_key(topic_arn)
    if key_id is None:
        return None
    _, _, _, region, account, _ = topic_arn.split(":", 5)
    key = _key(account, region, key_id)
    if key is None:
        return Refusal("KMSNotFound", f"Invalid keyId {key_id}")
    if key.key_state != "Enabled":
        code = "KMSDisabled" if key.key_state == "Disabled" else "KMSInvalidState"
        return Refusal(code, f"{key.arn} is {key.key_state}. (Service: AWSKMS; Status Code: 400)")
    policy = _key_policy(key, account, region)
    values = dict(context.values) | {
        "kms:viaservice": f"sns.{region}.amazonaws.com",
        "kms:resourcealiases": sorted(key.aliases),
        "aws:resourceaccount": account,
    }
    if principal.kind != "service":
        values["kms:calleraccount"] = principal.account
    keyed = RequestContext(values, set(context.known) | set(values))
    for action in ACTIONS:
        try:
            decision = _decide(principal, identity, action, key.arn, keyed, policy)
        except (NotUnderstoodError, ValueError) as err:
            decision = Decision(False, f"because {err}")
        if audit is not None:
            audit.add(principal, "Publish", action, key.arn, decision)
        if not decision.allowed:
            message = (
                f"User: {principal.arn} is not authorized to perform: {action} on resource: {key.arn} "
                f"{decision.reason} (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)"
            )
            return Refusal("KMSAccessDenied", message, decision, action, key.arn)
    return None


def _decide(
    principal: Principal, identity: list[Policy], action: str, key_arn: str, context: RequestContext, policy: Policy
) -> Decision:
    """KMS's rule: IAM policies count only if the key policy allows the account itself."""
    root = Principal(f"arn:aws:iam::{principal.account}:root", principal.account, "administrator")
    delegated = principal.kind != "service" and any(
        statement.get("Effect") == "Allow" and _names_root(statement.get("Principal"), principal.account)
        for _, statement in policy.statements()
    )
    counted = identity if delegated and decide(root, action, key_arn, context, [], [policy]).allowed else []
    decision = decide(principal, action, key_arn, context, counted, [policy])
    if not decision.allowed and decision.policy is None and not counted:  # refused for want of an allow
        reason = f"because no key policy allows the {action} action for {principal.short}"
        if principal.kind != "service" and not delegated:
            reason += " and the key policy does not let IAM policies grant it"
        return Decision(False, reason, decision.policy, decision.statement)
    return decision


def _names_root(element: Any, account: str) -> bool:
    if not isinstance(element, dict):
        return False
    values = element.get("AWS", [])
    return bool({account, f"arn:aws:iam::{account}:root"} & set(values if isinstance(values, list) else [values]))
