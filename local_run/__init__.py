"""Running the DAG package on this machine: ``make demo``, ``make airflow``, ``make bench`` and the tests' DAG runs.

A stage in the local AWS with its Airflow environment, stopped on exit (``stage.LocalStage``), an
isolated AIRFLOW_HOME wired to an AWS endpoint (``airflow_env``), ``airflow dags test`` with
progress (``dag_run``), a standalone Airflow and its REST API (``airflow_standalone``), and readers
of what a run left in AWS (``batch_state``) and in Airflow's database and logs (``airflow_records``).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
