"""What a batch left in AWS: its DynamoDB count per shard and its manifest (demo summary, tests)."""

from __future__ import annotations

from employee_pipeline import layout
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
