"""What the pipeline produces, as Airflow assets, and the event a checked batch emits on them.

Each Airflow (one MWAA environment per stage) has its own assets, so the names hold no stage: a
consumer DAG names the same asset in every stage, and the event's extra says which stage's bucket
and table hold the batch. The URIs use a scheme of the project's own (``x-``): Airflow treats them
as opaque, so no provider's URI handling runs when a DAG file that names them is parsed.

Every event is partitioned by its batch id (``YYYYMMDDTHH``), whatever kind of run loaded the hour
(scheduled, backfill or manual): a consumer on ``PartitionedAssetTimetable`` gets one run per loaded
hour (``hourly_partitions``) or one per UTC day once its 24 hours are loaded (``daily_rollup``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset

from employee_pipeline.config import PipelineNames
from employee_pipeline.layout import BATCH_ID_FORMAT, raw_prefix
from employee_pipeline.manifest import Manifest

if TYPE_CHECKING:
    from airflow.sdk import IdentityMapper, RollupMapper

GROUP = "employee_pipeline"
RAW_OBJECTS = Asset(name="employee_pipeline.raw_objects", uri="x-employee-pipeline://s3/raw/employees", group=GROUP)
TABLE = Asset(name="employee_pipeline.table", uri="x-employee-pipeline://dynamodb/employees", group=GROUP)
OUTLETS = [RAW_OBJECTS, TABLE]


def batch_extra(manifest: Manifest, stage: str) -> dict[str, Any]:
    """What every event of a batch carries: the batch, its load and its row counts."""
    return {
        "batch_id": manifest.batch_id,
        "load_id": manifest.load_id,
        "rows_read": manifest.read,
        "rows_loaded": manifest.valid,
        "rows_quarantined": manifest.quarantined,
        "stage": stage,
    }


def announce_batch(outlet_events: Any, manifest: Manifest, names: PipelineNames) -> None:
    """Fill the outlet events of a checked batch: one event per asset, keyed by the batch id, with where
    the batch lives. Call only after the count check and the quarantine gate passed."""
    extra = batch_extra(manifest, names.stage)
    where = {
        RAW_OBJECTS: {"bucket": names.data_bucket, "prefix": raw_prefix(manifest.batch_id)},
        TABLE: {"table": names.table},
    }
    for asset, location in where.items():
        event = outlet_events[asset]
        event.extra.update({**extra, **location})
        event.add_partitions(manifest.batch_id)


def hourly_partitions() -> IdentityMapper:
    """A consumer's run per loaded hour: its partition key is the batch id."""
    from airflow.sdk import IdentityMapper  # imported here: the pipeline's DAG file needs no mapper

    return IdentityMapper()


def daily_rollup() -> RollupMapper:
    """A consumer's run per UTC day (key ``YYYY-MM-DD``), once all 24 of its hours are loaded."""
    from airflow.sdk import DayWindow, RollupMapper, StartOfDayMapper

    return RollupMapper(upstream_mapper=StartOfDayMapper(input_format=BATCH_ID_FORMAT), window=DayWindow())
