"""Glue 5.0 Spark job: ingest one hourly batch of employees from S3 into DynamoDB.

Entry point ``main()`` parses the job arguments and owns the SparkSession; the
transforms (``parse_lines``, ``classify``, ``to_items``) are pure
``DataFrame -> DataFrame`` functions that unit tests call on a local session.

All S3 and DynamoDB I/O goes through boto3 inside Spark tasks, so the job runs
unchanged on Glue and on a plain local SparkSession (which cannot read
``s3://`` and has no Glue DynamoDB connector):

* the job records itself as the load of the DAG run holding the batch's lease (one writer per
  batch; a load started beside another of the same run is refused), and confirms that lease
  before every step that changes the batch, in the executors before they write as well;
* executors fetch exactly this run's shard objects (``part-00000`` .. ``shards - 1``);
* every line is parsed against ``EMPLOYEE_SCHEMA`` in PERMISSIVE mode and
  checked, including that its ``emp_id`` is one of its batch and shard and every
  per-item limit DynamoDB enforces; a bad line goes to
  ``quarantine/`` with its reason, never dropped;
* valid rows are de-duplicated on ``emp_id`` and upserted per partition with
  ``BatchWriteItem``, each item tagged with this load's id (the job run id);
* what earlier runs of the batch left is removed: items of the batch written by
  another load, in exactly the shards earlier loads had (the lease keeps every load's
  shard count; a first load reads nothing back), 25 to a ``BatchWriteItem``, then the
  shard objects this run did not write;
* a manifest ``{batch_id, load_id, read, valid, quarantined, written, shards, removed, ...}``
  is written last, so its presence means the load succeeded.

A failure outside the data (a missing table, permissions, throttling past the
retry budget, a lost lease) fails the run; its error names the cause in its first
line, unwrapped from Spark's JVM wrappers.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
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
        # The line's bytes are not UTF-8 (its value holds them decoded with replacement characters).
        T.StructField("invalid_utf8", T.BooleanType(), False),
    ]
)
# Held to employee_pipeline.config by a test (this script cannot import it on Glue).
GSI_KEY = "batch_shard"
GSI_NAME = "batch_shard-index"
TABLE_KEY = "emp_id"
LOAD_ATTRIBUTE = "load_id"
LEASE_KEY = "batch_id"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
MIN_AGE, MAX_AGE = 16, 100
# An object without a single record is reported as one quarantine row on "line 0".
EMPTY_OBJECT_LINE = 0
DYNAMODB_BATCH = 25  # BatchWriteItem's limit
# DynamoDB's per-item limits (Developer Guide: "Quotas" and "Supported data types").
MAX_ITEM_BYTES = 400 * 1024  # attribute names + values, UTF-8
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024  # emp_id is also the GSI's sort key
MAX_NUMBER_DIGITS = 38
MAX_NUMBER = Decimal("9.9999999999999999999999999999999999999E+125")
MIN_NUMBER = Decimal("1E-130")  # smallest magnitude other than zero
# A \uD800-\uDFFF escape without its pair: JSON allows it, no UTF-8 string (so no DynamoDB string) holds it.
# Spark would silently turn it into "?", so it is found in the raw line. The escape must follow an even
# run of backslashes (else it is the text "\\uD800").
_ESCAPE = r"(?:^|[^\\])(?:\\\\)*\\u"
UNPAIRED_SURROGATE_PATTERN = (
    f"{_ESCAPE}[dD][89abAB][0-9a-fA-F]{{2}}(?!\\\\u[dD][c-fC-F][0-9a-fA-F]{{2}})"
    f"|{_ESCAPE}(?<!\\\\u[dD][89abAB][0-9a-fA-F]{{2}}\\\\u)[dD][c-fC-F][0-9a-fA-F]{{2}}"
)
MAX_WRITE_ATTEMPTS = 12
WRITE_THREADS = 4  # BatchWriteItem requests in flight per Spark task (within botocore's 10-connection pool)
# Adaptive retries back off on DynamoDB throttling instead of failing the task.
BOTO_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10})
# The writer's items were checked row by row against DynamoDB's limits (item_problem): botocore's
# own validation of every 25-item request would only repeat that, at a CPU cost per attribute.
WRITE_CONFIG = BOTO_CONFIG.merge(Config(parameter_validation=False))
THROTTLING_ERRORS = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Read the job arguments; Glue's own (--JOB_ID, --TempDir, ...) are ignored."""
    parser = argparse.ArgumentParser(prog="ingest_employees")
    for name in (
        "batch_id",
        "bucket",
        "source_prefix",
        "table",
        "manifest_key",
        "quarantine_prefix",
        "lease_table",
        "lease_owner",
    ):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--shards", type=int, required=True)
    parser.add_argument("--max_shards", type=int, required=True)
    parser.add_argument("--JOB_RUN_ID", default=None)
    args, _ = parser.parse_known_args(argv)
    if not 1 <= args.shards <= args.max_shards:
        parser.error(f"--shards must be between 1 and --max_shards ({args.max_shards}), got {args.shards}")
    return args


