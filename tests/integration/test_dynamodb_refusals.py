"""Rows DynamoDB would refuse are quarantined, each with its own reason, and never fail the load."""

from __future__ import annotations

import json

import pytest

from employee_ingest.rules import MAX_ITEM_BYTES
from employee_pipeline import layout
from generator.records import generate_records
from tests.support.glue import finished_run

pytestmark = pytest.mark.integration

BATCH = "20260103T04"
VALID = 6


def _line(record: dict) -> str:
    return json.dumps(record)


def _refused_rows() -> dict[str, str]:
    """reason -> one JSON line breaking exactly that DynamoDB limit (the rest of the row is valid)."""
    base = generate_records(BATCH, 0, VALID + 20)[VALID:]
    rows = {}

    def row(reason: str, **changes: object) -> None:
        record = base[len(rows)].copy()
        record.update(changes)
        rows[reason] = _line(record)

    row("dynamodb_number_not_representable", salary=float("nan"))
    row("dynamodb_number_out_of_range", salary=1e200)
    # 39 significant digits as written (a double would round them silently).
    row("dynamodb_number_too_precise", salary=0.5)
    rows["dynamodb_number_too_precise"] = rows["dynamodb_number_too_precise"].replace(
        '"salary": 0.5', '"salary": 123456789.012345678901234567890123456789'
    )
    row("unpaired_surrogate", city="\ud800")
    # Still ids of this batch and shard (any number of index digits), so only the length is wrong.
    prefix = layout.emp_id_prefix(BATCH, 0)
    row("dynamodb_sort_key_too_large", emp_id=prefix + "1" * (1025 - len(prefix)))
    row("dynamodb_partition_key_too_large", emp_id=prefix + "2" * (2049 - len(prefix)))
    row("dynamodb_item_too_large", city="c" * (MAX_ITEM_BYTES + 1))
    return rows


def test_each_refused_row_is_quarantined_with_its_reason_and_the_valid_rows_load(aws, stage, glue_args) -> None:
    s3, glue, ddb = aws.client("s3"), aws.client("glue"), aws.client("dynamodb")
    valid = generate_records(BATCH, 0, VALID)
    refused = _refused_rows()
    lines = [_line(r) for r in valid[:3]] + list(refused.values()) + [_line(r) for r in valid[3:]]
    s3.put_object(Bucket=stage.data_bucket, Key=layout.raw_key(BATCH, 0), Body="\n".join(lines).encode() + b"\n")

    run_id = glue.start_job_run(JobName=stage.glue_job, Arguments=glue_args(BATCH))["JobRunId"]
    run = finished_run(glue, stage.glue_job, run_id)

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    manifest = json.loads(s3.get_object(Bucket=stage.data_bucket, Key=layout.manifest_key(BATCH))["Body"].read())
    assert manifest["quarantine_reasons"] == {reason: 1 for reason in refused}
    assert (manifest["valid"], manifest["written"], manifest["per_shard"]) == (VALID, VALID, {"0": VALID})
    quarantined = {}
    for key in [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=stage.data_bucket, Prefix=layout.quarantine_prefix(BATCH))["Contents"]
    ]:
        for text in s3.get_object(Bucket=stage.data_bucket, Key=key)["Body"].read().decode().splitlines():
            document = json.loads(text)
            quarantined[document["reject_reason"]] = document["line"]
    assert quarantined == refused  # each refused row kept whole, with its own reason
    for record in valid:
        item = ddb.get_item(TableName=stage.table, Key={"emp_id": {"S": record["emp_id"]}})["Item"]
        assert item["name"]["S"] == record["name"]
        assert item["load_id"]["S"] == run_id
