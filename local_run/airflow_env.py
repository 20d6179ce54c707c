"""Environment for running the DAG package in a local Airflow against a given AWS endpoint."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from employee_pipeline.config import AWS_CONN_ID, DEFAULT_PREFIX, PREFIX_VARIABLE, STAGE_VARIABLE, pipeline_names
from employee_pipeline.layout import xcom_options
from infra.mwaa.options import env_var_name, option_key
from local_run import ROOT

LOCAL_STAGE = "local"


def airflow_env(
    airflow_home: Path,
    endpoint_url: str,
    stage: str = LOCAL_STAGE,
    region: str = "us-east-1",
    prefix: str | None = None,
) -> dict[str, str]:
    """os.environ plus an isolated AIRFLOW_HOME (SQLite), this repo's dags/plugins, the AWS connection and the
    object-storage XCom backend in the stage's data bucket."""
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"region_name": region, "endpoint_url": endpoint_url},
    }
    env = dict(os.environ)
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
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
            f"AIRFLOW_VAR_{STAGE_VARIABLE.upper()}": stage,
            "AWS_DEFAULT_REGION": region,
            # macOS: skips the system-proxy lookup that crashes forked task processes.
            "NO_PROXY": "*",
        }
    )
    if prefix:
        env[f"AIRFLOW_VAR_{PREFIX_VARIABLE.upper()}"] = prefix
    data_bucket = pipeline_names(stage, prefix or DEFAULT_PREFIX).data_bucket
    env.update({config_env_var(option): value for option, value in xcom_options(data_bucket, AWS_CONN_ID).items()})
    return env


def config_env_var(option: str) -> str:
    """``common.io.xcom_objectstorage_path`` -> ``AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH``, as on MWAA."""
    return env_var_name(option_key(option))
