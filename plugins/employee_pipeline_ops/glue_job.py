"""GlueJobRunOperator: the provider's GlueJobOperator, failing with the job run's own error, also when deferred,
and fenced by the batch's lease: one Glue run per DAG run at a time, stopped when the task is killed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.dynamodb import DynamoDBHook
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.triggers.glue import GlueJobCompleteTrigger
from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk.exceptions import AirflowException
from airflow.triggers.base import TriggerEvent
from botocore.exceptions import ClientError

from employee_pipeline_ops import batch_lease, glue_runs, lineage
from employee_pipeline_ops.links import DynamoDBTableLink, S3QuarantineLink, persist_link

if TYPE_CHECKING:
    from airflow.sdk import Context


class GlueJobRunFailedError(AirflowException):
    """A Glue job run ended FAILED, TIMEOUT or STOPPED; the message holds its ErrorMessage."""


class BatchLeaseLostError(AirflowException):
    """The DAG run does not hold the batch's lease: it may not start a load."""


# Glue 5.0 writes a run's driver output to the stream "<run id>-driver" of /aws-glue/jobs/output and
# /aws-glue/jobs/error ("Logging for AWS Glue jobs"); the provider's verbose mode reads "<run id>".
DRIVER_STREAM_SUFFIX = "-driver"


