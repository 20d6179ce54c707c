"""What the DynamoDB load costs without the pipeline: the same items, loaded by plain boto3 loops.

Both loaders write into a scratch table shaped like the stage's (same keys, same GSI and
projection), on the same emulator, from the items the Glue job itself wrote.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from infra.session import AwsTarget

THREADS = 4


@dataclass(frozen=True)
class LoadTiming:
    loader: str
    items: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def table_items(target: AwsTarget, table: str, gsi_key: str, batch_id: str) -> list:
    """The batch's items as the table holds them, every attribute (plain Python values).

    Read from the table itself: the batch index projects only the keys and ``load_id``, so items
    read through it would be smaller than the ones the Glue job wrote.
    """
    resource = target.resource("dynamodb").Table(table)
    request: dict[str, Any] = {
        "FilterExpression": "begins_with(#g, :batch)",
        "ExpressionAttributeNames": {"#g": gsi_key},
        "ExpressionAttributeValues": {":batch": f"{batch_id}#"},
    }
    items: list[dict[str, Any]] = []
    while True:
        page = resource.scan(**request)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@contextmanager
def scratch_table(target: AwsTarget, like: str, name: str) -> Iterator[str]:
    """A new empty table with ``like``'s keys and indexes; deleted afterwards."""
    client = target.client("dynamodb")
    spec = client.describe_table(TableName=like)["Table"]
    indexes = [
        {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
        for index in spec.get("GlobalSecondaryIndexes", [])
    ]
    client.create_table(
        TableName=name,
        KeySchema=spec["KeySchema"],
        AttributeDefinitions=spec["AttributeDefinitions"],
        BillingMode="PAY_PER_REQUEST",
        **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
    )
    client.get_waiter("table_exists").wait(TableName=name)
    try:
        yield name
    finally:
        client.delete_table(TableName=name)


def _in_threads(items: list[dict[str, Any]], load: Callable[[list[dict[str, Any]]], None]) -> float:
    """Split ``items`` over THREADS workers; the wall seconds until all are loaded."""
    slices = [items[i::THREADS] for i in range(THREADS)]
    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(load, slices))
    return time.perf_counter() - started


def batch_writer_load(target: AwsTarget, table: str, items: list[dict[str, Any]]) -> LoadTiming:
    """``Table.batch_writer`` (25 items a BatchWriteItem, unprocessed items resent), THREADS at once."""

    def load(part: list[dict[str, Any]]) -> None:
        with target.resource("dynamodb").Table(table).batch_writer() as writer:
            for item in part:
                writer.put_item(Item=item)

    return LoadTiming("batch_writer", len(items), _in_threads(items, load))


def put_item_load(target: AwsTarget, table: str, items: list[dict[str, Any]]) -> LoadTiming:
    """One PutItem per item, THREADS at once."""

    def load(part: list[dict[str, Any]]) -> None:
        resource_table = target.resource("dynamodb").Table(table)
        for item in part:
            resource_table.put_item(Item=item)

    return LoadTiming("put_item", len(items), _in_threads(items, load))
