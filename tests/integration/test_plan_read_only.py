"""deploy --plan cannot change AWS: it walks with clients that refuse every operation that is not a read."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from employee_pipeline.config import PipelineNames, pipeline_names
from infra import log_groups, mwaa_role, notifications, storage
from infra.deploy import deploy, destroy, status
from infra.iam import INLINE_POLICY, trust_policy
from infra.log_groups import GLUE_SHARED_GROUPS
from infra.resources import GLUE_SCRIPT_KEY
from infra.session import WriteRefused, is_read
from local_aws import stats

pytestmark = pytest.mark.integration

DENY_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}


def _served(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, int]:
    """``service:Operation`` -> requests the local AWS served between two snapshots of its counts."""
    return {
        f"{service}:{operation}": count - before.get(service, {}).get(operation, 0)
        for service, operations in after.items()
        for operation, count in operations.items()
        if count != before.get(service, {}).get(operation, 0)
    }


def _writes(served: dict[str, int]) -> dict[str, int]:
    return {call: n for call, n in served.items() if not is_read(*call.split(":"))}


def _plan(aws, local_aws: str, names: PipelineNames) -> tuple[list, dict[str, int]]:
    before = stats.request_counts(local_aws)
    actions, _ = deploy(aws, names, apply=False, mwaa=mwaa_role.default_environment(names))
    return actions, _served(before, stats.request_counts(local_aws))


def test_a_plan_of_a_new_stage_sends_only_reads(aws, local_aws: str) -> None:
    names = pipeline_names("readonlynew")
    actions, served = _plan(aws, local_aws, names)
    assert served and _writes(served) == {}
    # The account-wide Glue log groups exist already when an earlier stage created them.
    assert {a.action for a in actions if a.name not in GLUE_SHARED_GROUPS} == {"create"}
    assert not any(r["exists"] for r in status(aws, names))


def test_a_plan_of_a_deployed_stage_sends_only_reads(aws, local_aws: str, stage: PipelineNames) -> None:
    actions, served = _plan(aws, local_aws, stage)
    assert served and _writes(served) == {}
    assert {a.action for a in actions} == {"unchanged"}


def test_a_forgotten_guard_fails_the_plan_and_changes_nothing(
    aws, local_aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bucket's ensure that ignores ``apply`` (as a missing ``if apply:`` would): its first write is
    refused before it is sent, the plan fails, and AWS is as it was."""
    names = pipeline_names("readonlyguard")
    unguarded = storage.ensure_bucket
    monkeypatch.setattr(
        storage,
        "ensure_bucket",
        lambda target, bucket, expire=None, *, tags=None, apply=True: unguarded(
            target, bucket, expire, tags=tags, apply=True
        ),
    )
    before = stats.request_counts(local_aws)
    with pytest.raises(WriteRefused, match=r"s3:CreateBucket refused: a plan \(deploy --plan\) must not change AWS"):
        deploy(aws, names, apply=False)
    assert _writes(_served(before, stats.request_counts(local_aws))) == {}
    assert not any(r["exists"] for r in status(aws, names))
    assert not aws.read_only  # the plan's reader is its own: the target deploy writes with is unchanged


def _zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("drift.py", text)
    return buffer.getvalue()


