"""The Glue job's pure transforms on a local SparkSession, and the generator/schema contract."""

from __future__ import annotations

import json

import pytest

from employee_ingest import clients, objects, rules, schema, transforms
from employee_ingest.args import parse_args
from employee_pipeline import config, layout
from generator.records import generate_records

BATCH = "20261125T14"
OTHER_HOUR = "20261125T13"


def _raw(spark, lines: list[str], key: str = "raw/part-00000.jsonl"):
    return spark.createDataFrame([(key, i, line, False) for i, line in enumerate(lines, start=1)], schema.RAW_SCHEMA)


def _classified(spark, lines: list[str]) -> list[dict]:
    rows = transforms.classify(transforms.parse_lines(_raw(spark, lines)), BATCH).orderBy("line_no").collect()
    return [row.asDict() for row in rows]


def _good(**changes) -> dict:
    record = generate_records(BATCH, 0, 1)[0]
    record.update(changes)
    return record


def _long_emp_id(length: int) -> str:
    """A valid emp_id of ``length`` characters (shard 0): the index may have any number of digits."""
    prefix = layout.emp_id_prefix(BATCH, 0)
    return prefix + "1" * (length - len(prefix))


def test_generator_output_is_exactly_the_job_schema(spark) -> None:
    """Contract: every generated record parses without loss and passes every rule."""
    records = generate_records(BATCH, 0, 200) + generate_records(BATCH, 1, 200)
    assert all(list(r) == schema.RECORD_FIELDS for r in records)
    # Each shard's records in its own object, as the writer stores them.
    raw = spark.createDataFrame(
        [(f"raw/part-{r['shard']:05d}.jsonl", i, json.dumps(r), False) for i, r in enumerate(records, start=1)],
        schema.RAW_SCHEMA,
    )
    rows = [
        row.asDict() for row in transforms.classify(transforms.parse_lines(raw), BATCH).orderBy("line_no").collect()
    ]
    assert [r["reject_reason"] for r in rows] == [None] * 400
    assert [{f: r[f] for f in schema.RECORD_FIELDS} for r in rows] == records


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "malformed_json_or_wrong_type"),
        ("[1, 2]", "malformed_json_or_wrong_type"),
        (json.dumps(_good(age="abc")), "malformed_json_or_wrong_type"),
        (json.dumps(_good(salary=-5)), "salary_not_positive"),
        (json.dumps(_good(age=7)), "age_out_of_range"),
        (json.dumps(_good(email="nope")), "invalid_email"),
        (json.dumps(_good(hire_date="2020-13-45")), "invalid_hire_date"),
        (json.dumps(_good(batch_id="20261125T13")), "batch_id_mismatch"),
        (json.dumps({k: v for k, v in _good().items() if k != "name"}), "missing_name"),
        (json.dumps(_good(nickname="Bob")), "unknown_fields"),
        (json.dumps(_good(shard=-1)), "invalid_shard"),
        # The row claims shard 1 but sits in shard 0's object.
        (json.dumps(_good(shard=1)), "shard_mismatch"),
        # DynamoDB's per-item limits, checked before writing.
        (json.dumps(_good(salary=float("nan"))), "dynamodb_number_not_representable"),
        (json.dumps(_good(salary=float("inf"))), "dynamodb_number_not_representable"),
        (json.dumps(_good(salary=1e200)), "dynamodb_number_out_of_range"),
        (json.dumps(_good(salary=1e-140)), "dynamodb_number_out_of_range"),
        # 39 significant digits as written: a double would round them, DynamoDB holds 38.
        (
            json.dumps(_good(salary=1.5)).replace("1.5", "1.23456789012345678901234567890123456789"),
            "dynamodb_number_too_precise",
        ),
        (json.dumps(_good(salary=1.5)).replace("1.5", "1.2345678901234567890123456789012345678"), None),
        (json.dumps(_good(city="\ud800")), "unpaired_surrogate"),
        (json.dumps(_good(emp_id=_long_emp_id(1025))), "dynamodb_sort_key_too_large"),
        (json.dumps(_good(emp_id=_long_emp_id(2049))), "dynamodb_partition_key_too_large"),
        (json.dumps(_good(city="c" * 410_000)), "dynamodb_item_too_large"),
    ],
)
def test_bad_rows_get_a_reason(spark, line: str, reason: str) -> None:
    rows = _classified(spark, [json.dumps(_good(emp_id=layout.emp_id(BATCH, 0, 999))), line])
    assert rows[0]["reject_reason"] is None
    assert rows[1]["reject_reason"] == reason


