"""The one record schema of the pipeline (the generator's contract test checks it) and the raw line rows."""

from __future__ import annotations

from pyspark.sql import types as T

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
# One line of a shard object, as the executors read it.
RAW_SCHEMA = T.StructType(
    [
        T.StructField("source_key", T.StringType(), False),
        T.StructField("line_no", T.IntegerType(), False),
        T.StructField("value", T.StringType(), False),
        # The line's bytes are not UTF-8 (its value holds them decoded with replacement characters).
        T.StructField("invalid_utf8", T.BooleanType(), False),
    ]
)
# An object without a single record is reported as one quarantine row on "line 0".
EMPTY_OBJECT_LINE = 0
