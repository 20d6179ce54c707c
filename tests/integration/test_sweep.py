"""What a load removes of earlier loads: exactly the shards they had, read from the lease's record of loads."""

from __future__ import annotations

import json

import pytest

from employee_pipeline import config, layout
from employee_pipeline_ops import batch_lease
from generator.records import generate_records
from local_aws import stats
from tests.support.glue import finished_run

pytestmark = pytest.mark.integration


def _load(aws, stage, glue_args, batch: str, records: int) -> dict:
    s3, glue = aws.client("s3"), aws.client("glue")
    body = "".join(json.dumps(r) + "\n" for r in generate_records(batch, 0, records))
    s3.put_object(Bucket=stage.data_bucket, Key=layout.raw_key(batch, 0), Body=body.encode())
    run_id = glue.start_job_run(JobName=stage.glue_job, Arguments=glue_args(batch))["JobRunId"]
    run = finished_run(glue, stage.glue_job, run_id)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    return json.loads(s3.get_object(Bucket=stage.data_bucket, Key=layout.manifest_key(batch))["Body"].read())


def _reads_of_the_table(audit: dict, stage) -> list[dict]:
    table = f":table/{stage.table}"
    return [
        call
        for call in audit["calls"]
        if call["action"] in ("dynamodb:Query", "dynamodb:Scan", "dynamodb:GetItem") and table in call["resource"]
    ]


def test_a_stale_item_in_a_shard_beyond_every_object_present_is_swept(aws, stage, glue_args) -> None:
    batch = "20260106T06"
    ddb = aws.client("dynamodb")
    # An earlier load of 8 shards whose objects are gone: only the lease's record says shard 7 was used.
    stale = layout.emp_id(batch, 7, 0)
    ddb.put_item(
        TableName=stage.table,
        Item={
            config.TABLE_KEY: {"S": stale},
            config.GSI_KEY: {"S": layout.batch_shard_key(batch, 7)},
            config.LOAD_ATTRIBUTE: {"S": "jr_earlier"},
        },
    )
    ddb.update_item(
        TableName=stage.lease_table,
        Key={config.LEASE_KEY: {"S": batch}},
        UpdateExpression="ADD shard_counts :n",
        ExpressionAttributeValues={":n": {"NS": ["8"]}},
    )

    manifest = _load(aws, stage, glue_args, batch, records=3)

    assert "Item" not in ddb.get_item(TableName=stage.table, Key={config.TABLE_KEY: {"S": stale}})
    assert (manifest["swept_shards"], manifest["removed"]["dynamodb_items"]) == (8, 1)
    lease = batch_lease.read(aws.resource("dynamodb").meta.client, stage.lease_table, batch)
    assert lease.shard_counts == {8, 1}  # this load's shard count joins the record


def test_a_first_load_reads_nothing_back_and_a_rerun_sweeps_only_its_shards(
    aws, stage, glue_args, local_aws: str
) -> None:
    batch = "20260106T07"
    stats.iam_audit(local_aws, reset=True)

    first = _load(aws, stage, glue_args, batch, records=4)

    assert (first["swept_shards"], first["removed"]["dynamodb_items"]) == (0, 0)
    assert _reads_of_the_table(stats.iam_audit(local_aws), stage) == []

    rerun = _load(aws, stage, glue_args, batch, records=2)

    assert (rerun["swept_shards"], rerun["removed"]["dynamodb_items"]) == (1, 2)  # the first load's extra two
    # The rerun reads back through the index only (one Query per shard of the first load), never a Scan.
    reads = _reads_of_the_table(stats.iam_audit(local_aws), stage)
    assert {(call["action"], call["resource"].rsplit(":", 1)[1]) for call in reads} == {
        ("dynamodb:Query", f"table/{stage.table}/index/{stage.gsi}")
    }
