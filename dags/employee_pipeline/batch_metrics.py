"""Per-batch CloudWatch metrics: what one counted load read, loaded and quarantined, and how long it took.

The quarantine gate publishes them once ``count_check`` has passed, before its own threshold check, so a
batch the gate fails still reports its quarantined rows. Namespace ``config.METRICS_NAMESPACE``, one
dimension (``stage``): infra's alarms and dashboard match exactly that dimension set.

* ``RowsRead``, ``RowsLoaded`` (the items the count check found), ``RowsQuarantined``, ``QuarantinedFraction``
  and ``DynamoDBRetries``: from the manifest, whether or not the gate passes (loaded rows are loaded).
* ``GlueLoadSeconds``: the manifest's ``total_s``, the whole load (read, classify, quarantine, write, sweep).
* ``BatchesLoaded``: 1 when the batch passes the gate too, else 0 (a batch the gate fails is not one
  downstream may use); "no loaded batch for 2 hours" therefore also fires when every batch is quarantined.
* ``EndToEndLatencySeconds``: from the end of the batch's hour to the passed count check (the gate runs
  right after it: its clock is the bound), for scheduled runs only. A backfill or manual rerun of an old
  hour measures when someone reprocessed it, not how fresh the hourly data is.

Every datum carries the time it is published: CloudWatch refuses timestamps over two weeks old, which a
backfill's batch hour can be.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from employee_pipeline import config, quality
from employee_pipeline.manifest import Manifest

log = logging.getLogger(__name__)

SCHEDULED = "scheduled"  # DagRunType.SCHEDULED's value: the runs whose latency is published
GLUE_LOAD_TIMING = "total_s"  # the manifest timing of the Glue job's whole load (``load_s`` is its writes only)


def quarantined_fraction(manifest: Manifest) -> float:
    """The share of the rows read that were quarantined (0 for an empty batch), as the gate computes it."""
    return manifest.quarantined / manifest.read if manifest.read else 0.0


def passes_gate(manifest: Manifest, tolerated_fraction: float, bucket: str) -> bool:
    """Whether the gate's own check (``quality.check_quarantine``) lets the batch through."""
    try:
        quality.check_quarantine(manifest, tolerated_fraction, bucket)
    except (quality.QuarantineThresholdError, ValueError):
        return False
    return True


def latency_seconds(run_type: str, data_interval_end: datetime | None, checked_at: datetime) -> float | None:
    """Seconds from the end of the batch's hour to ``checked_at``; None unless a scheduled run."""
    if run_type != SCHEDULED or data_interval_end is None:
        return None
    return round((checked_at - data_interval_end).total_seconds(), 3)


def metric_data(
    manifest: Manifest, stage: str, *, passed: bool, latency_s: float | None, timestamp: datetime
) -> list[dict[str, Any]]:
    """The ``MetricData`` of PutMetricData for one batch."""
    values: list[tuple[str, float, str]] = [
        (config.METRIC_ROWS_READ, manifest.read, "Count"),
        (config.METRIC_ROWS_LOADED, manifest.written, "Count"),
        (config.METRIC_ROWS_QUARANTINED, manifest.quarantined, "Count"),
        (config.METRIC_QUARANTINED_FRACTION, quarantined_fraction(manifest), "None"),
        (config.METRIC_DYNAMODB_RETRIES, manifest.dynamodb_retries, "Count"),
        (config.METRIC_BATCHES_LOADED, 1 if passed else 0, "Count"),
    ]
    if GLUE_LOAD_TIMING in manifest.timings:
        values.append((config.METRIC_GLUE_LOAD_SECONDS, manifest.timings[GLUE_LOAD_TIMING], "Seconds"))
    if latency_s is not None:
        values.append((config.METRIC_LATENCY_SECONDS, latency_s, "Seconds"))
    dimensions = [{"Name": config.METRIC_DIMENSION, "Value": stage}]
    return [
        {"MetricName": name, "Dimensions": dimensions, "Timestamp": timestamp, "Value": float(value), "Unit": unit}
        for name, value, unit in values
    ]


def publish_batch_metrics(manifest: Manifest, tolerated_fraction: float, bucket: str) -> None:
    """Publish the batch's metrics from inside the gate task (its run and stage from the task's context).

    A failed publish is logged, never raised: the batch is loaded and checked whatever CloudWatch says, and
    the missing ``BatchesLoaded`` datum makes the "no loaded batch" alarm fire.
    """
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.sdk import get_current_context

    checked_at = datetime.now(UTC)
    try:
        context = get_current_context()
        # The task SDK's DagRunType is a str enum whose str() is its name: compare its value.
        run_type = getattr(context["dag_run"].run_type, "value", context["dag_run"].run_type)
        data = metric_data(
            manifest,
            config.names_from_variables().stage,
            passed=passes_gate(manifest, tolerated_fraction, bucket),
            latency_s=latency_seconds(run_type, context.get("data_interval_end"), checked_at),
            timestamp=checked_at,
        )
        cloudwatch = AwsBaseHook(aws_conn_id=config.AWS_CONN_ID, client_type="cloudwatch").conn
        cloudwatch.put_metric_data(Namespace=config.METRICS_NAMESPACE, MetricData=data)
        log.info("Published %d metrics of batch %s to %s", len(data), manifest.batch_id, config.METRICS_NAMESPACE)
    except Exception:
        log.exception("Could not publish the metrics of batch %s", manifest.batch_id)
