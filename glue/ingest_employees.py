"""Glue 5.0 Spark job: ingest one hourly batch of employees from S3 into DynamoDB.

Entry point ``main()`` parses the job arguments and owns the SparkSession; the
transforms (``parse_lines``, ``classify``, ``to_items``) are pure
``DataFrame -> DataFrame`` functions that unit tests call on a local session.

All S3 and DynamoDB I/O goes through boto3 inside Spark tasks, so the job runs
unchanged on Glue and on a plain local SparkSession (which cannot read
``s3://`` and has no Glue DynamoDB connector):

* the driver lists the batch's shard objects; executors fetch them;
* every line is parsed against ``EMPLOYEE_SCHEMA`` in PERMISSIVE mode and
  checked; a bad line goes to ``quarantine/`` with its reason, never dropped;
* valid rows are de-duplicated on ``emp_id`` and upserted per partition with
  ``Table.batch_writer``;
* a manifest ``{batch_id, read, valid, quarantined, written, ...}`` is written
  last, so its presence means the load succeeded.

Any failure propagates: the process exits non-zero and the run is FAILED.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

# The one record schema of the pipeline; the generator's contract test checks it.
EMPLOYEE_SCHEMA = T.StructType(
    [
        T.StructField("emp_id", T.StringType()),
        T.StructField("name", T.StringType()),
        T.StructField("age", T.IntegerType()),
        T.StructField("salary", T.DoubleType()),
        T.StructField("department", T.StringType()),
        T.StructField("email", T.StringType()),
        T.StructField("hire_date", T.StringType()),
        T.StructField("city", T.StringType()),
        T.StructField("batch_id", T.StringType()),
        T.StructField("shard", T.IntegerType()),
    ]
)
RECORD_FIELDS = [f.name for f in EMPLOYEE_SCHEMA.fields]
CORRUPT_COLUMN = "_corrupt_record"
RAW_SCHEMA = T.StructType(
    [
        T.StructField("source_key", T.StringType(), False),
        T.StructField("line_no", T.IntegerType(), False),
        T.StructField("value", T.StringType(), False),
    ]
)
GSI_KEY = "batch_shard"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
MIN_AGE, MAX_AGE = 16, 100
# An object without a single record is reported as one quarantine row on "line 0".
EMPTY_OBJECT_LINE = 0
DYNAMODB_BATCH = 25  # BatchWriteItem's limit
MAX_WRITE_ATTEMPTS = 12
# Adaptive retries back off on DynamoDB throttling instead of failing the task.
BOTO_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10})
THROTTLING_ERRORS = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Read the job arguments; Glue's own (--JOB_ID, --TempDir, ...) are ignored."""
    parser = argparse.ArgumentParser(prog="ingest_employees")
    for name in ("batch_id", "bucket", "source_prefix", "table", "manifest_key", "quarantine_prefix"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--JOB_RUN_ID", default=None)
    args, _ = parser.parse_known_args(argv)
    return args


# ---------------------------------------------------------------- pure transforms


def parse_lines(raw: DataFrame) -> DataFrame:
    """``(source_key, line_no, value)`` -> the same plus every schema field.

    PERMISSIVE parsing keeps malformed lines and lines with wrong types: their
    text lands in ``_corrupt_record`` instead of failing the job.
    """
    parse_schema = T.StructType([*EMPLOYEE_SCHEMA.fields, T.StructField(CORRUPT_COLUMN, T.StringType())])
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_COLUMN}
    parsed = raw.withColumn("_parsed", F.from_json("value", parse_schema, options))
    return parsed.select(
        "source_key",
        "line_no",
        "value",
        *[F.col(f"_parsed.{name}").alias(name) for name in RECORD_FIELDS],
        # A line that is not a JSON object at all parses to a null struct.
        F.when(F.col("_parsed").isNull(), F.col("value"))
        .otherwise(F.col(f"_parsed.{CORRUPT_COLUMN}"))
        .alias(CORRUPT_COLUMN),
    )


