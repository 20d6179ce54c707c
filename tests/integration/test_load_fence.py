"""A Glue load refused by the lease before it reads: another load of the same run, or a lease it lost."""

from __future__ import annotations

import json
import time

import pytest

from employee_pipeline import config, layout
from employee_pipeline_ops import batch_lease
from generator.records import generate_records
from tests.support.glue import TEST_LEASE_OWNER, finished_run

pytestmark = pytest.mark.integration


def _another_load_of_the_run(client, table: str, batch: str) -> str:
    assert batch_lease.record_load(client, table, batch_lease.read(client, table, batch), "jr_another_load")
    return f"but to {TEST_LEASE_OWNER!r} for load jr_another_load"


def _taken_by_another_run(client, table: str, batch: str) -> str:
    other = batch_lease.owner_id("integration-tests", "another-run", "integration")
    lease = batch_lease.read(client, table, batch)
    assert batch_lease.take(client, table, lease, other, now=int(time.time()), seconds=config.LEASE_SECONDS)
    return f"but to {other!r} for load none"


@pytest.mark.parametrize("change", [_another_load_of_the_run, _taken_by_another_run])
def test_a_load_whose_lease_changed_before_it_began_writes_nothing(aws, stage, glue_args, change) -> None:
    batch = {"_another_load_of_the_run": "20260107T01", "_taken_by_another_run": "20260107T02"}[change.__name__]
    s3, glue, ddb = aws.client("s3"), aws.client("glue"), aws.client("dynamodb")
    body = "".join(json.dumps(r) + "\n" for r in generate_records(batch, 0, 3))
    s3.put_object(Bucket=stage.data_bucket, Key=layout.raw_key(batch, 0), Body=body.encode())
    arguments = glue_args(batch)
    client = aws.resource("dynamodb").meta.client
    holder = change(client, stage.lease_table, batch)

    run_id = glue.start_job_run(JobName=stage.glue_job, Arguments=arguments)["JobRunId"]
    run = finished_run(glue, stage.glue_job, run_id)

    assert run["JobRunState"] == "FAILED"
    assert f"not leased to DAG run {TEST_LEASE_OWNER!r} for load {run_id} {holder}" in run["ErrorMessage"]
    assert "stopped before reading" in run["ErrorMessage"]
    items = ddb.query(
        TableName=stage.table,
        IndexName=stage.gsi,
        KeyConditionExpression="#k = :k",
        ExpressionAttributeNames={"#k": config.GSI_KEY},
        ExpressionAttributeValues={":k": {"S": layout.batch_shard_key(batch, 0)}},
    )
    assert items["Count"] == 0
    assert "Contents" not in s3.list_objects_v2(Bucket=stage.data_bucket, Prefix=layout.manifest_key(batch))
    assert batch_lease.read(client, stage.lease_table, batch).shard_counts == frozenset()  # no load was recorded
