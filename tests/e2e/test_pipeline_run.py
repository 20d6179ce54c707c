"""A clean hourly run loads exactly the batch; the same hour again (even throttled) changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from employee_pipeline import layout
from employee_pipeline.config import DAG_ID
from local_aws.faults import FAULT_TAG
from local_run import airflow_records
from tests.e2e.conftest import assert_no_record_in_airflow

pytestmark = pytest.mark.e2e

STAGE = "e2e"
HOUR = datetime(2026, 11, 24, 9, tzinfo=UTC)
BATCH = layout.batch_id_for(HOUR)
CONF = {"shards": 3, "records_per_shard": 150}
GENERATED = CONF["shards"] * CONF["records_per_shard"]


def _raw_versions(pipeline) -> list[dict]:
    s3 = pipeline.aws.client("s3")
    listed = s3.list_object_versions(Bucket=pipeline.names.data_bucket, Prefix=layout.raw_prefix(BATCH))
    return listed.get("Versions", [])


def test_full_run_loads_exactly_the_batch_and_a_throttled_rerun_changes_nothing(pipeline) -> None:
    alerts = pipeline.subscribe_alerts()
    first = pipeline.run(HOUR, CONF, "first")
    assert first.succeeded, first.text[-5000:]
    run_id = airflow_records.run_ids(pipeline.home, DAG_ID)[-1]
    assert_no_record_in_airflow(pipeline, pipeline.home, run_id, BATCH, CONF["shards"], [first.text])
    assert set(first.states.values()) == {"success"}
    assert pipeline.count(BATCH, CONF["shards"]) == {s: CONF["records_per_shard"] for s in range(CONF["shards"])}
    assert pipeline.table_items() == GENERATED
    manifest = pipeline.manifest(BATCH)
    assert (manifest["read"], manifest["valid"], manifest["written"], manifest["quarantined"]) == (
        GENERATED,
        GENERATED,
        GENERATED,
        0,
    )
    assert pipeline.alerts(alerts) == []  # no alert on success
    etags = {(v["Key"], v["ETag"]) for v in _raw_versions(pipeline)}
    assert len(etags) == CONF["shards"]

    # The rerun meets DynamoDB throttling: 3 throttled batch writes, then 2 that hand every item back.
    ddb = pipeline.aws.client("dynamodb")
    table_arn = ddb.describe_table(TableName=pipeline.names.table)["Table"]["TableArn"]
    ddb.tag_resource(
        ResourceArn=table_arn,
        Tags=[{"Key": FAULT_TAG, "Value": "BatchWriteItem:ProvisionedThroughputExceededException:3"}],
    )
    rerun = pipeline.run(HOUR, CONF, "rerun")
    assert rerun.succeeded, rerun.text[-5000:]
    assert sum(pipeline.count(BATCH, CONF["shards"]).values()) == GENERATED
    assert pipeline.table_items() == GENERATED  # upserts: no duplicates
    again = pipeline.manifest(BATCH)
    assert again["written"] == GENERATED
    assert again["dynamodb_retries"] >= 3
    # Every object was rewritten with byte-identical data: new versions, the same ETags.
    versions = _raw_versions(pipeline)
    assert len(versions) == 2 * CONF["shards"]
    assert {(v["Key"], v["ETag"]) for v in versions} == etags
