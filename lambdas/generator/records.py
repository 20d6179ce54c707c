"""Faker-backed employee records, seeded from (batch_id, shard).

The same (batch_id, shard, count) always gives byte-identical records, so a
rerun or backfill regenerates exactly the same data. Only absolute dates are
used: Faker's relative dates ("-5y") depend on today.
"""

from __future__ import annotations

import hashlib
from typing import Any

from faker import Faker

from employee_pipeline.layout import emp_id, parse_batch_id

from .events import EARLIEST_HIRE

DEPARTMENTS = (
    "Engineering",
    "Finance",
    "Human Resources",
    "Legal",
    "Marketing",
    "Operations",
    "Sales",
    "Support",
)


def seed_for(batch_id: str, shard: int) -> int:
    """A stable 64-bit seed (Python's ``hash`` is salted per process)."""
    digest = hashlib.sha256(f"{batch_id}#{shard}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def generate_records(batch_id: str, shard: int, count: int) -> list[dict[str, Any]]:
    """``count`` employees of one shard, in the schema the Glue job owns."""
    fake = Faker("en_US")
    fake.seed_instance(seed_for(batch_id, shard))
    batch_day = parse_batch_id(batch_id).date()
    records = []
    for index in range(count):
        first, last = fake.first_name(), fake.last_name()
        ident = emp_id(batch_id, shard, index)
        records.append(
            {
                "emp_id": ident,
                "name": f"{first} {last}",
                "age": fake.random_int(min=18, max=67),
                "salary": fake.random_int(min=3_500_000, max=25_000_000) / 100,
                "department": fake.random_element(DEPARTMENTS),
                # emp_id in the local part keeps emails unique within a batch.
                "email": f"{first}.{last}.{ident}@{fake.free_email_domain()}".lower(),
                "hire_date": fake.date_between_dates(EARLIEST_HIRE, batch_day).isoformat(),
                "city": fake.city(),
                "batch_id": batch_id,
                "shard": shard,
            }
        )
    return records
