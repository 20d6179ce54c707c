"""One whole DAG run on MWAA's Airflow: the Python 3.12 venv of MWAA's image, the bundle only, IAM enforced.

The home is laid out as MWAA's (``mwaa_airflow.lay_out_home``) from the bundle of this module's
stage, deployed to the session's local AWS with its MWAA execution role. Airflow is configured the
way MWAA configures it: the options ``python -m infra mwaa publish`` sends, turned into the
``AIRFLOW__SECTION__KEY`` variables MWAA attaches to its containers, the ``aws_default`` connection
(region and the local endpoint only) and the execution role's credentials from the container
credentials endpoint, as on MWAA's Fargate tasks. The venv's own ``airflow`` then migrates a
database and runs one hour with ``airflow dags test``; the run must succeed with every task, load the
batch exactly, keep large XComs in S3 and make every AWS call of its tasks as the execution role.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from employee_pipeline import layout
from employee_pipeline.config import (
    AWS_CONN_ID,
    DAG_ID,
    DEPLOYMENT_VARIABLE,
    STAGE_VARIABLE,
    PipelineNames,
    pipeline_names,
)
from infra import mwaa_role
from infra.batch_state import batch_counts
from infra.deploy import deploy
from infra.mwaa.bundle import variable_env_name
from infra.mwaa.options import configuration_options, environment_variables
from infra.session import AwsTarget
from local_aws import stats
from local_run import airflow_records
from local_run.airflow_env import STATIC_CREDENTIALS, airflow_env
from tests.mwaa.mwaa_airflow import MwaaHome, MwaaVenv, json_output, lay_out_home
from tests.support.iam_audit import calls_since
from tests.support.tool_venv import tail

pytestmark = [pytest.mark.mwaa, pytest.mark.timeout(3600), pytest.mark.stage("mwaa")]
HOUR = datetime(2026, 11, 24, 9, tzinfo=UTC)
BATCH = layout.batch_id_for(HOUR)
CONF = {"shards": 2, "records_per_shard": 20}
RUN_TIMEOUT_S = 1800
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
# Only Airflow's tasks start these: every such call of the run is the execution role's.
ONLY_AIRFLOW = {"lambda:InvokeFunction", "glue:StartJobRun"}


@dataclasses.dataclass(frozen=True)
class DagRun:
    mwaa: MwaaHome
    names: PipelineNames
    returncode: int
    log: Path
    enforced: bool
    calls: list[dict[str, Any]]  # the IAM decisions made while the run ran (counts of this run only)

    def tail(self) -> str:
        return f"airflow dags test exited {self.returncode}; log {self.log}:\n{tail(self.log.read_text(), 8000)}"


def _role_arn(aws: AwsTarget, name: str) -> str:
    return aws.client("iam").get_role(RoleName=name)["Role"]["Arn"]


@pytest.fixture(scope="module")
def names(aws: AwsTarget, module_stage: str) -> PipelineNames:
    """The module's stage, deployed with its MWAA execution role (the role the tasks run as)."""
    names = pipeline_names(module_stage)
    deploy(aws, names, mwaa=mwaa_role.default_environment(names))
    return names


@pytest.fixture(scope="module")
def mwaa(
    bundle: Path, mwaa_venv: MwaaVenv, names: PipelineNames, local_aws: str, tmp_path_factory: pytest.TempPathFactory
) -> MwaaHome:
    """The MWAA-like home, configured as MWAA configures Airflow for the stage, tasks as the execution role."""
    home = lay_out_home(bundle, mwaa_venv, tmp_path_factory.mktemp("mwaa-run-home"))
    # MWAA's AirflowConfigurationOptions, applied the way MWAA applies them.
    options = environment_variables(configuration_options(names))
    # From the local Airflow's environment only the AWS side: the connection and the task credentials.
    local = airflow_env(home.home, local_aws, stage=names.stage)
    aws_side = {k: v for k, v in local.items() if k.startswith("AWS_") or k == f"AIRFLOW_CONN_{AWS_CONN_ID.upper()}"}
    assert "AWS_CONTAINER_CREDENTIALS_FULL_URI" in aws_side
    # The stage variable is startup.sh's (as on MWAA); the local environment names the same stage,
    # and sets the same XCom options as MWAA's.
    stage_variable = variable_env_name(STAGE_VARIABLE)
    assert home.exports == {stage_variable: names.stage, variable_env_name(DEPLOYMENT_VARIABLE): names.mwaa_environment}
    assert local[stage_variable] == names.stage
    assert {k: local.get(k) for k in options} == options
    env = {k: v for k, v in home.env.items() if k not in STATIC_CREDENTIALS}
    env.update(options)
    env.update(aws_side)
    return dataclasses.replace(home, env=env)


@pytest.fixture(scope="module")
def dag_run(mwaa: MwaaHome, names: PipelineNames, local_aws: str, tmp_path_factory: pytest.TempPathFactory) -> DagRun:
    """``airflow db migrate`` then ``airflow dags test`` of the hour; the logs and the run's IAM decisions are kept
    in the module's tmp dir."""
    logs = tmp_path_factory.mktemp("mwaa-run-logs")
    migrated = mwaa.airflow_logged("db", "migrate", log=logs / "migrate.log", timeout=900)
    assert migrated == 0, f"airflow db migrate exited {migrated}:\n{tail((logs / 'migrate.log').read_text())}"
    before = stats.iam_audit(local_aws)["calls"]
    # A manual run's data interval is the hour before its logical date (local_run.dag_run.run_batch).
    logical_date = (HOUR + timedelta(hours=1)).isoformat()
    log = logs / "dags-test.log"
    returncode = mwaa.airflow_logged(
        "dags", "test", DAG_ID, logical_date, "--conf", json.dumps(CONF), log=log, timeout=RUN_TIMEOUT_S
    )
    after = stats.iam_audit(local_aws)
    calls = calls_since(before, after["calls"])
    (logs / "iam-audit.json").write_text(json.dumps({"enforced": after["enforced"], "calls": calls}, indent=1))
    return DagRun(mwaa, names, returncode, log, after["enforced"], calls)


