"""Taking and releasing a batch's lease from a DAG run (setup and teardown of the writing tasks)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.dynamodb import DynamoDBHook
from airflow.providers.amazon.aws.hooks.glue import GlueJobHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowSensorTimeout

from employee_pipeline_ops import batch_lease, glue_runs
from employee_pipeline_ops.links import DynamoDBTableLink, persist_link

if TYPE_CHECKING:
    from airflow.sdk import Context

# DAG run states after which a run starts nothing more. The execution API answers a DagRunState: a
# str enum whose str() is "DagRunState.FAILED", so its value is compared.
ENDED_RUN_STATES = {"success", "failed"}
# How long releasing or taking over waits for a stopped Glue run to end.
STOP_TIMEOUT_S = 15 * 60


def _status_code(error: Exception) -> int | None:
    """The execution API's HTTP status in a Task SDK error: raised as is (``ServerResponseError``, in
    ``airflow dags test``) or relayed by the supervisor (``AirflowRuntimeError``)."""
    response = getattr(error, "response", None)
    if response is not None:
        return getattr(response, "status_code", None)
    detail = getattr(getattr(error, "error", None), "detail", None)
    return detail.get("status_code") if isinstance(detail, dict) else None


def _utc(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class _LeaseMixin:
    """What claiming and releasing share: the lease's names, and stopping the load recorded on it."""

    table_name: str
    batch_id: str
    lease_owner: str
    glue_job_name: str
    log: Any

    def _glue(self) -> Any:
        return GlueJobHook(
            aws_conn_id=self.aws_conn_id,  # type: ignore[attr-defined]
            region_name=self.region_name,  # type: ignore[attr-defined]
            verify=self.verify,  # type: ignore[attr-defined]
            config=self.botocore_config,  # type: ignore[attr-defined]
        ).conn


