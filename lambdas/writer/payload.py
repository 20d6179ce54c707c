"""Validation of the writer's input (the generator's output)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from employee_pipeline.layout import MAX_SHARDS, parse_batch_id


class InvalidPayloadError(ValueError):
    """The payload cannot be written; the message names the offending field."""


@dataclass(frozen=True)
class WriteRequest:
    batch_id: str
    shard: int
    records: list[dict[str, Any]]


def parse_write_payload(event: object) -> WriteRequest:
    """Check the generator output and that every record belongs to its batch/shard."""
    if not isinstance(event, dict):
        raise InvalidPayloadError(f"payload must be a JSON object, got {type(event).__name__}")
    for field in ("batch_id", "shard", "count", "records"):
        if field not in event:
            raise InvalidPayloadError(f"payload field '{field}' is missing")
    batch_id, shard, records = event["batch_id"], event["shard"], event["records"]
    try:
        parse_batch_id(batch_id)
    except ValueError as err:
        raise InvalidPayloadError(f"payload field 'batch_id' is invalid: {err}") from None
    if isinstance(shard, bool) or not isinstance(shard, int) or not 0 <= shard < MAX_SHARDS:
        raise InvalidPayloadError(f"payload field 'shard' must be an integer in [0, {MAX_SHARDS}), got {shard!r}")
    if not isinstance(records, list):
        raise InvalidPayloadError("payload field 'records' must be a list")
    if event["count"] != len(records):
        raise InvalidPayloadError(f"payload field 'count' is {event['count']!r} but 'records' holds {len(records)}")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidPayloadError(f"records[{index}] is not an object")
        if record.get("batch_id") != batch_id or record.get("shard") != shard:
            raise InvalidPayloadError(
                f"records[{index}] belongs to batch {record.get('batch_id')!r} shard {record.get('shard')!r}, "
                f"not to batch {batch_id!r} shard {shard}"
            )
    return WriteRequest(batch_id=batch_id, shard=shard, records=records)
