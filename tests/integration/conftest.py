"""Stage `it` in the session's local AWS, and the operators' view of it (tests/support/ has the helpers)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from employee_pipeline.config import PipelineNames, pipeline_names
from infra import mwaa_role
from infra.deploy import deploy
from local_run.airflow_env import STATIC_CREDENTIALS, task_credentials_env
from tests.support.glue import leased_job_arguments

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def stage(aws) -> PipelineNames:
    """Stage `it`, deployed once into the session's local AWS, with its MWAA execution role."""
    names = pipeline_names("it")
    deploy(aws, names, mwaa=mwaa_role.default_environment(names))
    return names


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
        return leased_job_arguments(aws, stage, batch_id, table, shards)

    return arguments
