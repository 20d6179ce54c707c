"""Glue job runs in the local AWS (which runs them for real), and the batch lease the tests take for them."""

from __future__ import annotations

import time
from typing import Any

from employee_pipeline import config, layout
from employee_pipeline.config import PipelineNames
from employee_pipeline.waiting import wait_until
from employee_pipeline_ops import batch_lease

TEST_LEASE_OWNER = batch_lease.owner_id("integration-tests", "run", "integration")


def finished_run(glue: Any, job_name: str, run_id: str, timeout: float = 300) -> dict[str, Any]:
    """The Glue job run once it has ended (the local AWS runs it for real)."""

    def ended() -> dict[str, Any] | None:
        run = glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
        return run if run["JobRunState"] not in ("STARTING", "RUNNING", "STOPPING") else None

    return wait_until(ended, timeout=timeout, message=f"run {run_id} still running")


def leased_job_arguments(
    aws: Any, stage: PipelineNames, batch_id: str, table: str | None = None, shards: int = 1
) -> dict[str, str]:
    """The ingest job's arguments for a batch of ``stage``, with the batch leased to the test (as the DAG does)."""
    client = aws.resource("dynamodb").meta.client
    lease = batch_lease.read(client, stage.lease_table, batch_id)
    assert lease.owner in (None, TEST_LEASE_OWNER), f"batch {batch_id} is leased to {lease.owner}"
    # A load the test started before has ended (the job ran to its end): the lease takes a new one.
    taken = batch_lease.take(
        client, stage.lease_table, lease, TEST_LEASE_OWNER, now=int(time.time()), seconds=config.LEASE_SECONDS
    )
    assert taken is not None, f"the lease on batch {batch_id} changed while the test took it"
    return layout.glue_job_arguments(
        batch_id,
        stage.data_bucket,
        table or stage.table,
        shards=shards,
        lease_table=stage.lease_table,
        lease_owner=TEST_LEASE_OWNER,
    )


def sleeper_job(aws: Any, stage: PipelineNames, name: str, seconds: int, *, slow_to_stop: bool = False) -> str:
    """A Glue job of one plain-Python script that sleeps, at most one run at a time; returns its name.

    ``slow_to_stop``: the script ignores SIGTERM, so a stopped run stays STOPPING until the emulator
    kills it 10 s later (Glue's own runs take up to a minute to stop)."""
    key = f"tests/sleep{seconds}{'-slow-to-stop' if slow_to_stop else ''}.py"
    ignore = "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if slow_to_stop else ""
    aws.client("s3").put_object(
        Bucket=stage.artifacts_bucket, Key=key, Body=f"{ignore}import time\ntime.sleep({seconds})\n".encode()
    )
    aws.client("glue").create_job(
        Name=name,
        Role=f"arn:aws:iam::{aws.account_id}:role/{stage.glue_role}",
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{stage.artifacts_bucket}/{key}"},
        ExecutionProperty={"MaxConcurrentRuns": 1},
    )
    return name
