"""The count check and the batch lease against the local AWS: what they catch and what they say."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from airflow.sdk.api.datamodels._generated import DagRunState
from airflow.sdk.exceptions import AirflowSensorTimeout

from employee_pipeline import config, layout
from employee_pipeline_ops import batch_lease
from employee_pipeline_ops.count_check import (
    BatchCountMismatchError,
    BatchNotHeldError,
    DynamoDBBatchCountCheckOperator,
)
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
            config.GSI_KEY: {"S": layout.batch_shard_key(BATCH, shard)},
            config.LOAD_ATTRIBUTE: {"S": load_id},
        },
    )
    return emp_id


def _check(stage, **lease: str) -> DynamoDBBatchCountCheckOperator:
    return DynamoDBBatchCountCheckOperator(
        task_id="count_check",
        table_name=stage.table,
        index_name=stage.gsi,
        batch_id=BATCH,
        expected_per_shard={"0": 2, "1": 2},
        load_id=LOAD,
        shard_limit=layout.MAX_SHARDS,
        consistency_checks=1,
        **lease,
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


RUN_A = batch_lease.owner_id("dag", "run-a", "env-1")
RUN_B = batch_lease.owner_id("dag", "run-b", "env-1")
# The same DAG and run id in another Airflow writing the stage (an upgrade's second environment).
OTHER_A = batch_lease.owner_id("dag", "run-a", "env-2")


def _sensor(stage, owner: str) -> DynamoDBBatchLeaseSensor:
    return DynamoDBBatchLeaseSensor(
        task_id="claim_batch",
        table_name=stage.lease_table,
        batch_id=BATCH,
        lease_owner=owner,
        lease_seconds=config.LEASE_SECONDS,
        glue_job_name=stage.glue_job,
        poke_interval=0,
        timeout=1,
        mode="poke",
    )


def _release(stage, owner: str) -> DynamoDBBatchLeaseReleaseOperator:
    return DynamoDBBatchLeaseReleaseOperator(
        task_id="release_batch",
        table_name=stage.lease_table,
        batch_id=BATCH,
        lease_owner=owner,
        glue_job_name=stage.glue_job,
    )


class Runs:
    """The TI's view of DAG runs: what the execution API answers (DagRunState values, or a 404)."""

    def __init__(self, state: DagRunState | None) -> None:
        self.state, self.asked = state, []

    def get_dagrun_state(self, dag_id: str, run_id: str) -> DagRunState:
        self.asked.append((dag_id, run_id))
        if self.state is None:  # the run was deleted (`airflow dags test` replaces its run)
            error = RuntimeError("Server returned error")
            error.response = SimpleNamespace(status_code=404)  # type: ignore[attr-defined]
            raise error
        return self.state


