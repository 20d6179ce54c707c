"""Pure ``DataFrame -> DataFrame`` steps of the load: parse the lines, classify each row, build the items
and the quarantine documents. Unit tests call them on a local SparkSession."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from employee_ingest.rules import (
    DATE_PATTERN,
    EMAIL_PATTERN,
    MAX_AGE,
    MIN_AGE,
    UNPAIRED_SURROGATE_PATTERN,
    item_problem,
    literal_problem,
    to_item,
)
from employee_ingest.schema import CORRUPT_COLUMN, EMPLOYEE_SCHEMA, EMPTY_OBJECT_LINE, RECORD_FIELDS
from employee_pipeline.config import GSI_KEY, LOAD_ATTRIBUTE
from employee_pipeline.layout import SHARD_OBJECT_PATTERN


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
    return F.regexp_extract("source_key", SHARD_OBJECT_PATTERN, 1).cast(T.IntegerType())


def emp_id_of_row() -> F.Column:
    """``emp_id`` is ``{batch_id}-{shard:05d}-`` of its own row, then one or more ASCII digits.

    ``employee_pipeline.layout.is_emp_id_of`` as a column expression (a Python UDF per row would cost a
    round trip to a worker; a test holds the two together). Any number of digits, though the generator
    pads to 6. No pattern is built from data; ``\\z``, unlike ``$``, refuses a trailing newline.
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
        (~emp_id_of_row(), "emp_id_mismatch"),
        (F.col("value").rlike(UNPAIRED_SURROGATE_PATTERN), "unpaired_surrogate"),
    ]
    condition, reason = rules[0]
    expression = F.when(condition, F.lit(reason))
    for condition, reason in rules[1:]:
        expression = expression.when(condition, F.lit(reason))
    return expression.otherwise(F.lit(None).cast(T.StringType()))


def _dynamodb_rule(load_id: str) -> Any:
    # Runs in Spark's Python workers, which import the rules from the job's zip.
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
    """Valid rows -> DynamoDB items: the record, the count index's key and the load id.

    The key is ``layout.batch_shard_key`` as a column expression (a test holds the two together)."""
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