def test_airflow_runs_from_the_mwaa_home_with_mwaas_configuration(dag_run: DagRun, local_aws: str) -> None:
    mwaa = dag_run.mwaa
    env, home = mwaa.env, mwaa.home
    assert env["AIRFLOW_HOME"] == str(home)
    assert (env["AIRFLOW__CORE__DAGS_FOLDER"], env["AIRFLOW__CORE__PLUGINS_FOLDER"]) == (
        str(home / "dags"),
        str(home / "plugins"),
    )
    assert env["PATH"].split(os.pathsep)[0] == str(mwaa.venv.root / "bin")
    assert "PYTHONPATH" not in env
    assert not set(STATIC_CREDENTIALS) & set(env)
    assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith(local_aws)
    assert json.loads(env[f"AIRFLOW_CONN_{AWS_CONN_ID.upper()}"])["extra"] == {
        "region_name": "us-east-1",
        "endpoint_url": local_aws,
    }
    # What Airflow itself reads: MWAA's options and the stage of startup.sh.
    assert mwaa.airflow("config", "get-value", "core", "xcom_backend").stdout.strip().splitlines()[-1] == (
        layout.XCOM_BACKEND
    )
    assert mwaa.airflow("variables", "get", STAGE_VARIABLE).stdout.strip().splitlines()[-1] == dag_run.names.stage


def test_the_run_succeeds_with_every_task(dag_run: DagRun) -> None:
    assert dag_run.returncode == 0, dag_run.tail()
    runs = json_output(dag_run.mwaa.airflow("dags", "list-runs", DAG_ID, "-o", "json"))
    assert [(run["state"], run["logical_date"][:19]) for run in runs] == [
        ("success", (HOUR + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"))
    ], dag_run.tail()
    states = json_output(dag_run.mwaa.airflow("tasks", "states-for-dag-run", DAG_ID, runs[0]["run_id"], "-o", "json"))
    by_instance = {
        f"{ti['task_id']}[{ti['map_index']}]" if ti.get("map_index") else ti["task_id"]: ti["state"] for ti in states
    }
    shards = range(CONF["shards"])
    expected = {
        "plan",
        "claim_batch",
        "shard_events",
        *(f"generate[{s}]" for s in shards),
        *(f"write[{s}]" for s in shards),
        "wait_for_objects",
        "ingest",
        "read_manifest",
        "count_check",
        "quarantine_gate",
        "release_batch",
    }
    assert by_instance == dict.fromkeys(expected, "success"), dag_run.tail()


def test_the_batch_is_exact_and_large_xcoms_went_to_s3(dag_run: DagRun, aws: AwsTarget) -> None:
    assert dag_run.returncode == 0, dag_run.tail()
    names, shards = dag_run.names, CONF["shards"]
    assert batch_counts(aws, names, BATCH, shards) == dict.fromkeys(range(shards), CONF["records_per_shard"])
    run_id = airflow_records.run_ids(dag_run.mwaa.home, DAG_ID)[-1]
    generated = airflow_records.xcom_values(dag_run.mwaa.home, DAG_ID, run_id, "generate")
    base = f"s3://{AWS_CONN_ID}@{names.data_bucket}/"
    assert len(generated) == shards
    assert all(path.startswith(f"{base}{layout.XCOM_PREFIX}/") for path in generated), generated
    s3 = aws.client("s3")
    for path in generated:  # the shards of records are objects there, not rows of the metadata database
        assert s3.head_object(Bucket=names.data_bucket, Key=path.removeprefix(base))["ContentLength"] > 0
    # The XCom backend wrote them from the task, as the execution role.
    role = _role_arn(aws, names.mwaa_execution_role)
    put = {c["resource"] for c in dag_run.calls if c["action"] == "s3:PutObject" and c["role"] == role}
    assert {f"arn:aws:s3:::{names.data_bucket}/{path.removeprefix(base)}" for path in generated} <= put


def test_iam_was_enforced_and_the_tasks_ran_as_the_mwaa_execution_role(dag_run: DagRun, aws: AwsTarget) -> None:
    assert dag_run.enforced, "the local AWS ran with LOCAL_AWS_IAM off: nothing was refused, nothing is proven"
    calls = dag_run.calls
    refused = [c for c in calls if not c["allowed"]]
    assert refused == [], f"IAM refused calls of the run:\n{json.dumps(refused, indent=1)}\n{dag_run.tail()}"
    assert dag_run.returncode == 0, dag_run.tail()
    names = dag_run.names
    role = _role_arn(aws, names.mwaa_execution_role)
    as_role = {c["action"] for c in calls if c["role"] == role}
    assert not DAG_ACTIONS - as_role, f"not called as {role}: {sorted(DAG_ACTIONS - as_role)}"
    assert {c["role"] for c in calls if c["action"] in ONLY_AIRFLOW} == {role}
    # Each component as its own role: no call of the run was made with the administrator's keys.
    assert [c for c in calls if not c["role"]] == []
    components = (names.generator_role, names.writer_role, names.glue_role, names.mwaa_execution_role)
    assert {c["role"] for c in calls} <= {_role_arn(aws, name) for name in components}