# emp_id values that are not of batch BATCH, shard 0 (the object the rows sit in).
FOREIGN_EMP_IDS = [
    layout.emp_id(OTHER_HOUR, 0, 0),  # another hour's row: it would overwrite that hour's item
    layout.emp_id(BATCH, 1, 0),  # another shard's row
    f"{BATCH}-0-000000",  # shard not padded to 5 digits
    f"{BATCH}-00000-",  # no index
    f"{BATCH}-00000-00000a",
    f"{BATCH}-00000-000000\n",
    f"{BATCH}-00000-\u0661\u0662",  # Arabic-Indic digits are not ASCII digits
    f"x{BATCH}-00000-000000",
    "e-1",
]


@pytest.mark.parametrize("emp_id", FOREIGN_EMP_IDS)
def test_emp_id_of_another_batch_or_shard_is_quarantined(spark, emp_id: str) -> None:
    rows = _classified(spark, [json.dumps(_good(emp_id=layout.emp_id(BATCH, 0, 1))), json.dumps(_good(emp_id=emp_id))])
    assert [r["reject_reason"] for r in rows] == [None, "emp_id_mismatch"]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        # Any number of index digits: the rule does not insist on the generator's padding.
        (_good(emp_id=f"{BATCH}-00000-1234567"), None),
        (_good(emp_id=f"{BATCH}-00000-1"), None),
        # The earlier rules keep their own reasons.
        (_good(emp_id="  "), "empty_emp_id"),
        (_good(batch_id=OTHER_HOUR, emp_id=layout.emp_id(OTHER_HOUR, 0, 5)), "batch_id_mismatch"),
        (_good(shard=-1, emp_id=f"{BATCH}--0001-000005"), "invalid_shard"),
        (_good(shard=1, emp_id=layout.emp_id(BATCH, 1, 5)), "shard_mismatch"),
        (_good(age=7, emp_id=layout.emp_id(OTHER_HOUR, 0, 5)), "age_out_of_range"),
    ],
)
def test_emp_id_rule_order_and_index_digits(spark, record: dict, reason: str | None) -> None:
    assert _classified(spark, [json.dumps(record)])[0]["reject_reason"] == reason


def test_glue_emp_id_rule_agrees_with_the_layout_helper(spark) -> None:
    """The job's rule is layout.is_emp_id_of as a column expression: the two are held together here."""
    generated = [(r["emp_id"], BATCH, shard) for shard in (0, 7, 999) for r in generate_records(BATCH, shard, 3)]
    others = [(emp_id, BATCH, 0) for emp_id in [*FOREIGN_EMP_IDS, f"{BATCH}-00000-1234567", ""]]
    frame = spark.createDataFrame(generated + others, "emp_id string, batch_id string, shard int")
    glue = {(r.emp_id, r.shard): r.ok for r in frame.select("*", transforms.emp_id_of_row().alias("ok")).collect()}
    helper = {
        (emp_id, shard): layout.is_emp_id_of(emp_id, batch_id, shard) for emp_id, batch_id, shard in generated + others
    }
    assert glue == helper
    assert all(glue[emp_id, shard] for emp_id, _, shard in generated)  # the generator's ids pass both
    assert not any(glue[emp_id, 0] for emp_id in FOREIGN_EMP_IDS)


def test_duplicate_emp_id_keeps_the_first_and_quarantines_the_rest(spark) -> None:
    first, again = _good(city="First"), _good(city="Second")
    other = _good(emp_id=layout.emp_id(BATCH, 0, 1), city="Third")
    rows = _classified(spark, [json.dumps(first), json.dumps(again), json.dumps(other)])
    assert [(r["city"], r["reject_reason"]) for r in rows] == [
        ("First", None),
        ("Second", "duplicate_emp_id"),
        ("Third", None),
    ]


def test_items_carry_the_gsi_key_and_the_load(spark) -> None:
    parsed = transforms.parse_lines(
        _raw(spark, [json.dumps(generate_records(BATCH, 3, 1)[0])], key="raw/part-00003.jsonl")
    )
    item = transforms.to_items(transforms.classify(parsed, BATCH, "jr_1"), "jr_1").collect()[0].asDict()
    assert item[config.GSI_KEY] == layout.batch_shard_key(BATCH, 3)  # what count_check queries
    assert item[config.LOAD_ATTRIBUTE] == "jr_1"
    assert set(item) == {*schema.RECORD_FIELDS, config.GSI_KEY, config.LOAD_ATTRIBUTE}
    # The limits were checked on the item the writer sends.
    assert rules.to_item(item, "jr_1") == {name: rules.dynamo_value(value) for name, value in item.items()}


