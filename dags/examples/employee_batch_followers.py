"""
### Example consumers of the employee batch pipeline's assets

Two DAGs that follow `employee_batch_pipeline` through its assets (`employee_pipeline.assets`), as a
downstream team would. The pipeline emits one event per checked batch (count check and quarantine
gate passed), partitioned by the batch id `YYYYMMDDTHH`, with the batch, its load and its row counts
in the event's extra.

- **employee_batch_hourly_follower** runs once per loaded hour; its partition key is the batch id.
- **employee_batch_daily_rollup** runs once per UTC day (partition key `YYYY-MM-DD`), when all 24
  hours of that day are loaded.

Both read what triggered them: `dag_run.partition_key` and the events in `triggering_asset_events`.
A consumer must be unpaused when the events arrive: a paused DAG is not queued for them.
Kept out of production parsing (`dags/.airflowignore`, and the MWAA bundle omits `dags/examples/`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import PartitionedAssetTimetable, dag, task

from employee_pipeline import assets

DEFAULT_ARGS = {"owner": "data-engineering", "retries": 2, "retry_delay": timedelta(minutes=1)}


def _batches(triggering_asset_events: Any) -> list[dict[str, Any]]:
    """The extras of the table events that triggered this run, one per loaded batch, oldest first."""
    return [dict(event.extra) for event in triggering_asset_events[assets.TABLE]]


@dag(
    schedule=PartitionedAssetTimetable(assets=assets.TABLE, default_partition_mapper=assets.hourly_partitions()),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=5,
    default_args=DEFAULT_ARGS,
    tags=["employee", "example", "assets", "hourly"],
    doc_md=__doc__,
)
def employee_batch_hourly_follower() -> None:
    @task
    def read_batch(dag_run: Any = None, triggering_asset_events: Any = None) -> dict[str, Any]:
        """The loaded hour this run follows: its batch id (the partition key) and its latest load's counts."""
        latest = _batches(triggering_asset_events)[-1]
        print(f"batch {dag_run.partition_key}: {latest['rows_loaded']} rows loaded in {latest['table']}")
        return {"partition_key": dag_run.partition_key, **latest}

    read_batch()


@dag(
    schedule=PartitionedAssetTimetable(assets=assets.TABLE, default_partition_mapper=assets.daily_rollup()),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["employee", "example", "assets", "daily"],
    doc_md=__doc__,
)
def employee_batch_daily_rollup() -> None:
    @task
    def read_day(dag_run: Any = None, triggering_asset_events: Any = None) -> dict[str, Any]:
        """The day this run covers and the batches loaded in it (the latest load of each hour)."""
        loaded = {batch["batch_id"]: batch for batch in _batches(triggering_asset_events)}
        rows = sum(batch["rows_loaded"] for batch in loaded.values())
        print(f"day {dag_run.partition_key}: {len(loaded)} hours loaded, {rows} rows")
        return {"partition_key": dag_run.partition_key, "batch_ids": sorted(loaded), "rows_loaded": rows}

    read_day()


employee_batch_hourly_follower()
employee_batch_daily_rollup()
