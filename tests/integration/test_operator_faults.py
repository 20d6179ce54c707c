"""The DAG's operators against the local AWS when things go wrong: each failure names its cause."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from airflow.sdk.exceptions import TaskDeferred

from employee_pipeline import layout
from employee_pipeline_ops import batch_lease
from employee_pipeline_ops.batch_keys_sensor import S3BatchKeysSensor
from employee_pipeline_ops.glue_job import (
    BatchLeaseLostError,
    GlueJobRunFailedError,
    GlueJobRunOperator,
    GlueJobRunTrigger,
)
from employee_pipeline_ops.lambda_invoke import LambdaInvokeOperator
from generator.handler import handler as generate_locally
from tests.support.glue import finished_run, sleeper_job

pytestmark = pytest.mark.integration

BATCH = "20260102T03"


def _invoke(function: str, payload: object) -> str:
    return LambdaInvokeOperator(task_id="invoke", function_name=function, payload=json.dumps(payload)).execute({})


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"batch_id": BATCH, "shard": 0, "count": -3}, "count"),
        ({"batch_id": BATCH, "shard": 0, "count": 0}, "count"),
        ({"batch_id": BATCH, "shard": 0, "count": 1.5}, "count"),
        ({"batch_id": BATCH, "shard": 0, "count": layout.MAX_RECORDS_PER_SHARD + 1}, "count"),
        ({"shard": 0, "count": 10}, "batch_id"),
        ({"batch_id": BATCH, "shard": layout.MAX_SHARDS, "count": 10}, "shard"),
    ],
)
def test_rejected_generator_event_fails_the_task_with_the_lambda_error(aws_connection, stage, event, field) -> None:
    with pytest.raises(ValueError, match="Lambda function execution resulted in error") as raised:
        _invoke(stage.generator_function, event)
    payload = json.loads(raised.value.args[1]["Payload"])
    assert payload["errorType"] == "InvalidEventError"
    assert f"'{field}'" in payload["errorMessage"]


def test_writer_refuses_records_of_another_shard(aws_connection, aws, stage) -> None:
    generated = generate_locally({"batch_id": BATCH, "shard": 1, "count": 3}, None)
    generated["shard"] = 2
    with pytest.raises(ValueError, match="resulted in error") as raised:
        _invoke(stage.writer_function, generated)
    payload = json.loads(raised.value.args[1]["Payload"])
    assert payload["errorType"] == "InvalidPayloadError"
    assert "belongs to batch" in payload["errorMessage"]
    listed = aws.client("s3").list_objects_v2(Bucket=stage.data_bucket, Prefix=layout.raw_key(BATCH, 2))
    assert listed["KeyCount"] == 0


def test_sensor_timeout_names_the_missing_keys(aws_connection, aws, stage) -> None:
    from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason
    from airflow.sdk.exceptions import AirflowSensorTimeout

    present, missing = layout.raw_key(BATCH, 0), layout.raw_key(BATCH, 1)
    aws.client("s3").put_object(Bucket=stage.data_bucket, Key=present, Body=b"{}\n")
    sensor = S3BatchKeysSensor(
        task_id="wait", bucket_name=stage.data_bucket, bucket_key=[present, missing], deferrable=True, timeout=60
    )
    with pytest.raises(AirflowSensorTimeout) as raised:
        sensor.resume_execution(TRIGGER_FAIL_REPR, {"error": TriggerFailureReason.TRIGGER_TIMEOUT}, {})
    message = str(raised.value)
    assert f"timed out after 60s waiting for 1 of 2 objects in s3://{stage.data_bucket}" in message
    assert missing in message and present not in message.split("missing")[1]


def test_poke_mode_timeout_names_the_missing_keys_too(aws_connection, aws, stage) -> None:
    from airflow.sdk.exceptions import AirflowSensorTimeout

    missing = layout.raw_key(BATCH, 7)
    sensor = S3BatchKeysSensor(
        task_id="wait",
        bucket_name=stage.data_bucket,
        bucket_key=[missing],
        deferrable=False,
        timeout=2,
        poke_interval=1,
        mode="poke",
    )
    with pytest.raises(AirflowSensorTimeout, match=f"waiting for 1 of 1 objects .* missing \\['{missing}'\\]"):
        sensor.execute({"ti": FakeTaskInstance(None)})


class FakeTaskInstance:
    """Just what GlueJobOperator uses of the TI: its XCom of the previous try's run id."""

    def __init__(self, previous_run_id: str | None) -> None:
        self.dag_id, self.task_id, self.run_id, self.map_index = "employee_batch_pipeline", "ingest", "manual__1", -1
        self.previous_run_id, self.pushed = previous_run_id, {}

    def xcom_pull(self, key: str, task_ids: str) -> str | None:
        return self.previous_run_id if key == "glue_job_run_id" else None

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


