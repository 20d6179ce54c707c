"""One load of a batch, step by step: claim, read and classify, quarantine, write, sweep, manifest.

Each step that changes the batch first confirms the fence (the executors confirm it again before they
write). The manifest is written last, so its presence means the load succeeded.
"""

from __future__ import annotations

import argparse
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from employee_ingest.clients import client, describe_table
from employee_ingest.fence import Fence
from employee_ingest.objects import delete_keys, fetch_lines, list_keys, write_quarantine_part
from employee_ingest.schema import RAW_SCHEMA
from employee_ingest.sweep import sweep_batch
from employee_ingest.transforms import classify, parse_lines, to_items, to_quarantine
from employee_ingest.writes import write_items
from employee_pipeline.layout import raw_key
from employee_pipeline.manifest import Manifest, ObjectCounts, Removed


@dataclass
class _Clock:
    """Progress lines on stdout, and seconds per step for the manifest."""

    batch_id: str
    started: float = field(default_factory=time.monotonic)
    step: float = field(default_factory=time.monotonic)
    timings: dict[str, float] = field(default_factory=dict)

    def mark(self) -> None:
        """The next step starts now."""
        self.step = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.timings[name], self.step = round(now - self.step, 3), now

    def say(self, message: str) -> None:
        print(f"batch {self.batch_id}: {message} ({time.monotonic() - self.started:.1f}s)", flush=True)


def _tally(classified: DataFrame, keys: list[str]) -> tuple[dict[str, ObjectCounts], dict[str, int]]:
    """Rows read and valid per shard object, and the quarantine reasons, most frequent first."""
    objects = dict.fromkeys(keys, (0, 0))
    reasons: dict[str, int] = {}
    for row in classified.groupBy("source_key", "reject_reason").count().collect():
        read, valid = objects[row["source_key"]]
        objects[row["source_key"]] = (
            read + row["count"],
            valid + (row["count"] if row["reject_reason"] is None else 0),
        )
        if row["reject_reason"] is not None:
            reasons[row["reject_reason"]] = reasons.get(row["reject_reason"], 0) + row["count"]
    ordered = dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0])))
    return {key: ObjectCounts(read, valid) for key, (read, valid) in objects.items()}, ordered


def run(spark: SparkSession, args: argparse.Namespace) -> Manifest:
    """Load one batch as exactly this run's shard objects; return the manifest it wrote."""
    clock = _Clock(args.batch_id)
    # A batch holds at most 5,000 rows a shard: Spark's default of 200 shuffle partitions would mostly
    # schedule empty tasks, each writer task with its own boto3 client.
    spark.conf.set("spark.sql.shuffle.partitions", str(max(2, min(200, args.shards))))
    sc = spark.sparkContext
    s3, dynamodb = client("s3"), client("dynamodb")
    load_id = args.JOB_RUN_ID or f"load-{uuid.uuid4()}"
    bucket, table, batch_id, q_prefix = args.bucket, args.table, args.batch_id, args.quarantine_prefix
    # Fail before touching anything if a table is missing or another run holds the batch.
    for name in (table, args.lease_table):
        describe_table(dynamodb, name)
    fence = Fence(args.lease_table, batch_id, args.lease_owner, load_id)
    earlier = fence.begin(dynamodb, args.shards)
    # A manifest means "this batch loaded": remove the old one before touching anything.
    s3.delete_object(Bucket=bucket, Key=args.manifest_key)

    keys = [raw_key(batch_id, shard) for shard in range(args.shards)]
    present = set(list_keys(s3, bucket, args.source_prefix, suffix=""))
    missing = [f"s3://{bucket}/{key}" for key in keys if key not in present]
    if missing:
        raise FileNotFoundError(f"batch {batch_id}: {len(missing)} of {len(keys)} shard objects are missing: {missing}")
    stale_objects = sorted(present - set(keys))
    clock.say(f"load {load_id} reads {len(keys)} objects under s3://{bucket}/{args.source_prefix}")

    lines = sc.parallelize(keys, len(keys)).flatMap(lambda key: fetch_lines(bucket, key))
    classified = classify(parse_lines(spark.createDataFrame(lines, RAW_SCHEMA)), batch_id, load_id).persist()
    clock.mark()
    objects, reasons = _tally(classified, keys)
    clock.lap("read_classify_s")
    read, valid = sum(o.read for o in objects.values()), sum(o.valid for o in objects.values())
    clock.say(f"read {read} rows, {valid} valid")

    fence.confirm(dynamodb, "before rewriting the quarantine")
    old_quarantine = delete_keys(s3, bucket, list_keys(s3, bucket, q_prefix, suffix=""))
    rejected = to_quarantine(classified.filter(F.col("reject_reason").isNotNull())).orderBy("source_key", "line_no")
    parts = rejected.rdd.mapPartitionsWithIndex(lambda i, rows: write_quarantine_part(i, rows, bucket, q_prefix))
    quarantined = sum(parts.collect())
    clock.lap("quarantine_s")
    items = to_items(classified.filter(F.col("reject_reason").isNull()), load_id)
    fence.confirm(dynamodb, "before writing items")
    results: list[Any] = items.rdd.mapPartitions(lambda rows: write_items(rows, table, fence)).collect()
    clock.lap("load_s")
    written, retries = sum(r[0] for r in results), sum(r[1] for r in results)
    classified.unpersist()
    clock.say(f"quarantined {quarantined} rows, wrote {written} items")
    if read != valid + quarantined or written != valid:
        raise RuntimeError(
            f"batch {batch_id} counts do not add up: read={read} valid={valid} "
            f"quarantined={quarantined} written={written}"
        )

    # Replace, not merge: whatever an earlier run of the batch left goes, in every shard it may have used.
    fence.confirm(dynamodb, "before removing what earlier runs left")
    # Earlier loads wrote shards below their own shard counts, which the lease keeps.
    sweep = min(args.max_shards, max(earlier, default=0))
    removed_items = sweep_batch(sc, sweep, table, batch_id, load_id)
    fence.confirm(dynamodb, "before removing stale objects")
    removed_objects = delete_keys(s3, bucket, stale_objects)
    clock.lap("sweep_s")
    clock.timings["total_s"] = round(clock.step - clock.started, 3)
    swept = f"shards 0-{sweep - 1}" if sweep else "no earlier load"
    clock.say(f"removed {removed_items} stale items ({swept}) and {removed_objects} objects")

    manifest = Manifest(
        batch_id=batch_id,
        load_id=load_id,
        shards=args.shards,
        source_objects=len(keys),
        read=read,
        valid=valid,
        quarantined=quarantined,
        written=written,
        per_shard={str(shard): objects[key].valid for shard, key in enumerate(keys)},
        swept_shards=sweep,
        removed=Removed(dynamodb_items=removed_items, raw_objects=removed_objects, quarantine_objects=old_quarantine),
        quarantine_prefix=q_prefix,
        quarantine_reasons=reasons,
        objects=objects,
        dynamodb_retries=retries,
        job_run_id=args.JOB_RUN_ID,
        timings=clock.timings,
    )
    fence.confirm(dynamodb, "before writing the manifest")
    s3.put_object(
        Bucket=bucket, Key=args.manifest_key, Body=manifest.to_json().encode(), ContentType="application/json"
    )
    return manifest
