"""A batch is exactly its latest successful run, whatever ran before it (more shards, fewer, more records)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from employee_pipeline import config, layout
from employee_pipeline.manifest import Removed

pytestmark = [pytest.mark.e2e, pytest.mark.stage("replace")]

HOUR = datetime(2026, 11, 23, 7, tzinfo=UTC)
BATCH = layout.batch_id_for(HOUR)
# More, fewer, more: every shape of leftover an earlier run can leave.
RUNS = [
    {"shards": 3, "records_per_shard": 120},
    {"shards": 2, "records_per_shard": 50},
    {"shards": 4, "records_per_shard": 90},
]


def _objects(pipeline, prefix: str) -> dict[str, int]:
    """Current objects under ``prefix`` -> their number of lines."""
    s3 = pipeline.aws.client("s3")
    listed = s3.list_objects_v2(Bucket=pipeline.names.data_bucket, Prefix=prefix).get("Contents", [])
    return {
        o["Key"]: len(s3.get_object(Bucket=pipeline.names.data_bucket, Key=o["Key"])["Body"].read().splitlines())
        for o in listed
    }


def _items(pipeline) -> list[dict]:
    """Every item of the stage's table (a test may Scan; the pipeline never does)."""
    scan = pipeline.aws.resource("dynamodb").Table(pipeline.names.table).scan
    page = scan()
    items = page["Items"]
    while "LastEvaluatedKey" in page:
        page = scan(ExclusiveStartKey=page["LastEvaluatedKey"])
        items += page["Items"]
    return items


def _assert_batch_is_exactly(pipeline, conf: dict, previous: dict | None) -> None:
    shards, per_shard = conf["shards"], conf["records_per_shard"]
    manifest = pipeline.manifest(BATCH)
    # S3: exactly this run's shard objects, each with this run's records; no quarantine.
    assert _objects(pipeline, layout.raw_prefix(BATCH)) == {layout.raw_key(BATCH, s): per_shard for s in range(shards)}
    assert _objects(pipeline, layout.quarantine_prefix(BATCH)) == {}
    # DynamoDB: exactly this run's items, every one written by its load, in its shards only.
    items = _items(pipeline)
    expected_ids = {f"{BATCH}-{s:05d}-{i:06d}" for s in range(shards) for i in range(per_shard)}
    assert {item["emp_id"] for item in items} == expected_ids
    assert {item[config.LOAD_ATTRIBUTE] for item in items} == {manifest.load_id}
    widest = max(r["shards"] for r in RUNS)
    assert pipeline.count(BATCH, widest) == {s: per_shard if s < shards else 0 for s in range(widest)}
    # The manifest: this run's counts, and what it removed of the run before.
    assert (manifest.shards, manifest.read, manifest.valid, manifest.quarantined) == (
        shards,
        shards * per_shard,
        shards * per_shard,
        0,
    )
    assert manifest.per_shard == {str(s): per_shard for s in range(shards)}
    if previous is not None:
        kept = min(shards, previous["shards"]) * min(per_shard, previous["records_per_shard"])
        assert manifest.removed == Removed(
            dynamodb_items=previous["shards"] * previous["records_per_shard"] - kept,
            raw_objects=max(0, previous["shards"] - shards),
            quarantine_objects=0,
        )


def test_each_run_of_the_hour_replaces_the_batch_exactly(pipeline) -> None:
    previous = None
    for attempt, conf in enumerate(RUNS):
        result = pipeline.run(HOUR, conf, f"run-{attempt}")
        assert result.succeeded, result.text[-5000:]
        assert result.states["count_check"] == "success"
        _assert_batch_is_exactly(pipeline, conf, previous)
        previous = conf
    lease = pipeline.aws.client("dynamodb").get_item(
        TableName=pipeline.names.lease_table, Key={config.LEASE_KEY: {"S": BATCH}}
    )["Item"]
    assert "owner" not in lease and "loading" not in lease  # released by the last run's teardown
    # What stays is the batch's record of loads: every run's shard count, which the next sweep covers.
    assert sorted(int(n) for n in lease["shard_counts"]["NS"]) == sorted({conf["shards"] for conf in RUNS})
