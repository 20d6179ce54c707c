"""`airflow standalone` on a deployed stage: what the scheduler tier and the browser tier drive."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from employee_pipeline.config import DAG_ID
from local_run import airflow_standalone
from tests.support.pipeline import Pipeline
from tests.support.ports import free_port

UNPAUSE_TIMEOUT_S = 120  # the DAG processor needs a moment to parse the DAG


@contextmanager
def standalone(pipeline: Pipeline) -> Iterator[airflow_standalone.Standalone]:
    """A real scheduler, triggerer and API server on ``pipeline``'s stage, the DAG unpaused; stopped on exit.

    Its metadata database is a throwaway PostgreSQL, as on MWAA, stopped with it.
    """
    running = airflow_standalone.start(
        pipeline.env,
        pipeline.home / "standalone",
        free_port(),
        worker_log_port=free_port(),
        trigger_log_port=free_port(),
        database="postgres",
    )
    try:
        deadline = time.monotonic() + UNPAUSE_TIMEOUT_S
        while True:
            try:
                running.api("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)
        yield running
    finally:
        airflow_standalone.stop(running)
