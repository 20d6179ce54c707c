"""IAM bites in the local AWS: each generated role is refused what it must never do, as AWS refuses it.

Each role's session comes from the emulator's container-credentials endpoint, which assumes the role
as the service that runs the component on AWS (the trust policy is checked there too).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from employee_pipeline import layout
from employee_pipeline.config import PipelineNames
from local_aws import server, stats
from local_aws.iam_gate import CREDENTIALS_PATH
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

BATCH = "20260101T00"
DENIED = ("AccessDenied", "AccessDeniedException", "AuthorizationError")


def role_session(endpoint: str, service: str, role: str) -> boto3.session.Session:
    with urllib.request.urlopen(f"{endpoint}{CREDENTIALS_PATH}{service}/{role}", timeout=10) as response:
        credentials = json.load(response)
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["Token"],
        region_name="us-east-1",
    )


def refused(call: Callable[[], Any], action: str, resource: str, role: str) -> None:
    """``call`` is refused with AWS's error, naming the role's session, the action and the resource."""
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert error["Code"] in DENIED, error
    assert f"assumed-role/{role}/" in error["Message"], error["Message"]
    assert f"not authorized to perform: {action} on resource: {resource} " in error["Message"], error["Message"]


@pytest.fixture
def as_role(local_aws: str) -> Callable[[str, str, str], Any]:
    def client(service: str, role: str, aws_service: str) -> Any:
        return role_session(local_aws, service, role).client(aws_service, endpoint_url=local_aws)

    return client


def _arn(aws, service: str, resource: str) -> str:
    return f"arn:aws:{service}:us-east-1:{aws.account_id}:{resource}"


def test_the_glue_role_cannot_drop_the_table_or_write_outside_its_prefixes(aws, stage: PipelineNames, as_role) -> None:
    glue_role = stage.glue_role
    dynamodb = as_role("glue.amazonaws.com", glue_role, "dynamodb")
    refused(
        lambda: dynamodb.delete_table(TableName=stage.table),
        "dynamodb:DeleteTable",
        _arn(aws, "dynamodb", f"table/{stage.table}"),
        glue_role,
    )
    s3 = as_role("glue.amazonaws.com", glue_role, "s3")
    for key in (layout.raw_key(BATCH, 0), f"{layout.XCOM_PREFIX}/x", "elsewhere/x"):
        refused(
            lambda key=key: s3.put_object(Bucket=stage.data_bucket, Key=key, Body=b"x"),
            "s3:PutObject",
            f"arn:aws:s3:::{stage.data_bucket}/{key}",
            glue_role,
        )
    # What it is for still works: the manifest prefix.
    s3.put_object(Bucket=stage.data_bucket, Key=layout.manifest_key(BATCH), Body=b"{}")


def test_the_writer_role_writes_shards_only(aws, stage: PipelineNames, as_role) -> None:
    role = stage.writer_role
    s3 = as_role("lambda.amazonaws.com", role, "s3")
    s3.put_object(Bucket=stage.data_bucket, Key=layout.raw_key(BATCH, 1), Body=b"{}\n")
    key = layout.manifest_key(BATCH)
    refused(
        lambda: s3.put_object(Bucket=stage.data_bucket, Key=key, Body=b"{}"),
        "s3:PutObject",
        f"arn:aws:s3:::{stage.data_bucket}/{key}",
        role,
    )
    dynamodb = as_role("lambda.amazonaws.com", role, "dynamodb")
    refused(
        lambda: dynamodb.put_item(TableName=stage.table, Item={"emp_id": {"S": "x"}}),
        "dynamodb:PutItem",
        _arn(aws, "dynamodb", f"table/{stage.table}"),
        role,
    )
    glue = as_role("lambda.amazonaws.com", role, "glue")
    refused(
        lambda: glue.start_job_run(JobName=stage.glue_job),
        "glue:StartJobRun",
        _arn(aws, "glue", f"job/{stage.glue_job}"),
        role,
    )


def test_the_generator_role_calls_no_service(aws, stage: PipelineNames, as_role) -> None:
    role = stage.generator_role
    s3 = as_role("lambda.amazonaws.com", role, "s3")
    refused(lambda: s3.list_buckets(), "s3:ListAllMyBuckets", "*", role)
    refused(
        lambda: s3.get_object(Bucket=stage.data_bucket, Key=layout.raw_key(BATCH, 1)),
        "s3:GetObject",
        f"arn:aws:s3:::{stage.data_bucket}/{layout.raw_key(BATCH, 1)}",
        role,
    )
    sns = as_role("lambda.amazonaws.com", role, "sns")
    topic = _arn(aws, "sns", stage.alerts_topic)
    refused(lambda: sns.publish(TopicArn=topic, Message="x"), "sns:Publish", topic, role)


def test_the_mwaa_role_cannot_change_iam_functions_buckets_or_employee_items(
    aws, stage: PipelineNames, as_role
) -> None:
    role = stage.mwaa_execution_role
    iam = as_role("airflow-env.amazonaws.com", role, "iam")
    refused(
        lambda: iam.create_user(UserName="intruder"),
        "iam:CreateUser",
        f"arn:aws:iam::{aws.account_id}:user/intruder",
        role,
    )
    lambda_client = as_role("airflow-env.amazonaws.com", role, "lambda")
    refused(
        lambda: lambda_client.delete_function(FunctionName=stage.generator_function),
        "lambda:DeleteFunction",
        _arn(aws, "lambda", f"function:{stage.generator_function}"),
        role,
    )
    s3 = as_role("airflow-env.amazonaws.com", role, "s3")
    refused(
        lambda: s3.delete_bucket(Bucket=stage.data_bucket), "s3:DeleteBucket", f"arn:aws:s3:::{stage.data_bucket}", role
    )
    dynamodb = as_role("airflow-env.amazonaws.com", role, "dynamodb")
    refused(
        lambda: dynamodb.batch_write_item(
            RequestItems={stage.table: [{"PutRequest": {"Item": {"emp_id": {"S": "x"}}}}]}
        ),
        "dynamodb:BatchWriteItem",
        _arn(aws, "dynamodb", f"table/{stage.table}"),
        role,
    )
    # It may invoke the pipeline's functions.
    response = lambda_client.invoke(FunctionName=stage.generator_function, Payload=b"{}")
    assert response["StatusCode"] == 200


def test_a_role_is_assumed_only_by_the_service_its_trust_policy_names(local_aws: str, stage: PipelineNames) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        role_session(local_aws, "glue.amazonaws.com", stage.writer_role)
    body = json.load(caught.value)
    assert caught.value.code == 403
    assert body["code"] == "AccessDenied"
    assert "glue.amazonaws.com is not authorized to perform: sts:AssumeRole" in body["message"]


def test_the_administrator_cannot_assume_a_service_role_and_unknown_sessions_are_refused(aws, stage) -> None:
    with pytest.raises(ClientError, match="AccessDenied") as caught:
        aws.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{aws.account_id}:role/{stage.glue_role}", RoleSessionName="admin"
        )
    assert "because the role's trust policy does not allow it" in str(caught.value)
    forged = boto3.client(
        "s3",
        endpoint_url=aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="ASIAFORGEDFORGEDFORG",
        aws_secret_access_key="x",
        aws_session_token="forged",
    )
    with pytest.raises(ClientError, match="InvalidClientTokenId"):
        forged.list_objects_v2(Bucket=stage.data_bucket)


def test_the_audit_names_who_was_refused_what_and_why(local_aws: str, stage, as_role) -> None:
    s3 = as_role("lambda.amazonaws.com", stage.generator_role, "s3")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=stage.data_bucket, Key="audit/probe")
    audit = stats.iam_audit(local_aws)
    assert audit["enforced"] is True
    (entry,) = [c for c in audit["calls"] if c["resource"] == f"arn:aws:s3:::{stage.data_bucket}/audit/probe"]
    assert entry["role"].endswith(f":role/{stage.generator_role}")
    assert (entry["operation"], entry["action"], entry["allowed"]) == ("HeadObject", "s3:GetObject", False)
    assert entry["reason"] == "because no identity-based policy allows the s3:GetObject action"
    allowed = [c for c in audit["calls"] if c["allowed"] and c["role"] and c["role"].endswith(stage.writer_role)]
    assert {(c["action"], c["statement"]) for c in allowed} >= {("s3:PutObject", "WriteShards")}


def test_enforcement_can_be_switched_off_for_debugging() -> None:
    """LOCAL_AWS_IAM=off: the same refused call goes through, and the audit still says it would be refused."""
    port = free_port()
    code = (
        "import boto3, json, sys\n"
        "from local_aws import server, stats\n"
        "from local_aws.iam_gate import CREDENTIALS_PATH\n"
        "import urllib.request\n"
        f"port = {port}\n"
        "server.start(port=port)\n"
        "url = server.endpoint_url(port=port)\n"
        "try:\n"
        "    admin = boto3.client('iam', endpoint_url=url, region_name='us-east-1')\n"
        "    trust = {'Statement': [{'Effect': 'Allow', 'Principal': {'Service': 'lambda.amazonaws.com'},"
        " 'Action': 'sts:AssumeRole'}]}\n"
        "    admin.create_role(RoleName='bare', AssumeRolePolicyDocument=json.dumps(trust))\n"
        "    c = json.load(urllib.request.urlopen(url + CREDENTIALS_PATH + 'lambda.amazonaws.com/bare'))\n"
        "    s3 = boto3.client('s3', endpoint_url=url, region_name='us-east-1', aws_access_key_id=c['AccessKeyId'],"
        " aws_secret_access_key=c['SecretAccessKey'], aws_session_token=c['Token'])\n"
        "    s3.create_bucket(Bucket='made-by-a-bare-role')\n"
        "    audit = stats.iam_audit(url)\n"
        "    print(json.dumps({'enforced': audit['enforced'], 'refusals': stats.refusals(audit)}))\n"
        "finally:\n"
        "    server.stop(port)\n"
    )
    env = {**os.environ, "LOCAL_AWS_IAM": "off"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, cwd=server.ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["enforced"] is False
    assert any("s3:CreateBucket on arn:aws:s3:::made-by-a-bare-role" in line for line in result["refusals"])