def shard_key(source_prefix: str, shard: int) -> str:
    """The object shard ``shard`` of the batch is written to (``layout.raw_key``)."""
    return f"{source_prefix}part-{shard:05d}.jsonl"


# ---------------------------------------------------------------- DynamoDB's per-item limits


def dynamo_value(value: Any) -> Any:
    """A record value as it is sent to DynamoDB: numbers as Decimal (str() keeps a float as written)."""
    if isinstance(value, float):
        return Decimal(str(value)) if math.isfinite(value) else Decimal(value)
    return value


def _significant_digits(number: Decimal) -> int:
    # DynamoDB trims leading and trailing zeros before counting (normalize() would round to 28 digits).
    return max(1, len("".join(map(str, number.as_tuple().digits)).strip("0")))


def number_problem(number: Decimal) -> str | None:
    """Why DynamoDB would refuse this number, or None."""
    if not number.is_finite():
        return "dynamodb_number_not_representable"  # DynamoDB has no NaN or Infinity
    if number.is_zero():
        return None
    if _significant_digits(number) > MAX_NUMBER_DIGITS:
        return "dynamodb_number_too_precise"
    if not MIN_NUMBER <= number.copy_abs() <= MAX_NUMBER:  # copy_abs: abs() would round to 28 digits
        return "dynamodb_number_out_of_range"
    return None


def _number_size(number: Decimal) -> int:
    # "About one byte per two significant digits, plus one byte" (Developer Guide, item sizes).
    return math.ceil(_significant_digits(number) / 2) + 1


def item_size(item: dict[str, Any]) -> int:
    """The item's size as DynamoDB counts it: attribute names plus values."""
    size = 0
    for name, value in item.items():
        size += len(name.encode("utf-8"))
        if isinstance(value, str):
            size += len(value.encode("utf-8"))
        elif isinstance(value, bool) or value is None:
            size += 1
        elif isinstance(value, int | Decimal):
            size += _number_size(Decimal(value))
        else:
            raise TypeError(f"attribute {name!r} has a type items of this table never hold: {type(value).__name__}")
    return size


def _utf8_bytes(value: str) -> int | None:
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def item_problem(item: dict[str, Any]) -> str | None:
    """Why DynamoDB would refuse to store ``item`` (as ``to_item`` builds it), or None.

    Every per-item limit a record's content can break. The others cannot be reached
    by this schema: attribute names are fixed, items are flat (no nesting depth),
    there are no sets, binary values or local secondary indexes.
    """
    for value in item.values():
        if isinstance(value, str) and _utf8_bytes(value) is None:
            return "unpaired_surrogate"
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            problem = number_problem(Decimal(value))
            if problem:
                return problem
    for key in (TABLE_KEY, GSI_KEY):
        if not item.get(key):
            return "dynamodb_empty_key"
    key_bytes = max(len(item[TABLE_KEY].encode("utf-8")), len(item[GSI_KEY].encode("utf-8")))
    if key_bytes > MAX_PARTITION_KEY_BYTES:
        return "dynamodb_partition_key_too_large"
    if len(item[TABLE_KEY].encode("utf-8")) > MAX_SORT_KEY_BYTES:
        return "dynamodb_sort_key_too_large"
    if item_size(item) > MAX_ITEM_BYTES:
        return "dynamodb_item_too_large"
    return None


