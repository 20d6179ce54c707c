"""`airflow standalone` on a deployed stage: what the scheduler tier and the browser tier drive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from employee_pipeline.config import DAG_ID
from employee_pipeline.waiting import wait_until
from local_run import ROOT, airflow_standalone
from tests.support.pipeline import Pipeline
from tests.support.ports import free_port

UNPAUSE_TIMEOUT_S = 120  # the DAG processor needs a moment to parse the DAG
# Beside the dags folder (whose .airflowignore leaves dags/examples/ out), a bundle of the example consumer DAGs
# alone: they arrive paused, and run only while a test unpauses them.
EXAMPLES_BUNDLE = {
    "name": "employee-pipeline-examples",
    "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
    "kwargs": {"path": str(ROOT / "dags" / "examples")},
}
BUNDLES = [{"name": "dags-folder", "classpath": EXAMPLES_BUNDLE["classpath"], "kwargs": {}}, EXAMPLES_BUNDLE]


@contextmanager
def standalone(pipeline: Pipeline) -> Iterator[airflow_standalone.Standalone]:
    """A real scheduler, triggerer and API server on ``pipeline``'s stage, the DAG unpaused; stopped on exit.

    Its metadata database is a throwaway PostgreSQL, as on MWAA, stopped with it.
    """
    running = airflow_standalone.start(
        {**pipeline.env, "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(BUNDLES)},
        pipeline.home / "standalone",
        free_port(),
        worker_log_port=free_port(),
        trigger_log_port=free_port(),
        database="postgres",
    )
    try:
        set_paused(running, DAG_ID, False)
        yield running
    finally:
        airflow_standalone.stop(running)


def set_paused(airflow: airflow_standalone.Standalone, dag_id: str, paused: bool) -> None:
    """Pause or unpause ``dag_id``, waiting (up to UNPAUSE_TIMEOUT_S) until the DAG processor has parsed it."""
    wait_until(
        lambda: airflow.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": paused}),
        timeout=UNPAUSE_TIMEOUT_S,
        interval=1,
        retry=lambda err: isinstance(err, RuntimeError),  # 404 until the DAG processor has parsed it
        message=f"cannot set {dag_id} paused={paused}",
    )
