"""Stopping a Glue job run and waiting until it has ended: the fence before a batch changes hands."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

# JobRunState values after which a run writes nothing more (Glue API, JobRun).
ENDED = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR", "EXPIRED"})
# A run in these states is still (or about to be) the load: a retry waits on it instead of starting another.
ATTACHABLE = frozenset({"STARTING", "RUNNING", "WAITING"})


class GlueRunNotStoppedError(RuntimeError):
    """A Glue job run did not end within the time allowed after it was asked to stop."""


def state(glue: Any, job_name: str, run_id: str) -> str:
    return glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]["JobRunState"]


def stop(glue: Any, job_name: str, run_id: str) -> str:
    """Ask Glue to stop the run unless it has ended; its state as it was asked."""
    current = state(glue, job_name, run_id)
    if current not in ENDED and current != "STOPPING":
        glue.batch_stop_job_run(JobName=job_name, JobRunIds=[run_id])
    return current


def stop_and_wait(
    glue: Any,
    job_name: str,
    run_id: str,
    *,
    timeout_s: float,
    poll_s: float = 5.0,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Stop the run and return its final state once it has ended; GlueRunNotStoppedError after ``timeout_s``."""
    current = stop(glue, job_name, run_id)
    if current in ENDED:
        return current
    # Imported here, as tasks run: the triggerer loads this module with only the plugins folder on sys.path.
    from employee_pipeline.waiting import wait_until

    log(f"Stopping Glue job {job_name} run {run_id} ({current}) before the batch changes hands")

    def ended() -> str | None:
        nonlocal current
        current = state(glue, job_name, run_id)
        return current if current in ENDED else None

    final = wait_until(
        ended,
        timeout=timeout_s,
        interval=poll_s,
        sleep=sleep,
        message=f"Glue job {job_name} run {run_id} did not end after it was asked to stop",
        error=lambda text: GlueRunNotStoppedError(f"{text}: still {current}"),
    )
    log(f"Glue job {job_name} run {run_id} ended {final}")
    return final