def literal_problem(line: str) -> str | None:
    """Why DynamoDB would refuse a number as the line writes it, or None.

    Spark parses ``salary`` as a double, which silently rounds a literal of more than 17 digits;
    DynamoDB could hold at most 38 of them, so a longer one cannot be stored as written.
    """
    try:
        record = json.loads(line, parse_float=Decimal, parse_int=Decimal)
    except ValueError:
        return None  # the schema rules already judged the line
    if not isinstance(record, dict):
        return None
    for name in RECORD_FIELDS:
        value = record.get(name)
        if isinstance(value, Decimal):
            problem = number_problem(value)
            if problem:
                return problem
    return None


def to_item(record: dict[str, Any], load_id: str) -> dict[str, Any]:
    """A valid record -> the DynamoDB item: the record, the GSI key ``batch_id#shard`` and the load id."""
    item = {name: dynamo_value(value) for name, value in record.items() if name in RECORD_FIELDS and value is not None}
    item[GSI_KEY] = f"{record['batch_id']}#{record['shard']}"
    item[LOAD_ATTRIBUTE] = load_id
    return item


# ---------------------------------------------------------------- pure transforms


def parse_lines(raw: DataFrame) -> DataFrame:
    """``(source_key, line_no, value, invalid_utf8)`` -> the same plus every schema field.

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
        "invalid_utf8",
        *[F.col(f"_parsed.{name}").alias(name) for name in RECORD_FIELDS],
        # A line that is not a JSON object at all parses to a null struct.
        F.when(F.col("_parsed").isNull(), F.col("value"))
        .otherwise(F.col(f"_parsed.{CORRUPT_COLUMN}"))
        .alias(CORRUPT_COLUMN),
    )


def _source_shard() -> F.Column:
    return F.regexp_extract("source_key", r"part-(\d+)\.jsonl$", 1).cast(T.IntegerType())


def _emp_id_of_row() -> F.Column:
    """``emp_id`` is ``{batch_id}-{shard:05d}-`` of its own row, then one or more ASCII digits.

    Any number of digits, though the generator pads to 6. The same check as
    ``employee_pipeline.layout.is_emp_id_of`` (this script cannot import it on Glue; a test holds
    them together). No pattern is built from data; ``\\z``, unlike ``$``, refuses a trailing newline.
    """
    prefix = F.format_string("%s-%05d-", "batch_id", "shard")
    index = F.col("emp_id").substr(F.length(prefix) + 1, F.length("emp_id"))
    return F.col("emp_id").startswith(prefix) & index.rlike(r"^[0-9]+\z")


def _first_failing_rule(batch_id: str) -> F.Column:
    known = F.array(*[F.lit(name) for name in RECORD_FIELDS])
    rules: list[tuple[F.Column, str]] = [
        (F.col("line_no") == EMPTY_OBJECT_LINE, "empty_object"),
        (F.col("invalid_utf8"), "invalid_utf8"),
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
        # The count check compares per shard: a row counts for the shard whose object holds it.
        (F.col("shard") != _source_shard(), "shard_mismatch"),
        # The table's key is emp_id alone: another hour's or shard's id would overwrite that row's item.
        (~_emp_id_of_row(), "emp_id_mismatch"),
        (F.col("value").rlike(UNPAIRED_SURROGATE_PATTERN), "unpaired_surrogate"),
    ]
    condition, reason = rules[0]
    expression = F.when(condition, F.lit(reason))
    for condition, reason in rules[1:]:
        expression = expression.when(condition, F.lit(reason))
    return expression.otherwise(F.lit(None).cast(T.StringType()))


def _dynamodb_rule(load_id: str) -> Any:
    @F.udf(T.StringType())
    def refused(record: Any, line: str) -> str | None:
        return literal_problem(line) or item_problem(to_item(record.asDict(), load_id))

    return refused


def classify(parsed: DataFrame, batch_id: str, load_id: str = "") -> DataFrame:
    """Add ``reject_reason``: null for a row to load, else why it is quarantined.

    A row that passes the schema rules is checked as the DynamoDB item it would
    become (``item_problem``), and its numbers as written (``literal_problem``).
    Of several valid rows sharing an ``emp_id`` the first (by source object and
    line) loads; the others are quarantined as ``duplicate_emp_id``.
    """
    checked = parsed.withColumn("reject_reason", _first_failing_rule(batch_id))
    record = F.struct(*RECORD_FIELDS)
    checked = checked.withColumn(
        "reject_reason",
        F.when(F.col("reject_reason").isNull(), _dynamodb_rule(load_id)(record, F.col("value"))).otherwise(
            F.col("reject_reason")
        ),
    )
    first_seen = Window.partitionBy("emp_id", F.col("reject_reason").isNull()).orderBy("source_key", "line_no")
    return checked.withColumn(
        "reject_reason",
        F.when(
            F.col("reject_reason").isNull() & (F.row_number().over(first_seen) > 1), F.lit("duplicate_emp_id")
        ).otherwise(F.col("reject_reason")),
    )


def to_items(valid: DataFrame, load_id: str = "") -> DataFrame:
    """Valid rows -> DynamoDB items: the record, the GSI key ``batch_id#shard`` and the load id."""
    return valid.select(
        *RECORD_FIELDS,
        F.concat_ws("#", "batch_id", F.col("shard").cast("string")).alias(GSI_KEY),
        F.lit(load_id).alias(LOAD_ATTRIBUTE),
    )


