"""What batches left in AWS: a batch's DynamoDB count per shard and its manifest, and the metrics the
stage's batches published (demo summary, tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from employee_pipeline import config, layout
from employee_pipeline.config import GSI_KEY, PipelineNames
from employee_pipeline.manifest import Manifest
from employee_pipeline_ops.batch_count import count_batch
from infra.session import AwsTarget


def batch_counts(target: AwsTarget, names: PipelineNames, batch_id: str, shards: int) -> dict[int, int]:
    """Items per shard, counted the way the DAG's count check counts them."""
    return count_batch(
        target.resource("dynamodb").meta.client,
        table_name=names.table,
        index_name=names.gsi,
        key_name=GSI_KEY,
        batch_id=batch_id,
        shards=shards,
    )


def read_manifest(target: AwsTarget, names: PipelineNames, batch_id: str) -> Manifest | None:
    """The batch's manifest, or None while no run has loaded it."""
    s3 = target.client("s3")
    try:
        body = s3.get_object(Bucket=names.data_bucket, Key=layout.manifest_key(batch_id))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return Manifest.from_json(body)


STATISTICS = ("SampleCount", "Sum", "Minimum", "Maximum")


def published_metrics(target: AwsTarget, stage: str, hours: int = 24) -> dict[str, dict[str, float]]:
    """Metric name -> its ``STATISTICS`` over every data point the stage's batches published in the last
    ``hours``, as CloudWatch aggregates them (one period for the whole span)."""
    cloudwatch, now = target.client("cloudwatch"), datetime.now(UTC)
    dimensions = [{"Name": config.METRIC_DIMENSION, "Value": stage}]
    found = {}
    for metric in cloudwatch.list_metrics(Namespace=config.METRICS_NAMESPACE, Dimensions=dimensions)["Metrics"]:
        if metric["Dimensions"] != dimensions:  # list_metrics also matches supersets of the dimensions
            raise ValueError(f"{metric['MetricName']} has dimensions {metric['Dimensions']}, not {dimensions}")
        points = cloudwatch.get_metric_statistics(
            Namespace=config.METRICS_NAMESPACE,
            MetricName=metric["MetricName"],
            Dimensions=dimensions,
            StartTime=now - timedelta(hours=hours),
            EndTime=now + timedelta(minutes=5),
            Period=hours * 3600,
            Statistics=list(STATISTICS),
        )["Datapoints"]
        if points:
            found[metric["MetricName"]] = {
                "SampleCount": sum(p["SampleCount"] for p in points),
                "Sum": sum(p["Sum"] for p in points),
                "Minimum": min(p["Minimum"] for p in points),
                "Maximum": max(p["Maximum"] for p in points),
            }
    return dict(sorted(found.items()))
