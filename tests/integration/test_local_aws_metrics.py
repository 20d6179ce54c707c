"""The local AWS's own figures for benchmarks: request counts, Glue runs' and Lambda invocations' time and memory,
and Query on an index answered from the queried partition, through the real emulator."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from employee_pipeline.config import GSI_NAME
from infra import packaging
from infra.iam import ensure_role
from infra.table import ensure_table
from local_aws import stats
from tests.support.glue import finished_run

pytestmark = pytest.mark.integration

BUCKET = "it-local-aws-metrics"
TABLE = "it-metrics-employees"
MB = 2**20
# Allocates, then runs a child that allocates more: the run's process tree, as Spark's JVM and workers are.
GLUE_SCRIPT = b"""
import subprocess, sys, time, boto3
mine = bytearray(30 * 2**20)
boto3.client("s3").list_objects_v2(Bucket="it-local-aws-metrics")
child = "import time; block = bytearray(100 * 2**20); time.sleep(2)"
subprocess.run([sys.executable, "-c", child], check=True)
"""
LAMBDA_HANDLER = b"""
import boto3

def handler(event, context):
    block = bytearray(60 * 2**20)
    if event.get("fail"):
        raise ValueError("asked to fail")
    boto3.client("s3").put_object(Bucket="it-local-aws-metrics", Key=event["key"], Body=b"x")
    return len(block)
"""


@pytest.fixture(scope="module")
def bucket(aws) -> str:
    aws.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


def _only(counts: dict[str, dict[str, int]], expected: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """``counts`` of the operations ``expected`` names (other tests' requests may share the emulator)."""
    return {service: {op: counts.get(service, {}).get(op, 0) for op in ops} for service, ops in expected.items()}


def test_requests_are_counted_per_service_and_operation(aws, local_aws, bucket) -> None:
    s3, dynamodb = aws.client("s3"), aws.client("dynamodb")
    stats.request_counts(local_aws, reset=True)

    s3.put_object(Bucket=bucket, Key="counted/a.jsonl", Body=b"{}\n")
    s3.put_object(Bucket=bucket, Key="counted/b.jsonl", Body=b"{}\n")
    s3.get_object(Bucket=bucket, Key="counted/a.jsonl")
    s3.head_object(Bucket=bucket, Key="counted/a.jsonl")
    s3.copy_object(Bucket=bucket, Key="counted/c.jsonl", CopySource={"Bucket": bucket, "Key": "counted/a.jsonl"})
    s3.list_objects_v2(Bucket=bucket, Prefix="counted/")
    s3.list_objects(Bucket=bucket, Prefix="counted/")
    s3.head_bucket(Bucket=bucket)
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "counted/b.jsonl"}, {"Key": "counted/c.jsonl"}]})
    s3.delete_object(Bucket=bucket, Key="counted/a.jsonl")
    dynamodb.list_tables()
    aws.client("sts").get_caller_identity()
    aws.client("sns").list_topics()
    aws.client("glue").get_jobs()
    aws.client("lambda").list_functions()

    expected = {
        "s3": {
            "PutObject": 2,
            "GetObject": 1,
            "HeadObject": 1,
            "CopyObject": 1,
            "ListObjectsV2": 1,
            "ListObjects": 1,
            "HeadBucket": 1,
            "DeleteObjects": 1,
            "DeleteObject": 1,
        },
        "dynamodb": {"ListTables": 1},
        "sts": {"GetCallerIdentity": 1},
        "sns": {"ListTopics": 1},
        "glue": {"GetJobs": 1},
        "lambda": {"ListFunctions": 1},
    }
    counts = stats.request_counts(local_aws)
    assert _only(counts, expected) == expected
    # Reading the counts is not an AWS request; DELETE hands back the counts it resets.
    assert stats.request_counts(local_aws, reset=True) == counts
    assert _only(stats.request_counts(local_aws), expected) == _only({}, expected)


def test_local_paths_are_answered_before_s3_routing(local_aws) -> None:
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{local_aws}/_local/no-such-figure", timeout=10)
    assert missing.value.code == 404
    assert "/_local/requests" in json.loads(missing.value.read())["endpoints"]
    request = urllib.request.Request(f"{local_aws}/_local/requests", method="PUT", data=b"x")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405


