from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber

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
        monkeypatch.setenv("DATA_BUCKET", "data")
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
    monkeypatch.delenv("DATA_BUCKET", raising=False)
    with pytest.raises(RuntimeError, match="DATA_BUCKET"):
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
