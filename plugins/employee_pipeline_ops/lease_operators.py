"""Taking and releasing a batch's lease from a DAG run (setup and teardown of the writing tasks)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.dynamodb import DynamoDBHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowSensorTimeout

from employee_pipeline_ops import batch_lease
from employee_pipeline_ops.links import DynamoDBTableLink, persist_link

if TYPE_CHECKING:
    from airflow.sdk import Context

# DAG run states after which a run writes nothing more.
ENDED_RUN_STATES = {"success", "failed"}


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


class DynamoDBBatchLeaseSensor(AwsBaseSensor[DynamoDBHook]):
    """
    Wait until this DAG run holds the batch's lease (a conditional write to the lease table).

    While another run of the same batch holds it, each poke logs who holds it and until when.
    A holder whose DAG run has ended (success or failed) is taken over at once; a holder that
    crashed without ending frees the lease when it expires.

    :param table_name: The lease table (key ``batch_id``). (templated)
    :param batch_id: The batch to lease, ``YYYYMMDDTHH``. (templated)
    :param lease_owner: The lease owner: ``{dag_id}/{run_id}`` of this run. (templated)
    :param lease_seconds: How long the lease lasts without release (the DAG run timeout).
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region name. If not specified, the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    """

    aws_hook_class = DynamoDBHook
    template_fields: Sequence[str] = aws_template_fields("table_name", "batch_id", "lease_owner")
    ui_color = "#f0e4ec"
    operator_extra_links = (DynamoDBTableLink(),)

    def __init__(self, *, table_name: str, batch_id: str, lease_owner: str, lease_seconds: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table_name = table_name
        self.batch_id = batch_id
        self.lease_owner = lease_owner
        self.lease_seconds = lease_seconds

    def _ended(self, owner: str, context: Context) -> bool:
        """Whether the holder's DAG run has ended: finished, or deleted (``airflow dags test`` replaces a run).

        A holder that is not a DAG run of this Airflow, or whose state cannot be read, is waited for.
        """
        run = batch_lease.split_owner(owner)
        if run is None:
            return False
        try:
            state = context["ti"].get_dagrun_state(dag_id=run[0], run_id=run[1])
        except Exception as err:
            gone = _status_code(err) == 404
            self.log.info("Lease holder %s: DAG run %s (%s)", owner, "gone" if gone else "state unknown", err)
            return gone
        return str(state) in ENDED_RUN_STATES

    def poke(self, context: Context) -> bool:
        client, now = self.hook.client, int(time.time())
        args = (client, self.table_name, self.batch_id, self.lease_owner)
        lease = batch_lease.acquire(*args, now=now, seconds=self.lease_seconds)
        current = None
        if lease is None:
            current = batch_lease.holder(client, self.table_name, self.batch_id)
            if current is not None and self._ended(current.owner, context):
                self.log.info("Taking over the lease of %s, whose DAG run has ended", current.owner)
                lease = batch_lease.acquire(*args, now=now, seconds=self.lease_seconds, take_over_from=current.owner)
        if lease is not None:
            self.log.info(
                "Holding the lease on batch %s until %s: %s", self.batch_id, _utc(lease.expires_at), self.lease_owner
            )
            return True
        if current is not None:
            self.log.info(
                "Batch %s is being written by DAG run %s (lease taken %s, expires %s); waiting for it to finish",
                self.batch_id,
                current.owner,
                _utc(current.acquired_at),
                _utc(current.expires_at),
            )
        return False

    def execute(self, context: Context) -> Any:
        persist_link(DynamoDBTableLink, context, self, table_name=self.table_name)
        try:
            return super().execute(context)
        except AirflowSensorTimeout as err:
            current = batch_lease.holder(self.hook.client, self.table_name, self.batch_id)
            held = f"held by {current.owner} until {_utc(current.expires_at)}" if current else "now free"
            raise AirflowSensorTimeout(
                f"timed out after {self.timeout:.0f}s waiting for the lease on batch {self.batch_id} ({held}); "
                "run this DAG run again once that run has finished"
            ) from err


class DynamoDBBatchLeaseReleaseOperator(AwsBaseOperator[DynamoDBHook]):
    """
    Release the batch's lease this DAG run holds, whatever the outcome of the run.

    :param table_name: The lease table (key ``batch_id``). (templated)
    :param batch_id: The leased batch, ``YYYYMMDDTHH``. (templated)
    :param lease_owner: The lease owner: ``{dag_id}/{run_id}`` of this run. (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region name. If not specified, the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    """

    aws_hook_class = DynamoDBHook
    template_fields: Sequence[str] = aws_template_fields("table_name", "batch_id", "lease_owner")
    ui_color = "#f0e4ec"
    operator_extra_links = (DynamoDBTableLink(),)

    def __init__(self, *, table_name: str, batch_id: str, lease_owner: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table_name = table_name
        self.batch_id = batch_id
        self.lease_owner = lease_owner

    def execute(self, context: Context) -> bool:
        persist_link(DynamoDBTableLink, context, self, table_name=self.table_name)
        released = batch_lease.release(self.hook.client, self.table_name, self.batch_id, self.lease_owner)
        if released:
            self.log.info("Released the lease on batch %s: %s", self.batch_id, self.lease_owner)
        else:
            self.log.warning("This run (%s) no longer held the lease on batch %s", self.lease_owner, self.batch_id)
        return released
