"""The alerts topic's KMS key: its policy, the execution role's use of it, the late-bound ARN, and the local
AWS's decision for a publisher to an encrypted topic (local_aws/sns_kms.py) on moto's own backends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.kms.models import kms_backends
from moto.sns.models import sns_backends

from employee_pipeline.config import pipeline_names
from infra import keys, mwaa_role, resources
from infra.session import AwsTarget
from local_aws import sns_kms
from local_aws.iam_conditions import RequestContext
from local_aws.iam_policy import Policy, Principal, decide
from local_aws.iam_requests import KNOWN_KEYS

ACCOUNT, REGION = "210987654321", "eu-west-1"  # an account no other test's moto state uses
NAMES = pipeline_names("prod", "acme-employees")
ALARM = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{NAMES.failed_runs_alarm}"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CLOUDWATCH = Principal("cloudwatch.amazonaws.com", ACCOUNT, "service", service="cloudwatch.amazonaws.com")
ROLE = Principal(
    f"arn:aws:sts::{ACCOUNT}:assumed-role/exec/s", ACCOUNT, "role", role_arn=f"arn:aws:iam::{ACCOUNT}:role/exec"
)


def _target() -> AwsTarget:
    return AwsTarget(region=REGION, _account=ACCOUNT)


def _key_policy() -> dict[str, Any]:
    return keys.key_policy(_target(), [ALARM])


def _context(**values: Any) -> RequestContext:
    lowered = {key.lower(): value for key, value in values.items()}
    return RequestContext(lowered, set(KNOWN_KEYS) | set(lowered))


def _execution_policy(key_arn: str | None = KEY_ARN) -> Policy:
    environment, bucket = mwaa_role.default_environment(NAMES)
    return Policy("exec inline", mwaa_role.execution_policy(_target(), NAMES, environment, bucket, key_arn))


@pytest.mark.parametrize("action", ["kms:GenerateDataKey", "kms:Decrypt"])
def test_the_key_policy_lets_cloudwatch_use_the_key_for_the_stage_alarms_only(action: str) -> None:
    policy = Policy("key", _key_policy(), True)
    ours = _context(**{"aws:SourceArn": ALARM, "aws:SourceAccount": ACCOUNT})
    assert decide(CLOUDWATCH, action, KEY_ARN, ours, [], [policy]).allowed
    other = _context(**{"aws:SourceArn": ALARM.replace("failed", "other"), "aws:SourceAccount": ACCOUNT})
    assert not decide(CLOUDWATCH, action, KEY_ARN, other, [], [policy]).allowed
    [root] = [s for s in _key_policy()["Statement"] if s["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}]
    assert root["Action"] == "kms:*"  # the account administers the key, and IAM policies may grant its use


@pytest.mark.parametrize("action", ["kms:GenerateDataKey", "kms:Decrypt"])
def test_the_execution_role_uses_exactly_the_alerts_key_through_sns(action: str) -> None:
    via_sns = _context(**{"kms:ViaService": f"sns.{REGION}.amazonaws.com"})
    decision = decide(ROLE, action, KEY_ARN, via_sns, [_execution_policy()], [])
    assert decision.allowed and decision.statement == "EncryptFailureAlerts"
    assert not decide(ROLE, action, KEY_ARN.replace("1234abcd", "99999999"), via_sns, [_execution_policy()], []).allowed
    direct = _context(**{"kms:ViaService": None})
    assert not decide(ROLE, action, KEY_ARN, direct, [_execution_policy()], []).allowed
    # Described before the key exists, the statement names a stand-in that is no key.
    assert not decide(ROLE, action, KEY_ARN, via_sns, [_execution_policy(None)], []).allowed


def test_deploy_puts_the_key_arn_in_the_execution_role_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    [role] = [
        r
        for r in resources.stage_resources(_target(), NAMES, mwaa_role.default_environment(NAMES))
        if r.name == NAMES.mwaa_execution_role
    ]
    put: list[dict[str, Any]] = []
    monkeypatch.setattr(resources.iam, "ensure_role", lambda t, n, s, policy, tags, apply: put.append(policy))
    role.ensure(_target(), {keys.alias_name(NAMES.alerts_topic): KEY_ARN}, apply=True)
    [statement] = [s for s in put[0]["Statement"] if s["Sid"] == "EncryptFailureAlerts"]
    assert statement["Resource"] == KEY_ARN and keys.pending_arn(_target()) not in json.dumps(put[0])


def _topic(name: str, key: str) -> str:
    return sns_backends[ACCOUNT][REGION].create_topic(name, attributes={"KmsMasterKeyId": key}).arn


def _stage_key() -> str:
    """A customer-managed key with the stage's policy, under its alias; returns the alias."""
    backend = kms_backends[ACCOUNT][REGION]
    alias = keys.alias_name(NAMES.alerts_topic)
    if not backend.alias_exists(alias):
        key = backend.create_key(json.dumps(_key_policy()), "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "alerts", None)
        backend.create_alias(key.id, alias)
    return alias


def _as_cloudwatch(topic: str) -> sns_kms.Refusal | None:
    context = _context(**{"aws:SourceArn": ALARM, "aws:SourceAccount": ACCOUNT, "aws:PrincipalIsAWSService": "true"})
    return sns_kms.publish_refusal(CLOUDWATCH, [], topic, context)


def _as_role(topic: str, identity: list[Policy]) -> sns_kms.Refusal | None:
    return sns_kms.publish_refusal(ROLE, identity, topic, _context(**{"aws:PrincipalArn": ROLE.role_arn}))


def test_the_aws_managed_key_refuses_cloudwatch_but_admits_the_account() -> None:
    topic = _topic("managed-alerts", "alias/aws/sns")
    refusal = _as_cloudwatch(topic)
    assert refusal is not None and refusal.code == "KMSAccessDenied" and refusal.action == "kms:GenerateDataKey"
    assert "cloudwatch.amazonaws.com is not authorized to perform: kms:GenerateDataKey" in refusal.message
    assert _as_role(topic, []) is None  # any principal of the account, through SNS


def test_the_stage_key_admits_cloudwatch_and_the_roles_iam_grants() -> None:
    topic = _topic("stage-alerts", _stage_key())
    assert _as_cloudwatch(topic) is None
    refusal = _as_role(topic, [Policy("publish only", {"Statement": [_statement("sns:Publish", topic)]})])
    assert refusal is not None and refusal.code == "KMSAccessDenied", refusal
    assert "because no identity-based policy allows the kms:GenerateDataKey action" in refusal.message
    key_arn = kms_backends[ACCOUNT][REGION].describe_key(_stage_key()).arn
    assert _as_role(topic, [_execution_policy(key_arn)]) is None
    assert _as_role(_topic("plain-alerts", ""), []) is None  # not encrypted: nothing for KMS to decide


def test_without_the_account_in_the_key_policy_iam_grants_count_for_nothing() -> None:
    backend = kms_backends[ACCOUNT][REGION]
    only_cloudwatch = {"Statement": [s for s in _key_policy()["Statement"] if "Service" in s["Principal"]]}
    key = backend.create_key(json.dumps(only_cloudwatch), "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "narrow", None)
    topic = _topic("narrow-alerts", key.arn)
    refusal = _as_role(topic, [Policy("admin", {"Statement": [_statement("*", "*")]})])
    assert refusal is not None and "the key policy does not let IAM policies grant it" in refusal.message


def test_a_key_pending_deletion_refuses_every_publisher() -> None:
    backend = kms_backends[ACCOUNT][REGION]
    key = backend.create_key(json.dumps(_key_policy()), "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "gone", None)
    backend.schedule_key_deletion(key.id, keys.DELETION_WINDOW_DAYS)
    refusal = _as_cloudwatch(_topic("orphan-alerts", key.arn))
    assert refusal is not None and refusal.code == "KMSInvalidState"


def _statement(action: str, resource: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}
