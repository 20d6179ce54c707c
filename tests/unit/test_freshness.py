"""The freshness Deadline Alert: what the DAG declares, and what its callback says about which run."""

from __future__ import annotations

import ast
import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow._shared.module_loading import accepts_context, import_string
from airflow.sdk import DeadlineReference

from employee_pipeline import config, layout
from employee_pipeline.alerts import freshness_deadline
from employee_pipeline_ops import freshness

QUEUED = datetime(2026, 12, 7, 10, 0, 5, tzinfo=UTC)
DEADLINE = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)  # the batch 20261207T09's hour ended at 10:00
SETTINGS = freshness_deadline(30).callback.kwargs


def _context(*, end: str | None = None, deadline: Any = DEADLINE, **run: Any) -> dict[str, Any]:
    """The context Airflow gives the callback: the run as the REST API's JSON, the deadline as stored."""
    dag_run = {
        "dag_id": config.DAG_ID,
        "dag_run_id": "scheduled__2026-12-07T09:00:00+00:00",
        "run_type": "scheduled",
        "state": "running",
        "data_interval_start": "2026-12-07T09:00:00Z",
        "run_after": "2026-12-07T10:00:00Z",
        "queued_at": QUEUED.isoformat().replace("+00:00", "Z"),
        "end_date": end,
        **run,
    }
    return {"dag_run": dag_run, "deadline": {"id": "0193", "deadline_time": deadline}}


def _message(context: dict[str, Any], now: datetime = DEADLINE + timedelta(seconds=7)) -> dict[str, Any] | None:
    return freshness.late_run_message(context, deadline_minutes=30, batch_id_format=layout.BATCH_ID_FORMAT, now=now)


def test_the_dag_alerts_the_configured_minutes_after_a_runs_hour_ended() -> None:
    alert = freshness_deadline(config.FRESHNESS_DEADLINE_MINUTES)
    # From the logical date, the start of the run's hour. Not DAGRUN_QUEUED_AT: clearing a run of a DAG with a
    # queued-at deadline fails in Airflow 3.3.1 (apache/airflow#70368).
    assert alert.reference == DeadlineReference.DAGRUN_LOGICAL_DATE
    assert alert.interval == timedelta(hours=1, minutes=config.FRESHNESS_DEADLINE_MINUTES)
    callback = import_string(alert.callback.path)
    assert callback is freshness.alert_late_run and accepts_context(callback)
    assert alert.callback.kwargs["deadline_minutes"] == config.FRESHNESS_DEADLINE_MINUTES


@pytest.mark.parametrize(("stage", "prefix"), [("dev", config.DEFAULT_PREFIX), ("prod-2", "acme")])
def test_the_triggerer_names_the_topic_config_names(stage: str, prefix: str) -> None:
    """The callback cannot import config: the template the DAG hands it gives the same topic name."""
    name = SETTINGS["topic_template"].format(stage=stage, prefix=prefix)
    assert name == config.pipeline_names(stage=stage, prefix=prefix).alerts_topic


def test_the_callbacks_module_imports_nothing_of_the_dags_folder() -> None:
    """The triggerer imports the callback with only plugins/ on ``sys.path``."""
    tree = ast.parse(Path(freshness.__file__).read_text())
    imported = {
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in ([node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names])
    }
    assert not {name for name in imported if name.split(".")[0] == "employee_pipeline"}


def test_a_running_run_past_its_deadline_is_named_with_its_batch_and_lateness() -> None:
    message = _message(_context())
    assert message == {
        "alert": "late_run",
        "dag_id": config.DAG_ID,
        "run_id": "scheduled__2026-12-07T09:00:00+00:00",
        "run_type": "scheduled",
        "state": "running",
        "batch_id": "20261207T09",
        "queued_at": QUEUED.isoformat(),
        "deadline": DEADLINE.isoformat(),
        "deadline_minutes": 30,
        "late_by_seconds": 7,
        "unfinished_for_seconds": 30 * 60 - 5 + 7,
    }
    assert (
        freshness.alert_subject("dev", message)
        == f"[dev] {config.DAG_ID} batch 20261207T09 late: unfinished 30 min after its hour"
    )


def test_a_backfill_of_a_past_hour_is_named_with_its_own_batch() -> None:
    hour = {"data_interval_start": "2026-11-30T04:00:00Z", "run_after": "2026-11-30T05:00:00Z"}
    context = _context(run_type="backfill", **hour)
    message = _message(context)
    assert message is not None and message["batch_id"] == "20261130T04" and message["run_type"] == "backfill"


def test_the_deadline_as_iso_text_is_read_as_well() -> None:
    message = _message(_context(deadline=DEADLINE.isoformat()))
    assert message is not None and message["late_by_seconds"] == 7


@pytest.mark.parametrize("state", ["failed", "success"])
def test_a_run_that_ended_before_its_deadline_is_not_late(state: str) -> None:
    """Airflow prunes deadlines on success only: a run that failed in time still reaches the callback."""
    assert _message(_context(state=state, end=(DEADLINE - timedelta(seconds=1)).isoformat())) is None
    assert _message(_context(state=state, end=DEADLINE.isoformat())) is None


def test_a_run_that_ended_after_its_deadline_was_late() -> None:
    message = _message(_context(state="success", end=(DEADLINE + timedelta(seconds=3)).isoformat()))
    assert message is not None and message["state"] == "success"


def test_the_callback_publishes_nothing_for_a_run_that_ended_in_time() -> None:
    """It returns before any Variable or AWS call (neither is reachable here)."""
    context = _context(state="failed", end=QUEUED.isoformat())
    assert asyncio.run(freshness.alert_late_run(context, **SETTINGS)) == "in time"
