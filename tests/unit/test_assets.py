"""The pipeline's assets: the events a checked batch emits, the consumers' partition mappers as the scheduler
runs them, and the example consumer DAGs (they parse, without I/O, into the two consumers)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from employee_pipeline import assets, layout
from employee_pipeline.config import pipeline_names
from tests.support.manifests import BATCH, sample_manifest

EXAMPLES = Path(__file__).resolve().parents[2] / "dags" / "examples"
DAY = datetime(2026, 11, 25, tzinfo=UTC)
HOURS = [layout.batch_id_for(DAY + timedelta(hours=h)) for h in range(24)]


def _sent(outlet_events: object) -> list[dict]:
    """What the task runner sends the API server for the filled outlet events."""
    from airflow.sdk.execution_time.task_runner import _serialize_outlet_events

    return list(_serialize_outlet_events(outlet_events))


def test_a_checked_batch_emits_one_event_per_asset_keyed_by_its_batch_with_its_counts_and_place() -> None:
    from airflow.sdk.execution_time.context import OutletEventAccessors

    names = pipeline_names("qa", "employee-pipeline")
    events = OutletEventAccessors()
    assets.announce_batch(events, sample_manifest(), names)

    counts = {"batch_id": BATCH, "load_id": "jr_1", "rows_read": 12, "rows_loaded": 9, "rows_quarantined": 3}
    by_asset = {event["dest_asset_key"]["name"]: event for event in _sent(events)}
    assert by_asset == {
        assets.RAW_OBJECTS.name: {
            "dest_asset_key": {"name": assets.RAW_OBJECTS.name, "uri": assets.RAW_OBJECTS.uri},
            "extra": {**counts, "stage": "qa", "bucket": names.data_bucket, "prefix": layout.raw_prefix(BATCH)},
            "partition_key": BATCH,
        },
        assets.TABLE.name: {
            "dest_asset_key": {"name": assets.TABLE.name, "uri": assets.TABLE.uri},
            "extra": {**counts, "stage": "qa", "table": names.table},
            "partition_key": BATCH,
        },
    }


def test_the_assets_name_no_stage_and_use_an_opaque_scheme() -> None:
    for asset in assets.OUTLETS:
        assert asset.uri.startswith("x-employee-pipeline://")  # no provider's URI handling at parse time
        assert "dev" not in asset.uri and "dev" not in asset.name
    assert len({asset.name for asset in assets.OUTLETS}) == len(assets.OUTLETS)


def _as_scheduled(mapper: object) -> object:
    """The mapper as the scheduler holds it: through the DAG serialization, into Airflow core's class."""
    from airflow.serialization.decoders import decode_partition_mapper
    from airflow.serialization.encoders import encode_partition_mapper

    return decode_partition_mapper(encode_partition_mapper(mapper))


def test_the_daily_rollup_waits_for_the_24_batches_of_a_utc_day() -> None:
    daily = _as_scheduled(assets.daily_rollup())
    assert {daily.to_downstream(batch) for batch in HOURS} == {"2026-11-25"}
    assert daily.to_downstream(layout.batch_id_for(DAY - timedelta(hours=1))) == "2026-11-24"
    assert daily.to_upstream("2026-11-25") == frozenset(HOURS)


def test_the_hourly_follower_runs_per_batch() -> None:
    hourly = _as_scheduled(assets.hourly_partitions())
    assert [hourly.to_downstream(batch) for batch in HOURS[:2]] == HOURS[:2]


def _no_io(*args: object, **kwargs: object) -> None:
    raise AssertionError("I/O at DAG parse time")


def test_the_example_consumers_parse_without_io_and_follow_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.client
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import PartitionedAssetTimetable, Variable

    monkeypatch.setattr(socket.socket, "connect", _no_io)
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", _no_io)
    monkeypatch.setattr(Variable, "get", _no_io)
    bag = DagBag(dag_folder=str(EXAMPLES))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"employee_batch_hourly_follower", "employee_batch_daily_rollup"}
    for dag in bag.dags.values():
        assert isinstance(dag.timetable, PartitionedAssetTimetable)
        assert dag.timetable.asset_condition == assets.TABLE