def _first_failing_rule(batch_id: str) -> F.Column:
    known = F.array(*[F.lit(name) for name in RECORD_FIELDS])
    rules: list[tuple[F.Column, str]] = [
        (F.col("line_no") == EMPTY_OBJECT_LINE, "empty_object"),
        (F.col(CORRUPT_COLUMN).isNotNull(), "malformed_json_or_wrong_type"),
        (F.size(F.array_except(F.json_object_keys("value"), known)) > 0, "unknown_fields"),
    ]
    rules += [(F.col(name).isNull(), f"missing_{name}") for name in RECORD_FIELDS]
    rules += [
        (F.trim("emp_id") == "", "empty_emp_id"),
        (~F.col("age").between(MIN_AGE, MAX_AGE), "age_out_of_range"),
        (F.col("salary") <= 0, "salary_not_positive"),
        (~F.col("email").rlike(EMAIL_PATTERN), "invalid_email"),
        (~F.col("hire_date").rlike(DATE_PATTERN) | F.to_date("hire_date", "yyyy-MM-dd").isNull(), "invalid_hire_date"),
        (F.col("batch_id") != F.lit(batch_id), "batch_id_mismatch"),
        (F.col("shard") < 0, "invalid_shard"),
    ]
    condition, reason = rules[0]
    expression = F.when(condition, F.lit(reason))
    for condition, reason in rules[1:]:
        expression = expression.when(condition, F.lit(reason))
    return expression.otherwise(F.lit(None).cast(T.StringType()))


def classify(parsed: DataFrame, batch_id: str) -> DataFrame:
    """Add ``reject_reason``: null for a row to load, else why it is quarantined.

    Of several valid rows sharing an ``emp_id`` the first (by source object and
    line) loads; the others are quarantined as ``duplicate_emp_id``.
    """
    checked = parsed.withColumn("reject_reason", _first_failing_rule(batch_id))
    first_seen = Window.partitionBy("emp_id", F.col("reject_reason").isNull()).orderBy("source_key", "line_no")
    return checked.withColumn(
        "reject_reason",
        F.when(
            F.col("reject_reason").isNull() & (F.row_number().over(first_seen) > 1), F.lit("duplicate_emp_id")
        ).otherwise(F.col("reject_reason")),
    )


def to_items(valid: DataFrame) -> DataFrame:
    """Valid rows -> DynamoDB items: the record plus the GSI key ``batch_id#shard``."""
    return valid.select(*RECORD_FIELDS, F.concat_ws("#", "batch_id", F.col("shard").cast("string")).alias(GSI_KEY))


def to_quarantine(rejected: DataFrame) -> DataFrame:
    """Rejected rows -> one JSON document each, with the original line and the reason."""
    return rejected.select(
        "source_key",
        "line_no",
        F.to_json(F.struct("source_key", "line_no", "reject_reason", F.col("value").alias("line"))).alias("json"),
    )


# ---------------------------------------------------------------- I/O inside Spark tasks


def fetch_lines(bucket: str, key: str) -> Iterator[tuple[str, int, str]]:
    """Executor side: the non-blank lines of one shard object, numbered from 1.

    An object with no record at all yields one ``empty_object`` marker, so an
    empty shard is reported instead of silently contributing nothing.
    """
    body = boto3.client("s3", config=BOTO_CONFIG).get_object(Bucket=bucket, Key=key)["Body"].read()
    empty = True
    for line_no, line in enumerate(body.decode("utf-8", errors="replace").splitlines(), start=1):
        if line.strip():
            empty = False
            yield key, line_no, line
    if empty:
        yield key, EMPTY_OBJECT_LINE, ""


def _dynamo_value(value: Any) -> Any:
    # DynamoDB numbers must be Decimal; str() keeps the value as written.
    return Decimal(str(value)) if isinstance(value, float) else value


def _backoff(attempt: int) -> float:
    return min(5.0, 0.05 * 2**attempt) * (0.5 + random.random() / 2)


def batch_write(client: Any, table_name: str, items: list[dict[str, Any]], sleep: Any = time.sleep) -> int:
    """Write up to 25 typed items; retry throttling and unprocessed items. Returns the retries needed.

    botocore retries a throttled call by itself (counted from RetryAttempts);
    items DynamoDB hands back as unprocessed are re-sent here with backoff.
    """
    pending = [{"PutRequest": {"Item": item}} for item in items]
    retries = 0
    for attempt in range(MAX_WRITE_ATTEMPTS):
        try:
            response = client.batch_write_item(RequestItems={table_name: pending})
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in THROTTLING_ERRORS:
                raise
            retries += 1 + err.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            sleep(_backoff(attempt))
            continue
        retries += response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
        pending = response.get("UnprocessedItems", {}).get(table_name, [])
        if not pending:
            return retries
        retries += 1
        sleep(_backoff(attempt))
    raise RuntimeError(
        f"DynamoDB table {table_name} still throttles after {MAX_WRITE_ATTEMPTS} attempts "
        f"({len(pending)} items unwritten)"
    )


def write_items(rows: Iterable[Any], table_name: str) -> Iterator[tuple[int, int]]:
    """Executor side: upsert one partition in batches of 25; yields (written, retries)."""
    client = boto3.client("dynamodb", config=BOTO_CONFIG)
    serializer = TypeSerializer()
    written = retries = 0
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append({k: serializer.serialize(_dynamo_value(v)) for k, v in row.asDict().items() if v is not None})
        if len(chunk) == DYNAMODB_BATCH:
            retries += batch_write(client, table_name, chunk)
            written, chunk = written + len(chunk), []
    if chunk:
        retries += batch_write(client, table_name, chunk)
        written += len(chunk)
    yield written, retries


