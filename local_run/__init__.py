"""Running the DAG package on this machine: ``make demo``, ``make airflow``, ``make bench`` and the tests' DAG runs.

A stage in the local AWS with its Airflow environment, stopped on exit (``stage.LocalStage``), an
isolated AIRFLOW_HOME wired to an AWS endpoint (``airflow_env``), ``airflow dags test`` with
progress (``dag_run``), a standalone Airflow and its REST API (``airflow_standalone``), and a reader
of what a run left in Airflow's database and logs (``airflow_records``; what it left in AWS:
``infra.batch_state``, which ``python -m infra mwaa smoke`` reads too).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