def test_glue_runs_record_state_wall_time_and_peak_memory_of_the_tree(aws, local_aws, bucket) -> None:
    s3, glue = aws.client("s3"), aws.client("glue")
    s3.put_object(Bucket=bucket, Key="scripts/tree.py", Body=GLUE_SCRIPT)
    s3.put_object(Bucket=bucket, Key="scripts/fails.py", Body=b"raise RuntimeError('no')\n")
    # The job's role reads its scripts (the executor fetches them with it) and lists the bucket (the script).
    read = [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/scripts/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
    ]
    _, role = ensure_role(aws, "it-metrics", "glue.amazonaws.com", {"Version": "2012-10-17", "Statement": read})
    for name, script in (("it-metrics-tree", "tree.py"), ("it-metrics-fails", "fails.py")):
        glue.create_job(
            Name=name,
            Role=role,
            Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/scripts/{script}"},
        )
    stats.request_counts(local_aws, reset=True)

    run_id = glue.start_job_run(JobName="it-metrics-tree")["JobRunId"]
    running = [run for run in stats.glue_runs(local_aws) if run["run_id"] == run_id]
    assert [(run["job_name"], run["state"], run["ended"]) for run in running] == [("it-metrics-tree", "RUNNING", None)]
    assert finished_run(glue, "it-metrics-tree", run_id)["JobRunState"] == "SUCCEEDED"
    failed_id = glue.start_job_run(JobName="it-metrics-fails")["JobRunId"]
    assert finished_run(glue, "it-metrics-fails", failed_id)["JobRunState"] == "FAILED"
    time.sleep(0.5)  # the executor records the end just after the state

    runs = {run["run_id"]: run for run in stats.glue_runs(local_aws)}
    tree = runs[run_id]
    assert tree["state"] == "SUCCEEDED" and tree["started"] < tree["ended"]
    assert 2 <= tree["wall_s"] < 120
    assert tree["peak_process_rss_bytes"] >= 100 * MB  # the child
    assert tree["peak_tree_rss_bytes"] >= 130 * MB  # the child and the driver, at once
    assert runs[failed_id]["state"] == "FAILED"
    # The executor fetched each script; the driver's own call reached the emulator too.
    assert _only(stats.request_counts(local_aws), {"s3": {"GetObject": 0, "ListObjectsV2": 0}}) == {
        "s3": {"GetObject": 2, "ListObjectsV2": 1}
    }


def test_lambda_invocations_are_summarized_per_function(aws, local_aws, bucket) -> None:
    lambda_ = aws.client("lambda")
    write = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/lambda/*"}
    _, role = ensure_role(
        aws, "it-metrics-lambda", "lambda.amazonaws.com", {"Version": "2012-10-17", "Statement": [write]}
    )
    lambda_.create_function(
        FunctionName="it-metrics-allocator",
        Runtime="python3.12",
        Role=role,
        Handler="allocator.handler",
        Code={"ZipFile": packaging.deterministic_zip({"allocator.py": LAMBDA_HANDLER})},
        Timeout=30,
    )
    stats.lambda_invocations(local_aws, reset=True)
    stats.request_counts(local_aws, reset=True)

    for event in ({"key": "lambda/1"}, {"key": "lambda/2"}, {"fail": True}):
        response = lambda_.invoke(FunctionName="it-metrics-allocator", Payload=json.dumps(event), LogType="Tail")
        assert ("FunctionError" in response) == bool(event.get("fail"))

    summary = stats.lambda_invocations(local_aws)["it-metrics-allocator"]
    assert (summary["count"], summary["errors"]) == (3, 1)
    assert 60 * MB <= summary["max_peak_rss_bytes"] < 1024 * MB
    assert 0 < summary["max_wall_s"] <= summary["total_wall_s"] < 90
    # The invocations, and the functions' own calls to the emulator.
    counts = stats.request_counts(local_aws)
    assert _only(counts, {"lambda": {"Invoke": 0}, "s3": {"PutObject": 0}}) == {
        "lambda": {"Invoke": 3},
        "s3": {"PutObject": 2},
    }


def test_query_on_an_index_pages_through_the_partition(aws) -> None:
    """The count check's Query, and its pagination, through the emulator's narrowed Query."""
    dynamodb = aws.client("dynamodb")
    ensure_table(aws, TABLE, {})  # the employees table as deploy makes it: its GSI projects the load
    items = [
        {"emp_id": {"S": f"e{i:03d}"}, "batch_shard": {"S": f"b#{i % 10}"}, "load_id": {"S": f"L{i % 3}"}}
        for i in range(300)
    ]
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        dynamodb.batch_write_item(RequestItems={TABLE: batch})
    dynamodb.update_item(  # moves e000 from shard 0 to shard 1, in place
        TableName=TABLE,
        Key={"emp_id": {"S": "e000"}},
        UpdateExpression="SET batch_shard = :s",
        ExpressionAttributeValues={":s": {"S": "b#1"}},
    )
    dynamodb.delete_item(TableName=TABLE, Key={"emp_id": {"S": "e011"}})

    def pages(shard: int, **extra: object) -> list[dict]:
        request = {
            "TableName": TABLE,
            "IndexName": GSI_NAME,
            "KeyConditionExpression": "batch_shard = :k",
            "ExpressionAttributeValues": {":k": {"S": f"b#{shard}"}},
            **extra,
        }
        result = []
        while True:
            page = dynamodb.query(**request)
            result.append(page)
            if "LastEvaluatedKey" not in page:
                return result
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    shard_1 = pages(1, Limit=7)
    assert [page["Count"] for page in shard_1] == [7, 7, 7, 7, 2]
    expected = ["e000"] + [f"e{i:03d}" for i in range(1, 300, 10) if i != 11]
    assert [item["emp_id"]["S"] for page in shard_1 for item in page["Items"]] == expected
    backwards = pages(1, Limit=4, ScanIndexForward=False)
    assert [item["emp_id"]["S"] for page in backwards for item in page["Items"]] == expected[::-1]
    counted = pages(
        0,
        Select="COUNT",
        FilterExpression="load_id = :l",
        ExpressionAttributeValues={":k": {"S": "b#0"}, ":l": {"S": "L0"}},
    )
    assert [(page["ScannedCount"], page["Count"]) for page in counted] == [(29, 9)]
