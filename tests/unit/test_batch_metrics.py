"""The per-batch CloudWatch metrics: built from the manifest, the gate's verdict and the run's type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from employee_pipeline import batch_metrics, config
from employee_pipeline.manifest import Manifest, ObjectCounts, Removed

NOW = datetime(2026, 3, 1, 10, 7, 30, tzinfo=UTC)
HOUR_END = datetime(2026, 3, 1, 10, tzinfo=UTC)


def _manifest(read: int = 200, quarantined: int = 10, retries: int = 4, timings: dict | None = None) -> Manifest:
    valid = read - quarantined
    return Manifest(
        batch_id="20260301T09",
        load_id="jr_1",
        shards=2,
        source_objects=2,
        read=read,
        valid=valid,
        quarantined=quarantined,
        written=valid,
        per_shard={"0": valid},
        swept_shards=0,
        removed=Removed(0, 0, 0),
        quarantine_prefix="quarantine/employees/dt=2026-03-01/hour=09/",
        quarantine_reasons={"bad_email": quarantined} if quarantined else {},
        objects={"k": ObjectCounts(read, valid)},
        dynamodb_retries=retries,
        job_run_id="jr_1",
        timings={"read_classify_s": 3.0, "load_s": 7.25, "total_s": 21.5} if timings is None else timings,
    )


def _by_name(data: list[dict[str, Any]]) -> dict[str, tuple[float, str]]:
    return {datum["MetricName"]: (datum["Value"], datum["Unit"]) for datum in data}


def test_every_metric_of_a_passed_scheduled_batch_comes_from_its_manifest_and_clock() -> None:
    data = batch_metrics.metric_data(_manifest(), "prod", passed=True, latency_s=450.0, timestamp=NOW)
    assert _by_name(data) == {
        config.METRIC_ROWS_READ: (200.0, "Count"),
        config.METRIC_ROWS_LOADED: (190.0, "Count"),
        config.METRIC_ROWS_QUARANTINED: (10.0, "Count"),
        config.METRIC_QUARANTINED_FRACTION: (0.05, "None"),
        config.METRIC_DYNAMODB_RETRIES: (4.0, "Count"),
        config.METRIC_BATCHES_LOADED: (1.0, "Count"),
        config.METRIC_GLUE_LOAD_SECONDS: (21.5, "Seconds"),  # the whole load (total_s), not its writes (load_s)
        config.METRIC_LATENCY_SECONDS: (450.0, "Seconds"),
    }
    # One dimension set on every datum (alarms match it exactly), stamped with the publish time.
    assert all(d["Dimensions"] == [{"Name": config.METRIC_DIMENSION, "Value": "prod"}] for d in data)
    assert {d["Timestamp"] for d in data} == {NOW}
    assert config.METRIC_FAILED_RUNS not in _by_name(data)  # the failure callback's


def test_a_failed_gate_reports_its_rows_but_no_loaded_batch() -> None:
    data = _by_name(batch_metrics.metric_data(_manifest(), "prod", passed=False, latency_s=None, timestamp=NOW))
    assert data[config.METRIC_BATCHES_LOADED] == (0.0, "Count")
    assert data[config.METRIC_ROWS_QUARANTINED] == (10.0, "Count")
    assert data[config.METRIC_ROWS_LOADED] == (190.0, "Count")  # in DynamoDB and counted, whatever the gate says
    assert config.METRIC_LATENCY_SECONDS not in data


def test_an_empty_batch_has_no_quarantined_share_and_a_manifest_without_total_no_glue_seconds() -> None:
    manifest = _manifest(read=0, quarantined=0, timings={})
    data = _by_name(batch_metrics.metric_data(manifest, "dev", passed=True, latency_s=None, timestamp=NOW))
    assert data[config.METRIC_QUARANTINED_FRACTION] == (0.0, "None")
    assert config.METRIC_GLUE_LOAD_SECONDS not in data


@pytest.mark.parametrize(
    ("tolerated", "passes"),
    [(0.0, False), (0.049, False), (0.05, True), (1.0, True), (float("nan"), False), (-0.1, False)],
)
def test_the_batch_passes_exactly_when_the_gates_own_check_does(tolerated: float, passes: bool) -> None:
    assert batch_metrics.passes_gate(_manifest(), tolerated, "bucket") is passes


@pytest.mark.parametrize(
    ("run_type", "interval_end", "latency"),
    [
        ("scheduled", HOUR_END, 450.0),
        ("scheduled", HOUR_END - timedelta(days=1), 86_850.0),  # a scheduled run held up for a day
        ("backfill", HOUR_END - timedelta(days=30), None),  # reprocessing an old hour measures no freshness
        ("manual", HOUR_END, None),
        ("scheduled", None, None),
    ],
)
def test_latency_runs_from_the_end_of_the_hour_to_the_check_for_scheduled_runs_only(
    run_type: str, interval_end: datetime | None, latency: float | None
) -> None:
    assert batch_metrics.latency_seconds(run_type, interval_end, NOW) == latency


@pytest.fixture
def gate_task(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The gate task's surroundings: stage ``prod``, the run's context, ``aws_default`` on moto's CloudWatch."""
    import airflow.sdk
    from moto import mock_aws

    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", '{"conn_type": "aws", "extra": {"region_name": "us-east-1"}}')
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(config, "names_from_variables", lambda: config.pipeline_names("prod"))

    def run_as(run_type: Any, data_interval_end: datetime | None) -> None:
        context = {"dag_run": SimpleNamespace(run_type=run_type), "data_interval_end": data_interval_end}
        monkeypatch.setattr(airflow.sdk, "get_current_context", lambda: context)

    with mock_aws():
        yield run_as


