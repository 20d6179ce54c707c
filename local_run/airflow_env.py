"""Environment for running the DAG package in a local Airflow against a given AWS endpoint."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from employee_pipeline.config import (
    AWS_CONN_ID,
    DEFAULT_PREFIX,
    DEPLOYMENT_VARIABLE,
    PREFIX_VARIABLE,
    STAGE_VARIABLE,
    pipeline_names,
)
from employee_pipeline.layout import xcom_options
from infra.mwaa.options import env_var_name, option_key
from local_aws.iam_gate import CREDENTIALS_PATH as ROLE_CREDENTIALS_PATH
from local_run import ROOT

# The service principal that assumes the execution role for an MWAA environment's tasks.
MWAA_SERVICE = "airflow-env.amazonaws.com"
STATIC_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")

LOCAL_STAGE = "local"


def airflow_env(
    airflow_home: Path,
    endpoint_url: str,
    stage: str = LOCAL_STAGE,
    region: str = "us-east-1",
    prefix: str | None = None,
) -> dict[str, str]:
    """os.environ plus an isolated AIRFLOW_HOME (SQLite), this repo's dags/plugins, the AWS connection and the
    object-storage XCom backend in the stage's data bucket. Tasks run as the stage's MWAA execution role,
    as on MWAA (``task_credentials_env``)."""
    names = pipeline_names(stage, prefix or DEFAULT_PREFIX)
    env = {name: value for name, value in os.environ.items() if name not in STATIC_CREDENTIALS}
    env.update(task_credentials_env(endpoint_url, names.mwaa_execution_role))
    venv_bin = str(Path(sys.executable).parent)
    env.update(
        {
            "PATH": f"{venv_bin}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW_CONN_AWS_DEFAULT": aws_connection(region, endpoint_url),
            f"AIRFLOW_VAR_{STAGE_VARIABLE.upper()}": stage,
            # Each AIRFLOW_HOME is its own Airflow (its own metadata database): lease owners say which.
            f"AIRFLOW_VAR_{DEPLOYMENT_VARIABLE.upper()}": deployment_id(airflow_home),
            "AWS_DEFAULT_REGION": region,
            # macOS: skips the system-proxy lookup that crashes forked task processes.
            "NO_PROXY": "*",
        }
    )
    if prefix:
        env[f"AIRFLOW_VAR_{PREFIX_VARIABLE.upper()}"] = prefix
    env.update(
        {config_env_var(option): value for option, value in xcom_options(names.data_bucket, AWS_CONN_ID).items()}
    )
    return env


def aws_connection(region: str, endpoint_url: str) -> str:
    """The ``aws_default`` connection (its ``AIRFLOW_CONN_AWS_DEFAULT`` value) of an Airflow on the local AWS:
    the region and the endpoint only; credentials come from the environment (``task_credentials_env``)."""
    return json.dumps({"conn_type": "aws", "extra": {"region_name": region, "endpoint_url": endpoint_url}})


def deployment_id(airflow_home: Path) -> str:
    """A local Airflow's deployment id: stable for its AIRFLOW_HOME, distinct between homes."""
    return f"local-{hashlib.sha256(str(airflow_home.resolve()).encode()).hexdigest()[:12]}"


def task_credentials_env(endpoint_url: str, role: str) -> dict[str, str]:
    """Environment variables under which boto3 (and so every Airflow task) runs as ``role``.

    On MWAA the execution role reaches the tasks through the container credentials endpoint of the
    Fargate task they run in; locally the local AWS serves that endpoint and assumes the role as MWAA's
    service principal does, trust policy checked. botocore renews the credentials before they expire.
    The caller removes ``STATIC_CREDENTIALS`` (they come first in botocore's chain), and no profile file
    is read, so nothing runs with the administrator's keys by accident.
    """
    return {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{endpoint_url}{ROLE_CREDENTIALS_PATH}{MWAA_SERVICE}/{role}",
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_CONFIG_FILE": os.devnull,
    }


def config_env_var(option: str) -> str:
    """``common.io.xcom_objectstorage_path`` -> ``AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH``, as on MWAA."""
    return env_var_name(option_key(option))