class DynamoDBBatchLeaseSensor(_LeaseMixin, AwsBaseSensor[DynamoDBHook]):
    """
    Wait until this DAG run holds the batch's lease (a conditional write to the lease table).

    While another run of the same batch holds it, each poke logs who holds it and until when.
    A holder is replaced when its lease has expired, or when it is a DAG run of this Airflow
    deployment that has ended (success or failed, its teardown run or not) or no longer exists.
    A holder of another deployment (an Airflow this one cannot see) is waited for until its lease
    expires. Before the lease changes hands, the Glue load recorded on it is stopped and the
    sensor waits (pokes again) until that run has ended, so no load outlives its run's lease.
    Use ``mode="reschedule"``: no worker slot is held between pokes.

    :param table_name: The lease table (key ``batch_id``). (templated)
    :param batch_id: The batch to lease, ``YYYYMMDDTHH``. (templated)
    :param lease_owner: This run's owner, ``batch_lease.owner_id(dag_id, run_id, deployment)``. (templated)
    :param lease_seconds: How long the lease lasts without release (longer than any load the run can start).
    :param glue_job_name: The Glue job whose runs are the batch's loads. (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region name. If not specified, the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    """

    aws_hook_class = DynamoDBHook
    template_fields: Sequence[str] = aws_template_fields("table_name", "batch_id", "lease_owner", "glue_job_name")
    ui_color = "#f0e4ec"
    operator_extra_links = (DynamoDBTableLink(),)

    def __init__(
        self,
        *,
        table_name: str,
        batch_id: str,
        lease_owner: str,
        lease_seconds: int,
        glue_job_name: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table_name = table_name
        self.batch_id = batch_id
        self.lease_owner = lease_owner
        self.lease_seconds = lease_seconds
        self.glue_job_name = glue_job_name

    def _replaceable(self, lease: batch_lease.Lease, now: int, context: Context) -> str | None:
        """Why ``lease``'s holder may be replaced, or None to wait for it."""
        if lease.owner is None:
            return "free"
        if lease.owner == self.lease_owner:
            return "held by this run already"
        if lease.expires_at <= now:
            return f"its lease expired at {_utc(lease.expires_at)}"
        holder, me = batch_lease.parse_owner(lease.owner), batch_lease.parse_owner(self.lease_owner)
        if holder is None or me is None or holder.deployment != me.deployment:
            return None  # another Airflow's run: its state is not ours to read
        try:
            state = context["ti"].get_dagrun_state(dag_id=holder.dag_id, run_id=holder.run_id)
        except Exception as err:
            if _status_code(err) == 404:
                return "its DAG run no longer exists"
            self.log.info("Lease holder %s: DAG run state unknown (%s)", lease.owner, err)
            return None
        value = getattr(state, "value", state)
        return f"its DAG run has ended ({value})" if value in ENDED_RUN_STATES else None

    def poke(self, context: Context) -> bool:
        client, now = self.hook.client, int(time.time())
        lease = batch_lease.read(client, self.table_name, self.batch_id)
        reason = self._replaceable(lease, now, context)
        if reason is None:
            self.log.info(
                "Batch %s is being written by DAG run %s (lease taken %s, expires %s); waiting for it to finish",
                self.batch_id,
                lease.owner,
                _utc(lease.acquired_at),
                _utc(lease.expires_at),
            )
            return False
        if lease.loading:
            state = glue_runs.stop(self._glue(), self.glue_job_name, lease.loading)
            if state not in glue_runs.ENDED:
                self.log.info(
                    "Lease of %s (%s): stopping its Glue run %s (%s) before taking the batch",
                    lease.owner,
                    reason,
                    lease.loading,
                    state,
                )
                return False
        taken = batch_lease.take(client, self.table_name, lease, self.lease_owner, now=now, seconds=self.lease_seconds)
        if taken is None:
            self.log.info("The lease on batch %s changed while it was being taken; trying again", self.batch_id)
            return False
        if lease.owner not in (None, self.lease_owner):
            self.log.info("Took over the lease of %s: %s", lease.owner, reason)
        self.log.info("Holding the lease on batch %s until %s: %s", self.batch_id, _utc(taken.expires_at), taken.owner)
        return True

    def execute(self, context: Context) -> Any:
        persist_link(DynamoDBTableLink, context, self, table_name=self.table_name)
        try:
            return super().execute(context)
        except AirflowSensorTimeout as err:
            current = batch_lease.read(self.hook.client, self.table_name, self.batch_id)
            held = f"held by {current.owner} until {_utc(current.expires_at)}" if current.owner else "now free"
            raise AirflowSensorTimeout(
                f"timed out after {self.timeout:.0f}s waiting for the lease on batch {self.batch_id} ({held}); "
                "run this DAG run again once that run has finished"
            ) from err


class DynamoDBBatchLeaseReleaseOperator(_LeaseMixin, AwsBaseOperator[DynamoDBHook]):
    """
    Release the batch's lease this DAG run holds, whatever the outcome of the run.

    A Glue load recorded on the lease that has not ended (a run that failed or timed out while
    its load went on) is stopped and waited for first: the next holder finds the batch quiet.

    :param table_name: The lease table (key ``batch_id``). (templated)
    :param batch_id: The leased batch, ``YYYYMMDDTHH``. (templated)
    :param lease_owner: This run's owner, ``batch_lease.owner_id(dag_id, run_id, deployment)``. (templated)
    :param glue_job_name: The Glue job whose runs are the batch's loads. (templated)
    :param stop_timeout: Seconds to wait for a stopped load to end.
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region name. If not specified, the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    """

    aws_hook_class = DynamoDBHook
    template_fields: Sequence[str] = aws_template_fields("table_name", "batch_id", "lease_owner", "glue_job_name")
    ui_color = "#f0e4ec"
    operator_extra_links = (DynamoDBTableLink(),)

    def __init__(
        self,
        *,
        table_name: str,
        batch_id: str,
        lease_owner: str,
        glue_job_name: str,
        stop_timeout: float = STOP_TIMEOUT_S,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table_name = table_name
        self.batch_id = batch_id
        self.lease_owner = lease_owner
        self.glue_job_name = glue_job_name
        self.stop_timeout = stop_timeout

    def execute(self, context: Context) -> bool:
        persist_link(DynamoDBTableLink, context, self, table_name=self.table_name)
        client = self.hook.client
        for _ in range(3):  # the lease only changes under this run's own tasks: a re-read settles it
            lease = batch_lease.read(client, self.table_name, self.batch_id)
            if lease.owner != self.lease_owner:
                self.log.warning(
                    "This run (%s) no longer held the lease on batch %s (held by %s)",
                    self.lease_owner,
                    self.batch_id,
                    lease.owner or "nobody",
                )
                return False
            if lease.loading:
                glue_runs.stop_and_wait(
                    self._glue(), self.glue_job_name, lease.loading, timeout_s=self.stop_timeout, log=self.log.info
                )
            if batch_lease.release(client, self.table_name, lease):
                self.log.info("Released the lease on batch %s: %s", self.batch_id, self.lease_owner)
                return True
        raise RuntimeError(f"the lease on batch {self.batch_id} kept changing while {self.lease_owner} released it")
