"""The record rules' bounds and DynamoDB's per-item limits: why a row is quarantined (pure functions).

``transforms.classify`` applies the record rules as Spark expressions and these limits to the item each
row would become, so a row DynamoDB would refuse is quarantined like any other bad row.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from employee_ingest.schema import RECORD_FIELDS
from employee_pipeline.config import GSI_KEY, LOAD_ATTRIBUTE, TABLE_KEY
from employee_pipeline.layout import batch_shard_key

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
MIN_AGE, MAX_AGE = 16, 100
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
    """A valid record -> the DynamoDB item: the record, the count index's key and the load id."""
    item = {name: dynamo_value(value) for name, value in record.items() if name in RECORD_FIELDS and value is not None}
    item[GSI_KEY] = batch_shard_key(record["batch_id"], record["shard"])
    item[LOAD_ATTRIBUTE] = load_id
    return item
