"""The Glue job's pure transforms on a local SparkSession, and the generator/schema contract."""

from __future__ import annotations

import json

import pytest

import ingest_employees as job
from generator.records import generate_records

BATCH = "20261125T14"


def _raw(spark, lines: list[str], key: str = "raw/part-00000.jsonl"):
    return spark.createDataFrame([(key, i, line) for i, line in enumerate(lines, start=1)], job.RAW_SCHEMA)


def _classified(spark, lines: list[str]) -> list[dict]:
    rows = job.classify(job.parse_lines(_raw(spark, lines)), BATCH).orderBy("line_no").collect()
    return [row.asDict() for row in rows]


def _good(**changes) -> dict:
    record = generate_records(BATCH, 0, 1)[0]
    record.update(changes)
    return record


def test_generator_output_is_exactly_the_job_schema(spark) -> None:
    """Contract: every generated record parses without loss and passes every rule."""
    records = generate_records(BATCH, 0, 200) + generate_records(BATCH, 1, 200)
    assert all(list(r) == job.RECORD_FIELDS for r in records)
    rows = _classified(spark, [json.dumps(r) for r in records])
    assert [r["reject_reason"] for r in rows] == [None] * 400
    assert [{f: r[f] for f in job.RECORD_FIELDS} for r in rows] == records


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
    ],
)
def test_bad_rows_get_a_reason(spark, line: str, reason: str) -> None:
    rows = _classified(spark, [json.dumps(_good(emp_id="ok-1")), line])
    assert rows[0]["reject_reason"] is None
    assert rows[1]["reject_reason"] == reason


def test_duplicate_emp_id_keeps_the_first_and_quarantines_the_rest(spark) -> None:
    first, again = _good(emp_id="dup", city="First"), _good(emp_id="dup", city="Second")
    other = _good(emp_id="other", city="Third")
    rows = _classified(spark, [json.dumps(first), json.dumps(again), json.dumps(other)])
    assert [(r["city"], r["reject_reason"]) for r in rows] == [
        ("First", None),
        ("Second", "duplicate_emp_id"),
        ("Third", None),
    ]


def test_items_carry_the_gsi_key(spark) -> None:
    parsed = job.parse_lines(_raw(spark, [json.dumps(_good(shard=3))]))
    item = job.to_items(job.classify(parsed, BATCH)).collect()[0].asDict()
    assert item["batch_shard"] == f"{BATCH}#3"
    assert set(item) == {*job.RECORD_FIELDS, "batch_shard"}


def test_quarantine_rows_keep_the_original_line_and_reason(spark) -> None:
    classified = job.classify(job.parse_lines(_raw(spark, ["{broken"])), BATCH)
    document = json.loads(job.to_quarantine(classified).collect()[0]["json"])
    assert document == {
        "source_key": "raw/part-00000.jsonl",
        "line_no": 1,
        "reject_reason": "malformed_json_or_wrong_type",
        "line": "{broken",
    }


def test_arguments_ignore_glue_extras_and_require_ours() -> None:
    args = job.parse_args(
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
            "p/",
            "--table",
            "t",
            "--manifest_key",
            "m.json",
            "--quarantine_prefix",
            "q/",
            "--TempDir",
            "s3://tmp",
        ]
    )
    assert (args.batch_id, args.table, args.JOB_RUN_ID) == (BATCH, "t", "jr_1")
    with pytest.raises(SystemExit):
        job.parse_args(["--batch_id", BATCH])


def test_an_empty_object_is_reported_not_lost(spark) -> None:
    raw = spark.createDataFrame([("raw/part-00001.jsonl", job.EMPTY_OBJECT_LINE, "")], job.RAW_SCHEMA)
    row = job.classify(job.parse_lines(raw), BATCH).collect()[0]
    assert row["reject_reason"] == "empty_object"


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"a": 1}\n\n{"b": 2}\n', [("k", 1, '{"a": 1}'), ("k", 3, '{"b": 2}')]),
        (b"", [("k", job.EMPTY_OBJECT_LINE, "")]),
        (b"\n  \n", [("k", job.EMPTY_OBJECT_LINE, "")]),
    ],
    ids=["blank-lines-skipped", "empty-object", "only-blank-lines"],
)
def test_fetch_lines_numbers_lines_and_reports_empty_objects(monkeypatch, data: bytes, expected: list) -> None:
    class S3:
        def get_object(self, Bucket: str, Key: str) -> dict:
            return {"Body": _Body(data)}

    monkeypatch.setattr(job.boto3, "client", lambda *args, **kwargs: S3())
    assert list(job.fetch_lines("bucket", "k")) == expected


def test_the_dags_arguments_are_exactly_what_the_job_parses() -> None:
    from employee_pipeline import layout

    arguments = layout.glue_job_arguments(BATCH, "data", "table")
    parsed = job.parse_args([item for pair in arguments.items() for item in pair])
    assert {f"--{k}": v for k, v in vars(parsed).items() if k != "JOB_RUN_ID"} == arguments