def to_quarantine(rejected: DataFrame) -> DataFrame:
    """Rejected rows -> one JSON document each, with the original line and the reason."""
    return rejected.select(
        "source_key",
        "line_no",
        F.to_json(F.struct("source_key", "line_no", "reject_reason", F.col("value").alias("line"))).alias("json"),
    )


# ---------------------------------------------------------------- I/O inside Spark tasks


def fetch_lines(bucket: str, key: str) -> Iterator[tuple[str, int, str, bool]]:
    """Executor side: the non-blank lines of one shard object, numbered from 1.

    An object with no record at all yields one ``empty_object`` marker, so an
    empty shard is reported instead of silently contributing nothing. A line that
    is not UTF-8 is flagged (quarantined as ``invalid_utf8``), never silently repaired.
    """
    body = boto3.client("s3", config=BOTO_CONFIG).get_object(Bucket=bucket, Key=key)["Body"].read()
    empty = True
    for line_no, raw in enumerate(body.splitlines(), start=1):
        try:
            line, invalid = raw.decode("utf-8"), False
        except UnicodeDecodeError:
            line, invalid = raw.decode("utf-8", errors="replace"), True
        if line.strip():
            empty = False
            yield key, line_no, line, invalid
    if empty:
        yield key, EMPTY_OBJECT_LINE, "", False


def _backoff(attempt: int) -> float:
    return min(5.0, 0.05 * 2**attempt) * (0.5 + random.random() / 2)


def batch_write(
    client: Any, table_name: str, items: list[dict[str, Any]], sleep: Any = time.sleep, *, delete: bool = False
) -> int:
    """Put up to 25 typed items (with ``delete``: delete up to 25 typed keys); retry throttling and
    unprocessed requests. Returns the retries needed.

    botocore retries a throttled call by itself (counted from RetryAttempts);
    requests DynamoDB hands back as unprocessed are re-sent here with backoff.
    """
    pending = [{"DeleteRequest": {"Key": item}} if delete else {"PutRequest": {"Item": item}} for item in items]
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


def _chunks(rows: Iterable[Any], serializer: TypeSerializer) -> Iterator[list[dict[str, Any]]]:
    """Rows as typed DynamoDB items, 25 at a time (one BatchWriteItem each)."""
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append({k: serializer.serialize(dynamo_value(v)) for k, v in row.asDict().items() if v is not None})
        if len(chunk) == DYNAMODB_BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_items(rows: Iterable[Any], table_name: str, fence: Fence) -> Iterator[tuple[int, int]]:
    """Executor side: upsert one partition in batches of 25, once ``fence`` holds; yields (written, retries).

    WRITE_THREADS requests are in flight at once (a bounded window, so the partition is never held
    twice in memory): one BatchWriteItem at a time leaves the task waiting on the network most of
    the time while this task's items are serialized on the same core.
    """
    client = boto3.client("dynamodb", config=WRITE_CONFIG)
    fence.confirm(boto3.client("dynamodb", config=BOTO_CONFIG), "before writing items")
    written = retries = 0
    in_flight: set[Future[int]] = set()
    with ThreadPoolExecutor(WRITE_THREADS) as pool:
        for chunk in _chunks(rows, TypeSerializer()):
            if len(in_flight) >= 2 * WRITE_THREADS:
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                retries += sum(future.result() for future in done)
            in_flight.add(pool.submit(batch_write, client, table_name, chunk))
            written += len(chunk)
        retries += sum(future.result() for future in in_flight)
    yield written, retries


