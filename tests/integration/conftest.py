from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from employee_pipeline import config, layout
from employee_pipeline.config import PipelineNames, pipeline_names
from employee_pipeline_ops import batch_lease
from infra import mwaa_role
from infra.deploy import deploy
from local_run.airflow_env import STATIC_CREDENTIALS, task_credentials_env

pytestmark = pytest.mark.integration

TEST_LEASE_OWNER = batch_lease.owner_id("integration-tests", "run", "integration")
MWAA_TRANSIENT = ("CREATING", "UPDATING", "DELETING")
MWAA_GONE = "(gone)"  # what statuses_until_settled records once GetEnvironment no longer finds the environment


@pytest.fixture(scope="session")
def stage(aws) -> PipelineNames:
    """Stage `it`, deployed once into the session's local AWS, with its MWAA execution role."""
    names = pipeline_names("it")
    deploy(aws, names, mwaa=mwaa_role.default_environment(names))
    return names


def finished_run(glue: Any, job_name: str, run_id: str, timeout: float = 300) -> dict[str, Any]:
    """The Glue job run once it has ended (the local AWS runs it for real)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
        if run["JobRunState"] not in ("STARTING", "RUNNING", "STOPPING"):
            return run
        time.sleep(1)
    raise AssertionError(f"run {run_id} still running after {timeout}s")


def statuses_until_settled(mwaa: Any, name: str, timeout: float = 60) -> list[str]:
    """Every status GetEnvironment shows, polled until the environment leaves the transient ones."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = mwaa.get_environment(Name=name)["Environment"]["Status"]
        except mwaa.exceptions.ResourceNotFoundException:
            status = MWAA_GONE
        if not seen or seen[-1] != status:
            seen.append(status)
        if status not in MWAA_TRANSIENT:
            return seen
        assert time.monotonic() < deadline, f"{name} still {status} after {timeout}s"
        time.sleep(0.2)


@pytest.fixture
def aws_connection(monkeypatch: pytest.MonkeyPatch, aws, local_aws: str, stage: PipelineNames) -> None:
    """Airflow's ``aws_default`` connection pointing at the local AWS, for operators run directly: they run
    as the stage's MWAA execution role, as tasks do (the test's own ``aws`` keeps the administrator's
    credentials, which its session resolved when it deployed)."""
    aws.session.get_credentials()  # resolved before the keys leave the environment
    connection = {"conn_type": "aws", "extra": {"region_name": "us-east-1", "endpoint_url": local_aws}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    for name in STATIC_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    for name, value in task_credentials_env(local_aws, stage.mwaa_execution_role).items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def glue_args(aws, stage: PipelineNames) -> Callable[..., dict[str, str]]:
    """The ingest job's arguments for a batch of stage `it`, with the batch leased to the test (as the DAG does)."""

    def arguments(batch_id: str, table: str | None = None, shards: int = 1) -> dict[str, str]:
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

    return arguments


def sleeper_job(aws, stage: PipelineNames, name: str, seconds: int, *, slow_to_stop: bool = False) -> str:
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
