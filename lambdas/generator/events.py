"""Validation of the generator's input event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from employee_pipeline.layout import MAX_RECORDS_PER_SHARD, MAX_SHARDS, parse_batch_id

# Hire dates are drawn from this day to the batch's day, so an earlier batch has
# none to draw. Defined here (not in records.py) so validation needs no Faker.
EARLIEST_HIRE = date(2000, 1, 1)


class InvalidEventError(ValueError):
    """The event cannot be processed; the message names the offending field."""


@dataclass(frozen=True)
class GenerateRequest:
    batch_id: str
    shard: int
    count: int


def _int_field(event: dict[str, Any], name: str, low: int, high: int) -> int:
    if name not in event:
        raise InvalidEventError(f"event field '{name}' is missing")
    value = event[name]
    # bool is an int subclass; true/false is never a valid count or shard.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEventError(f"event field '{name}' must be an integer, got {value!r}")
    if not low <= value <= high:
        raise InvalidEventError(f"event field '{name}' must be between {low} and {high}, got {value}")
    return value


def parse_generate_event(event: object) -> GenerateRequest:
    """Check ``{batch_id, shard, count}`` and return it typed."""
    if not isinstance(event, dict):
        raise InvalidEventError(f"event must be a JSON object, got {type(event).__name__}")
    if "batch_id" not in event:
        raise InvalidEventError("event field 'batch_id' is missing")
    try:
        batch_hour = parse_batch_id(event["batch_id"])
    except ValueError as err:
        raise InvalidEventError(f"event field 'batch_id' is invalid: {err}") from None
    if batch_hour.date() < EARLIEST_HIRE:
        raise InvalidEventError(
            f"event field 'batch_id' is {event['batch_id']!r}, before the earliest hire date "
            f"{EARLIEST_HIRE.isoformat()} (earliest allowed batch_id: {EARLIEST_HIRE:%Y%m%d}T00)"
        )
    shard = _int_field(event, "shard", 0, MAX_SHARDS - 1)
    count = _int_field(event, "count", 1, MAX_RECORDS_PER_SHARD)
    return GenerateRequest(batch_id=event["batch_id"], shard=shard, count=count)