def sweep_stale_items(shards: Iterable[int], table_name: str, batch_id: str, load_id: str) -> Iterator[int]:
    """Executor side: delete the batch's items that another load wrote, in the given shards; yields the count.

    One paginated Query per shard on the ``batch_id#shard`` index (never a Scan), then the stale keys
    25 to a BatchWriteItem. Unconditional deletes are safe: the load holds the batch's lease (no
    other load writes it), and an item's ``emp_id`` names its batch and shard, so no other batch's
    load can have rewritten it since the index was read.
    """
    client = boto3.client("dynamodb", config=BOTO_CONFIG)
    removed = 0
    for shard in shards:
        request: dict[str, Any] = {
            "TableName": table_name,
            "IndexName": GSI_NAME,
            "KeyConditionExpression": "#g = :g",
            "FilterExpression": "attribute_not_exists(#l) OR #l <> :load",
            "ProjectionExpression": "#k",
            "ExpressionAttributeNames": {"#g": GSI_KEY, "#l": LOAD_ATTRIBUTE, "#k": TABLE_KEY},
            "ExpressionAttributeValues": {":g": {"S": f"{batch_id}#{shard}"}, ":load": {"S": load_id}},
        }
        while True:
            page = client.query(**request)
            keys = [{TABLE_KEY: item[TABLE_KEY]} for item in page.get("Items", [])]
            for start in range(0, len(keys), DYNAMODB_BATCH):
                batch_write(client, table_name, keys[start : start + DYNAMODB_BATCH], delete=True)
            removed += len(keys)
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    yield removed


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


class LeaseLostError(RuntimeError):
    """The DAG run that started this load does not hold the batch's lease for it (any more)."""


class Fence:
    """This load's claim on the batch: its DAG run holds the lease, and the lease records this load.

    Picklable (plain fields), so executors confirm it too before they write.
    """

    def __init__(self, lease_table: str, batch_id: str, owner: str, load_id: str) -> None:
        self.lease_table, self.batch_id, self.owner, self.load_id = lease_table, batch_id, owner, load_id

    def _update(self, client: Any, step: str, expression: str, condition: str, values: dict[str, Any]) -> Any:
        try:
            return client.update_item(
                TableName=self.lease_table,
                Key={LEASE_KEY: {"S": self.batch_id}},
                UpdateExpression=expression,
                ConditionExpression=f"#o = :owner AND expires_at > :now AND {condition}",
                ExpressionAttributeNames={"#o": "owner", "#l": "loading"},
                ExpressionAttributeValues={
                    ":owner": {"S": self.owner},
                    ":now": {"N": str(int(time.time()))},
                    ":load": {"S": self.load_id},
                    **values,
                },
                ReturnValues="ALL_OLD",
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
        held = client.get_item(TableName=self.lease_table, Key={LEASE_KEY: {"S": self.batch_id}}, ConsistentRead=True)
        item = held.get("Item", {})
        holder = item.get("owner", {}).get("S", "nobody")
        loading = item.get("loading", {}).get("S", "none")
        raise LeaseLostError(
            f"batch {self.batch_id} is not leased to DAG run {self.owner!r} for load {self.load_id} but to "
            f"{holder!r} for load {loading} (table {self.lease_table}); stopped {step}, so two loads never "
            "write the batch at once"
        )

    def begin(self, client: Any, shards: int) -> frozenset[int]:
        """Record this load on the lease and add its shard count to the batch's record of loads.

        Refused when the run's lease records another load (a second load of the same run). Returns
        the shard counts of the batch's earlier loads: empty for its first load.
        """
        old = self._update(
            client,
            "before reading",
            "SET #l = :load ADD shard_counts :shards",
            "(attribute_not_exists(#l) OR #l = :load)",
            {":shards": {"NS": [str(shards)]}},
        ).get("Attributes", {})
        return frozenset(int(n) for n in old.get("shard_counts", {}).get("NS", []))

    def confirm(self, client: Any, step: str) -> None:
        """Fail unless the run still holds the lease for this load."""
        self._update(client, step, "SET #l = :load", "#l = :load", {})


def describe_table(client: Any, table: str) -> None:
    """DescribeTable, whose errors name the table (DynamoDB's say only "Requested resource not found")."""
    try:
        client.describe_table(TableName=table)
    except ClientError as err:
        error = err.response.get("Error", {})
        response = {**err.response, "Error": {**error, "Message": f"DynamoDB table {table}: {error.get('Message')}"}}
        raise type(err)(response, err.operation_name) from None


def list_keys(s3: Any, bucket: str, prefix: str, suffix: str = ".jsonl") -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(suffix)]
    return sorted(keys)


