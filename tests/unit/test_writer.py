from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber

from employee_pipeline import layout
from generator.handler import handler as generate
from writer import handler as writer_handler
from writer.jsonl import to_jsonl
from writer.payload import InvalidPayloadError, parse_write_payload

BATCH = "20261125T14"


def _payload(shard: int = 1, count: int = 3) -> dict:
    return generate({"batch_id": BATCH, "shard": shard, "count": count}, None)


def test_jsonl_is_one_compact_record_per_line() -> None:
    records = _payload()["records"]
    lines = to_jsonl(records).decode().splitlines()
    assert [json.loads(line) for line in lines] == records
    assert to_jsonl(records) == to_jsonl(json.loads(json.dumps(records)))


def test_writer_puts_the_shard_object_and_reports_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    payload = _payload(shard=7)
    with Stubber(s3) as stub:
        stub.add_response(
            "put_object",
            {},
            {
                "Bucket": "data",
                "Key": "raw/employees/dt=2026-11-25/hour=14/part-00007.jsonl",
                "Body": to_jsonl(payload["records"]),
                "ContentType": "application/x-ndjson",
            },
        )
        monkeypatch.setenv(layout.DATA_BUCKET_ENV, "data")
        monkeypatch.setattr(writer_handler.boto3, "client", lambda service: s3)
        result = writer_handler.handler(payload, None)
        stub.assert_no_pending_responses()
    assert result == {
        "bucket": "data",
        "key": "raw/employees/dt=2026-11-25/hour=14/part-00007.jsonl",
        "count": 3,
        "batch_id": BATCH,
        "shard": 7,
    }


def test_writer_needs_its_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(layout.DATA_BUCKET_ENV, raising=False)
    with pytest.raises(RuntimeError, match=layout.DATA_BUCKET_ENV):
        writer_handler.handler(_payload(), None)


def test_records_of_another_shard_are_refused() -> None:
    payload = _payload(shard=1)
    payload["records"][2]["shard"] = 2
    with pytest.raises(InvalidPayloadError, match=r"records\[2\] belongs to batch"):
        parse_write_payload(payload)


def test_records_of_another_batch_are_refused() -> None:
    payload = _payload()
    payload["records"][0]["batch_id"] = "20261125T13"
    with pytest.raises(InvalidPayloadError, match=r"records\[0\]"):
        parse_write_payload(payload)


@pytest.mark.parametrize("field", ["batch_id", "shard", "count", "records"])
def test_missing_fields_are_named(field: str) -> None:
    payload = _payload()
    del payload[field]
    with pytest.raises(InvalidPayloadError, match=f"'{field}' is missing"):
        parse_write_payload(payload)


def test_count_must_match_records() -> None:
    payload = _payload()
    payload["count"] = 4
    with pytest.raises(InvalidPayloadError, match="'count' is 4"):
        parse_write_payload(payload)


@pytest.mark.parametrize(
    "emp_id",
    [
        "20261125T13-00001-000002",  # another hour's row: it would overwrite that hour's item
        f"{BATCH}-00002-000002",  # another shard's row
        f"{BATCH}-1-000002",  # shard not padded to 5 digits
        f"{BATCH}-00001-",
        f"{BATCH}-00001-00000x",
        f"{BATCH}-00001-000002\n",
        f"{BATCH}-00001-\u0661",  # not an ASCII digit
        7,
        None,
    ],
)
def test_emp_id_of_another_batch_or_shard_is_refused_naming_record_and_value(emp_id: object) -> None:
    payload = _payload(shard=1)
    payload["records"][2]["emp_id"] = emp_id
    with pytest.raises(InvalidPayloadError) as raised:
        parse_write_payload(payload)
    assert str(raised.value) == (f"records[2] field 'emp_id' is {emp_id!r}, not '{BATCH}-00001-' followed by digits")


def test_emp_id_index_may_have_any_number_of_digits() -> None:
    payload = _payload(shard=1)
    payload["records"][0]["emp_id"] = f"{BATCH}-00001-1234567"
    payload["records"][1]["emp_id"] = f"{BATCH}-00001-9"
    assert parse_write_payload(payload).records == payload["records"]


def test_writer_handler_refuses_a_foreign_emp_id_before_writing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_s3(service: str) -> None:
        raise AssertionError("nothing may be written")

    payload = _payload(shard=1)
    payload["records"][1]["emp_id"] = "20261125T13-00001-000001"
    monkeypatch.setenv(layout.DATA_BUCKET_ENV, "data")
    monkeypatch.setattr(writer_handler.boto3, "client", no_s3)
    with pytest.raises(InvalidPayloadError, match=r"records\[1\] field 'emp_id' is '20261125T13-00001-000001'"):
        writer_handler.handler(payload, None)


def test_generator_ids_are_the_layout_helpers() -> None:
    payload = _payload(shard=4, count=3)
    assert [r["emp_id"] for r in payload["records"]] == [layout.emp_id(BATCH, 4, i) for i in range(3)]
    assert layout.emp_id(BATCH, 4, 2) == f"{BATCH}-00004-000002"
    assert all(layout.is_emp_id_of(r["emp_id"], BATCH, 4) for r in payload["records"])
