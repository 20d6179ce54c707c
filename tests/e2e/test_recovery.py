"""Faults during a run: the task fails with the cause, and a retry or rerun repairs everything."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from employee_pipeline import layout
from infra.deploy import deploy

pytestmark = pytest.mark.e2e

STAGE = "recovery"
CONF = {"shards": 2, "records_per_shard": 100}
GENERATED = CONF["shards"] * CONF["records_per_shard"]


def _assert_exactly_loaded(pipeline, batch_id: str) -> None:
    assert pipeline.count(batch_id, CONF["shards"]) == {0: 100, 1: 100}
    manifest = pipeline.manifest(batch_id)
    assert (manifest["read"], manifest["valid"], manifest["written"], manifest["quarantined"]) == (
        GENERATED,
        GENERATED,
        GENERATED,
        0,
    )


def test_glue_failure_names_the_cause_and_the_retry_after_the_fix_loads_the_batch(pipeline) -> None:
    hour = datetime(2026, 11, 22, 5, tzinfo=UTC)
    batch_id = layout.batch_id_for(hour)
    ddb, s3 = pipeline.aws.client("dynamodb"), pipeline.aws.client("s3")
    ddb.delete_table(TableName=pipeline.names.table)
    seen: dict[str, object] = {}

    def fix_after_first_failure(task: str, state: str) -> bool:
        if task == "ingest" and state == "up_for_retry" and "manifest" not in seen:
            listed = s3.list_objects_v2(Bucket=pipeline.names.data_bucket, Prefix=layout.manifest_key(batch_id))
            seen["manifest"] = listed["KeyCount"]
            deploy(pipeline.aws, pipeline.names)  # the operator's fix: the table is back
        return False

    result = pipeline.run(hour, CONF, "glue-failure", kill_when=fix_after_first_failure)

    assert result.succeeded, result.text[-5000:]
    assert seen["manifest"] == 0  # no manifest claimed success while the table was missing
    assert "ended FAILED: botocore.errorfactory.ResourceNotFoundException" in result.text
    assert pipeline.table_items() == GENERATED
    _assert_exactly_loaded(pipeline, batch_id)


def test_a_run_killed_during_ingest_reruns_to_the_same_state(pipeline) -> None:
    hour = datetime(2026, 11, 22, 6, tzinfo=UTC)
    batch_id = layout.batch_id_for(hour)
    before = pipeline.table_items()

    killed = pipeline.run(hour, CONF, "killed", kill_when=lambda task, state: (task, state) == ("ingest", "running"))
    assert not killed.succeeded and killed.states.get("ingest") is None

    rerun = pipeline.run(hour, CONF, "after-kill")
    assert rerun.succeeded, rerun.text[-5000:]
    _assert_exactly_loaded(pipeline, batch_id)
    assert pipeline.table_items() == before + GENERATED
