"""The freshness Deadline Alert through a real scheduler and triggerer and the local AWS's SNS.

Shares test_scheduler's stage and Airflow (same ``stage`` marker). Two runs are made but never started (the
DAG is paused meanwhile): one for an hour long past, held past its deadline (which passed before the run
existed), one failed before its deadline; for that one, waiting out the deadline is replaced by moving its
deadline row to now, once the test has checked that Airflow set it where the DAG says. A third run, of the
hour before now, succeeds in time and leaves no deadline behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from employee_pipeline import config
from employee_pipeline.config import DAG_ID
from employee_pipeline.waiting import wait_until
from tests.support.airflow import set_paused

pytestmark = [pytest.mark.e2e, pytest.mark.stage("scheduler")]

DAG = DAG_ID
CONF = {"shards": 1, "records_per_shard": 5}
TIMEOUT_S = 300
RUN_TIMEOUT_S = 900  # a whole run, when this module runs alone


@contextmanager
def _metadata(airflow: Any) -> Iterator[Any]:
    """A cursor on the standalone's PostgreSQL metadata database (autocommit)."""
    import psycopg2

    with closing(psycopg2.connect(airflow.database.url.replace("+psycopg2", ""))) as db:
        db.autocommit = True
        with db.cursor() as cursor:
            yield cursor


def _deadlines(airflow: Any, run_ids: list[str]) -> dict[str, list[tuple]]:
    """Each run's deadline rows: (deadline_time, queued_at, missed, callback state, callback output)."""
    with _metadata(airflow) as db:
        db.execute(
            "SELECT r.run_id, d.deadline_time, r.queued_at, d.missed, c.state, c.output FROM deadline d "
            "JOIN dag_run r ON r.id = d.dagrun_id JOIN callback c ON c.id = d.callback_id "
            "WHERE r.dag_id = %s AND r.run_id = ANY(%s)",
            (DAG, run_ids),
        )
        rows = db.fetchall()
    return {run_id: [row[1:] for row in rows if row[0] == run_id] for run_id in run_ids}


def _all_alerts(pipeline: Any, queue: str) -> list[dict[str, Any]]:
    """Every message the queue holds now (deleted once read)."""
    sqs, found = pipeline.aws.client("sqs"), []
    while True:
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = received.get("Messages", [])
        if not messages:
            return found
        found += [json.loads(message["Body"]) for message in messages]
        for message in messages:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


def _end(airflow: Any, run_id: str) -> None:
    """Fail a run that never started. Its teardown is skipped first: while a teardown is pending, marking
    the run failed leaves it queued (the teardown would run once the DAG is unpaused)."""
    run_path = f"/api/v2/dags/{DAG}/dagRuns/{run_id}"
    airflow.api("PATCH", f"{run_path}/taskInstances/release_batch", {"new_state": "skipped"})
    airflow.api("PATCH", run_path, {"state": "failed"})
    ended = airflow.api("GET", run_path)
    assert ended["state"] == "failed" and ended["end_date"], ended


def test_a_run_held_past_its_deadline_alerts_once_and_runs_that_ended_in_time_never(airflow, pipeline) -> None:
    queue = pipeline.subscribe_alerts()
    _all_alerts(pipeline, queue)  # nothing before this test counts
    runs = {"held": "freshness_held", "failed": "freshness_failed_in_time"}
    # A manual run's data interval is the hour before its logical date: the held run is batch 20261122T05.
    logical_dates = {runs["held"]: datetime(2026, 11, 22, 6, tzinfo=UTC), runs["failed"]: datetime.now(UTC)}
    set_paused(airflow, DAG, True)  # the runs are created (their deadline is set) but never start
    try:
        for run_id, logical_date in logical_dates.items():
            airflow.api(
                "POST",
                f"/api/v2/dags/{DAG}/dagRuns",
                {"dag_run_id": run_id, "logical_date": logical_date.isoformat(), "conf": CONF},
            )
        created = _deadlines(airflow, list(runs.values()))
        for run_id, rows in created.items():
            assert len(rows) == 1, created
            # The end of the hour (one data interval after the logical date) plus the configured minutes.
            after = timedelta(hours=1, minutes=config.FRESHNESS_DEADLINE_MINUTES)
            assert abs(rows[0][0] - (logical_dates[run_id] + after)) < timedelta(seconds=1), rows

        _end(airflow, runs["failed"])  # long before its deadline
        with _metadata(airflow) as db:  # its deadline comes (the held run's passed before the run existed)
            db.execute(
                "UPDATE deadline SET deadline_time = now() WHERE dagrun_id IN "
                "(SELECT id FROM dag_run WHERE dag_id = %s AND run_id = %s)",
                (DAG, runs["failed"]),
            )

        def callbacks_done() -> bool:
            rows = _deadlines(airflow, list(runs.values()))
            return all(r[2] and r[3] in ("success", "failed") for found in rows.values() for r in found)

        wait_until(callbacks_done, timeout=TIMEOUT_S, interval=1, message="deadline callbacks", error=AssertionError)
        done = _deadlines(airflow, list(runs.values()))
        assert [r[3:] for r in done[runs["failed"]]] == [("success", "in time")], done
        assert [r[3] for r in done[runs["held"]]] == ["success"], done

        # (Other runs' late alerts and alarm notifications may reach the topic meanwhile: the backfills before.)
        alerts = [a for a in _all_alerts(pipeline, queue) if a.get("run_id") in runs.values()]
        assert len(alerts) == 1, alerts
        alert = alerts[0]
        assert (alert["alert"], alert["dag_id"], alert["run_id"], alert["batch_id"]) == (
            "late_run",
            DAG,
            runs["held"],
            "20261122T05",
        )
        assert alert["deadline_minutes"] == config.FRESHNESS_DEADLINE_MINUTES
        late_by = datetime.now(UTC) - (logical_dates[runs["held"]] + after)
        assert alert["state"] == "queued" and 0 <= late_by.total_seconds() - alert["late_by_seconds"] < TIMEOUT_S

        # Once per run: the deadline is marked missed, and ending the run late sends nothing more.
        _end(airflow, runs["held"])
        assert [a for a in _all_alerts(pipeline, queue) if a.get("run_id") in runs.values()] == []
    finally:
        set_paused(airflow, DAG, False)

    # A run that succeeds in time has its deadline pruned: nothing is left to fire for it. (A manual run of
    # the hour before now: its deadline is 90 minutes away.)
    on_time = "freshness_on_time"
    airflow.api(
        "POST",
        f"/api/v2/dags/{DAG}/dagRuns",
        {"dag_run_id": on_time, "logical_date": datetime.now(UTC).isoformat(), "conf": CONF},
    )
    assert len(_deadlines(airflow, [on_time])[on_time]) == 1
    run_path = f"/api/v2/dags/{DAG}/dagRuns/{on_time}"
    wait_until(
        lambda: airflow.api("GET", run_path)["state"] in ("success", "failed"),
        timeout=RUN_TIMEOUT_S,
        interval=2,
        message="the run on time",
        error=AssertionError,
    )
    assert airflow.api("GET", run_path)["state"] == "success"
    assert _deadlines(airflow, [on_time]) == {on_time: []}
    assert [a for a in _all_alerts(pipeline, queue) if a.get("run_id") == on_time] == []