def test_quarantine_rows_keep_the_original_line_and_reason(spark) -> None:
    classified = transforms.classify(transforms.parse_lines(_raw(spark, ["{broken"])), BATCH)
    document = json.loads(transforms.to_quarantine(classified).collect()[0]["json"])
    assert document == {
        "source_key": "raw/part-00000.jsonl",
        "line_no": 1,
        "reject_reason": "malformed_json_or_wrong_type",
        "line": "{broken",
    }


def test_arguments_ignore_glue_extras_and_require_ours() -> None:
    args = parse_args(
        [
            "--JOB_ID",
            "j",
            "--JOB_RUN_ID",
            "jr_1",
            "--batch_id",
            BATCH,
            "--bucket",
            "b",
            "--source_prefix",
            layout.raw_prefix(BATCH),
            "--table",
            "t",
            "--manifest_key",
            "m.json",
            "--quarantine_prefix",
            "q/",
            "--shards",
            "3",
            "--max_shards",
            "1000",
            "--lease_table",
            "l",
            "--lease_owner",
            "dag/run",
            "--TempDir",
            "s3://tmp",
        ]
    )
    assert (args.batch_id, args.table, args.JOB_RUN_ID, args.shards) == (BATCH, "t", "jr_1", 3)
    with pytest.raises(SystemExit):
        parse_args(["--batch_id", BATCH])


def test_an_empty_object_is_reported_not_lost(spark) -> None:
    raw = spark.createDataFrame([("raw/part-00001.jsonl", schema.EMPTY_OBJECT_LINE, "", False)], schema.RAW_SCHEMA)
    row = transforms.classify(transforms.parse_lines(raw), BATCH).collect()[0]
    assert row["reject_reason"] == "empty_object"


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"a": 1}\n\n{"b": 2}\n', [("k", 1, '{"a": 1}', False), ("k", 3, '{"b": 2}', False)]),
        (b"", [("k", schema.EMPTY_OBJECT_LINE, "", False)]),
        (b"\n  \n", [("k", schema.EMPTY_OBJECT_LINE, "", False)]),
        (b'{"a": "\xff"}\n{"b": 1}\n', [("k", 1, '{"a": "\ufffd"}', True), ("k", 2, '{"b": 1}', False)]),
    ],
    ids=["blank-lines-skipped", "empty-object", "only-blank-lines", "invalid-utf8-flagged"],
)
def test_fetch_lines_numbers_lines_and_reports_empty_objects(monkeypatch, data: bytes, expected: list) -> None:
    class S3:
        def get_object(self, Bucket: str, Key: str) -> dict:
            return {"Body": _Body(data)}

    monkeypatch.setattr(clients.boto3, "client", lambda *args, **kwargs: S3())
    assert list(objects.fetch_lines("bucket", "k")) == expected


def test_the_dags_arguments_are_exactly_what_the_job_parses() -> None:
    arguments = layout.glue_job_arguments(BATCH, "data", "table", shards=4, lease_table="l", lease_owner="d/r")
    parsed = parse_args([item for pair in arguments.items() for item in pair])
    assert {f"--{k}": str(v) for k, v in vars(parsed).items() if k != "JOB_RUN_ID"} == arguments
    # The job reads layout.raw_key(batch, shard): each is under the prefix it lists.
    assert all(layout.raw_key(BATCH, s).startswith(parsed.source_prefix) for s in range(parsed.shards))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("--source_prefix", layout.raw_prefix(OTHER_HOUR), "--source_prefix must be batch 20261125T14's"),
        ("--batch_id", "2026-11-25", "--batch_id: batch_id '2026-11-25' is not of the form YYYYMMDDTHH"),
        ("--shards", "0", "--shards must be between 1 and --max_shards"),
    ],
)
def test_arguments_that_do_not_name_one_batch_are_refused(capsys, name: str, value: str, message: str) -> None:
    arguments = layout.glue_job_arguments(BATCH, "data", "table", shards=4, lease_table="l", lease_owner="d/r")
    with pytest.raises(SystemExit):
        parse_args([item for pair in {**arguments, name: value}.items() for item in pair])
    assert message in capsys.readouterr().err


def test_a_line_that_is_not_utf8_is_quarantined(spark) -> None:
    raw = spark.createDataFrame([("raw/part-00000.jsonl", 1, json.dumps(_good()), True)], schema.RAW_SCHEMA)
    assert transforms.classify(transforms.parse_lines(raw), BATCH).collect()[0]["reject_reason"] == "invalid_utf8"


def test_the_dags_shard_limit_is_the_layouts() -> None:
    assert layout.glue_job_arguments(BATCH, "b", "t", shards=1, lease_table="l", lease_owner="o")["--max_shards"] == (
        str(layout.MAX_SHARDS)
    )
