"""Downstream DAGs follow each loaded hour: a real scheduler's backfill emits one asset event per checked batch
and asset, keyed by the batch, and the example hourly follower runs once per loaded hour and reads its batch.
(A failed quarantine gate emits none: tests/e2e/test_bad_input.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from employee_pipeline import assets, layout
from employee_pipeline.config import DAG_ID
from employee_pipeline.waiting import wait_until
from tests.support.airflow import set_paused

pytestmark = [pytest.mark.e2e, pytest.mark.stage("scheduler")]

FOLLOWER = "employee_batch_hourly_follower"
CONF = {"shards": 1, "records_per_shard": 10}
# Hours no other module of the scheduler tier (which shares this Airflow) processes.
HOURS = [datetime(2026, 11, 26, 2, tzinfo=UTC) + timedelta(hours=h) for h in range(2)]
BATCHES = [layout.batch_id_for(hour) for hour in HOURS]
RUN_TIMEOUT_S = 900


def _wait(condition, what: str, timeout: float = RUN_TIMEOUT_S) -> None:
    wait_until(condition, timeout=timeout, message=f"timed out waiting for {what}", error=AssertionError)


def _follower_runs(airflow) -> dict[str, dict]:
    runs = airflow.api("GET", f"/api/v2/dags/{FOLLOWER}/dagRuns?limit=100")["dag_runs"]
    return {run["partition_key"]: run for run in runs if run["partition_key"] in BATCHES}


def test_a_two_hour_backfill_emits_an_event_per_hour_and_the_follower_runs_for_each(airflow, pipeline) -> None:
    set_paused(airflow, FOLLOWER, False)  # a paused consumer is not queued for the events
    try:
        created = airflow.api(
            "POST",
            "/api/v2/backfills",
            {
                "dag_id": DAG_ID,
                "from_date": HOURS[0].isoformat(),
                "to_date": HOURS[-1].isoformat(),
                "reprocess_behavior": "none",
                "dag_run_conf": CONF,
            },
        )
        path = f"/api/v2/backfills/{created['id']}"
        _wait(lambda: airflow.api("GET", path)["completed_at"] is not None, path)
        runs = airflow.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns?run_type=backfill&limit=100")["dag_runs"]
        by_batch = {layout.batch_id_for(datetime.fromisoformat(r["logical_date"])): r for r in runs}
        assert {batch: by_batch[batch]["state"] for batch in BATCHES} == dict.fromkeys(BATCHES, "success")

        for batch in BATCHES:
            run_id = by_batch[batch]["dag_run_id"]
            query = urlencode({"source_dag_id": DAG_ID, "source_run_id": run_id})  # a run id holds a "+"
            events = airflow.api("GET", f"/api/v2/assets/events?{query}")
            events = events["asset_events"]
            assert sorted(e["name"] for e in events) == sorted(a.name for a in assets.OUTLETS), events
            manifest = pipeline.manifest(batch)
            for event in events:
                assert event["source_task_id"] == "quarantine_gate"
                assert event["partition_key"] == batch
                assert event["extra"] == {
                    "batch_id": batch,
                    "load_id": manifest.load_id,
                    "rows_read": CONF["records_per_shard"],
                    "rows_loaded": CONF["records_per_shard"],
                    "rows_quarantined": 0,
                    "stage": pipeline.names.stage,
                    **(
                        {"table": pipeline.names.table}
                        if event["name"] == assets.TABLE.name
                        else {"bucket": pipeline.names.data_bucket, "prefix": layout.raw_prefix(batch)}
                    ),
                }

        # The follower runs once per loaded hour, its partition key the batch, and reads the batch's event.
        def followed() -> bool:
            return {batch: run["state"] for batch, run in _follower_runs(airflow).items()} == dict.fromkeys(
                BATCHES, "success"
            )

        _wait(followed, "the follower's run of each loaded hour", timeout=300)
        for batch, run in _follower_runs(airflow).items():
            entry = f"/api/v2/dags/{FOLLOWER}/dagRuns/{run['dag_run_id']}/taskInstances/read_batch/xcomEntries"
            value = airflow.api("GET", f"{entry}/return_value")["value"]
            read = json.loads(value) if isinstance(value, str) else value  # as the database holds it
            assert read["partition_key"] == read["batch_id"] == batch
            assert read["load_id"] == pipeline.manifest(batch).load_id
            assert read["rows_loaded"] == CONF["records_per_shard"] and read["table"] == pipeline.names.table
    finally:
        set_paused(airflow, FOLLOWER, True)