def write_quarantine_part(index: int, rows: Iterable[Any], bucket: str, prefix: str) -> Iterator[int]:
    """Executor side: one quarantine object per non-empty partition."""
    lines = [row.json for row in rows]
    if lines:
        boto3.client("s3", config=BOTO_CONFIG).put_object(
            Bucket=bucket,
            Key=f"{prefix}part-{index:05d}.jsonl",
            Body=("\n".join(lines) + "\n").encode(),
            ContentType="application/x-ndjson",
        )
    yield len(lines)


# ---------------------------------------------------------------- driver


def list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".jsonl")]
    return sorted(keys)


def delete_prefix(s3: Any, bucket: str, prefix: str) -> None:
    for key in list_keys(s3, bucket, prefix):
        s3.delete_object(Bucket=bucket, Key=key)


def run(spark: SparkSession, args: argparse.Namespace) -> dict[str, Any]:
    """Load one batch; return the manifest it wrote."""
    s3 = boto3.client("s3", config=BOTO_CONFIG)
    # A manifest means "this batch loaded": remove the old one before touching anything.
    s3.delete_object(Bucket=args.bucket, Key=args.manifest_key)
    keys = list_keys(s3, args.bucket, args.source_prefix)
    if not keys:
        raise FileNotFoundError(f"no .jsonl objects under s3://{args.bucket}/{args.source_prefix}")
    # Fail before reading anything if the target table is missing.
    boto3.client("dynamodb", config=BOTO_CONFIG).describe_table(TableName=args.table)
    print(f"batch {args.batch_id}: reading {len(keys)} objects under s3://{args.bucket}/{args.source_prefix}")

    bucket, table = args.bucket, args.table
    lines = spark.sparkContext.parallelize(keys, len(keys)).flatMap(lambda key: fetch_lines(bucket, key))
    classified = classify(parse_lines(spark.createDataFrame(lines, RAW_SCHEMA)), args.batch_id).persist()

    tally = classified.groupBy("source_key", "reject_reason").count().collect()
    reasons: dict[str, int] = {}
    objects: dict[str, dict[str, int]] = {key: {"read": 0, "valid": 0} for key in keys}
    for row in tally:
        objects[row["source_key"]]["read"] += row["count"]
        if row["reject_reason"] is None:
            objects[row["source_key"]]["valid"] += row["count"]
        else:
            reasons[row["reject_reason"]] = reasons.get(row["reject_reason"], 0) + row["count"]
    valid_count = sum(o["valid"] for o in objects.values())
    read_count = sum(o["read"] for o in objects.values())

    delete_prefix(s3, bucket, args.quarantine_prefix)
    rejected = to_quarantine(classified.filter(F.col("reject_reason").isNotNull())).orderBy("source_key", "line_no")
    q_prefix = args.quarantine_prefix
    quarantined = sum(
        rejected.rdd.mapPartitionsWithIndex(lambda i, rows: write_quarantine_part(i, rows, bucket, q_prefix)).collect()
    )
    items = to_items(classified.filter(F.col("reject_reason").isNull()))
    results = items.rdd.mapPartitions(lambda rows: write_items(rows, table)).collect()
    written, retries = sum(r[0] for r in results), sum(r[1] for r in results)
    classified.unpersist()

    if read_count != valid_count + quarantined or written != valid_count:
        raise RuntimeError(
            f"batch {args.batch_id} counts do not add up: read={read_count} valid={valid_count} "
            f"quarantined={quarantined} written={written}"
        )
    manifest = {
        "batch_id": args.batch_id,
        "source_objects": len(keys),
        "read": read_count,
        "valid": valid_count,
        "quarantined": quarantined,
        "written": written,
        "quarantine_prefix": q_prefix,
        "quarantine_reasons": dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
        "objects": objects,
        "dynamodb_retries": retries,
        "job_run_id": args.JOB_RUN_ID,
    }
    s3.put_object(
        Bucket=bucket,
        Key=args.manifest_key,
        Body=json.dumps(manifest, indent=2).encode(),
        ContentType="application/json",
    )
    return manifest


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    spark = SparkSession.builder.appName(f"ingest-employees-{args.batch_id}").getOrCreate()
    try:
        manifest = run(spark, args)
    finally:
        spark.stop()
    print(f"manifest: {json.dumps(manifest, sort_keys=True)}")


if __name__ == "__main__":
    main()