def _stored() -> dict[str, float]:
    import boto3

    cloudwatch, now = boto3.client("cloudwatch", region_name="us-east-1"), datetime.now(UTC)
    dimensions = [{"Name": config.METRIC_DIMENSION, "Value": "prod"}]
    found = {}
    for metric in cloudwatch.list_metrics(Namespace=config.METRICS_NAMESPACE, Dimensions=dimensions)["Metrics"]:
        (point,) = cloudwatch.get_metric_statistics(
            Namespace=config.METRICS_NAMESPACE,
            MetricName=metric["MetricName"],
            Dimensions=dimensions,
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=5),
            Period=600,
            Statistics=["Sum"],
        )["Datapoints"]
        found[metric["MetricName"]] = point["Sum"]
    return found


def test_the_gate_publishes_a_scheduled_runs_latency_from_the_end_of_its_hour(gate_task: Any) -> None:
    from airflow.sdk.api.datamodels._generated import DagRunType  # what the task's context holds

    hour_end = datetime.now(UTC) - timedelta(minutes=20)
    gate_task(DagRunType.SCHEDULED, hour_end)
    batch_metrics.publish_batch_metrics(_manifest(), 0.0, "bucket")
    stored = _stored()
    assert 20 * 60 <= stored.pop(config.METRIC_LATENCY_SECONDS) < 21 * 60
    assert stored[config.METRIC_BATCHES_LOADED] == 0.0  # 10 of 200 quarantined, none tolerated
    assert stored[config.METRIC_ROWS_QUARANTINED] == 10.0


def test_a_backfill_publishes_no_latency_and_a_failed_publish_never_fails_the_gate(
    gate_task: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.api.datamodels._generated import DagRunType

    gate_task(DagRunType.BACKFILL, datetime(2026, 1, 1, tzinfo=UTC))
    batch_metrics.publish_batch_metrics(_manifest(), 0.1, "bucket")
    stored = _stored()
    assert config.METRIC_LATENCY_SECONDS not in stored
    assert stored[config.METRIC_BATCHES_LOADED] == 1.0
    monkeypatch.setattr(config, "names_from_variables", None)  # any error is logged, not raised
    batch_metrics.publish_batch_metrics(_manifest(), 0.1, "bucket")