def _operator(stage, arguments: dict[str, str], job_name: str = "", **kwargs: object) -> GlueJobRunOperator:
    """The ingest task as the DAG has it: fenced by the batch's lease, which ``glue_args`` gave the test."""
    return GlueJobRunOperator(
        task_id="ingest",
        job_name=job_name or stage.glue_job,
        script_args=arguments,
        lease_table=stage.lease_table,
        batch_id=arguments["--batch_id"],
        lease_owner=arguments["--lease_owner"],
        job_poll_interval=1,
        **{"verbose": False, **kwargs},
    )


def _deferred_to_completion(operator: GlueJobRunOperator, ti: FakeTaskInstance) -> str:
    """execute() defers; the trigger runs as the triggerer would; the task resumes with its event."""
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({"ti": ti})
    trigger = deferred.value.trigger
    assert isinstance(trigger, GlueJobRunTrigger)

    async def first_event():
        return await anext(trigger.run())

    event = asyncio.run(first_event())
    return operator.resume_execution(deferred.value.method_name, {"event": event.payload}, {"ti": ti})


# The job's role may describe only its own tables: another one is refused, as on AWS, and the run fails with it.
DENIED_MISSING_TABLE = (
    r"ended FAILED: .*AccessDeniedException.*dynamodb:DescribeTable on resource: \S+:table/missing-table "
)


def test_failed_run_raises_with_the_job_runs_error_message(aws_connection, aws, stage, glue_args) -> None:
    aws.client("s3").put_object(Bucket=stage.data_bucket, Key=layout.raw_key(BATCH, 0), Body=b"{}\n")
    with pytest.raises(
        GlueJobRunFailedError,
        match=DENIED_MISSING_TABLE,
    ):
        _operator(stage, glue_args(BATCH, "missing-table")).execute({"ti": FakeTaskInstance(None)})


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_deferred_failed_run_raises_with_the_job_runs_error_message(aws_connection, aws, stage, glue_args, verbose):
    """The triggerer's side fails differently with and without log forwarding: both end in the ErrorMessage."""
    aws.client("s3").put_object(Bucket=stage.data_bucket, Key=layout.raw_key(BATCH, 0), Body=b"{}\n")
    operator = _operator(stage, glue_args(BATCH, "missing-table"), deferrable=True, waiter_delay=1, verbose=verbose)
    with pytest.raises(
        GlueJobRunFailedError,
        match=DENIED_MISSING_TABLE,
    ):
        _deferred_to_completion(operator, FakeTaskInstance(None))


def test_deferred_run_returns_the_run_id_once_it_succeeded(aws_connection, aws, stage, glue_args) -> None:
    aws.client("s3").put_object(Bucket=stage.data_bucket, Key=layout.raw_key(BATCH, 0), Body=b"{}\n")
    ti = FakeTaskInstance(None)
    run_id = _deferred_to_completion(_operator(stage, glue_args(BATCH), deferrable=True, waiter_delay=1), ti)
    assert run_id == ti.pushed["glue_job_run_id"]
    run = aws.client("glue").get_job_run(JobName=stage.glue_job, RunId=run_id)["JobRun"]
    assert run["JobRunState"] == "SUCCEEDED"


def _a_deferred_load(aws, stage, glue_args) -> tuple[dict[str, str], str]:
    """An ingest try that started its load and deferred: its arguments, and the run the lease records."""
    aws.client("s3").put_object(Bucket=stage.data_bucket, Key=layout.raw_key(BATCH, 0), Body=b"{}\n")
    arguments = glue_args(BATCH)
    with pytest.raises(TaskDeferred):
        _operator(stage, arguments, deferrable=True).execute({"ti": FakeTaskInstance(None)})
    first = batch_lease.read(aws.resource("dynamodb").meta.client, stage.lease_table, BATCH).loading
    assert first is not None
    return arguments, first


def test_a_retried_ingest_reattaches_instead_of_starting_a_second_run(aws_connection, aws, stage, glue_args) -> None:
    """The first try died while its run kept going: the retry waits for the run the lease records, with
    no XCom to go by and whatever the run's state (apache/airflow#59075)."""
    glue = aws.client("glue")
    arguments, first = _a_deferred_load(aws, stage, glue_args)
    runs_before = len(glue.get_job_runs(JobName=stage.glue_job)["JobRuns"])

    retry = FakeTaskInstance(None)
    assert _deferred_to_completion(_operator(stage, arguments, deferrable=True, waiter_delay=1), retry) == first

    assert len(glue.get_job_runs(JobName=stage.glue_job)["JobRuns"]) == runs_before
    assert glue.get_job_run(JobName=stage.glue_job, RunId=first)["JobRun"]["JobRunState"] == "SUCCEEDED"
    # Once that load has ended, a new try (a cleared task) starts a new load and records it instead.
    assert _operator(stage, arguments).execute({"ti": FakeTaskInstance(None)}) not in (None, first)


def _as_admin(monkeypatch: pytest.MonkeyPatch, local_aws: str) -> None:
    """Operators on the test's own Glue jobs run as the administrator (the MWAA role may start only the stage's)."""
    connection = {"conn_type": "aws", "extra": {"region_name": "us-east-1", "endpoint_url": local_aws}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))


