"""The count check and the batch lease against the local AWS: what they catch and what they say."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from employee_pipeline import config, layout
from employee_pipeline_ops.count_check import BatchCountMismatchError, DynamoDBBatchCountCheckOperator
from employee_pipeline_ops.lease_operators import DynamoDBBatchLeaseReleaseOperator, DynamoDBBatchLeaseSensor

pytestmark = pytest.mark.integration

BATCH = "20260104T05"
LOAD = "jr_this_load"


def _put(aws, stage, shard: int, index: int, load_id: str) -> str:
    emp_id = f"{BATCH}-{shard:05d}-{index:06d}"
    aws.client("dynamodb").put_item(
        TableName=stage.table,
        Item={
            config.TABLE_KEY: {"S": emp_id},
            config.GSI_KEY: {"S": f"{BATCH}#{shard}"},
            config.LOAD_ATTRIBUTE: {"S": load_id},
        },
    )
    return emp_id


def _check(stage) -> DynamoDBBatchCountCheckOperator:
    return DynamoDBBatchCountCheckOperator(
        task_id="count_check",
        table_name=stage.table,
        index_name=stage.gsi,
        batch_id=BATCH,
        expected_per_shard={"0": 2, "1": 2},
        load_id=LOAD,
        shard_limit=layout.MAX_SHARDS,
        consistency_checks=1,
    )


@pytest.mark.parametrize(
    ("shard", "message"),
    [
        (1, r"shard 1: expected 2, found 3 \(1 not written by this load\)"),
        (7, r"shard 7: expected 0, found 1 \(1 not written by this load\)"),  # a shard this run did not have
        (layout.MAX_SHARDS - 1, rf"shard {layout.MAX_SHARDS - 1}: expected 0, found 1"),
    ],
    ids=["in-a-shard-of-the-run", "in-a-shard-outside-it", "in-the-last-possible-shard"],
)
def test_one_extra_item_of_the_batch_fails_the_count_check_naming_it(
    aws_connection, aws, stage, shard: int, message: str
) -> None:
    loaded = [_put(aws, stage, s, i, LOAD) for s in (0, 1) for i in range(2)]
    assert _check(stage).execute({}) == 4

    extra = _put(aws, stage, shard, 100, "jr_an_earlier_load")
    try:
        with pytest.raises(BatchCountMismatchError, match=message):
            _check(stage).execute({})
    finally:
        ddb = aws.client("dynamodb")
        for emp_id in [*loaded, extra]:
            ddb.delete_item(TableName=stage.table, Key={config.TABLE_KEY: {"S": emp_id}})


def test_a_stale_item_replacing_a_missing_one_still_fails(aws_connection, aws, stage) -> None:
    """Equal totals per shard are not enough: the stale item is not this load's."""
    loaded = [_put(aws, stage, 0, 0, LOAD), _put(aws, stage, 0, 1, "jr_an_earlier_load")]
    loaded += [_put(aws, stage, 1, i, LOAD) for i in range(2)]
    try:
        with pytest.raises(BatchCountMismatchError, match=r"shard 0: expected 2, found 2 \(1 not written"):
            _check(stage).execute({})
    finally:
        for emp_id in loaded:
            aws.client("dynamodb").delete_item(TableName=stage.table, Key={config.TABLE_KEY: {"S": emp_id}})


def _sensor(stage, owner: str) -> DynamoDBBatchLeaseSensor:
    return DynamoDBBatchLeaseSensor(
        task_id="claim_batch",
        table_name=stage.lease_table,
        batch_id=BATCH,
        lease_owner=owner,
        lease_seconds=config.LEASE_SECONDS,
        poke_interval=0,
        timeout=1,
        mode="poke",
    )


class UnknownRuns:
    """The TI's view of DAG runs when the holder is not a run this Airflow knows."""

    def get_dagrun_state(self, dag_id: str, run_id: str) -> str:
        raise LookupError(f"no DAG run {dag_id}/{run_id}")


class GoneRuns:
    """The execution API's answer for a DAG run that was deleted (``airflow dags test`` replaces its run)."""

    def get_dagrun_state(self, dag_id: str, run_id: str) -> str:
        error = RuntimeError("Server returned error")
        error.response = SimpleNamespace(status_code=404)  # type: ignore[attr-defined]
        raise error


class EndedRuns:
    def get_dagrun_state(self, dag_id: str, run_id: str) -> str:
        return "failed"


def test_the_second_run_waits_for_the_lease_and_says_who_holds_it(
    aws_connection, stage, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _sensor(stage, "dag/run-a"), _sensor(stage, "dag/run-b")
    context = {"ti": UnknownRuns()}
    assert first.poke(context)
    assert first.poke(context)  # the holder may take it again (a retried task)
    capsys.readouterr()
    assert not second.poke(context)
    assert "Batch 20260104T05 is being written by DAG run dag/run-a" in capsys.readouterr().out  # the task log
    from airflow.sdk.exceptions import AirflowSensorTimeout

    with pytest.raises(AirflowSensorTimeout, match=r"waiting for the lease on batch 20260104T05 \(held by dag/run-a"):
        second.execute(context)

    release = DynamoDBBatchLeaseReleaseOperator(
        task_id="release_batch", table_name=stage.lease_table, batch_id=BATCH, lease_owner="dag/run-a"
    )
    assert release.execute({})
    assert not release.execute({})  # released already: nothing to do, nothing taken from another run
    assert second.poke(context)
    assert not first.poke(context)
    # A holder whose DAG run has ended, or no longer exists, is taken over at once.
    assert first.poke({"ti": EndedRuns()})
    assert second.poke({"ti": GoneRuns()})
    DynamoDBBatchLeaseReleaseOperator(
        task_id="release_batch", table_name=stage.lease_table, batch_id=BATCH, lease_owner="dag/run-b"
    ).execute({})
