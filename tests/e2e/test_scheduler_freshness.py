"""The freshness Deadline Alert through a real scheduler and triggerer and the local AWS's SNS.

Runs after test_scheduler on its stage and Airflow (same ``stage`` marker), so its runs come for free: a run
that succeeded in time leaves no deadline behind. Two more runs are made but never started (the DAG is paused
meanwhile): one held past its deadline, one failed before it. Waiting the DAG's 30 minutes is replaced by
moving their deadline rows to now, once the test has checked that Airflow set them where the DAG says.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import timedelta
from typing import Any

import pytest

from employee_pipeline import config
from employee_pipeline.config import DAG_ID
from employee_pipeline.waiting import wait_until

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


def _pause(airflow: Any, paused: bool) -> None:
    airflow.api("PATCH", f"/api/v2/dags/{DAG}", {"is_paused": paused})


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
    _pause(airflow, True)  # the runs are created (and queued: their deadline is set) but never start
    try:
        for run_id in runs.values():
            airflow.api(
                "POST",
                f"/api/v2/dags/{DAG}/dagRuns",
                # No logical date: the batch is the hour of run_after.
                {"dag_run_id": run_id, "logical_date": None, "run_after": "2026-11-22T05:30:00+00:00", "conf": CONF},
            )
        created = _deadlines(airflow, list(runs.values()))
        for rows in created.values():
            assert len(rows) == 1, created
            deadline_time, queued_at, missed, _, _ = rows[0]
            assert deadline_time == queued_at + timedelta(minutes=config.FRESHNESS_DEADLINE_MINUTES), rows
            assert not missed

        _end(airflow, runs["failed"])  # before its deadline
        with _metadata(airflow) as db:  # the 30 minutes pass
            db.execute(
                "UPDATE deadline SET deadline_time = now() WHERE dagrun_id IN "
                "(SELECT id FROM dag_run WHERE dag_id = %s AND run_id = ANY(%s))",
                (DAG, list(runs.values())),
            )

        def callbacks_done() -> bool:
            rows = _deadlines(airflow, list(runs.values()))
            return all(r[2] and r[3] in ("success", "failed") for found in rows.values() for r in found)

        wait_until(callbacks_done, timeout=TIMEOUT_S, interval=1, message="deadline callbacks", error=AssertionError)
        done = _deadlines(airflow, list(runs.values()))
        assert [r[3:] for r in done[runs["failed"]]] == [("success", "in time")], done
        assert [r[3] for r in done[runs["held"]]] == ["success"], done

        alerts = _all_alerts(pipeline, queue)
        assert len(alerts) == 1, alerts
        alert = alerts[0]
        assert (alert["alert"], alert["dag_id"], alert["run_id"], alert["batch_id"]) == (
            "late_run",
            DAG,
            runs["held"],
            "20261122T05",
        )
        assert alert["deadline_minutes"] == config.FRESHNESS_DEADLINE_MINUTES
        assert alert["state"] == "queued" and 0 <= alert["late_by_seconds"] < TIMEOUT_S

        # Once per run: the deadline is marked missed, and ending the run late sends nothing more.
        _end(airflow, runs["held"])
        assert _all_alerts(pipeline, queue) == []
    finally:
        _pause(airflow, False)

    # Runs that succeeded in time (test_scheduler's; alone, the scheduled run the unpaused DAG made) had
    # their deadline pruned: nothing is left to fire for them.
    def succeeded_in_time() -> list[int]:
        with _metadata(airflow) as db:
            db.execute(
                "SELECT id FROM dag_run WHERE dag_id = %s AND state = 'success' AND end_date <= queued_at + %s",
                (DAG, timedelta(minutes=config.FRESHNESS_DEADLINE_MINUTES)),
            )
            return [row[0] for row in db.fetchall()]

    in_time = wait_until(
        succeeded_in_time, timeout=RUN_TIMEOUT_S, interval=2, message="a successful run", error=AssertionError
    )
    with _metadata(airflow) as db:
        db.execute("SELECT dagrun_id FROM deadline WHERE dagrun_id = ANY(%s)", (in_time,))
        assert db.fetchall() == []
