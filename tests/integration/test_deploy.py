"""Provisioning against the local AWS: idempotence, hardening, change detection, destroy."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time

import pytest

from employee_pipeline.config import pipeline_names
from employee_pipeline.layout import DATA_BUCKET_ENV
from infra import packaging
from infra.deploy import deploy, destroy, status
from infra.log_groups import GLUE_SHARED_GROUPS, LOG_RETENTION_DAYS
from infra.storage import NONCURRENT_VERSION_DAYS, lifecycle_rules
from infra.tagging import from_list
from local_aws import stats
from tests.support.mutations import mutations

pytestmark = pytest.mark.integration

RESOURCES = 26  # 21, 3 alarms, a dashboard and the alerts topic's KMS key


def _cli(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "infra", *args, "--json"], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_plan_on_a_deployed_stage_reports_no_change(local_aws: str, stage) -> None:
    before = stats.request_counts(local_aws)
    plan = _cli("deploy", "--plan", "--stage", "it", "--endpoint-url", local_aws)
    assert mutations(before, stats.request_counts(local_aws)) == {}
    assert plan["plan"] is True
    assert len(plan["actions"]) == RESOURCES
    assert {a["action"] for a in plan["actions"]} == {"unchanged"}
    assert all(a["changes"] == [] for a in plan["actions"])
    deployed = _cli("deploy", "--stage", "it", "--endpoint-url", local_aws)
    assert plan["outputs"] == deployed["outputs"]  # the ARNs a plan names are the ones deploy reports


def test_plan_on_a_new_stage_reports_everything_created_and_changes_nothing(local_aws: str, aws) -> None:
    names = pipeline_names("plannew")
    before = stats.request_counts(local_aws)
    command = ["deploy", "--plan", "--mwaa-execution-role", "--stage", "plannew", "--endpoint-url", local_aws]
    done = subprocess.run(
        [sys.executable, "-m", "infra", *command],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert mutations(before, stats.request_counts(local_aws)) == {}
    lines = done.stdout.strip().splitlines()
    planned = [line.split() for line in lines[1:-1]]
    assert len(planned) == RESOURCES + 1
    assert planned[-1] == ["create", "iam_role", "employee-pipeline-plannew-mwaa-execution"]
    planned = planned[:-1]
    # The account-wide Glue log groups exist already when an earlier stage created them.
    assert {p[0] for p in planned if p[2] not in GLUE_SHARED_GROUPS} == {"create"}
    creates = 1 + sum(p[0] == "create" for p in planned)  # and the MWAA role
    tally = {"create": creates, "unchanged": RESOURCES + 1 - creates}
    assert lines[-1] == f"{RESOURCES + 1} resources: " + ", ".join(f"{n} {k}" for k, n in tally.items() if n)
    assert not any(r["exists"] for r in status(aws, names))


def test_plan_names_a_hand_made_change_and_deploy_repairs_it(aws) -> None:
    names = pipeline_names("drift")
    deploy(aws, names)
    functions = aws.client("lambda")
    functions.update_function_configuration(FunctionName=names.writer_function, Timeout=30)
    functions.get_waiter("function_updated_v2").wait(FunctionName=names.writer_function)
    aws.client("dynamodb").untag_resource(ResourceArn=aws.arn("dynamodb", f"table/{names.table}"), TagKeys=["stage"])
    aws.client("s3").put_bucket_lifecycle_configuration(  # the xcom/ expiry removed
        Bucket=names.data_bucket, LifecycleConfiguration={"Rules": lifecycle_rules()}
    )
    drift = {names.writer_function: ["timeout"], names.table: ["tags"], names.data_bucket: ["lifecycle"]}

    plan = deploy(aws, names, apply=False)[0]
    assert {a.name: a.changes for a in plan if a.action != "unchanged"} == drift
    assert {a.action for a in plan if a.name in drift} == {"update"}
    assert deploy(aws, names, apply=False)[0] == plan  # the plan changed nothing

    applied = deploy(aws, names)[0]
    assert [(a.resource, a.name) for a in applied] == [(a.resource, a.name) for a in plan]
    assert {a.name: a.changes for a in applied if a.action == "updated"} == drift
    assert {a.action for a in deploy(aws, names, apply=False)[0]} == {"unchanged"}
    destroy(aws, names)


def test_plan_goes_with_deploy_only() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infra", "status", "--plan", "--stage", "x"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "python -m infra status: error: unrecognized arguments: --plan" in done.stderr


def test_second_deploy_reports_every_resource_unchanged(local_aws: str) -> None:
    first = _cli("deploy", "--stage", "twice", "--endpoint-url", local_aws)
    # The account-wide Glue log groups exist already when an earlier stage created them.
    assert {a["action"] for a in first["actions"] if a["name"] not in GLUE_SHARED_GROUPS} == {"created"}
    second = _cli("deploy", "--stage", "twice", "--endpoint-url", local_aws)
    assert [(a["resource"], a["name"]) for a in second["actions"]] == [
        (a["resource"], a["name"]) for a in first["actions"]
    ]
    assert {a["action"] for a in second["actions"]} == {"unchanged"}
    assert len(second["actions"]) == RESOURCES
    outputs = second["outputs"]
    assert outputs["generator_function_arn"].startswith("arn:aws:lambda:us-east-1:")
    assert outputs["table"] == "employee-pipeline-twice-employees"


def test_text_output_says_unchanged_per_resource(local_aws: str, stage) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infra", "deploy", "--stage", "it", "--endpoint-url", local_aws],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == f"{RESOURCES} resources: {RESOURCES} unchanged"
    assert sum(line.lstrip().startswith("unchanged") for line in lines) == RESOURCES


def test_buckets_are_hardened(aws, stage) -> None:
    s3 = aws.client("s3")
    for bucket in (stage.data_bucket, stage.artifacts_bucket):
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values())
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
        noncurrent = rules["expire-noncurrent-versions"]
        assert noncurrent["Filter"] == {"Prefix": ""} and noncurrent["Status"] == "Enabled"
        assert noncurrent["NoncurrentVersionExpiration"] == {"NoncurrentDays": NONCURRENT_VERSION_DAYS}
    xcom = s3.get_bucket_lifecycle_configuration(Bucket=stage.data_bucket)["Rules"]
    assert any(r["Filter"] == {"Prefix": "xcom/"} for r in xcom)  # the XCom expiry stays


def _tags(aws, names) -> dict[str, dict[str, str]]:
    """Every taggable resource of the stage -> its tags."""
    s3, iam, lam = aws.client("s3"), aws.client("iam"), aws.client("lambda")
    glue, ddb, sns, logs = aws.client("glue"), aws.client("dynamodb"), aws.client("sns"), aws.client("logs")

    found = {}
    for bucket in (names.data_bucket, names.artifacts_bucket):
        found[bucket] = from_list(s3.get_bucket_tagging(Bucket=bucket)["TagSet"])
    for role in (names.generator_role, names.writer_role, names.glue_role):
        found[role] = from_list(iam.list_role_tags(RoleName=role)["Tags"])
    for function in (names.generator_function, names.writer_function):
        arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
        found[f"function:{function}"] = lam.list_tags(Resource=arn)["Tags"]
        group = f"/aws/lambda/{function}"
        found[group] = logs.list_tags_for_resource(resourceArn=aws.arn("logs", f"log-group:{group}"))["tags"]
    found[names.glue_job] = glue.get_tags(ResourceArn=aws.arn("glue", f"job/{names.glue_job}"))["Tags"]
    for table in (names.table, names.lease_table):
        found[table] = from_list(ddb.list_tags_of_resource(ResourceArn=aws.arn("dynamodb", f"table/{table}"))["Tags"])
    topic = aws.arn("sns", names.alerts_topic)
    found[names.alerts_topic] = from_list(sns.list_tags_for_resource(ResourceArn=topic)["Tags"])
    return found


def test_every_taggable_resource_names_its_project_and_stage(aws, stage) -> None:
    tags = _tags(aws, stage)
    assert len(tags) == 13
    assert {name: t for name, t in tags.items() if t != {"project": stage.prefix, "stage": "it"}} == {}


def test_log_groups_exist_with_a_retention_and_the_roles_cannot_create_them(aws, stage) -> None:
    logs, iam = aws.client("logs"), aws.client("iam")
    groups = {g["logGroupName"]: g for g in logs.describe_log_groups()["logGroups"]}
    for group in (f"/aws/lambda/{stage.generator_function}", f"/aws/lambda/{stage.writer_function}"):
        assert groups[group]["retentionInDays"] == LOG_RETENTION_DAYS
    assert set(GLUE_SHARED_GROUPS) <= set(groups)
    for role in (stage.generator_role, stage.writer_role, stage.glue_role):
        policy = iam.get_role_policy(RoleName=role, PolicyName="pipeline-access")["PolicyDocument"]
        actions = [a for s in policy["Statement"] for a in s["Action"]]
        assert "logs:PutLogEvents" in actions and "logs:CreateLogGroup" not in actions
        (trust,) = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": aws.account_id}}


def test_the_emulated_lambda_logs_into_the_deployed_group(aws, stage) -> None:
    """The local Lambda executor finds the group deploy created and keeps its retention."""
    logs, group = aws.client("logs"), f"/aws/lambda/{stage.generator_function}"

    def streams() -> set[str]:
        pages = logs.get_paginator("describe_log_streams").paginate(logGroupName=group)
        return {stream["logStreamName"] for page in pages for stream in page["logStreams"]}

    before = streams()  # another test may have invoked the function already
    response = aws.client("lambda").invoke(
        FunctionName=stage.generator_function, Payload=json.dumps({"batch_id": "20260101T00", "shard": 0, "count": 1})
    )
    assert "FunctionError" not in response
    assert streams() - before, f"the invocation wrote no new stream in {group}"
    (described,) = [g for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]]
    assert described["retentionInDays"] == LOG_RETENTION_DAYS


def test_functions_run_as_their_own_roles(aws, stage) -> None:
    functions = aws.client("lambda")
    for function, role in (
        (stage.generator_function, stage.generator_role),
        (stage.writer_function, stage.writer_role),
    ):
        assert functions.get_function(FunctionName=function)["Configuration"]["Role"].endswith(f":role/{role}")


def test_deploy_adds_the_tags_a_resource_lacks(aws) -> None:
    names = pipeline_names("retag")
    deploy(aws, names)
    arn = aws.client("lambda").get_function(FunctionName=names.writer_function)["Configuration"]["FunctionArn"]
    aws.client("s3").delete_bucket_tagging(Bucket=names.data_bucket)
    aws.client("iam").untag_role(RoleName=names.glue_role, TagKeys=["stage"])
    aws.client("lambda").untag_resource(Resource=arn, TagKeys=["project", "stage"])
    aws.client("dynamodb").untag_resource(ResourceArn=aws.arn("dynamodb", f"table/{names.table}"), TagKeys=["stage"])
    aws.client("sns").untag_resource(ResourceArn=aws.arn("sns", names.alerts_topic), TagKeys=["project"])
    aws.client("glue").untag_resource(ResourceArn=aws.arn("glue", f"job/{names.glue_job}"), TagsToRemove=["stage"])
    group = f"/aws/lambda/{names.generator_function}"
    aws.client("logs").untag_resource(resourceArn=aws.arn("logs", f"log-group:{group}"), tagKeys=["stage"])
    actions = deploy(aws, names)[0]
    updated = {a.name: a.changes for a in actions if a.action == "updated"}
    assert updated == {
        name: ["tags"]
        for name in (
            names.data_bucket,
            names.glue_role,
            names.writer_function,
            names.table,
            names.alerts_topic,
            names.glue_job,
            group,
        )
    }
    assert all(t == {"project": names.prefix, "stage": "retag"} for t in _tags(aws, names).values())
    assert {a.action for a in deploy(aws, names)[0]} == {"unchanged"}
    destroy(aws, names)


def test_table_and_job_are_configured(aws, stage) -> None:
    ddb = aws.client("dynamodb")
    table = ddb.describe_table(TableName=stage.table)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "emp_id", "KeyType": "HASH"}]
    assert table["GlobalSecondaryIndexes"][0]["KeySchema"][0] == {"AttributeName": "batch_shard", "KeyType": "HASH"}
    backups = ddb.describe_continuous_backups(TableName=stage.table)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    job = aws.client("glue").get_job(JobName=stage.glue_job)["Job"]
    assert (job["GlueVersion"], job["Command"]["Name"], job["ExecutionProperty"]) == (
        "5.0",
        "glueetl",
        {"MaxConcurrentRuns": 3},
    )
    functions = aws.client("lambda")
    generator = functions.get_function(FunctionName=stage.generator_function)["Configuration"]
    assert generator["Runtime"] == "python3.12" and len(generator["Layers"]) == 1
    assert not generator.get("Environment", {}).get("Variables")  # the generator reads no bucket
    writer = functions.get_function(FunctionName=stage.writer_function)["Configuration"]
    assert writer["Environment"]["Variables"] == {DATA_BUCKET_ENV: stage.data_bucket}


def test_the_lease_table_keeps_its_items_for_good(aws) -> None:
    """The lease item holds the batch's record of loads: no TTL may expire it, one an earlier version
    enabled included."""
    names = pipeline_names("leasettl")
    deploy(aws, names)
    ddb = aws.client("dynamodb")

    def ttl() -> str:
        return ddb.describe_time_to_live(TableName=names.lease_table)["TimeToLiveDescription"]["TimeToLiveStatus"]

    try:
        assert ttl() == "DISABLED"
        ddb.update_time_to_live(
            TableName=names.lease_table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )
        actions = {(a.resource, a.name): a for a in deploy(aws, names)[0]}
        assert actions[("dynamodb_table", names.lease_table)].changes == ["ttl off"]
        assert ttl() == "DISABLED"
    finally:
        destroy(aws, names)


def test_changed_code_and_script_are_updated(aws, monkeypatch: pytest.MonkeyPatch) -> None:
    names = pipeline_names("changes")
    deploy(aws, names)
    original_zip, original_script = packaging.lambda_zip, packaging.glue_script

    def edited_zip(function: str) -> packaging.Artifact:
        artifact = original_zip(function)
        if function != "writer":
            return artifact
        return dataclasses.replace(artifact, body=packaging.deterministic_zip({"writer/handler.py": b"# edited\n"}))

    monkeypatch.setattr(packaging, "lambda_zip", edited_zip)
    monkeypatch.setattr(
        packaging, "glue_script", lambda: dataclasses.replace(original_script(), body=b"# edited script\n")
    )
    changed = {(a.resource, a.name): a for a in deploy(aws, names)[0]}
    assert changed[("lambda_function", names.writer_function)].changes == ["code"]
    assert changed[("lambda_function", names.generator_function)].action == "unchanged"
    assert changed[("s3_artifact", f"s3://{names.artifacts_bucket}/glue/ingest_employees.py")].action == "updated"
    assert changed[("glue_job", names.glue_job)].action == "unchanged"  # same script location
    assert sum(a.action == "updated" for a in changed.values()) == 3  # glue script, writer zip, writer function


def test_a_changed_glue_package_is_uploaded_and_the_job_keeps_pointing_at_it(
    aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = pipeline_names("gluezip")
    deploy(aws, names)
    package = f"s3://{names.artifacts_bucket}/glue/employee_ingest.zip"
    job = aws.client("glue").get_job(JobName=names.glue_job)["Job"]
    assert job["DefaultArguments"]["--extra-py-files"] == package
    deployed = aws.client("s3").get_object(Bucket=names.artifacts_bucket, Key="glue/employee_ingest.zip")
    assert deployed["Body"].read() == packaging.glue_package_zip().body
    edited = packaging.deterministic_zip({"employee_ingest/__init__.py": b"# edited\n"})
    monkeypatch.setattr(packaging, "glue_package_zip", lambda: packaging.Artifact("employee_ingest.zip", edited))
    try:
        changed = {(a.resource, a.name): a for a in deploy(aws, names)[0]}
        assert changed[("s3_artifact", package)].action == "updated"
        assert changed[("glue_job", names.glue_job)].action == "unchanged"  # same --extra-py-files location
        assert sum(a.action == "updated" for a in changed.values()) == 1
    finally:
        destroy(aws, names)


def test_destroy_removes_everything_including_full_buckets(aws) -> None:
    names = pipeline_names("gone")
    made = deploy(aws, names, mwaa=("gone-environment", "airflow-gone"))[0]  # the execution role goes too
    s3 = aws.client("s3")
    for version in range(3):
        s3.put_object(Bucket=names.data_bucket, Key="raw/x.jsonl", Body=f"{version}\n".encode())
    s3.delete_object(Bucket=names.data_bucket, Key="raw/x.jsonl")  # leaves a delete marker
    actions = destroy(aws, names)
    made_keys = {(a.resource, a.name) for a in made}
    assert {a.action for a in actions if (a.resource, a.name) in made_keys} == {"deleted"}
    # What deploy --mwaa would have made (environment, network, source bucket) is looked for, and absent.
    assert {a.action for a in actions if (a.resource, a.name) not in made_keys} == {"absent"}
    assert ("log_group", f"/aws/lambda/{names.generator_function}") in {(a.resource, a.name) for a in actions}
    assert not any(r["exists"] for r in status(aws, names))
    assert {a.action for a in destroy(aws, names)} == {"absent"}
    # Every Glue job of the account logs there: destroy leaves them.
    remaining = {g["logGroupName"] for g in aws.client("logs").describe_log_groups()["logGroups"]}
    assert set(GLUE_SHARED_GROUPS) <= remaining


@pytest.mark.parametrize(
    "command",
    [["deploy", "--stage", "x"], ["mwaa", "publish", "--environment", "e", "--stage", "x"]],
    ids=["deploy", "mwaa-publish"],
)
def test_unreachable_endpoint_is_a_clear_error_at_once(command: list[str]) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "infra", *command, "--endpoint-url", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "cannot reach http://127.0.0.1:9" in done.stderr
    assert time.monotonic() - started < 10  # not after botocore's retries of a refused connection