def test_a_retry_waits_for_a_stopping_run_before_starting_another(
    monkeypatch: pytest.MonkeyPatch, aws, stage, glue_args, local_aws: str
) -> None:
    """The earlier try's load is STOPPING (slow to stop, as Glue's runs are): the retry starts its own only
    once that one has ended, so the two never write at once."""
    _as_admin(monkeypatch, local_aws)
    glue, client = aws.client("glue"), aws.resource("dynamodb").meta.client
    job = sleeper_job(aws, stage, "it-slow-to-stop", seconds=120, slow_to_stop=True)
    arguments = glue_args(BATCH)
    first = glue.start_job_run(JobName=job)["JobRunId"]
    assert batch_lease.record_load(client, stage.lease_table, batch_lease.read(client, stage.lease_table, BATCH), first)
    time.sleep(3)  # its script is running (and ignoring SIGTERM)
    glue.batch_stop_job_run(JobName=job, JobRunIds=[first])
    assert glue.get_job_run(JobName=job, RunId=first)["JobRun"]["JobRunState"] == "STOPPING"
    retry = _operator(stage, arguments, job_name=job, deferrable=True)

    with pytest.raises(TaskDeferred):
        retry.execute({"ti": FakeTaskInstance(None)})

    second = batch_lease.read(client, stage.lease_table, BATCH).loading
    try:
        assert second not in (None, first)
        ended = glue.get_job_run(JobName=job, RunId=first)["JobRun"]
        started = glue.get_job_run(JobName=job, RunId=second)["JobRun"]
        assert ended["JobRunState"] == "STOPPED"
        assert started["StartedOn"] >= ended["CompletedOn"], (started["StartedOn"], ended["CompletedOn"])
    finally:
        glue.batch_stop_job_run(JobName=job, JobRunIds=[second])
        finished_run(glue, job, second)
        lease = batch_lease.read(client, stage.lease_table, BATCH)
        assert batch_lease.record_load(client, stage.lease_table, lease, None)


def test_no_load_starts_without_the_lease(aws_connection, aws, stage, glue_args) -> None:
    glue = aws.client("glue")
    arguments = {**glue_args(BATCH), "--lease_owner": batch_lease.owner_id("dag", "not-the-holder", "env")}
    runs_before = len(glue.get_job_runs(JobName=stage.glue_job)["JobRuns"])
    with pytest.raises(BatchLeaseLostError, match=f"batch {BATCH} is not leased to dag/not-the-holder@env"):
        _operator(stage, arguments).execute({"ti": FakeTaskInstance(None)})
    assert len(glue.get_job_runs(JobName=stage.glue_job)["JobRuns"]) == runs_before


def test_killing_the_deferred_task_stops_its_glue_run(aws_connection, aws, stage, glue_args) -> None:
    """Clearing or marking a deferred ingest cancels its trigger with on_kill (Airflow 3.3): the run stops."""
    glue = aws.client("glue")
    aws.client("s3").put_object(Bucket=stage.data_bucket, Key=layout.raw_key(BATCH, 0), Body=b"{}\n")
    with pytest.raises(TaskDeferred) as deferred:
        _operator(stage, glue_args(BATCH), deferrable=True).execute({"ti": FakeTaskInstance(None)})
    trigger = deferred.value.trigger

    asyncio.run(trigger.on_kill())

    assert finished_run(glue, stage.glue_job, trigger.run_id)["JobRunState"] == "STOPPED"


def test_a_glue_job_at_its_concurrency_limit_defers_the_start_instead_of_failing(
    monkeypatch: pytest.MonkeyPatch, aws, stage, glue_args, local_aws: str
) -> None:
    """Loads Airflow does not count (another Airflow's, one still stopping) can fill the job: the task
    waits in the triggerer and starts its load once Glue accepts it, never failing on it."""
    _as_admin(monkeypatch, local_aws)
    glue = aws.client("glue")
    sleeper_job(aws, stage, "it-full", seconds=6)
    busy = glue.start_job_run(JobName="it-full")["JobRunId"]
    arguments = glue_args(BATCH)
    operator = GlueJobRunOperator(
        task_id="ingest",
        job_name="it-full",
        script_args=arguments,
        lease_table=stage.lease_table,
        batch_id=BATCH,
        lease_owner=arguments["--lease_owner"],
        deferrable=True,
    )

    with pytest.raises(TaskDeferred) as waiting:
        operator.execute({"ti": FakeTaskInstance(None)})

    assert (type(waiting.value.trigger).__name__, waiting.value.method_name) == ("TimeDeltaTrigger", "start_when_free")
    assert [run["Id"] for run in glue.get_job_runs(JobName="it-full")["JobRuns"]] == [busy]
    finished_run(glue, "it-full", busy)
    with pytest.raises(TaskDeferred) as started:
        operator.start_when_free({"ti": FakeTaskInstance(None)})
    assert isinstance(started.value.trigger, GlueJobRunTrigger)
    assert len(glue.get_job_runs(JobName="it-full")["JobRuns"]) == 2
