"""Every DynamoDB per-item limit a record can break, at and just past the limit (the Glue job's checks)."""

from __future__ import annotations

import math
import re
from decimal import Decimal

import pytest

from employee_ingest import rules
from employee_pipeline.config import GSI_KEY

BATCH = "20261125T14"


def _item(**changes: object) -> dict:
    record = {
        "emp_id": f"{BATCH}-00000-000001",
        "name": "Ann Lee",
        "age": 30,
        "salary": 52000.5,
        "department": "Legal",
        "email": "ann@example.com",
        "hire_date": "2020-01-02",
        "city": "Oslo",
        "batch_id": BATCH,
        "shard": 0,
    }
    record.update(changes)
    return rules.to_item(record, "jr_1")


def test_a_generated_looking_item_passes() -> None:
    assert rules.item_problem(_item()) is None


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        (Decimal("9.9999999999999999999999999999999999999E+125"), None),  # the largest
        (Decimal("1E+126"), "dynamodb_number_out_of_range"),
        (Decimal("-9.9999999999999999999999999999999999999E+125"), None),
        (Decimal("-1E+126"), "dynamodb_number_out_of_range"),
        (Decimal("1E-130"), None),  # the smallest magnitude
        (Decimal("9.9E-131"), "dynamodb_number_out_of_range"),
        (Decimal("-1E-130"), None),
        (Decimal("-9.9E-131"), "dynamodb_number_out_of_range"),
        (Decimal(0), None),
        (Decimal("1" * 38), None),  # 38 significant digits
        (Decimal("1" * 39), "dynamodb_number_too_precise"),
        (Decimal("1" * 38 + "000"), None),  # trailing zeros are not significant
        (Decimal("0.000" + "1" * 38), None),  # nor are leading ones
        (Decimal("NaN"), "dynamodb_number_not_representable"),
        (Decimal("Infinity"), "dynamodb_number_not_representable"),
        (Decimal("-Infinity"), "dynamodb_number_not_representable"),
    ],
)
def test_number_limits(number: Decimal, problem: str | None) -> None:
    assert rules.number_problem(number) == problem


@pytest.mark.parametrize(
    ("salary", "problem"),
    [
        (float("nan"), "dynamodb_number_not_representable"),
        (float("inf"), "dynamodb_number_not_representable"),
        (math.nextafter(1e126, 0), None),  # the largest double DynamoDB takes
        (1e126, "dynamodb_number_out_of_range"),
        (1e-130, None),
        (9.99e-131, "dynamodb_number_out_of_range"),
    ],
)
def test_float_fields_are_checked_as_they_are_sent(salary: float, problem: str | None) -> None:
    assert rules.item_problem(_item(salary=salary)) == problem


def test_partition_key_size() -> None:
    # emp_id is the table's partition key (2048 bytes) and the index's sort key (1024 bytes).
    assert rules.item_problem(_item(emp_id="e" * 1024)) is None
    assert rules.item_problem(_item(emp_id="e" * 1025)) == "dynamodb_sort_key_too_large"
    assert rules.item_problem(_item(emp_id="é" * 512)) is None  # bytes, not characters
    assert rules.item_problem(_item(emp_id="é" * 513)) == "dynamodb_sort_key_too_large"
    assert rules.item_problem(_item(emp_id="e" * 2048)) == "dynamodb_sort_key_too_large"
    assert rules.item_problem(_item(emp_id="e" * 2049)) == "dynamodb_partition_key_too_large"


def test_index_partition_key_size() -> None:
    item = _item()
    item[GSI_KEY] = "b" * 2048
    assert rules.item_problem(item) is None
    item[GSI_KEY] = "b" * 2049
    assert rules.item_problem(item) == "dynamodb_partition_key_too_large"


def test_empty_key_values() -> None:
    assert rules.item_problem(_item(emp_id="")) == "dynamodb_empty_key"
    item = _item()
    item[GSI_KEY] = ""
    assert rules.item_problem(item) == "dynamodb_empty_key"


def test_item_size_at_and_past_400_kb() -> None:
    base = _item(city="")
    room = rules.MAX_ITEM_BYTES - rules.item_size(base)
    assert rules.item_size(_item(city="c" * room)) == rules.MAX_ITEM_BYTES
    assert rules.item_problem(_item(city="c" * room)) is None
    assert rules.item_problem(_item(city="c" * (room + 1))) == "dynamodb_item_too_large"
    # Multi-byte characters count as their UTF-8 bytes.
    assert rules.item_problem(_item(city="€" * (room // 3 + 1))) == "dynamodb_item_too_large"


def test_item_size_counts_names_and_values_as_dynamodb_does() -> None:
    assert rules.item_size({"ab": "xyz"}) == 5
    assert rules.item_size({"n": Decimal("12345")}) == 1 + 3 + 1  # ceil(5 digits / 2) + 1
    assert rules.item_size({"n": 7}) == 1 + 1 + 1
    assert rules.item_size({"é": "é"}) == 4


def test_unpaired_surrogates_have_no_dynamodb_string() -> None:
    assert rules.item_problem(_item(city="\ud800")) == "unpaired_surrogate"
    assert rules.item_problem(_item(name="x\udfff")) == "unpaired_surrogate"
    assert rules.item_problem(_item(city="\U0001f600")) is None


@pytest.mark.parametrize(
    ("line", "unpaired"),
    [
        (r'{"city": "\ud800"}', True),
        (r'{"city": "\udc00"}', True),
        (r'{"city": "a\ud83d"}', True),
        (r'{"city": "\ud83d\ude00"}', False),  # a pair: one character
        (r'{"city": "\uD83D\uDE00"}', False),
        (r'{"city": "\\ud800"}', False),  # an escaped backslash, then text
        (r'{"city": "\\\ud800"}', True),
        (r'{"city": "d800\udc00"}', True),
        (r'{"city": "\u00e9"}', False),
    ],
)
def test_the_raw_line_pattern_finds_unpaired_surrogate_escapes(line: str, unpaired: bool) -> None:
    # Spark evaluates the pattern with Java's regex engine; for this pattern Python's agrees.
    assert bool(re.search(rules.UNPAIRED_SURROGATE_PATTERN, line)) is unpaired


@pytest.mark.parametrize(
    ("salary", "problem"),
    [
        ("1" * 38, None),
        ("1" * 39, "dynamodb_number_too_precise"),
        ("0.1" + "0" * 50, None),  # trailing zeros are not significant
        ("1e126", "dynamodb_number_out_of_range"),
        ("52000.5", None),
    ],
)
def test_numbers_are_checked_as_written_too(salary: str, problem: str | None) -> None:
    line = '{"emp_id": "e", "salary": ' + salary + ', "age": 30}'
    assert rules.literal_problem(line) == problem


def test_a_line_python_cannot_parse_is_left_to_the_schema_rules() -> None:
    assert rules.literal_problem("{'single': 'quotes'}") is None
    assert rules.literal_problem("[1e400]") is None