def delete_keys(s3: Any, bucket: str, keys: list[str]) -> int:
    for key in keys:
        s3.delete_object(Bucket=bucket, Key=key)
    return len(keys)


def _progress(batch_id: str, started: float, message: str) -> None:
    print(f"batch {batch_id}: {message} ({time.monotonic() - started:.1f}s)", flush=True)


def _since(step: float) -> tuple[float, float]:
    """Seconds since ``step`` (rounded), and now as the next step's start."""
    now = time.monotonic()
    return round(now - step, 3), now


def run(spark: SparkSession, args: argparse.Namespace) -> dict[str, Any]:
    """Load one batch as exactly this run's shard objects; return the manifest it wrote."""
    started = time.monotonic()
    # A batch holds at most 5,000 rows a shard: Spark's default of 200 shuffle partitions would mostly
    # schedule empty tasks, each writer task with its own boto3 client.
    spark.conf.set("spark.sql.shuffle.partitions", str(max(2, min(200, args.shards))))
    s3 = boto3.client("s3", config=BOTO_CONFIG)
    dynamodb = boto3.client("dynamodb", config=BOTO_CONFIG)
    load_id = args.JOB_RUN_ID or f"load-{uuid.uuid4()}"
    bucket, table, batch_id = args.bucket, args.table, args.batch_id
    # Fail before touching anything if a table is missing or another run holds the batch.
    for name in (table, args.lease_table):
        describe_table(dynamodb, name)
    fence = Fence(args.lease_table, batch_id, args.lease_owner, load_id)
    earlier = fence.begin(dynamodb, args.shards)
    # A manifest means "this batch loaded": remove the old one before touching anything.
    s3.delete_object(Bucket=bucket, Key=args.manifest_key)

    keys = [shard_key(args.source_prefix, shard) for shard in range(args.shards)]
    present = set(list_keys(s3, bucket, args.source_prefix, suffix=""))
    missing = [f"s3://{bucket}/{key}" for key in keys if key not in present]
    if missing:
        raise FileNotFoundError(f"batch {batch_id}: {len(missing)} of {len(keys)} shard objects are missing: {missing}")
    stale_objects = sorted(present - set(keys))
    _progress(batch_id, started, f"load {load_id} reads {len(keys)} objects under s3://{bucket}/{args.source_prefix}")

    lines = spark.sparkContext.parallelize(keys, len(keys)).flatMap(lambda key: fetch_lines(bucket, key))
    classified = classify(parse_lines(spark.createDataFrame(lines, RAW_SCHEMA)), batch_id, load_id).persist()

    timings: dict[str, float] = {}
    step = time.monotonic()
    tally = classified.groupBy("source_key", "reject_reason").count().collect()
    timings["read_classify_s"], step = _since(step)
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
    _progress(batch_id, started, f"read {read_count} rows, {valid_count} valid")

    fence.confirm(dynamodb, "before rewriting the quarantine")
    old_quarantine = delete_keys(s3, bucket, list_keys(s3, bucket, args.quarantine_prefix, suffix=""))
    rejected = to_quarantine(classified.filter(F.col("reject_reason").isNotNull())).orderBy("source_key", "line_no")
    q_prefix = args.quarantine_prefix
    quarantined = sum(
        rejected.rdd.mapPartitionsWithIndex(lambda i, rows: write_quarantine_part(i, rows, bucket, q_prefix)).collect()
    )
    timings["quarantine_s"], step = _since(step)
    items = to_items(classified.filter(F.col("reject_reason").isNull()), load_id)
    fence.confirm(dynamodb, "before writing items")
    results = items.rdd.mapPartitions(lambda rows: write_items(rows, table, fence)).collect()
    timings["load_s"], step = _since(step)
    written, retries = sum(r[0] for r in results), sum(r[1] for r in results)
    classified.unpersist()
    _progress(batch_id, started, f"quarantined {quarantined} rows, wrote {written} items")

    if read_count != valid_count + quarantined or written != valid_count:
        raise RuntimeError(
            f"batch {batch_id} counts do not add up: read={read_count} valid={valid_count} "
            f"quarantined={quarantined} written={written}"
        )

    # Replace, not merge: whatever an earlier run of the batch left goes, in every shard it may have used.
    fence.confirm(dynamodb, "before removing what earlier runs left")
    # Earlier loads wrote shards below their own shard counts, which the lease keeps.
    sweep = min(args.max_shards, max(earlier, default=0))
    removed_items = 0
    if sweep:  # a first load has nothing to sweep: nothing is read back
        slices = min(sweep, 2 * spark.sparkContext.defaultParallelism)
        removed_items = sum(
            spark.sparkContext.parallelize(range(sweep), slices)
            .mapPartitions(lambda shards: sweep_stale_items(shards, table, batch_id, load_id))
            .collect()
        )
    fence.confirm(dynamodb, "before removing stale objects")
    removed_objects = delete_keys(s3, bucket, stale_objects)
    timings["sweep_s"], step = _since(step)
    timings["total_s"] = round(step - started, 3)
    swept = f"shards 0-{sweep - 1}" if sweep else "no earlier load"
    _progress(batch_id, started, f"removed {removed_items} stale items ({swept}) and {removed_objects} objects")

    per_shard = {str(shard): objects[key]["valid"] for shard, key in enumerate(keys)}
    manifest = {
        "batch_id": batch_id,
        "load_id": load_id,
        "shards": args.shards,
        "source_objects": len(keys),
        "read": read_count,
        "valid": valid_count,
        "quarantined": quarantined,
        "written": written,
        "per_shard": per_shard,
        "swept_shards": sweep,
        "removed": {
            "dynamodb_items": removed_items,
            "raw_objects": removed_objects,
            "quarantine_objects": old_quarantine,
        },
        "quarantine_prefix": q_prefix,
        "quarantine_reasons": dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
        "objects": objects,
        "dynamodb_retries": retries,
        "job_run_id": args.JOB_RUN_ID,
        # Seconds per step of this run (load_s: the DynamoDB writes), for the benchmark.
        "timings": timings,
    }
    fence.confirm(dynamodb, "before writing the manifest")
    s3.put_object(
        Bucket=bucket,
        Key=args.manifest_key,
        Body=json.dumps(manifest, indent=2).encode(),
        ContentType="application/json",
    )
    return manifest


_TRACEBACK = "Traceback (most recent call last):"


def python_cause(error: BaseException) -> str | None:
    """The Python exception line inside a Spark/Py4J error (an executor's failure), or None.

    Spark wraps an executor's Python exception in JVM exceptions whose first line
    names only the wrapper (``Py4JJavaError: An error occurred while calling ...``);
    the Python traceback is inside their text. Its exception line is the first
    unindented line after the last traceback header.
    """
    text = str(error)
    if _TRACEBACK not in text:
        return None
    for line in text.rsplit(_TRACEBACK, 1)[1].splitlines():
        if line.strip() and not line[0].isspace():
            return line.strip()
    return None


class IngestError(RuntimeError):
    """The load failed outside the data; the message is the cause's own exception line."""


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    spark = SparkSession.builder.appName(f"ingest-employees-{args.batch_id}").getOrCreate()
    try:
        manifest = run(spark, args)
    except Exception as err:
        cause = python_cause(err)
        if cause is None:
            raise
        # Glue reports the last exception: make it the cause, not Py4J's wrapper.
        raise IngestError(cause) from None
    finally:
        spark.stop()
    print(f"manifest: {json.dumps(manifest, sort_keys=True)}")


if __name__ == "__main__":
    main()
