from __future__ import annotations

import json

import pytest

from employee_pipeline.layout import MAX_RECORDS_PER_SHARD
from generator.events import InvalidEventError, parse_generate_event
from generator.handler import handler
from generator.records import generate_records

BATCH = "20261125T14"


def test_same_input_gives_byte_identical_output() -> None:
    first = handler({"batch_id": BATCH, "shard": 3, "count": 50}, None)
    second = handler({"batch_id": BATCH, "shard": 3, "count": 50}, None)
    assert json.dumps(first) == json.dumps(second)


def test_shards_and_batches_get_different_data() -> None:
    base = generate_records(BATCH, 0, 20)
    assert generate_records(BATCH, 1, 20) != base
    assert generate_records("20261125T15", 0, 20) != base


def test_records_belong_to_their_batch_and_shard_with_unique_ids() -> None:
    records = generate_records(BATCH, 2, 300)
    assert len(records) == 300
    assert {(r["batch_id"], r["shard"]) for r in records} == {(BATCH, 2)}
    assert len({r["emp_id"] for r in records}) == 300
    assert len({r["email"] for r in records}) == 300
    assert all(r["hire_date"] <= "2026-11-25" for r in records)


def test_handler_returns_records_and_metadata() -> None:
    result = handler({"batch_id": BATCH, "shard": 0, "count": 5}, None)
    assert result["count"] == 5 == len(result["records"])
    assert {"batch_id", "shard", "seed", "faker_version"} <= result.keys()


def test_max_payload_stays_well_under_lambda_response_limit() -> None:
    result = handler({"batch_id": BATCH, "shard": 999, "count": MAX_RECORDS_PER_SHARD}, None)
    assert len(json.dumps(result).encode()) < 3 * 1024 * 1024


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"shard": 0, "count": 1}, "batch_id"),
        ({"batch_id": "2026-11-25", "shard": 0, "count": 1}, "batch_id"),
        ({"batch_id": BATCH, "count": 1}, "shard"),
        ({"batch_id": BATCH, "shard": -1, "count": 1}, "shard"),
        ({"batch_id": BATCH, "shard": 1000, "count": 1}, "shard"),
        ({"batch_id": BATCH, "shard": 0}, "count"),
        ({"batch_id": BATCH, "shard": 0, "count": 0}, "count"),
        ({"batch_id": BATCH, "shard": 0, "count": -5}, "count"),
        ({"batch_id": BATCH, "shard": 0, "count": 2.5}, "count"),
        ({"batch_id": BATCH, "shard": 0, "count": "10"}, "count"),
        ({"batch_id": BATCH, "shard": 0, "count": True}, "count"),
        ({"batch_id": BATCH, "shard": 0, "count": MAX_RECORDS_PER_SHARD + 1}, "count"),
    ],
)
def test_bad_events_name_the_field(event: dict, field: str) -> None:
    with pytest.raises(InvalidEventError, match=f"'{field}'"):
        parse_generate_event(event)


def test_non_object_event_is_rejected() -> None:
    with pytest.raises(InvalidEventError, match="JSON object"):
        parse_generate_event([1, 2])