class GlueJobRunTrigger(GlueJobCompleteTrigger):
    """
    ``GlueJobCompleteTrigger`` that reports a failed run as an event instead of raising.

    Raised in the trigger, a failure reaches the task as a bare "Trigger failure" (and
    ``airflow dags test`` fails the task without its retries); as an event it resumes the task,
    whose ``execute_complete`` names the run's ``ErrorMessage`` and leaves retries to Airflow.
    With ``verbose``, it forwards the run's Glue 5.0 driver streams (``<run id>-driver``) to the task log.
    """

    async def _forward_logs(self, logs_client: Any, log_group: str, log_stream: str, next_token: str | None):
        return await super()._forward_logs(logs_client, log_group, log_stream + DRIVER_STREAM_SUFFIX, next_token)

    async def on_kill(self) -> None:
        """The task was cleared or marked while deferred: stop the run, so no load outlives its task."""
        async with await self.hook().get_async_conn() as glue:
            await glue.batch_stop_job_run(JobName=self.job_name, JobRunIds=[self.run_id])
        self.log.info("Asked Glue to stop job %s run %s: its task was killed", self.job_name, self.run_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            async for event in super().run():
                yield event
        except AirflowException as err:
            yield TriggerEvent({"status": "error", "message": str(err), "run_id": self.run_id})


class GlueJobRunOperator(GlueJobOperator):
    """
    Run a Glue job like ``GlueJobOperator``; on failure, raise with the run's ``ErrorMessage``.
    Deferred with ``verbose``, the task log shows the run's driver output (Glue 5.0's stream names).

    The provider only reports ``Exiting Job <run id> Run State: FAILED`` (or, deferred,
    ``Error in glue job: {...}``, and a STOPPED run as a success); the cause is in ``GetJobRun``.
    Deferred, the run's final state is read again on completion: only SUCCEEDED succeeds.
    Besides the provider's link to the job run, the task links to where the job writes. With the
    OpenLineage provider, the task reports the ingest job's datasets (``lineage.glue_ingest``): the
    batch's raw objects in; the table, the quarantine prefix and the manifest out.

    With ``lease_table``, the load is fenced by the batch's lease (``batch_lease``): the task starts
    a run only while its DAG run holds the lease, and records the run on it as the batch's load
    before it can write. A retry never starts a second run beside an unfinished one: it re-attaches
    to a run that is starting, running or waiting, and waits for a stopping one to end. Deferred,
    the run is stopped when the task is cleared or marked (the trigger's ``on_kill``).
    Every other argument is ``GlueJobOperator``'s (leave ``resume_glue_job_on_retry`` off: the
    lease already says which run is this run's load).

    :param table_name: DynamoDB table the job loads, for the task's link to it; default the
        ``--table`` script argument. (templated)
    :param quarantine_bucket: S3 bucket of the job's quarantined rows, for the task's link; default
        the ``--bucket`` script argument. (templated)
    :param quarantine_prefix: Key prefix of the job's quarantined rows, for the task's link; default
        the ``--quarantine_prefix`` script argument. (templated)
    :param lease_table: DynamoDB table of the batch leases; None runs the job unfenced. (templated)
    :param batch_id: The leased batch. (templated)
    :param lease_owner: The owner this DAG run holds the lease as. (templated)
    :param stop_timeout: Seconds a retry waits for a stopping run to end.
    """

    template_fields: Sequence[str] = (
        *GlueJobOperator.template_fields,
        "table_name",
        "quarantine_bucket",
        "quarantine_prefix",
        "lease_table",
        "batch_id",
        "lease_owner",
    )
    operator_extra_links = (*GlueJobOperator.operator_extra_links, S3QuarantineLink(), DynamoDBTableLink())

    def __init__(
        self,
        *,
        table_name: str | None = None,
        quarantine_bucket: str | None = None,
        quarantine_prefix: str | None = None,
        lease_table: str | None = None,
        batch_id: str | None = None,
        lease_owner: str | None = None,
        stop_timeout: float = 15 * 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table_name = table_name
        self.quarantine_bucket = quarantine_bucket
        self.quarantine_prefix = quarantine_prefix
        self.lease_table = lease_table
        self.batch_id = batch_id
        self.lease_owner = lease_owner
        self.stop_timeout = stop_timeout

    def _fenced_run(self) -> str:
        """This DAG run's load: the unfinished one recorded on the lease, else a new run recorded there."""
        dynamodb = DynamoDBHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify).client
        glue, table, owner = self.hook.conn, self.lease_table, self.lease_owner
        for _ in range(3):
            lease = batch_lease.read(dynamodb, table, self.batch_id)
            if not batch_lease.holds(lease, owner, now=int(time.time())):
                raise BatchLeaseLostError(
                    f"batch {self.batch_id} is not leased to {owner} but to {lease.owner or 'nobody'} "
                    f"(table {table}); no load started"
                )
            if lease.loading:
                state = glue_runs.state(glue, self.job_name, lease.loading)
                if state in glue_runs.ATTACHABLE:
                    self.log.info("Re-attaching to this run's Glue run %s (%s)", lease.loading, state)
                    return lease.loading
                if state not in glue_runs.ENDED:
                    glue_runs.stop_and_wait(
                        glue, self.job_name, lease.loading, timeout_s=self.stop_timeout, log=self.log.info
                    )
                # An ended load is cleared first, so the new run finds none recorded when it starts.
                if not batch_lease.record_load(dynamodb, table, lease, None):
                    continue
                lease = batch_lease.read(dynamodb, table, self.batch_id)
            try:
                run_id = self.hook.initialize_job(dict(self.script_args or {}), self.run_job_kwargs)["JobRunId"]
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") != "ConcurrentRunsExceededException":
                    raise
                # Loads Airflow does not count (another Airflow's, one still stopping): wait without a worker.
                self.log.info("Glue job %s runs as many loads as it accepts; starting again in %ss", self.job_name, 30)
                self.defer(trigger=TimeDeltaTrigger(timedelta(seconds=30)), method_name="start_when_free")
            if batch_lease.record_load(dynamodb, table, lease, run_id):
                return run_id
            if batch_lease.read(dynamodb, table, self.batch_id).loading == run_id:
                return run_id  # the run recorded itself first
            glue_runs.stop(glue, self.job_name, run_id)
            raise BatchLeaseLostError(f"the lease on batch {self.batch_id} changed while run {run_id} started: stopped")
        raise BatchLeaseLostError(f"the lease on batch {self.batch_id} kept changing; no load started")

    def _run_error(self, run_id: str) -> GlueJobRunFailedError | None:
        """None when the run SUCCEEDED; else an error with its final state and ErrorMessage."""
        run = self.hook.conn.get_job_run(JobName=self.job_name, RunId=run_id)["JobRun"]
        if run["JobRunState"] == "SUCCEEDED":
            return None
        detail = f": {run['ErrorMessage']}" if run.get("ErrorMessage") else ""
        return GlueJobRunFailedError(f"Glue job {self.job_name} run {run_id} ended {run['JobRunState']}{detail}")

    def get_openlineage_facets_on_start(self) -> Any:
        """OpenLineage: the datasets the run arguments name (the provider's ``GlueJobOperator`` reports none)."""
        inputs, outputs = lineage.glue_ingest(self.script_args or {}, self.hook.conn_region_name, self.hook.account_id)
        return lineage.operator_lineage(inputs, outputs)

    def start_when_free(self, context: Context, event: Any = None) -> Any:
        """Resumed after waiting for the Glue job to accept another run: start (or find) the load again."""
        return self.execute(context)

    def execute(self, context: Context) -> Any:
        # Before the run starts (and the task defers): the links show while the job runs.
        args = self.script_args or {}
        bucket = self.quarantine_bucket or args.get("--bucket")
        prefix = self.quarantine_prefix or args.get("--quarantine_prefix")
        persist_link(S3QuarantineLink, context, self, bucket_name=bucket, prefix=prefix)
        persist_link(DynamoDBTableLink, context, self, table_name=self.table_name or args.get("--table"))
        if self.lease_table:
            # The provider starts no run when one is set: it defers on (or waits for) this one.
            self._job_run_id = self._fenced_run()
            context["ti"].xcom_push(key="glue_job_run_id", value=self._job_run_id)
        try:
            return super().execute(context)
        except AirflowException as err:
            error = self._run_error(self._job_run_id) if self._job_run_id else None
            if error is None:
                raise
            raise error from err

    def defer(self, *, trigger: Any, method_name: str, kwargs: dict[str, Any] | None = None, timeout: Any = None):
        if type(trigger) is GlueJobCompleteTrigger:
            trigger = GlueJobRunTrigger(**trigger.serialize()[1])
        super().defer(trigger=trigger, method_name=method_name, kwargs=kwargs, timeout=timeout)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        run_id = (event or {}).get("run_id") or context["ti"].xcom_pull(key="glue_job_run_id", task_ids=self.task_id)
        if not run_id:
            return super().execute_complete(context, event)
        if error := self._run_error(run_id):
            raise error
        self.log.info("AWS Glue Job: %s status: SUCCEEDED. Run Id: %s", self.job_name, run_id)
        return run_id
