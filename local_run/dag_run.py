"""Run one DAG run with ``airflow dags test`` in an isolated AIRFLOW_HOME, with progress."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from employee_pipeline.config import DAG_ID

_TASK_START = re.compile(r"\[DAG TEST\] running task <TaskInstance: [\w.]+?\.(\w+) \S+(?: map_index=(\d+))?")
_TASK_STATE = re.compile(r"new_state=(\w+)")
STOP_GRACE_S = 10


@dataclass
class DagRunResult:
    succeeded: bool
    returncode: int
    log: Path
    # The last state each task instance reached, e.g. {"generate[0]": "success"}.
    states: dict[str, str] = field(default_factory=dict)


def migrate(env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        subprocess.run(["airflow", "db", "migrate"], env=env, stdout=out, stderr=subprocess.STDOUT, check=True)


def _end(proc: subprocess.Popen[str]) -> None:
    """End the run's process group: SIGTERM, then SIGKILL once the grace is over (or on a second interrupt)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=STOP_GRACE_S)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    finally:
        # Also whatever the run started that outlived it in its group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# ``airflow dags test``, with Airflow's crash on a DAG's Deadline Alert mended (local_run/dags_test.py).
DAGS_TEST: tuple[str, ...] = (sys.executable, "-m", "local_run.dags_test")


def run_dag(
    env: dict[str, str],
    logical_date: datetime,
    conf: dict[str, object],
    log: Path,
    progress: Callable[[str], None] = print,
    kill_when: Callable[[str, str], bool] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> DagRunResult:
    """``airflow dags test`` for ``logical_date``; every line goes to ``log``, task transitions to ``progress``.

    ``kill_when(task, state)`` returning True kills the run on the spot (SIGKILL), as a
    crashed worker would be: for tests of recovery. ``on_start(pid)`` is called once the run's
    process exists (the benchmark samples its memory).
    """
    command = [*DAGS_TEST, DAG_ID, logical_date.isoformat(), "--conf", json.dumps(conf)]
    current = ""
    states: dict[str, str] = {}
    with (
        log.open("a") as out,
        subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        ) as proc,
    ):
        # The run is in its own session, so an interrupt reaches only us: without this, Popen's exit
        # would wait for the run to end on its own (an exception) or leave it running (Ctrl-C, SIGTERM).
        try:
            assert proc.stdout is not None
            if on_start:
                on_start(proc.pid)
            for line in proc.stdout:
                out.write(line)
                started = _TASK_START.search(line)
                state = _TASK_STATE.search(line)
                if started:
                    task, index = started.groups()
                    current = f"{task}[{index}]" if index is not None else task
                    transition = "running"
                elif state and current and state.group(1) not in ("running", "queued"):
                    transition = states[current] = state.group(1)
                else:
                    continue
                progress(f"  {transition:<13} {current}")
                if kill_when and kill_when(current, transition):
                    os.killpg(proc.pid, signal.SIGKILL)
                    out.write(f"--- killed during {current} ---\n")
                    break
            returncode = proc.wait()
        except BaseException:
            _end(proc)
            raise
    return DagRunResult(succeeded=returncode == 0, returncode=returncode, log=log, states=states)


def run_batch(env: dict[str, str], hour: datetime, conf: dict[str, object], log: Path, **kwargs: Any) -> DagRunResult:
    """``run_dag`` for the batch of ``hour``: a manual run's data interval is the hour before its logical date."""
    return run_dag(env, hour + timedelta(hours=1), conf, log, **kwargs)
