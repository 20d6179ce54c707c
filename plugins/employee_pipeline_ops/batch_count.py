"""Counting one batch in DynamoDB through the ``batch_id#shard`` GSI (``layout.batch_shard_key``).

``client`` is a DynamoDB resource's client (``DynamoDBHook.client``, ``resource.meta.client``),
which takes and returns plain Python values. Only tasks import this module (never the triggerer),
so the DAG's package is importable here.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from employee_pipeline.layout import batch_shard_key

# Queries of different shards run in parallel: a batch can span up to MAX_SHARDS index partitions.
QUERY_THREADS = 8


@dataclass(frozen=True)
class ShardCount:
    """Items in one shard's index partition, and how many of them one load wrote."""

    total: int
    of_load: int


def count_shard(
    client: Any,
    *,
    table_name: str,
    index_name: str,
    key_name: str,
    batch_id: str,
    shard: int,
    load_attribute: str | None = None,
    load_id: str | None = None,
) -> ShardCount:
    """``Query(Select=COUNT)`` of one shard's partition, every page; never a Scan.

    With a load, the filter keeps that load's items: ``ScannedCount`` is every item of
    the shard, ``Count`` those the load wrote.
    """
    request: dict[str, Any] = {
        "TableName": table_name,
        "IndexName": index_name,
        "KeyConditionExpression": "#k = :k",
        "ExpressionAttributeNames": {"#k": key_name},
        "ExpressionAttributeValues": {":k": batch_shard_key(batch_id, shard)},
        "Select": "COUNT",
    }
    if load_attribute is not None and load_id is not None:
        request["FilterExpression"] = "#l = :l"
        request["ExpressionAttributeNames"]["#l"] = load_attribute
        request["ExpressionAttributeValues"][":l"] = load_id
    total = of_load = 0
    while True:
        page = client.query(**request)
        total += page["ScannedCount"]
        of_load += page["Count"]
        if "LastEvaluatedKey" not in page:
            return ShardCount(total=total, of_load=of_load)
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def count_shards(client: Any, shards: Iterable[int], **query: Any) -> dict[int, ShardCount]:
    """``count_shard`` for each shard, in parallel (boto3 clients are thread-safe)."""
    shards = list(shards)
    with ThreadPoolExecutor(max_workers=QUERY_THREADS) as pool:
        counts = pool.map(lambda shard: count_shard(client, shard=shard, **query), shards)
        return dict(zip(shards, counts, strict=True))


def count_batch(
    client: Any, *, table_name: str, index_name: str, key_name: str, batch_id: str, shards: int
) -> dict[int, int]:
    """Items per shard ``0..shards-1`` of a batch, whoever wrote them."""
    counts = count_shards(
        client, range(shards), table_name=table_name, index_name=index_name, key_name=key_name, batch_id=batch_id
    )
    return {shard: count.total for shard, count in counts.items()}