def test_the_second_run_waits_for_the_lease_and_says_who_holds_it(
    aws_connection, stage, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _sensor(stage, RUN_A), _sensor(stage, RUN_B)
    running = {"ti": Runs(DagRunState.RUNNING)}
    assert first.poke(running)
    assert first.poke(running)  # the holder may take it again (a retried task)
    capsys.readouterr()
    assert not second.poke(running)
    assert f"Batch 20260104T05 is being written by DAG run {RUN_A}" in capsys.readouterr().out  # the task log
    with pytest.raises(AirflowSensorTimeout, match=r"waiting for the lease on batch 20260104T05 \(held by dag/run-a"):
        second.execute(running)

    assert _release(stage, RUN_A).execute({})
    assert not _release(stage, RUN_A).execute({})  # released already: nothing to do, nothing taken from another run
    assert second.poke(running)
    assert not first.poke(running)
    # A holder of this Airflow whose DAG run has ended (as the execution API answers it), or no longer
    # exists, is taken over at once.
    assert first.poke({"ti": Runs(DagRunState.FAILED)})
    assert second.poke({"ti": Runs(None)})
    assert _release(stage, RUN_B).execute({})


def test_two_airflows_with_the_same_run_id_never_both_hold_the_lease(aws, aws_connection, stage) -> None:
    ours, theirs = _sensor(stage, RUN_A), _sensor(stage, OTHER_A)
    ended, gone = Runs(DagRunState.SUCCESS), Runs(None)
    assert theirs.poke({"ti": ended})
    # Another Airflow's run: this one cannot see it, so neither "ended" nor "gone" is taken for an answer.
    assert not ours.poke({"ti": ended})
    assert not ours.poke({"ti": gone})
    assert ended.asked == gone.asked == []
    client = aws.resource("dynamodb").meta.client
    assert batch_lease.read(client, stage.lease_table, BATCH).owner == OTHER_A
    # Once its lease has expired, it is taken over.
    client.update_item(
        TableName=stage.lease_table,
        Key={config.LEASE_KEY: BATCH},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": int(time.time()) - 1},
    )
    assert ours.poke({"ti": gone})
    assert not theirs.poke({"ti": ended})
    assert _release(stage, RUN_A).execute({})


def test_the_lease_keeps_the_batch_record_of_loads_after_release(aws, aws_connection, stage) -> None:
    client = aws.resource("dynamodb").meta.client
    assert _sensor(stage, RUN_A).poke({"ti": Runs(DagRunState.RUNNING)})
    client.update_item(
        TableName=stage.lease_table,
        Key={config.LEASE_KEY: BATCH},
        UpdateExpression="ADD shard_counts :n",
        ExpressionAttributeValues={":n": {3}},
    )
    assert _release(stage, RUN_A).execute({})
    lease = batch_lease.read(client, stage.lease_table, BATCH)
    assert (lease.owner, lease.loading, lease.shard_counts) == (None, None, frozenset({3}))


def test_a_matching_count_fails_unless_the_run_still_holds_the_lease_for_its_load(aws, aws_connection, stage) -> None:
    """Counted right is not enough: another holder, or another load of this holder, may be writing the batch."""
    client = aws.resource("dynamodb").meta.client
    loaded = [_put(aws, stage, s, i, LOAD) for s in (0, 1) for i in range(2)]
    assert _sensor(stage, RUN_A).poke({"ti": Runs(DagRunState.RUNNING)})
    fenced = {"lease_table": stage.lease_table, "lease_owner": RUN_A}

    def load_is(load_id: str) -> None:
        assert batch_lease.record_load(
            client, stage.lease_table, batch_lease.read(client, stage.lease_table, BATCH), load_id
        )

    try:
        load_is(LOAD)
        assert _check(stage, **fenced).execute({}) == 4
        load_is("jr_a_later_load")  # a retry's second Glue run under the same owner
        with pytest.raises(
            BatchNotHeldError, match=rf"no longer held by {RUN_A} for load {LOAD} .*load jr_a_later_load"
        ):
            _check(stage, **fenced).execute({})
        load_is(LOAD)
        client.update_item(
            TableName=stage.lease_table,
            Key={config.LEASE_KEY: BATCH},
            UpdateExpression="SET expires_at = :past",
            ExpressionAttributeValues={":past": int(time.time()) - 1},
        )
        with pytest.raises(BatchNotHeldError, match="no longer held"):  # expired: anyone may take it now
            _check(stage, **fenced).execute({})
        load_is(None)
        assert _sensor(stage, RUN_B).poke({"ti": Runs(DagRunState.RUNNING)})
        with pytest.raises(BatchNotHeldError, match=rf"owner {RUN_B}"):
            _check(stage, **fenced).execute({})
        assert _release(stage, RUN_B).execute({})
        with pytest.raises(BatchNotHeldError, match="owner nobody"):
            _check(stage, **fenced).execute({})
    finally:
        for emp_id in loaded:
            client.delete_item(TableName=stage.table, Key={config.TABLE_KEY: emp_id})
