"""Validation of the writer's input (the generator's output)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from employee_pipeline.layout import MAX_SHARDS, emp_id_prefix, is_emp_id_of, parse_batch_id


class InvalidPayloadError(ValueError):
    """The payload cannot be written; the message names the offending field."""


@dataclass(frozen=True)
class WriteRequest:
    batch_id: str
    shard: int
    records: list[dict[str, Any]]


def _is_int(value: object) -> bool:
    # bool is an int subclass and 1.0 == 1: neither may stand in for a count or shard.
    return isinstance(value, int) and not isinstance(value, bool)


def _not_utf8(record: dict[str, Any]) -> str | None:
    """Describe the first key or string in ``record`` UTF-8 cannot encode (a lone surrogate), else None.

    JSON's ``\\ud800`` escape decodes to such a string; ``to_jsonl`` would fail on it
    with a bare UnicodeEncodeError. Iterative, so deep nesting cannot exhaust the stack.
    """
    stack: list[tuple[str, object]] = [("", record)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode()
            except UnicodeEncodeError:
                return f"{path} cannot be encoded as UTF-8 (lone surrogate): {value!r}"
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str):
                    try:
                        key.encode()
                    except UnicodeEncodeError:
                        return f"{path} has a key that cannot be encoded as UTF-8 (lone surrogate): {key!r}"
                stack.append((f"{path}[{key!r}]", item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{position}]", item) for position, item in enumerate(value))
    return None


def parse_write_payload(event: object) -> WriteRequest:
    """Check the generator output: every record, and its emp_id, belongs to its batch/shard and encodes as UTF-8."""
    if not isinstance(event, dict):
        raise InvalidPayloadError(f"payload must be a JSON object, got {type(event).__name__}")
    for field in ("batch_id", "shard", "count", "records"):
        if field not in event:
            raise InvalidPayloadError(f"payload field '{field}' is missing")
    batch_id, shard, count, records = event["batch_id"], event["shard"], event["count"], event["records"]
    try:
        parse_batch_id(batch_id)
    except ValueError as err:
        raise InvalidPayloadError(f"payload field 'batch_id' is invalid: {err}") from None
    if not _is_int(shard) or not 0 <= shard < MAX_SHARDS:
        raise InvalidPayloadError(f"payload field 'shard' must be an integer in [0, {MAX_SHARDS}), got {shard!r}")
    if not isinstance(records, list):
        raise InvalidPayloadError("payload field 'records' must be a list")
    if not _is_int(count):
        raise InvalidPayloadError(f"payload field 'count' must be an integer, got {count!r}")
    if count != len(records):
        raise InvalidPayloadError(f"payload field 'count' is {count!r} but 'records' holds {len(records)}")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidPayloadError(f"records[{index}] is not an object")
        if not _is_int(record.get("shard")):
            raise InvalidPayloadError(f"records[{index}] field 'shard' must be an integer, got {record.get('shard')!r}")
        if record.get("batch_id") != batch_id or record["shard"] != shard:
            raise InvalidPayloadError(
                f"records[{index}] belongs to batch {record.get('batch_id')!r} shard {record['shard']!r}, "
                f"not to batch {batch_id!r} shard {shard}"
            )
        # The table's key is emp_id alone: another hour's or shard's id would overwrite its item.
        if not is_emp_id_of(record.get("emp_id"), batch_id, shard):
            raise InvalidPayloadError(
                f"records[{index}] field 'emp_id' is {record.get('emp_id')!r}, "
                f"not '{emp_id_prefix(batch_id, shard)}' followed by digits"
            )
        # Checked here, not left to the encoder, so a bad record fails before anything is written.
        problem = _not_utf8(record)
        if problem is not None:
            raise InvalidPayloadError(f"records[{index}]{problem}")
    return WriteRequest(batch_id=batch_id, shard=shard, records=records)
