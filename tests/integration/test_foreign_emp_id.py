"""A row carrying another hour's emp_id: the table's key is emp_id alone, so it would overwrite that
hour's item. The writer Lambda refuses it and the Glue job quarantines it; the other hour's item stays."""

from __future__ import annotations

import json

import pytest

from employee_pipeline import config, layout
from employee_pipeline_ops.lambda_invoke import LambdaInvokeOperator
from generator.handler import handler as generate_locally
from generator.records import generate_records
from tests.support.glue import finished_run

pytestmark = pytest.mark.integration

EARLIER_HOUR = "20260105T06"
BATCH = "20260105T07"
WRITER_BATCH = "20260105T08"


def test_writer_refuses_an_emp_id_of_another_hour(aws_connection, aws, stage) -> None:
    generated = generate_locally({"batch_id": WRITER_BATCH, "shard": 0, "count": 3}, None)
    foreign = layout.emp_id(EARLIER_HOUR, 0, 1)
    generated["records"][1]["emp_id"] = foreign
    operator = LambdaInvokeOperator(task_id="write", function_name=stage.writer_function, payload=json.dumps(generated))
    with pytest.raises(ValueError, match="resulted in error") as raised:
        operator.execute({})
    payload = json.loads(raised.value.args[1]["Payload"])
    assert payload["errorType"] == "InvalidPayloadError"
    assert f"records[1] field 'emp_id' is '{foreign}'" in payload["errorMessage"]
    listed = aws.client("s3").list_objects_v2(Bucket=stage.data_bucket, Prefix=layout.raw_prefix(WRITER_BATCH))
    assert listed["KeyCount"] == 0


def test_glue_quarantines_an_emp_id_of_another_hour_and_leaves_its_item(aws, stage, glue_args) -> None:
    s3, glue, ddb = aws.client("s3"), aws.client("glue"), aws.client("dynamodb")
    # The earlier hour's item, as its load left it.
    earlier_item = {
        "emp_id": {"S": layout.emp_id(EARLIER_HOUR, 0, 0)},
        "name": {"S": "Earlier Hour"},
        "batch_id": {"S": EARLIER_HOUR},
        "shard": {"N": "0"},
        config.GSI_KEY: {"S": layout.batch_shard_key(EARLIER_HOUR, 0)},
        config.LOAD_ATTRIBUTE: {"S": "jr_earlier"},
    }
    ddb.put_item(TableName=stage.table, Item=earlier_item)
    valid = generate_records(BATCH, 0, 3)
    intruder = json.dumps({**generate_records(BATCH, 0, 4)[3], "emp_id": earlier_item["emp_id"]["S"]})
    body = "\n".join([json.dumps(valid[0]), intruder, *map(json.dumps, valid[1:])]) + "\n"
    s3.put_object(Bucket=stage.data_bucket, Key=layout.raw_key(BATCH, 0), Body=body.encode())
    try:
        run_id = glue.start_job_run(JobName=stage.glue_job, Arguments=glue_args(BATCH))["JobRunId"]
        run = finished_run(glue, stage.glue_job, run_id)

        assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
        stored = ddb.get_item(TableName=stage.table, Key={"emp_id": earlier_item["emp_id"]}, ConsistentRead=True)
        assert stored["Item"] == earlier_item  # untouched
        manifest = json.loads(s3.get_object(Bucket=stage.data_bucket, Key=layout.manifest_key(BATCH))["Body"].read())
        assert manifest["quarantine_reasons"] == {"emp_id_mismatch": 1}
        assert (manifest["valid"], manifest["written"]) == (3, 3)
        (key,) = [
            o["Key"]
            for o in s3.list_objects_v2(Bucket=stage.data_bucket, Prefix=layout.quarantine_prefix(BATCH))["Contents"]
        ]
        document = json.loads(s3.get_object(Bucket=stage.data_bucket, Key=key)["Body"].read())
        assert (document["reject_reason"], document["line"]) == ("emp_id_mismatch", intruder)
    finally:
        ddb.delete_item(TableName=stage.table, Key={"emp_id": earlier_item["emp_id"]})
