"""From nothing to a verified MWAA environment with the README's two commands, against the local AWS.

``python -m infra deploy --stage S --mwaa`` makes the stage, its network, source bucket (the bundle
in it first) and environment; the local AWS starts a real Airflow for the environment from that
bucket, in MWAA's Python 3.12 venv, as the execution role. ``python -m infra mwaa publish --smoke``
then runs the DAG on it through InvokeRestApi and checks the batch, that IAM decided every call and
the tasks made theirs as the execution role (large XComs in S3 included): the whole DAG run on MWAA's
Airflow, configured as MWAA configures it. A second plan changes nothing. The environment then serves
test_local_mwaa_airflow.py (same stage), whose last test destroys the stage to nothing.
"""

from __future__ import annotations

import json

import pytest

from employee_pipeline.config import pipeline_names
from employee_pipeline.layout import XCOM_PREFIX
from infra.batch_state import batch_counts
from infra.log_groups import LOG_RETENTION_DAYS
from infra.mwaa import smoke as smoke_run
from infra.mwaa.environment import log_group
from tests.support import iam_audit
from tests.support.infra_cli import POLL, infra, ok

pytestmark = [pytest.mark.mwaa, pytest.mark.timeout(1800), pytest.mark.stage("mwaaenv")]
STAGE = "mwaaenv"
NAMES = pipeline_names(STAGE)
# What the DAG's tasks call (Lambdas, Glue job, lease, count check, XCom backend, manifest).
DAG_ACTIONS = {
    "lambda:InvokeFunction",
    "glue:StartJobRun",
    "glue:GetJobRun",
    "dynamodb:GetItem",  # the lease: read to decide, taken and released with conditional updates
    "dynamodb:UpdateItem",
    "dynamodb:Query",
    "s3:PutObject",
    "s3:GetObject",
}


def test_deploy_creates_an_available_environment_that_started_with_the_dag(environment, aws) -> None:
    described = aws.client("mwaa").get_environment(Name=NAMES.mwaa_environment)["Environment"]
    assert described["Status"] == "AVAILABLE"
    assert described["AirflowVersion"] == "3.3.1"
    assert described["WebserverAccessMode"] == "PRIVATE_ONLY"
    answer = aws.client("mwaa").invoke_rest_api(Name=NAMES.mwaa_environment, Method="GET", Path="/dags")
    assert answer["RestApiStatusCode"] == 200
    assert [dag["dag_id"] for dag in answer["RestApiResponse"]["dags"]] == ["employee_batch_pipeline"]
    # The operator package is on sys.path, not loaded as plugins: Airflow lists no plugin import error.
    plugins = aws.client("mwaa").invoke_rest_api(
        Name=NAMES.mwaa_environment, Method="GET", Path="/plugins/importErrors"
    )
    assert plugins["RestApiResponse"]["import_errors"] == []


def test_publish_then_smoke_run_loads_its_batch_exactly(environment, aws, local_aws: str) -> None:
    before = iam_audit.calls(local_aws)
    done = ok(
        infra(
            local_aws,
            *("mwaa", "publish", "--environment", NAMES.mwaa_environment, "--stage", STAGE),
            *("--smoke", "--unpause", *POLL, "--json"),
        )
    )
    result = json.loads(done.stdout)
    assert result["updated"] is False and result["status"] == "AVAILABLE"  # deploy uploaded this very bundle
    run = result["smoke"]
    assert run["state"] == "success" and run["dag_run_id"].startswith(smoke_run.RUN_ID_PREFIX)
    assert run["counts"] == {"0": smoke_run.SMOKE_CONF["records_per_shard"]} and run["quarantined"] == 0
    assert {"generate[0]", "ingest", "count_check"} <= set(run["tasks"])
    assert set(run["tasks"].values()) == {"success"}
    assert batch_counts(aws, NAMES, run["batch_id"], 1) == {0: smoke_run.SMOKE_CONF["records_per_shard"]}
    # IAM decided every call of the run; Airflow's tasks made theirs as the environment's execution role.
    calls = iam_audit.calls_since(before, iam_audit.calls(local_aws))
    assert [c for c in calls if not c["allowed"]] == []
    role = aws.client("iam").get_role(RoleName=NAMES.mwaa_execution_role)["Role"]["Arn"]
    as_role = {c["action"] for c in calls if c["role"] == role}
    assert not DAG_ACTIONS - as_role, f"not called as {role}: {sorted(DAG_ACTIONS - as_role)}"
    started = {c["role"] for c in calls if c["action"] in ("lambda:InvokeFunction", "glue:StartJobRun")}
    assert started == {role}
    # The shard records went through XComs too large for the metadata database: objects in S3, written by
    # the object-storage XCom backend that publish's configuration options set, as the execution role.
    xcoms = f"arn:aws:s3:::{NAMES.data_bucket}/{XCOM_PREFIX}/"
    assert any(c["action"] == "s3:PutObject" and c["resource"].startswith(xcoms) for c in calls if c["role"] == role)
    # Task logs went to the environment's CloudWatch group, which deploy made with the stage's retention.
    logs = aws.client("logs")
    group = log_group(NAMES.mwaa_environment, "TaskLogs")
    (described,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["retentionInDays"] == LOG_RETENTION_DAYS
    prefix = f"dag_id=employee_batch_pipeline/run_id={run['dag_run_id']}/task_id=ingest/"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=prefix)["logStreams"]
    assert f"{prefix}attempt=1.log" in {s["logStreamName"] for s in streams}  # and the triggerer's, deferred


def test_a_second_plan_reports_no_change(environment, local_aws: str) -> None:
    plan = json.loads(ok(infra(local_aws, "deploy", "--plan", "--stage", STAGE, "--mwaa", *POLL, "--json")).stdout)
    changed = [action for action in plan["actions"] if action["action"] != "unchanged"]
    assert changed == []
    assert len(plan["actions"]) == len(environment["actions"])