def _drift(aws, names: PipelineNames) -> dict[str, list[str]]:
    """A change by hand to every setting a plan compares; what the plan should name, by resource."""
    s3, iam, functions, logs = aws.client("s3"), aws.client("iam"), aws.client("lambda"), aws.client("logs")
    bucket = names.data_bucket
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_bucket_encryption(Bucket=bucket)
    s3.delete_bucket_policy(Bucket=bucket)
    s3.delete_bucket_lifecycle(Bucket=bucket)
    s3.delete_bucket_tagging(Bucket=bucket)
    script = f"s3://{names.artifacts_bucket}/{GLUE_SCRIPT_KEY}"
    s3.put_object(Bucket=names.artifacts_bucket, Key=GLUE_SCRIPT_KEY, Body=b"# by hand\n", Metadata={"sha256": "0"})
    role = names.generator_role
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust_policy(aws, "glue.amazonaws.com")))
    iam.untag_role(RoleName=role, TagKeys=["stage"])
    iam.put_role_policy(RoleName=role, PolicyName=INLINE_POLICY, PolicyDocument=json.dumps(DENY_ALL))
    group = log_groups.lambda_group(names.generator_function)
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    logs.untag_resource(resourceArn=aws.arn("logs", f"log-group:{group}"), tagKeys=["stage"])
    functions.publish_layer_version(LayerName=names.faker_layer, Content={"ZipFile": _zip("layer = 1\n")})
    function = names.generator_function
    functions.update_function_code(FunctionName=function, ZipFile=_zip("def handler(event, context): ...\n"))
    functions.get_waiter("function_updated_v2").wait(FunctionName=function)
    functions.update_function_configuration(FunctionName=function, Timeout=3)
    functions.get_waiter("function_updated_v2").wait(FunctionName=function)
    functions.untag_resource(Resource=aws.arn("lambda", f"function:{function}"), TagKeys=["stage"])
    glue, job = aws.client("glue"), names.glue_job
    definition = glue.get_job(JobName=job)["Job"]
    update = {k: definition[k] for k in ("Role", "Command", "GlueVersion", "WorkerType", "DefaultArguments")}
    glue.update_job(JobName=job, JobUpdate={**update, "NumberOfWorkers": 10})
    glue.untag_resource(ResourceArn=aws.arn("glue", f"job/{job}"), TagsToRemove=["stage"])
    dynamodb = aws.client("dynamodb")
    for table in (names.table, names.lease_table):
        dynamodb.untag_resource(ResourceArn=aws.arn("dynamodb", f"table/{table}"), TagKeys=["stage"])
    dynamodb.update_table(TableName=names.table, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": names.gsi}}])
    dynamodb.update_table(
        TableName=names.table,
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )
    dynamodb.update_continuous_backups(
        TableName=names.table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )
    dynamodb.update_time_to_live(
        TableName=names.lease_table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    sns, topic = aws.client("sns"), notifications.topic_arn(aws, names.alerts_topic)
    sns.set_topic_attributes(TopicArn=topic, AttributeName="DisplayName", AttributeValue="by hand")
    sns.untag_resource(ResourceArn=topic, TagKeys=["stage"])
    return {
        bucket: ["public access block", "versioning", "encryption", "tls-only policy", "lifecycle", "tags"],
        script: ["content"],
        role: ["trust policy", "tags", "permissions"],
        group: ["tags", "retention"],
        names.faker_layer: ["new version"],
        function: ["tags", "code", "timeout", "layers"],  # the layer's next version
        job: ["numberofworkers", "tags"],
        names.table: ["tags", "on-demand billing", "gsi", "point-in-time recovery"],
        names.lease_table: ["tags", "ttl off"],
        names.alerts_topic: ["DisplayName", "tags"],
    }


def test_a_plan_that_finds_every_kind_of_change_sends_only_reads(aws, local_aws: str) -> None:
    """Each write a plan skips sits on a path this plan walks: a write that were not skipped would fail it."""
    names = pipeline_names("readonlydrift")
    deploy(aws, names, mwaa=mwaa_role.default_environment(names))
    try:
        drift = _drift(aws, names)
        actions, served = _plan(aws, local_aws, names)
        assert _writes(served) == {}
        assert {a.name: a.changes for a in actions if a.action != "unchanged"} == drift
        assert {a.action for a in actions if a.name in drift} == {"update"}
        applied = deploy(aws, names, mwaa=mwaa_role.default_environment(names))[0]  # deploy names the same
        assert {a.name: a.changes for a in applied if a.action != "unchanged"} == drift
    finally:
        destroy(aws, names)
