"""Provisioning against the local AWS: idempotence, hardening, change detection, destroy."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from employee_pipeline.config import pipeline_names
from infra import packaging
from infra.deploy import deploy, destroy, status

pytestmark = pytest.mark.integration


def _cli(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "infra", *args, "--json"], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_second_deploy_reports_every_resource_unchanged(local_aws: str) -> None:
    first = _cli("deploy", "--stage", "twice", "--endpoint-url", local_aws)
    assert {a["action"] for a in first["actions"]} == {"created"}
    second = _cli("deploy", "--stage", "twice", "--endpoint-url", local_aws)
    assert [(a["resource"], a["name"]) for a in second["actions"]] == [
        (a["resource"], a["name"]) for a in first["actions"]
    ]
    assert {a["action"] for a in second["actions"]} == {"unchanged"}
    assert len(second["actions"]) == 15
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
    assert lines[-1] == "15 resources: 15 unchanged"
    assert sum(line.lstrip().startswith("unchanged") for line in lines) == 15


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
    writer = functions.get_function(FunctionName=stage.writer_function)["Configuration"]
    assert writer["Environment"]["Variables"]["DATA_BUCKET"] == stage.data_bucket


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


def test_destroy_removes_everything_including_full_buckets(aws) -> None:
    names = pipeline_names("gone")
    deploy(aws, names)
    s3 = aws.client("s3")
    for version in range(3):
        s3.put_object(Bucket=names.data_bucket, Key="raw/x.jsonl", Body=f"{version}\n".encode())
    s3.delete_object(Bucket=names.data_bucket, Key="raw/x.jsonl")  # leaves a delete marker
    actions = destroy(aws, names)
    assert {a.action for a in actions} == {"deleted"}
    assert not any(r["exists"] for r in status(aws, names))
    assert {a.action for a in destroy(aws, names)} == {"absent"}


def test_unreachable_endpoint_is_a_clear_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infra", "deploy", "--stage", "x", "--endpoint-url", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "cannot reach" in done.stderr and "local AWS running" in done.stderr
